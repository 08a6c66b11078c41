package imaging

import (
	"image"
	"image/color"
	"math"
	"math/bits"
	"slices"
)

const (
	hashGrid = 32 // the luma image the DCT runs on is hashGrid x hashGrid
	hashLow  = 8  // the hash keeps the hashLow x hashLow lowest frequencies
	// binSamples caps the samples per grid cell along each axis, so hashing
	// a 24-megapixel photo reads ~65k pixels, not all of them.
	binSamples = 8
)

// dctCos[u][x] = cos((2x+1)uπ / 2N) for the low frequencies only.
var dctCos = func() (c [hashLow][hashGrid]float64) {
	for u := range hashLow {
		for x := range hashGrid {
			c[u][x] = math.Cos(float64(2*x+1) * float64(u) * math.Pi / (2 * hashGrid))
		}
	}
	return c
}()

// PHash returns the 64-bit DCT perceptual hash of img: the image is reduced
// to 32x32 luma by averaging a bounded sample of pixels per cell, transformed
// with a 2-D DCT, and each of the 8x8 lowest frequencies becomes one bit, set
// when it exceeds their median (the scheme of Python's imagehash.phash).
// Re-encoded and resized copies of a photo land within a few bits of each
// other; compare hashes with Hamming.
func PHash(img image.Image) uint64 {
	var grid [hashGrid][hashGrid]float64
	lumaGrid(img, &grid)

	// Rows first, keeping only the low frequencies, then columns.
	var rows [hashGrid][hashLow]float64
	for y := range hashGrid {
		for u := range hashLow {
			var s float64
			for x := range hashGrid {
				s += grid[y][x] * dctCos[u][x]
			}
			rows[y][u] = s
		}
	}
	var coef [hashLow * hashLow]float64
	for v := range hashLow {
		for u := range hashLow {
			var s float64
			for y := range hashGrid {
				s += rows[y][u] * dctCos[v][y]
			}
			coef[v*hashLow+u] = s
		}
	}
	sorted := coef
	slices.Sort(sorted[:])
	median := (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	var h uint64
	for i, c := range coef {
		if c > median {
			h |= 1 << i
		}
	}
	return h
}

// Hamming returns the number of bits in which a and b differ.
func Hamming(a, b uint64) int { return bits.OnesCount64(a ^ b) }

// axisSamples lists, for each of the hashGrid cells along an axis of length
// n starting at min, the source coordinates sampled for it. A cell narrower
// than a pixel (images under 32 pixels) samples the pixel under its centre.
func axisSamples(min, n int) (coords []int, cell []uint8) {
	for i := range hashGrid {
		lo, hi := i*n/hashGrid, (i+1)*n/hashGrid
		if hi <= lo {
			coords = append(coords, min+(2*i+1)*n/(2*hashGrid))
			cell = append(cell, uint8(i))
			continue
		}
		step := max(1, (hi-lo+binSamples-1)/binSamples)
		for c := lo; c < hi; c += step {
			coords = append(coords, min+c)
			cell = append(cell, uint8(i))
		}
	}
	return coords, cell
}

// lumaGrid fills grid with the mean luma (ITU-R BT.601, as JPEG's Y) of the
// sampled pixels of each cell. Common pixel layouts are read directly;
// anything else goes through At.
func lumaGrid(img image.Image, grid *[hashGrid][hashGrid]float64) {
	b := img.Bounds()
	xs, xcell := axisSamples(b.Min.X, b.Dx())
	ys, ycell := axisSamples(b.Min.Y, b.Dy())
	var sum [hashGrid][hashGrid]uint32
	var cnt [hashGrid][hashGrid]uint32

	row := make([]uint8, len(xs))
	for j, y := range ys {
		lumaRow(img, y, xs, row)
		cy := ycell[j]
		for i, v := range row {
			cx := xcell[i]
			sum[cy][cx] += uint32(v)
			cnt[cy][cx]++
		}
	}
	for y := range hashGrid {
		for x := range hashGrid {
			grid[y][x] = float64(sum[y][x]) / float64(cnt[y][x])
		}
	}
}

func luma(r, g, b uint32) uint8 { return uint8((19595*r + 38470*g + 7471*b + 1<<15) >> 16) }

// lumaRow writes the luma of pixels (xs[i], y) into out.
func lumaRow(img image.Image, y int, xs []int, out []uint8) {
	switch m := img.(type) {
	case *image.YCbCr:
		base := m.YOffset(0, y) // YOffset is linear in x
		for i, x := range xs {
			out[i] = m.Y[base+x]
		}
	case *image.Gray:
		base := m.PixOffset(0, y)
		for i, x := range xs {
			out[i] = m.Pix[base+x]
		}
	case *image.RGBA:
		base := m.PixOffset(0, y)
		for i, x := range xs {
			p := m.Pix[base+4*x : base+4*x+3]
			out[i] = luma(uint32(p[0]), uint32(p[1]), uint32(p[2]))
		}
	case *image.NRGBA:
		base := m.PixOffset(0, y)
		for i, x := range xs {
			p := m.Pix[base+4*x : base+4*x+4]
			a := uint32(p[3])
			// Premultiply, as if over black, to agree with At for the other layouts.
			out[i] = uint8(uint32(luma(uint32(p[0]), uint32(p[1]), uint32(p[2]))) * a / 255)
		}
	case *image.Paletted:
		var pal [256]uint8
		for k, c := range m.Palette {
			r, g, b, _ := c.RGBA()
			pal[k] = luma(r>>8, g>>8, b>>8)
		}
		base := m.PixOffset(0, y)
		for i, x := range xs {
			out[i] = pal[m.Pix[base+x]]
		}
	case *image.CMYK:
		base := m.PixOffset(0, y)
		for i, x := range xs {
			p := m.Pix[base+4*x : base+4*x+4]
			r, g, b := color.CMYKToRGB(p[0], p[1], p[2], p[3])
			out[i] = luma(uint32(r), uint32(g), uint32(b))
		}
	default:
		for i, x := range xs {
			r, g, b, _ := img.At(x, y).RGBA()
			out[i] = luma(r>>8, g>>8, b>>8)
		}
	}
}
