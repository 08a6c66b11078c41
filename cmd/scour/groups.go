package main

import (
	"context"

	"github.com/scour-dev/scour/internal/clean"
	"github.com/scour-dev/scour/internal/project"
)

// groupLookup returns the near-duplicate group of each image as recorded by
// clean, so that split keeps groups on one side; nil before clean has run.
func groupLookup(ctx context.Context, p *project.Project) (func(string) string, error) {
	groups, err := clean.Groups(ctx, p.Catalog)
	if err != nil || len(groups) == 0 {
		return nil, err
	}
	return func(sha string) string { return groups[sha] }, nil
}
