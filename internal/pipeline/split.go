package pipeline

import (
	"context"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/clean"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/project"
	"github.com/scour-dev/scour/internal/split"
)

// SplitSummary counts the images of each class in each set.
type SplitSummary = split.Summary

// The sets a split assigns images to.
const (
	SetTrain = split.Train
	SetVal   = split.Val
	SetTest  = split.Test
)

// Split assigns every kept image to train, val or test with scour.yaml's
// fractions, keeping each of clean's near-duplicate groups on one side.
type Split struct {
	Seed   *int64 // overrides scour.yaml's split.seed
	Export string // also write DIR/{train,val,test}/<class>/ image folders
}

func (Split) Name() string { return "split" }

func (Split) Fingerprint(ctx context.Context, p *project.Project) (string, error) {
	h, sum := newHasher()
	h.yaml(p.Config.Split)
	err := p.Catalog.ForEachImage(ctx, catalog.ImageFilter{Status: catalog.StatusKept}, func(im catalog.Image) error {
		h.row(im.SHA256, im.Class)
		return nil
	})
	if err != nil {
		return "", err
	}
	groups, err := clean.Groups(ctx, p.Catalog)
	h.yaml(groups)
	return sum(), err
}

func (s Split) Run(ctx context.Context, p *project.Project, events progress.Sink) (any, error) {
	return s.Do(ctx, p, events)
}

// Do splits and records the split in the catalog, replacing any earlier one.
func (s Split) Do(ctx context.Context, p *project.Project, events progress.Sink) (SplitSummary, error) {
	groups, err := clean.Groups(ctx, p.Catalog)
	if err != nil {
		return SplitSummary{}, err
	}
	sc := p.Config.Split
	seed := sc.Seed
	if s.Seed != nil {
		seed = *s.Seed
	}
	sum, err := split.Run(ctx, p.Catalog, split.Fractions{Train: sc.Train, Val: sc.Val, Test: sc.Test}, seed, func(sha string) string { return groups[sha] })
	if err != nil || s.Export == "" {
		return sum, err
	}
	_, err = split.Export(ctx, p.Catalog, p.Store, s.Export, events)
	return sum, err
}
