package catalogbench

import (
	"context"
	"strings"
	"testing"
)

func TestRunSmall(t *testing.T) {
	r, err := Run(context.Background(), Options{Rows: 4000, Shards: 2, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// 2000 rows a shard: 1800 fetched each, of which the 20 at multiples
	// of 100 are the same bytes in both shards.
	var merge string
	for _, s := range r.Steps {
		if s.Name == "merge shard catalogs" {
			merge = s.Note
		}
	}
	if want := "4000 URL rows, 3580 images, 20 cross-shard duplicates"; merge != want {
		t.Errorf("merge: %q, want %q", merge, want)
	}
	if r.Delta.Whole || r.Delta.Changed == 0 || r.Delta.Bytes >= r.Whole.Bytes/2 {
		t.Errorf("the second upload is not a small delta: whole %+v, delta %+v", r.Whole, r.Delta)
	}
	if len(r.Steps) != 11 || !strings.Contains(r.String(), "fingerprint split") {
		t.Errorf("steps: %s", r)
	}
}
