package catalog

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The export carries clean's scores after the columns it always had, and a
// view clean did not judge is empty, not a zero that reads as "fine".
func TestExportScores(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	var cands []Candidate
	for i := range 4 {
		cands = append(cands, cand("tugs", i))
	}
	if _, err := c.AddCandidates(ctx, cands); err != nil {
		t.Fatal(err)
	}
	outs := []Outcome{
		{URLID: URLID("tugs", cands[0].URL), Image: &Image{SHA256: "aa", Class: "tugs", Key: "images/tugs/aa.jpg", Format: "jpeg", Width: 5, Height: 6, Bytes: 7}},
		{URLID: URLID("tugs", cands[1].URL), Image: &Image{SHA256: "bb", Class: "tugs", Key: "images/tugs/bb.jpg", Format: "jpeg", Width: 5, Height: 6, Bytes: 7}},
		{URLID: URLID("tugs", cands[2].URL), Image: &Image{SHA256: "cc", Class: "tugs", Key: "images/tugs/cc.jpg", Format: "jpeg", Width: 5, Height: 6, Bytes: 7}},
		{URLID: URLID("tugs", cands[3].URL), Cause: "http-404", HTTPStatus: 404},
	}
	if _, err := c.Record(ctx, outs); err != nil {
		t.Fatal(err)
	}
	// aa: both views judged, misfiled with a suggestion; bb: scored but only
	// the off-topic view judged; cc: never scored.
	scores := []Score{
		{SHA256: "aa", OffTopic: 0.125, OffTopicThreshold: 0.5, OffTopicMethod: "project", Misfiled: 0.9375, MisfiledThreshold: 0.75, Suggest: "destroyers"},
		{SHA256: "bb", OffTopic: 0.8125, OffTopicThreshold: 0.5, OffTopicMethod: "outlier"},
	}
	if err := c.SaveScores(ctx, scores); err != nil {
		t.Fatal(err)
	}

	var buf bytes.Buffer
	if err := c.Export(ctx, &buf, "csv"); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	old := []string{"status", "reason", "sha256", "class", "engine", "query", "rank", "url", "page_url", "title", "license", "author", "http_status", "key", "format", "width", "height", "bytes", "phash", "fetched_at"}
	added := []string{"offtopic_score", "offtopic_threshold", "offtopic_method", "misfiled_score", "misfiled_threshold", "suggested_class"}
	if h := recs[0]; !slices.Equal(h, slices.Concat(old, added)) {
		t.Fatalf("header %v, want the old columns in their order, then %v", h, added)
	}
	bySHA := map[string]map[string]string{}
	for _, rec := range recs[1:] {
		if len(rec) != len(recs[0]) {
			t.Fatalf("record %v has %d fields, header %d", rec, len(rec), len(recs[0]))
		}
		m := map[string]string{}
		for i, name := range recs[0] {
			m[name] = rec[i]
		}
		bySHA[m["sha256"]] = m
	}
	want := map[string][]string{
		"aa": {"0.125", "0.5", "project", "0.9375", "0.75", "destroyers"},
		"bb": {"0.8125", "0.5", "outlier", "", "", ""},
		"cc": {"", "", "", "", "", ""},
		"":   {"", "", "", "", "", ""}, // the failed URL
	}
	for sha, vals := range want {
		for i, name := range added {
			if got := bySHA[sha][name]; got != vals[i] {
				t.Errorf("csv row %q: %s = %q, want %q", sha, name, got, vals[i])
			}
		}
	}

	buf.Reset()
	if err := c.Export(ctx, &buf, "jsonl"); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for line := range strings.Lines(buf.String()) {
		var raw map[string]any
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatal(err)
		}
		switch raw["sha256"] {
		case "aa":
			seen++
			if raw["misfiled_score"] != 0.9375 || raw["misfiled_threshold"] != 0.75 || raw["suggested_class"] != "destroyers" || raw["offtopic_score"] != 0.125 {
				t.Errorf("jsonl row aa: %v", raw)
			}
		case "bb":
			seen++
			if _, ok := raw["misfiled_score"]; ok || raw["offtopic_score"] != 0.8125 || raw["offtopic_method"] != "outlier" {
				t.Errorf("jsonl row bb: %v (an unjudged view must be absent)", raw)
			}
		}
	}
	if seen != 2 {
		t.Errorf("jsonl: found %d of the 2 scored rows", seen)
	}
	// The scores survive a round trip through ExportRow exactly.
	err = c.ForEachExportRow(ctx, func(r ExportRow) error {
		if r.SHA256 == "aa" && (r.Misfiled == nil || strconv.FormatFloat(*r.Misfiled, 'g', -1, 64) != "0.9375") {
			t.Errorf("row aa: misfiled %v", r.Misfiled)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
