package review

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/clean"
	"github.com/scour-dev/scour/internal/progress"
)

// verdictMove is the page's third decision: the image belongs to another
// class of the project (clean's suggestion, for a misfiled image).
const verdictMove = catalog.ReviewMove

// reasonMisfiled is clean's reason for an image that belongs to another
// class; its score and suggestion come from catalog.Score.
const reasonMisfiled = clean.ReasonMisfiled

// isClass reports whether name is one of the project's classes: those of
// scour.yaml, or, when the server was given none, those in the catalog.
func (s *Server) isClass(ctx context.Context, name string) (bool, error) {
	if len(s.o.Classes) > 0 {
		return slices.ContainsFunc(s.o.Classes, func(c Class) bool { return c.Name == name }), nil
	}
	counts, err := s.o.Catalog.CountImages(ctx)
	if err != nil {
		return false, fmt.Errorf("review: %w", err)
	}
	_, ok := counts[name]
	return ok, nil
}

// moveTo moves an image to class, recording it as the person's decision.
// A different earlier decision on the image is undone first, so the move
// starts from where clean left the image.
func (s *Server) moveTo(ctx context.Context, sha, class string) error {
	ok, err := s.isClass(ctx, class)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("review: %q is not a class of this project: %w", class, errConflict)
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	cur, ok, err := s.current(ctx, sha)
	if err != nil {
		return err
	}
	if ok {
		if cur.Decision == verdictMove {
			if cm, err := s.o.Catalog.GetClassMove(ctx, sha); err == nil && cm.ToClass == class {
				return nil
			}
		}
		if err := s.undo(ctx, cur); err != nil {
			return err
		}
	}
	im, err := s.o.Catalog.GetImage(ctx, sha)
	if err != nil {
		return fmt.Errorf("review: %w", err)
	}
	if im.Class == class {
		return fmt.Errorf("review: image %s is already in class %s: %w", sha, class, errConflict)
	}
	// The page's record first, as for a discard: recover forgets it if
	// the move never happened.
	if err := s.save(ctx, im, verdictMove); err != nil {
		return err
	}
	if _, err := clean.Reclass(ctx, clean.ReclassOptions{Catalog: s.o.Catalog, Store: s.o.Store, SHA256: sha, Class: class, Events: s.notes()}); err != nil {
		if ferr := s.forget(ctx, sha); ferr != nil {
			return fmt.Errorf("review: %w (and forgetting the decision: %v)", err, ferr)
		}
		return fmt.Errorf("review: %w", err)
	}
	progress.Info(s.events, stage, fmt.Sprintf("moved %s from %s to %s (was %s)", sha, im.Class, class, im.Reason))
	return nil
}

// recoverMove settles the page's record of a move with clean's, which
// RecoverReclasses has already settled: a move that never happened, or
// whose undo finished, is forgotten; an undo that never moved the bytes
// leaves the move standing.
func (s *Server) recoverMove(ctx context.Context, d decision) error {
	_, err := s.o.Catalog.GetClassMove(ctx, d.SHA256)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return s.forget(ctx, d.SHA256)
	case err != nil:
		return fmt.Errorf("review: %w", err)
	case d.Undoing:
		return s.markUndoing(ctx, d.SHA256, false)
	}
	return nil
}
