package ljpeg

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestIDCTNearFloat checks the integer IDCT against the textbook formula:
// libjpeg's accurate IDCT is within one level of the exact result.
func TestIDCTNearFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name    string
		nonzero int // coefficients set, the DC always among them
		scale   int32
	}{{"dc only", 1, 1000}, {"sparse", 6, 300}, {"dense", 64, 60}} {
		t.Run(tc.name, func(t *testing.T) {
			for range 200 {
				var b block
				b[0] = rng.Int32N(2*tc.scale) - tc.scale
				for range tc.nonzero - 1 {
					b[rng.IntN(blockSize)] = rng.Int32N(2*tc.scale) - tc.scale
				}
				want := floatIDCT(&b)
				got := b
				idct(&got)
				for i := range got {
					if d := math.Abs(float64(got[i]) - want[i]); d > 1 {
						t.Fatalf("sample %d: %d, exact %.3f", i, got[i], want[i])
					}
				}
			}
		})
	}
}

func floatIDCT(b *block) (out [blockSize]float64) {
	c := func(u int) float64 {
		if u == 0 {
			return 1 / math.Sqrt2
		}
		return 1
	}
	for y := range 8 {
		for x := range 8 {
			var s float64
			for v := range 8 {
				for u := range 8 {
					s += c(u) * c(v) * float64(b[v*8+u]) *
						math.Cos(float64(2*x+1)*float64(u)*math.Pi/16) *
						math.Cos(float64(2*y+1)*float64(v)*math.Pi/16)
				}
			}
			out[y*8+x] = s / 4
		}
	}
	return out
}
