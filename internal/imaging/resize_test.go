package imaging

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"testing"
)

// TestResizeMatchesPIL compares against Pillow's Image.resize(BILINEAR),
// recorded by testdata/generate.py.
func TestResizeMatchesPIL(t *testing.T) {
	sizes := []image.Point{{31, 19}, {13, 9}, {40, 40}, {256, 161}, {97, 30}, {50, 61}, {200, 7}}
	for _, srcName := range []string{"src_rgb", "src_rgba"} {
		src, err := png.Decode(bytes.NewReader(testdata(t, "resize/"+srcName+".png")))
		if err != nil {
			t.Fatal(err)
		}
		for _, sz := range sizes {
			name := fmt.Sprintf("%s_%dx%d", srcName, sz.X, sz.Y)
			t.Run(name, func(t *testing.T) {
				ref, err := png.Decode(bytes.NewReader(testdata(t, "resize/"+name+".png")))
				if err != nil {
					t.Fatal(err)
				}
				want := ResizeRGB(ref, sz.X, sz.Y) // same size: a plain RGB copy of the reference
				got := ResizeRGB(src, sz.X, sz.Y)
				worst, off := 0, 0
				for i := range want {
					d := int(got[i]) - int(want[i])
					d = max(d, -d)
					worst = max(worst, d)
					if d > 0 {
						off++
					}
				}
				// The fixed-point arithmetic is PIL's own, so the match is exact.
				if worst > 0 {
					t.Errorf("max difference from PIL %d (%d of %d values differ), want 0", worst, off, len(want))
				}
			})
		}
	}
}

func TestResizeCropIsCropOfResize(t *testing.T) {
	src := gradient(333, 251)
	for _, tc := range []struct {
		w, h int
		crop image.Rectangle
	}{
		{256, 193, CenterCrop(256, 193, 224, 224)}, // wider than tall crop clipped
		{340, 256, CenterCrop(340, 256, 224, 224)},
		{100, 80, image.Rect(3, 5, 60, 79)},
		{333, 120, image.Rect(10, 10, 20, 20)}, // width unchanged: no horizontal pass
		{50, 251, image.Rect(0, 100, 50, 101)}, // height unchanged: no vertical pass
	} {
		t.Run(fmt.Sprintf("%dx%d%v", tc.w, tc.h, tc.crop), func(t *testing.T) {
			full := ResizeRGB(src, tc.w, tc.h)
			got := ResizeCropRGB(src, tc.w, tc.h, tc.crop)
			cw := tc.crop.Dx()
			for y := tc.crop.Min.Y; y < tc.crop.Max.Y; y++ {
				want := full[(y*tc.w+tc.crop.Min.X)*3 : (y*tc.w+tc.crop.Max.X)*3]
				row := got[(y-tc.crop.Min.Y)*cw*3 : (y-tc.crop.Min.Y+1)*cw*3]
				if !bytes.Equal(row, want) {
					t.Fatalf("row %d differs from the full resize", y)
				}
			}
		})
	}
}

func TestScaleShorterAndCenterCrop(t *testing.T) {
	for _, tc := range []struct {
		in       image.Point
		w, h     int
		crop     image.Rectangle
		cropW, H int
	}{
		{image.Pt(800, 600), 341, 256, image.Rect(58, 16, 282, 240), 224, 224},
		{image.Pt(375, 500), 256, 341, image.Rect(16, 58, 240, 282), 224, 224},
		{image.Pt(224, 224), 256, 256, image.Rect(16, 16, 240, 240), 224, 224},
		{image.Pt(1000, 3), 85333, 256, image.Rect(42554, 16, 42778, 240), 224, 224},
	} {
		w, h := ScaleShorter(tc.in, 256)
		if w != tc.w || h != tc.h {
			t.Errorf("ScaleShorter(%v) = %dx%d, want %dx%d", tc.in, w, h, tc.w, tc.h)
		}
		if got := CenterCrop(w, h, tc.cropW, tc.H); got != tc.crop {
			t.Errorf("CenterCrop(%d, %d) = %v, want %v", w, h, got, tc.crop)
		}
	}
	if got := CenterCrop(100, 300, 224, 224); got != image.Rect(0, 38, 100, 262) {
		t.Errorf("crop larger than the image: %v", got)
	}
}
