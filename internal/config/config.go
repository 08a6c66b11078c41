// Package config reads scour.yaml, the file that says what a project is
// about: its classes and how to find pictures of them, and how politely to
// fetch them. Unknown keys are errors that name their line, because a typo
// that silently does nothing costs a user a whole scrape.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/scour-dev/scour/internal/classname"
	"github.com/scour-dev/scour/internal/clean"
	"github.com/scour-dev/scour/internal/search"
	"github.com/scour-dev/scour/internal/suggest"
	"github.com/scour-dev/scour/internal/useragent"
)

// FileName is the config file inside a project directory.
const FileName = "scour.yaml"

// Config is a whole scour.yaml.
type Config struct {
	// Store is where image bytes live: "local" (the project directory) or
	// "s3://bucket/prefix".
	Store   string       `yaml:"store"`
	Classes []Class      `yaml:"classes"`
	Sources []Source     `yaml:"sources"`
	Fetch   Fetch        `yaml:"fetch"`
	Clean   clean.Config `yaml:"clean"`
	Split   Split        `yaml:"split"`
	Train   Train        `yaml:"train"`
}

// Train says how to fit the classifiers.
type Train struct {
	InputSize int     `yaml:"input_size"` // images are resized to this square
	Epochs    int     `yaml:"epochs"`
	Batch     int     `yaml:"batch"`
	Optimizer string  `yaml:"optimizer"` // adam | sgd
	LR        float64 `yaml:"lr"`
	Patience  int     `yaml:"patience"` // early stopping after this many epochs without a better val loss; 0 = off (as Keras)
	Seed      uint64  `yaml:"seed"`
	// Model is the CNN, e.g. "32-64-128/d1" or "conv=32,64,128 dropout=1 dense=128".
	Model string `yaml:"model"`
	// Augment takes Keras ImageDataGenerator arguments, e.g.
	// "shear_range=0.2, zoom_range=0.2, horizontal_flip=True".
	Augment string `yaml:"augment"`
	// Sweep lists the variants `scour sweep` (and `scour run`) trains
	// besides Model; empty = the original experiments' four for `scour
	// sweep`, none for `scour run`.
	Sweep []string `yaml:"sweep"`
}

// Split says how to divide kept images into train, validation and test sets.
type Split struct {
	Train float64 `yaml:"train"`
	Val   float64 `yaml:"val"`
	Test  float64 `yaml:"test"`
	Seed  int64   `yaml:"seed"`
}

// Class is one thing the classifier must tell apart.
type Class struct {
	Name       string   `yaml:"name"`
	Queries    []string `yaml:"queries"`
	References []string `yaml:"references"` // reference images (paths relative to the project) for clean
	Target     int      `yaml:"target"`     // how many images to gather; 0 = no limit
	// OffTopic picks clean's off-topic method for this class: labels,
	// reference, outlier or off ("" = clean.off_topic.method).
	OffTopic string `yaml:"off_topic"`
}

// Source is one search engine, or a local list or folder.
type Source struct {
	Engine string `yaml:"engine"` // bing | duckduckgo | commons | urls | folder
	Path   string `yaml:"path"`   // urls: the list file; folder: the root directory
	// Classes restricts the source to some classes; empty = all.
	Classes []string `yaml:"classes"`
	// MaxPages bounds how deep a search goes per query; 0 = until target or no more results.
	MaxPages int `yaml:"max_pages"`
	// BaseURL overrides the engine's address (tests and mirrors).
	BaseURL string `yaml:"base_url"`
	// Licenses keeps only results whose license is in one of these
	// families (cc0, pd, cc-by, cc-by-sa, ...); empty = no filter.
	Licenses []string `yaml:"licenses,omitempty"`
}

// Fetch says how to download politely.
type Fetch struct {
	Workers     int      `yaml:"workers"`  // concurrent downloads in all
	PerHost     int      `yaml:"per_host"` // concurrent downloads per host
	Rate        float64  `yaml:"rate"`     // requests per second per host; 0 = unlimited
	Timeout     Duration `yaml:"timeout"`  // whole request, body included
	Connect     Duration `yaml:"connect_timeout"`
	Idle        Duration `yaml:"read_timeout"` // longest wait for the next bytes of a body
	MaxBytes    Size     `yaml:"max_bytes"`
	MaxPixels   int64    `yaml:"max_pixels"`
	MinWidth    int      `yaml:"min_width"`
	MinHeight   int      `yaml:"min_height"`
	Retries     int      `yaml:"retries"`
	Redirects   int      `yaml:"max_redirects"`
	UserAgent   string   `yaml:"user_agent"`
	SafeSearch  *bool    `yaml:"safe_search"`
	RetryFailed *bool    `yaml:"retry_failed"` // on a re-run, retry URLs that failed for a retryable cause

	// Consent and host health (fetch's block).
	Robots       *bool    `yaml:"robots"`        // honour image hosts' robots.txt (default true; false only for your own servers)
	Contact      string   `yaml:"contact"`       // your email or URL, sent in the User-Agent so site operators can reach you
	HostFailures int      `yaml:"host_failures"` // connection failures in a row that pause a host (default 5)
	HostCooldown Duration `yaml:"host_cooldown"` // that pause; if the host fails once more, its URLs fail with host-down (default 30s)
}

// Default returns the settings used for everything scour.yaml leaves out.
func Default() Config {
	t := true
	return Config{
		Store: "local",
		Fetch: Fetch{
			Workers: 32, PerHost: 4, Rate: 0,
			Timeout: Duration(60 * time.Second), Connect: Duration(10 * time.Second), Idle: Duration(20 * time.Second),
			MaxBytes: 25 << 20, MaxPixels: 64_000_000, MinWidth: 32, MinHeight: 32,
			Retries: 3, Redirects: 5, UserAgent: "", SafeSearch: &t, RetryFailed: &t,
			HostFailures: 5, HostCooldown: Duration(30 * time.Second),
		},
		Clean: clean.Default(),
		Split: Split{Train: 0.7, Val: 0.15, Test: 0.15, Seed: 42},
		Train: Train{InputSize: 128, Epochs: 20, Batch: 32, Optimizer: "adam", LR: 1e-3, Patience: 0, Seed: 42,
			Model:   "32-64-128/d1",
			Augment: "shear_range=0.2, zoom_range=0.2, horizontal_flip=True"},
	}
}

// Load reads and checks path, filling defaults.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Config{}, fmt.Errorf("%s not found: run `scour init DIR` to create a project, or pass -C DIR: %w", path, err)
		}
		return Config{}, err
	}
	return Parse(path, data)
}

// Parse reads a scour.yaml held in memory; name is used in messages.
func Parse(name string, data []byte) (Config, error) {
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, ioEOF) {
		return Config{}, fmt.Errorf("%s: %s", name, friendlyYAML(err))
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

var fieldNotFound = regexp.MustCompile(`line (\d+): field (\S+) not found in type (\w+\.\w+)`)

// friendlyYAML rewrites yaml.v3's messages so they talk about scour.yaml's
// keys, not Go types, and suggests the key that was probably meant.
func friendlyYAML(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: unmarshal errors:\n")
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		if m := fieldNotFound.FindStringSubmatch(l); m != nil {
			s := fmt.Sprintf("line %s: unknown key %q in %s", m[1], m[2], sectionName(m[3]))
			if sug := suggest.Closest(m[2], knownKeys(m[3])); sug != "" {
				s += fmt.Sprintf(" (did you mean %q?)", sug)
			}
			l = s
		}
		if l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}

// sections maps the Go types behind scour.yaml to the keys users see.
var sections = map[string]struct {
	name string
	zero any
}{
	"config.Config":         {"the top level", Config{}},
	"config.Class":          {"a class", Class{}},
	"config.Source":         {"a source", Source{}},
	"config.Fetch":          {"fetch", Fetch{}},
	"config.Split":          {"split", Split{}},
	"config.Train":          {"train", Train{}},
	"clean.Config":          {"clean", clean.Config{}},
	"clean.DuplicateConfig": {"clean.duplicates", clean.DuplicateConfig{}},
	"clean.OffTopicConfig":  {"clean.off_topic", clean.OffTopicConfig{}},
}

func sectionName(goType string) string {
	if s, ok := sections[goType]; ok {
		return s.name
	}
	return goType
}

func knownKeys(goType string) []string {
	if s, ok := sections[goType]; ok {
		return yamlKeys(s.zero)
	}
	return nil
}

// Validate checks what YAML types cannot: names, ranges, engines.
func (c *Config) Validate() error {
	if len(c.Classes) == 0 {
		return errors.New("no classes: add at least one under `classes:` (each with a name and queries)")
	}
	seen := map[string]bool{}
	for i, cl := range c.Classes {
		if cl.Name == "" {
			return fmt.Errorf("class %d has no name", i+1)
		}
		if p := classname.Problem(cl.Name); p != "" {
			return fmt.Errorf("class %d: the name %q %s", i+1, cl.Name, p)
		}
		if seen[cl.Name] {
			return fmt.Errorf("class %q is listed twice", cl.Name)
		}
		seen[cl.Name] = true
		if cl.Target < 0 {
			return fmt.Errorf("class %q: target must be >= 0", cl.Name)
		}
	}
	if err := classname.Check(c.ClassNames()); err != nil {
		return err
	}
	for i, s := range c.Sources {
		switch s.Engine {
		case "bing", "duckduckgo", "commons":
		case "urls", "folder":
			if s.Path == "" {
				return fmt.Errorf("source %d (%s) needs a path", i+1, s.Engine)
			}
		case "":
			return fmt.Errorf("source %d has no engine (one of bing, duckduckgo, commons, urls, folder)", i+1)
		default:
			msg := fmt.Sprintf("source %d: unknown engine %q (one of bing, duckduckgo, commons, urls, folder)", i+1, s.Engine)
			if sug := suggest.Closest(s.Engine, []string{"bing", "duckduckgo", "commons", "urls", "folder"}); sug != "" {
				msg += fmt.Sprintf("; did you mean %q?", sug)
			}
			return errors.New(msg)
		}
		if len(s.Licenses) > 0 {
			switch s.Engine {
			case "bing", "duckduckgo", "folder":
				return fmt.Errorf("source %d (%s): licenses: %s results carry no license, so the filter would drop them all; filter commons or a CSV URL list with a license column", i+1, s.Engine, s.Engine)
			}
			if _, err := search.ParseLicenseFilter(s.Licenses); err != nil {
				return fmt.Errorf("source %d (%s): licenses: %w", i+1, s.Engine, err)
			}
		}
		for _, n := range s.Classes {
			if !seen[n] {
				return fmt.Errorf("source %d (%s) names class %q, which is not listed under classes", i+1, s.Engine, n)
			}
		}
	}
	f := c.Fetch
	switch {
	case f.Workers < 1:
		return errors.New("fetch.workers must be at least 1")
	case f.PerHost < 1:
		return errors.New("fetch.per_host must be at least 1")
	case f.Rate < 0:
		return errors.New("fetch.rate must be >= 0 (0 = unlimited)")
	case f.MaxBytes <= 0:
		return errors.New("fetch.max_bytes must be positive")
	case f.Retries < 0:
		return errors.New("fetch.retries must be >= 0")
	case f.HostFailures < 1:
		return errors.New("fetch.host_failures must be at least 1 (set it high to keep calling hosts that refuse connections)")
	case f.HostCooldown < 0:
		return errors.New("fetch.host_cooldown must be >= 0")
	}
	if err := useragent.CheckContact(f.Contact); err != nil {
		return fmt.Errorf("fetch.contact: %w", err)
	}
	if err := c.Clean.Validate(); err != nil {
		return fmt.Errorf("clean: %w", err)
	}
	if t := c.Train; t.InputSize < 8 || t.InputSize > 1024 || t.Epochs < 1 || t.Batch < 1 || t.LR <= 0 {
		return errors.New("train: input_size must be 8..1024, epochs and batch at least 1, lr positive")
	}
	if c.Store != "local" && c.Store != "" && !strings.HasPrefix(c.Store, "s3://") {
		return fmt.Errorf("store %q: use local or s3://bucket/prefix", c.Store)
	}
	return nil
}

// ClassNames lists the classes in file order.
func (c *Config) ClassNames() []string {
	out := make([]string, len(c.Classes))
	for i, cl := range c.Classes {
		out[i] = cl.Name
	}
	return out
}

// SourceApplies reports whether s gathers for class.
func (s Source) SourceApplies(class string) bool {
	if len(s.Classes) == 0 {
		return true
	}
	for _, c := range s.Classes {
		if c == class {
			return true
		}
	}
	return false
}
