package clean

import (
	"fmt"
	"maps"
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
// the project as a whole knows what its pictures look like. Its picture is
// a set of robust centres (embedding and top-30 label profile): one for the
// whole project and one for each class of at least minCentre images, each
// the mean of the best-scoring half of its images, three times over, so
// garbage under half of a class cannot pull it. An image is compared with
// the nearest centre, so a project of two sub-domains (warships and kayaks)
// finds neither odd, while a cluster of cars, unlike every centre, stands
// out. A reference is a positive example of its class: it joins the
// class's centre and vouches for the class's images that are like it (see
// vouch).
//
// The rule: e is the image's embedding cosine to the nearest centre, and z
// its robust z-score among the whole project's images (median and 1.4826
// MAD, taken again without those more than trimZ below, three times, so that
// garbage up to a third of the project does not widen them). An image is
// off-topic when z < -projectZ, or when z < -labelZ and its labels overlap
// the nearest profile less than min_label_overlap times the project's
// median overlap (the model names something else in it). As one doubt:
// -z, plus projectZ-labelZ when the labels do not overlap; flagged at
// projectZ. Measured (no references; precision/recall): noisy-web 0.99/0.93;
// boats, a cluster of 20 cars or document pages and 10 scattered images
// planted in one class of nine, 0.91-0.94/1.00 over all nine classes; clean
// boats projects flag 1-3 of 576-872 photos. At z < -3 alone the clean
// projects lost 1% of their photos: a project's own pictures have heavier
// tails than a normal distribution, hence 4.
const (
	projectZ = 4
	labelZ   = 2
	trimZ    = 3
)

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

// centre is the centre of a set of views: a unit label profile and a unit
// mean embedding. Its score of a view, label overlap plus embedding cosine,
// is what picks the best-matching half in robustCentre.
type centre struct {
	labels []float32
	emb    []float32
}

func (c centre) score(v view) float64 { return v.labels.dot(c.labels) + dot(v.emb, c.emb) }

// meanCentre is the normalised mean of the views whose keep is true (all
// when keep is nil).
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

// ownDomain: a class of which at least this share is off-topic against the
// project is not garbage in the project but a domain of its own (a
// "background" class, or a project of unrelated classes): the project
// method leaves it alone and says so.
const ownDomain = 0.9

// projectPicture is what the project looks like: one robust centre for the
// whole project and one for each class of at least minCentre images.
type projectPicture struct {
	centres []centre
}

// minCentre: a class needs this many images for a centre of its own
// (fewer would let a lone off-topic picture vouch for itself; see
// tinyClasses for smaller ones).
const minCentre = 5

// nearest is an image's embedding cosine to the nearest centre and its
// label overlap with the nearest profile.
func (p projectPicture) nearest(v view) (emb, labels float64) {
	emb, labels = -1, 0
	for _, c := range p.centres {
		emb = max(emb, dot(v.emb, c.emb))
		labels = max(labels, v.labels.dot(c.labels))
	}
	return emb, labels
}

// projectCentres makes the project's picture: a person's rejects do not
// shape it, their keeps and the references always do.
func projectCentres(pool []*item, vs []view, refs map[string][]view, dims int) projectPicture {
	embDim := len(vs[0].emb)
	byClass := map[string][]int{}
	var names []string
	var all []view
	var pinned []bool
	for i, it := range pool {
		if it.decision == DecisionReject {
			continue
		}
		if byClass[it.img.Class] == nil {
			names = append(names, it.img.Class)
		}
		byClass[it.img.Class] = append(byClass[it.img.Class], i)
		all = append(all, vs[i])
		pinned = append(pinned, it.decision == DecisionKeep)
	}
	slices.Sort(names)
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		for _, v := range refs[name] {
			all = append(all, v)
			pinned = append(pinned, true)
		}
	}
	var p projectPicture
	if len(all) == 0 {
		c, _ := robustCentre(vs, nil, dims, embDim)
		return projectPicture{centres: []centre{c}}
	}
	c, _ := robustCentre(all, pinned, dims, embDim)
	p.centres = append(p.centres, c)
	for _, name := range names {
		var cv []view
		var cp []bool
		for _, i := range byClass[name] {
			cv = append(cv, vs[i])
			cp = append(cp, pool[i].decision == DecisionKeep)
		}
		for _, v := range refs[name] {
			cv = append(cv, v)
			cp = append(cp, true)
		}
		if len(cv) >= minCentre {
			c, _ := robustCentre(cv, cp, dims, embDim)
			p.centres = append(p.centres, c)
		}
	}
	return p
}

// projectDoubts scores every image of the pool against the picture; st
// is the scale of the embedding cosines (trimmedStats over the undecided
// images) and lm the median label overlap.
type projectDoubts struct {
	emb, labels, doubt []float64
	st                 zStats
	lm                 float64
}

func scoreProject(pool []*item, vs []view, p projectPicture, dims int, minOverlap float64) projectDoubts {
	d := projectDoubts{emb: make([]float64, len(vs)), labels: make([]float64, len(vs)), doubt: make([]float64, len(vs))}
	for i, v := range vs {
		d.emb[i], d.labels[i] = p.nearest(v)
	}
	tinyClasses(pool, vs, d.emb, d.labels, dims)
	var es, ls []float64
	for i, it := range pool {
		if it.decision == "" {
			es, ls = append(es, d.emb[i]), append(ls, d.labels[i])
		}
	}
	if len(es) < 2 {
		es, ls = d.emb, d.labels
	}
	d.st, d.lm = trimmedStats(es, trimZ), median(ls)
	for i := range vs {
		d.doubt[i] = d.doubtOf(d.emb[i], d.labels[i], minOverlap)
	}
	return d
}

// vouch lets each reference of a class speak for the class's images that
// are like it: a reference is a positive example of its class. An image at
// least as like one of them (embedding cosine) as the project's typical
// image is like its nearest centre (the median) is not off-topic, however
// unusual it is for the project: its embedding view becomes that cosine,
// which is at or above the median, so its doubt is at most the label
// view's share. The cosines to a single photo run lower than to a mean of
// many, so the bar is the median itself, not the cut: a reference vouches
// only for pictures close to it. And the model naming in an image what it
// names in a reference of its class is overlap with the class, as with
// the nearest profile.
func (d *projectDoubts) vouch(pool []*item, vs []view, refs map[string][]view, dims int, minOverlap float64) {
	profiles := map[string][][]float32{}
	for name, rs := range refs {
		for _, r := range rs {
			sum := make([]float64, dims)
			r.labels.addTo(sum)
			profiles[name] = append(profiles[name], unitSum(sum))
		}
	}
	for i, it := range pool {
		for k, r := range refs[it.img.Class] {
			if s := dot(vs[i].emb, r.emb); s >= d.st.Median {
				d.emb[i] = max(d.emb[i], s)
			}
			d.labels[i] = max(d.labels[i], vs[i].labels.dot(profiles[it.img.Class][k]))
		}
		d.doubt[i] = d.doubtOf(d.emb[i], d.labels[i], minOverlap)
	}
}

// doubtOf puts both views on one scale, flagged at projectZ.
func (d projectDoubts) doubtOf(emb, labels, minOverlap float64) float64 {
	z := -d.st.z(emb)
	if labels < minOverlap*d.lm {
		z += projectZ - labelZ
	}
	return z
}

// tinyClasses lets each image of a class too small for a centre (3 to
// minCentre-1 images) be vouched for by the mean of the class's others: a
// class of three tugs in a project of destroyers is three alike pictures,
// a lone cat among two tugs is not like the other two.
func tinyClasses(pool []*item, vs []view, emb, labels []float64, dims int) {
	byClass := map[string][]int{}
	for i, it := range pool {
		if it.decision != DecisionReject {
			byClass[it.img.Class] = append(byClass[it.img.Class], i)
		}
	}
	for _, idx := range byClass {
		if len(idx) < 3 || len(idx) >= minCentre {
			continue
		}
		for _, i := range idx {
			var others []view
			for _, j := range idx {
				if j != i {
					others = append(others, vs[j])
				}
			}
			c := meanCentre(others, nil, dims, len(vs[i].emb))
			emb[i] = max(emb[i], dot(vs[i].emb, c.emb))
			labels[i] = max(labels[i], vs[i].labels.dot(c.labels))
		}
	}
}

// trimmedStats is the median and robust spread of the scores once those
// more than trimZ robust standard deviations below are set aside, three
// times over: the statistics of the on-topic pictures even when garbage is
// a third of the project (the plain median and MAD would widen with it).
func trimmedStats(scores []float64, trim float64) zStats {
	st := robustStats(scores)
	for range 3 {
		var kept []float64
		for _, s := range scores {
			if st.z(s) >= -trim {
				kept = append(kept, s)
			}
		}
		if len(kept) < 2 {
			break
		}
		st = robustStats(kept)
	}
	return st
}

// judgeProject applies the project method to the named classes. The
// project's picture is made of every labelled image of every class, not
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
	refs := map[string][]view{}
	for name, fs := range r.refs {
		for _, f := range fs {
			if f.Embedding != nil {
				refs[name] = append(refs[name], view{labels: sp.vec(f.Labels), emb: f.Embedding})
			}
		}
	}
	pic := projectCentres(pool, vs, nil, len(sp))
	d := scoreProject(pool, vs, pic, len(sp), o.MinLabelOverlap)
	// References that are themselves unlike the project would teach it
	// the wrong thing: they are left out, with a warning.
	if len(refs) > 0 {
		usable := map[string][]view{}
		for _, name := range slices.Sorted(maps.Keys(refs)) {
			for k, v := range refs[name] {
				e, l := pic.nearest(v)
				if doubt := d.doubtOf(e, l, o.MinLabelOverlap); doubt >= projectZ {
					r.warn(fmt.Sprintf("class %q: reference image %d of %d is unlike the rest of the project (doubt %.1f, flagged at %d): not used; check that it shows the class",
						name, k+1, len(refs[name]), doubt, projectZ))
					continue
				}
				usable[name] = append(usable[name], v)
			}
		}
		pic = projectCentres(pool, vs, usable, len(sp))
		d = scoreProject(pool, vs, pic, len(sp), o.MinLabelOverlap)
		d.vouch(pool, vs, usable, len(sp), o.MinLabelOverlap)
	}
	th := float64(projectZ)
	rule := fmt.Sprintf("%d robust standard deviations below the project's median %.3f", projectZ, d.st.Median)
	if learned, n := learnCut(pool, d.doubt, th); n > 0 && learned != th {
		th = learned
		rule = fmt.Sprintf("a cut set by %d of a person's decisions", n)
	}
	negative := negativeMatches(pool, pic, d.st.Median)

	isJudged := map[string]bool{}
	for _, name := range judged {
		isJudged[name] = true
	}
	over, total := map[string]int{}, map[string]int{}
	for i, it := range pool {
		total[it.img.Class]++
		if d.doubt[i] >= th {
			over[it.img.Class]++
		}
	}
	for _, name := range judged {
		cs := r.class(name)
		cs.OffTopic.Method = MethodProject
		cs.OffTopic.Median, cs.OffTopic.Sigma = d.st.Median, d.st.Sigma
		cs.OffTopic.Threshold = d.st.Median - th*d.st.Sigma
		cs.OffTopic.LabelMedian, cs.OffTopic.LabelThreshold = d.lm, o.MinLabelOverlap*d.lm
		if total[name] >= minCentre && float64(over[name]) >= ownDomain*float64(total[name]) {
			cs.OffTopic.Skipped = fmt.Sprintf("%d of its %d images are unlike the rest of the project: the class looks like a domain of its own "+
				"(a background class, or the wrong query?), so the project method does not judge it; give it reference images, or method outlier", over[name], total[name])
			r.warn(fmt.Sprintf("class %q: off-topic check skipped: %s", name, cs.OffTopic.Skipped))
			isJudged[name] = false
		}
	}
	r.strangerClasses(judged, pool, vs, pic)
	for i, it := range pool {
		if !isJudged[it.img.Class] {
			continue
		}
		it.offTopicJudged = true
		it.score.OffTopic, it.score.OffTopicThreshold, it.score.OffTopicMethod = d.doubt[i], th, MethodProject
		switch {
		case d.doubt[i] >= th:
			why := fmt.Sprintf("embedding %.3f to the nearest centre of the project, z %.1f", d.emb[i], d.st.z(d.emb[i]))
			if d.labels[i] < o.MinLabelOverlap*d.lm {
				why += fmt.Sprintf(", and label overlap %.2f, under %g of the project's median %.2f", d.labels[i], o.MinLabelOverlap, d.lm)
			}
			it.flag(Flag{Reason: ReasonOffTopic, Score: d.doubt[i], Method: MethodProject,
				Detail: fmt.Sprintf("%s (flagged at doubt %.1f: %s); its labels: %s", why, th, rule, describeLabels(it.f.Labels, o.TopK))})
		case negative[i] != "" && d.doubt[i] >= labelZ:
			it.score.OffTopic = max(it.score.OffTopic, th)
			it.flag(Flag{Reason: ReasonOffTopic, Score: d.doubt[i], Method: MethodProject,
				Detail: fmt.Sprintf("more like the discarded image %s than like its class", negative[i])})
		}
	}
}

// strangerClasses warns about classes that, as a whole, are unlike the rest
// of the project: their own centre vouches for their images, so nothing
// in them is flagged, but a class that is all garbage (a query that went
// wrong) looks exactly like that. The measure: the median cosine of the
// class's images to the project's centre, as a z-score among all images'.
func (r *runner) strangerClasses(judged []string, pool []*item, vs []view, pic projectPicture) {
	if len(pic.centres) < 3 { // the project and at least two classes of its own
		return
	}
	all := make([]float64, len(vs))
	byClass := map[string][]float64{}
	for i, v := range vs {
		all[i] = dot(v.emb, pic.centres[0].emb)
		byClass[pool[i].img.Class] = append(byClass[pool[i].img.Class], all[i])
	}
	st := trimmedStats(all, trimZ)
	for _, name := range judged {
		if cs := byClass[name]; len(cs) >= minCentre {
			if z := st.z(median(cs)); z < -projectZ {
				r.warn(fmt.Sprintf("class %q as a whole is unlike the rest of the project (its typical image is %.1f robust standard deviations from the project's centre): "+
					"if it is not meant to be (a background class), check its query; its images were judged against the class itself", name, -z))
			}
		}
	}
}
