package gather

import (
	"context"
	"math"
)

// Top-up: a class's target counts images that survive clean, so after
// clean has quarantined the garbage of a round, the pipeline runs gather
// again with Options.More set. Each class then fetches past its target by
// about as many images as clean is expected to set aside, and its searches
// page deeper to find them (a search is asked for again from its first
// page and stops once it has the larger number of candidates).

// fetchTarget is how many kept images fetch aims a class at in this round.
func (o Options) fetchTarget(c Class) int {
	if c.Target <= 0 {
		return 0
	}
	return c.Target + o.More[c.Name]
}

// searchWant is how many candidates one query of a class is searched for.
func (o Options) searchWant(c Class, queries int) int {
	t := o.fetchTarget(c)
	if t <= 0 {
		return 0
	}
	want := int(float64(t)*o.Overfetch+0.5) / queries
	return max(want, 1)
}

// TopUpMore is how many images beyond its target a class should fetch in
// the next round: it has kept clean images of target, and clean kept that
// share (0..1) of what the class downloaded so far. The 10% margin makes
// a round usually enough: the garbage of the next pages is not exactly
// the garbage of the first ones.
func TopUpMore(target, kept int, share float64) int {
	need := target - kept
	if need <= 0 {
		return 0
	}
	// Nothing downloaded yet says nothing about garbage; a class where
	// clean kept almost nothing is capped at ten times its need, so one
	// bad round cannot ask for thousands of downloads.
	share = max(share, 0.1)
	// The epsilon keeps float error (110.00000000000001) from asking one more.
	return int(math.Ceil(float64(need)/share*1.1-1e-9)) - need
}

// Exhausted says, for each class with a target, whether every source that
// gathers for it has nothing more to give: each of its searches ran to the
// engine's end (the searches table's exhausted flag), and local sources
// (folders, URL lists) are read whole on every run anyway.
func (g *Gatherer) Exhausted(ctx context.Context, o Options) (map[string]bool, error) {
	out := map[string]bool{}
	for _, c := range o.Classes {
		if c.Target <= 0 {
			continue
		}
		done := true
		for _, src := range o.Sources {
			if src.Rescan || !applies(src, c.Name) {
				continue
			}
			queries := c.Queries
			if len(queries) == 0 {
				queries = []string{c.Name}
			}
			for _, q := range queries {
				st, err := g.Cat.SearchState(ctx, src.Engine.Name(), c.Name, q)
				if err != nil {
					return nil, err
				}
				done = done && st.Exhausted
			}
		}
		out[c.Name] = done
	}
	return out, nil
}
