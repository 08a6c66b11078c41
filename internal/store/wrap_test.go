package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/store"
	"github.com/scour-dev/scour/internal/store/storetest"
)

func TestWrappedLocalConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return store.WithRetry(store.WithLimit(newLocal(t), 4), store.RetryPolicy{Base: time.Millisecond})
	})
}

var errFlaky = errors.New("injected flaky failure")

// flaky is a real Local store whose calls fail retryably a set number of
// times first. With afterDoing, a failing call does the work and then
// fails, as when a reply is lost on the way back.
type flaky struct {
	store.Store
	retryAfter time.Duration
	afterDoing bool
	permanent  bool

	mu    sync.Mutex
	fails map[string]int
	calls map[string]int
}

func newFlaky(t *testing.T, fails map[string]int) *flaky {
	return &flaky{Store: newLocal(t), fails: fails, calls: map[string]int{}}
}

func (f *flaky) check(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[method]++
	if f.fails[method] == 0 {
		return nil
	}
	f.fails[method]--
	err := fmt.Errorf("%s: %w", method, errFlaky)
	if f.permanent {
		return errkind.Permanent(err)
	}
	return errkind.Retryable(err, f.retryAfter)
}

func (f *flaky) callsTo(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func (f *flaky) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := f.check("Put"); err != nil {
		if f.afterDoing {
			return errors.Join(f.Store.Put(ctx, key, r, size), err)
		}
		io.CopyN(io.Discard, r, 3) // a failed upload has consumed some of the body
		return err
	}
	return f.Store.Put(ctx, key, r, size)
}

func (f *flaky) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := f.check("Get"); err != nil {
		return nil, err
	}
	return f.Store.Get(ctx, key)
}

func (f *flaky) Stat(ctx context.Context, key string) (store.Info, error) {
	if err := f.check("Stat"); err != nil {
		return store.Info{}, err
	}
	return f.Store.Stat(ctx, key)
}

// List fails after reporting two objects, like a listing whose second page
// request fails.
func (f *flaky) List(ctx context.Context, prefix string, fn func(store.Info) error) error {
	failure := f.check("List")
	n := 0
	err := f.Store.List(ctx, prefix, func(i store.Info) error {
		if failure != nil && n == 2 {
			return failure
		}
		n++
		return fn(i)
	})
	return err
}

func (f *flaky) Move(ctx context.Context, src, dst string) error {
	if err := f.check("Move"); err != nil {
		if f.afterDoing {
			return errors.Join(f.Store.Move(ctx, src, dst), err)
		}
		return err
	}
	return f.Store.Move(ctx, src, dst)
}

func (f *flaky) Delete(ctx context.Context, key string) error {
	if err := f.check("Delete"); err != nil {
		if f.afterDoing {
			return errors.Join(f.Store.Delete(ctx, key), err)
		}
		return err
	}
	return f.Store.Delete(ctx, key)
}

var fastRetry = store.RetryPolicy{Attempts: 4, Base: time.Millisecond, Max: 5 * time.Millisecond}

func TestRetry(t *testing.T) {
	ops := map[string]func(ctx context.Context, s store.Store) error{
		"Put": func(ctx context.Context, s store.Store) error {
			return s.Put(ctx, "dst.jpg", strings.NewReader("new data"), 8)
		},
		"Get": func(ctx context.Context, s store.Store) error {
			rc, err := s.Get(ctx, "src.jpg")
			if err == nil {
				rc.Close()
			}
			return err
		},
		"Stat":   func(ctx context.Context, s store.Store) error { _, err := s.Stat(ctx, "src.jpg"); return err },
		"Move":   func(ctx context.Context, s store.Store) error { return s.Move(ctx, "src.jpg", "dst.jpg") },
		"Delete": func(ctx context.Context, s store.Store) error { return s.Delete(ctx, "src.jpg") },
		"List": func(ctx context.Context, s store.Store) error {
			return s.List(ctx, "", func(store.Info) error { return nil })
		},
	}
	tests := []struct {
		fails     int
		permanent bool
		wantOK    bool
		wantCalls int
	}{
		{fails: 0, wantOK: true, wantCalls: 1},
		{fails: 3, wantOK: true, wantCalls: 4},
		{fails: 4, wantOK: false, wantCalls: 4},
		{fails: 1, permanent: true, wantOK: false, wantCalls: 1},
	}
	for method, op := range ops {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%d fails/permanent=%t", method, tt.fails, tt.permanent), func(t *testing.T) {
				f := newFlaky(t, map[string]int{method: tt.fails})
				f.permanent = tt.permanent
				for _, k := range []string{"src.jpg", "z1.jpg", "z2.jpg", "z3.jpg"} {
					if err := f.Store.Put(t.Context(), k, strings.NewReader(k), -1); err != nil {
						t.Fatal(err)
					}
				}
				err := op(t.Context(), store.WithRetry(f, fastRetry))
				if (err == nil) != tt.wantOK {
					t.Fatalf("error = %v, want success %t", err, tt.wantOK)
				}
				if err != nil && !errors.Is(err, errFlaky) {
					t.Errorf("error %v does not wrap the store's error", err)
				}
				if err != nil && errkind.IsRetryable(err) == tt.permanent {
					t.Errorf("error kind = %v, want the store's kind kept", errkind.KindOf(err))
				}
				if got := f.callsTo(method); got != tt.wantCalls {
					t.Errorf("%s called %d times, want %d", method, got, tt.wantCalls)
				}
			})
		}
	}
}

func TestRetryPutBodies(t *testing.T) {
	big := storetest.Data(1, 9<<20) // over the 8 MiB replay buffer
	tests := []struct {
		name      string
		body      func() io.Reader
		want      []byte
		wantCalls int
	}{
		{"plain reader is buffered", func() io.Reader { return struct{ io.Reader }{strings.NewReader("hello")} }, []byte("hello"), 3},
		{"seeker rewinds to its start", func() io.Reader {
			r := strings.NewReader("skip:kept")
			r.Seek(5, io.SeekStart)
			return r
		}, []byte("kept"), 3},
		{"large plain reader gets one try", func() io.Reader { return struct{ io.Reader }{bytes.NewReader(big)} }, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFlaky(t, map[string]int{"Put": 2})
			err := store.WithRetry(f, fastRetry).Put(t.Context(), "k.jpg", tt.body(), -1)
			if got := f.callsTo("Put"); got != tt.wantCalls {
				t.Errorf("Put called %d times, want %d", got, tt.wantCalls)
			}
			if tt.want == nil {
				if !errors.Is(err, errFlaky) {
					t.Fatalf("Put = %v, want the store's error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rc, err := f.Get(t.Context(), "k.jpg")
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if got, _ := io.ReadAll(rc); !bytes.Equal(got, tt.want) {
				t.Errorf("stored %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	f := newFlaky(t, map[string]int{"Stat": 1})
	f.retryAfter = 300 * time.Millisecond
	f.Store.Put(t.Context(), "a.jpg", strings.NewReader("a"), 1)
	start := time.Now()
	if _, err := store.WithRetry(f, fastRetry).Stat(t.Context(), "a.jpg"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("retried after %v, before the server's Retry-After of 300ms", d)
	}
}

func TestRetryStopsWithContext(t *testing.T) {
	f := newFlaky(t, map[string]int{"Stat": 5})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := store.WithRetry(f, store.RetryPolicy{Attempts: 5, Base: 10 * time.Second}).Stat(ctx, "a.jpg")
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errFlaky) {
		t.Errorf("Stat = %v, want the store's error and the deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v to notice the context ended", d)
	}
}

func TestRetryListResumes(t *testing.T) {
	f := newFlaky(t, map[string]int{"List": 2})
	var want []string
	for i := range 7 {
		k := fmt.Sprintf("l/%d.jpg", i)
		want = append(want, k)
		f.Store.Put(t.Context(), k, strings.NewReader(k), -1)
	}
	var got []string
	err := store.WithRetry(f, fastRetry).List(t.Context(), "l/", func(i store.Info) error {
		got = append(got, i.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("List across retries reported %q, want each key once: %q", got, want)
	}
}

func TestRetryListFnErrorNotRetried(t *testing.T) {
	f := newFlaky(t, nil)
	f.Store.Put(t.Context(), "a.jpg", strings.NewReader("a"), 1)
	fnErr := errkind.Retryable(errors.New("caller's own retryable failure"), 0)
	calls := 0
	err := store.WithRetry(f, fastRetry).List(t.Context(), "", func(store.Info) error { calls++; return fnErr })
	if !errors.Is(err, fnErr) || calls != 1 || f.callsTo("List") != 1 {
		t.Errorf("List = %v after %d fn calls and %d List calls, want fn's error after one of each", err, calls, f.callsTo("List"))
	}
}

// A Delete or Move whose reply was lost reports "not found" when retried;
// the wrapper must see that its own earlier attempt did the work.
func TestRetryLostReply(t *testing.T) {
	for _, method := range []string{"Delete", "Move"} {
		t.Run(method, func(t *testing.T) {
			f := newFlaky(t, map[string]int{method: 1})
			f.afterDoing = true
			f.Store.Put(t.Context(), "a.jpg", strings.NewReader("a"), 1)
			s := store.WithRetry(f, fastRetry)
			var err error
			if method == "Delete" {
				err = s.Delete(t.Context(), "a.jpg")
			} else {
				err = s.Move(t.Context(), "a.jpg", "b.jpg")
			}
			if err != nil {
				t.Fatalf("%s = %v, want success", method, err)
			}
			if _, err := f.Stat(t.Context(), "a.jpg"); !errors.Is(err, store.ErrNotExist) {
				t.Errorf("source still there: %v", err)
			}
		})
	}
	t.Run("Delete of a missing key still fails", func(t *testing.T) {
		f := newFlaky(t, nil)
		if err := store.WithRetry(f, fastRetry).Delete(t.Context(), "none.jpg"); !errors.Is(err, store.ErrNotExist) {
			t.Errorf("Delete = %v, want ErrNotExist", err)
		}
	})
}

func TestWrappersKeepLocalPather(t *testing.T) {
	l := newLocal(t)
	l.Put(t.Context(), "a/b.jpg", strings.NewReader("x"), 1)
	want, _ := l.Path("a/b.jpg")
	for name, s := range map[string]store.Store{
		"retry":       store.WithRetry(l, fastRetry),
		"limit":       store.WithLimit(l, 2),
		"retry+limit": store.WithRetry(store.WithLimit(l, 2), fastRetry),
	} {
		p, ok := s.(store.LocalPather)
		if !ok {
			t.Errorf("%s wrapper hides LocalPather", name)
			continue
		}
		if got, err := p.Path("a/b.jpg"); err != nil || got != want {
			t.Errorf("%s: Path = %q, %v; want %q", name, got, err, want)
		}
		if s.String() != l.String() {
			t.Errorf("%s: String = %q, want the inner store's %q", name, s.String(), l.String())
		}
	}
	if _, ok := store.WithRetry(newFlaky(t, nil), fastRetry).(store.LocalPather); ok {
		t.Error("wrapping a store without Path gained a Path")
	}
}

// gauge records how many calls are inside the inner store at once. Each
// call lingers 5 ms so that callers pile up; used in a synctest bubble, that
// is the bubble's clock, so every caller that may enter has entered before
// any leaves.
type gauge struct {
	store.Store
	now, peak atomic.Int64
}

func (g *gauge) enter() func() {
	n := g.now.Add(1)
	for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
	}
	time.Sleep(5 * time.Millisecond)
	return func() { g.now.Add(-1) }
}

func (g *gauge) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	defer g.enter()()
	return g.Store.Put(ctx, key, r, size)
}

func (g *gauge) Stat(ctx context.Context, key string) (store.Info, error) {
	defer g.enter()()
	return g.Store.Stat(ctx, key)
}

func TestLimit(t *testing.T) {
	for _, n := range []int{1, 3, 8} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := &gauge{Store: newLocal(t)}
				s := store.WithLimit(g, n)
				var wg sync.WaitGroup
				for i := range 24 {
					wg.Go(func() {
						k := fmt.Sprintf("%d.jpg", i)
						if err := s.Put(t.Context(), k, strings.NewReader(k), -1); err != nil {
							t.Error(err)
						}
						if _, err := s.Stat(t.Context(), k); err != nil {
							t.Error(err)
						}
					})
				}
				wg.Wait()
				if p := g.peak.Load(); p != int64(n) {
					t.Errorf("peak concurrency %d, want exactly the limit %d", p, n)
				}
			})
		})
	}
}

func TestLimitGetHoldsSlotUntilClose(t *testing.T) {
	l := newLocal(t)
	l.Put(t.Context(), "a.jpg", strings.NewReader("a"), 1)
	s := store.WithLimit(l, 1)
	rc, err := s.Get(t.Context(), "a.jpg")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Stat(ctx, "a.jpg"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stat while a body is open = %v, want to wait for the slot", err)
	}
	rc.Close()
	rc.Close() // a second Close must not free a slot it does not hold
	if _, err := s.Stat(t.Context(), "a.jpg"); err != nil {
		t.Fatalf("Stat after Close: %v", err)
	}
	r1, err := s.Get(t.Context(), "a.jpg")
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	ctx2, cancel2 := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel2()
	if _, err := s.Stat(ctx2, "a.jpg"); err == nil {
		t.Fatal("a double Close freed an extra slot")
	}
}

func TestLimitListCallbackMayUseStore(t *testing.T) {
	l := newLocal(t)
	for i := range 5 {
		l.Put(t.Context(), fmt.Sprintf("%d.jpg", i), strings.NewReader("x"), 1)
	}
	s := store.WithLimit(l, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	n := 0
	err := s.List(ctx, "", func(i store.Info) error {
		rc, err := s.Get(ctx, i.Key)
		if err != nil {
			return err
		}
		n++
		return rc.Close()
	})
	if err != nil || n != 5 {
		t.Fatalf("List with Get inside fn = %v after %d objects, want all 5", err, n)
	}
}
