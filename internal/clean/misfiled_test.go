package clean

import (
	"math"
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
