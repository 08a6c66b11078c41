package clean

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/classname"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/store"
)

// QuarantinePrefix is the store folder quarantined images move to:
// quarantine/<reason>/<class folder>/<sha256>.<ext>, the class folder being
// classname.Folder of the class.
const QuarantinePrefix = "quarantine/"

func quarantineKey(reason, class, sha, fromKey string) string {
	return QuarantinePrefix + reason + "/" + classname.Folder(class) + "/" + sha + path.Ext(fromKey)
}

// keptKey is where an image goes back to: where clean first found it, or
// where gather would have put it when clean has no record (a row
// quarantined by hand).
func keptKey(im catalog.Image, original string) string {
	if original != "" {
		return original
	}
	return "images/" + classname.Folder(im.Class) + "/" + im.SHA256 + path.Ext(im.Key)
}

// Move is one image moved (or, in a dry run, to be moved) between store
// keys.
type Move struct {
	SHA256 string `json:"sha256"`
	Class  string `json:"class"`
	Reason string `json:"reason,omitempty"` // the quarantine reason; "" when it goes back to the kept images
	From   string `json:"from"`
	To     string `json:"to"`
}

// mover moves an image's bytes and records the catalog's new state as one
// recoverable step: the move is journalled in clean_moves before the store
// is touched and cleared after the catalog is updated, so a crash in
// between is finished or rolled back by recoverMoves on the next run.
type mover struct {
	cat   *catalog.Catalog
	store store.Store
}

type target struct {
	status, reason, method string
	score                  float64
}

// move moves im from its current key to `to` and sets its catalog state.
// The bytes missing from the store gives an error wrapping
// store.ErrNotExist with nothing changed.
func (m mover) move(ctx context.Context, im catalog.Image, to string, t target) error {
	original := im.Key
	switch {
	case t.status == catalog.StatusKept:
		original = to
	case strings.HasPrefix(im.Key, QuarantinePrefix):
		original = keptKey(im, "")
	}
	// The original key is recorded the first time clean moves an image and
	// never changed after, so Restore always knows where it came from.
	if err := m.cat.JournalCleanMove(ctx, catalog.CleanMove{SHA256: im.SHA256, OriginalKey: original, From: im.Key, To: to,
		Status: t.status, Reason: t.reason, Method: t.method, Score: t.score}); err != nil {
		return dbErr("journalling a move", err)
	}
	if err := m.store.Move(ctx, im.Key, to); err != nil {
		if cerr := m.cat.SettleCleanMove(ctx, im.SHA256); cerr != nil {
			return dbErr("journalling a move", cerr)
		}
		return fmt.Errorf("clean: moving %s to %s: %w", im.Key, to, err)
	}
	return m.finish(ctx, im.SHA256, to, t)
}

func (m mover) finish(ctx context.Context, sha, key string, t target) error {
	if err := m.cat.SetStatus(ctx, sha, t.status, key, t.reason, t.method, t.score); err != nil {
		return fmt.Errorf("clean: recording %s: %w", sha, err)
	}
	return dbErr("journalling a move", m.cat.SettleCleanMove(ctx, sha))
}

// recoverMoves settles moves that a crash interrupted: when the bytes
// reached their destination the catalog is brought up to date; when they
// are still at the source, a copy left at the destination (an S3 move is a
// copy then a delete) is removed and the catalog is left as it was.
func (m mover) recoverMoves(ctx context.Context, events progress.Sink) error {
	ps, err := m.cat.PendingCleanMoves(ctx)
	if err != nil {
		return dbErr("reading the move journal", err)
	}
	for _, p := range ps {
		atFrom, err := exists(ctx, m.store, p.From)
		if err != nil {
			return err
		}
		atTo, err := exists(ctx, m.store, p.To)
		if err != nil {
			return err
		}
		switch {
		case !atFrom && atTo:
			t := target{status: p.Status, reason: p.Reason, method: p.Method, score: p.Score}
			if err := m.finish(ctx, p.SHA256, p.To, t); err != nil {
				return err
			}
			progress.Info(events, stage, fmt.Sprintf("finished moving %s to %s (interrupted last time)", p.SHA256, p.To))
			continue
		case atFrom && atTo:
			if err := m.store.Delete(ctx, p.To); err != nil {
				return fmt.Errorf("clean: removing the half-moved copy %s: %w", p.To, err)
			}
		case !atFrom && !atTo:
			progress.Warn(events, stage, fmt.Sprintf("image %s is at neither %s nor %s: it was lost outside scour", p.SHA256, p.From, p.To))
		}
		if err := m.cat.SettleCleanMove(ctx, p.SHA256); err != nil {
			return dbErr("journalling a move", err)
		}
	}
	return nil
}

func exists(ctx context.Context, s store.Store, key string) (bool, error) {
	_, err := s.Stat(ctx, key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("clean: checking %s: %w", key, err)
}

// RestoreOptions says which quarantined images to put back. SHA256, Reason
// and Class, when set, must all match; All must be set to select every
// quarantined image, so that a forgotten flag never restores everything.
type RestoreOptions struct {
	Catalog *catalog.Catalog
	Store   store.Store

	SHA256, Reason, Class string
	All                   bool

	// Keep records a person's "keep" decision for each restored image, so
	// later runs of clean never quarantine it again. The CLI sets it when
	// one image is restored by its sha256: that is a person's verdict,
	// while restoring a whole reason is usually undoing a bad setting.
	Keep   bool
	DryRun bool
	Events progress.Sink
}

// RestoreSummary is what Restore did (or, in a dry run, would do).
type RestoreSummary struct {
	DryRun   bool     `json:"dry_run"`
	Restored int      `json:"restored"`
	Moves    []Move   `json:"moves,omitempty"`
	Missing  []string `json:"missing,omitempty"` // quarantined images whose bytes are not in the store
}

// Restore moves quarantined images back to where clean found them and marks
// them kept, undoing quarantine exactly. A "reject" decision on a restored
// image is dropped: restoring it is a person changing their mind.
func Restore(ctx context.Context, o RestoreOptions) (RestoreSummary, error) {
	sum := RestoreSummary{DryRun: o.DryRun}
	if o.Catalog == nil || o.Store == nil {
		return sum, errkind.Fatal(errors.New("clean: restore needs a catalog and a store"))
	}
	if !o.All && o.SHA256 == "" && o.Reason == "" && o.Class == "" {
		return sum, errkind.Permanent(errors.New("clean: say what to restore: an image's sha256, a reason, a class, or all"))
	}
	events := o.Events
	if events == nil {
		events = progress.Discard
	}
	m := mover{o.Catalog, o.Store}
	if !o.DryRun {
		if err := m.recoverMoves(ctx, events); err != nil {
			return sum, err
		}
	}
	if o.SHA256 != "" {
		im, err := o.Catalog.GetImage(ctx, o.SHA256)
		if err != nil {
			return sum, fmt.Errorf("clean: restore: %w", err)
		}
		if im.Status != catalog.StatusQuarantined {
			return sum, errkind.Permanent(fmt.Errorf("clean: restore: image %s is not quarantined (status %q)", o.SHA256, im.Status))
		}
	}
	originals, err := o.Catalog.CleanOriginalKeys(ctx)
	if err != nil {
		return sum, dbErr("reading moves", err)
	}
	var todo []catalog.Image
	err = o.Catalog.ForEachImage(ctx, catalog.ImageFilter{Class: o.Class, Status: catalog.StatusQuarantined}, func(im catalog.Image) error {
		if (o.SHA256 == "" || im.SHA256 == o.SHA256) && (o.Reason == "" || im.Reason == o.Reason) {
			todo = append(todo, im)
		}
		return nil
	})
	if err != nil {
		return sum, fmt.Errorf("clean: restore: %w", err)
	}
	progress.Start(events, stage+" restore", int64(len(todo)))
	defer progress.Finish(events, stage+" restore")
	for _, im := range todo {
		to := keptKey(im, originals[im.SHA256])
		if err := store.ValidKey(to); err != nil || strings.HasPrefix(to, QuarantinePrefix) {
			progress.Warn(events, stage, fmt.Sprintf("image %s: no sensible place to restore it to (%q); left where it is", im.SHA256, to))
			continue
		}
		mv := Move{SHA256: im.SHA256, Class: im.Class, From: im.Key, To: to}
		if o.DryRun {
			sum.Moves = append(sum.Moves, mv)
			sum.Restored++
			continue
		}
		err := m.move(ctx, im, to, target{status: catalog.StatusKept})
		if errors.Is(err, store.ErrNotExist) {
			sum.Missing = append(sum.Missing, im.SHA256)
			progress.Warn(events, stage, fmt.Sprintf("image %s: its bytes are not at %s; left as it is", im.SHA256, im.Key))
			continue
		}
		if err != nil {
			return sum, err
		}
		sum.Moves = append(sum.Moves, mv)
		sum.Restored++
		decision := ""
		if o.Keep {
			decision = DecisionKeep
		}
		if err := restoreDecision(ctx, o.Catalog, im.SHA256, decision); err != nil {
			return sum, err
		}
		progress.Step(events, stage+" restore", 1)
	}
	return sum, nil
}

// restoreDecision records keep, or drops a reject decision.
func restoreDecision(ctx context.Context, cat *catalog.Catalog, sha, decision string) error {
	if decision == DecisionKeep {
		return dbErr("recording a decision", cat.SetCleanDecision(ctx, sha, decision))
	}
	return dbErr("recording a decision", cat.DeleteCleanDecision(ctx, sha, DecisionReject))
}
