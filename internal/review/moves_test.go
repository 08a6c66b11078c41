package review

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/clean"
)

// misfile quarantines an image as clean does for one that belongs to
// another class: the reason misfiled, the flag's detail and the score's
// suggestion naming the class.
func (p *project) misfile(sha, suggest string, score, threshold float64) {
	p.t.Helper()
	p.quarantine(sha, reasonMisfiled, score)
	// Clean offers no writer for its flags: the test writes what a run
	// records, the suggested class as the flag's method.
	if err := p.cat.SetStatus(context.Background(), sha, catalog.StatusQuarantined, p.image(sha).Key, reasonMisfiled, suggest, score); err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.cat.DB().Exec(`INSERT OR REPLACE INTO clean_flags(sha256, reason, score, method, detail) VALUES(?,?,?,?,?)`,
		sha, reasonMisfiled, score, suggest, fmt.Sprintf("suggest %s: %.3f closer to that class than to its own (threshold %.3f)", suggest, score, threshold)); err != nil {
		p.t.Fatal(err)
	}
	p.score(catalog.Score{SHA256: sha, OffTopic: 0.2, OffTopicThreshold: 0.6, OffTopicMethod: "project", Misfiled: score, MisfiledThreshold: threshold, Suggest: suggest})
}

func (p *project) score(sc catalog.Score) {
	p.t.Helper()
	if err := p.cat.SaveScores(context.Background(), []catalog.Score{sc}); err != nil {
		p.t.Fatal(err)
	}
}

// ordered returns a and b so that the first has the larger hash: a test
// that gives it the larger score then fails if the page sorts by hash.
func ordered(a, b string) (string, string) {
	if a > b {
		return a, b
	}
	return b, a
}

func TestMoveThroughTheAPI(t *testing.T) {
	ctx := context.Background()
	p := newProject(t)
	p.add("Destroyers", photo(t, "Destroyers", 0))
	p.add("Tugs", photo(t, "Tugs", 0))
	tug1, tug2 := ordered(p.add("Destroyers", photo(t, "Tugs", 1)), p.add("Destroyers", photo(t, "Tugs", 2)))
	p.misfile(tug1, "Tugs", 0.91, 0.7)
	p.misfile(tug2, "Tugs", 0.74, 0.7)
	off1, off2 := ordered(p.add("Destroyers", photo(t, "Submarines", 0)), p.add("Tugs", photo(t, "Submarines", 1)))
	p.quarantine(off1, clean.ReasonOffTopic, 3)
	p.quarantine(off2, clean.ReasonOffTopic, 2)
	// Clean names every scored image's nearest other class; only a
	// misfiled one is offered a move.
	p.score(catalog.Score{SHA256: off1, OffTopic: 0.97, OffTopicThreshold: 0.6, OffTopicMethod: "project", Misfiled: 0.3, MisfiledThreshold: 0.7, Suggest: "Tugs"})
	p.score(catalog.Score{SHA256: off2, OffTopic: 0.61, OffTopicThreshold: 0.6, OffTopicMethod: "project", Misfiled: 0.1, MisfiledThreshold: 0.7, Suggest: "Destroyers"})
	quarantined := p.image(tug1).Key
	classes := []Class{{Name: "Destroyers"}, {Name: "Tugs"}}
	s, _ := p.start(classes)
	c := newClient(t, s)

	// Scores and suggestions are on the page, most doubtful first.
	st := c.shown()
	var order []string
	for _, it := range st {
		order = append(order, it.SHA256)
	}
	if want := []string{off1, off2, tug1, tug2}; len(order) != 4 || order[0] != want[0] || order[1] != want[1] || order[2] != want[2] || order[3] != want[3] {
		t.Errorf("order %v, want off-topic then misfiled, most doubtful first: %v", order, want)
	}
	it, _ := shownItem(st, tug1)
	if it.Misfiled == nil || *it.Misfiled != 0.91 || *it.MisfiledThreshold != 0.7 || it.Suggest != "Tugs" || it.OffTopic == nil || *it.OffTopic != 0.2 {
		t.Errorf("misfiled item %+v", it)
	}
	if it, _ := shownItem(st, off2); it.Misfiled == nil || *it.Misfiled != 0.1 || it.OffTopic == nil || *it.OffTopic != 0.61 || it.Suggest != "" {
		t.Errorf("off-topic item %+v", it)
	}

	// Bad requests change nothing.
	for _, body := range []map[string]string{
		{"sha256": tug1, "decision": "move"},
		{"sha256": tug1, "decision": "keep", "class": "Tugs"},
	} {
		if code, _ := c.post("/api/decide", body, nil); code != http.StatusBadRequest {
			t.Errorf("%v: status %d, want 400", body, code)
		}
	}
	for _, class := range []string{"Submarines", "Destroyers", "../images"} {
		if code, body := c.post("/api/decide", map[string]string{"sha256": tug1, "decision": "move", "class": class}, nil); code != http.StatusConflict {
			t.Errorf("move to %q: %d %v, want 409", class, code, body)
		}
	}
	if im := p.image(tug1); im.Class != "Destroyers" || im.Key != quarantined {
		t.Fatalf("a refused move changed the image: %+v", im)
	}

	// The move: catalog, store, clean's decision, the record to learn from.
	if code, body := c.post("/api/decide", map[string]string{"sha256": tug1, "decision": "move", "class": "Tugs"}, nil); code != http.StatusOK {
		t.Fatalf("move: %d %v", code, body)
	}
	moved := "images/Tugs/" + tug1 + ".jpg"
	checkMoved := func(when string) {
		t.Helper()
		im := p.image(tug1)
		if im.Class != "Tugs" || im.Key != moved || im.Status != catalog.StatusKept || !p.onDisk(moved) || p.onDisk(quarantined) || p.cleanDecision(tug1) != clean.DecisionKeep {
			t.Fatalf("%s: %+v, on disk %v, quarantine copy %v, clean decision %q", when, im, p.onDisk(moved), p.onDisk(quarantined), p.cleanDecision(tug1))
		}
		it, ok := shownItem(c.shown(), tug1)
		if !ok || it.Decision != verdictMove || it.Class != "Destroyers" || it.MovedTo != "Tugs" || it.Reason != reasonMisfiled {
			t.Fatalf("%s: the page shows %+v", when, it)
		}
		ds, err := p.cat.ReviewExamples(ctx)
		if err != nil || len(ds) != 1 || ds[0].SHA256 != tug1 || ds[0].Decision != catalog.ReviewMove || ds[0].Class != "Tugs" || ds[0].FromClass != "Destroyers" || ds[0].DecidedAt == "" {
			t.Fatalf("%s: review decisions %+v %v", when, ds, err)
		}
	}
	checkMoved("after the move")
	s.Close()
	s, _ = p.start(classes)
	c = newClient(t, s)
	checkMoved("after a restart")

	// Undo puts it back in quarantine as clean left it; restore then puts
	// it back where gather stored it.
	if code, body := c.post("/api/undo", map[string]string{"sha256": ""}, nil); code != http.StatusOK || body["sha256"] != tug1 {
		t.Fatalf("undo: %d %v", code, body)
	}
	if im := p.image(tug1); im.Class != "Destroyers" || im.Key != quarantined || im.Status != catalog.StatusQuarantined || im.Reason != reasonMisfiled ||
		!p.onDisk(quarantined) || p.onDisk(moved) || p.cleanDecision(tug1) != "" {
		t.Fatalf("after undo: %+v, clean decision %q", im, p.cleanDecision(tug1))
	}
	if it, _ := shownItem(c.shown(), tug1); it.Decision != "" || it.MovedTo != "" {
		t.Fatalf("after undo the page shows %+v", it)
	}
	if ds, _ := p.cat.ReviewExamples(ctx); len(ds) != 0 {
		t.Fatalf("after undo: review decisions %+v", ds)
	}
	if sum, err := clean.Restore(ctx, clean.RestoreOptions{Catalog: p.cat, Store: p.store, SHA256: tug1}); err != nil || sum.Restored != 1 {
		t.Fatalf("restore: %+v %v", sum, err)
	}
	if want := "images/Destroyers/" + tug1 + ".jpg"; p.image(tug1).Key != want || !p.onDisk(want) {
		t.Fatalf("restored to %+v, want %s", p.image(tug1), want)
	}

	// Keep after a move: the move is undone first, then the image kept
	// where it was found. Every decision is readable with class and time.
	if code, body := c.post("/api/decide", map[string]string{"sha256": tug2, "decision": "move", "class": "Tugs"}, nil); code != http.StatusOK {
		t.Fatalf("move: %d %v", code, body)
	}
	if code, body := c.post("/api/decide", map[string]string{"sha256": tug2, "decision": "keep"}, nil); code != http.StatusOK {
		t.Fatalf("keep: %d %v", code, body)
	}
	if im := p.image(tug2); im.Class != "Destroyers" || im.Key != "images/Destroyers/"+tug2+".jpg" || im.Status != catalog.StatusKept {
		t.Fatalf("kept after a move: %+v", im)
	}
	if code, body := c.post("/api/decide", map[string]string{"sha256": off2, "decision": "discard"}, nil); code != http.StatusOK {
		t.Fatalf("discard: %d %v", code, body)
	}
	ds, err := p.cat.ReviewExamples(ctx)
	if err != nil || len(ds) != 2 || ds[0].SHA256 != tug2 || ds[0].Decision != catalog.ReviewKeep || ds[0].Class != "Destroyers" ||
		ds[1].SHA256 != off2 || ds[1].Decision != catalog.ReviewDiscard || ds[1].Class != "Tugs" || ds[0].DecidedAt > ds[1].DecidedAt {
		t.Fatalf("review decisions %+v %v", ds, err)
	}
}

// A crash between the page's record of a move and clean's is settled when
// the page starts again.
func TestMoveRecoversAfterACrash(t *testing.T) {
	ctx := context.Background()
	p := newProject(t)
	tug := p.add("Destroyers", photo(t, "Tugs", 1))
	p.misfile(tug, "Tugs", 0.9, 0.7)
	quarantined := p.image(tug).Key
	classes := []Class{{Name: "Destroyers"}, {Name: "Tugs"}}
	s, _ := p.start(classes)

	// The page recorded the move, then the process died before clean moved
	// anything: the decision is forgotten.
	if err := s.save(ctx, p.image(tug), verdictMove); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, _ = p.start(classes)
	if _, ok, err := s.current(ctx, tug); ok || err != nil {
		t.Fatalf("a move that never happened is still a decision (%v)", err)
	}

	// Moved, then the undo died after the bytes went back: finished.
	if err := s.moveTo(ctx, tug, "Tugs"); err != nil {
		t.Fatal(err)
	}
	d, _, _ := s.current(ctx, tug)
	if err := s.markUndoing(ctx, tug, true); err != nil {
		t.Fatal(err)
	}
	if err := clean.UndoReclass(ctx, p.cat, p.store, tug, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, _ = p.start(classes)
	if _, ok, _ := s.current(ctx, tug); ok {
		t.Fatal("an undo that finished in clean is still a decision")
	}
	if im := p.image(tug); im.Key != quarantined || im.Class != "Destroyers" {
		t.Fatalf("after recovery: %+v", im)
	}
	if d.Decision != verdictMove {
		t.Fatalf("recorded decision %+v", d)
	}
	if _, err := p.cat.GetClassMove(ctx, tug); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("class move still recorded: %v", err)
	}
}
