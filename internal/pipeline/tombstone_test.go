package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/project"
	"github.com/scour-dev/scour/internal/shard"
	"github.com/scour-dev/scour/internal/store"
)

// gatherShards runs gather as both shards of 2, then merges.
func gatherShards(t *testing.T, p *project.Project) {
	t.Helper()
	ctx := context.Background()
	for k := 0; k < 2; k++ {
		if _, err := (Gather{Shard: shard.Spec{K: k, N: 2}}).Do(ctx, p, quiet{}); err != nil {
			t.Fatalf("shard %d: %v", k, err)
		}
	}
	if _, err := Merge(ctx, p); err != nil {
		t.Fatal(err)
	}
}

func storeKeys(t *testing.T, p *project.Project, prefix string) map[string]bool {
	t.Helper()
	keys := map[string]bool{}
	if err := p.Store.List(context.Background(), prefix, func(i store.Info) error { keys[i.Key] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	return keys
}

// An image a person discarded never comes back: not when its bytes turn
// up under another name (another URL), neither in a plain gather nor in a
// shard whose catalog never heard of the discard, nor through merge.
func TestTombstonesAcrossShards(t *testing.T) {
	ctx := context.Background()
	p := newProject(t, baseYAML)
	gatherShards(t, p)
	kept, err := p.Catalog.CountKept(ctx, "red")
	if err != nil || kept != 8 {
		t.Fatalf("red kept %d after the sharded gather, want 8 (%v)", kept, err)
	}

	// A person discards one red image; clean carries the decision out.
	var victim catalog.Image
	p.Catalog.ForEachImage(ctx, catalog.ImageFilter{Class: "red"}, func(im catalog.Image) error {
		if victim.SHA256 == "" {
			victim = im
		}
		return nil
	})
	if err := p.Catalog.SetCleanDecision(ctx, victim.SHA256, "reject"); err != nil {
		t.Fatal(err)
	}
	if _, err := (Clean{Labeler: "none"}).Do(ctx, p, quiet{}); err != nil {
		t.Fatal(err)
	}
	aside, err := p.Catalog.GetImage(ctx, victim.SHA256)
	if err != nil || aside.Status != catalog.StatusQuarantined {
		t.Fatalf("after clean the discarded image is %+v (%v), want quarantined", aside, err)
	}

	// Its bytes come back under other names, several so that each shard
	// surely owns one of them.
	orig, err := p.Store.Get(ctx, aside.Key)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, victim.Bytes)
	if _, err := orig.Read(b); err != nil {
		t.Fatal(err)
	}
	orig.Close()
	for _, name := range []string{"again-1.png", "again-2.png", "again-3.png", "again-4.png", "again-5.png", "again-6.png"} {
		if err := os.WriteFile(filepath.Join(p.Dir, "photos", "red", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	check := func(when string) {
		t.Helper()
		im, err := p.Catalog.GetImage(ctx, victim.SHA256)
		if err != nil || im.Status != catalog.StatusQuarantined || im.Key != aside.Key {
			t.Fatalf("%s: the discarded image is %+v (%v), want it still quarantined at %s", when, im, err, aside.Key)
		}
		for k := range storeKeys(t, p, "images/") {
			if strings.Contains(k, victim.SHA256) {
				t.Fatalf("%s: its bytes are back at %s", when, k)
			}
		}
		if !storeKeys(t, p, "quarantine/")[aside.Key] {
			t.Fatalf("%s: its quarantined copy %s is gone", when, aside.Key)
		}
		if n, _ := p.Catalog.CountKept(ctx, "red"); n != 7 {
			t.Fatalf("%s: red has %d kept images, want 7", when, n)
		}
	}

	// Through shards that never heard of the discard, and merge.
	gatherShards(t, p)
	check("after sharded gather and merge")
	// Through a plain gather.
	if _, err := (Gather{}).Do(ctx, p, quiet{}); err != nil {
		t.Fatal(err)
	}
	check("after a plain gather")
	// And clean again: nothing it sees brings it back either.
	if _, err := (Clean{Labeler: "none"}).Do(ctx, p, quiet{}); err != nil {
		t.Fatal(err)
	}
	check("after clean again")
}
