package imaging

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// precisionBits is PIL's fixed-point precision for 8-bit resampling
// (32 bits minus 8 for the pixel minus 2 for headroom).
const precisionBits = 32 - 8 - 2

// taps holds, for each output position along one axis, the first input
// position it reads and its fixed-point weights.
type taps struct {
	first []int
	n     []int
	k     []int32 // ksize weights per output position
	ksize int
}

// bilinearTaps reproduces PIL's precompute_coeffs with the bilinear
// (triangle) filter followed by normalize_coeffs_8bpc. When shrinking, the
// triangle is stretched by the scale factor, so every input pixel under an
// output pixel contributes: that is PIL's antialiasing, and models trained on
// PIL-preprocessed images notice its absence.
func bilinearTaps(inSize, outSize int) taps {
	scale := float64(float32(inSize)) / float64(outSize) // PIL takes the box as C floats
	filterscale := max(scale, 1)
	support := 1.0 * filterscale // the bilinear filter's support is 1
	ksize := int(math.Ceil(support))*2 + 1
	t := taps{first: make([]int, outSize), n: make([]int, outSize), k: make([]int32, outSize*ksize), ksize: ksize}
	w := make([]float64, ksize)
	for xx := range outSize {
		center := (float64(xx) + 0.5) * scale
		xmin := max(int(center-support+0.5), 0) // int() truncates toward zero, like C's cast
		xmax := min(int(center+support+0.5), inSize) - xmin
		var ww float64
		for x := range xmax {
			v := math.Abs((float64(x+xmin) - center + 0.5) / filterscale)
			if v < 1 {
				v = 1 - v
			} else {
				v = 0
			}
			w[x] = v
			ww += v
		}
		k := t.k[xx*ksize : xx*ksize+ksize]
		for x := range xmax {
			if ww != 0 {
				w[x] /= ww
			}
			k[x] = int32(0.5 + w[x]*(1<<precisionBits)) // weights are never negative for this filter
		}
		t.first[xx], t.n[xx] = xmin, xmax
	}
	return t
}

func clip8(v int32) uint8 {
	return uint8(min(max(v>>precisionBits, 0), 255)) // min and max compile to conditional moves
}

// ResizeRGB resizes img to w x h with PIL's Image.resize(..., BILINEAR)
// (antialiased, 8-bit fixed point, horizontal pass first) and returns the
// pixels as packed RGB rows (HWC order, 3*w*h bytes). Alpha is dropped, as
// PIL's convert("RGB") drops it, and YCbCr is converted as libjpeg converts
// it (see ycbcr.go), so a JPEG from Decode comes out exactly as PIL would
// produce it. It panics if w or h is not positive.
func ResizeRGB(img image.Image, w, h int) []uint8 {
	return ResizeCropRGB(img, w, h, image.Rect(0, 0, w, h))
}

// ResizeCropRGB returns the crop rectangle of ResizeRGB(img, w, h), computing
// only the pixels inside it; the result is identical to resizing and then
// cropping. It panics if crop does not lie within the w x h result.
func ResizeCropRGB(img image.Image, w, h int, crop image.Rectangle) []uint8 {
	src := img.Bounds()
	if w <= 0 || h <= 0 || src.Empty() {
		panic(fmt.Sprintf("imaging: resize %v to %dx%d", src.Size(), w, h))
	}
	if crop.Empty() || !crop.In(image.Rect(0, 0, w, h)) {
		panic(fmt.Sprintf("imaging: crop %v outside %dx%d", crop, w, h))
	}
	inW, inH := src.Dx(), src.Dy()
	cw, ch := crop.Dx(), crop.Dy()

	// Source rows the vertical pass will read.
	var vt taps
	y0, y1 := crop.Min.Y, crop.Max.Y
	if h != inH {
		vt = bilinearTaps(inH, h)
		y0 = vt.first[crop.Min.Y]
		y1 = vt.first[crop.Max.Y-1] + vt.n[crop.Max.Y-1]
	}

	// Horizontal pass: rows y0..y1 of the source, output columns of the crop.
	rowsH := y1 - y0
	tmp := make([]uint8, rowsH*cw*3)
	if w != inW {
		ht := bilinearTaps(inW, w)
		x0 := ht.first[crop.Min.X]
		x1 := ht.first[crop.Max.X-1] + ht.n[crop.Max.X-1]
		row := make([]uint8, (x1-x0)*3)
		for r := range rowsH {
			rgbRow(img, src.Min.Y+y0+r, src.Min.X+x0, src.Min.X+x1, row)
			out := tmp[r*cw*3 : (r+1)*cw*3]
			for c := range cw {
				xx := crop.Min.X + c
				k := ht.k[xx*ht.ksize : xx*ht.ksize+ht.n[xx]]
				in := row[(ht.first[xx]-x0)*3:]
				s0, s1, s2 := int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1))
				for i, kv := range k {
					p := in[i*3 : i*3+3]
					s0 += int32(p[0]) * kv
					s1 += int32(p[1]) * kv
					s2 += int32(p[2]) * kv
				}
				out[c*3], out[c*3+1], out[c*3+2] = clip8(s0), clip8(s1), clip8(s2)
			}
		}
	} else {
		for r := range rowsH {
			rgbRow(img, src.Min.Y+y0+r, src.Min.X+crop.Min.X, src.Min.X+crop.Max.X, tmp[r*cw*3:(r+1)*cw*3])
		}
	}
	if h == inH {
		return tmp
	}

	// Vertical pass over the intermediate 8-bit rows, as PIL does; whole
	// rows at a time, which the compiler keeps free of bounds checks.
	stride := cw * 3
	dst := make([]uint8, ch*stride)
	acc := make([]int32, stride)
	for r := range ch {
		yy := crop.Min.Y + r
		base := (vt.first[yy] - y0) * stride
		for i, kv := range vt.k[yy*vt.ksize : yy*vt.ksize+vt.n[yy]] {
			in := tmp[base+i*stride : base+(i+1)*stride]
			acc := acc[:len(in)]
			if i == 0 {
				for c, v := range in {
					acc[c] = 1<<(precisionBits-1) + int32(v)*kv
				}
				continue
			}
			for c, v := range in {
				acc[c] += int32(v) * kv
			}
		}
		out := dst[r*stride : (r+1)*stride]
		for c, s := range acc {
			out[c] = clip8(s)
		}
	}
	return dst
}

// ScaleShorter returns the size of an image of size sz after scaling it so
// that its shorter side is s, keeping the aspect ratio. The longer side is
// truncated, as torchvision's Resize(int) and the reference preprocessing do.
func ScaleShorter(sz image.Point, s int) (w, h int) {
	if sz.X <= sz.Y {
		return s, max(1, int(int64(s)*int64(sz.Y)/int64(sz.X)))
	}
	return max(1, int(int64(s)*int64(sz.X)/int64(sz.Y))), s
}

// CenterCrop returns the cw x ch rectangle centred in a w x h image (the
// extra pixel of an odd margin goes to the right and bottom), clipped to the
// image when it is smaller than the crop.
func CenterCrop(w, h, cw, ch int) image.Rectangle {
	x0, y0 := max(0, (w-cw)/2), max(0, (h-ch)/2)
	return image.Rect(x0, y0, min(w, x0+cw), min(h, y0+ch))
}

// rgbRow writes the RGB bytes of pixels x0..x1 of row y into out.
func rgbRow(img image.Image, y, x0, x1 int, out []uint8) {
	out = out[:(x1-x0)*3]
	switch m := img.(type) {
	case *image.YCbCr:
		ycbcrRow(m, y, x0, x1, out)
	case *image.NYCbCrA:
		ycbcrRow(&m.YCbCr, y, x0, x1, out)
	case *image.RGBA:
		p := m.Pix[m.PixOffset(x0, y):]
		for i := range x1 - x0 {
			out[i*3], out[i*3+1], out[i*3+2] = p[i*4], p[i*4+1], p[i*4+2]
		}
	case *image.NRGBA:
		// Unpremultiplied colour as stored, which is what PIL keeps when it
		// drops the alpha channel.
		p := m.Pix[m.PixOffset(x0, y):]
		for i := range x1 - x0 {
			out[i*3], out[i*3+1], out[i*3+2] = p[i*4], p[i*4+1], p[i*4+2]
		}
	case *image.Gray:
		p := m.Pix[m.PixOffset(x0, y):]
		for i := range x1 - x0 {
			out[i*3], out[i*3+1], out[i*3+2] = p[i], p[i], p[i]
		}
	case *image.Paletted:
		var pal [256][3]uint8
		for k, c := range m.Palette {
			pal[k] = rgbOf(c)
		}
		p := m.Pix[m.PixOffset(x0, y):]
		for i := range x1 - x0 {
			c := pal[p[i]]
			out[i*3], out[i*3+1], out[i*3+2] = c[0], c[1], c[2]
		}
	case *image.CMYK:
		p := m.Pix[m.PixOffset(x0, y):]
		for i := range x1 - x0 {
			out[i*3], out[i*3+1], out[i*3+2] = color.CMYKToRGB(p[i*4], p[i*4+1], p[i*4+2], p[i*4+3])
		}
	default:
		for i := range x1 - x0 {
			c := rgbOf(img.At(x0+i, y))
			out[i*3], out[i*3+1], out[i*3+2] = c[0], c[1], c[2]
		}
	}
}

// rgbOf drops alpha the way PIL does: non-premultiplied colours keep their
// stored values.
func rgbOf(c color.Color) [3]uint8 {
	switch c := c.(type) {
	case color.NRGBA:
		return [3]uint8{c.R, c.G, c.B}
	case color.NRGBA64:
		return [3]uint8{uint8(c.R >> 8), uint8(c.G >> 8), uint8(c.B >> 8)}
	}
	r, g, b, _ := c.RGBA()
	return [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}
}
