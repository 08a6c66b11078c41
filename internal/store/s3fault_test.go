package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/store"
	"github.com/scour-dev/scour/internal/store/s3test"
	"github.com/scour-dev/scour/internal/store/storetest"
)

// faultProxy forwards to an S3 server unless hook, given the request's
// number (from 1), answers it itself by returning true.
func faultProxy(t *testing.T, target string, hook func(n int64, w http.ResponseWriter, r *http.Request) bool) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0) // clients hanging up on stalls are expected
	var count atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hook(count.Add(1), w, r) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func slowDown(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
}

func newS3(t *testing.T, o store.S3Options) *store.S3 {
	t.Helper()
	s, err := store.NewS3(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func objectData(i int) []byte {
	if i%10 == 0 {
		return storetest.Data(uint64(i), 6<<20) // multipart
	}
	return storetest.Data(uint64(i), 10_000+i*97)
}

// checkObjects reads every object back from s and compares it with want.
func checkObjects(t *testing.T, s store.Store, want map[string][]byte) {
	t.Helper()
	got := map[string]int64{}
	if err := s.List(t.Context(), "", func(i store.Info) error { got[i.Key] = i.Size; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("store holds %d objects, want %d", len(got), len(want))
	}
	for k, data := range want {
		if got[k] != int64(len(data)) {
			t.Errorf("%s: listed size %d, want %d", k, got[k], len(data))
			continue
		}
		rc, err := s.Get(t.Context(), k)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, err = b.ReadFrom(rc)
		rc.Close()
		if err != nil || !bytes.Equal(b.Bytes(), data) {
			t.Errorf("%s: read back %d bytes (%v), not what was written", k, b.Len(), err)
		}
	}
}

// TestS3ServiceUnavailableStorm answers the first requests, and later every
// third one, with 503 SlowDown; with WithRetry every operation must still
// succeed and the bucket must end up exactly as intended.
func TestS3ServiceUnavailableStorm(t *testing.T) {
	o := s3test.Start(t)
	const storm = 40
	var phase atomic.Int32
	var served atomic.Int64
	po := o
	po.Endpoint = faultProxy(t, o.Endpoint, func(n int64, w http.ResponseWriter, r *http.Request) bool {
		if (phase.Load() == 0 && n <= storm) || (phase.Load() == 1 && n%3 == 0) {
			served.Add(1)
			slowDown(w)
			return true
		}
		return false
	})
	s := store.WithRetry(store.WithLimit(newS3(t, po), 8), store.RetryPolicy{Attempts: 30, Base: 2 * time.Millisecond, Max: 20 * time.Millisecond})

	want := map[string][]byte{}
	const n = 40
	for i := range n {
		want[fmt.Sprintf("storm/%02d.jpg", i)] = objectData(i)
	}
	errs := make(chan error, n)
	for k, data := range want {
		go func() { errs <- s.Put(t.Context(), k, bytes.NewReader(data), int64(len(data))) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("Put through the storm: %v", err)
		}
	}
	if got := served.Load(); got != storm {
		t.Fatalf("proxy answered %d requests with 503, want the whole storm of %d", got, storm)
	}

	phase.Store(1)
	for i := range 10 {
		src, dst := fmt.Sprintf("storm/%02d.jpg", i), fmt.Sprintf("moved/%02d.jpg", i)
		if err := s.Move(t.Context(), src, dst); err != nil {
			t.Fatalf("Move: %v", err)
		}
		want[dst] = want[src]
		delete(want, src)
	}
	for i := 10; i < 15; i++ {
		k := fmt.Sprintf("storm/%02d.jpg", i)
		if err := s.Delete(t.Context(), k); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		delete(want, k)
	}
	checkObjects(t, s, want)
	if served.Load() <= storm {
		t.Error("the second phase served no 503s; the test tests nothing")
	}
	phase.Store(2)
	checkObjects(t, newS3(t, o), want)
}

// TestS3ServerRestart stops the server in the middle of a run of Puts and
// starts it again; retried Puts must all land.
func TestS3ServerRestart(t *testing.T) {
	srv := s3test.StartServer(t)
	o := srv.Options()
	o.Timeout = 2 * time.Second
	inner := &failCounter{Store: newS3(t, o)}
	s := store.WithRetry(inner, store.RetryPolicy{Attempts: 60, Base: 20 * time.Millisecond, Max: 200 * time.Millisecond})

	// The server stops while Put 15 may be in flight, and comes back once
	// a Put has failed against it: the fault is certain to be hit, and the
	// downtime is no longer than it takes to hit it.
	stopped := make(chan struct{})
	restarted := make(chan error, 1)
	want := map[string][]byte{}
	for i := range 45 {
		if i == 15 {
			go func() {
				srv.Stop()
				close(stopped)
				<-inner.firstFailure()
				restarted <- srv.Restart()
			}()
		}
		if i == 16 {
			<-stopped
		}
		k := fmt.Sprintf("restart/%02d.jpg", i)
		want[k] = objectData(i)
		if err := s.Put(t.Context(), k, bytes.NewReader(want[k]), int64(len(want[k]))); err != nil {
			t.Fatalf("Put %d across the restart: %v", i, err)
		}
	}
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	if inner.failed.Load() == 0 {
		t.Error("no Put failed while the server was down; the test tests nothing")
	}
	checkObjects(t, s, want)
}

// failCounter counts failed Puts, to show that a fault was really hit.
type failCounter struct {
	store.Store
	failed atomic.Int64
	once   sync.Once
	first  chan struct{} // closed at the first failed Put
}

func (f *failCounter) firstFailure() chan struct{} {
	f.once.Do(func() { f.first = make(chan struct{}) })
	return f.first
}

func (f *failCounter) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	err := f.Store.Put(ctx, key, r, size)
	if err != nil && f.failed.Add(1) == 1 {
		close(f.firstFailure())
	}
	return err
}

// TestS3SlowServer puts a proxy in front that stalls before answering.
func TestS3SlowServer(t *testing.T) {
	o := s3test.Start(t)
	var stalls atomic.Int64
	stall := func(r *http.Request, d time.Duration) {
		stalls.Add(1)
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
	}
	po := o
	po.Timeout = 300 * time.Millisecond
	po.Endpoint = faultProxy(t, o.Endpoint, func(n int64, w http.ResponseWriter, r *http.Request) bool {
		if n <= 3 {
			stall(r, 1500*time.Millisecond)
		}
		return false
	})

	t.Run("a stall times out retryably", func(t *testing.T) {
		start := time.Now()
		_, err := newS3(t, po).Stat(t.Context(), "none.jpg")
		if !errkind.IsRetryable(err) {
			t.Errorf("Stat against a stalled server = %v (%v), want retryable", err, errkind.KindOf(err))
		}
		if d := time.Since(start); d > 1200*time.Millisecond {
			t.Errorf("gave up after %v; the 300ms timeout did not apply", d)
		}
	})
	t.Run("retries get through", func(t *testing.T) {
		s := store.WithRetry(newS3(t, po), store.RetryPolicy{Attempts: 6, Base: 10 * time.Millisecond})
		data := objectData(3)
		if err := s.Put(t.Context(), "slow/a.jpg", bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		checkObjects(t, s, map[string][]byte{"slow/a.jpg": data})
		if stalls.Load() != 3 {
			t.Errorf("%d requests stalled, want 3", stalls.Load())
		}
	})
	t.Run("context deadline ends a stalled call", func(t *testing.T) {
		stuck := o
		stuck.Endpoint = faultProxy(t, o.Endpoint, func(n int64, w http.ResponseWriter, r *http.Request) bool {
			stall(r, time.Minute)
			return true
		})
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := store.WithRetry(newS3(t, stuck), store.DefaultRetry).Get(ctx, "slow/a.jpg")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Get = %v, want the context's deadline", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Get returned after %v, long after the 200ms deadline", d)
		}
	})
}
