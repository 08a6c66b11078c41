package clean

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/progress"
)

// misfiledProject holds three destroyers and a tug filed among them, which
// clean has quarantined as misfiled, the way clean moves images.
func misfiledProject(t *testing.T) (*project, string) {
	t.Helper()
	p := newProject(t)
	for _, data := range boats(t, "Destroyers", 3) {
		p.add("Destroyers", data)
	}
	tug := p.add("Destroyers", boat(t, "Tugs", "0.jpg"))
	im := p.image(tug)
	to := quarantineKey("misfiled", im.Class, tug, im.Key)
	if err := (mover{p.cat, p.store}).move(context.Background(), im, to, target{status: catalog.StatusQuarantined, reason: "misfiled", method: "head", score: 0.93}); err != nil {
		t.Fatal(err)
	}
	return p, tug
}

func (p *project) decision(sha string) string {
	p.t.Helper()
	d, err := p.cat.CleanDecision(context.Background(), sha)
	if err != nil {
		p.t.Fatal(err)
	}
	return d
}

func TestReclassUndoAndRestore(t *testing.T) {
	ctx := context.Background()
	p, tug := misfiledProject(t)
	quarantined := p.image(tug)
	mv, err := Reclass(ctx, ReclassOptions{Catalog: p.cat, Store: p.store, SHA256: tug, Class: "Tugs"})
	if err != nil {
		t.Fatal(err)
	}
	moved := "images/Tugs/" + tug + ".jpg"
	im := p.image(tug)
	if mv.To != moved || im.Class != "Tugs" || im.Key != moved || im.Status != catalog.StatusKept || im.Reason != "" ||
		!p.exists(moved) || p.exists(quarantined.Key) || p.decision(tug) != DecisionKeep {
		t.Fatalf("after the move: %+v, %s exists %v, old key exists %v, decision %q", im, moved, p.exists(moved), p.exists(quarantined.Key), p.decision(tug))
	}
	cm, err := p.cat.GetClassMove(ctx, tug)
	if err != nil || cm.FromClass != "Destroyers" || cm.ToClass != "Tugs" || cm.FromKey != quarantined.Key || cm.State != catalog.MoveDone || cm.MovedAt == "" {
		t.Fatalf("recorded move %+v, %v", cm, err)
	}
	// A later run leaves the person's move alone.
	p.run(Options{})
	if im := p.image(tug); im.Class != "Tugs" || im.Key != moved || im.Status != catalog.StatusKept {
		t.Fatalf("after a clean run: %+v", im)
	}
	// Quarantined again in its new class, restore puts it back there, not
	// where gather first stored it.
	if err := (mover{p.cat, p.store}).move(ctx, p.image(tug), quarantineKey(ReasonBlurry, "Tugs", tug, moved), target{status: catalog.StatusQuarantined, reason: ReasonBlurry}); err != nil {
		t.Fatal(err)
	}
	if sum, err := Restore(ctx, RestoreOptions{Catalog: p.cat, Store: p.store, SHA256: tug}); err != nil || sum.Restored != 1 {
		t.Fatalf("restore: %+v, %v", sum, err)
	}
	if im := p.image(tug); im.Key != moved || !p.exists(moved) {
		t.Fatalf("restored to %s (exists %v), want %s", im.Key, p.exists(im.Key), moved)
	}

	// Undo: back in quarantine as clean left it, with no decision, and
	// restore then puts it where gather stored it.
	if err := UndoReclass(ctx, p.cat, p.store, tug, progress.Discard); err != nil {
		t.Fatal(err)
	}
	im = p.image(tug)
	if im.Class != "Destroyers" || im.Key != quarantined.Key || im.Status != catalog.StatusQuarantined || im.Reason != "misfiled" ||
		im.Score != 0.93 || im.Method != "head" || !p.exists(quarantined.Key) || p.exists(moved) || p.decision(tug) != "" {
		t.Fatalf("after undo: %+v, decision %q, files %v", im, p.decision(tug), p.files())
	}
	if _, err := p.cat.GetClassMove(ctx, tug); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("the move is still recorded after undo: %v", err)
	}
	if sum, err := Restore(ctx, RestoreOptions{Catalog: p.cat, Store: p.store, SHA256: tug}); err != nil || sum.Restored != 1 {
		t.Fatalf("restore: %+v, %v", sum, err)
	}
	if want := "images/Destroyers/" + tug + ".jpg"; p.image(tug).Key != want || !p.exists(want) || p.image(tug).Class != "Destroyers" {
		t.Fatalf("restored to %+v, want %s", p.image(tug), want)
	}
}

// A kept image (misfiled but not quarantined, or kept by a person) moves
// from images/<old>/ and its undo returns it there, decision and all.
func TestReclassKeptImage(t *testing.T) {
	ctx := context.Background()
	p := newProject(t)
	sha := p.add("Destroyers", boat(t, "Tugs", "10.jpg"))
	if err := SetDecision(ctx, p.cat, sha, DecisionKeep); err != nil {
		t.Fatal(err)
	}
	from := p.image(sha).Key
	if _, err := Reclass(ctx, ReclassOptions{Catalog: p.cat, Store: p.store, SHA256: sha, Class: "Tugs"}); err != nil {
		t.Fatal(err)
	}
	if err := UndoReclass(ctx, p.cat, p.store, sha, nil); err != nil {
		t.Fatal(err)
	}
	if im := p.image(sha); im.Key != from || im.Class != "Destroyers" || im.Status != catalog.StatusKept || !p.exists(from) || p.decision(sha) != DecisionKeep {
		t.Fatalf("after undo: %+v, decision %q, files %v", im, p.decision(sha), p.files())
	}
	if got := p.files(); len(got) != 1 {
		t.Fatalf("files %v, want the one image", got)
	}
}

func TestReclassBadInput(t *testing.T) {
	ctx := context.Background()
	p, tug := misfiledProject(t)
	before := p.image(tug)
	// "../etc" and "a/b" are fine names now: they move to images/etc/ and
	// images/a_b/ (TestFreeTextClassKeys).
	for _, class := range []string{"Destroyers", "", "a\nb", " Tugs"} {
		if _, err := Reclass(ctx, ReclassOptions{Catalog: p.cat, Store: p.store, SHA256: tug, Class: class}); err == nil {
			t.Errorf("moving to class %q: no error", class)
		}
	}
	if _, err := Reclass(ctx, ReclassOptions{Catalog: p.cat, Store: p.store, SHA256: tug, Class: "Destroyers"}); !errors.Is(err, ErrSameClass) {
		t.Errorf("same class: %v", err)
	}
	// Bytes gone from the store: an error, and nothing recorded or moved.
	if err := os.Rename(filepath.Join(p.dir, before.Key), filepath.Join(p.dir, "aside.jpg")); err != nil {
		t.Fatal(err)
	}
	if _, err := Reclass(ctx, ReclassOptions{Catalog: p.cat, Store: p.store, SHA256: tug, Class: "Tugs"}); err == nil {
		t.Fatal("moving an image whose bytes are missing: no error")
	}
	if im := p.image(tug); im != before {
		t.Errorf("the image changed: %+v, was %+v", im, before)
	}
	if cms, _ := p.cat.ClassMoves(ctx); len(cms) != 0 {
		t.Errorf("moves recorded: %+v", cms)
	}
	if err := UndoReclass(ctx, p.cat, p.store, tug, nil); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("undoing a move never made: %v", err)
	}
}

// A crash can stop a move or its undo at any step; RecoverReclasses
// settles each without losing the image.
func TestRecoverReclasses(t *testing.T) {
	ctx := context.Background()
	type want struct{ class, keyOf string } // keyOf: "from" or "to"
	for _, tc := range []struct {
		name  string
		crash func(p *project, cm catalog.ClassMove)
		want  want
	}{
		{"recorded, bytes not moved", func(p *project, cm catalog.ClassMove) {}, want{"Destroyers", "from"}},
		{"bytes moved, catalog not told", func(p *project, cm catalog.ClassMove) {
			if err := p.store.Move(ctx, cm.FromKey, cm.ToKey); err != nil {
				t.Fatal(err)
			}
			// clean's own journal has the move in flight.
			if _, err := p.cat.DB().Exec(`UPDATE clean_moves SET pending_from = ?, pending_to = ?, pending_status = 'kept' WHERE sha256 = ?`, cm.FromKey, cm.ToKey, cm.SHA256); err != nil {
				t.Fatal(err)
			}
		}, want{"Tugs", "to"}},
		{"bytes moved and status set, class not", func(p *project, cm catalog.ClassMove) {
			if err := p.store.Move(ctx, cm.FromKey, cm.ToKey); err != nil {
				t.Fatal(err)
			}
			if err := p.cat.SetStatus(ctx, cm.SHA256, catalog.StatusKept, cm.ToKey, "", "", 0); err != nil {
				t.Fatal(err)
			}
		}, want{"Tugs", "to"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, tug := misfiledProject(t)
			im := p.image(tug)
			cm := catalog.ClassMove{SHA256: tug, FromClass: "Destroyers", ToClass: "Tugs", FromKey: im.Key, ToKey: "images/Tugs/" + tug + ".jpg",
				FromStatus: im.Status, FromReason: im.Reason, FromMethod: im.Method, FromScore: im.Score, PrevOriginal: "images/Destroyers/" + tug + ".jpg"}
			if err := p.cat.BeginClassMove(ctx, cm); err != nil {
				t.Fatal(err)
			}
			tc.crash(p, cm)
			if err := RecoverReclasses(ctx, p.cat, p.store, nil); err != nil {
				t.Fatal(err)
			}
			got := p.image(tug)
			key := map[string]string{"from": cm.FromKey, "to": cm.ToKey}[tc.want.keyOf]
			if got.Class != tc.want.class || got.Key != key || !p.exists(key) || len(p.files()) != 4 {
				t.Fatalf("%+v, files %v; want class %s at %s", got, p.files(), tc.want.class, key)
			}
			moves, _ := p.cat.ClassMoves(ctx)
			if tc.want.class == "Tugs" {
				if len(moves) != 1 || moves[0].State != catalog.MoveDone || p.decision(tug) != DecisionKeep {
					t.Fatalf("moves %+v, decision %q: want the move done and kept", moves, p.decision(tug))
				}
				// The settled move undoes like any other.
				if err := UndoReclass(ctx, p.cat, p.store, tug, nil); err != nil {
					t.Fatal(err)
				}
				if got := p.image(tug); got.Key != cm.FromKey || got.Class != "Destroyers" || got.Status != catalog.StatusQuarantined {
					t.Fatalf("after undo: %+v", got)
				}
			} else if len(moves) != 0 {
				t.Fatalf("moves %+v: want the move that never happened forgotten", moves)
			}
		})
	}

	t.Run("undo interrupted", func(t *testing.T) {
		for _, bytesBack := range []bool{false, true} {
			p, tug := misfiledProject(t)
			from := p.image(tug).Key
			if _, err := Reclass(ctx, ReclassOptions{Catalog: p.cat, Store: p.store, SHA256: tug, Class: "Tugs"}); err != nil {
				t.Fatal(err)
			}
			if err := p.cat.SetClassMoveState(ctx, tug, catalog.MoveUndoing); err != nil {
				t.Fatal(err)
			}
			if bytesBack {
				if err := (mover{p.cat, p.store}).move(ctx, p.image(tug), from, target{status: catalog.StatusQuarantined, reason: "misfiled"}); err != nil {
					t.Fatal(err)
				}
			}
			if err := RecoverReclasses(ctx, p.cat, p.store, nil); err != nil {
				t.Fatal(err)
			}
			im := p.image(tug)
			moves, _ := p.cat.ClassMoves(ctx)
			if bytesBack && (im.Class != "Destroyers" || im.Key != from || len(moves) != 0 || p.decision(tug) != "") {
				t.Errorf("bytes back: %+v, moves %+v, decision %q; want the undo finished", im, moves, p.decision(tug))
			}
			if !bytesBack && (im.Class != "Tugs" || len(moves) != 1 || moves[0].State != catalog.MoveDone) {
				t.Errorf("bytes not back: %+v, moves %+v; want the move to stand", im, moves)
			}
		}
	})
}
