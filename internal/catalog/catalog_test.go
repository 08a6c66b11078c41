package catalog

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/permtest"
)

func open(t *testing.T) *Catalog {
	t.Helper()
	c, err := Open(context.Background(), filepath.Join(t.TempDir(), "scour.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func cand(class string, i int) Candidate {
	return Candidate{URL: fmt.Sprintf("http://example.test/%d.jpg", i), Class: class, Engine: "urls", Rank: i}
}

func TestCandidatesAreIdempotent(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	var cs []Candidate
	for i := 0; i < 10; i++ {
		cs = append(cs, cand("a", i))
	}
	n, err := c.AddCandidates(ctx, cs)
	if err != nil || n != 10 {
		t.Fatalf("added %d, %v", n, err)
	}
	n, err = c.AddCandidates(ctx, append(cs, cand("b", 0)))
	if err != nil || n != 1 {
		t.Fatalf("re-adding: added %d, want 1 (only the new class's row), %v", n, err)
	}
}

func TestForEachTodoPages(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	var cs []Candidate
	for i := 0; i < 2500; i++ {
		cs = append(cs, cand("a", i))
	}
	if _, err := c.AddCandidates(ctx, cs); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	pages := 0
	err := c.ForEachTodo(ctx, 300, false, func(rows []URLRow) error {
		pages++
		for _, r := range rows {
			if seen[r.ID] {
				t.Fatalf("row %s seen twice", r.ID)
			}
			seen[r.ID] = true
		}
		// Recording outcomes while iterating must not disturb the walk.
		var outs []Outcome
		for _, r := range rows[:len(rows)/2] {
			outs = append(outs, Outcome{URLID: r.ID, Cause: "http-500", Err: "HTTP 500", Retryable: true})
		}
		_, err := c.Record(ctx, outs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2500 || pages != 9 {
		t.Fatalf("saw %d rows in %d pages", len(seen), pages)
	}
	// Half failed retryably: without retryFailed only the pending half comes back.
	count := func(retry bool) int {
		n := 0
		c.ForEachTodo(ctx, 1000, retry, func(rows []URLRow) error { n += len(rows); return nil })
		return n
	}
	failed := 0
	for _, p := range []int{300, 300, 300, 300, 300, 300, 300, 300, 100} {
		failed += p / 2
	}
	if n := count(false); n != 2500-failed {
		t.Fatalf("pending %d, want %d", n, 2500-failed)
	}
	if n := count(true); n != 2500 {
		t.Fatalf("pending+retryable %d, want 2500", n)
	}
}

func TestRecordDuplicatesAndReplay(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	a, b := cand("a", 1), cand("b", 2)
	c.AddCandidates(ctx, []Candidate{a, b})
	ida, idb := URLID("a", a.URL), URLID("b", b.URL)
	img := func(class string) *Image {
		return &Image{SHA256: "ff00", Class: class, Key: "images/" + class + "/ff00.jpg", Format: "jpeg", Width: 10, Height: 10, Bytes: 100, PHash: 1 << 63}
	}
	res, err := c.Record(ctx, []Outcome{{URLID: ida, Image: img("a"), HTTPStatus: 200}, {URLID: idb, Image: img("b"), HTTPStatus: 200}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].State != StateDone || res[1].State != StateDuplicate || res[1].Duplicate.Key != "images/a/ff00.jpg" {
		t.Fatalf("resolutions %+v %+v", res[0], res[1])
	}
	// Replaying the first outcome (a crash after commit, before the caller
	// knew) must not turn the original into a duplicate of itself.
	res, err = c.Record(ctx, []Outcome{{URLID: ida, Image: img("a"), HTTPStatus: 200}})
	if err != nil || res[0].State != StateDone {
		t.Fatalf("replay: %+v %v", res, err)
	}
	im, err := c.GetImage(ctx, "ff00")
	if err != nil || im.PHash != 1<<63 || im.Class != "a" {
		t.Fatalf("image %+v %v", im, err)
	}
	counts, _ := c.CountImages(ctx)
	if counts["a"]["kept"] != 1 || len(counts) != 1 {
		t.Fatalf("counts %v", counts)
	}
}

func TestExport(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	a, b := cand("a", 1), cand("a", 2)
	a.License, a.Title = "CC BY-SA 4.0", "a, with comma"
	c.AddCandidates(ctx, []Candidate{a, b})
	c.Record(ctx, []Outcome{
		{URLID: URLID("a", a.URL), Image: &Image{SHA256: "abc", Class: "a", Key: "images/a/abc.png", Format: "png", Width: 5, Height: 6, Bytes: 7}, HTTPStatus: 200},
		{URLID: URLID("a", b.URL), Cause: "http-404", Err: "HTTP 404 Not Found", HTTPStatus: 404},
	})
	var buf bytes.Buffer
	if err := c.Export(ctx, &buf, "csv"); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 3 {
		t.Fatalf("csv: %d records, %v", len(recs), err)
	}
	byStatus := map[string][]string{}
	for _, r := range recs[1:] {
		byStatus[r[0]] = r
	}
	if k := byStatus["kept"]; k == nil || k[9] != "a, with comma" || k[10] != "CC BY-SA 4.0" || k[14] != "png" {
		t.Fatalf("kept row %v", k)
	}
	if f := byStatus["failed"]; f == nil || !strings.HasPrefix(f[1], "http-404") || f[12] != "404" {
		t.Fatalf("failed row %v", f)
	}
	buf.Reset()
	if err := c.Export(ctx, &buf, "jsonl"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var row ExportRow
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &row) != nil {
		t.Fatalf("jsonl %q", buf.String())
	}
	if err := c.Export(ctx, &buf, "xml"); err == nil {
		t.Fatal("unknown format accepted")
	}
}

func TestDamagedCatalogIsFatalAndUntouched(t *testing.T) {
	p := filepath.Join(t.TempDir(), "scour.db")
	junk := bytes.Repeat([]byte("this is not a database "), 500)
	os.WriteFile(p, junk, 0o644)
	_, err := Open(context.Background(), p)
	if err == nil || !errkind.IsFatal(err) || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("want a fatal 'damaged' error, got %v", err)
	}
	after, _ := os.ReadFile(p)
	if !bytes.Equal(after, junk) {
		t.Fatal("Open modified a damaged catalog")
	}
}

func TestReadOnlyDirectory(t *testing.T) {
	permtest.ReadOnlyDir(t, func(t *testing.T, d string) {
		p := filepath.Join(d, "scour.db")
		_, err := Open(context.Background(), p)
		if err == nil || !errkind.IsFatal(err) {
			t.Fatalf("want fatal error, got %v", err)
		}
		if msg := err.Error(); !strings.Contains(msg, p) || !strings.Contains(msg, "permissions") {
			t.Errorf("%q does not name the catalog and say what to check", msg)
		}
		if ents, _ := os.ReadDir(d); len(ents) != 0 {
			t.Errorf("a refused Open left %d files", len(ents))
		}
	})
}

// TestConcurrentOpenMigratesOnce: several processes (here, handles) opening
// a new catalog at once, as shards sharing a project directory do.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	p := filepath.Join(t.TempDir(), "scour.db")
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			c, err := Open(context.Background(), p)
			if err == nil {
				c.Close()
			}
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestScoresRoundTrip(t *testing.T) {
	ctx := context.Background()
	c, err := Open(ctx, filepath.Join(t.TempDir(), "scour.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in := []Score{{SHA256: "a", OffTopic: 0.7, OffTopicThreshold: 0.5, OffTopicMethod: "project", Misfiled: 0.9, MisfiledThreshold: 0.8, Suggest: "Cruise Ships"}, {SHA256: "b"}}
	if err := c.SaveScores(ctx, in); err != nil {
		t.Fatal(err)
	}
	in[0].OffTopic = 0.2 // a later run overwrites
	if err := c.SaveScores(ctx, in[:1]); err != nil {
		t.Fatal(err)
	}
	got, err := c.Scores(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["a"] != in[0] || got["b"] != in[1] {
		t.Fatalf("scores = %+v, want %+v", got, in)
	}
}
