package nn

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"testing"
)

// readTorchRef reads testdata/torchref.bin, written by
// tools/torchref/export_reference.py.
func readTorchRef(t *testing.T) map[string][]float64 {
	t.Helper()
	raw, err := os.ReadFile("testdata/torchref.bin")
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 tools/torchref/export_reference.py)", err)
	}
	r := bytes.NewReader(raw)
	var magic [8]byte
	var count uint32
	if _, err := io.ReadFull(r, magic[:]); err != nil || string(magic[:]) != "TORCHREF" {
		t.Fatalf("torchref.bin: bad magic %q (%v)", magic, err)
	}
	must := func(err error) {
		if err != nil {
			t.Fatalf("torchref.bin: %v", err)
		}
	}
	must(binary.Read(r, binary.LittleEndian, &count))
	out := map[string][]float64{}
	for range count {
		var nl uint32
		must(binary.Read(r, binary.LittleEndian, &nl))
		name := make([]byte, nl)
		_, err := io.ReadFull(r, name)
		must(err)
		var width uint8
		var n uint64
		must(binary.Read(r, binary.LittleEndian, &width))
		must(binary.Read(r, binary.LittleEndian, &n))
		v := make([]float64, n)
		if width == 4 {
			f := make([]float32, n)
			must(binary.Read(r, binary.LittleEndian, f))
			for i, x := range f {
				v[i] = float64(x)
			}
		} else {
			must(binary.Read(r, binary.LittleEndian, v))
		}
		out[string(name)] = v
	}
	return out
}

// hashUniform mirrors export_reference.py: 24-bit uniforms in [0, 1).
func hashUniform(stream uint64, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = float64(mix64(stream<<32+uint64(i))>>40) / (1 << 24)
	}
	return v
}

// hashInit sets every parameter as export_reference.py does: Glorot-scaled
// hashed uniforms for kernels, 0.1-scaled ones for biases.
func hashInit(m *Model) {
	p := 0
	for _, l := range m.layers {
		_, fanIn, fanOut, ok := kernelOf(l)
		if !ok {
			continue
		}
		for i, prm := range l.params() {
			scale := 0.1
			if i == 0 {
				scale = math.Sqrt(6 / float64(fanIn+fanOut))
			}
			for j, u := range hashUniform(uint64(p), len(prm.w)) {
				prm.w[j] = float32((u*2 - 1) * scale)
			}
			p++
		}
	}
}

// relErr returns the norm-wise relative error and the largest element
// error relative to the largest reference magnitude.
func relErr(got []float32, want []float64) (norm, elem float64) {
	var d2, w2, dmax, wmax float64
	for i, w := range want {
		d := float64(got[i]) - w
		d2 += d * d
		w2 += w * w
		dmax = max(dmax, math.Abs(d))
		wmax = max(wmax, math.Abs(w))
		if math.IsNaN(d) {
			return math.Inf(1), math.Inf(1)
		}
	}
	return math.Sqrt(d2 / max(w2, 1e-300)), dmax / max(wmax, 1e-300)
}

// TestMatchesPyTorch runs the reference CNN (at 32x32, batch 4, dropout
// off) from the same weights and inputs as PyTorch and compares logits,
// loss, every gradient and the weights after two Adam steps.
func TestMatchesPyTorch(t *testing.T) {
	ref := readTorchRef(t)
	spec, err := ParseSpec("32-64-128/d1@0")
	if err != nil {
		t.Fatal(err)
	}
	const n = 4
	x := make([]float32, n*32*32*3)
	var xsum float64
	for i, u := range hashUniform(100, len(x)) {
		x[i] = float32(u)
		xsum += float64(x[i])
	}
	y := []int32{0, 1, 1, 0}
	for _, kname := range Kernels() {
		t.Run(kname, func(t *testing.T) {
			m, err := Build(spec, Shape{32, 32, 3}, 2, 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.SetKernel(kname); err != nil {
				t.Fatal(err)
			}
			hashInit(m)
			var wsum float64
			for _, p := range m.ps {
				for _, v := range p.w {
					wsum += float64(v)
				}
			}
			if math.Abs(xsum-ref["check/x_sum"][0]) > 1e-9*math.Abs(xsum) || math.Abs(wsum-ref["check/w_sum"][0]) > 1e-9*max(1, math.Abs(wsum)) {
				t.Fatalf("hashed inputs differ from the exporter's (x %v vs %v, w %v vs %v)", xsum, ref["check/x_sum"][0], wsum, ref["check/w_sum"][0])
			}
			// Every tensor must match to 1e-4 norm-wise relative error, and
			// element by element (relative to the tensor's largest value) for
			// all but the weights after Adam: where |gradient| is near eps
			// (1e-8), Adam's g/(|g|+eps) turns float32 rounding of g into a
			// visible share of the step. PyTorch's own float32 run shows
			// 3e-5..6e-5 there against float64, so those get 1e-3.
			const tol = 1e-4
			check := func(what string, got []float32, want []float64, elemTol float64) {
				t.Helper()
				if len(got) != len(want) {
					t.Fatalf("%s: %d values, reference has %d", what, len(got), len(want))
				}
				norm, elem := relErr(got, want)
				t.Logf("%-16s norm rel err %.2e, max elem err %.2e", what, norm, elem)
				if norm > tol || elem > elemTol {
					t.Errorf("%s: relative error %.2e (elementwise %.2e), want <= %g (%g)", what, norm, elem, tol, elemTol)
				}
			}
			opt := NewAdam(1e-3)
			loss, _, err := m.TrainBatch(x, y, opt)
			if err != nil {
				t.Fatal(err)
			}
			check("loss", []float32{float32(loss)}, ref["loss"], tol)
			check("logits", m.layers[len(m.layers)-1].(*dense).y, ref["logits"], tol)
			for _, p := range m.ps {
				check("grad/"+p.name, p.g, ref["grad/"+p.name], tol)
			}
			loss2, _, err := m.TrainBatch(x, y, opt)
			if err != nil {
				t.Fatal(err)
			}
			check("loss2", []float32{float32(loss2)}, ref["loss2"], tol)
			for _, p := range m.ps {
				check("after2/"+p.name, p.w, ref["after2/"+p.name], 1e-3)
			}
		})
	}
}

func ExampleParseSpec() {
	sp, _ := ParseSpec("32-64-128/d2@0.3/bn")
	fmt.Println(sp)
	// Output: conv=32,64,128 kernel=3 padding=valid dropout=2 rate=0.3 dense=128 bn
}
