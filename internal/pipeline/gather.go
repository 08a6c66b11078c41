package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/config"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/fetch"
	"github.com/scour-dev/scour/internal/gather"
	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/project"
	"github.com/scour-dev/scour/internal/report"
	"github.com/scour-dev/scour/internal/search"
	"github.com/scour-dev/scour/internal/shard"
)

// GatherSummary is what gather did: counts by outcome, cause and class.
type GatherSummary = gather.Summary

// SortedCauses lists a summary's failure causes, most frequent first.
func SortedCauses(m map[string]int) []string { return gather.SortedCauses(m) }

// QueryStats is what one search (engine, class, query) brought.
type QueryStats = catalog.QueryStats

// WorstQuery is the index of the search whose candidates least often became
// images still kept after clean, or -1 when none stands out.
func WorstQuery(qs []QueryStats) int { return catalog.WorstQuery(qs) }

// ShardSpec names one shard of N; the zero value means "not sharded".
type ShardSpec = shard.Spec

// Gather searches the configured sources and downloads their images.
type Gather struct {
	Only       []string  // gather only these classes (default: all)
	SkipSearch bool      // only download candidates already in the catalog
	NoRetry    bool      // leave URLs that failed for a passing reason alone
	Shard      ShardSpec // run as one shard, with its own catalog in the store
	// More is set by a top-up round: per class, how many images to fetch
	// past its target for those clean will quarantine.
	More map[string]int
}

func (Gather) Name() string { return "gather" }

func (Gather) Fingerprint(ctx context.Context, p *project.Project) (string, error) {
	h, sum := newHasher()
	h.yaml(p.Config.Classes)
	h.yaml(p.Config.Sources)
	h.yaml(p.Config.Fetch)
	// A folder or URL list is an input too: photos added to the folder must
	// be gathered even though scour.yaml did not change.
	for _, s := range p.Config.Sources {
		if s.Path != "" {
			if err := hashTree(h, p.Path(s.Path)); err != nil {
				return "", err
			}
		}
	}
	// Pending URLs mean gather has work left.
	byState, _, err := p.Catalog.CountURLs(ctx)
	h.row("pending", strconv.Itoa(byState["pending"]))
	return sum(), err
}

// hashTree hashes the names, sizes and modification times of the files
// under root (or of root itself, a file): enough to see an added, removed
// or rewritten photo without reading every byte. A missing path hashes as
// such; gather then says what is wrong with it.
func hashTree(h hasher, root string) error {
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		h.row(rel, fmt.Sprintf("%d %d", info.Size(), info.ModTime().UnixNano()))
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		h.row(root, "missing")
		return nil
	}
	return err
}

func (g Gather) Run(ctx context.Context, p *project.Project, events progress.Sink) (any, error) {
	return g.Do(ctx, p, events)
}

// Do gathers. The summary is nil when gather could not start; otherwise it
// says what was done, also when err says why it stopped. An error marked
// errkind.Partial means gather finished with work left for a later run.
func (g Gather) Do(ctx context.Context, p *project.Project, events progress.Sink) (*GatherSummary, error) {
	opts, err := GatherOptions(p, g.Only)
	if err != nil {
		return nil, err
	}
	opts.SkipSearch = g.SkipSearch
	if g.NoRetry {
		opts.RetryFailed = false
	}
	opts.Shard = g.Shard
	opts.More = g.More
	cat := p.Catalog
	var sess *shard.Session
	if opts.Shard.Enabled() {
		if sess, err = shard.Start(ctx, p.Store, opts.Shard, p.Dir); err != nil {
			return nil, err
		}
		defer sess.Close(ctx)
		cat = sess.Catalog
	}
	gt := &gather.Gatherer{Cat: cat, Store: p.Store, Fetcher: NewFetcher(p.Config.Fetch), Events: events}
	sum, err := gt.Run(ctx, opts)
	licenseNotes(opts, &sum, events)
	if err == nil && sess != nil {
		err = sess.Finish(ctx, sum)
	}
	if err != nil || sess != nil {
		// A shard's leftovers are judged after merge, in the project catalog.
		return &sum, err
	}
	return &sum, leftover(ctx, p, sum)
}

// licenseNotes says, per filtered source, how many results its license
// filter dropped and why, so an empty class is not a mystery.
func licenseNotes(o gather.Options, sum *gather.Summary, events progress.Sink) {
	for _, src := range o.Sources {
		f, ok := src.Engine.(*search.LicenseFilter)
		if !ok {
			continue
		}
		dropped := f.Dropped()
		n := 0
		for _, k := range dropped {
			n += k
		}
		if n == 0 {
			continue
		}
		var parts []string
		for _, fam := range gather.SortedCauses(dropped) {
			what := fam
			if fam == search.LicenseNone {
				what = "without a license"
			}
			parts = append(parts, fmt.Sprintf("%d %s", dropped[fam], what))
		}
		note := fmt.Sprintf("%s: the license filter (%s) dropped %d results: %s", f.Name(), strings.Join(f.Allowed(), ", "), n, strings.Join(parts, ", "))
		sum.Notes = append(sum.Notes, note)
		// Said at gather's level, not search's: a filter that empties a
		// class must be seen without -v.
		progress.Info(events, "gather", note)
	}
}

// leftover reports, as a partial success, classes short of their target
// while some URLs failed for a passing reason: running gather again may help.
func leftover(ctx context.Context, p *project.Project, sum gather.Summary) error {
	short := 0
	for _, c := range sum.PerClass {
		if c.Target > 0 && c.Kept < c.Target {
			short++
		}
	}
	if short == 0 {
		return nil
	}
	n, err := p.Catalog.CountRetryable(ctx)
	if err != nil || n == 0 {
		return err
	}
	return errkind.Partial(fmt.Errorf("%d class(es) below target and %d URLs failed for a passing reason (timeouts, 5xx, 429): run gather again later to retry them", short, n))
}

// ParseShard reads --shard k/N or --shards N (the index from
// JOB_COMPLETION_INDEX, as Kubernetes Indexed Jobs set it).
func ParseShard(flag string, n int) (ShardSpec, error) {
	switch {
	case flag != "" && n > 0:
		return shard.Spec{}, configErr("use --shard k/N or --shards N, not both")
	case flag != "":
		s, err := shard.Parse(flag)
		if err != nil {
			return s, configErr("--shard: %v", err)
		}
		return s, nil
	case n > 0:
		s, err := shard.FromEnv(n)
		if err != nil {
			return s, configErr("%v", err)
		}
		return s, nil
	}
	return shard.Spec{}, nil
}

// NewFetcher builds the fetcher scour.yaml's fetch section describes.
func NewFetcher(f config.Fetch) *fetch.Fetcher {
	return fetch.New(fetch.Options{
		PerHost: f.PerHost, Rate: f.Rate,
		Timeout: f.Timeout.D(), ConnectTimeout: f.Connect.D(), ReadTimeout: f.Idle.D(),
		MaxBytes: int64(f.MaxBytes), MaxRedirects: f.Redirects, Retries: f.Retries,
		UserAgent: f.UserAgent, AllowFiles: true,
		Limits:  imaging.Limits{MaxPixels: f.MaxPixels, MinWidth: f.MinWidth, MinHeight: f.MinHeight},
		Contact: f.Contact, IgnoreRobots: f.Robots != nil && !*f.Robots,
		HostFailures: f.HostFailures, HostCooldown: f.HostCooldown.D(),
	})
}

// GatherOptions turns scour.yaml into the gather stage's options: the
// classes (all, or those named in only) and one engine per source.
func GatherOptions(p *project.Project, only []string) (gather.Options, error) {
	cfg := p.Config
	want := map[string]bool{}
	for _, c := range only {
		want[c] = true
	}
	var o gather.Options
	for _, c := range cfg.Classes {
		if len(want) > 0 && !want[c.Name] {
			continue
		}
		delete(want, c.Name)
		o.Classes = append(o.Classes, gather.Class{Name: c.Name, Queries: c.Queries, Target: c.Target})
	}
	for c := range want {
		return o, configErr("class %q is not in scour.yaml (classes: %s)", c, strings.Join(cfg.ClassNames(), ", "))
	}
	if len(cfg.Sources) == 0 {
		return o, configErr("scour.yaml has no sources: add one under `sources:` (bing, duckduckgo, commons, urls or folder)")
	}
	for i, s := range cfg.Sources {
		if s.Engine == "urls" {
			classes, err := urlListClasses(p, i, s)
			if err != nil {
				return o, err
			}
			s.Classes = classes
		}
		var mu sync.Mutex
		var skipped []search.Skipped
		so := search.Options{BaseURL: s.BaseURL, UserAgent: cfg.Fetch.UserAgent, Contact: cfg.Fetch.Contact, OnSkip: func(sk search.Skipped) {
			mu.Lock()
			skipped = append(skipped, sk)
			mu.Unlock()
		}}
		if s.Path != "" {
			so.Path = p.Path(s.Path)
		}
		so.Classes = cfg.ClassNames()
		eng, err := search.New(s.Engine, so)
		if err != nil {
			return o, err
		}
		if len(s.Licenses) > 0 {
			allowed, err := search.ParseLicenseFilter(s.Licenses)
			if err != nil {
				return o, configErr("source %s: licenses: %v", s.Engine, err)
			}
			eng = search.FilterLicenses(eng, allowed)
		}
		src := gather.Source{Engine: eng, Classes: s.Classes, MaxPages: s.MaxPages}
		switch s.Engine {
		case "folder":
			src.Rescan, src.ClassFromResult, src.SkipCause = true, true, search.CauseSkipped
		case "urls":
			src.Rescan, src.ClassFromResult, src.SkipCause = true, true, search.CauseBadURL
		}
		if src.SkipCause != "" {
			src.Skipped = func() []search.Skipped {
				mu.Lock()
				defer mu.Unlock()
				out := skipped
				skipped = nil
				return out
			}
		}
		o.Sources = append(o.Sources, src)
	}
	o.Workers = cfg.Fetch.Workers
	o.SafeSearch = cfg.Fetch.SafeSearch == nil || *cfg.Fetch.SafeSearch
	o.RetryFailed = cfg.Fetch.RetryFailed == nil || *cfg.Fetch.RetryFailed
	return o, nil
}

// urlListClasses decides, before any work, where the URLs of a list go: to
// the class column when the list has one, to the source's one class, or to
// the project's only class. A project of several classes with a list that
// names none is an error now rather than an empty gather later.
func urlListClasses(p *project.Project, i int, s config.Source) ([]string, error) {
	names := p.Config.ClassNames()
	if len(s.Classes) == 1 || s.Path == "" {
		return s.Classes, nil
	}
	if len(s.Classes) == 0 && len(names) == 1 {
		return names, nil
	}
	has, err := search.URLListHasClasses(p.Path(s.Path))
	if err != nil {
		return nil, configErr("source %d (urls): %v: check its path in scour.yaml", i+1, err)
	}
	if has {
		return s.Classes, nil
	}
	among := names
	if len(s.Classes) > 0 {
		among = s.Classes
	}
	return nil, configErr("source %d (urls): %s says no class for its URLs, and they could go to any of %s: add `classes: [NAME]` to the source for a list of one class, or make the list a CSV with a header line `url,class`",
		i+1, s.Path, strings.Join(among, ", "))
}

// searches maps the catalog's per-search counts to the report's table,
// marking the search that brings the most garbage.
func searches(ctx context.Context, p *project.Project) ([]report.Search, error) {
	qs, err := p.Catalog.QueryStats(ctx)
	if err != nil {
		return nil, err
	}
	worst := catalog.WorstQuery(qs)
	out := make([]report.Search, len(qs))
	for i, q := range qs {
		out[i] = report.Search{Engine: q.Engine, Class: q.Class, Query: q.Query, Found: q.Found, Downloaded: q.Downloaded,
			Kept: q.Kept, CleanKept: q.CleanKept, Worst: i == worst}
	}
	return out, nil
}
