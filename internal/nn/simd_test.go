package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// The vectorised helpers (Adam, pooling) must agree with their portable
// versions; on machines without AVX-512 both sides are the portable code.

func TestAdamStepMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	for _, n := range []int{1, 15, 16, 17, 100, 1000} {
		for _, k := range []adamConsts{
			{b1: 0.9, c1: 0.1, b2: 0.999, c2: 0.001, step: 1e-3, rbc2: 1.2, eps: 1e-8},
			{b1: 0.8, c1: 0.2, b2: 0.99, c2: 0.01, step: 3e-2, rbc2: 1, eps: 1e-7, wdc: 0.01},
			{b1: 0.9, c1: 0.1, b2: 0.999, c2: 0.001, step: 1e-3, rbc2: 3, eps: 1e-8, wdd: 1e-4},
		} {
			w, g := randSlice(r, n), randSlice(r, n)
			m, v := randSlice(r, n), randSlice(r, n)
			for i := range v {
				v[i] = float32(math.Abs(float64(v[i])))
			}
			w2, m2, v2 := slices.Clone(w), slices.Clone(m), slices.Clone(v)
			adamStep(w, g, m, v, &k)
			adamStepGo(w2, g, m2, v2, &k)
			for i := range w {
				for _, p := range [][2]float32{{w[i], w2[i]}, {m[i], m2[i]}, {v[i], v2[i]}} {
					if d := math.Abs(float64(p[0] - p[1])); d > 1e-6*max(1, math.Abs(float64(p[1]))) {
						t.Fatalf("n=%d %+v: element %d: %v vs %v", n, k, i, p[0], p[1])
					}
				}
			}
		}
	}
}

func TestMaxArgRowsMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 5))
	for _, ch := range []int{16, 48, 5} {
		const npix, stride = 7, 3
		y := randSlice(r, npix*ch)
		v := randSlice(r, (npix-1)*stride*ch+ch)
		for i := range y {
			y[i] = max(y[i], 0) // ReLU outputs, as the layer feeds it
		}
		for i := range v {
			v[i] = max(v[i], 0)
		}
		arg := make([]uint8, len(y))
		y2, arg2 := slices.Clone(y), slices.Clone(arg)
		maxArgRows(y, arg, v, ch, npix, stride*ch, 3)
		maxArgRowsGo(y2, arg2, v, ch, npix, stride*ch, 3)
		if !slices.Equal(y, y2) || !slices.Equal(arg, arg2) {
			t.Fatalf("ch=%d: vectorised and portable pooling differ", ch)
		}
		changed := 0
		for _, a := range arg {
			if a == 3 {
				changed++
			}
		}
		if changed == 0 || changed == len(arg) {
			t.Fatalf("ch=%d: %d of %d updated: test data does not exercise both outcomes", ch, changed, len(arg))
		}
	}
}
