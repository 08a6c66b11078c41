package augment

import (
	"math"
	"math/rand/v2"
	"testing"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 1)) }

func TestRandomZeroParamsIsIdentity(t *testing.T) {
	rng := newRand(1)
	for range 100 {
		tr := Params{}.Random(rng, 64, 48)
		if tr != (Transform{Zx: 1, Zy: 1}) {
			t.Fatalf("Random with zero Params = %+v, want the identity", tr)
		}
	}
}

// TestRandomRanges checks each draw's range and its spread: a uniform draw
// on [lo, hi] has mean (lo+hi)/2 and standard deviation (hi-lo)/sqrt(12).
func TestRandomRanges(t *testing.T) {
	const h, w, draws = 40, 100, 20000
	p := Params{RotationRange: 30, HeightShiftRange: 0.25, WidthShiftRange: 0.1, ShearRange: 8,
		ZoomRange: [2]float64{0.7, 1.4}, ChannelShiftRange: 40, BrightnessRange: [2]float64{0.5, 1.5},
		HorizontalFlip: true, VerticalFlip: true}
	type stat struct {
		name   string
		lo, hi float64
		get    func(Transform) float64
	}
	stats := []stat{
		{"Theta", -30, 30, func(t Transform) float64 { return t.Theta }},
		{"Tx (height fraction times h)", -0.25 * h, 0.25 * h, func(t Transform) float64 { return t.Tx }},
		{"Ty (width fraction times w)", -0.1 * w, 0.1 * w, func(t Transform) float64 { return t.Ty }},
		{"Shear", -8, 8, func(t Transform) float64 { return t.Shear }},
		{"Zx", 0.7, 1.4, func(t Transform) float64 { return t.Zx }},
		{"Zy", 0.7, 1.4, func(t Transform) float64 { return t.Zy }},
		{"ChannelShift", -40, 40, func(t Transform) float64 { return t.ChannelShift }},
		{"Brightness", 0.5, 1.5, func(t Transform) float64 { return t.Brightness }},
		{"FlipH", 0, 1, func(t Transform) float64 { return b2f(t.FlipH) }},
		{"FlipV", 0, 1, func(t Transform) float64 { return b2f(t.FlipV) }},
	}
	rng := newRand(7)
	sum := make([]float64, len(stats))
	sq := make([]float64, len(stats))
	for range draws {
		tr := p.Random(rng, h, w)
		for i, s := range stats {
			v := s.get(tr)
			if v < s.lo || v > s.hi {
				t.Fatalf("%s = %v outside [%v, %v]", s.name, v, s.lo, s.hi)
			}
			sum[i] += v
			sq[i] += v * v
		}
	}
	for i, s := range stats {
		mean := sum[i] / draws
		sd := math.Sqrt(sq[i]/draws - mean*mean)
		wantMean := (s.lo + s.hi) / 2
		wantSD := (s.hi - s.lo) / math.Sqrt(12)
		if s.name == "FlipH" || s.name == "FlipV" {
			wantSD = 0.5 // a fair coin
		}
		// 5 standard errors of the mean; 3% on the spread.
		if math.Abs(mean-wantMean) > 5*wantSD/math.Sqrt(draws) {
			t.Errorf("%s: mean %v, want about %v", s.name, mean, wantMean)
		}
		if math.Abs(sd-wantSD) > 0.03*wantSD {
			t.Errorf("%s: standard deviation %v, want about %v", s.name, sd, wantSD)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func TestRandomShiftUnits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		p      Params
		maxAbs [2]float64 // bounds of |Tx|, |Ty|
	}{
		{"fractions scale by h and w", Params{HeightShiftRange: 0.5, WidthShiftRange: 0.5}, [2]float64{10, 30}},
		{"one and above are pixels", Params{HeightShiftRange: 3, WidthShiftRange: 1}, [2]float64{3, 1}},
	} {
		rng := newRand(3)
		var seen [2]float64
		for range 2000 {
			tr := tc.p.Random(rng, 20, 60)
			seen[0] = max(seen[0], math.Abs(tr.Tx))
			seen[1] = max(seen[1], math.Abs(tr.Ty))
		}
		for i := range 2 {
			if seen[i] > tc.maxAbs[i] || seen[i] < 0.9*tc.maxAbs[i] {
				t.Errorf("%s: largest |shift| on axis %d = %v, want just under %v", tc.name, i, seen[i], tc.maxAbs[i])
			}
		}
	}
}

// TestRandomDrawOrder checks that turning a setting off does not shift the
// later draws except by the draws Keras itself skips: the flip coins are
// tossed whether or not flipping is on, a [1, 1] zoom draws nothing.
func TestRandomDrawOrder(t *testing.T) {
	base := Params{RotationRange: 10, ShearRange: 5, BrightnessRange: [2]float64{0.5, 1.5}}
	for _, tc := range []struct {
		name string
		p    Params
	}{
		{"flips on", Params{RotationRange: 10, ShearRange: 5, BrightnessRange: [2]float64{0.5, 1.5}, HorizontalFlip: true, VerticalFlip: true}},
		{"zoom [1,1]", Params{RotationRange: 10, ShearRange: 5, BrightnessRange: [2]float64{0.5, 1.5}, ZoomRange: [2]float64{1, 1}}},
	} {
		a, b := newRand(11), newRand(11)
		for range 50 {
			ta, tb := base.Random(a, 32, 32), tc.p.Random(b, 32, 32)
			if ta.Theta != tb.Theta || ta.Shear != tb.Shear || ta.Brightness != tb.Brightness {
				t.Fatalf("%s: draws diverged: %+v vs %+v", tc.name, ta, tb)
			}
		}
	}
	// Keras draws the channel shift after the flip coins and before
	// brightness: one draw, so brightness takes the next number.
	a, b := newRand(11), newRand(11)
	shifted := base
	shifted.ChannelShiftRange = 50
	for range 50 {
		ta, tb := base.Random(a, 8, 8), shifted.Random(b, 8, 8)
		if ta.Theta != tb.Theta || ta.Shear != tb.Shear {
			t.Fatalf("channel shift moved earlier draws: %+v vs %+v", ta, tb)
		}
		// tb's channel shift took the number ta's brightness got.
		u := (ta.Brightness - 0.5) / 1.0
		if want := -50 + 100*u; math.Abs(tb.ChannelShift-want) > 1e-9 {
			t.Fatalf("channel shift %v, want %v (the draw after the flip coins)", tb.ChannelShift, want)
		}
		a.Float64() // keep the two generators in step: ta drew one number fewer
	}
	// And a real zoom consumes two draws, so brightness moves on.
	a, b = newRand(11), newRand(11)
	zoomed := base
	zoomed.ZoomRange = [2]float64{0.9, 1.1}
	if base.Random(a, 8, 8).Brightness == zoomed.Random(b, 8, 8).Brightness {
		t.Error("brightness unchanged after adding zoom draws; draw order is not Keras'")
	}
}

func TestRandomDeterministic(t *testing.T) {
	p := Params{RotationRange: 40, ZoomRange: ZoomRangeOf(0.3), HorizontalFlip: true, Legacy112: true}
	a, b := newRand(99), newRand(99)
	for range 20 {
		ta, tb := p.Random(a, 16, 16), p.Random(b, 16, 16)
		if ta != tb {
			t.Fatalf("same seed, different transforms: %+v vs %+v", ta, tb)
		}
		if !ta.Legacy112 {
			t.Fatal("Legacy112 not carried into the Transform")
		}
	}
}
