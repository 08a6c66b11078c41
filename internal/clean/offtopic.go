package clean

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/scour-dev/scour/internal/vision"
)

// The off-topic rule of the reference and outlier methods.
//
// Each image of a class gets a similarity score s: for "reference", its
// cosine similarity to the class's anchored centroid (see centroidScores);
// for "outlier", its mean cosine similarity to its k nearest neighbours in
// the class. Over the class, m is the median of s and MAD the median of |s-m|;
// an image's robust z-score is z = (s-m) / (1.4826 MAD), where 1.4826 makes
// MAD estimate the standard deviation of a normal distribution. An image is
// off-topic when z < -MaxZ (default 3, the usual "three MADs" outlier rule):
// the threshold is learned from the class itself, so it adapts to how alike
// the model finds the class's pictures, and the median and MAD ignore the
// off-topic minority as long as it stays well under half of the class. In
// practice recall drops once a quarter or more of a class is junk, because
// the junk then widens MAD. The scale has a floor of minSigma so that a class
// of near-identical pictures does not flag tiny differences.
//
// The reference method also looks at labels (see labelScores): an image is
// off-topic, too, when its label overlap with the class is below
// MinLabelOverlap times the class's median overlap. The overlap of
// on-topic images is skewed (most near 1, a long tail of views the model
// names differently), so a z-score on it flags too many of them; a ratio to
// the median does not assume a shape. Measured with `scour bench clean
// --class` (precision/recall, embedding alone -> with labels): Destroyers
// 1.00/0.84 -> 1.00/0.92, Carriers 1.00/0.72 -> 1.00/0.96, Submarines
// 1.00/0.64 -> 1.00/0.88, Cruise Ships 1.00/0.68 -> 0.89/0.96 (the cruise
// ships it flags are real ones that the model names by their scene: a
// fjord, a bridge).
const (
	madToSigma = 1.4826
	minSigma   = 0.01
)

// zStats describes a class's score distribution.
type zStats struct {
	Median, Sigma float64
}

func robustStats(scores []float64) zStats {
	m := median(scores)
	dev := make([]float64, len(scores))
	for i, s := range scores {
		dev[i] = abs(s - m)
	}
	return zStats{Median: m, Sigma: max(madToSigma*median(dev), minSigma)}
}

func (z zStats) z(s float64) float64 { return (s - z.Median) / z.Sigma }

// threshold is the score below which an image is off-topic.
func (z zStats) threshold(maxZ float64) float64 { return z.Median - maxZ*z.Sigma }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// Cosine is the similarity the near-duplicate search compares with
// min_cosine, with its exact summation, for checks outside clean that must
// land on the same side of the threshold.
func Cosine(a, b []float32) float64 { return dot(a, b) }

// dot is the cosine similarity of two L2-normalised embeddings. Four
// accumulators let the CPU overlap the additions.
func dot(a, b []float32) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return float64(s0 + s1 + s2 + s3)
}

// referenceScores is each embedding's highest similarity to a reference.
func referenceScores(embs, refs [][]float32) []float64 { return bestScores(embs, refs, dot) }

// bestScores is each vector's highest similarity to a reference.
func bestScores[V any](vs []V, refs [][]float32, sim func(V, []float32) float64) []float64 {
	out := make([]float64, len(vs))
	for i, v := range vs {
		out[i] = -1
		for _, r := range refs {
			out[i] = max(out[i], sim(v, r))
		}
	}
	return out
}

// centroidScores is each embedding's similarity to an anchored centroid:
// the mean of the reference embeddings and of the class's images that are
// at least as close to a reference as the median image. A few references
// alone are a narrow picture of a class (an image unlike all three of them
// may still be on topic); the centroid adds the half of the class that the
// references vouch for, so the off-topic half of a noisy class cannot pull
// it. Measured with `scour bench clean --class ...` on four boats classes
// at max_z 3 (precision/recall, before -> after): Destroyers 0.95/0.84 ->
// 1.00/0.84, Carriers 1.00/0.64 -> 1.00/0.72, Submarines 1.00/0.52 ->
// 1.00/0.64, Cruise Ships 1.00/0.60 -> 1.00/0.68.
func centroidScores(embs, refs [][]float32) []float64 {
	return anchoredScores(embs, refs, dot, addDense)
}

// anchoredScores is centroidScores for vectors of any representation V:
// sim is the cosine similarity of a V and a dense unit vector, add adds a
// V into a dense sum. References are dense.
func anchoredScores[V any](vs []V, refs [][]float32, sim func(V, []float32) float64, add func(V, []float64)) []float64 {
	first := bestScores(vs, refs, sim)
	m := median(first)
	c := make([]float64, len(refs[0]))
	for _, r := range refs {
		addDense(r, c)
	}
	for i, v := range vs {
		if first[i] >= m {
			add(v, c)
		}
	}
	var norm float64
	for _, v := range c {
		norm += v * v
	}
	norm = math.Sqrt(norm)
	centre := make([]float32, len(c))
	for j, v := range c {
		if norm > 0 { // all zero (references without a label): every score 0, nothing stands out
			centre[j] = float32(v / norm)
		}
	}
	out := make([]float64, len(vs))
	for i, v := range vs {
		out[i] = sim(v, centre)
	}
	return out
}

func addDense(v []float32, sum []float64) {
	for j, x := range v {
		sum[j] += float64(x)
	}
}

// LabelsPerImage is how many labels the local labeler should keep per image
// for clean: the label view of the reference method reads the top 30
// (measured on the bench classes, 30 separates as well as all 1,000 and 20
// a little worse), and the labels method its top_k of them.
const LabelsPerImage = 30

// NewLocalLabeler opens the embedded MobileNetV2 the way clean caches its
// results: LabelsPerImage labels per image. batch is images per inference
// run; 0 takes the labeler's default.
func NewLocalLabeler(batch int) (*vision.Local, error) {
	return vision.NewLocal(vision.MobileNetV2(), vision.LocalOptions{TopK: LabelsPerImage, BatchSize: batch})
}

// labelScores is each image's label overlap with its class: the
// Bhattacharyya coefficient Σ√(p·q) between the image's label distribution
// p and the class's anchored label profile q (see centroidScores), on the
// labels the labeler kept. 1 is the same labels with the same confidences,
// 0 no label in common. It is the original workflow's label rule made
// graded: an image whose labels share nothing with the class scores near 0
// even when its picture embeds close to the class (a fishing boat among
// destroyers), which is where the embedding alone fails.
func labelScores(labels, refs [][]vision.Label) []float64 {
	index := map[string]int32{}
	for _, set := range [][][]vision.Label{refs, labels} {
		for _, ls := range set {
			for _, l := range ls {
				if _, ok := index[l.Name]; !ok {
					index[l.Name] = int32(len(index))
				}
			}
		}
	}
	// Square roots of the confidences, scaled onto the unit sphere, so that
	// the dot product of two vectors is the coefficient of the two
	// distributions renormalised over the labels kept. Images are sparse
	// (k labels each) to keep memory per image small in a large class.
	vec := func(ls []vision.Label) sparseVec {
		var v sparseVec
		var n float64
		for _, l := range ls {
			if l.Confidence > 0 {
				v.idx = append(v.idx, index[l.Name])
				v.val = append(v.val, float32(math.Sqrt(l.Confidence)))
				n += l.Confidence
			}
		}
		for i := range v.val {
			v.val[i] /= float32(math.Sqrt(n))
		}
		return v
	}
	vs := make([]sparseVec, len(labels))
	for i, ls := range labels {
		vs[i] = vec(ls)
	}
	rs := make([][]float32, len(refs))
	for i, ls := range refs {
		rs[i] = make([]float32, len(index))
		r := vec(ls)
		for k, j := range r.idx {
			rs[i][j] = r.val[k]
		}
	}
	return anchoredScores(vs, rs, sparseVec.dot, sparseVec.addTo)
}

// sparseVec is a vector given by its non-zero entries.
type sparseVec struct {
	idx []int32
	val []float32
}

func (v sparseVec) dot(d []float32) float64 {
	var s float64
	for k, j := range v.idx {
		s += float64(v.val[k]) * float64(d[j])
	}
	return s
}

// addTo adds v into a dense sum.
func (v sparseVec) addTo(sum []float64) {
	for k, j := range v.idx {
		sum[j] += float64(v.val[k])
	}
}

// neighbourScores is each embedding's mean similarity to its k nearest
// others (all of them when there are fewer). It compares every pair, on
// all cores: a class of n images costs n²/2 dot products.
func neighbourScores(embs [][]float32, k int) []float64 {
	n := len(embs)
	out := make([]float64, n)
	k = min(k, n-1)
	if k < 1 {
		return out
	}
	parallelRows(n, func(i int) {
		best := make([]float64, 0, k+1) // the k highest, in descending order
		for j, f := range embs {
			if j == i {
				continue
			}
			s := dot(embs[i], f)
			if len(best) == k && s <= best[k-1] {
				continue
			}
			pos, _ := slices.BinarySearchFunc(best, s, func(a, b float64) int {
				switch {
				case a > b:
					return -1
				case a < b:
					return 1
				}
				return 0
			})
			best = slices.Insert(best, pos, s)
			if len(best) > k {
				best = best[:k]
			}
		}
		var sum float64
		for _, s := range best {
			sum += s
		}
		out[i] = sum / float64(len(best))
	})
	return out
}

// parallelRows calls fn(i) for i in [0, n) on all cores.
func parallelRows(n int, fn func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int, 64)
	for range min(runtime.GOMAXPROCS(0), max(n, 1)) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// topNames returns the names of the first k labels.
func topNames(ls []vision.Label, k int) []string {
	var out []string
	for _, l := range ls[:min(k, len(ls))] {
		out = append(out, l.Name)
	}
	return out
}

// sharedLabels counts how many of an image's top-k labels are among want.
func sharedLabels(ls []vision.Label, k int, want map[string]bool) int {
	n := 0
	for _, name := range topNames(ls, k) {
		if want[name] {
			n++
		}
	}
	return n
}

// describeLabels is a short human-readable list of labels for a flag's
// detail: "aircraft carrier 0.48, drilling platform 0.25".
func describeLabels(ls []vision.Label, k int) string {
	var parts []string
	for _, l := range ls[:min(k, len(ls))] {
		name, _, _ := strings.Cut(l.Name, ",")
		parts = append(parts, fmt.Sprintf("%s %.2f", name, l.Confidence))
	}
	return strings.Join(parts, ", ")
}
