package clean

// Learning from review: every keep or reject a person records (scour
// review, restore --keep) is a labelled example, and the next clean run
// uses them three ways. Kept images always count in the project's and
// their class's centres, rejected ones never do (project.go, misfiled.go).
// The cut moves to where it agrees best with the decisions (learnCut). And a
// rejected image is a negative reference: an undecided image more like a
// discarded picture than like anything kept is flagged too
// (negativeMatches), which carries one reject to the rest of its cluster.

// learnCut is the cut on the project score that disagrees least with the
// person's decisions (a rejected image should score below it, a kept one
// not), the nearest to the unsupervised cut among equals; n is how many
// decisions it saw (0: cut is returned as it is).
func learnCut(pool []*item, scores []float64, cut float64) (float64, int) {
	var kept, rejected []float64
	for i, it := range pool {
		switch it.decision {
		case DecisionKeep:
			kept = append(kept, scores[i])
		case DecisionReject:
			rejected = append(rejected, scores[i])
		}
	}
	n := len(kept) + len(rejected)
	if n == 0 {
		return cut, 0
	}
	errs := func(t float64) int {
		e := 0
		for _, s := range kept {
			if s < t {
				e++
			}
		}
		for _, s := range rejected {
			if s >= t {
				e++
			}
		}
		return e
	}
	// Candidates: the cut itself and just above each decided score.
	best, bestErr := cut, errs(cut)
	for _, set := range [][]float64{kept, rejected} {
		for _, s := range set {
			t := s + 1e-9
			if e := errs(t); e < bestErr || (e == bestErr && abs(t-cut) < abs(best-cut)) {
				best, bestErr = t, e
			}
		}
	}
	return best, n
}

// negativeMatches names, for each undecided image, the rejected image it
// is more like than it is like any kept image and its project's centre
// (by embedding cosine); "" for the others. It costs one comparison per
// image and decision: O(n·decisions).
func negativeMatches(pool []*item, c centre) []string {
	out := make([]string, len(pool))
	var kept, rejected []*item
	for _, it := range pool {
		switch it.decision {
		case DecisionKeep:
			kept = append(kept, it)
		case DecisionReject:
			rejected = append(rejected, it)
		}
	}
	if len(rejected) == 0 {
		return out
	}
	for i, it := range pool {
		if it.decision != "" {
			continue
		}
		pos := dot(it.f.Embedding, c.emb)
		for _, k := range kept {
			pos = max(pos, dot(it.f.Embedding, k.f.Embedding))
		}
		neg, name := -1.0, ""
		for _, r := range rejected {
			if s := dot(it.f.Embedding, r.f.Embedding); s > neg {
				neg, name = s, r.img.SHA256
			}
		}
		if neg > pos {
			out[i] = name
		}
	}
	return out
}
