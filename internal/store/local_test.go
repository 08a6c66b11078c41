package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/permtest"
	"github.com/scour-dev/scour/internal/store"
	"github.com/scour-dev/scour/internal/store/storetest"
)

func newLocal(t *testing.T) *store.Local {
	t.Helper()
	l, err := store.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLocalConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newLocal(t) })
}

// files lists every file and directory under root, so tests see what a
// user browsing the project would see, temporary files included.
func files(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			rel, _ := filepath.Rel(root, p)
			if d.IsDir() {
				rel += "/"
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLocalLayout(t *testing.T) {
	root := t.TempDir()
	l, err := store.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, k := range []string{"images/ships/a.jpg", "images/ships/b.jpg", "images/boats/c.jpg"} {
		if err := l.Put(ctx, k, strings.NewReader(k), -1); err != nil {
			t.Fatal(err)
		}
	}
	p, err := l.Path("images/ships/a.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "images", "ships", "a.jpg"); p != want {
		t.Errorf("Path = %q, want %q", p, want)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "images/ships/a.jpg" {
		t.Errorf("reading Path's file: %q, %v", b, err)
	}
	if _, err := l.Path("images/ships/none.jpg"); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("Path of a missing key: %v, want ErrNotExist", err)
	}
	if _, err := l.Path("../escape"); !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("Path of ../escape: %v, want ErrInvalidKey", err)
	}

	// Deleting and moving the last object out of a directory prunes it and
	// every emptied parent, but never root itself.
	if err := l.Move(ctx, "images/boats/c.jpg", "images/ships/c.jpg"); err != nil {
		t.Fatal(err)
	}
	if got, want := files(t, root), []string{"images/", "images/ships/", "images/ships/a.jpg", "images/ships/b.jpg", "images/ships/c.jpg"}; !slices.Equal(got, want) {
		t.Errorf("after Move the tree is %q, want %q", got, want)
	}
	for _, k := range []string{"images/ships/a.jpg", "images/ships/b.jpg", "images/ships/c.jpg"} {
		if err := l.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if got := files(t, root); len(got) != 0 {
		t.Errorf("after deleting everything the tree holds %q", got)
	}
	if _, err := os.Stat(root); err != nil {
		t.Errorf("root was removed: %v", err)
	}
}

func TestLocalIgnoresForeignFiles(t *testing.T) {
	root := t.TempDir()
	l, err := store.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	// What a crash mid-Put leaves behind, and an empty directory.
	if err := os.WriteFile(filepath.Join(root, ".tmp-0123456789abcdef"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "empty", "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "real.jpg"), []byte("r"), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := l.List(t.Context(), "", func(i store.Info) error { got = append(got, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"real.jpg"}) {
		t.Errorf("List = %q, want only real.jpg", got)
	}
	for _, k := range []string{".tmp-0123456789abcdef", "a/.tmp-x"} {
		if err := l.Put(t.Context(), k, strings.NewReader("x"), 1); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey (reserved name)", k, err)
		}
	}
	if err := l.Delete(t.Context(), "empty/dir"); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("Delete of a directory = %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(filepath.Join(root, "empty", "dir")); err != nil {
		t.Errorf("Delete removed a directory that is no object: %v", err)
	}
}

func TestLocalParentIsObject(t *testing.T) {
	l := newLocal(t)
	if err := l.Put(t.Context(), "a", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	err := l.Put(t.Context(), "a/b", strings.NewReader("y"), 1)
	if err == nil || !strings.Contains(err.Error(), "itself an object") {
		t.Fatalf("Put under an object = %v, want an error that explains the clash", err)
	}
}

func TestLocalFatalErrors(t *testing.T) {
	permtest.ReadOnlyDir(t, func(t *testing.T, root string) {
		l, err := store.NewLocal(root)
		if err != nil {
			t.Fatal(err)
		}
		err = l.Put(t.Context(), "x.jpg", strings.NewReader("x"), 1)
		if !errkind.IsFatal(err) || !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "writable") {
			t.Fatalf("Put into a read-only root = %v, want a fatal permission error saying what to do", err)
		}
		if got := files(t, root); len(got) != 0 {
			t.Errorf("a refused Put left %q", got)
		}
	})
}

func TestNewLocalErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{"", file, filepath.Join(file, "sub")} {
		if _, err := store.NewLocal(root); err == nil || !errkind.IsFatal(err) {
			t.Errorf("NewLocal(%q) = %v, want a fatal error", root, err)
		}
	}
}

// TestLocalFailedPutLeavesNoFiles looks below the Store API: a failed Put
// must not leave its temporary file or the directories it made.
func TestLocalFailedPutLeavesNoFiles(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		body io.Reader
		size int64
	}{
		{"cancelled context", cancelled, strings.NewReader("x"), 1},
		{"reader error", context.Background(), io.MultiReader(strings.NewReader("part"), iotest.ErrReader(errors.New("boom"))), -1},
		{"short body", context.Background(), strings.NewReader("abc"), 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			l, err := store.NewLocal(root)
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Put(tt.ctx, "d/e/x.jpg", tt.body, tt.size); err == nil {
				t.Fatal("Put succeeded")
			}
			if got := files(t, root); len(got) != 0 {
				t.Errorf("a failed Put left %q", got)
			}
		})
	}
}

// BenchmarkLocalPut writes thumbnail-sized objects; the fsync per Put is
// most of the cost.
func BenchmarkLocalPut(b *testing.B) {
	l, err := store.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	data := storetest.Data(1, 30_000)
	b.SetBytes(int64(len(data)))
	i := 0
	for b.Loop() {
		i++
		if err := l.Put(b.Context(), fmt.Sprintf("img/%02d/%06d.jpg", i%50, i), bytes.NewReader(data), int64(len(data))); err != nil {
			b.Fatal(err)
		}
	}
}

func TestLocalDiskFull(t *testing.T) {
	permtest.Tmpfs(t, "size=256k", func(t *testing.T, root string) {
		l, err := store.NewLocal(root)
		if err != nil {
			t.Fatal(err)
		}
		small := storetest.Data(1, 1000)
		if err := l.Put(t.Context(), "old.jpg", bytes.NewReader(small), -1); err != nil {
			t.Fatal(err)
		}
		err = l.Put(t.Context(), "big/new.jpg", bytes.NewReader(storetest.Data(2, 1<<20)), -1)
		if !errkind.IsFatal(err) || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "free some space") {
			t.Fatalf("Put on a full disk = %v, want a fatal error saying to free space", err)
		}
		err = l.Put(t.Context(), "old.jpg", bytes.NewReader(storetest.Data(3, 1<<20)), -1)
		if !errkind.IsFatal(err) {
			t.Fatalf("overwrite on a full disk = %v, want fatal", err)
		}
		// The partial temporary files are gone and the old object is whole.
		if got, want := files(t, root), []string{"old.jpg"}; !slices.Equal(got, want) {
			t.Errorf("after failed Puts the tree is %q, want %q", got, want)
		}
		rc, err := l.Get(t.Context(), "old.jpg")
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if b, _ := io.ReadAll(rc); !bytes.Equal(b, small) {
			t.Error("the old object changed")
		}
	})
}

func TestLocalReadOnly(t *testing.T) {
	permtest.Tmpfs(t, "ro,size=64k", func(t *testing.T, root string) {
		l, err := store.NewLocal(root)
		if err != nil {
			t.Fatal(err)
		}
		err = l.Put(t.Context(), "a/b.jpg", strings.NewReader("x"), 1)
		if !errkind.IsFatal(err) || !strings.Contains(err.Error(), "read-only") {
			t.Fatalf("Put on a read-only file system = %v, want a fatal error that says so", err)
		}
	})
}
