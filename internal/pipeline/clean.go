package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/clean"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/project"
	"github.com/scour-dev/scour/internal/shard"
	"github.com/scour-dev/scour/internal/vision"
	"github.com/scour-dev/scour/internal/vision/cloud"
)

// HelpOffTopic explains the off-topic and misfiled checks and their
// methods, for `scour clean --help`.
const HelpOffTopic = clean.HelpOffTopic

// CleanSummary is what clean found and did (in a dry run: would do).
type CleanSummary = clean.Summary

// CloudConfirmUSD is the estimated cost above which a cloud labeler runs
// only when the user accepted it (Clean.Yes, the --yes flag).
const CloudConfirmUSD = 1.0

// Clean flags broken, duplicate and off-topic images and quarantines them.
type Clean struct {
	// Labeler is the recognizer: local (the default, offline), rekognition
	// (AWS), vision (Google Cloud Vision, key in GOOGLE_API_KEY) or none.
	Labeler string
	Yes     bool // accept a cloud labeler's estimated cost
	DryRun  bool // decide and report, move nothing
	// Shard measures and labels only this shard's images, for merge:
	// judging needs whole classes and runs after merge.
	Shard ShardSpec
}

func (Clean) Name() string { return "clean" }

func (Clean) Fingerprint(ctx context.Context, p *project.Project) (string, error) {
	h, sum := newHasher()
	h.yaml(p.Config.Clean)
	h.yaml(p.Config.Classes)
	err := p.Catalog.ForEachImage(ctx, catalog.ImageFilter{}, func(im catalog.Image) error {
		h.row(im.SHA256, im.Status)
		return nil
	})
	return sum(), err
}

func (c Clean) Run(ctx context.Context, p *project.Project, events progress.Sink) (any, error) {
	return c.Do(ctx, p, events)
}

// Do cleans the project, or with Shard measures and labels one shard's
// images into the shard's own catalog.
func (c Clean) Do(ctx context.Context, p *project.Project, events progress.Sink) (CleanSummary, error) {
	lab, err := c.labeler(ctx, p, events)
	if err != nil {
		return CleanSummary{}, err
	}
	if lab != nil {
		defer lab.Close()
	}
	opts := clean.Options{
		Catalog: p.Catalog, Store: p.Store, Labeler: lab, Config: p.Config.Clean,
		Classes: CleanClasses(p), DryRun: c.DryRun, Events: events,
	}
	if !c.Shard.Enabled() {
		return clean.Run(ctx, opts)
	}
	sess, err := shard.Start(ctx, p.Store, c.Shard, p.Dir)
	if err != nil {
		return CleanSummary{}, err
	}
	defer sess.Close(ctx)
	opts.Catalog, opts.MeasureOnly = sess.Catalog, true
	sum, err := clean.Run(ctx, opts)
	if err == nil {
		err = sess.Finish(ctx, sum)
	}
	return sum, err
}

// labeler builds the recognizer clean uses. A missing ONNX Runtime is not
// an error: clean runs the checks that need no model and says so. A cloud
// labeler says what it would cost, and above CloudConfirmUSD runs only
// when the user accepted the cost.
func (c Clean) labeler(ctx context.Context, p *project.Project, events progress.Sink) (vision.Labeler, error) {
	name := c.Labeler
	switch name {
	case "none":
		return nil, nil
	case "", "local":
		return LocalLabeler(events)
	case "rekognition", "vision":
	default:
		return nil, configErr("--labeler %q: want local, rekognition, vision or none", name)
	}
	n, err := imageCount(ctx, p)
	if err != nil {
		return nil, err
	}
	var lab interface {
		vision.Labeler
		cloud.Pricer
	}
	if name == "rekognition" {
		lab, err = cloud.NewRekognition(ctx, cloud.RekognitionOptions{})
	} else {
		key := os.Getenv("GOOGLE_API_KEY")
		if key == "" {
			return nil, configErr("--labeler vision needs an API key in GOOGLE_API_KEY")
		}
		lab, err = cloud.NewVision(cloud.VisionOptions{APIKey: key})
	}
	if err != nil {
		return nil, err
	}
	cost := lab.EstimateCost(n)
	progress.Warn(events, "clean", fmt.Sprintf("%s: up to %d images would be sent, about $%.2f at list price (images labelled before are cached and free)", name, n, cost))
	if cost > CloudConfirmUSD && !c.Yes {
		lab.Close()
		return nil, configErr("estimated cost $%.2f is above $%.2f: run again with --yes to accept it", cost, CloudConfirmUSD)
	}
	return lab, nil
}

// imageCount is the number of images a cloud labeler may be sent: every
// image in the catalog, whatever its status.
func imageCount(ctx context.Context, p *project.Project) (int, error) {
	counts, err := p.Catalog.CountImages(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, byStatus := range counts {
		for _, m := range byStatus {
			n += m
		}
	}
	return n, nil
}

// CleanClasses lists the classes with their reference images and methods.
func CleanClasses(p *project.Project) []clean.Class {
	var out []clean.Class
	for _, c := range p.Config.Classes {
		cl := clean.Class{Name: c.Name, Method: c.OffTopic}
		for _, r := range c.References {
			cl.References = append(cl.References, p.Path(r))
		}
		out = append(out, cl)
	}
	return out
}

// LocalLabeler is the in-process recognizer. Without ONNX Runtime it
// returns nil and says so through events: clean then runs its model-free
// checks only.
func LocalLabeler(events progress.Sink) (vision.Labeler, error) {
	l, err := clean.NewLocalLabeler(0)
	if errors.Is(err, vision.ErrNoRuntime) {
		progress.Warn(events, "clean", err.Error())
		return nil, nil
	}
	return l, err
}

// RestoreSummary is what Restore did (or, in a dry run, would do).
type RestoreSummary = clean.RestoreSummary

// Restore says which quarantined images to put back (see clean.RestoreOptions).
type Restore struct {
	SHA256, Reason, Class string
	All, DryRun           bool
}

// Do moves the selected images back out of quarantine. Restoring one image
// by its hash records that a person kept it, so later clean runs leave it
// alone; restoring a reason or class is usually undoing a bad setting.
func (r Restore) Do(ctx context.Context, p *project.Project, events progress.Sink) (RestoreSummary, error) {
	if r.SHA256 == "" && r.Reason == "" && r.Class == "" && !r.All {
		return RestoreSummary{}, configErr("say what to restore: a SHA256, --reason, --class or --all")
	}
	return clean.Restore(ctx, clean.RestoreOptions{Catalog: p.Catalog, Store: p.Store, SHA256: r.SHA256, Reason: r.Reason, Class: r.Class,
		All: r.All, Keep: r.SHA256 != "", DryRun: r.DryRun, Events: events})
}
