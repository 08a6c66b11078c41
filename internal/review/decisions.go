package review

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

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

// item is one image on the page.
type item struct {
	SHA256 string  `json:"sha256"`
	Class  string  `json:"class"`
	Reason string  `json:"reason"`
	Score  float64 `json:"score"`
	Method string  `json:"method,omitempty"`
	// Detail is what clean said about the flag; Copy is the image it is
	// a copy of, when clean names one (duplicates).
	Detail string   `json:"detail,omitempty"`
	Copy   string   `json:"copy,omitempty"`
	Also   []string `json:"also,omitempty"` // the other reasons clean flagged it for
	Width  int      `json:"width"`
	Height int      `json:"height"`
	Bytes  int64    `json:"bytes"`
	// Decision is the person's: "keep", "discard", "move" or "" (not yet
	// decided). A moved image is shown under the class it was found in;
	// MovedTo is the class it went to.
	Decision string `json:"decision,omitempty"`
	MovedTo  string `json:"moved_to,omitempty"`
	// Clean's doubt (catalog.Score): higher is more doubtful, flagged at or
	// above the threshold; absent where that view was not judged. Suggest
	// is the class clean thinks the image belongs to, for a misfiled image
	// only: clean names the nearest other class of every image it scores.
	OffTopic          *float64 `json:"offtopic,omitempty"`
	OffTopicThreshold *float64 `json:"offtopic_threshold,omitempty"`
	OffTopicMethod    string   `json:"offtopic_method,omitempty"`
	Misfiled          *float64 `json:"misfiled,omitempty"`
	MisfiledThreshold *float64 `json:"misfiled_threshold,omitempty"`
	Suggest           string   `json:"suggest,omitempty"`
}

// withScore gives it clean's scores of the image.
func (it *item) withScore(sc catalog.Score) {
	if sc.OffTopicThreshold != 0 {
		it.OffTopic, it.OffTopicThreshold, it.OffTopicMethod = &sc.OffTopic, &sc.OffTopicThreshold, sc.OffTopicMethod
	}
	misfiled := it.Reason == reasonMisfiled || slices.Contains(it.Also, reasonMisfiled)
	if sc.MisfiledThreshold != 0 {
		it.Misfiled, it.MisfiledThreshold = &sc.Misfiled, &sc.MisfiledThreshold
		misfiled = misfiled || sc.Misfiled >= sc.MisfiledThreshold
	}
	if misfiled && sc.Suggest != it.Class {
		it.Suggest = sc.Suggest
	}
}

// doubt orders the images of a reason whose check scores them, most
// doubtful first; 0 for the others, which keep class and hash order.
func (it item) doubt() float64 {
	switch {
	case it.Reason == clean.ReasonOffTopic && it.OffTopic != nil:
		return *it.OffTopic
	case it.Reason == reasonMisfiled && it.Misfiled != nil:
		return *it.Misfiled
	}
	return 0
}

// items lists what the page shows: every quarantined image, and every image
// the person kept through the page (under the reason it was quarantined
// for), ordered by reason (most important first), class and hash.
func (s *Server) items(ctx context.Context) ([]item, error) {
	flags, err := clean.Flags(ctx, s.o.Catalog, "")
	if err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	byImage := map[string][]clean.Flag{}
	for _, f := range flags {
		byImage[f.SHA256] = append(byImage[f.SHA256], f)
	}
	ds, err := s.decisions(ctx)
	if err != nil {
		return nil, err
	}
	decided := map[string]decision{}
	for _, d := range ds {
		decided[d.SHA256] = d
	}
	scores, err := s.o.Catalog.Scores(ctx)
	if err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	var items []item
	add := func(im catalog.Image, reason, method string, score float64, verdict string) *item {
		it := item{SHA256: im.SHA256, Class: im.Class, Reason: reason, Score: score, Method: method,
			Width: im.Width, Height: im.Height, Bytes: im.Bytes, Decision: verdict}
		for _, f := range byImage[im.SHA256] {
			if f.Reason != reason {
				it.Also = append(it.Also, f.Reason)
				continue
			}
			it.Detail = f.Detail
			if sha256Hex.MatchString(f.Detail) {
				it.Copy = f.Detail
			}
		}
		it.withScore(scores[im.SHA256])
		items = append(items, it)
		return &items[len(items)-1]
	}
	err = s.o.Catalog.ForEachImage(ctx, catalog.ImageFilter{Status: catalog.StatusQuarantined}, func(im catalog.Image) error {
		verdict := ""
		if d, ok := decided[im.SHA256]; ok && d.Decision == verdictDiscard {
			verdict = verdictDiscard
		}
		add(im, im.Reason, im.Method, im.Score, verdict)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("review: reading the catalog: %w", err)
	}
	for _, d := range ds {
		if d.Decision != verdictKeep && d.Decision != verdictMove {
			continue
		}
		im, err := s.o.Catalog.GetImage(ctx, d.SHA256)
		if err != nil {
			return nil, fmt.Errorf("review: %w", err)
		}
		if im.Status != catalog.StatusKept {
			continue
		}
		if d.Decision == verdictKeep {
			add(im, d.Reason, d.Method, d.Score, verdictKeep)
			continue
		}
		cm, err := s.o.Catalog.GetClassMove(ctx, d.SHA256)
		if errors.Is(err, catalog.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("review: %w", err)
		}
		// Where the person saw it, so it does not jump out of its group.
		im.Class = cm.FromClass
		add(im, d.Reason, d.Method, d.Score, verdictMove).MovedTo = cm.ToClass
	}
	order := reasonOrder()
	rank := func(r string) int {
		if i := slices.Index(order, r); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortFunc(items, func(a, b item) int {
		return cmp.Or(cmp.Compare(rank(a.Reason), rank(b.Reason)), strings.Compare(a.Reason, b.Reason),
			cmp.Compare(b.doubt(), a.doubt()), strings.Compare(a.Class, b.Class), strings.Compare(a.SHA256, b.SHA256))
	})
	return items, nil
}
