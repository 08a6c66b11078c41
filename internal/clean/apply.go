package clean

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/store"
)

// step is one image to move.
type step struct {
	it      *item
	to      string
	t       target
	release bool
}

// judged says whether this run decided anything about reason for it, so
// that the absence of the flag means "no longer flagged" rather than "not
// looked at" (an off-topic check skipped for want of a labeler must not
// release every image it once quarantined).
func (r *runner) judged(it *item, reason string) bool {
	switch reason {
	case ReasonRejected:
		return true
	case ReasonDuplicate, ReasonCrossClass:
		return it.dedupJudged
	case ReasonOffTopic:
		return it.offTopicJudged
	case ReasonBroken:
		return it.m != nil
	}
	return it.usable()
}

// want is where an item belongs after this run.
func (r *runner) want(it *item) target {
	switch it.decision {
	case DecisionKeep:
		return target{status: catalog.StatusKept}
	case DecisionReject:
		return target{status: catalog.StatusQuarantined, reason: ReasonRejected, method: "person"}
	}
	for _, reason := range reasonOrder {
		if f, ok := it.flags[reason]; ok {
			return target{status: catalog.StatusQuarantined, reason: reason, method: f.Method, score: f.Score}
		}
	}
	return target{status: catalog.StatusKept}
}

// plan lists the moves: kept images that are now flagged go to
// quarantine; a quarantined image stays where it is while its reason still
// holds (or was not judged this time), moves to another reason's folder
// when only another reason holds, and goes back when nothing does.
func (r *runner) plan(items []*item) []step {
	var steps []step
	for _, it := range items {
		if it.missing {
			continue
		}
		t, cur := r.want(it), it.img
		switch {
		case cur.Status == catalog.StatusKept && t.status == catalog.StatusKept:
		case cur.Status == catalog.StatusKept:
			steps = append(steps, step{it: it, to: quarantineKey(t.reason, cur.Class, cur.SHA256, cur.Key), t: t})
		case it.decision != DecisionKeep && (cur.Reason == t.reason || !r.judged(it, cur.Reason) || r.stillHolds(it, cur.Reason)):
			// It stays.
		case t.status == catalog.StatusKept:
			steps = append(steps, step{it: it, to: keptKey(cur, it.original), t: t, release: true})
		default:
			steps = append(steps, step{it: it, to: quarantineKey(t.reason, cur.Class, cur.SHA256, cur.Key), t: t})
		}
	}
	return steps
}

func (r *runner) stillHolds(it *item, reason string) bool {
	if reason == ReasonRejected {
		return it.decision == DecisionReject
	}
	_, ok := it.flags[reason]
	return ok
}

// record replaces the flags of the images judged this run and all the
// duplicate groups, in one transaction.
func (r *runner) record(ctx context.Context, items []*item, groups []groupRow) error {
	var verdicts []catalog.CleanVerdict
	for _, it := range items {
		for _, reason := range reasonOrder {
			if !r.judged(it, reason) || it.missing {
				continue
			}
			f, ok := it.flags[reason]
			if !ok {
				f = Flag{SHA256: it.img.SHA256, Reason: reason}
			}
			verdicts = append(verdicts, catalog.CleanVerdict{Flag: catalog.CleanFlag(f), Flagged: ok})
		}
	}
	rows := make([]catalog.CleanGroup, len(groups))
	for i, g := range groups {
		rows[i] = catalog.CleanGroup{SHA256: g.sha, Group: g.group, Kind: g.kind}
	}
	return dbErr("recording flags", r.o.Catalog.RecordCleanRun(ctx, verdicts, rows))
}

// apply carries the steps out (or, in a dry run, lists them), updating each
// item to its new state.
func (r *runner) apply(ctx context.Context, m mover, steps []step) error {
	if len(steps) > 0 {
		progress.Start(r.events, stage+" move", int64(len(steps)))
		defer progress.Finish(r.events, stage+" move")
	}
	for _, s := range steps {
		im := s.it.img
		mv := Move{SHA256: im.SHA256, Class: im.Class, Reason: s.t.reason, From: im.Key, To: s.to}
		if !r.o.DryRun {
			err := m.move(ctx, im, s.to, s.t)
			if errors.Is(err, store.ErrNotExist) {
				s.it.missing = true
				r.sum.Missing = append(r.sum.Missing, im.SHA256)
				r.warn(fmt.Sprintf("image %s: its bytes are not in the store at %s; left as it is", im.SHA256, im.Key))
				continue
			}
			if err != nil {
				return err
			}
		}
		s.it.img.Status, s.it.img.Key, s.it.img.Reason = s.t.status, s.to, s.t.reason
		r.sum.Moves = append(r.sum.Moves, mv)
		if s.release {
			r.sum.Released++
		} else {
			r.sum.Moved++
		}
		progress.Step(r.events, stage+" move", 1)
	}
	slices.SortFunc(r.sum.Moves, func(a, b Move) int {
		return cmp.Or(cmp.Compare(a.Class, b.Class), cmp.Compare(a.SHA256, b.SHA256))
	})
	return nil
}
