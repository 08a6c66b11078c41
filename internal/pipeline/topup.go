package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/gather"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/project"
)

// DefaultRounds is how many gather -> clean rounds a top-up runs at most,
// the first included: with the usual garbage share, the second round
// reaches the target and the third mops up.
const DefaultRounds = 3

// Why a class ended a top-up short of its target.
const (
	ShortExhausted = "exhausted"  // its sources have nothing more
	ShortRounds    = "rounds-cap" // the rounds ran out first
	ShortGarbage   = "garbage"    // the rounds ran out, and clean quarantined most of what came
)

// garbageShare is the share of downloads clean quarantined above which a
// class short of its target blames the garbage, not the rounds.
const garbageShare = 0.5

// TopUp makes targets count clean images: it runs gather -> clean rounds,
// each fetching past the target of every short class by about what clean
// quarantined before, and paging further into its searches, until every
// class has its target, its sources have nothing more, a round brings
// nothing new, or Rounds rounds have run.
type TopUp struct {
	Rounds int // at most this many rounds, the first included (0 = DefaultRounds)
	Gather Gather
	Clean  Clean
}

// TopUpSummary is what the rounds did and where each class ended.
type TopUpSummary struct {
	Rounds  []TopUpRound `json:"rounds"`
	Classes []Standing   `json:"classes"`
}

// TopUpRound is one gather -> clean round.
type TopUpRound struct {
	Round  int            `json:"round"`
	More   map[string]int `json:"more,omitempty"` // images fetched past each class's target
	Gather *GatherSummary `json:"gather,omitempty"`
	Clean  *CleanSummary  `json:"clean,omitempty"`
}

// Standing is a class with a target after the rounds.
type Standing struct {
	Class  string `json:"class"`
	Target int    `json:"target"`
	Kept   int    `json:"kept"` // clean images
	// Reason and Why say why a class is short of its target (one of the
	// Short* reasons, and in words); empty when it reached it.
	Reason string `json:"reason,omitempty"`
	Why    string `json:"why,omitempty"`
}

// Short lists the classes below their target.
func (s TopUpSummary) Short() []Standing {
	var out []Standing
	for _, c := range s.Classes {
		if c.Kept < c.Target {
			out = append(out, c)
		}
	}
	return out
}

// Do runs the rounds, the first included: `scour gather --top-up`.
func (t TopUp) Do(ctx context.Context, p *project.Project, events progress.Sink) (TopUpSummary, error) {
	var sum TopUpSummary
	var pending []error
	err := t.rounds(ctx, p, events, &sum, 0, func(stage string, round int, err error, _ time.Duration) {
		if errkind.IsPartial(err) {
			pending = append(pending, fmt.Errorf("%s (round %d): %w", stage, round, err))
		}
	})
	if err != nil {
		return sum, err
	}
	// errors.Join keeps each partial error findable by errkind.IsPartial.
	return sum, errors.Join(pending...)
}

// rounds runs rounds done+1 .. Rounds, telling ran about each stage run,
// then records why each short class is short. A partial stage (work left
// for a later run) does not stop the rounds; any other error does.
func (t TopUp) rounds(ctx context.Context, p *project.Project, events progress.Sink, sum *TopUpSummary, done int,
	ran func(stage string, round int, err error, took time.Duration)) error {
	if t.Rounds <= 0 {
		t.Rounds = DefaultRounds
	}
	if t.Gather.Shard.Enabled() || t.Clean.Shard.Enabled() {
		return configErr("a top-up cleans between rounds, which needs whole classes: run it after merge, not in a shard")
	}
	opts, err := GatherOptions(p, t.Gather.Only)
	if err != nil {
		return err
	}
	gt := &gather.Gatherer{Cat: p.Catalog}
	before, err := standings(ctx, p, opts)
	if err != nil {
		return err
	}
	stalled := map[string]bool{}
	round := done
	for {
		exhausted, err := gt.Exhausted(ctx, opts)
		if err != nil {
			return err
		}
		more := map[string]int{}
		for _, c := range opts.Classes {
			st := before[c.Name]
			if c.Target <= 0 || st.kept >= c.Target || stalled[c.Name] || (exhausted[c.Name] && st.pending == 0) {
				continue
			}
			more[c.Name] = gather.TopUpMore(c.Target, st.kept, st.share())
		}
		// The first round always runs: it is the plain gather and clean.
		if round > 0 && len(more) == 0 || round >= t.Rounds {
			break
		}
		round++
		if err := ctx.Err(); err != nil {
			return err
		}
		r := TopUpRound{Round: round, More: more}
		if round == 1 {
			// The first round is a plain gather: there is no clean share yet.
			r.More = nil
		}
		g := t.Gather
		g.More = r.More
		progress.Info(events, "run", fmt.Sprintf("== gather (round %d of at most %d)", round, t.Rounds))
		t0 := time.Now()
		gs, err := g.Do(ctx, p, events)
		ran("gather", round, err, time.Since(t0))
		r.Gather = gs
		if err != nil && !errkind.IsPartial(err) {
			sum.Rounds = append(sum.Rounds, r)
			return fmt.Errorf("gather (round %d): %w", round, err)
		}
		progress.Info(events, "run", fmt.Sprintf("== clean (round %d of at most %d)", round, t.Rounds))
		t0 = time.Now()
		cs, err := t.Clean.Do(ctx, p, events)
		ran("clean", round, err, time.Since(t0))
		r.Clean = &cs
		sum.Rounds = append(sum.Rounds, r)
		if err != nil && !errkind.IsPartial(err) {
			return fmt.Errorf("clean (round %d): %w", round, err)
		}
		after, err := standings(ctx, p, opts)
		if err != nil {
			return err
		}
		for name := range more {
			b, a := before[name], after[name]
			stalled[name] = a.urls == b.urls && a.images == b.images
		}
		before = after
	}
	exhausted, err := gt.Exhausted(ctx, opts)
	if err != nil {
		return err
	}
	sum.Classes = nil
	var short []catalog.Shortfall
	for _, c := range opts.Classes {
		if c.Target <= 0 {
			continue
		}
		st := before[c.Name]
		s := Standing{Class: c.Name, Target: c.Target, Kept: st.kept}
		if st.kept < c.Target {
			s.Reason, s.Why = whyShort(st, c.Target, round, t.Rounds, exhausted[c.Name] && st.pending == 0, stalled[c.Name])
			short = append(short, catalog.Shortfall{Class: c.Name, Target: c.Target, Kept: st.kept, Rounds: round, Reason: s.Reason, Detail: s.Why})
			progress.Warn(events, "gather", fmt.Sprintf("class %s: %d of %d clean images: %s", c.Name, st.kept, c.Target, s.Why))
		}
		sum.Classes = append(sum.Classes, s)
	}
	if len(t.Gather.Only) > 0 {
		// Classes left out of this top-up keep what an earlier one said.
		prev, err := p.Catalog.Shortfalls(ctx)
		if err != nil {
			return err
		}
		for name, f := range prev {
			if _, ours := before[name]; !ours {
				short = append(short, f)
			}
		}
	}
	return p.Catalog.SaveShortfalls(ctx, short)
}

// whyShort says, in a reason and in words, why a class ended short.
func whyShort(st standing, target, round, cap int, exhausted, stalled bool) (string, string) {
	figures := fmt.Sprintf("%d URLs found, %d images downloaded, %d kept after clean", st.urls, st.images, st.kept)
	garbage := ""
	if st.images > 0 && st.share() < 1-garbageShare {
		garbage = fmt.Sprintf("; clean quarantined %d of %d downloads (%.0f%%)", st.images-st.kept, st.images, 100*(1-st.share()))
	}
	switch {
	case exhausted:
		return ShortExhausted, fmt.Sprintf("sources exhausted: every search and list ran to its end (%s)%s; add queries or sources", figures, garbage)
	case stalled:
		return ShortExhausted, fmt.Sprintf("sources exhausted: round %d found nothing new (%s)%s; raise max_pages, or add queries or sources", round, figures, garbage)
	case garbage != "":
		return ShortGarbage, fmt.Sprintf("too much garbage: clean quarantined %d of %d downloads (%.0f%%) in %d of %d rounds (%s); make the queries more specific, add references, or allow more rounds with --rounds",
			st.images-st.kept, st.images, 100*(1-st.share()), round, cap, figures)
	}
	return ShortRounds, fmt.Sprintf("rounds cap reached: %d of %d rounds ran (%s); run again, or allow more rounds with --rounds", round, cap, figures)
}

// standing is what a class has after a round.
type standing struct {
	urls, pending, images, kept int
}

// share is the part of the class's downloaded images that clean kept; 1
// when nothing was downloaded yet.
func (s standing) share() float64 {
	if s.images == 0 {
		return 1
	}
	return float64(s.kept) / float64(s.images)
}

func standings(ctx context.Context, p *project.Project, o gather.Options) (map[string]standing, error) {
	var names []string
	for _, c := range o.Classes {
		names = append(names, c.Name)
	}
	stats, err := p.Catalog.Stats(ctx, names)
	if err != nil {
		return nil, err
	}
	out := map[string]standing{}
	for _, s := range stats {
		failed, quarantined := 0, 0
		for _, n := range s.Failed {
			failed += n
		}
		for _, n := range s.Quarantined {
			quarantined += n
		}
		out[s.Class] = standing{urls: s.URLs, pending: s.URLs - s.Done - s.Duplicates - failed, images: s.Kept + quarantined, kept: s.Kept}
	}
	return out, nil
}
