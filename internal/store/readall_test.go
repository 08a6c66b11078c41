package store_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/store"
)

func TestReadAll(t *testing.T) {
	ctx := context.Background()
	st, err := store.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("x"), 3<<20)
	if err := st.Put(ctx, "images/a/x.jpg", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		limit int64
		ok    bool
	}{{0, true}, {3 << 20, true}, {2 << 20, false}} {
		got, err := store.ReadAll(ctx, st, "images/a/x.jpg", c.limit)
		switch {
		case c.ok && (err != nil || !bytes.Equal(got, data)):
			t.Errorf("limit %d: %d bytes, %v; want all %d", c.limit, len(got), err, len(data))
		case !c.ok && (err == nil || !strings.Contains(err.Error(), "over 2 MB")):
			t.Errorf("limit %d: err = %v, want an over-limit error", c.limit, err)
		}
	}
	if _, err := store.ReadAll(ctx, st, "images/a/none.jpg", 0); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("missing key: err = %v, want ErrNotExist", err)
	}
}
