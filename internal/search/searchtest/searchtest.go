// Package searchtest is the conformance suite for search.Pager, in the
// manner of storetest for stores: every engine runs the same checks on
// recorded pages, so gather can rely on the contract written on
// search.Pager and not on one engine's habits.
package searchtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/search"
)

// maxPages bounds a walk: an engine that never says ErrNoMore fails instead
// of hanging the test.
const maxPages = 1000

// Target is one engine set up to search recorded pages.
type Target struct {
	// Engine searches the recordings. It must serve several searches at
	// once, as the contract on search.Engine says.
	Engine search.Engine
	// Query gives a search that runs for at least two pages and then ends
	// with search.ErrNoMore.
	Query search.Query
	// Results is how many results the whole search returns, counted from
	// the recordings independently of the engine.
	Results int
	// Distinct says the engine promises no full-size URL twice in one
	// search (the scraping engines drop repeats).
	Distinct bool

	// The rest is nil for engines that make no requests (urls, folder);
	// Server.Hook fills all three for engines behind a loopback server.

	// Requests returns how many requests the engine has made so far.
	Requests func() int
	// FailNext makes the next request fail as a busy server does (503
	// with a Retry-After).
	FailNext func()
	// HoldNext makes the next request wait until its client gives up; the
	// channel is closed once that request has arrived.
	HoldNext func() <-chan struct{}
}

// Run checks the search.Pager contract on targets made by newTarget, which
// is called once per subtest and should register its own clean-up. The
// checks that need a server run only on targets that have one.
func Run(t *testing.T, newTarget func(t *testing.T) Target) {
	first := newTarget(t)
	t.Run("Walk", func(t *testing.T) { testWalk(t, first) })
	t.Run("EndIsSticky", func(t *testing.T) { testEndIsSticky(t, newTarget(t)) })
	t.Run("OutOfOrder", func(t *testing.T) { testOutOfOrder(t, newTarget(t)) })
	t.Run("Cancelled", func(t *testing.T) { testCancelled(t, newTarget(t)) })
	if first.HoldNext != nil {
		t.Run("CancelWhileWaiting", func(t *testing.T) { testCancelWhileWaiting(t, newTarget(t)) })
	}
	if first.FailNext != nil && first.Requests != nil {
		t.Run("RetryAfterFailure", func(t *testing.T) { testRetry(t, newTarget(t)) })
	}
	t.Run("ConcurrentSearches", func(t *testing.T) { testConcurrent(t, newTarget(t)) })
}

func start(t *testing.T, tg Target) search.Pager {
	t.Helper()
	p, err := tg.Engine.Search(t.Context(), tg.Query)
	if err != nil {
		t.Fatalf("%s: Search(%+v): %v", tg.Engine.Name(), tg.Query, err)
	}
	return p
}

// walk reads a search to its end. It returns no error: the walk is only
// ever done on the recordings, where every page must succeed.
func walk(t *testing.T, p search.Pager) [][]search.Result {
	t.Helper()
	var pages [][]search.Result
	for n := 0; n < maxPages; n++ {
		res, err := p.Page(t.Context(), n)
		if errors.Is(err, search.ErrNoMore) {
			return pages
		}
		if err != nil {
			t.Fatalf("page %d: %v", n, err)
		}
		pages = append(pages, res)
	}
	t.Fatalf("no ErrNoMore after %d pages", maxPages)
	return nil
}

// reference is the search as one plain walk sees it, for the checks that
// compare a disturbed walk with it.
func reference(t *testing.T, tg Target) [][]search.Result {
	t.Helper()
	pages := walk(t, start(t, tg))
	if len(pages) < 2 {
		t.Fatalf("the recordings give %d pages; the suite needs a search of at least two", len(pages))
	}
	return pages
}

func testWalk(t *testing.T, tg Target) {
	p := start(t, tg)
	var pages, copies [][]search.Result
	for n := 0; ; n++ {
		if n == maxPages {
			t.Fatalf("no ErrNoMore after %d pages", maxPages)
		}
		res, err := p.Page(t.Context(), n)
		if errors.Is(err, search.ErrNoMore) {
			break
		}
		if err != nil {
			t.Fatalf("page %d: %v", n, err)
		}
		pages = append(pages, res)
		copies = append(copies, append([]search.Result(nil), res...))
	}
	if len(pages) < 2 {
		t.Fatalf("the recordings give %d pages; the suite needs a search of at least two", len(pages))
	}
	total := 0
	seen := map[string]int{}
	for n, page := range pages {
		for i, r := range page {
			total++
			if err := checkResult(r); err != nil {
				t.Errorf("page %d result %d: %v\n%+v", n, i, err, r)
			}
			if prev, dup := seen[r.MediaURL]; dup && tg.Distinct {
				t.Errorf("page %d result %d repeats %s from page %d", n, i, r.MediaURL, prev)
			}
			seen[r.MediaURL] = n
		}
	}
	if total != tg.Results {
		t.Errorf("%d results in %d pages, want the %d of the recordings", total, len(pages), tg.Results)
	}
	// The caller keeps the slices it was given while it asks for more.
	if !reflect.DeepEqual(pages, copies) {
		t.Error("results already returned changed while later pages were read")
	}
}

// checkResult holds a result to what search.Result documents.
func checkResult(r search.Result) error {
	u, err := url.Parse(r.MediaURL)
	if err != nil {
		return fmt.Errorf("MediaURL: %w", err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return fmt.Errorf("MediaURL %q has no host", r.MediaURL)
		}
	case "file":
		if !filepath.IsAbs(filepath.FromSlash(u.Path)) {
			return fmt.Errorf("MediaURL %q is not an absolute file path", r.MediaURL)
		}
	default:
		return fmt.Errorf("MediaURL %q is not an http, https or file URL", r.MediaURL)
	}
	for name, v := range map[string]string{"ThumbURL": r.ThumbURL, "PageURL": r.PageURL} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s %q is not an absolute http or https URL", name, v)
		}
	}
	if r.Width < 0 || r.Height < 0 {
		return fmt.Errorf("size %dx%d is negative", r.Width, r.Height)
	}
	for name, v := range map[string]string{"Title": r.Title, "License": r.License, "Author": r.Author, "Class": r.Class} {
		if !utf8.ValidString(v) {
			return fmt.Errorf("%s %q is not UTF-8", name, v)
		}
		if strings.TrimSpace(v) != v {
			return fmt.Errorf("%s %q has surrounding white space", name, v)
		}
	}
	return nil
}

// requests returns the target's request count, or 0 when it has none.
func requests(tg Target) int {
	if tg.Requests == nil {
		return 0
	}
	return tg.Requests()
}

func testEndIsSticky(t *testing.T, tg Target) {
	p := start(t, tg)
	pages := walk(t, p)
	end := len(pages)
	before := requests(tg)
	for _, n := range []int{end, end, end + 1, 0, end - 1, -1} {
		if res, err := p.Page(t.Context(), n); !errors.Is(err, search.ErrNoMore) {
			t.Errorf("Page(%d) after the end = %d results, %v; want ErrNoMore", n, len(res), err)
		}
	}
	// A cancelled context does not change the answer: the end is known.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := p.Page(ctx, end); !errors.Is(err, search.ErrNoMore) {
		t.Errorf("Page(%d) after the end with a cancelled context = %v; want ErrNoMore", end, err)
	}
	if after := requests(tg); after != before {
		t.Errorf("%d requests after the end of the search, want none", after-before)
	}
}

// wantPermanent checks that asking for page n now is refused as a caller's
// mistake, without a request.
func wantPermanent(t *testing.T, tg Target, p search.Pager, n int, when string) {
	t.Helper()
	before := requests(tg)
	res, err := p.Page(t.Context(), n)
	if err == nil || errors.Is(err, search.ErrNoMore) || errkind.KindOf(err) != errkind.KindPermanent {
		t.Errorf("Page(%d) %s = %d results, %v (kind %v); want a permanent error", n, when, len(res), err, errkind.KindOf(err))
	}
	if after := requests(tg); after != before {
		t.Errorf("Page(%d) %s made %d requests, want none", n, when, after-before)
	}
}

func testOutOfOrder(t *testing.T, tg Target) {
	want := reference(t, tg)
	p := start(t, tg)
	wantPermanent(t, tg, p, 1, "before page 0")
	wantPermanent(t, tg, p, -1, "before page 0")
	// A refused number leaves the pager where it was.
	got0, err := p.Page(t.Context(), 0)
	if err != nil {
		t.Fatalf("page 0 after refused numbers: %v", err)
	}
	wantPermanent(t, tg, p, 0, "again after it succeeded")
	wantPermanent(t, tg, p, 2, "right after page 0")
	got1, err := p.Page(t.Context(), 1)
	if err != nil {
		t.Fatalf("page 1 after refused numbers: %v", err)
	}
	if !reflect.DeepEqual([][]search.Result{got0, got1}, want[:2]) {
		t.Errorf("pages 0 and 1 after refused numbers differ from a plain walk:\n got %+v\nwant %+v", [][]search.Result{got0, got1}, want[:2])
	}
}

// testCancelled asks for every page first with a context already
// cancelled: each such call must fail with the context's error and lose
// nothing, so the walk still gives exactly the plain walk's pages.
func testCancelled(t *testing.T, tg Target) {
	want := reference(t, tg)
	p := start(t, tg)
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	var got [][]search.Result
	for n := 0; ; n++ {
		if n == maxPages {
			t.Fatalf("no ErrNoMore after %d pages", maxPages)
		}
		res, err := p.Page(cancelled, n)
		// A pager that already knows it is at the end may say so without
		// looking at the context.
		end := errors.Is(err, search.ErrNoMore)
		if !end && !errors.Is(err, context.Canceled) {
			t.Fatalf("Page(%d) with a cancelled context = %d results, %v; want context.Canceled", n, len(res), err)
		}
		res, err = p.Page(t.Context(), n)
		if end && !errors.Is(err, search.ErrNoMore) {
			t.Fatalf("Page(%d) = %d results, %v right after it said ErrNoMore", n, len(res), err)
		}
		if errors.Is(err, search.ErrNoMore) {
			break
		}
		if err != nil {
			t.Fatalf("page %d after a cancelled try: %v", n, err)
		}
		got = append(got, res)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("a walk with a cancelled try before each page differs from a plain walk:\n got %+v\nwant %+v", got, want)
	}
}

// testCancelWhileWaiting cancels a page while its request waits on the
// server: the engine must give up at once and can then be asked again.
func testCancelWhileWaiting(t *testing.T, tg Target) {
	want := reference(t, tg)
	p := start(t, tg)
	for n := range 2 {
		arrived := tg.HoldNext()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			_, err := p.Page(ctx, n)
			done <- err
		}()
		<-arrived
		cancel()
		// The bound only keeps a broken engine from hanging the suite.
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("page %d cancelled while waiting: %v, want context.Canceled", n, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("page %d: no answer 5 s after its context was cancelled", n)
		}
		res, err := p.Page(t.Context(), n)
		if err != nil {
			t.Fatalf("page %d after a cancelled try: %v", n, err)
		}
		if !reflect.DeepEqual(res, want[n]) {
			t.Errorf("page %d after a cancelled try:\n got %+v\nwant %+v", n, res, want[n])
		}
	}
}

// testRetry fails the first request of every page, the end included: the
// failure must be retryable, and asking again for the same page number
// must give what a plain walk gives.
func testRetry(t *testing.T, tg Target) {
	want := reference(t, tg)
	p := start(t, tg)
	var got [][]search.Result
	for n := 0; ; n++ {
		if n == maxPages {
			t.Fatalf("no ErrNoMore after %d pages", maxPages)
		}
		tg.FailNext()
		before := tg.Requests()
		res, err := p.Page(t.Context(), n)
		if errors.Is(err, search.ErrNoMore) && tg.Requests() == before {
			// The last page said there is nothing more; the end needed
			// no request.
			break
		}
		if err == nil || errors.Is(err, search.ErrNoMore) || !errkind.IsRetryable(err) {
			t.Fatalf("page %d from a busy server = %d results, %v (kind %v); want a retryable error", n, len(res), err, errkind.KindOf(err))
		}
		res, err = p.Page(t.Context(), n)
		if errors.Is(err, search.ErrNoMore) {
			break
		}
		if err != nil {
			t.Fatalf("page %d asked again after a failure: %v", n, err)
		}
		got = append(got, res)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("a walk with a failure before each page differs from a plain walk:\n got %+v\nwant %+v", got, want)
	}
}

// testConcurrent runs several searches on one engine at once; each must
// see the whole search. Run with -race it also finds state shared between
// searches.
func testConcurrent(t *testing.T, tg Target) {
	want := reference(t, tg)
	const searches = 4
	got := make([][][]search.Result, searches)
	errs := make([]error, searches)
	var wg sync.WaitGroup
	for i := range searches {
		p := start(t, tg)
		wg.Go(func() {
			for n := 0; n < maxPages; n++ {
				res, err := p.Page(t.Context(), n)
				if errors.Is(err, search.ErrNoMore) {
					return
				}
				if err != nil {
					errs[i] = fmt.Errorf("page %d: %w", n, err)
					return
				}
				got[i] = append(got[i], res)
			}
			errs[i] = fmt.Errorf("no ErrNoMore after %d pages", maxPages)
		})
	}
	wg.Wait()
	for i := range searches {
		if errs[i] != nil {
			t.Errorf("search %d of %d at once: %v", i+1, searches, errs[i])
			continue
		}
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("search %d of %d at once differs from a search alone:\n got %+v\nwant %+v", i+1, searches, got[i], want)
		}
	}
}
