package fetch

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/sharedtest"
)

func realJPEG(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(sharedtest.Path(t, "images", "boats", "train", "Destroyers", "0.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pngHeader is a PNG signature and IHDR chunk claiming w x h, with no pixel data.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.Write([]byte("\x89PNG\r\n\x1a\n"))
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func fastOpts() Options {
	return Options{Retries: 2, BackoffBase: 10 * time.Millisecond, BackoffMax: 3 * time.Second,
		Timeout: 3 * time.Second, ReadTimeout: 300 * time.Millisecond, MaxBytes: 1 << 20,
		Limits: imaging.Limits{MinWidth: 16, MinHeight: 16}}
}

func TestGetBadInput(t *testing.T) {
	jpg := realJPEG(t)
	var hits atomic.Int64
	mux := http.NewServeMux()
	serve := func(path string, h http.HandlerFunc) { mux.HandleFunc(path, h) }
	serve("/ok.jpg", func(w http.ResponseWriter, r *http.Request) { w.Write(jpg) })
	serve("/html-as-jpeg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write([]byte("<!DOCTYPE html><html><body>Access denied</body></html>"))
	})
	serve("/truncated.jpg", func(w http.ResponseWriter, r *http.Request) { w.Write(jpg[:len(jpg)/2]) })
	serve("/empty.jpg", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Content-Type", "image/jpeg") })
	serve("/huge", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "52428800")
		w.Write(make([]byte, 64<<10))
	})
	serve("/huge-chunked", func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for i := 0; i < 800; i++ { // 50 MB, no Content-Length
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	serve("/bomb.png", func(w http.ResponseWriter, r *http.Request) { w.Write(pngHeader(30000, 30000)) })
	serve("/slowloris", func(w http.ResponseWriter, r *http.Request) {
		w.Write(jpg[:100])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	serve("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop2", http.StatusFound) })
	serve("/loop2", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	serve("/chain/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path+"x", http.StatusFound)
	})
	serve("/404", func(w http.ResponseWriter, r *http.Request) { hits.Add(1); http.NotFound(w, r) })
	serve("/tiny.png", func(w http.ResponseWriter, r *http.Request) {
		png.Encode(w, image.NewRGBA(image.Rect(0, 0, 1, 1)))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	cases := []struct {
		path      string
		cause     string
		retryable bool
	}{
		{"/html-as-jpeg", "html", false},
		{"/truncated.jpg", "truncated", false},
		{"/empty.jpg", "empty", false},
		{"/huge", "too-large", false},
		{"/huge-chunked", "too-large", false},
		{"/bomb.png", "too-many-pixels", false},
		{"/slowloris", "stalled", true},
		{"/loop", "redirect-loop", false},
		{"/chain/", "too-many-redirects", false},
		{"/404", "http-404", false},
		{"/tiny.png", "too-small", false},
	}
	f := New(fastOpts())
	for _, c := range cases {
		t.Run(strings.Trim(c.path, "/"), func(t *testing.T) {
			_, err := f.Get(context.Background(), srv.URL+c.path)
			if err == nil {
				t.Fatalf("want error with cause %s, got success", c.cause)
			}
			if got := errkind.Cause(err); got != c.cause {
				t.Fatalf("cause = %q, want %q (err: %v)", got, c.cause, err)
			}
			if got := errkind.IsRetryable(err); got != c.retryable {
				t.Fatalf("retryable = %v, want %v (err: %v)", got, c.retryable, err)
			}
		})
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("a 404 was requested %d times; permanent errors must not be retried", n)
	}
	res, err := f.Get(context.Background(), srv.URL+"/ok.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if res.Meta.Format != "jpeg" || res.Meta.Width != 275 || len(res.SHA256) != 64 || res.HTTPStatus != 200 {
		t.Fatalf("unexpected result %+v", res.Meta)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	jpg := realJPEG(t)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			http.NotFound(w, r)
			return
		}
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Write(jpg)
	}))
	defer srv.Close()
	f := New(fastOpts())
	t0 := time.Now()
	res, err := f.Get(context.Background(), srv.URL+"/a.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el < 900*time.Millisecond {
		t.Fatalf("retried after %v; the server asked for 1s", el)
	}
	if res.Attempts != 2 {
		t.Fatalf("attempts = %d, want 2", res.Attempts)
	}
	// A Retry-After longer than the backoff cap gives up at once, retryably.
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv2.Close()
	t0 = time.Now()
	_, err = f.Get(context.Background(), srv2.URL+"/b.jpg")
	if !errkind.IsRetryable(err) || errkind.Cause(err) != "http-503" {
		t.Fatalf("want retryable http-503, got %v", err)
	}
	if time.Since(t0) > 2*time.Second {
		t.Fatal("waited on an hour-long Retry-After")
	}
}

func TestConnectionResetIsRetriedThenReported(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			buf := make([]byte, 1024)
			c.Read(buf)
			c.(*net.TCPConn).SetLinger(0) // RST instead of FIN
			c.Close()
		}
	}()
	f := New(fastOpts())
	_, err = f.Get(context.Background(), "http://"+ln.Addr().String()+"/x.jpg")
	if err == nil || !errkind.IsRetryable(err) {
		t.Fatalf("want a retryable error, got %v", err)
	}
	if c := errkind.Cause(err); c != "connection-reset" {
		t.Fatalf("cause = %q, want connection-reset (%v)", c, err)
	}
	if a := accepted.Load(); a < 3 {
		t.Fatalf("server saw %d connections, want 3 (1 + 2 retries)", a)
	}
}

// TestPerHostConcurrencyAndRate runs in a synctest bubble, on an in-memory
// network, so the server's 120 ms per request and the rate limit's waits
// pass on the bubble's clock: the timing is exact and takes no real time.
func TestPerHostConcurrencyAndRate(t *testing.T) {
	jpg := realJPEG(t)
	synctest.Test(t, func(t *testing.T) {
		var cur, peak atomic.Int64
		o := fastOpts()
		o.PerHost = 2
		o.Rate = 20
		// Each request outlasts two rate intervals, so without the
		// per-host limit a third would start while two are open.
		o.Transport = pipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := cur.Add(1)
			for {
				p := peak.Load()
				if c <= p || peak.CompareAndSwap(p, c) {
					break
				}
			}
			time.Sleep(120 * time.Millisecond)
			cur.Add(-1)
			w.Write(jpg)
		}))
		f := New(o)
		t0 := time.Now()
		done := make(chan error)
		for i := 0; i < 10; i++ {
			go func() {
				_, err := f.Get(context.Background(), "http://images.test/a.jpg")
				done <- err
			}()
		}
		for i := 0; i < 10; i++ {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		if p := peak.Load(); p > 2 {
			t.Fatalf("%d concurrent requests to one host, limit 2", p)
		}
		if p := peak.Load(); p < 2 {
			t.Fatalf("at most %d request at once: the test did not reach the limit it checks", p)
		}
		// 10 requests at 20/s need at least 9 intervals of 50 ms.
		if el := time.Since(t0); el < 430*time.Millisecond {
			t.Fatalf("10 requests took %v; rate limit 20/s not applied", el)
		}
	})
}

// pipeServer serves h over in-memory connections (net.Pipe) and returns a
// transport that dials it whatever the URL's host, for tests in a synctest
// bubble, where a real socket would not be durably blocking. It must be
// called inside the bubble; it shuts down when the test ends.
func pipeServer(t *testing.T, h http.Handler) http.RoundTripper {
	ln := &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		client, server := net.Pipe()
		select {
		case ln.conns <- server:
			return client, nil
		case <-ln.closed:
			return nil, net.ErrClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
	})
	return tr
}

type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

func TestFileURLs(t *testing.T) {
	jpg := realJPEG(t)
	p := filepath.Join(t.TempDir(), "a.jpg")
	os.WriteFile(p, jpg, 0o644)
	if _, err := New(fastOpts()).Get(context.Background(), "file://"+p); errkind.Cause(err) != "bad-url" {
		t.Fatalf("file URL without AllowFiles: got %v, want bad-url", err)
	}
	o := fastOpts()
	o.AllowFiles = true
	res, err := New(o).Get(context.Background(), "file://"+p)
	if err != nil || res.Meta.Format != "jpeg" {
		t.Fatalf("file URL: %v %+v", err, res.Meta)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"5", 5 * time.Second}, {"-3", 0}, {"soon", 0},
		{"Thu, 01 Jan 2026 00:00:30 GMT", 30 * time.Second},
		{"Wed, 31 Dec 2025 23:00:00 GMT", 0},
	} {
		if got := parseRetryAfter(c.in, now); got != c.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}
