package catalog

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
)

// addImages records one kept image per sha, in class "a".
func addImages(t *testing.T, c *Catalog, shas ...string) {
	t.Helper()
	ctx := context.Background()
	var outs []Outcome
	for i, sha := range shas {
		cd := cand("a", i)
		if _, err := c.AddCandidates(ctx, []Candidate{cd}); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, Outcome{URLID: URLID("a", cd.URL), Image: &Image{SHA256: sha, Class: "a", Key: "images/a/" + sha + ".jpg",
			Format: "jpeg", Width: 10, Height: 10, Bytes: 100}, HTTPStatus: 200})
	}
	if _, err := c.Record(ctx, outs); err != nil {
		t.Fatal(err)
	}
}

// A run replaces the flags it judged and no others, drops those of images
// that left the catalog, and replaces every group.
func TestRecordCleanRun(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	addImages(t, c, "a1", "a2")
	err := c.RecordCleanRun(ctx, []CleanVerdict{
		{Flag: CleanFlag{"a1", "blurry", 3, "laplacian", ""}, Flagged: true},
		{Flag: CleanFlag{"a1", "dark", 10, "mean", ""}, Flagged: true},
		{Flag: CleanFlag{"gone", "dark", 10, "mean", ""}, Flagged: true},
	}, []CleanGroup{{"a1", "a1", "kept"}, {"a2", "a1", "near"}})
	if err != nil {
		t.Fatal(err)
	}
	err = c.RecordCleanRun(ctx, []CleanVerdict{
		{Flag: CleanFlag{SHA256: "a1", Reason: "blurry"}},                     // no longer blurry
		{Flag: CleanFlag{"a2", "duplicate", 4, "phash", "a1"}, Flagged: true}, // newly flagged
		{Flag: CleanFlag{SHA256: "a2", Reason: "dark"}},                       // judged, not dark
	}, []CleanGroup{{"a2", "a2", "kept"}})
	if err != nil {
		t.Fatal(err)
	}
	flags, err := c.CleanFlags(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []CleanFlag{{"a1", "dark", 10, "mean", ""}, {"a2", "duplicate", 4, "phash", "a1"}}
	if !slices.Equal(flags, want) {
		t.Errorf("flags %+v, want %+v", flags, want)
	}
	if dark, err := c.CleanFlags(ctx, "dark"); err != nil || !slices.Equal(dark, want[:1]) {
		t.Errorf("dark flags %+v, %v", dark, err)
	}
	if gs, err := c.CleanGroups(ctx); err != nil || len(gs) != 1 || gs["a2"] != "a2" {
		t.Errorf("groups %v, %v; want only the second run's", gs, err)
	}
}

// The original key is the one of the first move, whatever moves follow;
// settling clears the move in flight.
func TestCleanMoveJournal(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	first := CleanMove{SHA256: "a1", OriginalKey: "images/a/a1.jpg", From: "images/a/a1.jpg", To: "quarantine/dark/a/a1.jpg",
		Status: StatusQuarantined, Reason: "dark", Method: "mean", Score: 10}
	if err := c.JournalCleanMove(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := c.SettleCleanMove(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	second := CleanMove{SHA256: "a1", OriginalKey: "quarantine/dark/a/a1.jpg", From: "quarantine/dark/a/a1.jpg", To: "quarantine/blurry/a/a1.jpg",
		Status: StatusQuarantined, Reason: "blurry", Method: "laplacian", Score: 3}
	if err := c.JournalCleanMove(ctx, second); err != nil {
		t.Fatal(err)
	}
	ps, err := c.PendingCleanMoves(ctx)
	want := second
	want.OriginalKey = first.OriginalKey
	if err != nil || !slices.Equal(ps, []CleanMove{want}) {
		t.Errorf("pending %+v, %v; want %+v", ps, err, want)
	}
	if ks, err := c.CleanOriginalKeys(ctx); err != nil || ks["a1"] != first.OriginalKey {
		t.Errorf("original keys %v, %v", ks, err)
	}
	if err := c.SettleCleanMove(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	if ps, err := c.PendingCleanMoves(ctx); err != nil || len(ps) != 0 {
		t.Errorf("pending after settling %+v, %v", ps, err)
	}
}

func TestCleanDecisions(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	for sha, d := range map[string]string{"a1": "keep", "a2": "reject", "a3": "reject"} {
		if err := c.SetCleanDecision(ctx, sha, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.SetCleanDecision(ctx, "a3", "keep"); err != nil {
		t.Fatal(err)
	}
	// Only a reject is dropped when one is named.
	for _, sha := range []string{"a1", "a2"} {
		if err := c.DeleteCleanDecision(ctx, sha, "reject"); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := c.CleanDecisions(ctx)
	if err != nil || len(ds) != 2 || ds["a1"] != "keep" || ds["a3"] != "keep" {
		t.Errorf("decisions %v, %v", ds, err)
	}
	if err := c.DeleteCleanDecision(ctx, "a1", ""); err != nil {
		t.Fatal(err)
	}
	if ds, err := c.CleanDecisions(ctx); err != nil || len(ds) != 1 {
		t.Errorf("decisions after forgetting a1: %v, %v", ds, err)
	}
}

// Labels round-trip exactly, and so do embeddings whose values float16
// holds exactly (embeddings_test.go checks the rounding); a damaged entry
// is left out so that clean asks the labeler again.
func TestCleanFeatures(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	fs := map[string]CleanFeatures{
		"a1": {Labels: []CleanLabel{{"tabby, tabby cat", 0.75}, {"tiger cat", 0.125}}, Embedding: []float32{0.625, -0.75}},
		"a2": {Labels: []CleanLabel{{"pier", 1}}},
	}
	if err := c.SaveCleanFeatures(ctx, "m", fs); err != nil {
		t.Fatal(err)
	}
	if _, err := c.db.ExecContext(ctx, `INSERT INTO clean_features(sha256, model, labels, embedding) VALUES('a3', 'm', 'not json', NULL), ('a4', 'm', '[]', X'000000')`); err != nil {
		t.Fatal(err)
	}
	got, err := c.CleanFeatures(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Errorf("%d entries, want the 2 whole ones", len(got))
	}
	for sha, f := range fs {
		if g := got[sha]; !slices.Equal(g.Labels, f.Labels) || !slices.Equal(g.Embedding, f.Embedding) || (g.Embedding == nil) != (f.Embedding == nil) {
			t.Errorf("%s: %+v, want %+v", sha, g, f)
		}
	}
	if other, err := c.CleanFeatures(ctx, "other"); err != nil || len(other) != 0 {
		t.Errorf("another model's cache: %v, %v", other, err)
	}
}

// A shard's measures and labels are facts about bytes: merging carries
// them into the project catalog, whatever stages the binary links.
func TestMergeCarriesCleanCaches(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	shard, err := Open(ctx, filepath.Join(t.TempDir(), "shard.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer shard.Close()
	addImages(t, shard, "a1")
	m := CleanMeasure{Width: 10, Height: 10, PixelHash: "p", PHash: 1 << 63, Sharpness: 5}
	if err := shard.SaveCleanMeasures(ctx, 2, 1000, map[string]CleanMeasure{"a1": m}); err != nil {
		t.Fatal(err)
	}
	if err := shard.SaveCleanFeatures(ctx, "m", map[string]CleanFeatures{"a1": {Labels: []CleanLabel{{"pier", 1}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Merge(ctx, shard); err != nil {
		t.Fatal(err)
	}
	var got []CleanMeasure
	err = c.ForEachCleanMeasure(ctx, 2, func(sha string, maxPixels int64, m CleanMeasure) error {
		if sha != "a1" || maxPixels != 1000 {
			t.Errorf("measure of %s under %d", sha, maxPixels)
		}
		got = append(got, m)
		return nil
	})
	if err != nil || !slices.Equal(got, []CleanMeasure{m}) {
		t.Errorf("merged measures %+v, %v", got, err)
	}
	if fs, err := c.CleanFeatures(ctx, "m"); err != nil || len(fs["a1"].Labels) != 1 {
		t.Errorf("merged labels %+v, %v", fs, err)
	}
}
