package search

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync/atomic"

	"github.com/scour-dev/scour/internal/errkind"
)

const (
	urlPageSize = 1000
	// maxLineLen bounds one line of a plain list; a longer "line" is binary
	// junk or a file without newlines, not a URL.
	maxLineLen = 64 << 10
)

// NewURLList returns an engine that reads image URLs from a list instead of
// searching: Options.Path names the file, or Options.Reader supplies it.
// The query text is ignored.
//
// The list is either one URL per line, or CSV (comma, tab or semicolon)
// whose header has a "url" column and optionally "class", "title",
// "license" and "author". Blank lines and lines starting with # are
// skipped. Lines that are not http or https URLs do not stop the list: each
// is passed to Options.OnSkip with its line number and the reason. The list
// is streamed: Page reads only as far as the next PageSize (default 1000)
// good URLs.
func NewURLList(opts Options) (Engine, error) {
	if opts.Path == "" && opts.Reader == nil {
		return nil, errkind.WithCause(errkind.Fatal(errors.New("urls: no list given: set a file path")), "bad-config")
	}
	if opts.Reader == nil {
		fi, err := os.Stat(opts.Path)
		if err != nil {
			return nil, errkind.WithCause(errkind.Fatal(fmt.Errorf("urls: %w", err)), "bad-config")
		}
		if fi.IsDir() {
			return nil, errkind.WithCause(errkind.Fatal(fmt.Errorf("urls: %s is a directory, not a list of URLs (the folder engine imports directories)", opts.Path)), "bad-config")
		}
	}
	size := opts.PageSize
	if size <= 0 {
		size = urlPageSize
	}
	return &urlList{path: opts.Path, reader: opts.Reader, size: size, onSkip: opts.OnSkip}, nil
}

type urlList struct {
	path   string
	reader io.Reader
	used   atomic.Bool
	size   int
	onSkip func(Skipped)
}

func (l *urlList) Name() string { return "urls" }

// Search starts reading the list; q is ignored. A list given as a Reader
// can be read by one search only.
func (l *urlList) Search(ctx context.Context, q Query) (Pager, error) {
	p := &urlPager{list: l, seq: sequence{engine: "urls"}}
	if l.reader != nil {
		if l.used.Swap(true) {
			return nil, errkind.Permanent(errors.New("urls: a list given as a stream can be read by one search only"))
		}
		p.r = bufio.NewReaderSize(l.reader, maxLineLen)
		return p, nil
	}
	f, err := os.Open(l.path)
	if err != nil {
		return nil, errkind.WithCause(errkind.Fatal(fmt.Errorf("urls: %w", err)), "bad-config")
	}
	// The pager closes f at the end of the list; one abandoned early is
	// closed by the runtime when it is collected.
	p.file = f
	p.r = bufio.NewReaderSize(f, maxLineLen)
	return p, nil
}

type urlPager struct {
	list *urlList
	seq  sequence
	file *os.File
	r    *bufio.Reader
	line int // lines consumed so far (plain mode and the CSV header)

	started bool
	pending *pendingLine
	csv     *csv.Reader // nil for a plain list
	cols    map[string]int
}

func (p *urlPager) Page(ctx context.Context, page int) ([]Result, error) {
	if err := p.seq.check(page); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !p.started {
		if err := p.start(); err != nil {
			return nil, p.fail(err)
		}
		p.started = true
	}
	var out []Result
	for len(out) < p.list.size {
		r, ok, err := p.next()
		if errors.Is(err, io.EOF) {
			p.close()
			p.seq.finish()
			if len(out) == 0 {
				return nil, ErrNoMore
			}
			return out, nil
		}
		if err != nil {
			return nil, p.fail(err)
		}
		if ok {
			out = append(out, r)
		}
	}
	p.seq.advance()
	return out, nil
}

// fail ends the list on a read error: the position in a stream is lost, so
// asking again could only skip or repeat lines.
func (p *urlPager) fail(err error) error {
	p.close()
	p.seq.finish()
	return errkind.Permanent(fmt.Errorf("urls: read list after line %d: %w", p.line, err))
}

func (p *urlPager) close() {
	if p.file != nil {
		p.file.Close()
		p.file = nil
	}
}

// start finds the first content line and decides between a plain list and
// CSV with a header.
func (p *urlPager) start() error {
	for {
		text, err := p.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil // an empty list; next() reports EOF again
			}
			return err
		}
		if p.line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if cols, comma, ok := csvHeader(text); ok {
			c := csv.NewReader(p.r)
			c.Comma = comma
			c.Comment = '#'
			c.FieldsPerRecord = -1
			c.TrimLeadingSpace = true
			p.csv, p.cols = c, cols
			return nil
		}
		// A plain list: the first line is already a URL.
		p.pending = &pendingLine{n: p.line, text: text}
		return nil
	}
}

// pendingLine is a plain-list line read while sniffing the format.
type pendingLine struct {
	n    int
	text string
}

// csvHeader reports whether line is a CSV header with a url column, and
// under which delimiter.
func csvHeader(line string) (map[string]int, rune, bool) {
	for _, comma := range []rune{',', '\t', ';'} {
		c := csv.NewReader(strings.NewReader(line))
		c.Comma = comma
		c.TrimLeadingSpace = true
		fields, err := c.Read()
		if err != nil || len(fields) == 0 {
			continue
		}
		cols := map[string]int{}
		for i, f := range fields {
			name := strings.ToLower(strings.TrimSpace(f))
			if _, dup := cols[name]; !dup {
				cols[name] = i
			}
		}
		if _, ok := cols["url"]; ok {
			return cols, comma, true
		}
	}
	return nil, 0, false
}

// next reads one entry. ok is false for skipped lines (reported through
// OnSkip); err is io.EOF at the end.
func (p *urlPager) next() (Result, bool, error) {
	if p.csv != nil {
		return p.nextCSV()
	}
	var n int
	var text string
	if p.pending != nil {
		n, text = p.pending.n, p.pending.text
		p.pending = nil
	} else {
		var err error
		if text, err = p.readLine(); err != nil {
			if errors.Is(err, errLongLine) {
				p.skip(Skipped{Line: p.line, Text: text, Reason: fmt.Sprintf("line longer than %d bytes", maxLineLen)})
				return Result{}, false, nil
			}
			return Result{}, false, err
		}
		n = p.line
	}
	if text == "" || strings.HasPrefix(text, "#") {
		return Result{}, false, nil
	}
	if reason := checkURL(text); reason != "" {
		p.skip(Skipped{Line: n, Text: text, Reason: reason})
		return Result{}, false, nil
	}
	return Result{MediaURL: text}, true, nil
}

func (p *urlPager) nextCSV() (Result, bool, error) {
	rec, err := p.csv.Read()
	if err != nil {
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			p.skip(Skipped{Line: p.line + perr.StartLine, Reason: "bad CSV: " + perr.Err.Error()})
			return Result{}, false, nil
		}
		return Result{}, false, err
	}
	line, _ := p.csv.FieldPos(0)
	line += p.line
	field := func(name string) string {
		if i, ok := p.cols[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	u := field("url")
	if reason := checkURL(u); reason != "" {
		p.skip(Skipped{Line: line, Text: strings.Join(rec, string(p.csv.Comma)), Reason: reason})
		return Result{}, false, nil
	}
	return Result{
		MediaURL: u,
		Class:    field("class"),
		Title:    field("title"),
		License:  field("license"),
		Author:   field("author"),
	}, true, nil
}

var errLongLine = errors.New("line too long")

// readLine returns the next line without its line ending, trimmed. A line
// over maxLineLen is consumed to its end and reported as errLongLine with
// its first bytes.
func (p *urlPager) readLine() (string, error) {
	b, err := p.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		head := string(bytes.TrimSpace(b[:min(len(b), 80)]))
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = p.r.ReadSlice('\n')
		}
		p.line++
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		return head, errLongLine
	}
	if err != nil && (!errors.Is(err, io.EOF) || len(b) == 0) {
		return "", err
	}
	p.line++
	return strings.TrimSpace(string(b)), nil
}

func (p *urlPager) skip(s Skipped) {
	if p.list.onSkip != nil {
		p.list.onSkip(s)
	}
}

// checkURL returns why s is not a usable image URL, or "".
func checkURL(s string) string {
	if s == "" {
		return "empty URL"
	}
	u, err := url.Parse(s)
	if err != nil {
		return "unparsable URL: " + err.Error()
	}
	if scheme := strings.ToLower(u.Scheme); scheme != "http" && scheme != "https" {
		return "not an http or https URL"
	}
	if u.Host == "" || u.Hostname() == "" {
		return "URL has no host"
	}
	return ""
}
