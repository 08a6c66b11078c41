package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/project"
)

// Stage is one step of the pipeline. The single-stage commands fill in
// their flags' fields; `scour run` uses each stage's zero value, which
// takes everything from scour.yaml.
type Stage interface {
	// Name is the stage's name, as --from spells it.
	Name() string
	// Fingerprint hashes what the stage reads: its part of scour.yaml and
	// the catalog rows it depends on. "" means the stage always runs.
	Fingerprint(ctx context.Context, p *project.Project) (string, error)
	// Run does the stage's work and returns its summary.
	Run(ctx context.Context, p *project.Project, events progress.Sink) (any, error)
}

// Stages returns the stages of `scour run`, in order.
func Stages() []Stage {
	return []Stage{Gather{}, Clean{}, Split{}, Train{}, Report{}}
}

// RunOptions tunes `scour run`.
type RunOptions struct {
	// Force reruns every stage even when its inputs did not change.
	Force bool
	// From skips the stages before this one ("" = from the start).
	From string
	// Rounds caps the gather -> clean rounds that bring classes to their
	// targets in clean images, the first included (0 = DefaultRounds, 1 =
	// no top-up: the summary still says why a class is short).
	Rounds int
	Events progress.Sink
}

// StageResult says what one stage did.
type StageResult struct {
	Stage   string  `json:"stage"`
	Round   int     `json:"round,omitempty"` // the top-up round, for gather and clean after the first`
	Skipped bool    `json:"skipped"`
	Why     string  `json:"why,omitempty"`
	Seconds float64 `json:"seconds"`
	Summary any     `json:"summary,omitempty"`
}

// Run executes the stages in order. A stage whose inputs have the
// fingerprint recorded when it last finished is skipped; every stage is
// itself resumable, so after Ctrl-C or a crash the same call continues
// where the work stopped.
//
// A stage that finishes with work pending (errkind.Partial) does not stop
// the run: the later stages use what it did, its fingerprint is not
// recorded so the next run tries it again, and Run returns the pending
// errors at the end, so that `scour run` and the single command exit alike.
func Run(ctx context.Context, p *project.Project, o RunOptions) ([]StageResult, error) {
	stages := Stages()
	if o.From != "" {
		var names []string
		start := -1
		for i, s := range stages {
			names = append(names, s.Name())
			if s.Name() == o.From {
				start = i
			}
		}
		if start < 0 {
			return nil, configErr("--from %q: want one of %v", o.From, names)
		}
		stages = stages[start:]
	}
	var out []StageResult
	var pending []error
	gathered := false
	for _, st := range stages {
		name := st.Name()
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if name == (Split{}).Name() && gathered {
			res, errs, err := topUpRun(ctx, p, o)
			out = append(out, res...)
			pending = append(pending, errs...)
			if err != nil {
				return out, err
			}
		}
		fp, err := st.Fingerprint(ctx, p)
		if err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		if !o.Force && fp != "" {
			prev, err := p.Catalog.StageFingerprint(ctx, name)
			if err != nil {
				return out, err
			}
			if prev == fp {
				out = append(out, StageResult{Stage: name, Skipped: true, Why: "inputs unchanged since it last finished"})
				progress.Info(o.Events, "run", name+": up to date")
				continue
			}
		}
		progress.Info(o.Events, "run", "== "+name)
		t0 := time.Now()
		sum, err := st.Run(ctx, p, o.Events)
		out = append(out, StageResult{Stage: name, Seconds: time.Since(t0).Seconds(), Summary: sum})
		gathered = gathered || name == (Gather{}).Name()
		if errkind.IsPartial(err) {
			progress.Warn(o.Events, "run", name+": "+err.Error())
			pending = append(pending, fmt.Errorf("%s: %w", name, err))
			continue
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		if fp == "" {
			continue
		}
		// Record the inputs as they are now: clean, for one, changes the
		// statuses it reads, and an unchanged project must match next time.
		if fp, err = st.Fingerprint(ctx, p); err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		if err := p.Catalog.RecordStage(ctx, name, fp); err != nil {
			return out, err
		}
	}
	return out, errors.Join(pending...)
}

// topUpRun runs the top-up rounds after the first gather and clean of a
// run, when gather ran: a run that skipped gather has nothing new to top
// up, so an unchanged project stays a run that skips everything. After
// the rounds, gather's and clean's fingerprints are recorded again, as of
// now, unless one of them left work pending.
func topUpRun(ctx context.Context, p *project.Project, o RunOptions) ([]StageResult, []error, error) {
	var out []StageResult
	var pending []error
	partial := map[string]bool{}
	sum := TopUpSummary{}
	err := TopUp{Rounds: o.Rounds}.rounds(ctx, p, o.Events, &sum, 1, func(stage string, round int, err error, took time.Duration) {
		out = append(out, StageResult{Stage: stage, Round: round, Seconds: took.Seconds()})
		if errkind.IsPartial(err) {
			partial[stage] = true
			progress.Warn(o.Events, "run", fmt.Sprintf("%s (round %d): %v", stage, round, err))
			pending = append(pending, fmt.Errorf("%s (round %d): %w", stage, round, err))
		}
	})
	for i, r := range sum.Rounds {
		// The summaries come with the rounds; out holds two entries a round.
		if 2*i+1 < len(out) {
			out[2*i].Summary, out[2*i+1].Summary = r.Gather, r.Clean
		} else if 2*i < len(out) {
			out[2*i].Summary = r.Gather
		}
	}
	if err != nil {
		return out, pending, err
	}
	if len(sum.Rounds) > 0 || len(sum.Short()) > 0 {
		out = append(out, StageResult{Stage: "top-up", Summary: sum})
	}
	if len(sum.Rounds) == 0 {
		return out, pending, nil
	}
	for _, st := range []Stage{Gather{}, Clean{}} {
		if partial[st.Name()] {
			continue
		}
		fp, err := st.Fingerprint(ctx, p)
		if err != nil {
			return out, pending, fmt.Errorf("%s: %w", st.Name(), err)
		}
		if err := p.Catalog.RecordStage(ctx, st.Name(), fp); err != nil {
			return out, pending, err
		}
	}
	return out, pending, nil
}

// hasher builds a fingerprint from configuration sections and catalog rows.
type hasher struct{ h io.Writer }

func newHasher() (hasher, func() string) {
	h := sha256.New()
	return hasher{h}, func() string { return hex.EncodeToString(h.Sum(nil)) }
}

// yaml hashes a configuration section as scour.yaml would spell it.
func (h hasher) yaml(v any) {
	b, _ := yaml.Marshal(v)
	h.h.Write(b)
}

// row hashes one catalog row of two fields.
func (h hasher) row(a, b string) { io.WriteString(h.h, a+"\x00"+b+"\n") }

func configErr(format string, args ...any) error {
	return errkind.WithCause(fmt.Errorf(format, args...), "config")
}
