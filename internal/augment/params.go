package augment

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Fill modes, named as in Keras and scipy.ndimage.
const (
	FillNearest  = "nearest"
	FillConstant = "constant"
	FillReflect  = "reflect"
	FillWrap     = "wrap"
)

// Params are the augmentation settings of an ImageDataGenerator. The zero
// value augments nothing.
type Params struct {
	// RotationRange is in degrees; rotations are drawn from
	// [-RotationRange, RotationRange].
	RotationRange float64
	// WidthShiftRange and HeightShiftRange are fractions of the width and
	// height when below 1 and pixels otherwise, drawn from [-r, r].
	WidthShiftRange, HeightShiftRange float64
	// ShearRange is a shear angle in degrees, drawn from [-r, r].
	ShearRange float64
	// ZoomRange bounds the zoom factors, drawn independently for each axis.
	// [0, 0] means no zoom; Keras' zoom_range=z is [1-z, 1+z] (see
	// ZoomRangeOf). Factors above 1 zoom out.
	ZoomRange [2]float64
	// HorizontalFlip and VerticalFlip flip half of the images.
	HorizontalFlip, VerticalFlip bool
	// ChannelShiftRange bounds the value added to every channel, drawn from
	// [-r, r] in the image's own units (0..255 for photos); the result is
	// clipped to the image's minimum and maximum before the shift.
	ChannelShiftRange float64
	// BrightnessRange bounds the PIL brightness factor (1 keeps the image).
	// [0, 0] means no brightness change.
	BrightnessRange [2]float64
	// FillMode is one of the Fill constants; empty means FillNearest, the
	// Keras default.
	FillMode string
	// Cval fills the outside when FillMode is FillConstant.
	Cval float64
	// Rescale multiplies every value after augmentation, as Keras'
	// standardize does (1/255 is common); 0 leaves values alone.
	Rescale float64
	// Legacy112 selects keras-preprocessing 1.1.2's geometry and brightness
	// instead of Keras 3's (see the package documentation).
	Legacy112 bool
}

// ZoomRangeOf is Keras' reading of a single zoom_range number z.
func ZoomRangeOf(z float64) [2]float64 { return [2]float64{1 - z, 1 + z} }

// Validate reports every setting Keras would reject or that cannot produce a
// sensible image, joined into one error.
func (p Params) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("augment: "+format, args...))
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"rotation_range", p.RotationRange},
		{"width_shift_range", p.WidthShiftRange},
		{"height_shift_range", p.HeightShiftRange},
		{"shear_range", p.ShearRange},
		{"channel_shift_range", p.ChannelShiftRange},
	} {
		if !finite(f.v) || f.v < 0 {
			bad("%s %v: must be a finite number >= 0", f.name, f.v)
		}
	}
	if z := p.ZoomRange; z != [2]float64{} {
		switch {
		case !finite(z[0]) || !finite(z[1]):
			bad("zoom_range %v: bounds must be finite", z)
		case z[0] <= 0:
			bad("zoom_range %v: lower bound must be > 0 (zoom_range=z means [1-z, 1+z], so z must be < 1)", z)
		case z[0] > z[1]:
			bad("zoom_range %v: lower bound exceeds upper bound", z)
		}
	}
	if b := p.BrightnessRange; b != [2]float64{} {
		switch {
		case !finite(b[0]) || !finite(b[1]):
			bad("brightness_range %v: bounds must be finite", b)
		case b[0] < 0:
			bad("brightness_range %v: factors must be >= 0 (1 keeps the image, 0 is black)", b)
		case b[0] > b[1]:
			bad("brightness_range %v: lower bound exceeds upper bound", b)
		}
	}
	if _, err := parseFill(p.FillMode); err != nil {
		errs = append(errs, err)
	}
	if !finite(p.Cval) {
		bad("cval %v: must be finite", p.Cval)
	}
	if !finite(p.Rescale) {
		bad("rescale %v: must be finite", p.Rescale)
	}
	return errors.Join(errs...)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Transform is one drawn augmentation, in Keras' terms: Theta and Shear in
// degrees, Tx and Ty in pixels (Tx is the one scaled by the height), Zx and
// Zy zoom factors, ChannelShift the value added to every channel,
// Brightness the PIL factor. The zero value is the identity: zero zoom
// factors count as 1, and a zero ChannelShift or Brightness as none.
type Transform struct {
	Theta, Tx, Ty, Shear, Zx, Zy float64
	FlipH, FlipV                 bool
	ChannelShift                 float64
	Brightness                   float64
	Legacy112                    bool
}

// Random draws a Transform for an h x w image in the order and with the
// distributions of Keras' get_random_transform: theta, tx (height shift),
// ty (width shift), shear, zx and zy, then two flip coins that are tossed
// even when flipping is off, then the channel shift, then brightness. p
// should be valid.
func (p Params) Random(rng *rand.Rand, h, w int) Transform {
	t := Transform{Zx: 1, Zy: 1, Legacy112: p.Legacy112}
	if p.RotationRange != 0 {
		t.Theta = uniform(rng, -p.RotationRange, p.RotationRange)
	}
	if r := p.HeightShiftRange; r != 0 {
		t.Tx = uniform(rng, -r, r)
		if r < 1 {
			t.Tx *= float64(h)
		}
	}
	if r := p.WidthShiftRange; r != 0 {
		t.Ty = uniform(rng, -r, r)
		if r < 1 {
			t.Ty *= float64(w)
		}
	}
	if p.ShearRange != 0 {
		t.Shear = uniform(rng, -p.ShearRange, p.ShearRange)
	}
	if z := p.ZoomRange; z != [2]float64{} && z != [2]float64{1, 1} {
		t.Zx = uniform(rng, z[0], z[1])
		t.Zy = uniform(rng, z[0], z[1])
	}
	flipH := rng.Float64() < 0.5
	flipV := rng.Float64() < 0.5
	t.FlipH = flipH && p.HorizontalFlip
	t.FlipV = flipV && p.VerticalFlip
	if r := p.ChannelShiftRange; r != 0 {
		t.ChannelShift = uniform(rng, -r, r)
	}
	if b := p.BrightnessRange; b != [2]float64{} {
		t.Brightness = uniform(rng, b[0], b[1])
	}
	return t
}

// uniform is numpy.random.uniform's formula, low + (high-low)*[0, 1).
func uniform(rng *rand.Rand, lo, hi float64) float64 {
	return lo + (hi-lo)*rng.Float64()
}
