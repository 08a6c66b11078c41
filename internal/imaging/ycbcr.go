package imaging

import "image"

// JPEG decoders differ after the IDCT: image/jpeg leaves chroma subsampled
// and image.YCbCr's At repeats each chroma sample, while libjpeg (and so
// PIL, browsers, and the references our models were checked against)
// interpolates it ("fancy upsampling") and converts colour with its own
// rounding. Repeating instead of interpolating moves colour edges by up to
// ~30 levels, enough to change an int8 model's top-5, so ycbcrRow does what
// libjpeg-turbo's jdsample.c and jdcolor.c do.

// libjpeg's ycc_rgb_convert tables (jdcolor.c, SCALEBITS 16).
var crR, cbB, crG, cbG = func() (crR, cbB, crG, cbG [256]int32) {
	const half = 1 << 15
	fix := func(x float64) int32 { return int32(x*(1<<16) + 0.5) }
	for i := range 256 {
		x := int32(i - 128)
		crR[i] = (fix(1.40200)*x + half) >> 16
		cbB[i] = (fix(1.77200)*x + half) >> 16
		crG[i] = -fix(0.71414) * x
		cbG[i] = -fix(0.34414)*x + half
	}
	return
}()

func clampByte(v int32) uint8 { return uint8(min(max(v, 0), 255)) }

// ycbcrRow writes the RGB of pixels x0..x1 of row y of m into out.
func ycbcrRow(m *image.YCbCr, y, x0, x1 int, out []uint8) {
	var cb, cr []uint8 // chroma upsampled to full width for x0..x1
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		o := m.COffset(x0, y)
		cb, cr = m.Cb[o:o+x1-x0], m.Cr[o:o+x1-x0]
	case image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio440:
		cb, cr = make([]uint8, x1-x0), make([]uint8, x1-x0)
		fancyRow(m, m.Cb, y, x0, x1, cb)
		fancyRow(m, m.Cr, y, x0, x1, cr)
	default: // 4:1:1 and 4:1:0 are rare enough to repeat samples
		cb, cr = make([]uint8, x1-x0), make([]uint8, x1-x0)
		for i := range x1 - x0 {
			o := m.COffset(x0+i, y)
			cb[i], cr[i] = m.Cb[o], m.Cr[o]
		}
	}
	yrow := m.Y[m.YOffset(x0, y):]
	for i := range x1 - x0 {
		l, b, r := int32(yrow[i]), cb[i], cr[i]
		out[i*3] = clampByte(l + crR[r])
		out[i*3+1] = clampByte(l + (cbG[b]+crG[r])>>16)
		out[i*3+2] = clampByte(l + cbB[b])
	}
}

// fancyRow upsamples one chroma plane c of m to full resolution for pixels
// x0..x1 of row y: libjpeg-turbo's h2v2, h2v1 and h1v2 fancy upsampling (a
// triangle filter, 3/4 on the nearer sample), samples beyond the plane's
// edges replicating the edge.
func fancyRow(m *image.YCbCr, c []uint8, y, x0, x1 int, out []uint8) {
	h2 := m.SubsampleRatio != image.YCbCrSubsampleRatio440
	v2 := m.SubsampleRatio != image.YCbCrSubsampleRatio422
	r := m.Rect
	cw, chh := r.Dx(), r.Dy()
	if h2 {
		cw = (r.Max.X+1)/2 - r.Min.X/2
	}
	if v2 {
		chh = (r.Max.Y+1)/2 - r.Min.Y/2
	}
	// Plane row of y and of its vertical neighbour: the row above for the
	// upper of the two rows sharing a sample, the row below for the lower.
	cy, ny := y-r.Min.Y, y-r.Min.Y
	if v2 {
		cy = y/2 - r.Min.Y/2
		ny = cy + 1
		if y%2 == 0 {
			ny = cy - 1
		}
		ny = min(max(ny, 0), chh-1)
	}
	row, nrow := c[cy*m.CStride:cy*m.CStride+cw], c[ny*m.CStride:ny*m.CStride+cw]
	col := func(x int) int { // plane column of pixel x
		if h2 {
			return x/2 - r.Min.X/2
		}
		return x - r.Min.X
	}
	// s[j] is plane column i0-1+j, edges replicated: one neighbour each side
	// of the columns x0..x1 use.
	i0, i1 := col(x0), col(x1-1)
	s := make([]int32, i1-i0+3)
	for j := range s {
		i := min(max(i0-1+j, 0), cw-1)
		if v2 {
			s[j] = 3*int32(row[i]) + int32(nrow[i]) // column sums: 3/4 near row, 1/4 far row
		} else {
			s[j] = int32(row[i])
		}
	}

	switch {
	case h2 && v2 && cw > 2: // h2v2: then 3:1 across, /16
		for k, x := 0, x0; x < x1; k, x = k+1, x+1 {
			j := col(x) - i0 + 1
			if x%2 == 0 {
				out[k] = uint8((3*s[j] + s[j-1] + 8) >> 4)
			} else {
				out[k] = uint8((3*s[j] + s[j+1] + 7) >> 4)
			}
		}
	case h2 && !v2 && cw > 2: // h2v1
		for k, x := 0, x0; x < x1; k, x = k+1, x+1 {
			j := col(x) - i0 + 1
			if x%2 == 0 {
				out[k] = uint8((3*s[j] + s[j-1] + 1) >> 2)
			} else {
				out[k] = uint8((3*s[j] + s[j+1] + 2) >> 2)
			}
		}
	case !h2: // h1v2
		bias := int32(2)
		if y%2 == 0 {
			bias = 1
		}
		for k := range x1 - x0 {
			out[k] = uint8((s[k+1] + bias) >> 2)
		}
	default: // libjpeg does not interpolate planes two samples wide or less
		for k, x := 0, x0; x < x1; k, x = k+1, x+1 {
			out[k] = row[col(x)]
		}
	}
}
