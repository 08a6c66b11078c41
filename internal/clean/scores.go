package clean

import (
	"context"
	"fmt"

	"github.com/scour-dev/scour/internal/catalog"
)

// saveScores records every image's doubt for export and review; an image
// this run did not judge gets zero thresholds, so that no score of an
// earlier run (another method, another model) outlives it.
func (r *runner) saveScores(ctx context.Context, items []*item) error {
	var out []catalog.Score
	for _, it := range items {
		s := it.score
		s.SHA256 = it.img.SHA256
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil
	}
	if err := r.o.Catalog.SaveScores(ctx, out); err != nil {
		return fmt.Errorf("clean: saving scores: %w", err)
	}
	return nil
}
