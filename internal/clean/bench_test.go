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

// BenchmarkEmbeddingPairs compares every pair of 2,000 MobileNetV2-sized
// embeddings, as embedding duplicates and the outlier method do; the cost
// grows with the square of the count.
func BenchmarkEmbeddingPairs(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	embs := make([][]float32, 2000)
	for i := range embs {
		e := make([]float32, 1280)
		for k := range e {
			e[k] = float32(r.NormFloat64())
		}
		embs[i] = unit(e...)
	}
	for b.Loop() {
		if _, err := EmbeddingPairs(context.Background(), embs, 0.97, SearchExact); err != nil {
			b.Fatal(err)
		}
	}
}
