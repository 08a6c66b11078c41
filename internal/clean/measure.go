package clean

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"math"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/imaging"
)

// measureVersion changes whenever the way Measure is computed does, so
// cached measurements from an older scour are taken again.
const measureVersion = 2

// statSide bounds the longer side of the grey copy the pixel statistics are
// taken on: sharpness and the histogram then mean the same thing for a
// thumbnail and a 24-megapixel photo, and cost the same.
const statSide = 256

// Measure is what the bytes of one image show once decoded. It depends on
// the bytes alone, so it is cached by content hash.
type Measure struct {
	// Broken is the decoder's cause (imaging.Cause*: "truncated",
	// "corrupt", "too-many-pixels", ...) when the bytes do not decode;
	// the other fields are then zero.
	Broken    string
	BrokenMsg string

	// An animation is measured on its first frame, as every stage sees it.
	Width, Height int
	// PixelHash is a sha256 of the decoded pixels: equal for files whose
	// bytes differ but whose pixels do not (metadata added or stripped, a
	// lossless re-save). JPEGs hash their decoded YCbCr planes, other
	// formats their RGB, so a PNG of a JPEG's pixels matches it only as a
	// near duplicate.
	PixelHash string
	PHash     uint64 // imaging.PHash of the decoded image

	Sharpness     float64 // variance of the 4-neighbour Laplacian of the grey copy
	Brightness    float64 // mean grey level, 0..255
	Contrast      float64 // standard deviation of the grey level
	Entropy       float64 // Shannon entropy of the 256-bin grey histogram, in bits
	Colourfulness float64 // mean over pixels of max(R,G,B) - min(R,G,B)
}

// measure decodes data under maxPixels and measures it. A decoding failure
// is not an error: it is the finding "broken". With wantModelInput it also
// returns the image prepared for a pixel labeler (see modelInput); nil when
// broken.
//
// Reading every pixel of a large photo is most of the cost, so it happens
// once: an image whose shorter side exceeds labelSide is shrunk to the
// model's input, and the statistics are taken on that (shrunk again to
// statSide). The measures so do not depend on whether a labeler ran.
func measure(data []byte, maxPixels int64, wantModelInput bool) (Measure, image.Image) {
	img, _, err := imaging.Decode(data, imaging.Limits{MaxPixels: maxPixels})
	if err != nil {
		return Measure{Broken: errkind.Cause(err), BrokenMsg: err.Error()}, nil
	}
	b := img.Bounds()
	m := Measure{Width: b.Dx(), Height: b.Dy(), PHash: imaging.PHash(img), PixelHash: pixelHash(img)}
	var input image.Image
	statsFrom := img
	if min(b.Dx(), b.Dy()) > labelSide {
		input = modelInput(img)
		statsFrom = input
	} else if wantModelInput {
		input = modelInput(img)
	}
	sb := statsFrom.Bounds()
	w, h := fitWithin(sb.Dx(), sb.Dy(), statSide)
	pixelStats(imaging.ResizeRGB(statsFrom, w, h), w, h, &m)
	if !wantModelInput {
		input = nil
	}
	return m, input
}

// fitWithin scales w x h down so that its longer side is at most side.
func fitWithin(w, h, side int) (int, int) {
	if w <= side && h <= side {
		return w, h
	}
	if w >= h {
		return side, max(1, int(int64(h)*int64(side)/int64(w)))
	}
	return max(1, int(int64(w)*int64(side)/int64(h))), side
}

// pixelHash hashes the decoded pixels of the visible area: a JPEG's YCbCr
// planes as decoded (converting them to RGB would cost more than all the
// rest of measure), anything else as RGB in strips, so a large image never
// needs a full RGB copy.
func pixelHash(img image.Image) string {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	sum := sha256.New()
	if m, ok := img.(*image.YCbCr); ok {
		fmt.Fprintf(sum, "ycbcr %v %dx%d\n", m.SubsampleRatio, w, h)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			o := m.YOffset(b.Min.X, y)
			sum.Write(m.Y[o : o+w])
		}
		last := -1
		for y := b.Min.Y; y < b.Max.Y; y++ {
			lo, hi := m.COffset(b.Min.X, y), m.COffset(b.Max.X-1, y)+1
			if lo == last {
				continue // the row above shares this chroma row
			}
			last = lo
			sum.Write(m.Cb[lo:hi])
			sum.Write(m.Cr[lo:hi])
		}
		return hex.EncodeToString(sum.Sum(nil))
	}
	fmt.Fprintf(sum, "rgb %dx%d\n", w, h)
	const strip = 64
	for y := 0; y < h; y += strip {
		sum.Write(imaging.ResizeCropRGB(img, w, h, image.Rect(0, y, w, min(y+strip, h))))
	}
	return hex.EncodeToString(sum.Sum(nil))
}

// pixelStats fills m's statistics from packed RGB rows of a w x h image.
func pixelStats(rgb []uint8, w, h int, m *Measure) {
	gray := make([]float64, w*h)
	var hist [256]int
	var sum, chroma float64
	for i := range gray {
		r, g, b := rgb[3*i], rgb[3*i+1], rgb[3*i+2]
		// ITU-R BT.601 luma, as JPEG and the perceptual hash use.
		v := (19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 1<<15) >> 16
		gray[i] = float64(v)
		hist[v]++
		sum += float64(v)
		chroma += float64(max(r, g, b) - min(r, g, b))
	}
	n := float64(len(gray))
	m.Brightness = sum / n
	m.Colourfulness = chroma / n
	var ss float64
	for _, v := range gray {
		ss += (v - m.Brightness) * (v - m.Brightness)
	}
	m.Contrast = math.Sqrt(ss / n)
	for _, c := range hist {
		if c > 0 {
			p := float64(c) / n
			m.Entropy -= p * math.Log2(p)
		}
	}
	m.Sharpness = laplacianVariance(gray, w, h)
}

// laplacianVariance is the variance of the 4-neighbour Laplacian over the
// interior pixels: high for crisp edges, low for blur. Images without an
// interior (under 3 pixels on a side) score 0.
func laplacianVariance(gray []float64, w, h int) float64 {
	if w < 3 || h < 3 {
		return 0
	}
	var sum, ss float64
	for y := 1; y < h-1; y++ {
		row := gray[y*w : (y+1)*w]
		up, down := gray[(y-1)*w:y*w], gray[(y+1)*w:(y+2)*w]
		for x := 1; x < w-1; x++ {
			l := 4*row[x] - row[x-1] - row[x+1] - up[x] - down[x]
			sum += l
			ss += l * l
		}
	}
	n := float64((w - 2) * (h - 2))
	mean := sum / n
	return ss/n - mean*mean
}
