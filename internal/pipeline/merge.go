package pipeline

import (
	"context"
	"os"

	"github.com/scour-dev/scour/internal/project"
	"github.com/scour-dev/scour/internal/shard"
)

// MergeSummary says which shard catalogs were merged and what they added.
type MergeSummary = shard.MergeSummary

// Merge folds the catalogs of finished shards into the project catalog.
func Merge(ctx context.Context, p *project.Project) (MergeSummary, error) {
	scratch, err := os.MkdirTemp("", "scour-merge-")
	if err != nil {
		return MergeSummary{}, err
	}
	defer os.RemoveAll(scratch)
	return shard.Merge(ctx, p.Store, p.Catalog, scratch)
}
