// Package gather is the first stage: it asks the configured search engines
// for candidate URLs, records them in the catalog, downloads them with the
// fetcher and stores the images that pass under content-addressed keys.
//
// Engines search concurrently, one goroutine each. Every (engine, query)
// that finds a URL is recorded as a sighting, also when another search
// found it first, so per-query counts tell which query brings garbage.
//
// It is resumable by construction. Candidates are catalog rows keyed by
// (class, URL); an image's key is its sha256; outcomes are recorded after the
// bytes are safely in the store. Kill it at any moment and run it again: URLs
// already done are skipped, images are never written twice under two names,
// and only pending or retryably-failed URLs are fetched again.
package gather

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/classname"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/fetch"
	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/search"
	"github.com/scour-dev/scour/internal/shard"
	"github.com/scour-dev/scour/internal/store"
)

// Source is one engine and the queries to run on it, per class.
type Source struct {
	Engine   search.Engine
	Classes  []string // classes this source gathers for; empty = every class
	MaxPages int      // 0 = until enough candidates or no more results
	// ClassFromResult is set for sources whose results carry their own class
	// (folder subdirectories, a class column in a URL list).
	ClassFromResult bool
	// Rescan marks local sources (folders, URL lists) that are cheap to read
	// again, so every run picks up files added since the last one.
	Rescan bool
	// Skipped hands back, and forgets, the inputs the engine passed over
	// (garbage lines of a URL list, files outside class folders) so they are
	// recorded as failures with SkipCause instead of vanishing; may be nil.
	Skipped   func() []search.Skipped
	SkipCause string
}

// Class is a class with its search queries and target count.
type Class struct {
	Name    string
	Queries []string
	Target  int // 0 = no limit
}

// Options configures a run.
type Options struct {
	Classes     []Class
	Sources     []Source
	SafeSearch  bool
	Workers     int
	RetryFailed bool
	// Overfetch multiplies a class's target to decide how many candidate URLs
	// to collect before searching stops: many URLs fail or are garbage.
	Overfetch  float64
	SkipSearch bool // fetch only what the catalog already has
	// More is, per class, how many images to fetch beyond its Target in a
	// top-up round, for those clean will set aside (see topup.go).
	More map[string]int
	// Shard restricts the run to its part of the work: the searches whose
	// (engine, class, query) it owns, and the entries of local sources
	// (folders, URL lists) whose URL id it owns. Its catalog then holds
	// only its own candidates.
	Shard      shard.Spec
	BatchSize  int           // outcomes per catalog transaction (default 256)
	FlushEvery time.Duration // longest wait before a partial batch is committed (default 250ms)
}

// Summary counts what a run did.
type Summary struct {
	Searched   int                     `json:"queries_searched"`
	Candidates int                     `json:"candidates_new"`
	Fetched    int                     `json:"fetched"`
	Kept       int                     `json:"kept"`
	Duplicates int                     `json:"duplicates"`
	Failed     int                     `json:"failed"`
	ByCause    map[string]int          `json:"failed_by_cause"`
	PerClass   map[string]ClassSummary `json:"classes"`
	// Engines and Queries say what each engine and each search brought, over
	// every run so far (the catalog's record, not only this run's), so that
	// the query that brings garbage stands out.
	Engines []catalog.EngineStats `json:"engines,omitempty"`
	Queries []catalog.QueryStats  `json:"queries,omitempty"`
	Notes   []string              `json:"notes,omitempty"`
}

// ClassSummary is one class's standing after the run.
type ClassSummary struct {
	Kept   int `json:"kept"`
	Target int `json:"target"`
	URLs   int `json:"urls"`
}

// Gatherer runs the stage.
type Gatherer struct {
	Cat     *catalog.Catalog
	Store   store.Store
	Fetcher *fetch.Fetcher
	Events  progress.Sink
}

// Run searches, then fetches. A fatal error (disk full, read-only store,
// damaged catalog) stops the run; everything recorded before it stays.
func (g *Gatherer) Run(ctx context.Context, o Options) (Summary, error) {
	if g.Events == nil {
		g.Events = progress.Discard
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.Overfetch <= 0 {
		o.Overfetch = 1.5
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = 250 * time.Millisecond
	}
	sum := Summary{ByCause: map[string]int{}, PerClass: map[string]ClassSummary{}}
	if !o.SkipSearch {
		progress.Start(g.Events, "search", 0)
		err := g.searchAll(ctx, o, &sum)
		progress.Finish(g.Events, "search")
		if err != nil {
			return sum, err
		}
	}
	err := g.fetchAll(ctx, o, &sum)
	for _, c := range o.Classes {
		kept, _ := g.Cat.CountKept(context.WithoutCancel(ctx), c.Name)
		total, _, _ := g.Cat.CountClassURLs(context.WithoutCancel(ctx), c.Name)
		sum.PerClass[c.Name] = ClassSummary{Kept: kept, Target: c.Target, URLs: total}
		if c.Target > 0 && kept < c.Target && err == nil {
			note := fmt.Sprintf("class %s: %d of %d images kept from %d URLs; add queries or sources to reach the target", c.Name, kept, c.Target, total)
			sum.Notes = append(sum.Notes, note)
			progress.Warn(g.Events, "gather", note)
		}
	}
	var serr error
	if sum.Engines, serr = g.Cat.EngineStats(context.WithoutCancel(ctx)); serr == nil {
		sum.Queries, serr = g.Cat.QueryStats(context.WithoutCancel(ctx))
	}
	if err == nil {
		err = serr
	}
	return sum, err
}

// searchAll runs the searches: one goroutine per engine, so that a slow or
// broken engine holds no other up, and each engine's queries one after
// another, so that no service gets more than one request at a time from
// us. When every network engine fails its first request for want of a
// network, the run stops at once instead of retrying each query.
func (g *Gatherer) searchAll(ctx context.Context, o Options, sum *Summary) error {
	known := map[string]bool{}
	for _, c := range o.Classes {
		known[c.Name] = true
	}
	var names []string
	byEngine := map[string][]Source{}
	for _, src := range o.Sources {
		n := src.Engine.Name()
		if _, ok := byEngine[n]; !ok {
			names = append(names, n)
		}
		byEngine[n] = append(byEngine[n], src)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	runs := make([]engineRun, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		r := &runs[i]
		r.sum = Summary{ByCause: map[string]int{}}
		wg.Go(func() {
			for _, src := range byEngine[n] {
				r.network = r.network || !src.Rescan
				err := g.searchSource(ctx, o, src, known, r)
				if errors.Is(err, errUnreachable) {
					return
				}
				if err != nil {
					r.err = err
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()

	var firstErr error
	var down []string
	network := 0
	for i, r := range runs {
		sum.Searched += r.sum.Searched
		sum.Candidates += r.sum.Candidates
		sum.Failed += r.sum.Failed
		for k, v := range r.sum.ByCause {
			sum.ByCause[k] += v
		}
		sum.Notes = append(sum.Notes, r.sum.Notes...)
		if r.err != nil && (firstErr == nil || errors.Is(firstErr, context.Canceled)) {
			firstErr = r.err
		}
		if r.network {
			network++
			if r.down != nil {
				msg := r.down.Error()
				if !strings.HasPrefix(msg, names[i]+":") {
					msg = names[i] + ": " + msg
				}
				down = append(down, msg)
			}
		}
	}
	if firstErr != nil {
		return firstErr
	}
	if network > 0 && len(down) == network {
		return errkind.Fatal(fmt.Errorf("network unreachable: every search engine failed to connect (%s); folder and urls sources still work offline: gather with only those in scour.yaml's sources, or run again once the network is back",
			strings.Join(down, "; ")))
	}
	for _, d := range down {
		note := d + ": unreachable, skipped in this run"
		sum.Notes = append(sum.Notes, note)
		progress.Warn(g.Events, "search", note)
	}
	return nil
}

// engineRun is what one engine's goroutine learns: its share of the
// summary, and whether the engine was ever reached.
type engineRun struct {
	sum     Summary
	network bool  // it has a source that searches over the network
	reached bool  // a request of it has succeeded
	down    error // its first request found no network
	err     error // what stopped the whole run
}

// errUnreachable ends an engine's searches when its first request found no
// network; engineRun.down says why.
var errUnreachable = errors.New("engine unreachable")

// unreachable says whether err means there is no way to the service at
// all: its name does not resolve, no route leads there, or nothing
// listens. Retrying such an error on an engine never reached is waiting for
// a network that is not there.
func unreachable(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	for _, e := range []error{syscall.ECONNREFUSED, syscall.ENETUNREACH, syscall.EHOSTUNREACH, syscall.ENETDOWN} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// searchSource runs one source's searches: each (class, query) the source
// and the shard own, or the one listing of a source whose results carry
// their class.
func (g *Gatherer) searchSource(ctx context.Context, o Options, src Source, known map[string]bool, r *engineRun) error {
	if src.ClassFromResult {
		return g.searchOne(ctx, o, src, "", "", 0, known, r)
	}
	for _, c := range o.Classes {
		if !applies(src, c.Name) {
			continue
		}
		queries := c.Queries
		if len(queries) == 0 {
			queries = []string{c.Name}
		}
		for _, q := range queries {
			if !o.Shard.Owns(src.Engine.Name() + "\x00" + c.Name + "\x00" + q) {
				continue
			}
			want := o.searchWant(c, len(queries))
			if err := g.searchOne(ctx, o, src, c.Name, q, want, known, r); err != nil {
				return err
			}
		}
	}
	return nil
}

func applies(src Source, class string) bool {
	if len(src.Classes) == 0 {
		return true
	}
	for _, c := range src.Classes {
		if c == class {
			return true
		}
	}
	return false
}

// searchOne pages through one query until it has want candidates (0 = all),
// the engine says there is no more, or a page brings nothing new.
func (g *Gatherer) searchOne(ctx context.Context, o Options, src Source, class, q string, want int, known map[string]bool, r *engineRun) error {
	sum := &r.sum
	name := src.Engine.Name()
	label := name
	if q != "" {
		label = fmt.Sprintf("%s %q", name, q)
	}
	if !src.Rescan {
		st, err := g.Cat.SearchState(ctx, name, class, q)
		if err != nil {
			return err
		}
		if st.Exhausted || (want > 0 && st.Found >= want) {
			return nil
		}
	}
	pager, err := src.Engine.Search(ctx, search.Query{Text: q, SafeSearch: o.SafeSearch})
	if err != nil {
		if !r.reached && unreachable(err) {
			r.down = err
			return errUnreachable
		}
		return g.searchFailed(label, err, sum)
	}
	sum.Searched++
	found, rank, exhausted := 0, 0, false
	// URLs seen in this search, to spot an engine that repeats its last page
	// (bounded by the results of one query, not by the catalog).
	seen := map[string]bool{}
	// Results for classes the project does not have (a folder "zumwalts"
	// beside the class "zumwalt"), counted for a note instead of dropped
	// without a word.
	unknown := map[string]int{}
	for page := 0; src.MaxPages == 0 || page < src.MaxPages; page++ {
		if want > 0 && found >= want {
			break
		}
		results, err := pageWithRetry(ctx, pager, page, !r.reached)
		if errors.Is(err, search.ErrNoMore) {
			r.reached = true
			exhausted = true
			break
		}
		if err != nil {
			if errkind.IsFatal(err) || ctx.Err() != nil {
				return err
			}
			if !r.reached && unreachable(err) {
				r.down = err
				return errUnreachable
			}
			// A search that breaks part-way keeps what it found.
			g.searchFailed(label, err, sum)
			break
		}
		r.reached = true
		var cands []catalog.Candidate
		fresh := 0
		for _, r := range results {
			if !seen[r.MediaURL] {
				seen[r.MediaURL] = true
				fresh++
			}
			cl := class
			if src.ClassFromResult {
				cl = r.Class
				if cl == "" && len(src.Classes) == 1 {
					cl = src.Classes[0]
				}
			}
			if !known[cl] {
				unknown[cl]++
				continue
			}
			rank++
			if src.Rescan && !o.Shard.Owns(catalog.URLID(cl, r.MediaURL)) {
				continue
			}
			cands = append(cands, catalog.Candidate{
				URL: r.MediaURL, Class: cl, Engine: name, Query: q, Rank: rank,
				PageURL: r.PageURL, ThumbURL: r.ThumbURL, Title: r.Title, License: r.License, Author: r.Author,
			})
		}
		added, err := g.Cat.AddCandidates(ctx, cands)
		if err != nil {
			return err
		}
		found += len(cands)
		sum.Candidates += added
		if added > 0 {
			progress.Step(g.Events, "search", int64(added))
		}
		if len(results) > 0 && fresh == 0 {
			// The engine repeats itself: stop instead of looping forever.
			exhausted = true
			break
		}
	}
	if src.Skipped != nil {
		for _, b := range src.Skipped() {
			cl := class
			if cl == "" && len(src.Classes) == 1 {
				cl = src.Classes[0]
			}
			text := b.Text
			if b.Line > 0 {
				text = fmt.Sprintf("line %d: %s", b.Line, b.Text)
			}
			cand := catalog.Candidate{URL: text, Class: cl, Engine: name, Rank: b.Line}
			if err := g.Cat.RecordFailure(ctx, cand, src.SkipCause, b.Reason); err != nil {
				return err
			}
			sum.Failed++
			sum.ByCause[src.SkipCause]++
		}
	}
	if len(unknown) > 0 {
		names := slices.Sorted(maps.Keys(unknown))
		var parts []string
		for _, n := range names {
			parts = append(parts, fmt.Sprintf("%q (%d)", n, unknown[n]))
		}
		note := fmt.Sprintf("%s: passed over images of classes scour.yaml does not list: %s; add them to scour.yaml's classes, or correct the names",
			label, strings.Join(parts, ", "))
		sum.Notes = append(sum.Notes, note)
		progress.Warn(g.Events, "search", note)
	}
	if want > 0 && found < want {
		note := fmt.Sprintf("%s: found %d URLs of %d asked for", label, found, want)
		if class != "" {
			note = fmt.Sprintf("%s (class %s)", note, class)
		}
		sum.Notes = append(sum.Notes, note)
		progress.Info(g.Events, "search", note)
	}
	if src.Rescan {
		return nil
	}
	return g.Cat.SaveSearchState(ctx, catalog.SearchState{Engine: name, Class: class, Query: q, Found: found, Exhausted: exhausted})
}

func (g *Gatherer) searchFailed(label string, err error, sum *Summary) error {
	note := fmt.Sprintf("%s: search failed: %v", label, err)
	sum.Notes = append(sum.Notes, note)
	progress.Warn(g.Events, "search", note)
	return nil
}

// pageWithRetry gives a search page a few tries when the engine says the
// failure is passing (429, 5xx), waiting as the server asked. An engine
// never reached (first) that proves unreachable gets no second try: with no
// network, waiting only delays saying so.
func pageWithRetry(ctx context.Context, p search.Pager, page int, first bool) ([]search.Result, error) {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		var rs []search.Result
		rs, err = p.Page(ctx, page)
		if err == nil || !errkind.IsRetryable(err) || (first && unreachable(err)) {
			return rs, err
		}
		wait := errkind.RetryAfter(err)
		if wait <= 0 {
			wait = time.Duration(1<<attempt) * time.Second
		}
		if wait > 2*time.Minute {
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	return nil, err
}

type job struct {
	row catalog.URLRow
}

type done struct {
	row catalog.URLRow
	out catalog.Outcome
	key string // store key written, "" if none
}

func (g *Gatherer) fetchAll(ctx context.Context, o Options, sum *Summary) error {
	q := newQuota(ctx)
	for _, c := range o.Classes {
		n, err := g.Cat.CountKept(ctx, c.Name)
		if err != nil {
			return err
		}
		q.set(c.Name, o.fetchTarget(c), n)
	}

	byState, _, err := g.Cat.CountURLs(ctx)
	if err != nil {
		return err
	}
	total := int64(byState[catalog.StatePending])
	if o.RetryFailed {
		total += int64(byState[catalog.StateFailed])
	}
	progress.Start(g.Events, "fetch", total)
	defer progress.Finish(g.Events, "fetch")

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan job, o.Workers*2)
	results := make(chan done, o.Workers*2)

	var wg sync.WaitGroup
	for i := 0; i < o.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if !q.reserve(j.row.Class) {
					// Leave it pending: a later run with a higher target takes it.
					continue
				}
				d := g.fetchOne(ctx, j.row)
				if d.out.Image == nil {
					q.settle(j.row.Class, false)
				}
				results <- d
			}
		}()
	}

	writerErr := make(chan error, 1)
	go func() {
		err := g.writer(ctx, cancel, o, results, sum, q.settle)
		if err != nil {
			// The catalog refused a write: stop, and keep taking results so
			// that no worker blocks on a full channel.
			cancel(err)
			for range results {
			}
		}
		writerErr <- err
	}()

	feedErr := g.Cat.ForEachTodo(ctx, 512, o.RetryFailed, func(rows []catalog.URLRow) error {
		for _, r := range rows {
			if q.full(r.Class) {
				continue
			}
			select {
			case jobs <- job{row: r}:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		return nil
	})
	close(jobs)
	wg.Wait()
	close(results)
	werr := <-writerErr
	switch {
	case werr != nil:
		return werr
	case feedErr != nil && !errors.Is(feedErr, context.Canceled):
		return feedErr
	case ctx.Err() != nil:
		if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
			return c
		}
		return ctx.Err()
	}
	return nil
}

func (g *Gatherer) fetchOne(ctx context.Context, row catalog.URLRow) done {
	d := done{row: row, out: catalog.Outcome{URLID: row.ID}}
	res, err := g.Fetcher.Get(ctx, row.URL)
	if err != nil {
		d.out.Cause = errkind.Cause(err)
		d.out.Err = err.Error()
		d.out.Retryable = errkind.IsRetryable(err)
		d.out.HTTPStatus = fetch.StatusOf(err)
		return d
	}
	key := ImageKey(row.Class, res.SHA256, res.Meta.Format)
	if existing, err := g.Cat.GetImage(ctx, res.SHA256); err == nil {
		// Known bytes: record the duplicate without writing them again.
		key = existing.Key
	} else if err := g.Store.Put(ctx, key, bytes.NewReader(res.Data), int64(len(res.Data))); err != nil {
		// The store's own wrapper has already retried: a store that still
		// fails is down or full, not this URL's fault, and every other
		// download would fail the same way. Stop, leaving the URL pending.
		d.out.Cause, d.out.Err = "store-fatal", err.Error()
		if ctx.Err() != nil {
			d.out.Cause = "interrupted"
		}
		return d
	} else {
		d.key = key
	}
	d.out.HTTPStatus = res.HTTPStatus
	d.out.Image = &catalog.Image{
		SHA256: res.SHA256, Class: row.Class, Key: key, Format: res.Meta.Format,
		Width: res.Meta.Width, Height: res.Meta.Height, Bytes: int64(len(res.Data)), PHash: res.Meta.PHash,
	}
	return d
}

// ImageKey is where an image's bytes live: by class (its folder form, see
// classname.Folder), named by content.
func ImageKey(class, sha, format string) string {
	return "images/" + classname.Folder(class) + "/" + sha + imaging.Ext(format)
}

// writer commits outcomes in batches: one transaction per batch keeps the
// catalog fast, and since outcomes are recorded only after their bytes are
// stored, a crash loses at most a batch of records, which the next run
// simply redoes. settle is told, for each download that brought an image,
// whether the image was kept or was a duplicate.
func (g *Gatherer) writer(ctx context.Context, stop context.CancelCauseFunc, o Options, in <-chan done, sum *Summary, settle func(class string, kept bool)) error {
	var batch []done
	var fatal error
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		outs := make([]catalog.Outcome, 0, len(batch))
		for _, d := range batch {
			outs = append(outs, d.out)
		}
		res, err := g.Cat.Record(context.WithoutCancel(ctx), outs)
		if err != nil {
			return err
		}
		for i, r := range res {
			d := batch[i]
			sum.Fetched++
			if d.out.Image != nil {
				// Whatever the catalog made of it, the download is over
				// (a reservation left open would stall its class).
				settle(d.row.Class, r.State == catalog.StateDone)
			}
			switch r.State {
			case catalog.StateDone:
				sum.Kept++
			case catalog.StateDuplicate:
				sum.Duplicates++
				if d.key != "" && r.Duplicate != nil && r.Duplicate.Key != d.key {
					// We wrote a second copy under another class: remove it.
					g.Store.Delete(context.WithoutCancel(ctx), d.key)
				}
			case catalog.StateFailed:
				sum.Failed++
				sum.ByCause[d.out.Cause]++
			}
		}
		progress.Step(g.Events, "fetch", int64(len(batch)))
		batch = batch[:0]
		return nil
	}
	tick := time.NewTicker(o.FlushEvery)
	defer tick.Stop()
	for {
		select {
		case d, ok := <-in:
			if !ok {
				if err := flush(); err != nil {
					return err
				}
				return fatal
			}
			if d.out.Cause == "store-fatal" || d.out.Cause == "interrupted" {
				// Not the URL's fault: leave it pending for the next run.
				if d.out.Cause == "store-fatal" && fatal == nil {
					fatal = errkind.Fatal(fmt.Errorf("writing images to %s failed: %s; nothing is lost: run gather again once the store works", g.Store, d.out.Err))
					// Stop feeding work; workers drain what they hold.
					stop(fatal)
				}
				continue
			}
			batch = append(batch, d)
			if len(batch) >= o.BatchSize {
				if err := flush(); err != nil {
					return err
				}
			}
		case <-tick.C:
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// SortedCauses lists causes by count, largest first, for summaries.
func SortedCauses(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}

// quota counts, per class, the images kept and the downloads whose outcome
// is not settled yet, so that a class stops at its target instead of
// overshooting by the number of workers. While downloads are open, a class
// at its target is not full yet: one of them may fail or prove a duplicate
// and free its place. So reserve waits for them to settle rather than
// giving up, which left classes short of a target they could reach.
type quota struct {
	ctx  context.Context
	mu   sync.Mutex
	cond *sync.Cond
	q    map[string]*classQuota
}

type classQuota struct {
	target, kept, open int
}

// newQuota returns a quota whose waits end when ctx is done.
func newQuota(ctx context.Context) *quota {
	q := &quota{ctx: ctx, q: map[string]*classQuota{}}
	q.cond = sync.NewCond(&q.mu)
	context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
	return q
}

// set declares a class, its target (0 = no limit) and the images it has.
func (q *quota) set(class string, target, kept int) {
	q.q[class] = &classQuota{target: target, kept: kept}
}

// full says whether a class has all it wants (or is unknown); a cheap test
// for the feeder, which does not wait.
func (q *quota) full(class string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	c, ok := q.q[class]
	return !ok || (c.target > 0 && c.kept >= c.target)
}

// reserve takes a place for one download of class. It returns false when
// the class is full or ctx is done, and waits while the class's places
// are all held by open downloads.
func (q *quota) reserve(class string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	c, ok := q.q[class]
	for ok && q.ctx.Err() == nil {
		switch {
		case c.target == 0 || c.kept+c.open < c.target:
			c.open++
			return true
		case c.open == 0:
			return false
		}
		q.cond.Wait()
	}
	return false
}

// settle ends a reserved download: kept says whether it added an image.
func (q *quota) settle(class string, kept bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	c := q.q[class]
	c.open--
	if kept {
		c.kept++
	}
	q.cond.Broadcast()
}
