package nn

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// blobs draws n examples of dim features in k overlapping Gaussian classes;
// raw gives each feature a different offset and scale, as raw embeddings
// have (and L-BFGS converges slowly on).
func blobs(n, dim, k int, seed uint64, raw bool) ([]float32, []int32) {
	r := rand.New(rand.NewPCG(seed, 99))
	centres := rand.New(rand.NewPCG(5, 5))
	mu := make([]float64, k*dim)
	for i := range mu {
		mu[i] = centres.NormFloat64()
	}
	x := make([]float32, n*dim)
	y := make([]int32, n)
	for i := range n {
		c := i % k
		y[i] = int32(c)
		for j := range dim {
			v := mu[c*dim+j] + 1.5*r.NormFloat64()
			if raw {
				v = 3 + float64(j%5) + (1+float64(j%3))*v
			}
			x[i*dim+j] = float32(v)
		}
	}
	return x, y
}

// refGradient is the gradient of softmax regression's mean cross-entropy
// plus l2/2*|W|^2, in float64, from the definition.
func refGradient(w, b []float32, x []float32, y []int32, dim, k int, l2 float64) (gw, gb []float64) {
	n := len(y)
	gw, gb = make([]float64, dim*k), make([]float64, k)
	for i := range n {
		z := make([]float64, k)
		for c := range k {
			z[c] = float64(b[c])
			for j := range dim {
				z[c] += float64(x[i*dim+j]) * float64(w[j*k+c])
			}
		}
		mx := z[0]
		for _, v := range z {
			mx = math.Max(mx, v)
		}
		var s float64
		for c := range z {
			z[c] = math.Exp(z[c] - mx)
			s += z[c]
		}
		for c := range k {
			d := z[c] / s
			if c == int(y[i]) {
				d--
			}
			gb[c] += d / float64(n)
			for j := range dim {
				gw[j*k+c] += d * float64(x[i*dim+j]) / float64(n)
			}
		}
	}
	for i := range gw {
		gw[i] += l2 * float64(w[i])
	}
	return gw, gb
}

func TestLBFGSReachesTheOptimum(t *testing.T) {
	const dim, k, n = 20, 3, 700 // two chunks for the full-batch gradient
	x, y := blobs(n, dim, k, 1, false)
	m, err := Build(Spec{Kernel: 3}, Shape{1, 1, dim}, k, 1)
	if err != nil {
		t.Fatal(err)
	}
	m.ZeroWeights()
	if loss, _, err := m.Evaluate(x, y); err != nil || math.Abs(loss-math.Log(k)) > 1e-6 {
		t.Fatalf("zero weights: loss %v, want log(%d): %v", loss, k, err)
	}
	const l2 = 1e-2
	var objs []float64
	res, err := LBFGS{L2: l2, GradTol: 1e-6}.Fit(m, x, y, func(it LBFGSIter) error {
		objs = append(objs, it.Objective)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Converged || len(objs) > 100 {
		t.Fatalf("not converged after %d iterations: %s", len(objs), res.Reason)
	}
	for i := 1; i < len(objs); i++ {
		if objs[i] > objs[i-1] {
			t.Fatalf("objective rose at iteration %d: %v -> %v", i+1, objs[i-1], objs[i])
		}
	}
	d := m.layers[len(m.layers)-1].(*dense)
	gw, gb := refGradient(d.w.w, d.b.w, x, y, dim, k, l2)
	var gmax float64
	for _, v := range append(gw, gb...) {
		gmax = math.Max(gmax, math.Abs(v))
	}
	// The optimum of a strictly convex objective: a float64 gradient from
	// the definition vanishes there, up to float32 rounding of the weights.
	if gmax > 1e-4 {
		t.Fatalf("gradient at the fit is %g (L-BFGS reported %g after %d iterations, %s)", gmax, res.Last.GradMax, res.Last.Iter, res.Reason)
	}
	if res.Last.Acc < 0.8 {
		t.Fatalf("train accuracy %.3f", res.Last.Acc)
	}
}

func TestLBFGSFitsAnMLP(t *testing.T) {
	const dim, k, n = 12, 2, 300
	// XOR of two features' signs: no linear model separates it.
	r := rand.New(rand.NewPCG(3, 3))
	x := make([]float32, n*dim)
	y := make([]int32, n)
	for i := range n {
		for j := range dim {
			x[i*dim+j] = float32(r.NormFloat64())
		}
		if (x[i*dim] > 0) != (x[i*dim+1] > 0) {
			y[i] = 1
		}
	}
	m, err := Build(Spec{Kernel: 3, Dense: []int{16}}, Shape{1, 1, dim}, k, 2)
	if err != nil {
		t.Fatal(err)
	}
	res, err := LBFGS{L2: 1e-4, MaxIter: 300}.Fit(m, x, y, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Last.Acc < 0.95 {
		t.Fatalf("MLP reached train accuracy %.3f on XOR (%s)", res.Last.Acc, res.Reason)
	}
}

func TestLBFGSRefusesStochasticModels(t *testing.T) {
	x, y := blobs(10, 4, 2, 1, false)
	for _, spec := range []Spec{{Kernel: 3, Dropout: 1, Rate: 0.5}, {Conv: []int{2}, Kernel: 1, BatchNorm: true}} {
		in := Shape{1, 1, 4}
		if spec.BatchNorm {
			in = Shape{2, 2, 1}
		}
		m, err := Build(spec, in, 2, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := (LBFGS{}).Fit(m, x, y, nil); err == nil || !strings.Contains(err.Error(), "TrainBatch") {
			t.Fatalf("%v: %v", spec, err)
		}
	}
}

func TestFoldStandardization(t *testing.T) {
	const dim, k, n = 8, 3, 50
	x, y := blobs(n, dim, k, 4, true)
	mean, std := make([]float32, dim), make([]float32, dim)
	for j := range dim {
		var s, s2 float64
		for i := range n {
			v := float64(x[i*dim+j])
			s += v
			s2 += v * v
		}
		mu := s / n
		mean[j], std[j] = float32(mu), float32(math.Sqrt(s2/n-mu*mu))
	}
	z := make([]float32, len(x))
	for i, v := range x {
		z[i] = (v - mean[i%dim]) / std[i%dim]
	}
	for _, hidden := range [][]int{nil, {6}} {
		m, err := Build(Spec{Kernel: 3, Dense: hidden}, Shape{1, 1, dim}, k, 9)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := (LBFGS{L2: 1e-3, MaxIter: 50}).Fit(m, z, y, nil); err != nil {
			t.Fatal(err)
		}
		want, err := m.Predict(z, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.FoldStandardization(mean, std); err != nil {
			t.Fatal(err)
		}
		got, err := m.Predict(x, n)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-5 {
				t.Fatalf("hidden %v: probability %d is %v on raw input after folding, %v on standardised input before", hidden, i, got[i], want[i])
			}
		}
	}
	conv, _ := Build(Spec{Conv: []int{2}, Kernel: 1, Dense: nil}, Shape{2, 2, 1}, 2, 1)
	if err := conv.FoldStandardization(make([]float32, 4), []float32{1, 1, 1, 1}); err == nil {
		t.Fatal("folded into a convolution")
	}
	if err := (&Model{in: Shape{1, 1, 2}}).FoldStandardization([]float32{0, 0}, []float32{1, 0}); err == nil {
		t.Fatal("accepted a zero deviation")
	}
}
