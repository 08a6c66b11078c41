package imaging

import (
	"bytes"
	"image"
	"image/png"
	"testing"
)

// TestJPEGMatchesPIL checks decoding plus RGB conversion against the pixels
// Pillow (libjpeg-turbo) decodes from the same files, recorded by
// testdata/generate.py. The int8 MobileNetV2 needs them to agree exactly.
func TestJPEGMatchesPIL(t *testing.T) {
	for _, name := range []string{"420", "422", "444", "420_progressive", "420_q30", "gray"} {
		t.Run(name, func(t *testing.T) {
			img, format, err := Decode(testdata(t, "jpeg/"+name+".jpg"), Limits{})
			if err != nil || format != "jpeg" {
				t.Fatalf("Decode: %v, %q", err, format)
			}
			ref, err := png.Decode(bytes.NewReader(testdata(t, "jpeg/"+name+".png")))
			if err != nil {
				t.Fatal(err)
			}
			assertSamePixels(t, img, ref)
		})
	}
}

// Real photos are checked end to end by the vision package's golden test.

func TestSubImageYCbCr(t *testing.T) {
	img, _, err := Decode(testdata(t, "jpeg/420.jpg"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	full := ResizeRGB(img, 101, 67)
	// An even-aligned sub-image shares the chroma grid, so away from its
	// borders it must convert exactly like the full image.
	sub := img.(*image.YCbCr).SubImage(image.Rect(20, 10, 80, 50))
	got := ResizeRGB(sub, 60, 40)
	for y := 1; y < 39; y++ {
		for x := 1; x < 59; x++ {
			for c := range 3 {
				if g, w := got[(y*60+x)*3+c], full[((y+10)*101+x+20)*3+c]; g != w {
					t.Fatalf("pixel (%d,%d) channel %d: %d in the sub-image, %d in the full image", x, y, c, g, w)
				}
			}
		}
	}
}

func assertSamePixels(t *testing.T, img, ref image.Image) {
	t.Helper()
	b := ref.Bounds()
	if img.Bounds().Size() != b.Size() {
		t.Fatalf("size %v, want %v", img.Bounds().Size(), b.Size())
	}
	got := ResizeRGB(img, b.Dx(), b.Dy()) // same size: plain conversion to RGB
	want := ResizeRGB(ref, b.Dx(), b.Dy())
	off, worst := 0, 0
	for i := range want {
		d := int(got[i]) - int(want[i])
		if d != 0 {
			off++
			worst = max(worst, d, -d)
		}
	}
	if off > 0 {
		t.Errorf("%d of %d values differ from PIL's decoding (worst by %d)", off, len(want), worst)
	}
}
