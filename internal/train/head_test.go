package train

import (
	"context"
	"math/rand/v2"
	"testing"
)

// clusters makes embeddings of 3 classes around separate random centres.
func clusters(n, dim int, seed uint64) []Embedded {
	rng := rand.New(rand.NewPCG(42, 0))
	centres := make([][]float32, 3)
	for c := range centres {
		centres[c] = make([]float32, dim)
		for i := range centres[c] {
			centres[c][i] = float32(rng.NormFloat64())
		}
	}
	rng = rand.New(rand.NewPCG(seed, 1))
	out := make([]Embedded, n)
	for i := range out {
		c := i % 3
		x := make([]float32, dim)
		for j := range x {
			x[j] = centres[c][j] + float32(rng.NormFloat64()*0.8)
		}
		out[i] = Embedded{SHA256: string(rune('a' + i%26)), Label: int32(c), X: x}
	}
	return out
}

func TestHeadLearnsAndRoundTrips(t *testing.T) {
	classes := []string{"a", "b", "c"}
	for _, hidden := range []int{0, 16} {
		dir := t.TempDir()
		res, err := RunHead(context.Background(), classes, clusters(150, 32, 1), clusters(60, 32, 2), clusters(60, 32, 3),
			HeadConfig{Name: "head", Model: "test-embeddings", Hidden: hidden, Epochs: 30, Seed: 1}, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.TestAcc < 0.95 || res.Best().ValAcc < 0.95 {
			t.Fatalf("hidden=%d: test acc %.2f, val %.2f", hidden, res.TestAcc, res.Best().ValAcc)
		}
		meta, h, err := LoadHead(res.ModelPath)
		if err != nil || meta.Preprocess != "test-embeddings" || meta.Kind != "head" {
			t.Fatalf("load: %+v %v", meta, err)
		}
		// The saved head predicts the test set as well as the run reported.
		correct := 0
		for _, e := range clusters(60, 32, 3) {
			if argmax(h.Probs(e.X)) == int(e.Label) {
				correct++
			}
		}
		if acc := float64(correct) / 60; acc != res.TestAcc {
			t.Fatalf("hidden=%d: loaded head scores %.3f, run reported %.3f", hidden, acc, res.TestAcc)
		}
	}
}

func TestHeadNeedsEmbeddings(t *testing.T) {
	_, err := RunHead(context.Background(), []string{"a", "b"}, nil, nil, nil, HeadConfig{}, t.TempDir(), nil)
	if err == nil {
		t.Fatal("no embeddings accepted")
	}
}
