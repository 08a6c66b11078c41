package imaging

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
)

// RGBA wraps packed RGB rows (HWC, as ResizeRGB returns them) as an opaque
// image, the form the encoders and the recognizers take.
func RGBA(rgb []uint8, w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range w * h {
		copy(m.Pix[4*i:4*i+3], rgb[3*i:3*i+3])
		m.Pix[4*i+3] = 0xFF
	}
	return m
}

// ResizeRGBA is ResizeRGB wrapped as an image.
func ResizeRGBA(img image.Image, w, h int) *image.RGBA { return RGBA(ResizeRGB(img, w, h), w, h) }

// Fit scales w x h down, never up, keeping its aspect, so that its longest
// side is at most side.
func Fit(w, h, side int) (int, int) {
	switch {
	case w <= side && h <= side:
		return w, h
	case w >= h:
		return side, max(1, h*side/w)
	}
	return max(1, w*side/h), side
}

// Thumbnail scales img down to fit side and encodes it as a JPEG (quality
// 85). Pages show only thumbnails scour drew itself, so no file, whatever
// its bytes, reaches a browser as anything but a JPEG.
func Thumbnail(img image.Image, side int) ([]byte, error) {
	b := img.Bounds()
	if b.Empty() {
		return nil, fmt.Errorf("empty image %v", b)
	}
	w, h := Fit(b.Dx(), b.Dy(), side)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, ResizeRGBA(img, w, h), &jpeg.Options{Quality: 85}); err != nil {
		return nil, fmt.Errorf("encoding a thumbnail: %w", err)
	}
	return buf.Bytes(), nil
}
