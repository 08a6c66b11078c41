package imaging

import (
	"image"
	"os"
	"path/filepath"
	"testing"

	"github.com/scour-dev/scour/internal/sharedtest"
)

func boatsSample(b *testing.B, n int) [][]byte {
	dir := sharedtest.Path(b, "images", "boats", "train")
	var out [][]byte
	for _, class := range []string{"Carriers", "Destroyers", "Sailboats", "Tugs"} {
		files, _ := filepath.Glob(filepath.Join(dir, class, "*.jpg"))
		for _, f := range files[:min(len(files), n/4)] {
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, data)
		}
	}
	return out
}

// BenchmarkInspect is the fetcher's per-image cost: sniff, full decode, pHash.
func BenchmarkInspect(b *testing.B) {
	photos := boatsSample(b, 32)
	var bytes int64
	for _, p := range photos {
		bytes += int64(len(p))
	}
	b.SetBytes(bytes / int64(len(photos)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := Inspect(photos[i%len(photos)], Limits{}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkResizeCrop is the model preprocessing: shorter side to 256, centre 224.
func BenchmarkResizeCrop(b *testing.B) {
	var imgs []image.Image
	for _, p := range boatsSample(b, 32) {
		m, _, err := Decode(p, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		imgs = append(imgs, m)
	}
	i := 0
	for b.Loop() {
		m := imgs[i%len(imgs)]
		w, h := ScaleShorter(m.Bounds().Size(), 256)
		ResizeCropRGB(m, w, h, CenterCrop(w, h, 224, 224))
		i++
	}
}
