package pipeline

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/scour-dev/scour/internal/augment"
	"github.com/scour-dev/scour/internal/clean"
	"github.com/scour-dev/scour/internal/gather"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/project"
	"github.com/scour-dev/scour/internal/report"
	"github.com/scour-dev/scour/internal/split"
	"github.com/scour-dev/scour/internal/train"
)

// Stages, in order.
var Stages = []string{"gather", "clean", "split", "train", "report"}

// RunOptions tunes `scour run`.
type RunOptions struct {
	// Force reruns every stage even when its inputs did not change.
	Force bool
	// From skips the stages before this one ("" = from the start).
	From   string
	Events progress.Sink
}

// StageResult says what one stage did.
type StageResult struct {
	Stage   string  `json:"stage"`
	Skipped bool    `json:"skipped"`
	Why     string  `json:"why,omitempty"`
	Seconds float64 `json:"seconds"`
	Summary any     `json:"summary,omitempty"`
}

// Run executes gather, clean, split, train and report in order. A stage
// whose inputs have the fingerprint recorded when it last finished is
// skipped; every stage is itself resumable, so after Ctrl-C or a crash the
// same call continues where the work stopped.
func Run(ctx context.Context, p *project.Project, o RunOptions) ([]StageResult, error) {
	start := 0
	if o.From != "" {
		start = -1
		for i, s := range Stages {
			if s == o.From {
				start = i
			}
		}
		if start < 0 {
			return nil, configErr("--from %q: want one of %v", o.From, Stages)
		}
	}
	var out []StageResult
	for _, stage := range Stages[start:] {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		fp, err := fingerprint(ctx, p, stage)
		if err != nil {
			return out, err
		}
		if !o.Force && stage != "report" {
			if prev, _ := recorded(ctx, p, stage); prev == fp {
				out = append(out, StageResult{Stage: stage, Skipped: true, Why: "inputs unchanged since it last finished"})
				progress.Info(o.Events, "run", stage+": up to date")
				continue
			}
		}
		progress.Info(o.Events, "run", "== "+stage)
		t0 := time.Now()
		sum, err := runStage(ctx, p, stage, o.Events)
		res := StageResult{Stage: stage, Seconds: time.Since(t0).Seconds(), Summary: sum}
		out = append(out, res)
		if err != nil {
			return out, fmt.Errorf("%s: %w", stage, err)
		}
		// Record the inputs as they are now: clean, for one, changes the
		// statuses it reads, and an unchanged project must match next time.
		if fp, err = fingerprint(ctx, p, stage); err != nil {
			return out, err
		}
		if _, err := p.Catalog.DB().ExecContext(ctx, `INSERT INTO pipeline_stages(stage, fingerprint, finished_at) VALUES(?,?,?)
			ON CONFLICT(stage) DO UPDATE SET fingerprint=excluded.fingerprint, finished_at=excluded.finished_at`,
			stage, fp, time.Now().UTC().Format(time.RFC3339)); err != nil {
			return out, err
		}
	}
	return out, nil
}

func recorded(ctx context.Context, p *project.Project, stage string) (string, error) {
	var fp string
	err := p.Catalog.DB().QueryRowContext(ctx, `SELECT fingerprint FROM pipeline_stages WHERE stage=?`, stage).Scan(&fp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return fp, err
}

func runStage(ctx context.Context, p *project.Project, stage string, events progress.Sink) (any, error) {
	switch stage {
	case "gather":
		opts, err := GatherOptions(p, nil)
		if err != nil {
			return nil, err
		}
		g := &gather.Gatherer{Cat: p.Catalog, Store: p.Store, Fetcher: NewFetcher(p.Config.Fetch), Events: events}
		return g.Run(ctx, opts)
	case "clean":
		lab, err := LocalLabeler(events)
		if err != nil {
			return nil, err
		}
		if lab != nil {
			defer lab.Close()
		}
		return clean.Run(ctx, clean.Options{Catalog: p.Catalog, Store: p.Store, Labeler: lab, Config: p.Config.Clean, Classes: CleanClasses(p), Events: events})
	case "split":
		return Split(ctx, p, p.Config.Split.Seed)
	case "train":
		return trainAll(ctx, p, events)
	case "report":
		r, err := BuildReport(ctx, p)
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(p.Dir, "report")
		return map[string]string{"report": filepath.Join(dir, "index.html")}, report.Write(dir, r)
	}
	return nil, fmt.Errorf("unknown stage %q", stage)
}

// trainAll trains the transfer-learning head (when clean cached
// embeddings), the configured CNN, and the sweep variants.
func trainAll(ctx context.Context, p *project.Project, events progress.Sink) ([]train.Result, error) {
	var out []train.Result
	res, err := TrainHead(ctx, p, 0, 0, events)
	switch {
	case errors.Is(err, train.ErrNoEmbeddings):
		progress.Warn(events, "train", "no cached embeddings (ONNX Runtime missing when clean ran?): skipping the transfer-learning head")
	case err != nil:
		return out, fmt.Errorf("head: %w", err)
	default:
		out = append(out, res)
	}
	specs := []string{p.Config.Train.Model}
	for _, s := range p.Config.Train.Sweep {
		if s != p.Config.Train.Model {
			specs = append(specs, s)
		}
	}
	d, err := LoadData(ctx, p, events)
	if err != nil {
		return out, err
	}
	for _, spec := range specs {
		cfg, err := TrainConfig(p, spec)
		if err != nil {
			return out, err
		}
		res, err := train.Run(ctx, d, cfg, filepath.Join(p.Dir, "runs", cfg.Name), events)
		if err != nil {
			return out, fmt.Errorf("%s: %w", spec, err)
		}
		out = append(out, res)
	}
	return out, nil
}

// Split splits the kept images with scour.yaml's fractions and the given
// seed, keeping each of clean's near-duplicate groups on one side.
func Split(ctx context.Context, p *project.Project, seed int64) (split.Summary, error) {
	groups, err := clean.Groups(ctx, p.Catalog)
	if err != nil {
		return split.Summary{}, err
	}
	sc := p.Config.Split
	return split.Run(ctx, p.Catalog, split.Fractions{Train: sc.Train, Val: sc.Val, Test: sc.Test}, seed, func(sha string) string { return groups[sha] })
}

// TrainHead fits the transfer-learning head (an MLP when hidden > 0; epochs
// 0 = the default) on clean's cached embeddings of the split, in runs/head
// or runs/head-mlpN.
func TrainHead(ctx context.Context, p *project.Project, hidden, epochs int, events progress.Sink) (train.Result, error) {
	tr, val, test, missing, err := LoadEmbedded(ctx, p)
	if err != nil {
		return train.Result{}, err
	}
	if missing > 0 && len(tr) > 0 {
		progress.Warn(events, "train", fmt.Sprintf("%d images of the split have no cached embedding (run scour clean with the local recognizer to compute them)", missing))
	}
	name := "head"
	if hidden > 0 {
		name = fmt.Sprintf("head-mlp%d", hidden)
	}
	cfg := train.HeadConfig{Name: name, Model: EmbeddingModel(), Hidden: hidden, Epochs: epochs, Seed: p.Config.Train.Seed}
	return train.RunHead(ctx, p.Config.ClassNames(), tr, val, test, cfg, filepath.Join(p.Dir, "runs", name), events)
}

// TrainConfig is a CNN run of spec with scour.yaml's train settings.
func TrainConfig(p *project.Project, spec string) (train.Config, error) {
	t := p.Config.Train
	c := train.Config{Name: RunName(spec), Spec: spec, Epochs: t.Epochs, Batch: t.Batch, Optimizer: t.Optimizer, LR: t.LR, Patience: t.Patience, Seed: t.Seed}
	if t.Augment != "" && t.Augment != "none" {
		a, err := augment.ParseParams(t.Augment)
		if err != nil {
			return c, configErr("train.augment %q: %v", t.Augment, err)
		}
		c.Augment = a
	}
	return c, nil
}

// RunName turns a spec into a folder name: "32-64-128/d2" -> "32-64-128_d2".
func RunName(spec string) string {
	out := make([]rune, 0, len(spec))
	for _, r := range spec {
		switch r {
		case '/', ' ', '=', ',':
			r = '_'
		case '@':
			r = 'a'
		}
		out = append(out, r)
	}
	return string(out)
}

// fingerprint hashes what a stage reads: its part of scour.yaml and the
// catalog rows it depends on.
func fingerprint(ctx context.Context, p *project.Project, stage string) (string, error) {
	h := sha256.New()
	cfg := p.Config
	enc := func(v any) {
		b, _ := yaml.Marshal(v)
		h.Write(b)
	}
	rows := func(q string) error {
		r, err := p.Catalog.DB().QueryContext(ctx, q)
		if err != nil {
			return err
		}
		defer r.Close()
		var a, b string
		for r.Next() {
			if err := r.Scan(&a, &b); err != nil {
				return err
			}
			io.WriteString(h, a+"\x00"+b+"\n")
		}
		return r.Err()
	}
	var err error
	switch stage {
	case "gather":
		enc(cfg.Classes)
		enc(cfg.Sources)
		enc(cfg.Fetch)
		// Pending URLs mean gather has work left.
		err = rows(`SELECT 'pending', count(*) FROM urls WHERE state='pending'`)
	case "clean":
		enc(cfg.Clean)
		enc(cfg.Classes)
		err = rows(`SELECT sha256, status FROM images ORDER BY sha256`)
	case "split":
		enc(cfg.Split)
		if err = rows(`SELECT sha256, class FROM images WHERE status='kept' ORDER BY sha256`); err == nil {
			var groups map[string]string
			if groups, err = clean.Groups(ctx, p.Catalog); err == nil {
				enc(groups)
			}
		}
	case "train":
		enc(cfg.Train)
		err = rows(`SELECT s.sha256, s.split FROM splits s JOIN images i ON i.sha256 = s.sha256 WHERE i.status='kept' ORDER BY s.sha256`)
	}
	return hex.EncodeToString(h.Sum(nil)), err
}
