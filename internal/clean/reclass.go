package clean

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/classname"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/store"
)

// ReclassOptions says which image moves to which class.
type ReclassOptions struct {
	Catalog *catalog.Catalog
	Store   store.Store
	SHA256  string
	Class   string // the class the image belongs to
	Events  progress.Sink
}

// ErrSameClass is returned (wrapped) when an image is asked to move to the
// class it is already in.
var ErrSameClass = errors.New("already in that class")

// Reclass moves an image to another class, as a person decided: its bytes
// go from images/<old>/ or quarantine/<reason>/<old>/ to
// images/<new>/<sha256>.<ext>, the catalog gives it the new class, Restore
// from then on puts it back under the new class, and every later run keeps
// it (a keep decision), so a misfiled flag is not raised against the
// person's word. The move is recorded (catalog.ClassMove) with what the
// image was before, which UndoReclass puts back exactly. A crash at any
// step is settled by RecoverReclasses.
func Reclass(ctx context.Context, o ReclassOptions) (Move, error) {
	if o.Catalog == nil || o.Store == nil {
		return Move{}, errkind.Fatal(errors.New("clean: reclass needs a catalog and a store"))
	}
	im, err := o.Catalog.GetImage(ctx, o.SHA256)
	if err != nil {
		return Move{}, fmt.Errorf("clean: reclass: %w", err)
	}
	if im.Class == o.Class {
		return Move{}, fmt.Errorf("clean: reclass: image %s is in class %q: %w", o.SHA256, o.Class, ErrSameClass)
	}
	to := "images/" + classname.Folder(o.Class) + "/" + im.SHA256 + path.Ext(im.Key)
	if err := store.ValidKey(to); err != nil || classname.Problem(o.Class) != "" {
		return Move{}, errkind.Permanent(fmt.Errorf("clean: reclass: %q cannot be a class name: name one of the project's classes", o.Class))
	}
	prevOriginal, err := o.Catalog.CleanOriginalKey(ctx, im.SHA256)
	if err != nil {
		return Move{}, dbErr("reading moves", err)
	}
	prevDecision, err := o.Catalog.CleanDecision(ctx, im.SHA256)
	if err != nil {
		return Move{}, dbErr("reading decisions", err)
	}
	cm := catalog.ClassMove{SHA256: im.SHA256, FromClass: im.Class, ToClass: o.Class, FromKey: im.Key, ToKey: to,
		FromStatus: im.Status, FromReason: im.Reason, FromMethod: im.Method, FromScore: im.Score,
		PrevOriginal: prevOriginal, PrevDecision: prevDecision}
	if err := o.Catalog.BeginClassMove(ctx, cm); err != nil {
		return Move{}, fmt.Errorf("clean: reclass: %w", err)
	}
	m := mover{o.Catalog, o.Store}
	if err := m.move(ctx, im, to, target{status: catalog.StatusKept}); err != nil {
		if derr := o.Catalog.DeleteClassMove(ctx, im.SHA256); derr != nil {
			return Move{}, fmt.Errorf("clean: reclass: %w (and forgetting the move: %v)", err, derr)
		}
		return Move{}, fmt.Errorf("clean: reclass: %w", err)
	}
	if err := finishReclass(ctx, o.Catalog, cm); err != nil {
		return Move{}, err
	}
	progress.Info(o.Events, stage, fmt.Sprintf("moved %s from class %s to %s", im.SHA256, im.Class, o.Class))
	return Move{SHA256: im.SHA256, Class: o.Class, From: im.Key, To: to}, nil
}

// finishReclass records what follows from bytes now at cm.ToKey.
func finishReclass(ctx context.Context, cat *catalog.Catalog, cm catalog.ClassMove) error {
	if err := cat.SetCleanOriginalKey(ctx, cm.SHA256, cm.ToKey); err != nil {
		return dbErr("recording a move", err)
	}
	if err := cat.SetCleanDecision(ctx, cm.SHA256, DecisionKeep); err != nil {
		return dbErr("recording a decision", err)
	}
	if err := cat.FinishClassMove(ctx, cm.SHA256); err != nil {
		return fmt.Errorf("clean: reclass: %w", err)
	}
	return nil
}

// UndoReclass takes a move back: the bytes return to where they were, and
// the image gets its old class, status, quarantine reason, restore record
// and decision again, as if it had never moved.
func UndoReclass(ctx context.Context, cat *catalog.Catalog, st store.Store, sha string, events progress.Sink) error {
	cm, err := cat.GetClassMove(ctx, sha)
	if err != nil {
		return fmt.Errorf("clean: undoing a move: %w", err)
	}
	if cm.State != catalog.MoveDone && cm.State != catalog.MoveUndoing {
		return fmt.Errorf("clean: undoing the move of %s: it is %s; run clean or review again to settle it first", sha, cm.State)
	}
	im, err := cat.GetImage(ctx, sha)
	if err != nil {
		return fmt.Errorf("clean: undoing a move: %w", err)
	}
	if err := cat.SetClassMoveState(ctx, sha, catalog.MoveUndoing); err != nil {
		return fmt.Errorf("clean: undoing a move: %w", err)
	}
	if im.Key != cm.FromKey {
		t := target{status: cm.FromStatus, reason: cm.FromReason, method: cm.FromMethod, score: cm.FromScore}
		if err := (mover{cat, st}).move(ctx, im, cm.FromKey, t); err != nil {
			if serr := cat.SetClassMoveState(ctx, sha, catalog.MoveDone); serr != nil {
				return fmt.Errorf("clean: undoing a move: %w (and recording that: %v)", err, serr)
			}
			return fmt.Errorf("clean: undoing a move: %w", err)
		}
	}
	if err := finishUndoReclass(ctx, cat, cm); err != nil {
		return err
	}
	progress.Info(events, stage, fmt.Sprintf("moved %s back from class %s to %s", sha, cm.ToClass, cm.FromClass))
	return nil
}

// finishUndoReclass records what follows from bytes back at cm.FromKey.
func finishUndoReclass(ctx context.Context, cat *catalog.Catalog, cm catalog.ClassMove) error {
	if err := cat.SetCleanOriginalKey(ctx, cm.SHA256, cm.PrevOriginal); err != nil {
		return dbErr("recording a move", err)
	}
	var err error
	if cm.PrevDecision == "" {
		err = cat.DeleteCleanDecision(ctx, cm.SHA256, "")
	} else {
		err = cat.SetCleanDecision(ctx, cm.SHA256, cm.PrevDecision)
	}
	if err != nil {
		return dbErr("recording a decision", err)
	}
	if err := cat.UndoneClassMove(ctx, cm.SHA256); err != nil {
		return fmt.Errorf("clean: undoing a move: %w", err)
	}
	return nil
}

// RecoverReclasses settles class moves that a crash interrupted: clean's
// own move journal first, then each move by where the image's bytes are
// now. A move whose bytes reached the new class is finished; one whose
// bytes never left is forgotten; an undo is finished or, when the bytes
// never went back, the move stands. Review runs it when it starts; clean
// should too (see the branch's report).
func RecoverReclasses(ctx context.Context, cat *catalog.Catalog, st store.Store, events progress.Sink) error {
	if events == nil {
		events = progress.Discard
	}
	cms, err := cat.ClassMoves(ctx)
	if err != nil {
		return fmt.Errorf("clean: reading class moves: %w", err)
	}
	pending := false
	for _, cm := range cms {
		pending = pending || cm.State != catalog.MoveDone
	}
	if !pending {
		return nil
	}
	if err := (mover{cat, st}).recoverMoves(ctx, events); err != nil {
		return err
	}
	for _, cm := range cms {
		if cm.State == catalog.MoveDone {
			continue
		}
		im, err := cat.GetImage(ctx, cm.SHA256)
		if errors.Is(err, catalog.ErrNotFound) {
			if err := cat.DeleteClassMove(ctx, cm.SHA256); err != nil {
				return fmt.Errorf("clean: %w", err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("clean: %w", err)
		}
		switch {
		case cm.State == catalog.MoveMoving && im.Key == cm.ToKey:
			err = finishReclass(ctx, cat, cm)
			progress.Info(events, stage, fmt.Sprintf("finished moving %s to class %s (interrupted last time)", cm.SHA256, cm.ToClass))
		case cm.State == catalog.MoveMoving:
			err = cat.DeleteClassMove(ctx, cm.SHA256)
		case im.Key == cm.FromKey:
			err = finishUndoReclass(ctx, cat, cm)
			progress.Info(events, stage, fmt.Sprintf("finished moving %s back to class %s (interrupted last time)", cm.SHA256, cm.FromClass))
		default:
			err = cat.SetClassMoveState(ctx, cm.SHA256, catalog.MoveDone)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
