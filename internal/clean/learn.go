package clean

// Learning from review: every keep or reject a person records (scour
// review, restore --keep) is a labelled example, and the next clean run
// uses them three ways. Kept images always count in the project's and
// their class's centres, rejected ones never do (project.go, misfiled.go).
// The cut moves to where it agrees best with the decisions (learnCut). And a
// rejected image is a negative reference: an undecided image more like a
// discarded picture than like anything kept is flagged too
// (negativeMatches), which carries one reject to the rest of its cluster;
// only images already in the doubtful zone (doubt at least labelZ) are
// tipped over, so that a reject cannot take a sound photo with it.

// learnCut is the doubt threshold that disagrees least with the person's
// decisions (a rejected image should be at or over it, a kept one under
// it), the nearest to the unsupervised threshold th among equals; n is how
// many decisions it saw (0: th is returned as it is).
func learnCut(pool []*item, doubt []float64, th float64) (float64, int) {
	var kept, rejected []float64
	for i, it := range pool {
		switch it.decision {
		case DecisionKeep:
			kept = append(kept, doubt[i])
		case DecisionReject:
			rejected = append(rejected, doubt[i])
		}
	}
	n := len(kept) + len(rejected)
	if n == 0 {
		return th, 0
	}
	errs := func(t float64) int {
		e := 0
		for _, d := range kept {
			if d >= t {
				e++
			}
		}
		for _, d := range rejected {
			if d < t {
				e++
			}
		}
		return e
	}
	// Candidates: th itself, each rejected doubt (flags it) and just over
	// each kept one (spares it).
	best, bestErr := th, errs(th)
	try := func(t float64) {
		if e := errs(t); e < bestErr || (e == bestErr && abs(t-th) < abs(best-th)) {
			best, bestErr = t, e
		}
	}
	for _, d := range rejected {
		try(d)
	}
	for _, d := range kept {
		try(d + 1e-9)
	}
	return best, n
}

// negativeMatches names, for each undecided image, the rejected image it
// is more like than it is like any kept image or the nearest centre of the
// project, and at least as like as minSim (by embedding cosine: the
// project's typical closeness to a centre, so that a reject stands only
// for pictures of the same kind); "" for the others. It costs one
// comparison per image and decision: O(n·decisions).
func negativeMatches(pool []*item, p projectPicture, minSim float64) []string {
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
		pos, _ := p.nearest(view{emb: it.f.Embedding})
		for _, k := range kept {
			pos = max(pos, dot(it.f.Embedding, k.f.Embedding))
		}
		neg, name := -1.0, ""
		for _, r := range rejected {
			if s := dot(it.f.Embedding, r.f.Embedding); s > neg {
				neg, name = s, r.img.SHA256
			}
		}
		if neg > pos && neg >= minSim {
			out[i] = name
		}
	}
	return out
}
