package imaging

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

func TestFit(t *testing.T) {
	for _, c := range []struct{ w, h, side, ww, wh int }{
		{100, 50, 192, 100, 50},   // never up
		{400, 200, 192, 192, 96},  // landscape
		{200, 400, 192, 96, 192},  // portrait
		{5000, 1, 192, 192, 1},    // never zero
		{192, 192, 192, 192, 192}, // exactly
	} {
		if w, h := Fit(c.w, c.h, c.side); w != c.ww || h != c.wh {
			t.Errorf("Fit(%d, %d, %d) = %d x %d, want %d x %d", c.w, c.h, c.side, w, h, c.ww, c.wh)
		}
	}
}

func TestThumbnail(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 400, 100))
	for y := range 100 {
		for x := range 400 {
			src.Set(x, y, color.NRGBA{R: 200, G: uint8(x / 2), B: 30, A: 128}) // alpha is dropped
		}
	}
	b, err := Thumbnail(src, 192)
	if err != nil {
		t.Fatal(err)
	}
	got, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a JPEG: %v", err)
	}
	if sz := got.Bounds().Size(); sz != (image.Point{192, 48}) {
		t.Fatalf("thumbnail is %v, want 192x48", sz)
	}
	r, _, bl, a := got.At(10, 10).RGBA()
	if r>>8 < 190 || bl>>8 > 45 || a != 0xFFFF {
		t.Errorf("pixel = %d,%d,%d; want about 200,_,30 and opaque", r>>8, bl>>8, a>>8)
	}
	if _, err := Thumbnail(image.NewRGBA(image.Rect(0, 0, 0, 0)), 192); err == nil {
		t.Error("an empty image made a thumbnail")
	}
}
