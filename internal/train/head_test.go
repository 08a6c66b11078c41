package train

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/nn"
)

// clusters makes embeddings of 3 classes around separate random centres.
func clusters(n, dim int, seed uint64) []Embedded { return makeClusters(n, dim, seed, 0.8, false) }

// rawClusters overlap more, and each feature has its own offset and scale.
func rawClusters(n, dim int, seed uint64) []Embedded { return makeClusters(n, dim, seed, 2, true) }

func makeClusters(n, dim int, seed uint64, noise float64, raw bool) []Embedded {
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
			x[j] = centres[c][j] + float32(rng.NormFloat64()*noise)
			if raw {
				// Offsets and scales that differ per feature, as raw
				// embeddings have, so that standardising matters.
				x[j] = float32(j%7) + float32(1+j%3)*x[j]
			}
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

// TestHeadFitsRawEmbeddings fits harder, unstandardised embeddings: the
// grid is tried, the curve is a fitted model's, and the saved head keeps
// the exporter's contract.
func TestHeadFitsRawEmbeddings(t *testing.T) {
	classes := []string{"a", "b", "c"}
	for _, hidden := range []int{0, 16} {
		tr, test := rawClusters(150, 32, 1), rawClusters(60, 32, 3)
		res, err := RunHead(context.Background(), classes, tr, rawClusters(60, 32, 2), test,
			HeadConfig{Name: "head", Model: "test-embeddings", Hidden: hidden, Seed: 1}, t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("hidden=%d: %s, %d iterations, trials %+v", hidden, res.Spec, len(res.History)-1, res.HeadTrials)
		if res.TestAcc < 0.9 || res.Best().ValAcc < 0.9 {
			t.Fatalf("hidden=%d: test acc %.2f, val %.2f", hidden, res.TestAcc, res.Best().ValAcc)
		}
		grid := HeadL2Grid
		if hidden > 0 {
			grid = HeadMLPL2Grid
		}
		if len(res.HeadTrials) != len(grid) || res.BestEpoch != len(res.History)-1 || res.History[0].Epoch != 0 {
			t.Fatalf("hidden=%d: %d trials, best epoch %d of %d", hidden, len(res.HeadTrials), res.BestEpoch, len(res.History))
		}
		checkFittedCurve(t, res.History)
		if start := res.History[0].TrainLoss; hidden == 0 && math.Abs(start-math.Log(3)) > 1e-6 {
			t.Fatalf("softmax regression starts at loss %v, not log(3): not from zero weights", start)
		}
		_, h, err := LoadHead(res.ModelPath)
		if err != nil {
			t.Fatal(err)
		}
		if h.In() != 32 || h.Classes() != 3 {
			t.Fatalf("loaded head takes %d inputs to %d classes", h.In(), h.Classes())
		}
		checkContract(t, h, hidden, res, tr, test)
	}
}

func TestHeadNeedsEmbeddings(t *testing.T) {
	_, err := RunHead(context.Background(), []string{"a", "b"}, nil, nil, nil, HeadConfig{}, t.TempDir(), nil)
	if err == nil {
		t.Fatal("no embeddings accepted")
	}
}

// checkFittedCurve asserts what a fitted model's curve looks like: the
// training loss falls (allowing float32 wobble) and ends on a plateau.
func checkFittedCurve(t *testing.T, h []Epoch) {
	t.Helper()
	if len(h) < 3 {
		t.Fatalf("%d iterations", len(h))
	}
	first, last := h[0].TrainLoss, h[len(h)-1].TrainLoss
	// L-BFGS lowers the penalised objective every iteration; the plain
	// cross-entropy may give a little back while the penalty falls.
	for i := 1; i < len(h); i++ {
		if h[i].TrainLoss > h[i-1].TrainLoss+0.02*(first-last)+1e-4 {
			t.Fatalf("train loss rose from %.4f to %.4f at iteration %d", h[i-1].TrainLoss, h[i].TrainLoss, h[i].Epoch)
		}
	}
	tail := h[max(0, len(h)-4)].TrainLoss
	if tail-last > 0.01*(first-last)+1e-4 {
		t.Fatalf("train loss still falling at the end: %.4f -> %.4f over the last iterations (from %.4f)", tail, last, first)
	}
}

func TestHeadFixedL2(t *testing.T) {
	res, err := RunHead(context.Background(), []string{"a", "b", "c"}, clusters(90, 16, 1), clusters(30, 16, 2), nil,
		HeadConfig{Name: "head", Model: "m", L2: 0.05, Seed: 2}, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.HeadTrials) != 1 || res.HeadTrials[0].L2 != 0.05 || !res.HeadTrials[0].Converged {
		t.Fatalf("trials %+v", res.HeadTrials)
	}
}

func TestHeadRejectsMixedEmbeddings(t *testing.T) {
	tr := clusters(30, 16, 1)
	val := clusters(30, 8, 2)
	_, err := RunHead(context.Background(), []string{"a", "b", "c"}, tr, val, nil, HeadConfig{}, t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "scour clean") {
		t.Fatalf("embeddings of two sizes: %v", err)
	}
}

// A version 1 head (its own payload, not an nn model) is refused with the
// version message; a version 1 CNN, whose payload did not change, loads.
func TestOldHeadFilesAreRefused(t *testing.T) {
	dir := t.TempDir()
	res, err := RunHead(context.Background(), []string{"a", "b", "c"}, clusters(60, 8, 1), clusters(30, 8, 2), nil,
		HeadConfig{Name: "head", Model: "m", L2: 0.1}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(res.ModelPath)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(data[8:], 1)
	old := filepath.Join(dir, "old.scour")
	if err := os.WriteFile(old, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = LoadHead(old)
	if !errors.Is(err, ErrModelFile) || !strings.Contains(err.Error(), "format version 1, this scour reads version 2") {
		t.Fatalf("version 1 head: %v", err)
	}
	cnn := filepath.Join(dir, "cnn.scour")
	m, err := nn.Build(nn.Spec{Conv: []int{2}, Kernel: 3}, nn.Shape{H: 8, W: 8, C: 3}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := SaveModelFile(cnn, Meta{Kind: "cnn", Classes: []string{"a", "b"}, Size: 8}, m.Save); err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(cnn)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(data[8:], 1)
	if err := os.WriteFile(cnn, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadCNN(cnn); err != nil {
		t.Fatalf("version 1 CNN: %v", err)
	}
}

// checkContract checks what an exporter relies on: the saved head is a
// plain dense network whose output on a raw embedding is what the chosen
// fit, done by hand here on embeddings standardised with the training
// split's mean and deviation, gives on the standardised embedding.
func checkContract(t *testing.T, h *Head, hidden int, res Result, tr, test []Embedded) {
	t.Helper()
	sp := h.Spec()
	if len(sp.Conv) != 0 || sp.Dropout != 0 || len(sp.Dense) != min(hidden, 1) || (hidden > 0 && sp.Dense[0] != hidden) {
		t.Fatalf("saved head's network: %v", sp)
	}
	var l2 float64
	for _, tr := range res.HeadTrials {
		if tr.Chosen {
			l2 = tr.L2
		}
	}
	dim := len(tr[0].X)
	mean, std := make([]float64, dim), make([]float64, dim)
	for _, e := range tr {
		for j, v := range e.X {
			mean[j] += float64(v) / float64(len(tr))
		}
	}
	for _, e := range tr {
		for j, v := range e.X {
			d := float64(v) - mean[j]
			std[j] += d * d / float64(len(tr))
		}
	}
	scaled := func(es []Embedded) ([]float32, []int32) {
		var x []float32
		var y []int32
		for _, e := range es {
			for j, v := range e.X {
				x = append(x, float32((float64(v)-mean[j])/math.Sqrt(std[j])))
			}
			y = append(y, e.Label)
		}
		return x, y
	}
	ref, err := nn.Build(sp, nn.Shape{H: 1, W: 1, C: dim}, h.Classes(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if hidden == 0 {
		ref.ZeroWeights()
	}
	xtr, ytr := scaled(tr)
	if _, err := (nn.LBFGS{L2: l2, MaxIter: 300}).Fit(ref, xtr, ytr, nil); err != nil {
		t.Fatal(err)
	}
	xs, _ := scaled(test)
	want, err := ref.Predict(xs, len(test))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := matrix(test, nil)
	got, err := h.Predict(raw, len(test))
	if err != nil {
		t.Fatal(err)
	}
	// Softmax regression has one optimum, which both fits reach to float32
	// precision; the MLP's fit is non-convex, and inputs standardised here
	// in float64 rather than float32 lead it to a slightly different point
	// of the same minimum.
	tol := 1e-4
	if hidden > 0 {
		tol = 3e-3
	}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > tol {
			t.Fatalf("hidden=%d: probability %d of the saved head on the raw embedding is %v; the fit on standardised embeddings gives %v", hidden, i, got[i], want[i])
		}
	}
}
