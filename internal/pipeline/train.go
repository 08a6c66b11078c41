package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/scour-dev/scour/internal/augment"
	"github.com/scour-dev/scour/internal/clean"
	"github.com/scour-dev/scour/internal/nn"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/project"
	"github.com/scour-dev/scour/internal/report"
	"github.com/scour-dev/scour/internal/split"
	"github.com/scour-dev/scour/internal/train"
)

// TrainResult is one finished training run (runs/<name>/result.json).
type TrainResult = train.Result

// Train fits what scour.yaml asks for: the transfer-learning head (when
// clean cached embeddings), train.model, and every variant in train.sweep.
type Train struct{}

func (Train) Name() string { return "train" }

func (Train) Fingerprint(ctx context.Context, p *project.Project) (string, error) {
	h, sum := newHasher()
	h.yaml(p.Config.Train)
	for _, set := range []string{split.Train, split.Val, split.Test} {
		ms, err := split.Members(ctx, p.Catalog, set)
		if err != nil {
			return "", err
		}
		for _, m := range ms {
			h.row(m.SHA256, m.Split)
		}
	}
	return sum(), nil
}

func (t Train) Run(ctx context.Context, p *project.Project, events progress.Sink) (any, error) {
	return t.Do(ctx, p, events)
}

// Do trains the head, the model and the sweep variants, in that order.
func (Train) Do(ctx context.Context, p *project.Project, events progress.Sink) ([]TrainResult, error) {
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
	cfgs, err := trainConfigs(p, specs, TrainOverrides{})
	if err != nil {
		return out, err
	}
	rs, err := trainCNNs(ctx, p, cfgs, events)
	return append(out, rs...), err
}

// trainConfigs checks every spec before anything trains: a typo in the
// last variant must not cost the time of the first ones.
func trainConfigs(p *project.Project, specs []string, o TrainOverrides) ([]train.Config, error) {
	var cfgs []train.Config
	for _, spec := range specs {
		cfg, err := TrainConfig(p, spec, o)
		if err != nil {
			return nil, err
		}
		cfgs = append(cfgs, cfg)
	}
	return cfgs, nil
}

// trainCNNs fits each configuration on the split, loaded once, each an
// ordinary resumable run in runs/<name>. Train, TrainOne and Sweep all
// train through here.
func trainCNNs(ctx context.Context, p *project.Project, cfgs []train.Config, events progress.Sink) ([]TrainResult, error) {
	d, err := LoadData(ctx, p, events)
	if err != nil {
		return nil, err
	}
	var out []train.Result
	for _, cfg := range cfgs {
		res, err := train.Run(ctx, d, cfg, filepath.Join(p.Dir, "runs", cfg.Name), events)
		if err != nil {
			return out, fmt.Errorf("%s: %w", cfg.Spec, err)
		}
		out = append(out, res)
	}
	return out, nil
}

// TrainOverrides replace scour.yaml's train settings (the flags of train
// and sweep); zero values keep scour.yaml's.
type TrainOverrides struct {
	Epochs  int
	Batch   int
	LR      float64
	Augment string // Keras ImageDataGenerator arguments; "none" for none
}

// TrainOne fits one CNN: spec ("" = train.model) in runs/<name> (name "" =
// from the spec).
func TrainOne(ctx context.Context, p *project.Project, spec, name string, o TrainOverrides, events progress.Sink) (TrainResult, error) {
	if spec == "" {
		spec = p.Config.Train.Model
	}
	cfg, err := TrainConfig(p, spec, o)
	if err != nil {
		return train.Result{}, err
	}
	if name != "" {
		cfg.Name = name
	}
	rs, err := trainCNNs(ctx, p, []train.Config{cfg}, events)
	if err != nil {
		return train.Result{}, err
	}
	return rs[0], nil
}

// DefaultSweep is the original experiments: 32-64-128 and 32-64 filters,
// each with one and two dropout layers.
var DefaultSweep = []string{"32-64-128/d1", "32-64-128/d2", "32-64/d1", "32-64/d2"}

// Sweep trains each variant (default: train.sweep, else DefaultSweep) on
// the same data, each an ordinary resumable run under runs/, and writes
// their results to runs/sweep.json.
func Sweep(ctx context.Context, p *project.Project, variants []string, o TrainOverrides, events progress.Sink) ([]TrainResult, error) {
	vs := p.Config.Train.Sweep
	if len(vs) == 0 {
		vs = DefaultSweep
	}
	if len(variants) > 0 {
		vs = variants
	}
	cfgs, err := trainConfigs(p, vs, o)
	if err != nil {
		return nil, err
	}
	results, err := trainCNNs(ctx, p, cfgs, events)
	if err != nil {
		return results, err
	}
	js, _ := json.MarshalIndent(results, "", "  ")
	return results, os.WriteFile(filepath.Join(p.Dir, "runs", "sweep.json"), js, 0o644)
}

// RankSweep orders a sweep's results as the report ranks them: by
// validation accuracy, and by overfitting gap (train minus validation
// accuracy at the final epoch, smallest first).
func RankSweep(rs []TrainResult) (byAccuracy, byGap []TrainResult, err error) {
	runs := make([]report.Run, len(rs))
	for i, r := range rs {
		runs[i] = reportRun(r)
	}
	order := func(by report.RankBy) ([]TrainResult, error) {
		ranked, err := report.Rank(runs, by, report.Thresholds{})
		out := make([]TrainResult, len(ranked))
		for i, k := range ranked {
			out[i] = rs[k.Index]
		}
		return out, err
	}
	if byAccuracy, err = order(report.ByValAccuracy); err != nil {
		return nil, nil, err
	}
	byGap, err = order(report.ByGap)
	return byAccuracy, byGap, err
}

// TrainConfig is a CNN run of spec with scour.yaml's train settings and
// the overrides.
func TrainConfig(p *project.Project, spec string, o TrainOverrides) (train.Config, error) {
	if _, err := nn.ParseSpec(spec); err != nil {
		return train.Config{}, configErr("%v", err)
	}
	t := p.Config.Train
	c := train.Config{Name: RunName(spec), Spec: spec, Epochs: t.Epochs, Batch: t.Batch, Optimizer: t.Optimizer, LR: t.LR, Patience: t.Patience, Seed: t.Seed}
	if t.Augment != "" && t.Augment != "none" {
		a, err := augment.ParseParams(t.Augment)
		if err != nil {
			return c, configErr("train.augment %q: %v", t.Augment, err)
		}
		c.Augment = a
	}
	if o.Epochs > 0 {
		c.Epochs = o.Epochs
	}
	if o.Batch > 0 {
		c.Batch = o.Batch
	}
	if o.LR > 0 {
		c.LR = o.LR
	}
	switch o.Augment {
	case "":
	case "none":
		c.Augment = augment.Params{}
	default:
		a, err := augment.ParseParams(o.Augment)
		if err != nil {
			return c, configErr("--augment %q: %v", o.Augment, err)
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

// TrainHead fits the transfer-learning head (an MLP when hidden > 0; epochs
// 0 = the default) on clean's cached embeddings of the split, in runs/head
// or runs/head-mlpN.
func TrainHead(ctx context.Context, p *project.Project, hidden, epochs int, events progress.Sink) (TrainResult, error) {
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
	cfg := train.HeadConfig{Name: name, Model: train.EmbeddingModel(), Hidden: hidden, Epochs: epochs, Seed: p.Config.Train.Seed}
	return train.RunHead(ctx, p.Config.ClassNames(), tr, val, test, cfg, filepath.Join(p.Dir, "runs", name), events)
}

// LoadData reads the split's images at the configured input size.
func LoadData(ctx context.Context, p *project.Project, events progress.Sink) (train.Data, error) {
	ms, err := split.Members(ctx, p.Catalog, "")
	if err != nil {
		return train.Data{}, err
	}
	srcs := make([]train.Source, len(ms))
	for i, m := range ms {
		srcs[i] = train.Source{SHA256: m.SHA256, Class: m.Class, Key: m.Key, Split: m.Split}
	}
	d, err := train.Load(ctx, p.Store, p.Config.ClassNames(), p.Config.Train.InputSize, srcs, events)
	if err != nil {
		return d, err
	}
	for _, s := range d.Skipped {
		progress.Warn(events, "train", "skipped unreadable image "+s)
	}
	return d, nil
}

// LoadEmbedded returns the split's images as the embeddings clean cached.
func LoadEmbedded(ctx context.Context, p *project.Project) (tr, val, test []train.Embedded, missing int, err error) {
	ms, err := split.Members(ctx, p.Catalog, "")
	if err != nil {
		return nil, nil, nil, 0, err
	}
	embs, err := clean.Embeddings(ctx, p.Catalog, train.EmbeddingModel())
	if err != nil {
		return nil, nil, nil, 0, err
	}
	idx := map[string]int32{}
	for i, c := range p.Config.ClassNames() {
		idx[c] = int32(i)
	}
	for _, m := range ms {
		x, ok := embs[m.SHA256]
		lab, known := idx[m.Class]
		if !ok || !known {
			missing++
			continue
		}
		e := train.Embedded{SHA256: m.SHA256, Label: lab, X: x}
		switch m.Split {
		case split.Train:
			tr = append(tr, e)
		case split.Val:
			val = append(val, e)
		case split.Test:
			test = append(test, e)
		}
	}
	return tr, val, test, missing, nil
}
