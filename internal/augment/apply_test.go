package augment

import (
	"math"
	"math/rand/v2"
	"testing"
)

func ramp(h, w, c int) []float32 {
	x := make([]float32, h*w*c)
	for i := range x {
		x[i] = float32((i*37 + i/c*11) % 256)
	}
	return x
}

func TestIdentity(t *testing.T) {
	const h, w, c = 13, 9, 3
	src := ramp(h, w, c)
	zero := Params{}.Random(newRand(5), h, w)
	for _, tc := range []struct {
		name string
		tr   Transform
	}{
		{"zero Transform", Transform{}},
		{"drawn from zero Params", zero},
		{"unit zoom", Transform{Zx: 1, Zy: 1}},
		{"zero Transform, legacy", Transform{Legacy112: true}},
	} {
		for _, fill := range []string{"", FillNearest, FillConstant, FillReflect, FillWrap} {
			dst := make([]float32, len(src))
			Apply(dst, src, h, w, c, tc.tr, fill, 99)
			for i := range dst {
				if dst[i] != src[i] {
					t.Fatalf("%s, fill %q: value %d = %v, want %v", tc.name, fill, i, dst[i], src[i])
				}
			}
		}
	}
}

// marker returns an h x w single-channel image with one bright pixel.
func marker(h, w, r, c int) []float32 {
	x := make([]float32, h*w)
	x[r*w+c] = 100
	return x
}

func brightest(x []float32, w int) (int, int) {
	best := 0
	for i := range x {
		if x[i] > x[best] {
			best = i
		}
	}
	return best / w, best % w
}

// TestOrientation pins down, independently of scipy, the directions the
// package documentation promises for both behaviours.
func TestOrientation(t *testing.T) {
	for _, tc := range []struct {
		name         string
		h, w, r, c   int
		tr           Transform
		wantR, wantC int
	}{
		// Keras 3: +90 degrees turns the content counter-clockwise about the
		// centre; the top-middle pixel of a 9x9 image ends up left-middle.
		{"keras3 rotate +90", 9, 9, 2, 4, Transform{Theta: 90}, 4, 2},
		// 1.1.2 turns it clockwise, about (5, 5) instead of (4, 4).
		{"legacy rotate +90", 9, 9, 2, 4, Transform{Theta: 90, Legacy112: true}, 4, 8},
		{"legacy rotate 180 pivot", 9, 9, 2, 4, Transform{Theta: 180, Legacy112: true}, 8, 6},
		// Keras 3: Tx (the height shift) moves columns, Ty moves rows.
		{"keras3 tx moves columns", 6, 8, 3, 4, Transform{Tx: 2}, 3, 2},
		{"keras3 ty moves rows", 6, 8, 3, 4, Transform{Ty: 2}, 1, 4},
		{"legacy tx moves rows", 6, 8, 3, 4, Transform{Tx: 2, Legacy112: true}, 1, 4},
		{"keras3 rotate 180 square", 7, 7, 1, 2, Transform{Theta: 180}, 5, 4},
		{"flip h", 5, 7, 1, 2, Transform{FlipH: true}, 1, 4},
		{"flip v", 5, 7, 1, 2, Transform{FlipV: true}, 3, 2},
	} {
		src := marker(tc.h, tc.w, tc.r, tc.c)
		dst := make([]float32, len(src))
		Apply(dst, src, tc.h, tc.w, 1, tc.tr, FillConstant, 0)
		gr, gc := brightest(dst, tc.w)
		if gr != tc.wantR || gc != tc.wantC || dst[gr*tc.w+gc] < 99 {
			t.Errorf("%s: marker at (%d,%d) moved to (%d,%d) value %v, want (%d,%d)",
				tc.name, tc.r, tc.c, gr, gc, dst[gr*tc.w+gc], tc.wantR, tc.wantC)
		}
	}
}

func TestNonSquarePivot(t *testing.T) {
	// On a 6x10 image Keras 3's pivot sits at row 4.5, col 2.5 (its
	// (w/2-0.5, h/2-0.5)), so a 180-degree turn sends (4, 3) to (5, 2); a
	// pivot at the true centre (2.5, 4.5) would send it to (1, 6).
	src := marker(6, 10, 4, 3)
	dst := make([]float32, len(src))
	Apply(dst, src, 6, 10, 1, Transform{Theta: 180}, FillConstant, 0)
	if r, c := brightest(dst, 10); r != 5 || c != 2 {
		t.Errorf("marker went to (%d,%d), want (5,2)", r, c)
	}
}

func TestBrightnessRange(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  []float32
		tr   Transform
		want []float32
	}{
		// Values within 0..255 keep their scale but lose their fractions.
		{"keras3 keeps scale, truncates", []float32{10.7, 200, 0, 255}, Transform{Brightness: 1}, []float32{10, 200, 0, 255}},
		{"keras3 doubles and clips", []float32{10, 200, 0, 100}, Transform{Brightness: 2}, []float32{20, 255, 0, 200}},
		// Outside 0..255 the image is scaled to 0..255 and back.
		{"keras3 maps back", []float32{-1, 0, 1, 0.5}, Transform{Brightness: 1}, []float32{-1, 1.0/255*2*127 - 1, 1, 1.0/255*2*191 - 1}},
		// 1.1.2 always stretches to 0..255.
		{"legacy stretches", []float32{0, 0.5, 1, 0.25}, Transform{Brightness: 1, Legacy112: true}, []float32{0, 127, 255, 63}},
	} {
		dst := make([]float32, len(tc.src))
		Apply(dst, tc.src, 1, len(tc.src), 1, tc.tr, FillNearest, 0)
		if msg := compare(dst, tc.want, len(tc.src), 1, 1e-5); msg != "" {
			t.Errorf("%s:\n%s", tc.name, msg)
		}
	}
}

func TestAugmentRescales(t *testing.T) {
	src := []float32{0, 51, 255, 102}
	dst := make([]float32, 4)
	Params{Rescale: 1. / 255}.Augment(dst, src, 2, 2, 1, Transform{})
	want := []float32{0, 0.2, 1, 0.4}
	if msg := compare(dst, want, 2, 1, 1e-6); msg != "" {
		t.Error(msg)
	}
}

// A photo-like image inside 0..255 that touches neither end is where the two
// versions' brightness differ: 1.1.2 stretches it to 0..255 first.
func TestAugmentUsesParamsVersion(t *testing.T) {
	src := []float32{40, 100, 200, 20}
	tr := Transform{Brightness: 1} // written by hand: Legacy112 unset
	got := make([]float32, 4)
	Params{Legacy112: true}.Augment(got, src, 2, 2, 1, tr)
	want := []float32{51, 127, 255, 25} // x/200*255, truncated
	if msg := compare(got, want, 2, 1, 0); msg != "" {
		t.Errorf("legacy112 params:\n%s", msg)
	}
	tr.Legacy112 = true
	Params{}.Augment(got, src, 2, 2, 1, tr)
	if msg := compare(got, src, 2, 1, 0); msg != "" {
		t.Errorf("Keras 3 params:\n%s", msg)
	}
}

func TestApplyPanics(t *testing.T) {
	buf := make([]float32, 12)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"short dst", func() { Apply(buf[:5], make([]float32, 12), 2, 2, 3, Transform{}, "", 0) }},
		{"short src", func() { Apply(buf, make([]float32, 11), 2, 2, 3, Transform{}, "", 0) }},
		{"empty image", func() { Apply(buf, buf, 0, 2, 3, Transform{}, "", 0) }},
		{"same buffer", func() { Apply(buf, buf, 2, 2, 3, Transform{Theta: 5}, "", 0) }},
		{"unknown fill", func() { Apply(buf, make([]float32, 12), 2, 2, 3, Transform{}, "mirror", 0) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			tc.f()
		}()
	}
}

// Nonsensical transforms must not crash a training worker.
func TestApplyHugeOrNaN(t *testing.T) {
	src := ramp(8, 8, 3)
	dst := make([]float32, len(src))
	for _, fill := range []string{FillNearest, FillConstant, FillReflect, FillWrap} {
		for _, tr := range []Transform{{Tx: 1e300}, {Ty: -1e30}, {Zx: 1e20, Zy: 1e-20}, {Theta: 1e18, Tx: 1e9}, {Theta: math.NaN()}, {Tx: math.Inf(-1)}} {
			Apply(dst, src, 8, 8, 3, tr, fill, 0)
		}
	}
}

func TestApplyAllocatesNothing(t *testing.T) {
	const h, w, c = 32, 24, 3
	src := ramp(h, w, c)
	dst := make([]float32, len(src))
	p := Params{RotationRange: 30, WidthShiftRange: 0.2, HeightShiftRange: 0.2, ShearRange: 10,
		ZoomRange: ZoomRangeOf(0.2), HorizontalFlip: true, VerticalFlip: true,
		BrightnessRange: [2]float64{0.7, 1.3}, FillMode: FillReflect, Rescale: 1. / 255}
	rng := rand.New(rand.NewPCG(1, 2))
	allocs := testing.AllocsPerRun(50, func() {
		p.Augment(dst, src, h, w, c, p.Random(rng, h, w))
	})
	if allocs != 0 {
		t.Errorf("Random+Augment allocates %v times per image, want 0", allocs)
	}
}

// TestConcurrentWorkers runs workers with their own buffers and generators
// at once; each must get what it gets alone (run with -race to check for
// shared state).
func TestConcurrentWorkers(t *testing.T) {
	const h, w, c, workers, images = 24, 20, 3, 4, 30
	src := ramp(h, w, c)
	p := Params{RotationRange: 25, WidthShiftRange: 0.2, ZoomRange: ZoomRangeOf(0.2), HorizontalFlip: true,
		BrightnessRange: [2]float64{0.6, 1.4}, FillMode: FillWrap, Rescale: 1. / 255}
	run := func(seed uint64) []float32 {
		rng, dst := newRand(seed), make([]float32, len(src))
		sum := make([]float32, len(src))
		for range images {
			p.Augment(dst, src, h, w, c, p.Random(rng, h, w))
			for i, v := range dst {
				sum[i] += v
			}
		}
		return sum
	}
	want := make([][]float32, workers)
	for i := range workers {
		want[i] = run(uint64(i))
	}
	got := make([][]float32, workers)
	done := make(chan int)
	for i := range workers {
		go func() { got[i] = run(uint64(i)); done <- i }()
	}
	for range workers {
		<-done
	}
	for i := range workers {
		if msg := compare(got[i], want[i], w, c, 0); msg != "" {
			t.Errorf("worker %d differs when run concurrently:\n%s", i, msg)
		}
	}
}
