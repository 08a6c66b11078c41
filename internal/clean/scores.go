package clean

import (
	"context"
	"fmt"

	"github.com/scour-dev/scour/internal/catalog"
)

// saveScores records every judged image's doubt for export and review.
func (r *runner) saveScores(ctx context.Context, items []*item) error {
	var out []catalog.Score
	for _, it := range items {
		s := it.score
		if s.OffTopicThreshold == 0 && s.MisfiledThreshold == 0 {
			continue
		}
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
