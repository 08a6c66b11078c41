package gather

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/fetch"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/search"
	"github.com/scour-dev/scour/internal/store"
)

// closedPort returns a loopback address where nothing listens: a request
// there is refused at once, as on a machine with no network.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestUnreachable(t *testing.T) {
	_, refused := net.Dial("tcp", strings.TrimPrefix(closedPort(t), "http://"))
	if refused == nil {
		t.Fatal("dialing a closed port worked")
	}
	// Shaped as search's transport errors are: a url.Error inside a
	// retryable mark.
	wrap := func(err error) error {
		return errkind.Retryable(fmt.Errorf("bing: %w", &url.Error{Op: "Get", URL: "http://x", Err: err}), 0)
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"refused (a real dial)", wrap(refused), true},
		{"no such host", wrap(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}}), true},
		{"DNS server unreachable", wrap(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "connect: network is unreachable", Name: "x", IsTemporary: true}}), true},
		{"no route", wrap(&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}), true},
		{"host unreachable", wrap(&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}), true},
		{"a timeout is not proof of no network", wrap(&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}), false},
		{"a 503 is a server that answers", errkind.Retryable(errors.New("bing: HTTP 503"), 0), false},
		{"reset by peer", wrap(&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), false},
	} {
		if got := unreachable(tc.err); got != tc.want {
			t.Errorf("%s: unreachable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// networkEngines are the three search engines, all pointed at base.
func networkEngines(t *testing.T, base string, client *http.Client) []Source {
	t.Helper()
	var out []Source
	for _, name := range []string{"bing", "duckduckgo", "commons"} {
		eng, err := search.New(name, search.Options{BaseURL: base, Client: client})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Source{Engine: eng})
	}
	return out
}

// With no network, gather says so at once: no engine retries its queries
// with backoff (which took minutes), the error is fatal and tells what
// still works. The clock is synctest's, so the backoff waits the old code
// made would count in full.
func TestGatherOfflineStopsAtOnce(t *testing.T) {
	base := closedPort(t)
	dir := t.TempDir()
	list := filepath.Join(dir, "urls.txt")
	os.WriteFile(list, []byte("http://example.test/a.jpg\n"), 0o644)
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		cat, err := catalog.Open(ctx, filepath.Join(dir, "scour.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer cat.Close()
		st, _ := store.NewLocal(dir)
		client := &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
		defer client.CloseIdleConnections()
		urls, err := search.New("urls", search.Options{Path: list})
		if err != nil {
			t.Fatal(err)
		}
		srcs := append(networkEngines(t, base, client), Source{Engine: urls, Classes: []string{"zumwalt"}, Rescan: true, ClassFromResult: true})
		g := &Gatherer{Cat: cat, Store: st, Fetcher: fetch.New(fetch.Options{})}
		start := time.Now()
		_, err = g.Run(ctx, Options{
			Classes: []Class{
				{Name: "zumwalt", Queries: []string{"Zumwalt-class destroyer", "USS Zumwalt", "DDG-1000"}, Target: 100},
				{Name: "type052", Queries: []string{"Type 052 destroyer", "Luyang"}, Target: 100},
			},
			Sources: srcs,
		})
		took := time.Since(start)
		if !errkind.IsFatal(err) {
			t.Fatalf("error %v, want a fatal one", err)
		}
		for _, want := range []string{"network unreachable", "bing", "duckduckgo", "commons", "folder and urls sources still work"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message %q does not say %q", err, want)
			}
		}
		if took >= 10*time.Second {
			t.Errorf("gather took %v to see there is no network, want under 10 s", took)
		}
		// The local list, searched beside them, is recorded: nothing is lost.
		if n, _, _ := cat.CountClassURLs(ctx, "zumwalt"); n != 1 {
			t.Errorf("%d URLs of the local list recorded, want 1", n)
		}
	})
}

// recorded serves the recorded Bing and Commons answers. Each engine's
// first request waits until the other's has arrived too (or 5 s pass):
// engines searched one after another would never meet.
func recorded(t *testing.T) (srv *httptest.Server, met func() bool) {
	t.Helper()
	bing, err := os.ReadFile("../search/recorded/bing.html")
	if err != nil {
		t.Fatal(err)
	}
	commons, err := os.ReadFile("../search/recorded/commons.json")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	first := map[string]bool{}
	both := make(chan struct{})
	together := false
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		engine := "bing"
		if strings.Contains(r.URL.Path, "api.php") {
			engine = "commons"
		}
		mu.Lock()
		wait := !first[engine]
		first[engine] = true
		if len(first) == 2 && !together {
			together = true
			close(both)
		}
		mu.Unlock()
		if wait {
			select {
			case <-both:
			case <-time.After(5 * time.Second):
			}
		}
		if engine == "commons" {
			w.Header().Set("Content-Type", "application/json")
			w.Write(commons)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write(bing)
	}))
	t.Cleanup(srv.Close)
	return srv, func() bool { mu.Lock(); defer mu.Unlock(); return together }
}

// Engines search at the same time, and one engine without a network does
// not stop the others: it is skipped with a note.
func TestGatherEnginesConcurrentOneDown(t *testing.T) {
	ctx := context.Background()
	srv, met := recorded(t)
	dir := t.TempDir()
	r := newRig(t, dir)
	var srcs []Source
	for _, name := range []string{"bing", "commons"} {
		eng, err := search.New(name, search.Options{BaseURL: srv.URL, Client: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, Source{Engine: eng, MaxPages: 1})
	}
	down, err := search.New("duckduckgo", search.Options{BaseURL: closedPort(t)})
	if err != nil {
		t.Fatal(err)
	}
	srcs = append(srcs, Source{Engine: down, MaxPages: 1})
	// The recorded results point at the real web: stop before downloading,
	// the searches are what this test is about.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopAtFetch := progress.Func(func(e progress.Event) {
		if e.Kind == progress.Begin && e.Stage == "fetch" {
			cancel()
		}
	})
	g := &Gatherer{Cat: r.cat, Store: r.st, Fetcher: fetch.New(fetch.Options{}), Events: stopAtFetch}
	sum, err := g.Run(ctx, Options{
		Classes: []Class{{Name: "temple", Queries: []string{"golden pavilion"}}},
		Sources: srcs,
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("run: %v", err)
	}
	if !met() {
		t.Error("bing and commons were searched one after the other, not at the same time")
	}
	var noted bool
	for _, n := range sum.Notes {
		noted = noted || (strings.Contains(n, "duckduckgo") && strings.Contains(n, "unreachable"))
	}
	if !noted {
		t.Errorf("no note says duckduckgo was unreachable: %q", sum.Notes)
	}
	byEngine := map[string]catalog.EngineStats{}
	for _, e := range sum.Engines {
		byEngine[e.Engine] = e
	}
	if byEngine["bing"].Found == 0 || byEngine["commons"].Found == 0 {
		t.Errorf("engine stats %+v, want candidates from bing and commons", sum.Engines)
	}
	if len(sum.Queries) != 2 {
		t.Errorf("query stats %+v, want one row per engine's search", sum.Queries)
	}
}
