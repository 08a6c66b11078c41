package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func naiveGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			out[i*n+j] = float64(alpha) * s
			if beta != 0 {
				out[i*n+j] += float64(beta) * float64(c[i*ldc+j])
			}
		}
	}
	return out
}

func randSlice(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = r.Float32()*2 - 1
	}
	return x
}

func TestSgemmMatchesNaive(t *testing.T) {
	sizes := []struct{ m, n, k int }{
		{1, 1, 1}, {3, 5, 7}, {6, 64, 9}, {12, 32, 5}, {13, 33, 17}, {7, 65, 300},
		{37, 129, 61}, {130, 70, 513}, {64, 2, 128}, {2, 200, 31}, {121, 97, 1}, {5, 16, 1100},
		{7, 20, 2100}, // threads split k
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, kname := range Kernels() {
		for _, threads := range []int{1, 2} {
			g, err := NewGemm(kname, threads)
			if err != nil {
				t.Fatal(err)
			}
			for _, sz := range sizes {
				for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
					for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-1.5, 0.25}} {
						name := fmt.Sprintf("%s/t%d/%dx%dx%d/tA=%v,tB=%v/alpha=%v,beta=%v", kname, threads, sz.m, sz.n, sz.k, tr[0], tr[1], ab[0], ab[1])
						tA, tB := tr[0], tr[1]
						// Leading dimensions wider than the matrices catch stride mix-ups.
						ar, ac, br, bc := sz.m, sz.k, sz.k, sz.n
						if tA {
							ar, ac = ac, ar
						}
						if tB {
							br, bc = bc, br
						}
						lda, ldb, ldc := ac+3, bc+1, sz.n+5
						a := randSlice(r, (ar-1)*lda+ac)
						b := randSlice(r, (br-1)*ldb+bc)
						c := randSlice(r, (sz.m-1)*ldc+sz.n)
						if ab[1] == 0 {
							for i := range c {
								c[i] = float32(math.NaN()) // beta = 0 must not read C
							}
						}
						want := naiveGemm(tA, tB, sz.m, sz.n, sz.k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
						got := append([]float32(nil), c...)
						g.Sgemm(tA, tB, sz.m, sz.n, sz.k, ab[0], a, lda, b, ldb, ab[1], got, ldc)
						for i := range sz.m {
							for j := range sz.n {
								w := want[i*sz.n+j]
								d := math.Abs(float64(got[i*ldc+j]) - w)
								if d > 1e-5*float64(sz.k+1) || math.IsNaN(float64(got[i*ldc+j])) {
									t.Fatalf("%s: C[%d,%d] = %v, want %v", name, i, j, got[i*ldc+j], w)
								}
							}
							// Padding between rows of C must be untouched.
							if i < sz.m-1 {
								for j := sz.n; j < ldc; j++ {
									if g, w := got[i*ldc+j], c[i*ldc+j]; g != w && !(math.IsNaN(float64(g)) && math.IsNaN(float64(w))) {
										t.Fatalf("%s: wrote C padding at [%d,%d]", name, i, j)
									}
								}
							}
						}
					}
				}
			}
		}
	}
}

func TestSgemmBadDimensionsPanic(t *testing.T) {
	g, err := NewGemm("go", 1)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		m, n, k int
		a, b, c []float32
		lda     int
	}{
		{"short A", 2, 2, 2, make([]float32, 3), make([]float32, 4), make([]float32, 4), 2},
		{"short C", 2, 2, 2, make([]float32, 4), make([]float32, 4), make([]float32, 3), 2},
		{"small lda", 2, 2, 2, make([]float32, 4), make([]float32, 4), make([]float32, 4), 1},
		{"negative", -1, 2, 2, nil, nil, nil, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			g.Sgemm(false, false, tc.m, tc.n, tc.k, 1, tc.a, tc.lda, tc.b, 2, 0, tc.c, 2)
		})
	}
}

func TestNewGemmUnknownKernel(t *testing.T) {
	if _, err := NewGemm("quantum", 1); err == nil {
		t.Fatal("NewGemm accepted an unknown kernel")
	}
}

func BenchmarkSgemmSquare(b *testing.B) {
	for _, kname := range Kernels() {
		for _, threads := range []int{1, 2} {
			for _, n := range []int{512, 1024} {
				if kname == "go" && n > 512 {
					continue
				}
				b.Run(fmt.Sprintf("%s/t%d/n%d", kname, threads, n), func(b *testing.B) {
					g, _ := NewGemm(kname, threads)
					r := rand.New(rand.NewPCG(1, 2))
					x, y, z := randSlice(r, n*n), randSlice(r, n*n), make([]float32, n*n)
					b.SetBytes(0)
					for b.Loop() {
						g.Sgemm(false, false, n, n, n, 1, x, n, y, n, 0, z, n)
					}
					b.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
