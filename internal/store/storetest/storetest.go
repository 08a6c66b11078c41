// Package storetest is the conformance suite for store.Store, in the manner
// of rclone's fstests: every implementation and every wrapper runs the same
// checks, so callers can rely on the contract written on store.Store and not
// on one backend's habits.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scour-dev/scour/internal/store"
)

// Run checks the store.Store contract on stores made by newStore. newStore is
// called once per subtest and must return an empty store that nothing else
// uses; it should register its own clean-up with t.Cleanup. With -short the
// many-keys listing uses 1,100 keys instead of 2,500 (still more than one S3
// page of 1,000).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("Empty", func(t *testing.T) { testEmpty(t, newStore(t)) })
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newStore(t)) })
	t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, newStore(t)) })
	t.Run("NotExist", func(t *testing.T) { testNotExist(t, newStore(t)) })
	t.Run("InvalidKeys", func(t *testing.T) { testInvalidKeys(t, newStore(t)) })
	t.Run("Names", func(t *testing.T) { testNames(t, newStore(t)) })
	t.Run("List", func(t *testing.T) { testList(t, newStore(t)) })
	t.Run("ListMany", func(t *testing.T) { testListMany(t, newStore(t)) })
	t.Run("Move", func(t *testing.T) { testMove(t, newStore(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newStore(t)) })
	t.Run("ConcurrentDistinct", func(t *testing.T) { testConcurrentDistinct(t, newStore(t)) })
	t.Run("ConcurrentSameKey", func(t *testing.T) { testConcurrentSameKey(t, newStore(t)) })
	t.Run("InterruptedPut", func(t *testing.T) { testInterruptedPut(t, newStore(t)) })
}

// Data returns n deterministic pseudo-random bytes; different seeds give
// different bytes, so a mixed-up object cannot pass for another.
func Data(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)}).Read(b)
	return b
}

func put(t *testing.T, s store.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(t.Context(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
}

func get(t *testing.T, s store.Store, key string) []byte {
	t.Helper()
	rc, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): reading body: %v", key, err)
	}
	return b
}

func wantData(t *testing.T, s store.Store, key string, want []byte) {
	t.Helper()
	if got := get(t, s, key); !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %d bytes %s, want %d bytes %s", key, len(got), head(got), len(want), head(want))
	}
}

func head(b []byte) string {
	if len(b) > 8 {
		b = b[:8]
	}
	return fmt.Sprintf("%x…", b)
}

func wantNotExist(t *testing.T, s store.Store, key string) {
	t.Helper()
	if _, err := s.Stat(t.Context(), key); !errors.Is(err, store.ErrNotExist) {
		t.Fatalf("Stat(%q) error = %v, want ErrNotExist", key, err)
	}
	if rc, err := s.Get(t.Context(), key); !errors.Is(err, store.ErrNotExist) {
		if err == nil {
			rc.Close()
		}
		t.Fatalf("Get(%q) error = %v, want ErrNotExist", key, err)
	}
}

func list(t *testing.T, s store.Store, prefix string) []store.Info {
	t.Helper()
	var out []store.Info
	if err := s.List(t.Context(), prefix, func(i store.Info) error {
		out = append(out, i)
		return nil
	}); err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return out
}

func keys(infos []store.Info) []string {
	out := make([]string, len(infos))
	for i, in := range infos {
		out[i] = in.Key
	}
	return out
}

func testEmpty(t *testing.T, s store.Store) {
	if got := list(t, s, ""); len(got) != 0 {
		t.Fatalf("new store lists %v, want nothing", keys(got))
	}
	if s.String() == "" {
		t.Error("String() is empty; it should name the store for messages")
	}
	wantNotExist(t, s, "nothing/here.jpg")
}

func testRoundTrip(t *testing.T, s store.Store) {
	tests := []struct {
		name      string
		size      int
		sizeKnown bool
	}{
		{"empty", 0, true},
		{"empty unknown size", 0, false},
		{"one byte", 1, true},
		{"thumbnail", 37_000, true},
		{"thumbnail unknown size", 37_000, false},
		// Larger than the 5 MiB minimum S3 part, so S3 stores use multipart.
		{"several MB", 11<<20 + 17, true},
		{"several MB unknown size", 11<<20 + 17, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("rt/%02d.bin", i)
			data := Data(uint64(i), tt.size)
			size := int64(-1)
			if tt.sizeKnown {
				size = int64(len(data))
			}
			before := time.Now()
			// A plain io.Reader (not a *bytes.Reader) so no store can take
			// a shortcut through Seek or Len.
			if err := s.Put(t.Context(), key, struct{ io.Reader }{bytes.NewReader(data)}, size); err != nil {
				t.Fatalf("Put: %v", err)
			}
			wantData(t, s, key, data)
			info, err := s.Stat(t.Context(), key)
			if err != nil {
				t.Fatalf("Stat: %v", err)
			}
			if info.Key != key || info.Size != int64(len(data)) {
				t.Errorf("Stat = {Key %q, Size %d}, want {%q, %d}", info.Key, info.Size, key, len(data))
			}
			// Servers keep whole seconds and clocks drift a little.
			if d := info.ModTime.Sub(before); d < -2*time.Minute || d > 2*time.Minute {
				t.Errorf("Stat ModTime %v is %v away from the time of Put", info.ModTime, d)
			}
		})
	}
}

func testOverwrite(t *testing.T, s store.Store) {
	key := "ow/photo.jpg"
	sizes := []int{5000, 12, 0, 70_000}
	for i, n := range sizes {
		data := Data(uint64(100+i), n)
		put(t, s, key, data)
		wantData(t, s, key, data)
		info, err := s.Stat(t.Context(), key)
		if err != nil || info.Size != int64(n) {
			t.Fatalf("after overwrite %d: Stat = %+v, %v; want size %d", i, info, err, n)
		}
	}
	if got := keys(list(t, s, "")); !slices.Equal(got, []string{key}) {
		t.Fatalf("after overwrites List = %q, want just %q", got, key)
	}
}

func testNotExist(t *testing.T, s store.Store) {
	put(t, s, "ne/dir/present.jpg", []byte("x"))
	for _, key := range []string{"absent.jpg", "ne/absent.jpg", "ne/dir", "ne", "ne/dir/present.jpg/more"} {
		t.Run(key, func(t *testing.T) {
			wantNotExist(t, s, key)
			if err := s.Move(t.Context(), key, "ne/moved.jpg"); !errors.Is(err, store.ErrNotExist) {
				t.Errorf("Move(%q) error = %v, want ErrNotExist", key, err)
			}
			if err := s.Delete(t.Context(), key); !errors.Is(err, store.ErrNotExist) {
				t.Errorf("Delete(%q) error = %v, want ErrNotExist", key, err)
			}
		})
	}
	wantNotExist(t, s, "ne/moved.jpg")
	wantData(t, s, "ne/dir/present.jpg", []byte("x"))
}

func testInvalidKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	put(t, s, "good.jpg", []byte("g"))
	for _, key := range []string{"", "/abs.jpg", "dir/", "a//b", "./a", "a/./b", "a/../b", "..", ".", "a\\b", "nul\x00.jpg"} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			calls := map[string]error{
				"Put":      s.Put(ctx, key, strings.NewReader("x"), 1),
				"Stat":     func() error { _, err := s.Stat(ctx, key); return err }(),
				"Move src": s.Move(ctx, key, "ok.jpg"),
				"Move dst": s.Move(ctx, "good.jpg", key),
				"Delete":   s.Delete(ctx, key),
				"Get": func() error {
					rc, err := s.Get(ctx, key)
					if err == nil {
						rc.Close()
					}
					return err
				}(),
			}
			for name, err := range calls {
				if !errors.Is(err, store.ErrInvalidKey) {
					t.Errorf("%s(%q) error = %v, want ErrInvalidKey", name, key, err)
				}
			}
		})
	}
	if got := keys(list(t, s, "")); !slices.Equal(got, []string{"good.jpg"}) {
		t.Fatalf("after rejected calls List = %q, want only good.jpg", got)
	}
	wantData(t, s, "good.jpg", []byte("g"))
}

func testNames(t *testing.T, s store.Store) {
	names := []string{
		"with space/a b.jpg",
		"ünïcødé/日本語の船.png",
		"emoji/🚢 ship.jpg",
		"punct/a+b=c&d;e,f@g$h'i(j)!~*.jpg",
		"percent/100%25 %zz.jpg",
		"query/a?b=c#frag.jpg",
		"colon/12:30:00.jpg",
		"dots/..hidden/...jpg",
		"long/" + strings.Repeat("x", 200) + ".jpg",
	}
	for _, key := range names {
		put(t, s, key, []byte(key))
	}
	for _, key := range names {
		wantData(t, s, key, []byte(key))
	}
	want := slices.Clone(names)
	slices.Sort(want)
	if got := keys(list(t, s, "")); !slices.Equal(got, want) {
		t.Fatalf("List = %q\nwant %q", got, want)
	}
	for _, key := range names {
		if got := keys(list(t, s, key)); !slices.Equal(got, []string{key}) {
			t.Errorf("List(%q) = %q, want the key itself", key, got)
		}
	}
}

// orderKeys are chosen so that a per-directory walk in the wrong order shows:
// '.' and '-' sort before '/', '0' after it.
var orderKeys = []string{
	"o/a-b", "o/a.b", "o/a/b", "o/a/c/d", "o/a0", "o/ab", "o/B", "o/b", "o/b.jpg",
	"o/x/y/z/deep.jpg", "o/x/y.jpg", "o/x.y/z", "o/é", "o/z",
}

func testList(t *testing.T, s store.Store) {
	for i, k := range orderKeys {
		put(t, s, k, Data(uint64(i), i*10))
	}
	tests := []struct{ prefix string }{
		{""}, {"o"}, {"o/"}, {"o/a"}, {"o/a/"}, {"o/a."}, {"o/x"}, {"o/x/"}, {"o/x/y"}, {"o/x/y/"},
		{"o/b.jpg"}, {"o/b.jpg/"}, {"o/nope"}, {"nope/"}, {"O/"}, {"o//"}, {"o/../o/"}, {"o/é"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.prefix), func(t *testing.T) {
			var want []string
			for _, k := range orderKeys {
				if strings.HasPrefix(k, tt.prefix) {
					want = append(want, k)
				}
			}
			slices.Sort(want)
			got := list(t, s, tt.prefix)
			if !slices.Equal(keys(got), want) {
				t.Fatalf("List(%q) = %q\nwant %q", tt.prefix, keys(got), want)
			}
			for _, in := range got {
				i := slices.Index(orderKeys, in.Key)
				if in.Size != int64(i*10) || in.ModTime.IsZero() {
					t.Errorf("List(%q) reports %+v, want size %d and a time", tt.prefix, in, i*10)
				}
			}
		})
	}

	t.Run("stops at fn error", func(t *testing.T) {
		stop := errors.New("enough")
		calls := 0
		err := s.List(t.Context(), "o/", func(store.Info) error {
			calls++
			if calls == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || calls != 3 {
			t.Fatalf("List = %v after %d calls, want the fn's error after 3", err, calls)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := s.List(ctx, "", func(store.Info) error { return nil })
		if err == nil {
			t.Fatal("List with a cancelled context succeeded")
		}
	})
}

func testListMany(t *testing.T, s store.Store) {
	n := 2500
	if testing.Short() {
		n = 1100
	}
	want := make([]string, n)
	for i := range want {
		// Three shards so per-prefix listings cross page boundaries too.
		want[i] = fmt.Sprintf("many/%d/%05d.jpg", i%3, i)
	}
	parallel(t, 16, n, func(i int) error {
		return s.Put(t.Context(), want[i], bytes.NewReader([]byte(want[i])), int64(len(want[i])))
	})
	slices.Sort(want)
	for _, prefix := range []string{"", "many/", "many/1/", "many/2/0", "many/0/0012"} {
		var w []string
		for _, k := range want {
			if strings.HasPrefix(k, prefix) {
				w = append(w, k)
			}
		}
		got := list(t, s, prefix)
		if !slices.Equal(keys(got), w) {
			t.Fatalf("List(%q) gave %d keys, want %d (first diff near %q)", prefix, len(got), len(w), firstDiff(keys(got), w))
		}
		for _, in := range got {
			if in.Size != int64(len(in.Key)) {
				t.Fatalf("List(%q) reports %q with size %d, want %d", prefix, in.Key, in.Size, len(in.Key))
			}
		}
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] + " vs " + b[i]
		}
	}
	return "the end"
}

// parallel runs fn(0..n-1) on workers goroutines and fails t on the first error.
func parallel(t *testing.T, workers, n int, fn func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					errs <- fmt.Errorf("item %d: %w", i, err)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func testMove(t *testing.T, s store.Store) {
	tests := []struct {
		name     string
		src, dst string
		dstOld   []byte // an object already at dst, or nil
	}{
		{"rename", "mv/a.jpg", "mv/b.jpg", nil},
		{"into new directories", "mv/c.jpg", "mv/deep/er/c.jpg", nil},
		{"out of a directory", "mv/sub/d.jpg", "mv/d.jpg", nil},
		{"overwrite", "mv/e.jpg", "mv/f.jpg", []byte("old f")},
		{"unicode and spaces", "mv/ä b.jpg", "mv/船 c.jpg", nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := Data(uint64(200+i), 3000+i)
			put(t, s, tt.src, data)
			if tt.dstOld != nil {
				put(t, s, tt.dst, tt.dstOld)
			}
			if err := s.Move(t.Context(), tt.src, tt.dst); err != nil {
				t.Fatalf("Move: %v", err)
			}
			wantData(t, s, tt.dst, data)
			wantNotExist(t, s, tt.src)
		})
	}
	t.Run("onto itself", func(t *testing.T) {
		put(t, s, "mv/self.jpg", []byte("me"))
		if err := s.Move(t.Context(), "mv/self.jpg", "mv/self.jpg"); err != nil {
			t.Fatalf("Move onto itself: %v", err)
		}
		wantData(t, s, "mv/self.jpg", []byte("me"))
	})
	t.Run("missing source keeps destination", func(t *testing.T) {
		put(t, s, "mv/keep.jpg", []byte("keep"))
		if err := s.Move(t.Context(), "mv/ghost.jpg", "mv/keep.jpg"); !errors.Is(err, store.ErrNotExist) {
			t.Fatalf("Move of a missing key = %v, want ErrNotExist", err)
		}
		wantData(t, s, "mv/keep.jpg", []byte("keep"))
	})
	want := []string{"mv/d.jpg", "mv/deep/er/c.jpg", "mv/f.jpg", "mv/keep.jpg", "mv/self.jpg", "mv/b.jpg", "mv/船 c.jpg"}
	slices.Sort(want)
	if got := keys(list(t, s, "mv/")); !slices.Equal(got, want) {
		t.Fatalf("after moves List = %q\nwant %q", got, want)
	}
}

func testDelete(t *testing.T, s store.Store) {
	for _, k := range []string{"del/a/1.jpg", "del/a/2.jpg", "del/b/deep/3.jpg", "del/c.jpg"} {
		put(t, s, k, []byte(k))
	}
	for _, k := range []string{"del/a/1.jpg", "del/b/deep/3.jpg"} {
		if err := s.Delete(t.Context(), k); err != nil {
			t.Fatalf("Delete(%q): %v", k, err)
		}
		wantNotExist(t, s, k)
		if err := s.Delete(t.Context(), k); !errors.Is(err, store.ErrNotExist) {
			t.Fatalf("second Delete(%q) = %v, want ErrNotExist", k, err)
		}
	}
	if got, want := keys(list(t, s, "")), []string{"del/a/2.jpg", "del/c.jpg"}; !slices.Equal(got, want) {
		t.Fatalf("after deletes List = %q, want %q", got, want)
	}
	// A key whose directory was emptied and perhaps removed can be written again.
	put(t, s, "del/b/deep/3.jpg", []byte("again"))
	wantData(t, s, "del/b/deep/3.jpg", []byte("again"))
}

func testConcurrentDistinct(t *testing.T, s store.Store) {
	const n = 96
	key := func(i int) string { return fmt.Sprintf("cd/%d/%03d.jpg", i%4, i) }
	parallel(t, 12, n, func(i int) error {
		d := Data(uint64(300+i), 1000+i*37)
		if err := s.Put(t.Context(), key(i), bytes.NewReader(d), int64(len(d))); err != nil {
			return err
		}
		// Deleting every third one while others write into the same
		// directories checks that pruning empty directories cannot break a
		// concurrent Put.
		if i%3 == 0 {
			return s.Delete(t.Context(), key(i))
		}
		return nil
	})
	for i := range n {
		if i%3 == 0 {
			wantNotExist(t, s, key(i))
			continue
		}
		wantData(t, s, key(i), Data(uint64(300+i), 1000+i*37))
	}
}

// testConcurrentSameKey races writers on one key while readers check that
// every read returns one complete version, never a mix or a prefix.
func testConcurrentSameKey(t *testing.T, s store.Store) {
	const key, writers, rounds = "same/key.jpg", 6, 4
	versions := make(map[string]bool)
	data := func(w, r int) []byte { return Data(uint64(1000+w*rounds+r), 20_000+w*3001+r*17) }
	for w := range writers {
		for r := range rounds {
			versions[string(data(w, r))] = true
		}
	}
	first := data(0, 0)
	put(t, s, key, first)

	ctx, stop := context.WithCancel(t.Context())
	var readers sync.WaitGroup
	readErr := make(chan error, 2)
	for range 2 {
		readers.Go(func() {
			for ctx.Err() == nil {
				rc, err := s.Get(ctx, key)
				if err != nil {
					if ctx.Err() == nil {
						readErr <- fmt.Errorf("concurrent Get during writes: %w", err)
					}
					return
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					if ctx.Err() == nil {
						readErr <- fmt.Errorf("reading during writes: %w", err)
					}
					return
				}
				if !versions[string(b)] {
					readErr <- fmt.Errorf("concurrent Get during writes returned %d bytes that are no version written", len(b))
					return
				}
			}
		})
	}
	parallel(t, writers, writers*rounds, func(i int) error {
		d := data(i%writers, i/writers)
		return s.Put(t.Context(), key, bytes.NewReader(d), int64(len(d)))
	})
	stop()
	readers.Wait()
	close(readErr)
	for err := range readErr {
		t.Error(err)
	}
	if b := get(t, s, key); !versions[string(b)] {
		t.Fatalf("after concurrent writes the object (%d bytes) is no version written", len(b))
	}
	if got := keys(list(t, s, "")); !slices.Equal(got, []string{key}) {
		t.Fatalf("after concurrent writes List = %q, want only %q", got, key)
	}
}

// failingReader yields data and then, at offset failAt, calls onFail and
// returns its error (nil: keep going, which is how a cancelled context is
// simulated).
type failingReader struct {
	data   []byte
	off    int
	failAt int
	onFail func() error
	failed bool
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.off >= r.failAt && !r.failed {
		r.failed = true
		if err := r.onFail(); err != nil {
			return 0, err
		}
	}
	if r.off >= len(r.data) {
		return 0, io.EOF
	}
	end := len(r.data)
	if !r.failed {
		end = min(end, r.failAt)
	}
	n := copy(p, r.data[r.off:end])
	r.off += n
	return n, nil
}

var errInjected = errors.New("injected read failure")

func testInterruptedPut(t *testing.T, s store.Store) {
	tests := []struct {
		name    string
		size    int
		failAt  int
		declare int64 // size passed to Put; -2 means the true size
		cancel  bool
	}{
		{"reader error in small body", 40_000, 20_000, -2, false},
		{"reader error unknown size", 40_000, 20_000, -1, false},
		// Past the first 5 MiB part: a multipart upload is under way on S3.
		{"reader error after first part", 12 << 20, 7 << 20, -2, false},
		{"reader error at start", 1000, 0, -2, false},
		{"context cancelled mid body", 40_000, 20_000, -2, true},
		{"context cancelled after first part", 12 << 20, 7 << 20, -1, true},
		{"body shorter than declared", 1000, 1 << 30, 1500, false},
		{"body longer than declared", 1000, 1 << 30, 600, false},
	}
	for i, tt := range tests {
		for _, old := range []bool{false, true} {
			name := tt.name + map[bool]string{false: " (new key)", true: " (over old)"}[old]
			t.Run(name, func(t *testing.T) {
				key := fmt.Sprintf("ip/%02d-%t.jpg", i, old)
				oldData := Data(uint64(500+i), 4321)
				if old {
					put(t, s, key, oldData)
				}
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				r := &failingReader{data: Data(uint64(600+i), tt.size), failAt: tt.failAt}
				r.onFail = func() error { return errInjected }
				if tt.cancel {
					r.onFail = func() error { cancel(); return nil }
				}
				size := tt.declare
				if size == -2 {
					size = int64(tt.size)
				}
				err := s.Put(ctx, key, r, size)
				if err == nil {
					t.Fatal("Put succeeded; want an error")
				}
				if !tt.cancel && tt.failAt < tt.size && !errors.Is(err, errInjected) {
					t.Errorf("Put error = %v, want it to wrap the reader's error", err)
				}
				if old {
					wantData(t, s, key, oldData)
				} else {
					wantNotExist(t, s, key)
				}
			})
		}
	}
	var want []string
	for i := range tests {
		want = append(want, fmt.Sprintf("ip/%02d-true.jpg", i))
	}
	if got := keys(list(t, s, "")); !slices.Equal(got, want) {
		t.Fatalf("after failed Puts List = %q\nwant only the old objects %q", got, want)
	}
}
