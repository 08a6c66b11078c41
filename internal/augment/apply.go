package augment

import (
	"fmt"
	"math"
)

type fillMode uint8

const (
	modeNearest fillMode = iota
	modeConstant
	modeReflect
	modeWrap
)

func parseFill(s string) (fillMode, error) {
	switch s {
	case "", FillNearest:
		return modeNearest, nil
	case FillConstant:
		return modeConstant, nil
	case FillReflect:
		return modeReflect, nil
	case FillWrap:
		return modeWrap, nil
	}
	return 0, fmt.Errorf("augment: fill_mode %q: want %s, %s, %s or %s",
		s, FillNearest, FillConstant, FillReflect, FillWrap)
}

// Augment applies t with p's fill mode and p's choice of Keras version
// (Legacy112), then p.Rescale, as Keras' apply_transform followed by
// standardize does. A Transform written by hand rather than drawn by
// p.Random gets p's version too, so the two cannot disagree.
func (p Params) Augment(dst, src []float32, h, w, c int, t Transform) {
	t.Legacy112 = p.Legacy112
	Apply(dst, src, h, w, c, t, p.FillMode, p.Cval)
	if p.Rescale != 0 {
		s := float32(p.Rescale)
		for i := range dst[:h*w*c] {
			dst[i] *= s
		}
	}
}

// Apply writes t applied to the h x w x c image src into dst, as Keras'
// apply_transform does: the affine part (when t has one) sampled bilinearly
// with scipy's border handling for fill, then the channel shift, then the
// horizontal and vertical flips, then brightness. dst and src must not share memory. It panics on
// short buffers and on an unknown fill mode, which Params.Validate reports
// as an error beforehand.
func Apply(dst, src []float32, h, w, c int, t Transform, fill string, cval float64) {
	mode, err := parseFill(fill)
	if err != nil {
		panic(err)
	}
	n := h * w * c
	if h <= 0 || w <= 0 || c <= 0 || len(src) < n || len(dst) < n {
		panic(fmt.Sprintf("augment: Apply on a %dx%dx%d image with len(src)=%d, len(dst)=%d", h, w, c, len(src), len(dst)))
	}
	if &dst[0] == &src[0] {
		panic("augment: Apply needs separate dst and src buffers")
	}
	dst, src = dst[:n], src[:n]
	if m, ok := t.inverse(h, w); ok {
		warp(dst, src, h, w, c, m, mode, cval, t.FlipH, t.FlipV)
	} else {
		flipCopy(dst, src, h, w, c, t.FlipH, t.FlipV)
	}
	// Keras shifts before flipping; a shift clipped to the whole image's
	// range is the same value for a pixel wherever the flip puts it.
	if t.ChannelShift != 0 {
		channelShift(dst, float32(t.ChannelShift))
	}
	if t.Brightness != 0 {
		if t.Legacy112 {
			brightness112(dst, c, t.Brightness)
		} else {
			brightness3(dst, c, t.Brightness)
		}
	}
}

// affine maps an output (row, col) to input coordinates as
// scipy.ndimage.affine_transform(input, matrix, offset) does:
// row' = (offRow + row*rr) + col*rc, col' = (offCol + row*cr) + col*cc.
type affine struct {
	rr, rc, offRow float64
	cr, cc, offCol float64
}

type mat3 [3][3]float64

func (a mat3) mul(b mat3) mat3 {
	var m mat3
	for i := range 3 {
		for j := range 3 {
			m[i][j] = a[i][0]*b[0][j] + a[i][1]*b[1][j] + a[i][2]*b[2][j]
		}
	}
	return m
}

// inverse composes the output-to-input map as Keras' apply_affine_transform
// does: rotation, then shift, shear and zoom, each only when it is not
// neutral; ok is false when none is, and Keras then skips resampling.
func (t Transform) inverse(h, w int) (affine, bool) {
	var m mat3
	have := false
	then := func(n mat3) {
		if have {
			m = m.mul(n)
		} else {
			m, have = n, true
		}
	}
	zx, zy := t.Zx, t.Zy
	if zx == 0 {
		zx = 1
	}
	if zy == 0 {
		zy = 1
	}
	if t.Theta != 0 {
		th := t.Theta * (math.Pi / 180)
		s, c := math.Sin(th), math.Cos(th)
		then(mat3{{c, -s, 0}, {s, c, 0}, {0, 0, 1}})
	}
	if t.Tx != 0 || t.Ty != 0 {
		then(mat3{{1, 0, t.Tx}, {0, 1, t.Ty}, {0, 0, 1}})
	}
	if t.Shear != 0 {
		sh := t.Shear * (math.Pi / 180)
		then(mat3{{1, -math.Sin(sh), 0}, {0, math.Cos(sh), 0}, {0, 0, 1}})
	}
	if zx != 1 || zy != 1 {
		then(mat3{{zx, 0, 0}, {0, zy, 0}, {0, 0, 1}})
	}
	if !have {
		return affine{}, false
	}
	// transform_matrix_offset_center: Keras 3 pivots on x/2-0.5, 1.1.2 on
	// x/2+0.5, where x is h for the first matrix axis and w for the second.
	d := -0.5
	if t.Legacy112 {
		d = 0.5
	}
	ox, oy := float64(h)/2+d, float64(w)/2+d
	m = mat3{{1, 0, ox}, {0, 1, oy}, {0, 0, 1}}.mul(m).mul(mat3{{1, 0, -ox}, {0, 1, -oy}, {0, 0, 1}})
	if t.Legacy112 {
		return affine{m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2]}, true
	}
	// Keras 3 swaps both rows and columns of the matrix (M' = PMP) before
	// handing it to scipy, which indexes (row, col).
	return affine{m[1][1], m[1][0], m[1][2], m[0][1], m[0][0], m[0][2]}, true
}

func flipCopy(dst, src []float32, h, w, c int, flipH, flipV bool) {
	stride := w * c
	for r := range h {
		sr := r
		if flipV {
			sr = h - 1 - r
		}
		out, in := dst[r*stride:(r+1)*stride], src[sr*stride:(sr+1)*stride]
		if !flipH {
			copy(out, in)
			continue
		}
		for q, s := 0, len(in)-c; q < len(out); q, s = q+c, s-c {
			for k := range c {
				out[q+k] = in[s+k]
			}
		}
	}
}

// warp samples src at m applied to every output pixel. The flips are folded
// in by sampling the affine output at the mirrored pixel, which is what
// flipping it afterwards amounts to. Arithmetic is float64 in scipy's order
// of operations so that results match to the last float32 bit in practice.
func warp(dst, src []float32, h, w, c int, m affine, mode fillMode, cval float64, flipH, flipV bool) {
	hm1, wm1 := float64(h-1), float64(w-1)
	stride := w * c
	fill := float32(cval)
	for r := range h {
		ar := r
		if flipV {
			ar = h - 1 - r
		}
		fr := float64(ar)
		rowBase := m.offRow + fr*m.rr
		colBase := m.offCol + fr*m.cr
		out := dst[r*stride : (r+1)*stride]
		for q := range w {
			aq := q
			if flipH {
				aq = w - 1 - q
			}
			fq := float64(aq)
			y := rowBase + fq*m.rc
			x := colBase + fq*m.cc
			o := out[q*c : (q+1)*c]
			if y >= 0 && y < hm1 && x >= 0 && x < wm1 {
				// Interior: both neighbours exist on both axes.
				iy, ix := int(y), int(x)
				wy1 := y - float64(iy)
				wy0 := 1 - wy1
				wy1 = 1 - wy0
				wx1 := x - float64(ix)
				wx0 := 1 - wx1
				wx1 = 1 - wx0
				p00 := iy*stride + ix*c
				p10 := p00 + stride
				if c == 3 {
					// RGB, the common case, with constant indices so the
					// compiler drops the bounds checks.
					a := src[p00 : p00+6 : p00+6]
					b := src[p10 : p10+6 : p10+6]
					o := o[:3:3]
					o[0] = float32(float64(a[0])*wy0*wx0 + float64(a[3])*wy0*wx1 + float64(b[0])*wy1*wx0 + float64(b[3])*wy1*wx1)
					o[1] = float32(float64(a[1])*wy0*wx0 + float64(a[4])*wy0*wx1 + float64(b[1])*wy1*wx0 + float64(b[4])*wy1*wx1)
					o[2] = float32(float64(a[2])*wy0*wx0 + float64(a[5])*wy0*wx1 + float64(b[2])*wy1*wx0 + float64(b[5])*wy1*wx1)
					continue
				}
				a := src[p00 : p00+2*c]
				b := src[p10 : p10+2*c]
				for k := range o {
					o[k] = float32(float64(a[k])*wy0*wx0 + float64(a[c+k])*wy0*wx1 +
						float64(b[k])*wy1*wx0 + float64(b[c+k])*wy1*wx1)
				}
				continue
			}
			iy0, iy1, wy0, wy1, okY := axis(y, h, mode)
			ix0, ix1, wx0, wx1, okX := axis(x, w, mode)
			if !okY || !okX {
				for k := range o {
					o[k] = fill
				}
				continue
			}
			p00, p01 := iy0*stride+ix0*c, iy0*stride+ix1*c
			p10, p11 := iy1*stride+ix0*c, iy1*stride+ix1*c
			for k := range o {
				o[k] = float32(float64(src[p00+k])*wy0*wx0 + float64(src[p01+k])*wy0*wx1 +
					float64(src[p10+k])*wy1*wx0 + float64(src[p11+k])*wy1*wx1)
			}
		}
	}
}

// axis resolves one input coordinate near or past the border into its two
// neighbours and their weights as scipy's NI_GeometricTransform does for
// order 1: the coordinate is first folded back by the fill mode (except for
// 'nearest'), and neighbours that still fall outside are folded by the
// spline boundary mode (mirror for 'constant' and 'wrap'). ok is false when
// the output takes cval.
func axis(cc float64, n int, mode fillMode) (i0, i1 int, w0, w1 float64, ok bool) {
	if !(math.Abs(cc) < 1<<52) {
		// NaN, infinities and coordinates too large for the integer folding
		// below come only from nonsensical transforms: fill them.
		return 0, 0, 0, 0, false
	}
	switch mode {
	case modeConstant:
		if cc < 0 || cc > float64(n-1) {
			return 0, 0, 0, 0, false
		}
	case modeNearest:
		// Both neighbours clamp to the same pixel anyway; this keeps the
		// int conversion below in range.
		cc = max(-1, min(cc, float64(n)))
	default:
		cc = mapCoord(cc, n, mode)
	}
	fl := math.Floor(cc)
	start := int(fl)
	w1 = cc - fl
	w0 = 1 - w1
	w1 = 1 - w0
	return edgeIndex(start, n, mode), edgeIndex(start+1, n, mode), w0, w1, true
}

// mapCoord is scipy's map_coordinate for 'reflect' and 'wrap', including its
// integer truncations.
func mapCoord(in float64, n int, mode fillMode) float64 {
	if in >= 0 && in <= float64(n-1) {
		return in
	}
	if n <= 1 {
		return 0
	}
	if mode == modeReflect {
		sz2 := 2 * n
		if in < 0 {
			if in < -float64(sz2) {
				in = float64(sz2*int(-in/float64(sz2))) + in
			}
			if in < -float64(n) {
				return in + float64(sz2)
			}
			if in > -1e-15 {
				in = -1e-15
			}
			return -in - 1
		}
		in -= float64(sz2 * int(in/float64(sz2)))
		if in >= float64(n) {
			in = float64(sz2) - in - 1
		}
		return in
	}
	sz := n - 1
	if in < 0 {
		return in + float64(sz*(int(-in/float64(sz))+1))
	}
	return in - float64(sz*int(in/float64(sz)))
}

// edgeIndex folds a neighbour index that lies outside [0, n) with the spline
// boundary mode scipy pairs with each fill mode.
func edgeIndex(i, n int, mode fillMode) int {
	if i >= 0 && i < n {
		return i
	}
	if n <= 1 {
		return 0
	}
	switch mode {
	case modeNearest:
		if i < 0 {
			return 0
		}
		return n - 1
	case modeReflect:
		sz2 := 2 * n
		if i < 0 {
			if i < -sz2 {
				i += sz2 * (-i / sz2)
			}
			if i < -n {
				return i + sz2
			}
			return -i - 1
		}
		i -= sz2 * (i / sz2)
		if i >= n {
			i = sz2 - i - 1
		}
		return i
	default: // mirror, for constant and wrap
		sz2 := 2*n - 2
		if i < 0 {
			i += sz2 * (-i / sz2)
			if i <= 1-n {
				return i + sz2
			}
			return -i
		}
		i -= sz2 * (i / sz2)
		if i >= n {
			i = sz2 - i
		}
		return i
	}
}

// channelShift is apply_channel_shift: one intensity added to every
// channel, clipped to the minimum and maximum the image had before. numpy
// adds a Python float to a float32 array in float32, hence s's type.
func channelShift(x []float32, s float32) {
	lo, hi := minMax(x)
	for i, v := range x {
		x[i] = min(max(v+s, lo), hi)
	}
}

// blend is PIL's ImageEnhance.Brightness on one 8-bit value: Image.blend
// with a black image, computed in C float and truncated, clipped only when
// the factor leaves [0, 1] (where it cannot matter otherwise).
func blend(f float32, u float32) float32 {
	v := f * u
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return float32(uint8(v))
}

func minMax(x []float32) (lo, hi float32) {
	lo, hi = x[0], x[0]
	for _, v := range x[1:] {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}

// brightness3 is Keras 3's apply_brightness_shift(x, b, scale=False): an
// image outside [0, 255] is scaled into it, truncated to 8 bits, enhanced
// and scaled back; one inside is only truncated and enhanced. The result of
// each 8-bit level is computed once.
func brightness3(x []float32, c int, b float64) {
	lo, hi := minMax(x)
	local := lo < 0 || hi > 255
	span := hi - lo
	var color, alpha [256]float32
	f := float32(b)
	for u := range color {
		color[u], alpha[u] = blend(f, float32(u)), float32(u)
		if local {
			color[u] = color[u]/255*span + lo
			alpha[u] = alpha[u]/255*span + lo
		}
	}
	if local {
		for i, v := range x {
			v -= lo
			if span != 0 {
				v /= span
			}
			x[i] = v * 255
		}
	}
	lookup(x, c, &color, &alpha)
}

// brightness112 is keras-preprocessing 1.1.2's apply_brightness_shift,
// whose array_to_img always stretched the image to 0..255 (shifting it up
// first when it had negative values) and never scaled it back.
func brightness112(x []float32, c int, b float64) {
	lo, hi := minMax(x)
	var shift float32
	if lo < 0 {
		shift = -lo
	}
	top := hi + shift
	var color, alpha [256]float32
	f := float32(b)
	for u := range color {
		color[u], alpha[u] = blend(f, float32(u)), float32(u)
	}
	for i, v := range x {
		v += shift
		if top != 0 {
			v /= top
		}
		x[i] = v * 255
	}
	lookup(x, c, &color, &alpha)
}

// lookup truncates values in [0, 255] to 8 bits, as numpy's astype("uint8")
// does, and maps them through color, or through alpha for the fourth
// channel of a four-channel (RGBA) image.
func lookup(x []float32, c int, color, alpha *[256]float32) {
	if c != 4 {
		for i, v := range x {
			x[i] = color[uint8(v)]
		}
		return
	}
	for i := 0; i+3 < len(x); i += 4 {
		p := x[i : i+4 : i+4]
		p[0], p[1], p[2], p[3] = color[uint8(p[0])], color[uint8(p[1])], color[uint8(p[2])], alpha[uint8(p[3])]
	}
}
