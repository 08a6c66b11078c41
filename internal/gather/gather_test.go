package gather

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/fetch"
	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/permtest"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/search"
	"github.com/scour-dev/scour/internal/sharedtest"
	"github.com/scour-dev/scour/internal/store"
)

// photos returns n real, distinct photos from the shared boats set.
func photos(t *testing.T, n int) [][]byte {
	t.Helper()
	dir := sharedtest.Path(t, "images", "boats", "train", "Destroyers")
	ents, _ := os.ReadDir(dir)
	var out [][]byte
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := imaging.Inspect(b, imaging.Limits{}); err == nil {
			out = append(out, b)
		}
		if len(out) == n {
			break
		}
	}
	if len(out) < n {
		t.Skipf("only %d photos", len(out))
	}
	return out
}

// world is a loopback web of image URLs with every kind of failure.
type world struct {
	srv  *httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	gate *gate
}

// gate holds request number n and every later one until released, so a
// test can interrupt a run at a known point with downloads in flight.
type gate struct {
	n       int64
	reached chan struct{}
	release chan struct{}
	once    sync.Once
}

// holdFrom sets a gate at request number n (counted since the world began):
// reached is closed when that request arrives; release lets it and the
// requests held after it go on, and removes the gate.
func (w *world) holdFrom(t *testing.T, n int64) (reached <-chan struct{}, release func()) {
	g := &gate{n: n, reached: make(chan struct{}), release: make(chan struct{})}
	w.mu.Lock()
	w.gate = g
	w.mu.Unlock()
	release = func() {
		g.once.Do(func() {
			w.mu.Lock()
			if w.gate == g {
				w.gate = nil
			}
			w.mu.Unlock()
			close(g.release)
		})
	}
	t.Cleanup(release)
	return g.reached, release
}

func newWorld(t *testing.T, imgs [][]byte) *world {
	w := &world{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		n := w.hits.Add(1)
		w.mu.Lock()
		g := w.gate
		w.mu.Unlock()
		if g != nil && n >= g.n {
			if n == g.n {
				close(g.reached)
			}
			select {
			case <-g.release:
			case <-r.Context().Done():
				return
			}
		}
		var i int
		switch {
		case strings.HasPrefix(r.URL.Path, "/img/"):
			fmt.Sscanf(r.URL.Path, "/img/%d", &i)
			rw.Write(imgs[i%len(imgs)])
		case strings.HasPrefix(r.URL.Path, "/html/"):
			rw.Header().Set("Content-Type", "image/jpeg")
			rw.Write([]byte("<html><body>hotlinking not allowed</body></html>"))
		case strings.HasPrefix(r.URL.Path, "/gone/"):
			http.NotFound(rw, r)
		case strings.HasPrefix(r.URL.Path, "/cut/"):
			fmt.Sscanf(r.URL.Path, "/cut/%d", &i)
			b := imgs[i%len(imgs)]
			rw.Write(b[:len(b)/3])
		default:
			http.NotFound(rw, r)
		}
	}))
	t.Cleanup(w.srv.Close)
	return w
}

// list writes a URL list: distinct images, repeats of the same bytes under
// other URLs, failures of each kind, and garbage lines.
// want maps each URL to its expected final state; URLs serving the same bytes
// share a group ("img/3"), of which exactly one ends done and the others
// duplicate, whichever is fetched first.
type want struct {
	failed map[string]bool
	group  map[string]string
}

func (w *world) list(t *testing.T, distinct, repeats int) (string, want) {
	wt := want{failed: map[string]bool{}, group: map[string]string{}}
	var lines []string
	for i := 0; i < distinct; i++ {
		u := fmt.Sprintf("%s/img/%d", w.srv.URL, i)
		lines = append(lines, u)
		wt.group[u] = fmt.Sprint(i)
	}
	for i := 0; i < repeats; i++ {
		u := fmt.Sprintf("%s/img/%d?copy=%d", w.srv.URL, i%distinct, i)
		lines = append(lines, u)
		wt.group[u] = fmt.Sprint(i % distinct)
	}
	for i := 0; i < 5; i++ {
		for _, kind := range []string{"html", "gone", "cut"} {
			u := fmt.Sprintf("%s/%s/%d", w.srv.URL, kind, i)
			lines = append(lines, u)
			wt.failed[u] = true
		}
	}
	lines = append(lines, "not a url at all", "ftp://example.test/x.jpg", "# a comment", "")
	p := filepath.Join(t.TempDir(), "urls.txt")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, wt
}

type rig struct {
	dir string
	cat *catalog.Catalog
	st  store.Store
}

func newRig(t *testing.T, dir string) *rig {
	cat, err := catalog.Open(context.Background(), filepath.Join(dir, "scour.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	st, err := store.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{dir: dir, cat: cat, st: st}
}

func (r *rig) run(t *testing.T, ctx context.Context, list string, events progress.Sink) (Summary, error) {
	var skipped []search.Skipped
	eng, err := search.New("urls", search.Options{Path: list, OnSkip: func(s search.Skipped) { skipped = append(skipped, s) }})
	if err != nil {
		t.Fatal(err)
	}
	g := &Gatherer{Cat: r.cat, Store: r.st, Events: events,
		Fetcher: fetch.New(fetch.Options{Retries: 1, BackoffBase: 5 * time.Millisecond, Timeout: 5 * time.Second, PerHost: 8})}
	return g.Run(ctx, Options{
		Classes: []Class{{Name: "ships"}},
		Sources: []Source{{Engine: eng, Classes: []string{"ships"}, Rescan: true, ClassFromResult: true, SkipCause: search.CauseBadURL,
			Skipped: func() []search.Skipped { s := skipped; skipped = nil; return s }}},
		Workers: 8, BatchSize: 7, RetryFailed: true,
	})
}

// check verifies the invariants: every URL accounted for exactly once with
// the expected state, one file per kept image and no other file.
func (r *rig) check(t *testing.T, want want) {
	t.Helper()
	ctx := context.Background()
	got := map[string]string{}
	bad := 0
	err := r.cat.ForEachExportRow(ctx, func(row catalog.ExportRow) error {
		if strings.HasPrefix(row.URL, "line ") {
			bad++
			return nil
		}
		if _, dup := got[row.URL]; dup {
			t.Errorf("URL %s recorded twice", row.URL)
		}
		st := row.Status
		if st == catalog.StatusKept {
			st = catalog.StateDone
		}
		got[row.URL] = st
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if bad != 2 {
		t.Errorf("%d garbage lines recorded, want 2", bad)
	}
	doneIn := map[string]int{}
	for u := range want.failed {
		if got[u] != catalog.StateFailed {
			t.Errorf("%s: state %q, want failed", u, got[u])
		}
	}
	for u, g := range want.group {
		switch got[u] {
		case catalog.StateDone:
			doneIn[g]++
		case catalog.StateDuplicate:
		default:
			t.Errorf("%s: state %q, want done or duplicate", u, got[u])
		}
	}
	for _, g := range want.group {
		if doneIn[g] != 1 {
			t.Errorf("image %s kept %d times, want once", g, doneIn[g])
		}
	}
	if len(got) != len(want.failed)+len(want.group) {
		t.Errorf("%d URLs recorded, want %d", len(got), len(want.failed)+len(want.group))
	}
	keys := map[string]bool{}
	r.cat.ForEachImage(ctx, catalog.ImageFilter{}, func(im catalog.Image) error { keys[im.Key] = true; return nil })
	var files []string
	r.st.List(ctx, "images/", func(i store.Info) error { files = append(files, i.Key); return nil })
	sort.Strings(files)
	for _, f := range files {
		if !keys[f] {
			t.Errorf("file %s is not in the catalog", f)
		}
	}
	if len(files) != len(keys) {
		t.Errorf("%d files for %d catalogued images", len(files), len(keys))
	}
}

func TestGatherOutcomes(t *testing.T) {
	imgs := photos(t, 20)
	w := newWorld(t, imgs)
	list, want := w.list(t, 20, 10)
	r := newRig(t, t.TempDir())
	sum, err := r.run(t, context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Kept != 20 || sum.Duplicates != 10 || sum.Failed != 17 {
		t.Fatalf("summary %+v", sum)
	}
	for cause, n := range map[string]int{"html": 5, "http-404": 5, "truncated": 5, "bad-url": 2} {
		if sum.ByCause[cause] != n {
			t.Errorf("cause %s: %d, want %d (all: %v)", cause, sum.ByCause[cause], n, sum.ByCause)
		}
	}
	r.check(t, want)

	// A second run finds nothing to do and asks the server nothing new
	// (permanent failures are not retried).
	before := w.hits.Load()
	sum, err = r.run(t, context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Fetched != 0 || w.hits.Load() != before {
		t.Fatalf("re-run fetched %d URLs (%d requests)", sum.Fetched, w.hits.Load()-before)
	}
	r.check(t, want)
}

// TestGatherInterruptedAndResumed stops the run at several points, as a
// Ctrl-C would, and resumes it: nothing is lost or duplicated.
func TestGatherInterruptedAndResumed(t *testing.T) {
	imgs := photos(t, 30)
	w := newWorld(t, imgs)
	list, want := w.list(t, 30, 15)
	r := newRig(t, t.TempDir())
	for _, after := range []int64{3, 11, 25} {
		ctx, cancel := context.WithCancel(context.Background())
		events := progress.Func(func(e progress.Event) {})
		// The run is cancelled when its after-th request arrives; that
		// request and all later ones are held until the run has returned.
		reached, release := w.holdFrom(t, w.hits.Load()+after)
		go func() {
			select {
			case <-reached:
				cancel()
			case <-ctx.Done():
			}
		}()
		_, err := r.run(t, ctx, list, events)
		cancel()
		release()
		// The gate makes the interruption certain: a run that ends well
		// here ignored its cancellation.
		if err == nil || !strings.Contains(err.Error(), "canceled") {
			t.Fatalf("interrupted run: %v", err)
		}
	}
	if _, err := r.run(t, context.Background(), list, nil); err != nil {
		t.Fatal(err)
	}
	r.check(t, want)
}

// TestGatherKilled kills a real process mid-run (SIGKILL: no clean-up at
// all), then resumes in this process.
func TestGatherKilled(t *testing.T) {
	if os.Getenv("SCOUR_GATHER_CHILD") != "" {
		dir, list := os.Getenv("SCOUR_GATHER_DIR"), os.Getenv("SCOUR_GATHER_LIST")
		r := newRig(t, dir)
		r.run(t, context.Background(), list, nil)
		return
	}
	imgs := photos(t, 40)
	w := newWorld(t, imgs)
	list, want := w.list(t, 40, 20)
	dir := t.TempDir()
	// The child is killed when its 25th request arrives, with that one and
	// any later ones held: 24 served, the rest in flight or not begun.
	reached, release := w.holdFrom(t, 25)
	cmd := exec.Command(os.Args[0], "-test.run=^TestGatherKilled$")
	cmd.Env = append(os.Environ(), "SCOUR_GATHER_CHILD=1", "SCOUR_GATHER_DIR="+dir, "SCOUR_GATHER_LIST="+list)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-reached:
	case err := <-exited:
		t.Fatalf("the child run ended (%v) before its 25th request", err)
	}
	cmd.Process.Kill()
	<-exited
	release()
	r := newRig(t, dir)
	if _, err := r.run(t, context.Background(), list, nil); err != nil {
		t.Fatal(err)
	}
	r.check(t, want)
}

// TestGatherTargets stops a class at its target and leaves the rest pending.
func TestGatherTargets(t *testing.T) {
	imgs := photos(t, 20)
	w := newWorld(t, imgs)
	list, _ := w.list(t, 20, 0)
	r := newRig(t, t.TempDir())
	eng, _ := search.New("urls", search.Options{Path: list})
	g := &Gatherer{Cat: r.cat, Store: r.st, Fetcher: fetch.New(fetch.Options{Retries: 0})}
	sum, err := g.Run(context.Background(), Options{
		Classes: []Class{{Name: "ships", Target: 7}},
		Sources: []Source{{Engine: eng, Classes: []string{"ships"}, Rescan: true, ClassFromResult: true}},
		Workers: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.PerClass["ships"].Kept != 7 {
		t.Fatalf("kept %d, want the target 7 (%+v)", sum.PerClass["ships"].Kept, sum)
	}
	by, _, _ := r.cat.CountURLs(context.Background())
	if by[catalog.StatePending] == 0 {
		t.Fatal("no URL left pending after reaching the target")
	}
}

// TestGatherDiskFull runs out of space in the image store: the run stops
// with a fatal error that says so, the catalog stays consistent, and after
// space is freed a re-run completes with nothing lost.
func TestGatherDiskFull(t *testing.T) {
	permtest.Tmpfs(t, "size=256k", func(t *testing.T, full string) {
		imgs := photos(t, 40)
		w := newWorld(t, imgs)
		list, want := w.list(t, 40, 0)
		catDir := t.TempDir()
		cat, err := catalog.Open(context.Background(), filepath.Join(catDir, "scour.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer cat.Close()
		st, _ := store.NewLocal(full)
		r := &rig{dir: catDir, cat: cat, st: st}
		_, err = r.run(t, context.Background(), list, nil)
		if err == nil || !errkind.IsFatal(err) || !strings.Contains(err.Error(), "space") && !strings.Contains(err.Error(), "full") {
			t.Fatalf("want a fatal disk-full error, got %v", err)
		}
		// Free space: move the store to a roomy directory, keeping its files.
		roomy := t.TempDir()
		exec.Command("cp", "-a", full+"/.", roomy).Run()
		r.st, _ = store.NewLocal(roomy)
		if _, err := r.run(t, context.Background(), list, nil); err != nil {
			t.Fatal(err)
		}
		r.check(t, want)
	})
}

// TestGatherReadOnlyProject refuses at once with a fatal error.
func TestGatherReadOnlyProject(t *testing.T) {
	permtest.Tmpfs(t, "ro,size=1m", func(t *testing.T, ro string) {
		imgs := photos(t, 5)
		w := newWorld(t, imgs)
		list, _ := w.list(t, 5, 0)
		cat, err := catalog.Open(context.Background(), filepath.Join(t.TempDir(), "scour.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer cat.Close()
		st, err := store.NewLocal(ro)
		if err != nil {
			if !errkind.IsFatal(err) {
				t.Fatalf("read-only store: want fatal, got %v", err)
			}
			return
		}
		r := &rig{cat: cat, st: st}
		_, err = r.run(t, context.Background(), list, nil)
		if err == nil || !errkind.IsFatal(err) {
			t.Fatalf("want a fatal read-only error, got %v", err)
		}
		by, _, _ := cat.CountURLs(context.Background())
		if by[catalog.StateDone] != 0 || by[catalog.StatePending] < 5 {
			t.Fatalf("states after a read-only failure: %v (the 5 images must stay pending)", by)
		}
	})
}

// TestGatherCatalogRefusesWrites: when the catalog cannot record outcomes
// (its disk fails mid-run), gather stops with the error instead of hanging
// with its workers blocked, and a later run records everything.
func TestGatherCatalogRefusesWrites(t *testing.T) {
	imgs := photos(t, 30)
	w := newWorld(t, imgs)
	list, want := w.list(t, 30, 10)
	r := newRig(t, t.TempDir())
	ctx := context.Background()
	if _, err := r.cat.DB().ExecContext(ctx, `CREATE TRIGGER refuse BEFORE INSERT ON images
		BEGIN SELECT RAISE(ABORT, 'simulated: disk I/O error'); END`); err != nil {
		t.Fatal(err)
	}
	type result struct {
		err error
	}
	ch := make(chan result, 1)
	go func() {
		_, err := r.run(t, ctx, list, nil)
		ch <- result{err}
	}()
	select {
	case res := <-ch:
		if res.err == nil || !strings.Contains(res.err.Error(), "simulated: disk I/O error") {
			t.Fatalf("run with a catalog that refuses writes: %v", res.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("gather hung when the catalog refused a write")
	}
	by, _, _ := r.cat.CountURLs(ctx)
	if by[catalog.StateDone] != 0 {
		t.Fatalf("states after the refused writes: %v", by)
	}

	if _, err := r.cat.DB().ExecContext(ctx, `DROP TRIGGER refuse`); err != nil {
		t.Fatal(err)
	}
	if _, err := r.run(t, ctx, list, nil); err != nil {
		t.Fatal(err)
	}
	r.check(t, want)
}

// TestQuota: a class at its target with downloads still open is not full:
// a worker waits for them, and takes the place of one that fails. It runs
// in a synctest bubble, so "still waiting" is a fact that synctest.Wait
// establishes, not a guess after a pause.
func TestQuota(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		q := newQuota(ctx)
		q.set("ships", 2, 1) // one image already kept
		q.set("boats", 0, 5) // no limit
		if !q.reserve("ships") {
			t.Fatal("first place refused")
		}
		got := make(chan bool)
		go func() { got <- q.reserve("ships") }()
		// Once every goroutine of the bubble is blocked, the waiter is either
		// waiting in reserve or done and waiting to send.
		synctest.Wait()
		select {
		case r := <-got:
			t.Fatalf("reserve returned %v while the class's last place was held", r)
		default:
		}
		if q.full("ships") {
			t.Fatal("full while a download is open")
		}
		q.settle("ships", false) // that download failed: its place is free
		if r := <-got; !r {
			t.Fatal("the freed place was not taken")
		}
		q.settle("ships", true)
		if !q.full("ships") || q.reserve("ships") {
			t.Fatal("a class at its target took another download")
		}
		for range 100 {
			if !q.reserve("boats") {
				t.Fatal("a class without a target refused a download")
			}
		}
		if q.reserve("planes") || !q.full("planes") {
			t.Fatal("an unknown class took a download")
		}

		// A waiter wakes, empty-handed, when the run is cancelled.
		q.set("tugs", 1, 0)
		q.reserve("tugs")
		go func() { got <- q.reserve("tugs") }()
		synctest.Wait()
		cancel()
		select {
		case r := <-got:
			if r {
				t.Fatal("reserve succeeded after cancel")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a waiting reserve did not wake on cancel")
		}
	})
}
