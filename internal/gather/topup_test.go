package gather

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scour-dev/scour/internal/fetch"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/search"
)

func TestTopUpMore(t *testing.T) {
	cases := []struct {
		target, kept int
		share        float64
		want         int
	}{
		{20, 20, 0.6, 0},  // at target
		{20, 25, 0.6, 0},  // above it
		{20, 12, 1, 1},    // no garbage: the margin only
		{20, 12, 0.6, 7},  // 8 more clean at 60% -> 15 downloads, 7 past the target
		{20, 0, 0.5, 24},  // 20 more clean at 50% -> 44 downloads
		{10, 0, 0, 100},   // clean kept nothing: capped at ten times the need
		{10, 9, 0.01, 10}, // the cap holds for a small need too
	}
	for _, c := range cases {
		if got := TopUpMore(c.target, c.kept, c.share); got != c.want {
			t.Errorf("TopUpMore(%d, %d, %.2f) = %d, want %d", c.target, c.kept, c.share, got, c.want)
		}
	}
}

// TestMoreFetchesPastTarget checks the hook a top-up round uses: More
// raises a class's fetch quota past its target, and a search that ran to
// its end is reported exhausted while one never run is not.
func TestMoreFetchesPastTarget(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, photos(t, 30))
	var lines []string
	for i := range 30 {
		lines = append(lines, fmt.Sprintf("%s/img/%d", w.srv.URL, i))
	}
	list := filepath.Join(t.TempDir(), "urls.txt")
	if err := os.WriteFile(list, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, t.TempDir())
	eng, err := search.New("urls", search.Options{Path: list})
	if err != nil {
		t.Fatal(err)
	}
	// Searched per query (not Rescan), so its end is recorded.
	o := Options{
		Classes: []Class{{Name: "ships", Queries: []string{"ships"}, Target: 10}},
		Sources: []Source{{Engine: eng}},
		Workers: 4, RetryFailed: true,
	}
	g := &Gatherer{Cat: r.cat, Store: r.st, Events: progress.Discard,
		Fetcher: fetch.New(fetch.Options{Retries: 1, BackoffBase: 5 * time.Millisecond, Timeout: 5 * time.Second, PerHost: 8})}
	ex, err := g.Exhausted(ctx, o)
	if err != nil || ex["ships"] {
		t.Fatalf("before any search: exhausted %v, %v; want not exhausted", ex, err)
	}
	if _, err := g.Run(ctx, o); err != nil {
		t.Fatal(err)
	}
	if n, _ := r.cat.CountKept(ctx, "ships"); n != 10 {
		t.Fatalf("kept %d, want the target of 10", n)
	}
	o.More = map[string]int{"ships": 5}
	if _, err := g.Run(ctx, o); err != nil {
		t.Fatal(err)
	}
	if n, _ := r.cat.CountKept(ctx, "ships"); n != 15 {
		t.Errorf("kept %d with 5 more asked for, want 15", n)
	}
	// The list has 30 URLs; a search for 15*1.5 = 23 of them stops short
	// of its end. Asking for more than it holds reads it to the end.
	o.More = map[string]int{"ships": 30}
	if _, err := g.Run(ctx, o); err != nil {
		t.Fatal(err)
	}
	ex, err = g.Exhausted(ctx, o)
	if err != nil || !ex["ships"] {
		t.Errorf("after reading the whole list: exhausted %v, %v; want exhausted", ex, err)
	}
}
