package clean

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/scour-dev/scour/internal/vision"
)

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// The label head sees one shared label space: the same label lands in the
// same dimension for every image, and each image is a unit vector.
func TestLabelViews(t *testing.T) {
	mk := func(ls ...vision.Label) *item { return &item{f: &features{Labels: ls}} }
	judged := [][]*item{
		{mk(vision.Label{Name: "tugboat", Confidence: 0.64}, vision.Label{Name: "pier", Confidence: 0.36})},
		{mk(vision.Label{Name: "pier", Confidence: 1})},
	}
	vs := labelViews(judged)
	a, b := vs[0][0].emb, vs[1][0].emb
	if len(a) != 2 || len(b) != 2 {
		t.Fatalf("label space of %d and %d dimensions, want 2", len(a), len(b))
	}
	if math.Abs(norm(a)-1) > 1e-6 || math.Abs(norm(b)-1) > 1e-6 {
		t.Errorf("not unit vectors: %v %v", a, b)
	}
	// pier: sqrt(0.36) in the first, 1 in the second, same dimension.
	if got := dot(a, b); math.Abs(got-0.6) > 1e-6 {
		t.Errorf("overlap %g, want 0.6 (the shared label in one dimension)", got)
	}
	// A labeler that names nothing still gives the head something to fit.
	empty := labelViews([][]*item{{mk()}, {mk()}})
	if len(empty[0][0].emb) != 1 {
		t.Errorf("no labels: %d dimensions, want 1", len(empty[0][0].emb))
	}
}

// The embedding head's input: unit vectors, standardised over the project
// (a dimension every image shares carries nothing), finite even for
// negative components.
func TestHeadViews(t *testing.T) {
	mk := func(e ...float32) *item { return &item{f: &features{Embedding: e}} }
	judged := [][]*item{{mk(0.5, 0.1, 1), mk(0.5, 0.4, 0)}, {mk(0.5, -0.2, 0.3)}}
	vs := headViews(judged)
	for c := range vs {
		for i, v := range vs[c] {
			if math.Abs(norm(v.emb)-1) > 1e-6 {
				t.Errorf("view %d/%d: norm %g", c, i, norm(v.emb))
			}
			if v.emb[0] != 0 {
				t.Errorf("view %d/%d: the shared dimension is %g, want 0", c, i, v.emb[0])
			}
			for _, x := range v.emb {
				if math.IsNaN(float64(x)) {
					t.Fatalf("view %d/%d: NaN", c, i)
				}
			}
		}
	}
}

// A batch is a group of suspects that are each other's nearest images in
// their folder and far enough over the bar together; a lone suspect, a
// group the centres barely doubt, and images a person kept or off-topic
// ones are not in it.
func TestMisfiledBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const dim = 8
	at := func(axis int, jitter float64) view {
		e := make([]float64, dim)
		e[axis] = 1
		for j := range e {
			e[j] += jitter * rng.NormFloat64()
		}
		return view{emb: unitSum(e)}
	}
	var vs []view
	var margin []float64
	var its []*item
	add := func(v view, m float64, it *item) int {
		vs, margin, its = append(vs, v), append(margin, m), append(its, it)
		return len(vs) - 1
	}
	for range 30 {
		add(at(0, 0.3), -0.3, &item{})
	}
	var batch []int
	for range 6 {
		batch = append(batch, add(at(1, 0.05), 0.5, &item{}))
	}
	kept := add(at(1, 0.05), 0.5, &item{decision: DecisionKeep})
	off := add(at(1, 0.05), 0.5, &item{flags: map[string]Flag{ReasonOffTopic: {}}})
	var faint []int
	for range 4 {
		faint = append(faint, add(at(2, 0.05), 0.1, &item{}))
	}
	lone := add(at(3, 0.05), 0.9, &item{})
	other := []view{at(4, 0.1), at(4, 0.1), at(4, 0.1)}
	in, sizes := misfiledBatches([][]view{vs, other}, [][]float64{margin, {-0.3, -0.3, -0.3}}, 0.05, 0.2,
		[][]*item{its, {{}, {}, {}}})
	for _, i := range batch {
		if !in[0][i] || sizes[0][i] != len(batch) {
			t.Errorf("batch member %d: in %v, size %d, want in a batch of %d", i, in[0][i], sizes[0][i], len(batch))
		}
	}
	for name, i := range map[string]int{"kept": kept, "off-topic": off, "lone suspect": lone} {
		if in[0][i] {
			t.Errorf("%s image %d is in a batch", name, i)
		}
	}
	for _, i := range faint {
		if in[0][i] {
			t.Errorf("faint suspect %d (median margin under the bar) is in a batch", i)
		}
	}
	for i := range 30 {
		if in[0][i] {
			t.Errorf("ordinary image %d is in a batch", i)
		}
	}
	for i := range other {
		if in[1][i] {
			t.Errorf("class 1 image %d is in a batch", i)
		}
	}
}
