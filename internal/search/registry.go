package search

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/suggest"
)

// Options configures any engine; each engine reads only the fields it
// documents and ignores the rest, so the CLI can fill one value from config
// and hand it to New whatever the engine's name.
type Options struct {
	// BaseURL replaces the service's address (scheme and host, optionally a
	// path prefix): tests point it at a local server. "" means the real
	// service. Used by bing, duckduckgo and commons.
	BaseURL string
	// Client sends the requests; nil means a client with a 30 s timeout.
	Client *http.Client
	// UserAgent replaces the engine's default User-Agent. Wikimedia asks
	// for one that names the tool and a way to reach its operator.
	UserAgent string
	// Contact (an email address or URL) goes into commons' User-Agent
	// when UserAgent is empty.
	Contact string
	// Region is DuckDuckGo's l= parameter; "" means "wt-wt" (no region).
	Region string

	// Path is the URL list file (urls) or the root directory (folder).
	Path string
	// Reader is read instead of Path by the urls engine. A Reader can be
	// read only once, so such an engine serves a single Search.
	Reader io.Reader
	// Class restricts the folder engine to one class subfolder.
	Class string
	// Classes are the project's class names as written. The folder engine
	// takes a subfolder named as a class is written, in either Unicode
	// normalisation form, or as its folder form (classname.Folder), as that
	// class; other subfolders keep their own name as their class.
	Classes []string
	// PageSize is the number of results per page for urls, folder and
	// commons; 0 means the engine's default.
	PageSize int
	// OnSkip receives every input the urls and folder engines pass over
	// (garbage lines, files outside class folders, unreadable folders), so
	// the caller can record them as failed instead of losing them. It is
	// called from Page, on the caller's goroutine.
	OnSkip func(Skipped)
}

// Skipped is one input line or file an engine could not turn into a Result.
// Callers record it with the cause CauseBadURL (urls) or CauseSkipped
// (folder).
type Skipped struct {
	Line   int    // 1-based line number in the list; 0 for files
	Text   string // the line as read (trimmed), or the file's path
	Reason string // why, for a person: "not an http or https URL"
}

// Causes for Skipped inputs, in errkind's vocabulary.
const (
	CauseBadURL  = "bad-url"
	CauseSkipped = "skipped"
)

// constructors maps engine names to their constructors. Names are what
// users type in config, so they never change once released.
var constructors = map[string]func(Options) (Engine, error){
	"bing":       func(o Options) (Engine, error) { return NewBing(o), nil },
	"duckduckgo": func(o Options) (Engine, error) { return NewDuckDuckGo(o), nil },
	"commons":    func(o Options) (Engine, error) { return NewCommons(o), nil },
	"urls":       NewURLList,
	"folder":     NewFolder,
}

// Names lists the engines New knows, sorted.
func Names() []string {
	names := make([]string, 0, len(constructors))
	for n := range constructors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New builds the engine called name. An unknown name or unusable options
// are a fatal configuration error that lists what would have worked.
func New(name string, opts Options) (Engine, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	build, ok := constructors[key]
	if !ok {
		msg := fmt.Sprintf("unknown search engine %q (valid: %s)", name, strings.Join(Names(), ", "))
		if s := suggest.Closest(key, Names()); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return nil, errkind.WithCause(errkind.Fatal(fmt.Errorf("search: %s", msg)), "bad-config")
	}
	return build(opts)
}

func clientOr(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return defaultClient
}
