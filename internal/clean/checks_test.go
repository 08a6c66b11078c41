package clean

import (
	"bytes"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/sharedtest"
)

// flagsOf measures data and returns the reasons the default checks give.
func flagsOf(t *testing.T, data []byte) (Measure, []string) {
	t.Helper()
	m, _ := measure(data, Default().MaxPixels, false)
	if m.Broken != "" {
		return m, []string{ReasonBroken}
	}
	var out []string
	for _, c := range Checks(Default()) {
		if _, bad := c.Test(m); bad {
			out = append(out, c.Reason())
		}
	}
	return m, out
}

// noiseIn is random colours with every channel in [lo, hi].
func noiseIn(w, h int, lo, hi int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 5))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(lo + r.IntN(hi-lo+1))
		if i%4 == 3 {
			m.Pix[i] = 255
		}
	}
	return m
}

// brightNoise is a washed-out image: grey levels in [214, 255], each
// channel a little lower at random so it is not grey.
func brightNoise(w, h int) *image.RGBA {
	r := rand.New(rand.NewPCG(3, 5))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(m.Pix); i += 4 {
		v := 214 + r.IntN(42)
		for c := range 3 {
			m.Pix[i+c] = uint8(v - r.IntN(8))
		}
		m.Pix[i+3] = 255
	}
	return m
}

func TestChecks(t *testing.T) {
	photo := decode(t, boat(t, "Destroyers", "0.jpg"))
	cmyk, err := os.ReadFile(filepath.Join("..", "imaging", "testdata", "cmyk.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	full := encodeJPEG(t, photo, 90)
	for _, tc := range []struct {
		name   string
		data   []byte
		want   []string
		broken string // the decoder's cause, for broken images
	}{
		{"a real photo", boat(t, "Destroyers", "0.jpg"), nil, ""},
		{"random colours", encodePNG(t, noise(200, 200, 1)), nil, ""},
		{"1x1", encodePNG(t, uniform(1, 1, color.RGBA{200, 30, 30, 255})), []string{ReasonTooSmall, ReasonLowInformation, ReasonBlurry}, ""},
		{"uniform grey", encodePNG(t, uniform(200, 150, color.RGBA{128, 128, 128, 255})),
			[]string{ReasonLowInformation, ReasonBlurry, ReasonGrayscale}, ""},
		{"dark", encodePNG(t, noiseIn(200, 150, 0, 50, 2)), []string{ReasonDark}, ""},
		{"bright", encodePNG(t, brightNoise(200, 150)), []string{ReasonBright}, ""},
		{"blurred photo", encodePNG(t, resized(resized(photo, 40, 27), 300, 200)), []string{ReasonBlurry}, ""},
		{"grey photo", encodePNG(t, mapPixels(photo, func(_, _ int, c color.RGBA) color.RGBA {
			y := uint8((299*int(c.R) + 587*int(c.G) + 114*int(c.B)) / 1000)
			return color.RGBA{y, y, y, 255}
		})), []string{ReasonGrayscale}, ""},
		{"banner", encodePNG(t, noise(800, 100, 4)), []string{ReasonOddAspect}, ""},
		// A CMYK JPEG decodes (48x32 flat quadrants: small and simple).
		{"CMYK JPEG", cmyk, []string{ReasonTooSmall, ReasonLowInformation}, ""},
		// Measured on its first frame: 20x10, seven dark colours.
		{"animated GIF", animatedGIF(t, 3), []string{ReasonTooSmall, ReasonLowInformation, ReasonDark}, ""},
		{"truncated JPEG", full[:len(full)/2], []string{ReasonBroken}, "truncated"},
		{"bomb header 20000x20000", pngHeaderOnly(20000, 20000), []string{ReasonBroken}, "too-many-pixels"},
		{"HTML", []byte("<!DOCTYPE html><html><body>Not found</body></html>"), []string{ReasonBroken}, "html"},
		{"empty", nil, []string{ReasonBroken}, "empty"},
	} {
		m, got := flagsOf(t, tc.data)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: flags %v, want %v (measured %+v)", tc.name, got, tc.want, m)
		}
		if m.Broken != tc.broken {
			t.Errorf("%s: broken %q, want %q (%s)", tc.name, m.Broken, tc.broken, m.BrokenMsg)
		}
	}
}

// The default thresholds must leave ordinary photos alone: on a sample of
// the shared boats and find-the-ship photos, no pixel check may flag more
// than 1.5% of them.
func TestDefaultsOnRealPhotos(t *testing.T) {
	var files []string
	for _, dir := range []string{"boats", "find-the-ship"} {
		root := sharedtest.Path(t, "images", dir)
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".jpg") {
				files = append(files, p)
			}
			return nil
		})
	}
	sort.Strings(files)
	step := 3
	if testing.Short() {
		step = 10
	}
	counts := map[string]int{}
	n := 0
	for i := 0; i < len(files); i += step {
		data, err := os.ReadFile(files[i])
		if err != nil {
			t.Fatal(err)
		}
		_, flags := flagsOf(t, data)
		for _, f := range flags {
			counts[f]++
		}
		n++
	}
	for reason, c := range counts {
		if float64(c) > 0.015*float64(n) {
			t.Errorf("%s flags %d of %d ordinary photos", reason, c, n)
		}
	}
	t.Logf("%d photos: %v", n, counts)
}

// animatedGIF has frames 20x10 frames of different colours.
func animatedGIF(t *testing.T, frames int) []byte {
	t.Helper()
	g := &gif.GIF{}
	for i := range frames {
		p := image.NewPaletted(image.Rect(0, 0, 20, 10), palette.Plan9)
		for j := range p.Pix {
			p.Pix[j] = uint8(i*40 + j%7)
		}
		g.Image = append(g.Image, p)
		g.Delay = append(g.Delay, 10)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, g); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
