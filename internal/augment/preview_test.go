package augment

import (
	"bytes"
	"image"
	"image/color"
	_ "image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/scour-dev/scour/internal/sharedtest"
)

func testImage(w, h int) image.Image {
	im := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			im.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x * y) % 256), 255})
		}
	}
	return im
}

func TestPreviewGridLayout(t *testing.T) {
	imgs := []image.Image{testImage(20, 10), testImage(8, 16)}
	const n = 3
	g := PreviewGrid(imgs, Params{RotationRange: 30, HorizontalFlip: true}, 1, n)
	// Cells are 20 wide and 16 high, with 2-pixel gaps around them.
	wantW, wantH := (n+1)*20+(n+2)*previewGap, 2*16+3*previewGap
	if b := g.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
		t.Fatalf("grid is %v, want %dx%d", b, wantW, wantH)
	}
	// The first column holds the originals.
	for i, im := range imgs {
		oy := previewGap + i*(16+previewGap)
		b := im.Bounds()
		for y := range b.Dy() {
			for x := range b.Dx() {
				if !sameRGB(g.At(previewGap+x, oy+y), im.At(x, y)) {
					t.Fatalf("image %d: original pixel (%d,%d) = %v, want %v", i, x, y, g.At(previewGap+x, oy+y), im.At(x, y))
				}
			}
		}
	}
}

func sameRGB(a, b color.Color) bool {
	r1, g1, b1, _ := a.RGBA()
	r2, g2, b2, _ := b.RGBA()
	return r1>>8 == r2>>8 && g1>>8 == g2>>8 && b1>>8 == b2>>8
}

func TestPreviewGridSeeds(t *testing.T) {
	imgs := []image.Image{testImage(24, 18)}
	p := Params{RotationRange: 40, ZoomRange: ZoomRangeOf(0.3), BrightnessRange: [2]float64{0.5, 1.5}}
	a := encode(t, PreviewGrid(imgs, p, 7, 4))
	if b := encode(t, PreviewGrid(imgs, p, 7, 4)); !bytes.Equal(a, b) {
		t.Error("same seed gave different previews")
	}
	if c := encode(t, PreviewGrid(imgs, p, 8, 4)); bytes.Equal(a, c) {
		t.Error("different seeds gave the same preview")
	}
	// With nothing to augment every sample equals the original.
	g := PreviewGrid(imgs, Params{}, 1, 2).(*image.RGBA)
	for k := 1; k <= 2; k++ {
		x0 := previewGap + k*(24+previewGap)
		for y := range 18 {
			for x := range 24 {
				if g.At(x0+x, previewGap+y) != g.At(previewGap+x, previewGap+y) {
					t.Fatalf("sample %d differs from the original at (%d,%d)", k, x, y)
				}
			}
		}
	}
}

func encode(t *testing.T, im image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, im); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestPreviewGridEmpty(t *testing.T) {
	if b := PreviewGrid(nil, Params{}, 0, 5).Bounds(); !b.Empty() {
		t.Errorf("empty preview is %v", b)
	}
}

// TestPreviewRealPhoto runs a typical Keras setting over a real scraped
// photo; set SCOUR_AUGMENT_PREVIEW to a file name to look at the result.
func TestPreviewRealPhoto(t *testing.T) {
	dir := sharedtest.Path(t, "images", "boats", "train")
	var path string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && path == "" && !d.IsDir() && filepath.Ext(p) == ".jpg" {
			path = p
		}
		return nil
	})
	if path == "" {
		t.Skip("no .jpg under " + dir)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	im, _, err := image.Decode(f)
	if err != nil {
		t.Skipf("%s: %v", path, err)
	}
	p, err := ParseParams("rotation_range=20, width_shift_range=0.2, height_shift_range=0.2, " +
		"shear_range=10, zoom_range=0.2, horizontal_flip=True, brightness_range=[0.7, 1.3]")
	if err != nil {
		t.Fatal(err)
	}
	g := PreviewGrid([]image.Image{im}, p, 42, 5)
	if b := g.Bounds(); b.Dx() < 6*im.Bounds().Dx() {
		t.Errorf("grid %v too small for 6 cells of %v", b, im.Bounds())
	}
	if out := os.Getenv("SCOUR_AUGMENT_PREVIEW"); out != "" {
		if err := os.WriteFile(out, encode(t, g), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s from %s", out, path)
	}
}
