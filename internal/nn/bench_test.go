package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// benchModel builds the reference model at 128x128 with one batch of
// random data; b.N steps are timed by the caller.
func benchModel(b *testing.B, batch int) (*Model, []float32, []int32) {
	sp, _ := ParseSpec("32-64-128/d1")
	m, err := Build(sp, Shape{128, 128, 3}, 2, 1)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, batch*128*128*3)
	for i := range x {
		x[i] = r.Float32()
	}
	y := make([]int32, batch)
	for i := range y {
		y[i] = int32(r.IntN(2))
	}
	return m, x, y
}

func BenchmarkReferenceTrain(b *testing.B) {
	m, x, y := benchModel(b, 32)
	opt := NewAdam(1e-3)
	if _, _, err := m.TrainBatch(x, y, opt); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := m.TrainBatch(x, y, opt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(32*float64(b.N)/b.Elapsed().Seconds(), "img/s")
}

func BenchmarkReferenceInfer(b *testing.B) {
	m, x, _ := benchModel(b, 64)
	for b.Loop() {
		if _, err := m.Predict(x, 64); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(64*float64(b.N)/b.Elapsed().Seconds(), "img/s")
}

// BenchmarkReferenceLayers reports each layer's forward and backward time
// in one training step (ms), to see where a step goes.
func BenchmarkReferenceLayers(b *testing.B) {
	m, x, y := benchModel(b, 32)
	opt := NewAdam(1e-3)
	if _, _, err := m.TrainBatch(x, y, opt); err != nil {
		b.Fatal(err)
	}
	fw := make([]time.Duration, len(m.layers))
	bw := make([]time.Duration, len(m.layers))
	var optT time.Duration
	probs, dl := make([]float32, 64), make([]float32, 64)
	for b.Loop() {
		h := m.x
		copy(h, x)
		for i, l := range m.layers {
			s := time.Now()
			h = l.forward(h, 32, true)
			fw[i] += time.Since(s)
		}
		softmaxCE(h, y, 32, 2, probs, dl)
		g := dl
		for i := len(m.layers) - 1; i >= 0; i-- {
			s := time.Now()
			g = m.layers[i].backward(g, 32, i > 0)
			bw[i] += time.Since(s)
		}
		s := time.Now()
		if err := opt.update(m.e, m.ps); err != nil {
			b.Fatal(err)
		}
		optT += time.Since(s)
	}
	ms := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(b.N) }
	for i := range m.layers {
		if fw[i]+bw[i] > time.Duration(b.N)*100*time.Microsecond {
			b.ReportMetric(ms(fw[i]), fmt.Sprintf("L%d-fwd-ms", i))
			b.ReportMetric(ms(bw[i]), fmt.Sprintf("L%d-bwd-ms", i))
		}
	}
	b.ReportMetric(ms(optT), "adam-ms")
}

func BenchmarkBatchNormTrain(b *testing.B) {
	sp, _ := ParseSpec("32-64-128/bn/d1")
	m, err := Build(sp, Shape{128, 128, 3}, 2, 1)
	if err != nil {
		b.Fatal(err)
	}
	_, x, y := benchModel(b, 32)
	opt := NewAdam(1e-3)
	for b.Loop() {
		if _, _, err := m.TrainBatch(x, y, opt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(32*float64(b.N)/b.Elapsed().Seconds(), "img/s")
}
