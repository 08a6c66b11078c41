package fetch

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/scour-dev/scour/internal/errkind"
)

// TestBreakerClosedPort fetches from a real closed loopback port: after
// HostFailures refused connections the host is paused, one probe fails
// too, and from then on its URLs fail at once with host-down, with no
// more connection attempts. robots.txt is on: its request is the host's
// first connection, and counts like any other.
func TestBreakerClosedPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // now nothing listens there: connections are refused
	var dials atomic.Int64
	d := &net.Dialer{Timeout: time.Second}
	o := fastOpts()
	o.Retries = 0
	o.HostFailures = 3
	o.HostCooldown = time.Millisecond // the pause itself is timed in TestBreakerComesBack
	o.Transport = &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, network, a)
	}}
	f := New(o)
	var causes []string
	for i := 0; i < 10; i++ {
		_, err := f.Get(context.Background(), "http://"+addr+"/img.jpg?i="+string(rune('a'+i)))
		if err == nil {
			t.Fatal("a closed port served an image")
		}
		if !errkind.IsRetryable(err) {
			t.Errorf("URL %d: a host that is down now may be up for the next run, want retryable: %v", i, err)
		}
		causes = append(causes, errkind.Cause(err))
	}
	want := []string{"connection-refused", "connection-refused", "connection-refused", "connection-refused",
		"host-down", "host-down", "host-down", "host-down", "host-down", "host-down"}
	for i := range want {
		if causes[i] != want[i] {
			t.Fatalf("causes %q, want %q", causes, want)
		}
	}
	if n := dials.Load(); n != 4 {
		t.Errorf("%d connection attempts, want 4 (3 failures, then one probe after the pause)", n)
	}
}

// flakyPipe serves h over in-memory connections, or refuses them as a
// closed port does while down is set; it counts connection attempts.
type flakyPipe struct {
	down  atomic.Bool
	dials atomic.Int64
	tr    http.RoundTripper
}

func newFlakyPipe(t *testing.T, h http.Handler) *flakyPipe {
	p := &flakyPipe{}
	inner := pipeServer(t, h).(*http.Transport)
	dial := inner.DialContext
	inner.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		p.dials.Add(1)
		if p.down.Load() {
			return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
		}
		return dial(ctx, network, addr)
	}
	inner.DisableKeepAlives = true // each request dials, so each one is counted
	p.tr = inner
	return p
}

// TestBreakerComesBack: a host that refuses connections is paused for the
// cool-down, and used again when it answers the probe after it. Runs in a
// synctest bubble, so the 30 s pause takes no real time.
func TestBreakerComesBack(t *testing.T) {
	jpg := realJPEG(t)
	synctest.Test(t, func(t *testing.T) {
		p := newFlakyPipe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(jpg) }))
		o := fastOpts()
		o.Retries = 0
		o.IgnoreRobots = true
		o.HostFailures = 3
		o.HostCooldown = 30 * time.Second
		o.Transport = p.tr
		f := New(o)
		ctx := context.Background()
		p.down.Store(true)
		for i := 0; i < 3; i++ {
			if _, err := f.Get(ctx, "http://images.test/a.jpg"); errkind.Cause(err) != "connection-refused" {
				t.Fatalf("attempt %d: %v, want connection-refused", i, err)
			}
		}
		p.down.Store(false) // the host comes back during the pause
		t0 := time.Now()
		if _, err := f.Get(ctx, "http://images.test/a.jpg"); err != nil {
			t.Fatalf("after the pause: %v", err)
		}
		if el := time.Since(t0); el < 30*time.Second {
			t.Errorf("the request after 3 failures went out after %v; the host should have been paused for 30s", el)
		}
		t0 = time.Now()
		for i := 0; i < 5; i++ {
			if _, err := f.Get(ctx, "http://images.test/a.jpg"); err != nil {
				t.Fatalf("back to normal: %v", err)
			}
		}
		if el := time.Since(t0); el > 0 {
			t.Errorf("a host that answered again is still paused (%v)", el)
		}
		if n := p.dials.Load(); n != 3+1+5 {
			t.Errorf("%d connection attempts, want 9", n)
		}
	})
}

// TestBreakerProbeFails: URLs waiting while the host is paused all fail
// with host-down once the probe fails, without connecting.
func TestBreakerProbeFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newFlakyPipe(t, http.NotFoundHandler())
		p.down.Store(true)
		o := fastOpts()
		o.Retries = 0
		o.IgnoreRobots = true
		o.HostFailures = 2
		o.PerHost = 8
		o.Transport = p.tr
		f := New(o)
		ctx := context.Background()
		for i := 0; i < 2; i++ {
			f.Get(ctx, "http://images.test/a.jpg")
		}
		var wg sync.WaitGroup
		causes := make([]string, 6)
		for i := range causes {
			wg.Go(func() {
				_, err := f.Get(ctx, "http://images.test/b.jpg")
				causes[i] = errkind.Cause(err)
			})
		}
		wg.Wait()
		down := 0
		for _, c := range causes {
			if c == "host-down" {
				down++
			}
		}
		if down != 5 {
			t.Errorf("causes %q: want one probe refused and 5 host-down", causes)
		}
		if n := p.dials.Load(); n != 3 {
			t.Errorf("%d connection attempts, want 3 (2 failures and the probe)", n)
		}
		// Another host is not affected.
		p.down.Store(false)
		if _, err := f.Get(ctx, "http://other.test/a.jpg"); errkind.Cause(err) != "http-404" {
			t.Errorf("another host: %v, want its own answer (http-404)", err)
		}
	})
}

// TestBreakerIgnoresHTTPErrors: a host that answers, even with errors, is up.
func TestBreakerIgnoresHTTPErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newFlakyPipe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
		}))
		o := fastOpts()
		o.Retries = 0
		o.IgnoreRobots = true
		o.HostFailures = 2
		o.Transport = p.tr
		f := New(o)
		for i := 0; i < 10; i++ {
			if _, err := f.Get(context.Background(), "http://images.test/a.jpg"); errkind.Cause(err) != "http-500" {
				t.Fatalf("request %d: %v, want http-500", i, err)
			}
		}
		// Failures must be in a row: an answer in between starts over, and
		// the host is never paused.
		t0 := time.Now()
		for i := 0; i < 5; i++ {
			p.down.Store(true)
			if _, err := f.Get(context.Background(), "http://images.test/a.jpg"); errkind.Cause(err) != "connection-refused" {
				t.Fatalf("refused %d: %v", i, err)
			}
			p.down.Store(false)
			if _, err := f.Get(context.Background(), "http://images.test/a.jpg"); errkind.Cause(err) != "http-500" {
				t.Fatalf("answer %d: %v", i, err)
			}
		}
		if el := time.Since(t0); el > 0 {
			t.Errorf("alternating failures and answers paused the host for %v", el)
		}
	})
}
