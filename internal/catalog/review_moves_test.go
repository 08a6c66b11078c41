package catalog

import (
	"context"
	"errors"
	"testing"
)

// A class move changes the image's class only when it is finished, and
// undoing it gives the old class back; the export follows the image.
func TestClassMoves(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	a := cand("Destroyers", 1)
	if _, err := c.AddCandidates(ctx, []Candidate{a}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Record(ctx, []Outcome{{URLID: URLID("Destroyers", a.URL), Image: &Image{SHA256: "aa", Class: "Destroyers", Key: "images/Destroyers/aa.jpg", Format: "jpeg", Width: 5, Height: 6, Bytes: 7}}}); err != nil {
		t.Fatal(err)
	}
	exportClass := func() string {
		var class string
		if err := c.ForEachExportRow(ctx, func(r ExportRow) error { class = r.Class; return nil }); err != nil {
			t.Fatal(err)
		}
		return class
	}
	m := ClassMove{SHA256: "aa", FromClass: "Destroyers", ToClass: "Tugs", FromKey: "images/Destroyers/aa.jpg", ToKey: "images/Tugs/aa.jpg", FromStatus: StatusKept}
	if err := c.BeginClassMove(ctx, m); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetClassMove(ctx, "aa")
	if err != nil || got.State != MoveMoving || got.MovedAt == "" || got.ToClass != "Tugs" {
		t.Fatalf("begun move %+v %v", got, err)
	}
	if im, _ := c.GetImage(ctx, "aa"); im.Class != "Destroyers" || exportClass() != "Destroyers" {
		t.Fatalf("class changed before the move finished: %+v", im)
	}
	if err := c.FinishClassMove(ctx, "aa"); err != nil {
		t.Fatal(err)
	}
	if im, _ := c.GetImage(ctx, "aa"); im.Class != "Tugs" || exportClass() != "Tugs" {
		t.Fatalf("after the move: image class %q, export class %q", im.Class, exportClass())
	}
	if ms, err := c.ClassMoves(ctx); err != nil || len(ms) != 1 || ms[0].State != MoveDone {
		t.Fatalf("moves %+v %v", ms, err)
	}
	if err := c.UndoneClassMove(ctx, "aa"); err != nil {
		t.Fatal(err)
	}
	if im, _ := c.GetImage(ctx, "aa"); im.Class != "Destroyers" || exportClass() != "Destroyers" {
		t.Fatalf("after undo: %+v", im)
	}
	if _, err := c.GetClassMove(ctx, "aa"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the undone move is still there: %v", err)
	}
	if err := c.FinishClassMove(ctx, "aa"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("finishing a move never begun: %v", err)
	}
	// The review page never ran in this catalog (its table is the page's
	// own): no decisions, not an error.
	if ds, err := c.ReviewExamples(ctx); err != nil || len(ds) != 0 {
		t.Fatalf("review decisions %+v %v", ds, err)
	}
}
