package augment

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkApply times one 128x128x3 image, the reference CNN's input size,
// per transform kind on one core.
func BenchmarkApply(b *testing.B) {
	const h, w, c = 128, 128, 3
	src := ramp(h, w, c)
	dst := make([]float32, len(src))
	for _, bc := range []struct {
		name string
		tr   Transform
		fill string
	}{
		{"flip", Transform{FlipH: true}, FillNearest},
		{"rotate/nearest", Transform{Theta: 17}, FillNearest},
		{"rotate/constant", Transform{Theta: 17}, FillConstant},
		{"rotate/reflect", Transform{Theta: 17}, FillReflect},
		{"rotate/wrap", Transform{Theta: 17}, FillWrap},
		{"brightness", Transform{Brightness: 1.2}, FillNearest},
		{"combined", Transform{Theta: -12, Tx: 9.5, Ty: -6.1, Shear: 5, Zx: 0.9, Zy: 1.1, FlipH: true, Brightness: 0.8}, FillReflect},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(src) * 4))
			for b.Loop() {
				Apply(dst, src, h, w, c, bc.tr, bc.fill, 0)
			}
		})
	}
}

// BenchmarkRandomAugment is the per-image cost a training loop pays with a
// typical Keras setting: draw, transform, rescale.
func BenchmarkRandomAugment(b *testing.B) {
	const h, w, c = 128, 128, 3
	src := ramp(h, w, c)
	dst := make([]float32, len(src))
	p := Params{RotationRange: 20, WidthShiftRange: 0.2, HeightShiftRange: 0.2, ShearRange: 10,
		ZoomRange: ZoomRangeOf(0.2), HorizontalFlip: true, BrightnessRange: [2]float64{0.7, 1.3},
		FillMode: FillNearest, Rescale: 1. / 255}
	rng := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		p.Augment(dst, src, h, w, c, p.Random(rng, h, w))
	}
}
