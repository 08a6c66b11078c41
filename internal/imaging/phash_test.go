package imaging

import (
	"bytes"
	"image"
	"image/color/palette"
	"image/jpeg"
	"testing"
)

// rgbaFromHWC wraps packed RGB bytes as an image so resized copies can be
// hashed and re-encoded.
func rgbaFromHWC(rgb []uint8, w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range w * h {
		copy(m.Pix[i*4:i*4+3], rgb[i*3:i*3+3])
		m.Pix[i*4+3] = 255
	}
	return m
}

func TestPHashNearCopies(t *testing.T) {
	for _, name := range []string{"Destroyers/0.jpg", "Sailboats/2.jpg", "Tugs/5.jpg", "Kayaks/13.jpg"} {
		t.Run(name, func(t *testing.T) {
			class, file, _ := bytes.Cut([]byte(name), []byte("/"))
			orig, _, err := Decode(boat(t, string(class), string(file)), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			h0 := PHash(orig)
			b := orig.Bounds()
			half := rgbaFromHWC(ResizeRGB(orig, b.Dx()/2, b.Dy()/2), b.Dx()/2, b.Dy()/2)
			double := rgbaFromHWC(ResizeRGB(orig, b.Dx()*2, b.Dy()*2), b.Dx()*2, b.Dy()*2)
			var q50 bytes.Buffer
			if err := jpeg.Encode(&q50, orig, &jpeg.Options{Quality: 50}); err != nil {
				t.Fatal(err)
			}
			requant, _, err := Decode(q50.Bytes(), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				what string
				img  image.Image
			}{{"half size", half}, {"double size", double}, {"jpeg quality 50", requant}} {
				if d := Hamming(h0, PHash(c.img)); d > 6 {
					t.Errorf("%s: Hamming distance %d, want <= 6", c.what, d)
				} else {
					t.Logf("%s: distance %d", c.what, d)
				}
			}
		})
	}
}

func TestPHashUnrelated(t *testing.T) {
	photos := []string{"Carriers/4.jpg", "Cruise Ships/7.jpg", "Fishing Boats/6.jpg", "Kayaks/13.jpg",
		"Sailboats/2.jpg", "Submarines/8.jpg", "Tugs/5.jpg", "Security Boats/3.jpg"}
	hashes := make([]uint64, len(photos))
	for i, name := range photos {
		class, file, _ := bytes.Cut([]byte(name), []byte("/"))
		m, err := Inspect(boat(t, string(class), string(file)), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		hashes[i] = m.PHash
	}
	minD, sum, n := 64, 0, 0
	for i := range hashes {
		for j := i + 1; j < len(hashes); j++ {
			d := Hamming(hashes[i], hashes[j])
			minD, sum, n = min(minD, d), sum+d, n+1
		}
	}
	t.Logf("unrelated photos: min distance %d, mean %.1f", minD, float64(sum)/float64(n))
	// Unrelated images differ in about half their bits; near copies in <= 6.
	if minD <= 12 {
		t.Errorf("two unrelated photos are only %d bits apart", minD)
	}
}

func TestPHashSmallAndOddLayouts(t *testing.T) {
	// Images smaller than the 32x32 grid, in every pixel layout, must hash
	// without panicking, and one picture in different layouts must agree.
	photo, _, err := Decode(boat(t, "Tugs", "5.jpg"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sz := range []image.Point{{24, 18}, {7, 5}, {300, 2}} {
		rgba := rgbaFromHWC(ResizeRGB(photo, sz.X, sz.Y), sz.X, sz.Y)
		gray := image.NewGray(rgba.Bounds())
		nrgba := image.NewNRGBA(rgba.Bounds())
		pal := image.NewPaletted(rgba.Bounds(), palette.WebSafe)
		for y := range sz.Y {
			for x := range sz.X {
				gray.Set(x, y, rgba.At(x, y))
				nrgba.Set(x, y, rgba.At(x, y))
				pal.Set(x, y, rgba.At(x, y))
			}
		}
		h := PHash(rgba)
		for _, c := range []struct {
			name  string
			img   image.Image
			limit int
		}{
			{"gray", gray, 4}, {"nrgba", nrgba, 0}, {"generic", struct{ image.Image }{rgba}, 0},
			// The web-safe palette has 6 levels per channel: a coarse copy.
			{"paletted", pal, 12},
		} {
			// Degenerate sizes leave most frequencies near zero, where one
			// level of rounding flips bits: there only the absence of panics counts.
			if d := Hamming(h, PHash(c.img)); sz.X >= 8 && sz.Y >= 8 && d > c.limit {
				t.Errorf("%v %s: %d bits from the RGBA copy, want <= %d", sz, c.name, d, c.limit)
			}
		}
	}
	sub := gradient(100, 80).SubImage(image.Rect(30, 20, 90, 70))
	if d := Hamming(PHash(sub), PHash(rgbaFromHWC(ResizeRGB(sub, 60, 50), 60, 50))); d > 0 {
		t.Errorf("sub-image hashes %d bits away from its copy", d)
	}
}

func TestHamming(t *testing.T) {
	for _, tc := range []struct {
		a, b uint64
		want int
	}{{0, 0, 0}, {0, ^uint64(0), 64}, {0b1011, 0b0001, 2}, {1 << 63, 1, 2}} {
		if got := Hamming(tc.a, tc.b); got != tc.want {
			t.Errorf("Hamming(%b, %b) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
