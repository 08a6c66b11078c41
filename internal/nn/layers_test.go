package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// testEngines returns one engine per kernel set this machine runs, so
// every layer test covers the assembly and the pure-Go kernels.
func testEngines(threads int) []*engine {
	var es []*engine
	for _, name := range Kernels() {
		ks, _ := lookupKernels(name)
		e := newEngine(threads)
		e.setKernels(ks)
		es = append(es, e)
	}
	return es
}

// naiveConv computes a stride-1 convolution in float64 straight from the
// definition, with zero padding pad.
func naiveConv(x []float32, n int, in Shape, w, b []float32, k, pad, cout int) ([]float64, Shape) {
	out := Shape{in.H + 2*pad - k + 1, in.W + 2*pad - k + 1, cout}
	y := make([]float64, n*out.Size())
	for img := range n {
		for oy := range out.H {
			for ox := range out.W {
				for co := range cout {
					s := 0.0
					if b != nil {
						s = float64(b[co])
					}
					for ky := range k {
						for kx := range k {
							iy, ix := oy+ky-pad, ox+kx-pad
							if iy < 0 || ix < 0 || iy >= in.H || ix >= in.W {
								continue
							}
							for ci := range in.C {
								s += float64(x[((img*in.H+iy)*in.W+ix)*in.C+ci]) * float64(w[((ky*k+kx)*in.C+ci)*cout+co])
							}
						}
					}
					y[((img*out.H+oy)*out.W+ox)*cout+co] = s
				}
			}
		}
	}
	return y, out
}

// naiveConvGrads returns dx and dw of sum(dy * conv(x, w)) by definition.
func naiveConvGrads(x []float32, n int, in Shape, w, dy []float32, k, pad, cout int) (dx, dw []float64) {
	out := Shape{in.H + 2*pad - k + 1, in.W + 2*pad - k + 1, cout}
	dx = make([]float64, len(x))
	dw = make([]float64, len(w))
	for img := range n {
		for oy := range out.H {
			for ox := range out.W {
				for co := range cout {
					g := float64(dy[((img*out.H+oy)*out.W+ox)*cout+co])
					for ky := range k {
						for kx := range k {
							iy, ix := oy+ky-pad, ox+kx-pad
							if iy < 0 || ix < 0 || iy >= in.H || ix >= in.W {
								continue
							}
							for ci := range in.C {
								xi := ((img*in.H+iy)*in.W+ix)*in.C + ci
								wi := ((ky*k+kx)*in.C+ci)*cout + co
								dx[xi] += g * float64(w[wi])
								dw[wi] += g * float64(x[xi])
							}
						}
					}
				}
			}
		}
	}
	return dx, dw
}

func maxRelErr(got []float32, want []float64) (float64, int) {
	scale := 0.0
	for _, w := range want {
		scale = max(scale, math.Abs(w))
	}
	worst, at := 0.0, -1
	for i, w := range want {
		e := math.Abs(float64(got[i])-w) / max(scale, 1e-6)
		if e > worst || math.IsNaN(float64(got[i])) {
			worst, at = e, i
			if math.IsNaN(float64(got[i])) {
				return math.Inf(1), i
			}
		}
	}
	return worst, at
}

func TestConvMatchesDefinition(t *testing.T) {
	cases := []struct {
		in        Shape
		n, k, out int
		same      bool
	}{
		{Shape{9, 11, 3}, 2, 3, 32, false},   // 12x32 tiles, rows of 9 wide
		{Shape{16, 14, 32}, 3, 3, 64, false}, // 6x64 tiles
		{Shape{8, 8, 5}, 2, 3, 7, true},      // padded narrow panel
		{Shape{6, 7, 64}, 1, 3, 128, false},  // two 6x64 panels
		{Shape{7, 5, 4}, 2, 5, 40, true},     // 5x5, 32 + 8 columns
		{Shape{5, 5, 2}, 3, 1, 16, false},    // 1x1 convolution
		{Shape{30, 30, 16}, 2, 3, 96, false}, // 64+32 panels, several row chunks
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, e := range testEngines(2) {
		for _, tc := range cases {
			name := fmt.Sprintf("%s/%v/n%d/k%d/out%d/same=%v", e.ks.name, tc.in, tc.n, tc.k, tc.out, tc.same)
			t.Run(name, func(t *testing.T) {
				c, err := newConv2D(e, tc.in, tc.out, tc.k, tc.same, true, false, "c")
				if err != nil {
					t.Fatal(err)
				}
				copy(c.w.w, randSlice(r, len(c.w.w)))
				copy(c.b.w, randSlice(r, len(c.b.w)))
				x := randSlice(r, tc.n*tc.in.Size())
				y := c.forward(x, tc.n, true)
				want, _ := naiveConv(x, tc.n, tc.in, c.w.w, c.b.w, tc.k, c.pad, tc.out)
				if e, i := maxRelErr(y, want); e > 1e-5 {
					t.Fatalf("forward: rel err %.2g at %d (%v vs %v)", e, i, y[i], want[i])
				}
				dy := randSlice(r, len(y))
				dyCopy := append([]float32(nil), dy...)
				dx := c.backward(dy, tc.n, true)
				wdx, wdw := naiveConvGrads(x, tc.n, tc.in, c.w.w, dyCopy, tc.k, c.pad, tc.out)
				if e, i := maxRelErr(dx, wdx); e > 1e-5 {
					t.Fatalf("dx: rel err %.2g at %d (%v vs %v)", e, i, dx[i], wdx[i])
				}
				if e, i := maxRelErr(c.w.g, wdw); e > 1e-5 {
					t.Fatalf("dw: rel err %.2g at %d (%v vs %v)", e, i, c.w.g[i], wdw[i])
				}
				db := make([]float64, tc.out)
				for i, g := range dyCopy {
					db[i%tc.out] += float64(g)
				}
				if e, i := maxRelErr(c.b.g, db); e > 1e-5 {
					t.Fatalf("db: rel err %.2g at %d", e, i)
				}
			})
		}
	}
}

// gradCheck compares a layer's backward pass with central differences of
// L = sum(r * forward(x)) for a sample of inputs and parameters.
func gradCheck(t *testing.T, l layer, x []float32, n int, h, tol float64) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 8))
	y := l.forward(x, n, true)
	proj := randSlice(r, len(y))
	loss := func() float64 {
		y := l.forward(x, n, true)
		s := 0.0
		for i, v := range y {
			s += float64(v) * float64(proj[i])
		}
		return s
	}
	loss()
	dy := append([]float32(nil), proj...)
	dx := append([]float32(nil), l.backward(dy, n, true)...)
	var grads [][]float32
	for _, p := range l.params() {
		grads = append(grads, append([]float32(nil), p.g...))
	}
	check := func(what string, v []float32, analytic []float32) {
		t.Helper()
		idx := r.Perm(len(v))
		if len(idx) > 40 {
			idx = idx[:40]
		}
		for _, i := range idx {
			old := v[i]
			v[i] = old + float32(h)
			lp := loss()
			v[i] = old - float32(h)
			lm := loss()
			v[i] = old
			num := (lp - lm) / (2 * h)
			a := float64(analytic[i])
			if math.Abs(a-num) > tol*max(1, math.Abs(a), math.Abs(num)) {
				t.Errorf("%s %s[%d]: analytic %.6g, numerical %.6g", l.describe(), what, i, a, num)
			}
		}
	}
	check("x", x, dx)
	for i, p := range l.params() {
		if p.g != nil {
			check(p.name, p.w, grads[i])
		}
	}
}

func TestLayerGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	e := newEngine(2)
	var step uint64 = 3
	mk := func(l layer, err error) layer {
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	in := Shape{7, 6, 4}
	cases := []struct {
		name string
		l    layer
		in   Shape
		h    float64
		tol  float64
	}{
		{"conv valid", mk(newConv2D(e, in, 9, 3, false, true, false, "c")), in, 1e-2, 2e-3},
		{"conv same", mk(newConv2D(e, in, 33, 3, true, true, false, "c")), in, 1e-2, 2e-3},
		{"conv relu", mk(newConv2D(e, in, 5, 3, false, true, true, "c")), in, 1e-3, 1e-2},
		{"maxpool", mk(newMaxPool2D(e, in, 2)), in, 1e-3, 1e-2},
		{"dense", mk(newDense(e, in, 10, false, "d")), in, 1e-2, 2e-3},
		{"dense relu", mk(newDense(e, in, 70, true, "d")), in, 1e-3, 1e-2},
		{"relu", &relu{e: e, shape: in}, in, 1e-3, 1e-2},
		{"flatten", &flatten{in: in}, in, 1e-2, 2e-3},
		{"gap", &globalAvgPool{in: in}, in, 1e-2, 2e-3},
		{"dropout", &dropout{shape: in, rate: 0.4, seed: 9, step: &step}, in, 1e-2, 2e-3},
		{"batchnorm", newBatchNorm(e, in, "bn"), in, 1e-2, 1e-2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range tc.l.params() {
				if p.g != nil {
					for i := range p.w {
						p.w[i] += r.Float32() - 0.5
					}
				}
			}
			const n = 3
			x := randSlice(r, n*tc.in.Size())
			gradCheck(t, tc.l, x, n, tc.h, tc.tol)
		})
	}
}

func TestSoftmaxCEGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	const n, classes = 4, 5
	z := randSlice(r, n*classes)
	for i := range z {
		z[i] *= 4
	}
	y := []int32{0, 4, 2, 2}
	probs := make([]float32, n*classes)
	d := make([]float32, n*classes)
	softmaxCE(z, y, n, classes, probs, d)
	const h = 1e-3
	for i := range z {
		old := z[i]
		z[i] = old + h
		lp, _ := softmaxCE(z, y, n, classes, probs, nil)
		z[i] = old - h
		lm, _ := softmaxCE(z, y, n, classes, probs, nil)
		z[i] = old
		if num := (lp - lm) / (2 * h); math.Abs(num-float64(d[i])) > 1e-3 {
			t.Errorf("dlogits[%d] = %v, numerical %v", i, d[i], num)
		}
	}
	// A huge confident mistake gives a large finite loss.
	z = []float32{1000, -1000}
	l, _ := softmaxCE(z, []int32{1}, 1, 2, probs[:2], nil)
	if math.IsInf(l, 0) || math.Abs(l-2000) > 1e-3 {
		t.Fatalf("loss of a confident mistake = %v, want 2000", l)
	}
}

func TestDropoutMaskIsReproducible(t *testing.T) {
	in := Shape{1, 1, 10000}
	var step uint64
	d := &dropout{shape: in, rate: 0.3, seed: 42, step: &step}
	x := make([]float32, in.Size())
	for i := range x {
		x[i] = 1
	}
	a := append([]float32(nil), d.forward(x, 1, true)...)
	b := d.forward(x, 1, true)
	zeros := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same step, different mask at %d", i)
		}
		if a[i] == 0 {
			zeros++
		} else if math.Abs(float64(a[i])-1/0.7) > 1e-6 {
			t.Fatalf("kept element scaled to %v, want 1/0.7", a[i])
		}
	}
	if frac := float64(zeros) / float64(len(a)); math.Abs(frac-0.3) > 0.02 {
		t.Fatalf("dropped %.3f, want about 0.3", frac)
	}
	step++
	c := d.forward(x, 1, true)
	same := 0
	for i := range a {
		if a[i] == c[i] {
			same++
		}
	}
	if same == len(a) {
		t.Fatal("next step drew the same mask")
	}
	if got := d.forward(x, 1, false); &got[0] != &x[0] {
		t.Fatal("inference dropout is not the identity")
	}
}

// TestConvPoolMatchesComposition checks the fused Conv+ReLU+MaxPool layer
// against the separate layers it replaces.
func TestConvPoolMatchesComposition(t *testing.T) {
	cases := []struct {
		in   Shape
		n    int
		out  int
		same bool
	}{
		{Shape{13, 11, 3}, 3, 32, false},
		{Shape{12, 9, 16}, 2, 64, true},
		{Shape{9, 14, 8}, 2, 24, false},
	}
	r := rand.New(rand.NewPCG(9, 9))
	for _, e := range testEngines(2) {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/%v/out%d", e.ks.name, tc.in, tc.out), func(t *testing.T) {
				fused, err := newConvPool(e, tc.in, tc.out, 3, tc.same, 2, "c")
				if err != nil {
					t.Fatal(err)
				}
				conv, _ := newConv2D(e, tc.in, tc.out, 3, tc.same, true, true, "c")
				pool, err := newMaxPool2D(e, conv.out, 2)
				if err != nil {
					t.Fatal(err)
				}
				w, b := randSlice(r, len(conv.w.w)), randSlice(r, tc.out)
				copy(fused.c.w.w, w)
				copy(conv.w.w, w)
				copy(fused.c.b.w, b)
				copy(conv.b.w, b)
				x := randSlice(r, tc.n*tc.in.Size())
				got := fused.forward(x, tc.n, true)
				want := pool.forward(conv.forward(x, tc.n, true), tc.n, true)
				if !slices.Equal(got, want) {
					t.Fatal("forward differs")
				}
				dy := randSlice(r, len(got))
				dxGot := fused.backward(append([]float32(nil), dy...), tc.n, true)
				dxWant := conv.backward(pool.backward(dy, tc.n, true), tc.n, true)
				for _, c := range []struct {
					name      string
					got, want []float32
				}{{"dx", dxGot, dxWant}, {"dw", fused.c.w.g, conv.w.g}, {"db", fused.c.b.g, conv.b.g}} {
					want64 := make([]float64, len(c.want))
					for i, v := range c.want {
						want64[i] = float64(v)
					}
					if e, i := maxRelErr(c.got, want64); e > 1e-6 {
						t.Fatalf("%s: rel err %.2g at %d", c.name, e, i)
					}
				}
			})
		}
	}
}
