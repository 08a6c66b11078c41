package clean

import (
	"fmt"
	"math"
	"slices"

	"github.com/scour-dev/scour/internal/vision"
)

// The project method: off-topic without references, judged against what
// the whole project shares.
//
// A scrape brings garbage in clusters (a homonym: cars called "C5" among C-5
// aircraft, vitamin B1 charts among B-1 bombers). Within one class such a
// cluster is dense, so density and outlier rules call it normal. But the
// classes of a project are usually one domain (all ships, all aircraft), so
// the project as a whole knows what its pictures look like: its label
// profile (the mean of every image's top-30 label distribution) and its mean
// embedding. An image's project score is
//
//	s = BC(labels, project profile) + cos(embedding, project centre)
//
// (BC: the Bhattacharyya coefficient Σ√(p·q), see labelScores). The centre
// and profile are robust: the mean of the half of the project that scores
// highest against the previous centre, three times over, so garbage (up to
// half of the project) does not pull them. The same score against the
// class's own robust centre (the class view) adds what the project view
// cannot see: an in-domain picture unlike the rest of its class.
//
// The cut: scores are turned into robust z-scores over the whole project,
// not one class, so a class that is mostly garbage is still judged against
// on-topic pictures. The centre of the scale is the median of the upper
// half of the scores and its spread the median distance of the upper half
// from that centre (×1.4826): the upper half is on topic as long as garbage
// is under half of the project, so neither is widened by the garbage, which
// sits in the lower tail. An image is off-topic when its project z-score is
// below -MaxZ, or when its class z-score is (see classView).

// view is what the project method reads of one image: its label
// distribution on the unit sphere (square roots of the confidences) and
// its embedding.
type view struct {
	labels sparseVec
	emb    []float32
}

// labelSpace numbers every label name seen, so label distributions become
// sparse vectors that can be averaged.
type labelSpace map[string]int32

func (s labelSpace) vec(ls []vision.Label) sparseVec {
	var v sparseVec
	var n float64
	for _, l := range ls {
		if l.Confidence <= 0 {
			continue
		}
		j, ok := s[l.Name]
		if !ok {
			j = int32(len(s))
			s[l.Name] = j
		}
		v.idx = append(v.idx, j)
		v.val = append(v.val, float32(math.Sqrt(l.Confidence)))
		n += l.Confidence
	}
	for i := range v.val {
		v.val[i] /= float32(math.Sqrt(n))
	}
	return v
}

// centre is a robust centre of a set of views: a unit label profile and a
// unit mean embedding.
type centre struct {
	labels []float32
	emb    []float32
}

func (c centre) score(v view) float64 { return v.labels.dot(c.labels) + dot(v.emb, c.emb) }

// meanCentre is the normalised mean of the views whose keep is true (all
// when keep is nil), plus extra positives weighted like images.
func meanCentre(vs []view, keep []bool, dims, embDim int) centre {
	ls, es := make([]float64, dims), make([]float64, embDim)
	for i, v := range vs {
		if keep != nil && !keep[i] {
			continue
		}
		v.labels.addTo(ls)
		addDense(v.emb, es)
	}
	return centre{labels: unitSum(ls), emb: unitSum(es)}
}

func unitSum(sum []float64) []float32 {
	var n float64
	for _, x := range sum {
		n += x * x
	}
	n = math.Sqrt(n)
	out := make([]float32, len(sum))
	if n == 0 {
		return out
	}
	for j, x := range sum {
		out[j] = float32(x / n)
	}
	return out
}

// robustCentre starts from the plain mean and re-takes the mean of the half
// that scores highest, three times: a trimmed, iterated centre that garbage
// under half of the set cannot pull. pinned views (a person's kept images,
// references) always count.
func robustCentre(vs []view, pinned []bool, dims, embDim int) (centre, []float64) {
	c := meanCentre(vs, nil, dims, embDim)
	scores := make([]float64, len(vs))
	for range 3 {
		for i, v := range vs {
			scores[i] = c.score(v)
		}
		m := median(scores)
		keep := make([]bool, len(vs))
		for i, s := range scores {
			keep[i] = s >= m || (pinned != nil && pinned[i])
		}
		c = meanCentre(vs, keep, dims, embDim)
	}
	for i, v := range vs {
		scores[i] = c.score(v)
	}
	return c, scores
}

// upperStats is the scale of a score distribution whose lower tail may be
// garbage: the median of the upper half as its centre, 1.4826 times the
// median distance of the upper half from that centre as its spread.
func upperStats(scores []float64) zStats {
	if len(scores) == 0 {
		return zStats{Sigma: minSigma}
	}
	s := slices.Clone(scores)
	slices.Sort(s)
	upper := s[len(s)/2:]
	m := median(upper)
	dev := make([]float64, len(upper))
	for i, x := range upper {
		dev[i] = abs(x - m)
	}
	return zStats{Median: m, Sigma: max(madToSigma*median(dev), minSigma)}
}

// mixtureCut looks for a separate low mode in a score distribution: it fits
// two normal components by EM and, when they are clearly apart (Ashman's D
// at least minSeparation, the usual criterion for a mixture that is
// bimodal rather than one skewed hump), returns the score below which an
// image more likely belongs to the low one. ok is false when there is no
// such mode: a project without a cluster of garbage.
func mixtureCut(scores []float64) (cut, separation float64, ok bool) {
	const minSeparation = 2
	n := len(scores)
	if n < 8 {
		return 0, 0, false
	}
	s := slices.Clone(scores)
	slices.Sort(s)
	// Start from the bottom quarter and the top half: garbage, when there
	// is any, is at the bottom.
	lo, hi := s[:max(n/4, 2)], s[n/2:]
	w := [2]float64{0.25, 0.75}
	mu := [2]float64{mean(lo), mean(hi)}
	sd := [2]float64{max(stddev(lo, mu[0]), minSigma), max(stddev(hi, mu[1]), minSigma)}
	resp := make([]float64, n) // responsibility of the low component
	for range 100 {
		for i, x := range s {
			a, b := w[0]*normal(x, mu[0], sd[0]), w[1]*normal(x, mu[1], sd[1])
			if a+b == 0 {
				resp[i] = 0
				if x < mu[0] {
					resp[i] = 1
				}
				continue
			}
			resp[i] = a / (a + b)
		}
		var n0, m0, m1 float64
		for i, x := range s {
			n0 += resp[i]
			m0 += resp[i] * x
			m1 += (1 - resp[i]) * x
		}
		n1 := float64(n) - n0
		if n0 < 1 || n1 < 1 {
			return 0, 0, false
		}
		mu = [2]float64{m0 / n0, m1 / n1}
		var v0, v1 float64
		for i, x := range s {
			v0 += resp[i] * (x - mu[0]) * (x - mu[0])
			v1 += (1 - resp[i]) * (x - mu[1]) * (x - mu[1])
		}
		sd = [2]float64{max(math.Sqrt(v0/n0), minSigma), max(math.Sqrt(v1/n1), minSigma)}
		w = [2]float64{n0 / float64(n), n1 / float64(n)}
	}
	separation = math.Sqrt2 * abs(mu[1]-mu[0]) / math.Sqrt(sd[0]*sd[0]+sd[1]*sd[1])
	if mu[0] >= mu[1] || separation < minSeparation {
		return 0, separation, false
	}
	// The cut is where the two weighted densities cross between the means.
	a, b := mu[0], mu[1]
	for range 60 {
		m := (a + b) / 2
		if w[0]*normal(m, mu[0], sd[0]) > w[1]*normal(m, mu[1], sd[1]) {
			a = m
		} else {
			b = m
		}
	}
	return (a + b) / 2, separation, true
}

func normal(x, mu, sd float64) float64 {
	z := (x - mu) / sd
	return math.Exp(-z*z/2) / sd
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(max(len(v), 1))
}

func stddev(v []float64, m float64) float64 {
	var s float64
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s / float64(max(len(v), 1)))
}

// ownDomain: a class of which at least this share falls below the
// project's cut is not garbage in the project but a domain of its own (a
// "background" class, or a project of unrelated classes): the project
// method leaves it alone and says so.
const ownDomain = 0.9

// judgeProject applies the project method to the named classes. The
// project's profile is made of every labelled image of every class, not
// only the classes judged, since they all show what the project is about;
// a person's decisions steer it (see learn.go).
func (r *runner) judgeProject(judged, names []string, byClass map[string][]*item) {
	if len(judged) == 0 {
		return
	}
	o := r.cfg.OffTopic
	sp := labelSpace{}
	var pool []*item
	var vs []view
	skip := func(why string) {
		for _, name := range judged {
			cs := r.class(name)
			cs.OffTopic.Skipped = why
			r.note(fmt.Sprintf("class %q: off-topic check skipped: %s", name, why))
		}
	}
	for _, name := range names {
		for _, it := range byClass[name] {
			if it.f == nil {
				continue
			}
			if it.f.Embedding == nil {
				skip(fmt.Sprintf("the project method needs embeddings, which labeler %s does not give", r.model))
				return
			}
			pool = append(pool, it)
			vs = append(vs, view{labels: sp.vec(it.f.Labels), emb: it.f.Embedding})
		}
	}
	if len(pool) < o.MinImages {
		skip(fmt.Sprintf("the project has %d labelled images, too few for the project method (min_images: %d)", len(pool), o.MinImages))
		return
	}
	if len(names) == 1 {
		r.note(fmt.Sprintf("class %q is the project's only class: the project method judges it against itself, with no other class to compare", names[0]))
	}
	// A person's rejects do not shape the profile; their keeps always do.
	var inCentre []view
	var pinned []bool
	for i, it := range pool {
		if it.decision != DecisionReject {
			inCentre = append(inCentre, vs[i])
			pinned = append(pinned, it.decision == DecisionKeep)
		}
	}
	if len(inCentre) == 0 {
		inCentre, pinned = vs, nil
	}
	c, _ := robustCentre(inCentre, pinned, len(sp), len(vs[0].emb))
	scores := make([]float64, len(pool))
	var undecided []float64
	for i, v := range vs {
		scores[i] = c.score(v)
		if pool[i].decision == "" {
			undecided = append(undecided, scores[i])
		}
	}
	if len(undecided) < 2 {
		undecided = scores
	}
	st := upperStats(undecided)
	cut := st.threshold(o.MaxZ)
	rule := fmt.Sprintf("%g robust standard deviations below the project's median", o.MaxZ)
	if m, sep, ok := mixtureCut(undecided); ok && m < cut {
		cut = m
		rule = fmt.Sprintf("where the project's low mode begins (separation %.1f)", sep)
	}
	if learned, n := learnCut(pool, scores, cut); n > 0 {
		cut = learned
		rule = fmt.Sprintf("set by %d of a person's decisions", n)
	}
	negative := negativeMatches(pool, c)

	isJudged := map[string]bool{}
	for _, name := range judged {
		isJudged[name] = true
	}
	below := map[string]int{}
	total := map[string]int{}
	for i, it := range pool {
		total[it.img.Class]++
		if scores[i] < cut {
			below[it.img.Class]++
		}
	}
	for _, name := range judged {
		cs := r.class(name)
		cs.OffTopic.Method = MethodProject
		cs.OffTopic.Median, cs.OffTopic.Sigma, cs.OffTopic.Threshold = st.Median, st.Sigma, cut
		if total[name] >= 5 && float64(below[name]) >= ownDomain*float64(total[name]) {
			cs.OffTopic.Skipped = fmt.Sprintf("%d of its %d images are unlike the rest of the project: the class looks like a domain of its own "+
				"(a background class, or the wrong query?), so the project method does not judge it; give it reference images, or method outlier", below[name], total[name])
			r.warn(fmt.Sprintf("class %q: off-topic check skipped: %s", name, cs.OffTopic.Skipped))
			isJudged[name] = false
		}
	}
	for i, it := range pool {
		if !isJudged[it.img.Class] {
			continue
		}
		it.offTopicJudged = true
		// Doubt grows as the score falls: 2 is the highest score (labels
		// and embedding both identical to the project's).
		it.score.OffTopic, it.score.OffTopicThreshold, it.score.OffTopicMethod = 2-scores[i], 2-cut, MethodProject
		l, e := vs[i].labels.dot(c.labels), dot(vs[i].emb, c.emb)
		switch {
		case scores[i] < cut:
			it.flag(Flag{Reason: ReasonOffTopic, Score: scores[i], Method: MethodProject,
				Detail: fmt.Sprintf("project score %.3f (label overlap %.2f + embedding %.2f), below the cut %.3f, %s; its labels: %s",
					scores[i], l, e, cut, rule, describeLabels(it.f.Labels, o.TopK))})
		case negative[i] != "":
			it.score.OffTopic = max(it.score.OffTopic, it.score.OffTopicThreshold)
			it.flag(Flag{Reason: ReasonOffTopic, Score: scores[i], Method: MethodProject,
				Detail: fmt.Sprintf("project score %.3f, but more like the discarded image %s than like its class", scores[i], negative[i])})
		}
	}
}
