package clean

import (
	"fmt"
	"math"

	"github.com/scour-dev/scour/internal/nn"
)

// Misfiled images: a tug in the destroyers folder. Three opinions must
// agree before an image is flagged. Two are heads, softmax regressions
// fitted out of fold (see outOfFold: a head never judges an image it was
// fitted on), each reading a different description of the picture: one
// its embedding, power-normalised and standardised over the project (see
// headViews), the other its label distribution (see labelViews). Each
// must give the image's own class less than maxOwnProbability. The third
// is geometry: each class gets a robust centre (see robustCentre) of its
// standardised embeddings, and the image must be closer (in cosine) to
// the best other class's centre than to its own class's centre with
// itself left out, by more than misfiled_z robust standard deviations
// above the project's median margin (and at least minMisfiledMargin). The
// centres cost one pass over every image per class, O(n·classes·d).
//
// Why two heads: on classes that look alike (fishing boats, security
// boats, tugs) a single head is sure of itself on photos that sit between
// two classes, and those are most of its false flags. The embedding and
// the label distribution err on different photos (the labels are the
// model's ImageNet softmax, a non-linear view of the same picture), so
// requiring both to doubt an image keeps the swapped photos, which both
// see plainly, and drops most of the in-between ones.

// classSums is a class's robust centre kept as sums, so that one image can
// be left out of it.
type classSums struct {
	labels, emb []float64
	kept        []bool // which of the class's views the centre sums
}

func newClassSums(vs []view, pinned []bool, dims, embDim int) classSums {
	_, scores := robustCentre(vs, pinned, dims, embDim)
	m := median(scores)
	cs := classSums{labels: make([]float64, dims), emb: make([]float64, embDim), kept: make([]bool, len(vs))}
	for i, v := range vs {
		if scores[i] >= m || (pinned != nil && pinned[i]) {
			cs.kept[i] = true
			v.labels.addTo(cs.labels)
			addDense(v.emb, cs.emb)
		}
	}
	return cs
}

// centreWithout is the class's centre without view v (when it counted).
func (cs classSums) centreWithout(i int, v view) centre {
	if !cs.kept[i] {
		return centre{labels: unitSum(cs.labels), emb: unitSum(cs.emb)}
	}
	ls, es := append([]float64(nil), cs.labels...), append([]float64(nil), cs.emb...)
	for k, j := range v.labels.idx {
		ls[j] -= float64(v.labels.val[k])
	}
	for j, x := range v.emb {
		es[j] -= float64(x)
	}
	return centre{labels: unitSum(ls), emb: unitSum(es)}
}

// misfiledScores is, for each view of each class, its score against the
// best other class's centre minus its score against its own class's
// centre without it.
func misfiledScores(classes [][]view, pinned [][]bool, dims, embDim int) (margin, ownScore [][]float64) {
	sums := make([]classSums, len(classes))
	centres := make([]centre, len(classes))
	for c, vs := range classes {
		var p []bool
		if pinned != nil {
			p = pinned[c]
		}
		sums[c] = newClassSums(vs, p, dims, embDim)
		centres[c] = centre{labels: unitSum(sums[c].labels), emb: unitSum(sums[c].emb)}
	}
	margin, ownScore = make([][]float64, len(classes)), make([][]float64, len(classes))
	for c, vs := range classes {
		margin[c], ownScore[c] = make([]float64, len(vs)), make([]float64, len(vs))
		for i, v := range vs {
			own := sums[c].centreWithout(i, v).score(v)
			ownScore[c][i] = own
			b, bs := -1, 0.0
			for o := range classes {
				if o == c || len(classes[o]) == 0 {
					continue
				}
				if s := centres[o].score(v); b < 0 || s > bs {
					b, bs = o, s
				}
			}
			if b >= 0 {
				margin[c][i] = bs - own
			}
		}
	}
	return margin, ownScore
}

// minMisfiledMargin: however the project's margins spread, an image must be
// at least this much closer (in cosine) to another class than to its own.
const minMisfiledMargin = 0.05

// judgeMisfiled flags images that look like another class of the project.
// Embeddings are standardised over the project first (each dimension
// centred and scaled to unit spread): the raw MobileNetV2 embeddings are
// all positive and alike in what every photo shares, which hides the
// differences between classes of one domain. Measured on six boats
// classes with 5% swapped: suggestion right 0.93 standardised, 0.86 raw.
func (r *runner) judgeMisfiled(names []string, byClass map[string][]*item) {
	var whyNot string
	if !r.cfg.enabled(ReasonMisfiled) {
		return
	}
	switch {
	case r.o.Labeler == nil:
		whyNot = "no labeler is available (install ONNX Runtime with .ci/onnxruntime.sh or set SCOUR_ONNXRUNTIME_LIB, or configure a cloud labeler)"
	case r.labelErr != nil:
		whyNot = fmt.Sprintf("the labeler %s failed: %v", r.model, r.labelErr)
	}
	switch {
	case whyNot != "":
		r.warn("misfiled check skipped: " + whyNot + "; the other checks ran")
		return
	case len(names) < 2:
		if len(names) == 1 {
			r.note(fmt.Sprintf("misfiled check skipped: %q is the project's only class, so there is no other class an image could belong to", names[0]))
		}
		return
	}
	var classes []string
	var members [][]*item
	for _, name := range names {
		var its []*item
		for _, it := range byClass[name] {
			if it.f != nil && it.f.Embedding != nil {
				its = append(its, it)
			}
		}
		if len(its) < minMisfiledClass {
			r.note(fmt.Sprintf("class %q: misfiled check skipped: %d labelled images with embeddings are too few for a class picture (at least %d)", name, len(its), minMisfiledClass))
			continue
		}
		classes = append(classes, name)
		members = append(members, its)
	}
	if len(classes) < 2 {
		r.note("misfiled check skipped: fewer than two classes have enough labelled images with embeddings")
		return
	}
	// The embedding head reads the raw embeddings, which standardised
	// takes from the items (one copy in memory instead of two), so its
	// views are made first.
	judged := withoutRejected(members)
	smallest := len(judged[0])
	for _, its := range judged {
		smallest = min(smallest, len(its))
	}
	var heads [][]view
	if smallest >= minHeadsClass {
		heads = headViews(judged)
	}
	views, pinned := standardised(members, judged)
	margin, _ := misfiledScores(views, pinned, 0, len(views[0][0].emb))
	var all []float64
	for c := range margin {
		for i, m := range margin[c] {
			if judged[c][i].decision == "" {
				all = append(all, m)
			}
		}
	}
	st := robustStats(all)
	th := max(minMisfiledMargin, st.Median+r.cfg.OffTopic.MisfiledZ*st.Sigma)
	if heads == nil {
		r.judgeMisfiledSmall(classes, judged, views, margin, th, st)
		return
	}
	// The heads learn from every image but the off-topic ones (rejected
	// ones are not in views) and the misfiled batches (see
	// misfiledbatch.go): each image is judged by heads fitted without it,
	// so the few misfiled ones among the rest teach little. Leaving out
	// every image the centres doubt took away the in-between photos of
	// look-alike classes, and the heads then grew sure of themselves there:
	// with 5% swaps between fishing boats, security boats, tugs and three
	// others, 12 false flags instead of 3.
	batchTh := max(minMisfiledMargin, st.Median+2*r.cfg.OffTopic.MisfiledZ*st.Sigma)
	batch, batchSize := misfiledBatches(views, margin, th, batchTh, judged)
	train := make([][]bool, len(judged))
	for c := range judged {
		train[c] = make([]bool, len(judged[c]))
		for i, it := range judged[c] {
			_, off := it.flags[ReasonOffTopic]
			train[c][i] = (!off && !batch[c][i]) || it.decision == DecisionKeep
		}
	}
	byEmb, err := outOfFold(heads, train)
	if err == nil {
		var byLabels [][][]float64
		if byLabels, err = outOfFold(labelViews(judged), train); err == nil {
			r.flagMisfiled(classes, judged, margin, th, st, byEmb, byLabels, batchSize, batchTh)
			return
		}
	}
	r.warn(fmt.Sprintf("misfiled check skipped: an out-of-fold class head could not be fitted (%v; non-finite values in the cached embeddings are the usual cause); the other checks ran", err))
}

// minHeadsClass: the two heads fitted on every image need this many
// images in each class. In a smaller project a few misfiled images are a
// large share of their folder (four kayaks among 25 destroyers): fitted
// on them, the heads stay too unsure of any image to flag it (none of the
// four), so there the centres' suspects are left out of the one head that
// judges (judgeMisfiledSmall), as before the two heads. The boats and
// noisy-web benchmarks have 90 to 400 images per class.
const minHeadsClass = 50

// judgeMisfiledSmall is the misfiled rule for projects with a class under
// minHeadsClass images: the centres' margin must pass th, and one head on
// the standardised embeddings, fitted without the images the centres
// doubt, must give the image's own class less than maxOwnProbability.
func (r *runner) judgeMisfiledSmall(classes []string, judged [][]*item, views [][]view, margin [][]float64, th float64, st zStats) {
	train := make([][]bool, len(judged))
	for c := range judged {
		train[c] = make([]bool, len(judged[c]))
		for i, it := range judged[c] {
			_, off := it.flags[ReasonOffTopic]
			train[c][i] = !off && (margin[c][i] < th || it.decision == DecisionKeep)
		}
	}
	probs, err := outOfFold(views, train)
	if err != nil {
		r.warn(fmt.Sprintf("misfiled check skipped: the out-of-fold class head could not be fitted (%v; non-finite values in the cached embeddings are the usual cause); the other checks ran", err))
		return
	}
	for c := range judged {
		for i, it := range judged[c] {
			p := probs[c][i]
			it.score.Misfiled, it.score.MisfiledThreshold = margin[c][i], th
			sug := -1
			for o, q := range p {
				if o != c && (sug < 0 || q > p[sug]) {
					sug = o
				}
			}
			if sug < 0 {
				continue
			}
			it.score.Suggest = classes[sug]
			_, offTopic := it.flags[ReasonOffTopic]
			if margin[c][i] < th || p[c] >= maxOwnProbability || it.decision != "" || offTopic {
				continue
			}
			it.flag(Flag{Reason: ReasonMisfiled, Score: margin[c][i], Method: "nearest-class+head",
				Detail: fmt.Sprintf("suggest %s (%.2f): %.3f closer to that class than to its own (threshold %.3f, %g robust standard deviations above the project's median %.3f), and a head fitted without it gives its own class %.2f (below %.2f; a class under %d images is too small for the two heads)",
					classes[sug], p[sug], margin[c][i], th, r.cfg.OffTopic.MisfiledZ, st.Median, p[c], maxOwnProbability, minHeadsClass)})
		}
	}
}

// flagMisfiled applies the three opinions to every judged image. Its
// saved score is the centres' margin against th, as in a small project
// (review sorts by it): a margin moves by a thousandth when the cached
// embeddings are rounded, a fitted head's probability by a hundredth.
func (r *runner) flagMisfiled(classes []string, judged [][]*item, margin [][]float64, th float64, st zStats, byEmb, byLabels [][][]float64, batchSize [][]int, batchTh float64) {
	for c := range judged {
		for i, it := range judged[c] {
			pe, pl := byEmb[c][i], byLabels[c][i]
			own := max(pe[c], pl[c])
			it.score.Misfiled, it.score.MisfiledThreshold = margin[c][i], th
			// The class the two heads together find most likely: on the
			// two six-class boats sets with 5% swapped it was right for 27
			// of 28 and 20 of 23 flagged images.
			sug := -1
			for o := range pe {
				if o != c && (sug < 0 || pe[o]+pl[o] > pe[sug]+pl[sug]) {
					sug = o
				}
			}
			if sug < 0 {
				continue
			}
			it.score.Suggest = classes[sug]
			_, offTopic := it.flags[ReasonOffTopic]
			if own >= maxOwnProbability || margin[c][i] < th || it.decision != "" || offTopic {
				continue
			}
			it.flag(Flag{Reason: ReasonMisfiled, Score: margin[c][i], Method: "heads+nearest-class",
				Detail: fmt.Sprintf("suggest %s (%.2f by the embedding head, %.2f by the label head): heads fitted without it give its own class %.2f and %.2f (both below %.2f), and it is %.3f closer to that class's centre than to its own (threshold %.3f, %g robust standard deviations above the project's median %.3f)",
					classes[sug], pe[sug], pl[sug], pe[c], pl[c], maxOwnProbability, margin[c][i], th, r.cfg.OffTopic.MisfiledZ, st.Median) + batchNote(batchSize[c][i], batchTh)})
		}
	}
}

// batchNote tells review why the heads did not learn an image.
func batchNote(size int, batchTh float64) string {
	if size == 0 {
		return ""
	}
	return fmt.Sprintf("; one of a batch of %d near-alike suspects in this folder (median margin over %.3f), which the heads were not fitted on so that it could not vouch for itself", size, batchTh)
}

// minMisfiledClass: a class needs this many images for a picture that
// others can be compared with.
const minMisfiledClass = 3

// withoutRejected is what the misfiled check judges: each class's images
// but those a person rejected, which are neither judged nor a picture of
// their class.
func withoutRejected(members [][]*item) [][]*item {
	judged := make([][]*item, len(members))
	for c, its := range members {
		for _, it := range its {
			if it.decision != DecisionReject {
				judged[c] = append(judged[c], it)
			}
		}
	}
	return judged
}

// standardised turns the embeddings of the judged images (members without
// the rejected ones) into views with each dimension centred and scaled
// over every member of the project.
func standardised(members, judged [][]*item) (views [][]view, pinned [][]bool) {
	mu, sd := embeddingStats(members, func(x float32) float64 { return float64(x) })
	views, pinned = make([][]view, len(judged)), make([][]bool, len(judged))
	for c, its := range judged {
		for _, it := range its {
			views[c] = append(views[c], view{emb: standardiseInto(it.f, mu, sd)})
			pinned[c] = append(pinned[c], it.decision == DecisionKeep)
		}
	}
	return views, pinned
}

// embeddingStats is the mean and spread of each embedding dimension,
// after f, over the images of classes (the first class must have one).
func embeddingStats(classes [][]*item, f func(float32) float64) (mu, sd []float64) {
	dim := len(classes[0][0].f.Embedding)
	mu, sd = make([]float64, dim), make([]float64, dim)
	var n float64
	for _, its := range classes {
		for _, it := range its {
			for j, x := range it.f.Embedding[:dim] {
				v := f(x)
				mu[j] += v
				sd[j] += v * v
			}
			n++
		}
	}
	for j := range mu {
		mu[j] /= n
		// The floor keeps a dimension that never varies from dividing by 0.
		sd[j] = math.Sqrt(max(sd[j]/n-mu[j]*mu[j], 0)) + 1e-3
	}
	return mu, sd
}

// headViews is what the embedding head reads: each embedding
// power-normalised (the square root of each component, signed; the
// MobileNetV2 embedding is an average of non-negative activations, heavy
// at a few dimensions, and the root evens them out, as is usual for
// linear models on such features) and standardised over the project.
// Measured with 5% swaps between fishing boats, security boats, tugs and
// three other classes, ranking by the two heads together: 3 false flags
// at recall 0.8 with the root, 4 without.
func headViews(judged [][]*item) [][]view {
	root := func(x float32) float64 {
		if x < 0 {
			return -math.Sqrt(float64(-x))
		}
		return math.Sqrt(float64(x))
	}
	mu, sd := embeddingStats(judged, root)
	dim := len(mu)
	views := make([][]view, len(judged))
	e := make([]float64, dim)
	for c, its := range judged {
		views[c] = make([]view, len(its))
		for i, it := range its {
			for j, x := range it.f.Embedding[:dim] {
				e[j] = (root(x) - mu[j]) / sd[j]
			}
			views[c][i] = view{emb: unitSum(e)}
		}
	}
	return views
}

// labelViews is what the label head reads: each image's label
// distribution as a unit vector (square roots of the confidences) over
// every label the project's images were given.
func labelViews(judged [][]*item) [][]view {
	space := labelSpace{}
	vecs := make([][]sparseVec, len(judged))
	for c, its := range judged {
		vecs[c] = make([]sparseVec, len(its))
		for i, it := range its {
			vecs[c][i] = space.vec(it.f.Labels)
		}
	}
	views := make([][]view, len(judged))
	for c := range vecs {
		views[c] = make([]view, len(vecs[c]))
		for i, v := range vecs[c] {
			// At least one dimension, so that a project whose labeler
			// gave no labels still makes a (useless, uniform) head.
			d := make([]float32, max(len(space), 1))
			for k, j := range v.idx {
				d[j] = v.val[k]
			}
			views[c][i] = view{emb: d}
		}
	}
	return views
}

// maxOwnProbability: each head must give a misfiled image's own class
// less than one chance in ten. Measured with 5% swaps
// (precision/recall/suggestion right), the centres' margin at
// misfiled_z 2 and one head on the embedding: six distinct boats classes
// 1.00/0.90/1.00; with fishing boats, security boats and tugs among them
// 0.72/0.75/0.90. With both heads and misfiled_z 1: see misfiled_z in
// config.go.
const maxOwnProbability = 0.1

// Out-of-fold head: multinomial logistic regression (softmax) on the
// standardised embeddings, fitted with L-BFGS on four fifths of the project
// and asked about the fifth it did not see, five times over. Images are
// dealt into the folds in turn within each class, so every fold's fit sees
// every class. Each L2 penalty of headL2Grid (scikit-learn's C =
// 1/(L2·n), on embeddings scaled to unit variance per dimension) is tried,
// and the one whose held-out probabilities fit the trusted images' classes
// best is kept: the probabilities are then calibrated on the project
// itself, so maxOwnProbability means the same in a small project as in a
// large one (30 images per class chose 0.01, 100 per class 0.01 or 0.1).
// The penalties are fitted in turn, strongest first, each starting where
// the last ended. The cost is 5 folds × about 45 loss evaluations per
// penalty (about 4·n·classes·d multiply-adds each): some 20 billion
// multiply-adds for 1,000 images in six classes with 1280-wide
// embeddings, 30 in nine: seconds on one core, a tenth of what labelling
// those images with MobileNetV2 (0.3 billion each) costs.
var headL2Grid = []float64{10, 1, 0.1, 0.01}

const (
	headFolds = 5
	headIters = 100
)

// outOfFold returns each view's class probabilities from a head that did
// not see it, with the penalty of headL2Grid whose out-of-fold
// probabilities give the fitted images' own classes the lowest
// cross-entropy. Views whose train is false are predicted but never
// fitted on, nor counted in that choice.
func outOfFold(views [][]view, train [][]bool) ([][][]float64, error) {
	dim := len(views[0][0].emb)
	// The views are unit vectors; this puts each dimension back near unit
	// variance, the scale the penalties of headL2Grid are meant for.
	scale := float32(math.Sqrt(float64(dim)))
	byL2 := make([][][][]float64, len(headL2Grid))
	for g := range byL2 {
		byL2[g] = make([][][]float64, len(views))
		for c := range views {
			byL2[g][c] = make([][]float64, len(views[c]))
		}
	}
	type at struct{ c, i int }
	// The folds' matrices take turns in one buffer, sized once; a large
	// project is fitted on a sample (headRows) and asked in chunks
	// (predictEach), so the buffer stays under 100 MB however many images.
	fit := headRows(train)
	x := make([]float32, 0, fitRows(fit)*dim)
	for f := range headFolds {
		x = x[:0]
		var y []int32
		var test []at
		for c, vs := range views {
			for i, v := range vs {
				switch {
				case i%headFolds == f:
					test = append(test, at{c, i})
				case fit[c][i]:
					for _, e := range v.emb {
						x = append(x, e*scale)
					}
					y = append(y, int32(c))
				}
			}
		}
		if len(test) == 0 {
			continue
		}
		if len(y) == 0 {
			// Every image is in doubt: the head has nothing to say.
			for g := range byL2 {
				for _, t := range test {
					row := make([]float64, len(views))
					for j := range row {
						row[j] = 1 / float64(len(views))
					}
					byL2[g][t.c][t.i] = row
				}
			}
			continue
		}
		m, err := nn.Build(nn.Spec{Kernel: 3}, nn.Shape{H: 1, W: 1, C: dim}, len(views), 1)
		if err != nil {
			return nil, fmt.Errorf("misfiled head: %w", err)
		}
		// Softmax regression is convex: start at zero, where every class
		// is equally likely, and the fit is the same on every run. Each
		// weaker penalty starts where the stronger one ended, which is
		// near its optimum, so the grid costs little more than one fit.
		m.ZeroWeights()
		for g, l2 := range headL2Grid {
			if _, err := (nn.LBFGS{L2: l2, MaxIter: headIters}).Fit(m, x, y, nil); err != nil {
				return nil, fmt.Errorf("misfiled head, fold %d of %d: %w", f+1, headFolds, err)
			}
			embs := make([][]float32, len(test))
			for k, t := range test {
				embs[k] = views[t.c][t.i].emb
			}
			err := predictEach(m, embs, scale, len(views), func(k int, p []float32) {
				row := make([]float64, len(p))
				for j, q := range p {
					row[j] = float64(q)
				}
				byL2[g][test[k].c][test[k].i] = row
			})
			if err != nil {
				return nil, fmt.Errorf("misfiled head, fold %d of %d: %w", f+1, headFolds, err)
			}
		}
	}
	best, bestLoss := 0, math.Inf(1)
	for g, probs := range byL2 {
		var loss float64
		for c := range probs {
			for i, p := range probs[c] {
				if train[c][i] {
					loss -= math.Log(max(p[c], 1e-12))
				}
			}
		}
		if loss < bestLoss {
			best, bestLoss = g, loss
		}
	}
	return byL2[best], nil
}
