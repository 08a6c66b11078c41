package clean

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/scour-dev/scour/internal/sharedtest"
)

// BenchmarkMeasure is the per-image cost of the model-free checks: decode,
// pixel hash, perceptual hash, and the statistics of the grey copy.
func BenchmarkMeasure(b *testing.B) {
	for _, tc := range []struct{ name, path string }{
		{"boats-275x183", filepath.Join("boats", "train", "Destroyers", "0.jpg")},
		{"webcam-640x480", filepath.Join("find-the-ship", "set-A_train", "empty", "20171105_185402_Empty.jpg")},
	} {
		data, err := os.ReadFile(filepath.Join(sharedtest.Dir(b), "images", tc.path))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if m, _ := measure(data, Default().MaxPixels, false); m.Broken != "" {
					b.Fatal(m.BrokenMsg)
				}
			}
		})
	}
}

// BenchmarkEmbeddingPairs finds the pairs at cosine >= 0.97 among 5,000
// MobileNetV2-sized embeddings in groups of copies, by comparing every pair
// and by the index; `scour bench clean --images` measures both on the
// model's own embeddings of the shared photos.
func BenchmarkEmbeddingPairs(b *testing.B) {
	embs := clusteredEmbeddings(rand.New(rand.NewPCG(1, 1)), 5000, 1280, 30)
	for _, how := range []struct {
		name string
		how  PairSearch
	}{{"exact", SearchExact}, {"index", SearchIndex}} {
		b.Run(how.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := EmbeddingPairs(context.Background(), embs, 0.97, how.how); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
