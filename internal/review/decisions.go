package review

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/clean"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/store"
)

// Decisions as the page names them. Clean's own words are "keep" and
// "reject"; "discard" is what the button says.
const (
	verdictKeep    = "keep"
	verdictDiscard = "discard"
)

// errConflict is returned (wrapped) when a decision does not fit the
// image's state: it is not quarantined, its bytes are missing, or there is
// nothing to undo. The page shows the message; nothing was changed.
var errConflict = errors.New("conflict")

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

type decision = catalog.ReviewDecision

func dbErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return errkind.Fatal(fmt.Errorf("review: %s: %w", what, err))
}

// reasonOrder is clean's ranking of its reasons, most important first: the
// order of the page's tabs; a reason missing from it gets a tab after these.
func reasonOrder() []string { return clean.Reasons() }

// notes passes on what clean has to say, without the progress bar it
// would draw for every image kept.
func (s *Server) notes() progress.Sink {
	return progress.Func(func(e progress.Event) {
		if e.Kind == progress.Note {
			s.events.Emit(e)
		}
	})
}

func (s *Server) decisions(ctx context.Context) ([]decision, error) {
	ds, err := s.o.Catalog.ReviewDecisions(ctx)
	return ds, dbErr("reading decisions", err)
}

// current returns the decision recorded for sha, if any.
func (s *Server) current(ctx context.Context, sha string) (decision, bool, error) {
	d, ok, err := s.o.Catalog.GetReviewDecision(ctx, sha)
	return d, ok, dbErr("reading decisions", err)
}

func (s *Server) save(ctx context.Context, im catalog.Image, verdict string) error {
	err := s.o.Catalog.SaveReviewDecision(ctx, decision{SHA256: im.SHA256, Decision: verdict,
		Reason: im.Reason, Score: im.Score, Method: im.Method, FromKey: im.Key})
	return dbErr("recording a decision", err)
}

func (s *Server) forget(ctx context.Context, sha string) error {
	return dbErr("recording a decision", s.o.Catalog.DeleteReviewDecision(ctx, sha))
}

func (s *Server) markUndoing(ctx context.Context, sha string, undoing bool) error {
	return dbErr("recording an undo", s.o.Catalog.SetReviewUndoing(ctx, sha, undoing))
}

// lock takes the decision lock, or gives up when ctx ends.
func (s *Server) lock(ctx context.Context) (func(), error) {
	select {
	case s.decide <- struct{}{}:
		return func() { <-s.decide }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// decideOn records verdict (verdictKeep or verdictDiscard) on a
// quarantined image. A different earlier decision on the same image is
// undone first.
func (s *Server) decideOn(ctx context.Context, sha, verdict string) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	im, err := s.o.Catalog.GetImage(ctx, sha)
	if err != nil {
		return fmt.Errorf("review: %w", err)
	}
	cur, ok, err := s.current(ctx, sha)
	if err != nil {
		return err
	}
	quarantined := im.Status == catalog.StatusQuarantined
	if ok && cur.Decision == verdict && quarantined == (verdict == verdictDiscard) {
		return nil
	}
	if ok && (cur.Decision == verdictMove || cur.Decision == verdictKeep && !quarantined) {
		if err := s.undo(ctx, cur); err != nil {
			return err
		}
		if im, err = s.o.Catalog.GetImage(ctx, sha); err != nil {
			return fmt.Errorf("review: %w", err)
		}
	}
	if im.Status != catalog.StatusQuarantined {
		return fmt.Errorf("review: image %s is %s, not quarantined: %w", sha, im.Status, errConflict)
	}
	if verdict == verdictDiscard {
		// The page's record first: if the catalog write is lost to a
		// crash, recover makes clean's record agree with it.
		if err := s.save(ctx, im, verdictDiscard); err != nil {
			return err
		}
		if err := clean.SetDecision(ctx, s.o.Catalog, sha, clean.DecisionReject); err != nil {
			return fmt.Errorf("review: %w", err)
		}
		progress.Info(s.events, stage, fmt.Sprintf("discarded %s/%s (%s)", im.Class, sha, im.Reason))
		return nil
	}
	sum, err := clean.Restore(ctx, clean.RestoreOptions{Catalog: s.o.Catalog, Store: s.o.Store, SHA256: sha, Keep: true, Events: s.notes()})
	if err != nil {
		return fmt.Errorf("review: %w", err)
	}
	if sum.Restored != 1 {
		return fmt.Errorf("review: image %s could not be put back (its bytes are not at %s): %w", sha, im.Key, errConflict)
	}
	if err := s.save(ctx, im, verdictKeep); err != nil {
		return err
	}
	progress.Info(s.events, stage, fmt.Sprintf("kept %s/%s (was %s)", im.Class, sha, im.Reason))
	return nil
}

// undoLast takes back the decision on sha, or the latest decision when sha
// is "", and returns the image it concerned: it goes back to quarantine, as
// clean had left it, with no decision.
func (s *Server) undoLast(ctx context.Context, sha string) (string, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return "", err
	}
	defer unlock()
	var d decision
	var ok bool
	if sha == "" {
		d, ok, err = s.o.Catalog.LastReviewDecision(ctx)
	} else {
		d, ok, err = s.o.Catalog.GetReviewDecision(ctx, sha)
	}
	if err != nil {
		return "", dbErr("reading decisions", err)
	}
	if !ok {
		return "", fmt.Errorf("review: no decision to undo: %w", errConflict)
	}
	if err := s.undo(ctx, d); err != nil {
		return "", err
	}
	progress.Info(s.events, stage, fmt.Sprintf("undid %s on %s", d.Decision, d.SHA256))
	return d.SHA256, nil
}

// undo reverses d. It is marked first so that recover can finish an undo
// that a crash cut short.
func (s *Server) undo(ctx context.Context, d decision) error {
	if err := s.markUndoing(ctx, d.SHA256, true); err != nil {
		return err
	}
	if d.Decision == verdictMove {
		if err := clean.UndoReclass(ctx, s.o.Catalog, s.o.Store, d.SHA256, s.notes()); err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return fmt.Errorf("review: undo: %w", err)
		}
		return s.forget(ctx, d.SHA256)
	}
	if d.Decision == verdictKeep {
		im, err := s.o.Catalog.GetImage(ctx, d.SHA256)
		if err != nil {
			return fmt.Errorf("review: %w", err)
		}
		if im.Status == catalog.StatusKept {
			if err := store.ValidKey(d.FromKey); err != nil {
				return fmt.Errorf("review: undo %s: %w", d.SHA256, err)
			}
			if err := s.o.Store.Move(ctx, im.Key, d.FromKey); err != nil {
				return fmt.Errorf("review: undo: moving %s back to %s: %w", im.Key, d.FromKey, err)
			}
		}
	}
	return s.finishUndo(ctx, d)
}

// finishUndo records an undo whose bytes, for a keep, are back in
// quarantine.
func (s *Server) finishUndo(ctx context.Context, d decision) error {
	if d.Decision == verdictKeep {
		if err := s.o.Catalog.SetStatus(ctx, d.SHA256, catalog.StatusQuarantined, d.FromKey, d.Reason, d.Method, d.Score); err != nil {
			return fmt.Errorf("review: undo: %w", err)
		}
	}
	if err := clean.SetDecision(ctx, s.o.Catalog, d.SHA256, ""); err != nil {
		return fmt.Errorf("review: undo: %w", err)
	}
	return s.forget(ctx, d.SHA256)
}

// recover brings the page's record and the catalog into agreement after a
// crash, or after someone changed an image outside the page:
//   - an undo cut short is finished, or forgotten when the bytes never
//     moved;
//   - a discard whose clean decision was lost gets it again;
//   - a decision on an image that left the catalog, or a discard on an
//     image someone has since restored (`scour clean restore`), is dropped.
func (s *Server) recover(ctx context.Context) error {
	if err := clean.RecoverReclasses(ctx, s.o.Catalog, s.o.Store, s.notes()); err != nil {
		return fmt.Errorf("review: %w", err)
	}
	ds, err := s.decisions(ctx)
	if err != nil {
		return err
	}
	for _, d := range ds {
		im, err := s.o.Catalog.GetImage(ctx, d.SHA256)
		switch {
		case errors.Is(err, catalog.ErrNotFound):
			if err := s.forget(ctx, d.SHA256); err != nil {
				return err
			}
			continue
		case err != nil:
			return fmt.Errorf("review: %w", err)
		}
		if d.Decision == verdictMove {
			if err := s.recoverMove(ctx, d); err != nil {
				return err
			}
			continue
		}
		switch {
		case d.Undoing:
			if d.Decision == verdictKeep && im.Status == catalog.StatusKept {
				moved, err := s.movedBack(ctx, im, d)
				if err != nil {
					return err
				}
				if !moved {
					if err := s.markUndoing(ctx, d.SHA256, false); err != nil {
						return err
					}
					continue
				}
			}
			if err := s.finishUndo(ctx, d); err != nil {
				return err
			}
			progress.Info(s.events, stage, fmt.Sprintf("finished undoing %s on %s (interrupted last time)", d.Decision, d.SHA256))
		case d.Decision == verdictDiscard && im.Status == catalog.StatusKept:
			if err := s.forget(ctx, d.SHA256); err != nil {
				return err
			}
		case d.Decision == verdictDiscard:
			if err := clean.SetDecision(ctx, s.o.Catalog, d.SHA256, clean.DecisionReject); err != nil {
				return fmt.Errorf("review: %w", err)
			}
		}
	}
	return nil
}

// movedBack reports whether an interrupted undo of a keep had already
// moved the bytes back to quarantine.
func (s *Server) movedBack(ctx context.Context, im catalog.Image, d decision) (bool, error) {
	for _, key := range []string{im.Key, d.FromKey} {
		_, err := s.o.Store.Stat(ctx, key)
		switch {
		case err == nil:
			return key == d.FromKey, nil
		case !errors.Is(err, store.ErrNotExist):
			return false, fmt.Errorf("review: checking %s: %w", key, err)
		}
	}
	return false, nil
}
