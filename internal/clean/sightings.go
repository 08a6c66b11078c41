package clean

import (
	"context"
	"strings"
)

// crossClassSightings flags images whose very bytes searches for another
// class found too. The catalog holds such bytes once, in the class that
// fetched them first, so dedup never sees two copies; which class is right
// is still a person's question, as for a group of copies spanning classes.
func (r *runner) crossClassSightings(ctx context.Context, items []*item) error {
	if !r.cfg.enabled(ReasonCrossClass) {
		return nil
	}
	other, err := r.o.Catalog.OtherClasses(ctx)
	if err != nil || len(other) == 0 {
		return err
	}
	for _, it := range items {
		classes, ok := other[it.img.SHA256]
		if !ok || !it.dedupJudged {
			continue
		}
		if _, flagged := it.flags[ReasonCrossClass]; flagged {
			continue
		}
		all := append([]string{it.img.Class}, classes...)
		it.flag(Flag{Reason: ReasonCrossClass, Score: float64(len(all)), Method: "sightings",
			Detail: "the same bytes were found for " + strings.Join(all, ", ")})
	}
	return nil
}
