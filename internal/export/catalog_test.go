package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"testing"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/store"
)

// TestExportFromCatalog runs both exports over a real catalog and a local
// store, filled the way gather and clean fill them: CatalogRows and the
// ExportRow statuses must agree with what the writers expect.
func TestExportFromCatalog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cat, err := catalog.Open(ctx, filepath.Join(dir, "scour.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	st, err := store.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}

	var cands []catalog.Candidate
	for i := range 6 {
		cands = append(cands, catalog.Candidate{URL: fmt.Sprintf("https://img.example/%d.png", i), Class: testClasses[i%3], Engine: "commons",
			Query: "ships", Rank: i, Title: fmt.Sprintf("Ship %d", i), License: "CC0", Author: "A. Sailor"})
	}
	if _, err := cat.AddCandidates(ctx, cands); err != nil {
		t.Fatal(err)
	}
	// URLs 0-3 bring four different images, URL 4 the bytes of URL 0 again,
	// URL 5 fails; then clean quarantines image 2.
	var outs []catalog.Outcome
	var shas []string
	for i := range 5 {
		data := testImage(t, "png", 20+i%4, 20, i%4)
		sha := sha256Hex(data)
		key := "images/" + cands[i].Class + "/" + sha + ".png"
		if err := st.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		shas = append(shas, sha)
		outs = append(outs, catalog.Outcome{URLID: catalog.URLID(cands[i].Class, cands[i].URL), HTTPStatus: 200, Image: &catalog.Image{
			SHA256: sha, Class: cands[i].Class, Key: key, Format: "png", Width: 20 + i%4, Height: 20, Bytes: int64(len(data)), PHash: uint64(i)}})
	}
	outs = append(outs, catalog.Outcome{URLID: catalog.URLID(cands[5].Class, cands[5].URL), Cause: "http-404", HTTPStatus: 404})
	if _, err := cat.Record(ctx, outs); err != nil {
		t.Fatal(err)
	}
	if err := cat.SetStatus(ctx, shas[2], catalog.StatusQuarantined, "quarantine/"+shas[2]+".png", "off-topic", "model", 0.9); err != nil {
		t.Fatal(err)
	}

	// Clean scored every image; image 2 is misfiled, with a suggestion.
	if err := cat.SaveScores(ctx, []catalog.Score{
		{SHA256: shas[0], OffTopic: 0.1, OffTopicThreshold: 0.6, OffTopicMethod: "project", Misfiled: 0.2, MisfiledThreshold: 0.7},
		{SHA256: shas[2], OffTopic: 0.3, OffTopicThreshold: 0.6, OffTopicMethod: "project", Misfiled: 0.95, MisfiledThreshold: 0.7, Suggest: testClasses[0]},
	}); err != nil {
		t.Fatal(err)
	}

	open := func(key string) (io.ReadCloser, error) { return st.Get(ctx, key) }
	if _, err := CatalogSplit(ctx, cat); !errors.Is(err, ErrNoSplit) {
		t.Fatalf("before split: got %v, want ErrNoSplit", err)
	}
	// The split placed images 0 and 3 in train and 1 in val; image 5 was
	// gathered after it and is in no set.
	if err := cat.ReplaceSplit(ctx, 1, []catalog.Assignment{{SHA256: shas[0], Split: "train"}, {SHA256: shas[1], Split: "val"}, {SHA256: shas[3], Split: "train"}}); err != nil {
		t.Fatal(err)
	}
	splitOf, err := CatalogSplit(ctx, cat)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := WriteWebDataset(ctx, CatalogRows(ctx, cat), open, splitOf, filepath.Join(dir, "wds"), 1, testClasses)
	if err != nil {
		t.Fatal(err)
	}
	// Kept: images 0, 1, 3. Not 2 (quarantined), 4 (duplicate of 0), 5 (failed).
	wantShards := []string{"train-000000.tar", "train-000001.tar", "val-000000.tar"}
	var shardNames []string
	for _, s := range sum.Shards {
		shardNames = append(shardNames, filepath.Base(s))
	}
	if sum.Samples != 3 || !slices.Equal(shardNames, wantShards) || sum.Splits["train"] != 2 || sum.Splits["val"] != 1 || sum.Unsplit != 0 {
		t.Fatalf("summary %+v, want 3 samples in %q", sum, wantShards)
	}
	var names []string
	for _, s := range sum.Shards {
		for _, m := range readTar(t, s) {
			names = append(names, m.name)
		}
	}
	got := map[string]bool{}
	for _, n := range names {
		got[n] = true
	}
	if shas[4] != shas[0] {
		t.Fatal("the fixture's images 0 and 4 should be the same bytes")
	}
	if len(names) != 9 {
		t.Errorf("%d members, want 9", len(names))
	}
	for i, sha := range shas[:4] {
		if want := i != 2; got[sha+".png"] != want {
			t.Errorf("image %d in the shards: %v, want %v", i, got[sha+".png"], want)
		}
	}

	path := filepath.Join(dir, "catalog.parquet")
	n, err := WriteParquet(ctx, CatalogRows(ctx, cat), path)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(cands) {
		t.Fatalf("wrote %d rows, want one per URL (%d)", n, len(cands))
	}
	statuses := map[string]int{}
	checkParquetSchema(t, openParquet(t, path))
	for _, row := range readParquet(t, openParquet(t, path)) {
		image := row["status"] == catalog.StatusKept || row["status"] == catalog.StatusQuarantined
		switch {
		case image && row["sha256"] == shas[2]:
			if row["misfiled_score"] != 0.95 || row["misfiled_threshold"] != 0.7 || row["suggested_class"] != testClasses[0] || row["offtopic_method"] != "project" {
				t.Errorf("misfiled row: %v", row)
			}
		case image && row["sha256"] == shas[0]:
			if row["misfiled_score"] != 0.2 || row["offtopic_score"] != 0.1 || row["suggested_class"] != nil {
				t.Errorf("scored row: %v", row)
			}
		default:
			if row["misfiled_score"] != nil || row["offtopic_threshold"] != nil || row["suggested_class"] != nil {
				t.Errorf("row %v has scores: only an image clean scored has them", row)
			}
		}
		statuses[row["status"].(string)]++
		if row["status"] == catalog.StatusKept && row["fetched_at"] == nil {
			t.Errorf("kept row %v has no fetched_at", row["url"])
		}
	}
	want := map[string]int{"kept": 3, "quarantined": 1, "duplicate": 1, "failed": 1}
	if fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}
}
