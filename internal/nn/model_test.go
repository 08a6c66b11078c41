package nn

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	cases := []struct {
		in   string
		want Spec
	}{
		{"32-64-128/d2", Spec{Conv: []int{32, 64, 128}, Kernel: 3, Dropout: 2, Rate: 0.5, Dense: []int{128}}},
		{"32-64-128", Spec{Conv: []int{32, 64, 128}, Kernel: 3, Dropout: 1, Rate: 0.5, Dense: []int{128}}},
		{"16-32/d2@0.3/bn/gap/same/k5/h256-64", Spec{Conv: []int{16, 32}, Kernel: 5, Same: true, BatchNorm: true, GAP: true, Dropout: 2, Rate: 0.3, Dense: []int{256, 64}}},
		{"8/d0/h0", Spec{Conv: []int{8}, Kernel: 3, Dropout: 0, Rate: 0.5}},
		{"conv=32,64,128 dropout=1 dense=128", Spec{Conv: []int{32, 64, 128}, Kernel: 3, Dropout: 1, Rate: 0.5, Dense: []int{128}}},
		{"conv=32 dropout=2@0.25 dense=64 bn padding=same head=gap", Spec{Conv: []int{32}, Kernel: 3, Same: true, BatchNorm: true, GAP: true, Dropout: 2, Rate: 0.25, Dense: []int{64}}},
		{"conv= dense=128 rate=0.1", Spec{Kernel: 3, Dropout: 1, Rate: 0.1, Dense: []int{128}}},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSpec(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tc.want.String() {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			back, err := ParseSpec(got.String())
			if err != nil || back.String() != got.String() {
				t.Fatalf("round trip: %q -> %q (%v)", got, back, err)
			}
		})
	}
}

func TestParseSpecErrors(t *testing.T) {
	for _, in := range []string{
		"32-x", "32/d3", "32/d2/h0", "32/d1@1", "32/d1@-0.1", "32/zz", "conv=32 nope=1",
		"32/k4/same", "32/k0", "conv=32 padding=full", "32--64", "-1",
	} {
		if _, err := ParseSpec(in); err == nil {
			t.Errorf("ParseSpec(%q) accepted", in)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	sp, _ := ParseSpec("32-64-128")
	cases := []struct {
		name    string
		in      Shape
		classes int
	}{
		{"too small for three blocks", Shape{12, 12, 3}, 2},
		{"one class", Shape{64, 64, 3}, 1},
		{"zero channels", Shape{64, 64, 0}, 2},
	}
	for _, tc := range cases {
		if _, err := Build(sp, tc.in, tc.classes, 1); err == nil {
			t.Errorf("%s: Build accepted %v with %d classes", tc.name, tc.in, tc.classes)
		}
	}
}

func TestReferenceModelShape(t *testing.T) {
	sp, _ := ParseSpec("32-64-128/d1")
	m, err := Build(sp, Shape{128, 128, 3}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	// PyTorch's reference: 896 + 18496 + 73856 + 25088*128+128 + 258.
	if got, want := m.NumParams(), 896+18496+73856+25088*128+128+258; got != want {
		t.Fatalf("NumParams = %d, want %d\n%s", got, want, m.Summary())
	}
	if !strings.Contains(m.Summary(), "Dropout") {
		t.Fatalf("summary lacks dropout:\n%s", m.Summary())
	}
}

// stripes is a small learnable problem: class 1 images have a bright
// vertical stripe, class 0 a horizontal one, on noise.
func stripes(r *rand.Rand, n int, in Shape) ([]float32, []int32) {
	x := make([]float32, n*in.Size())
	y := make([]int32, n)
	for i := range n {
		y[i] = int32(r.IntN(2))
		pos := r.IntN(in.H)
		for h := range in.H {
			for w := range in.W {
				for c := range in.C {
					v := r.Float32() * 0.3
					if (y[i] == 1 && w == pos) || (y[i] == 0 && h == pos) {
						v += 1
					}
					x[((i*in.H+h)*in.W+w)*in.C+c] = v
				}
			}
		}
	}
	return x, y
}

func TestTrainingLearns(t *testing.T) {
	in := Shape{16, 16, 2}
	for _, spec := range []string{"8-16/d1@0.2/h32", "8-16/bn/d2@0.2/h32/same", "8/gap/d0/h16", "conv= dropout=0 dense=32"} {
		t.Run(spec, func(t *testing.T) {
			sp, err := ParseSpec(spec)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Build(sp, in, 2, 7)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			xt, yt := stripes(r, 64, in)
			before, _, err := m.Evaluate(xt, yt)
			if err != nil {
				t.Fatal(err)
			}
			opt := NewAdam(3e-3)
			for range 60 {
				x, y := stripes(r, 16, in)
				if _, _, err := m.TrainBatch(x, y, opt); err != nil {
					t.Fatal(err)
				}
			}
			after, acc, err := m.Evaluate(xt, yt)
			if err != nil {
				t.Fatal(err)
			}
			if after > before*0.7 || acc < 0.8 {
				t.Fatalf("loss %.3f -> %.3f, accuracy %.2f: did not learn", before, after, acc)
			}
			p, err := m.Predict(xt[:2*in.Size()], 2)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				if s := p[2*i] + p[2*i+1]; math.Abs(float64(s)-1) > 1e-5 {
					t.Fatalf("probabilities of example %d sum to %v", i, s)
				}
			}
		})
	}
}

func TestSGDLearns(t *testing.T) {
	in := Shape{8, 8, 1}
	sp, _ := ParseSpec("4/d0/h16")
	m, err := Build(sp, in, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 3))
	xt, yt := stripes(r, 64, in)
	before, _, _ := m.Evaluate(xt, yt)
	opt := NewSGD(0.05, 0.9)
	opt.Nesterov = true
	opt.WeightDecay = 1e-4
	for range 80 {
		x, y := stripes(r, 16, in)
		if _, _, err := m.TrainBatch(x, y, opt); err != nil {
			t.Fatal(err)
		}
	}
	if after, _, _ := m.Evaluate(xt, yt); after > before*0.7 {
		t.Fatalf("SGD loss %.3f -> %.3f", before, after)
	}
}

func TestBadInputIsAnError(t *testing.T) {
	sp, _ := ParseSpec("4/d0/h8")
	in := Shape{6, 6, 1}
	m, err := Build(sp, in, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	opt := NewAdam(1e-3)
	good := make([]float32, 2*in.Size())
	cases := []struct {
		name string
		x    []float32
		y    []int32
	}{
		{"short input", good[:10], []int32{0, 1}},
		{"label too big", good, []int32{0, 3}},
		{"negative label", good, []int32{-1, 0}},
		{"empty", nil, nil},
	}
	for _, tc := range cases {
		if _, _, err := m.TrainBatch(tc.x, tc.y, opt); err == nil {
			t.Errorf("TrainBatch %s: no error", tc.name)
		}
		if _, _, err := m.Evaluate(tc.x, tc.y); err == nil {
			t.Errorf("Evaluate %s: no error", tc.name)
		}
	}
	if _, err := m.Predict(good, 3); err == nil {
		t.Error("Predict with the wrong count: no error")
	}
	if opt.Steps() != 0 || m.Steps() != 0 {
		t.Fatal("a rejected batch counted as a step")
	}
}

func snapshot(m *Model) [][]float32 {
	var out [][]float32
	for _, p := range m.ps {
		out = append(out, slices.Clone(p.w))
	}
	return out
}

func TestNonFiniteLossLeavesModelUnchanged(t *testing.T) {
	for _, spec := range []string{"4/bn/d1/h8", "4/d1/h8"} {
		t.Run(spec, func(t *testing.T) { testNonFinite(t, spec) })
	}
}

func testNonFinite(t *testing.T, spec string) {
	sp, _ := ParseSpec(spec)
	in := Shape{6, 6, 1}
	m, err := Build(sp, in, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	opt := NewAdam(1e-3)
	r := rand.New(rand.NewPCG(1, 1))
	x, y := stripes(r, 4, in)
	if _, _, err := m.TrainBatch(x, y, opt); err != nil {
		t.Fatal(err)
	}
	before := snapshot(m)
	var state bytes.Buffer
	if err := opt.SaveState(&state); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
		xb := slices.Clone(x)
		xb[5] = bad
		_, _, err := m.TrainBatch(xb, y, opt)
		if !errors.Is(err, ErrNonFinite) {
			t.Fatalf("input %v: err = %v, want ErrNonFinite", bad, err)
		}
	}
	// Finite input, but weights large enough to overflow to Inf inside the
	// network: caught at the loss or the gradients.
	saved := slices.Clone(m.ps[0].w)
	for i := range m.ps[0].w {
		m.ps[0].w[i] = 3e38
	}
	huge := snapshot(m)
	if _, _, err := m.TrainBatch(x, y, opt); !errors.Is(err, ErrNonFinite) {
		t.Fatalf("overflowing weights: err = %v, want ErrNonFinite", err)
	}
	if !slices.EqualFunc(huge, snapshot(m), slices.Equal) {
		t.Fatal("weights changed after a rejected overflowing step")
	}
	copy(m.ps[0].w, saved)
	if !slices.EqualFunc(before, snapshot(m), slices.Equal) {
		t.Fatal("weights or batch-norm statistics changed after a rejected step")
	}
	var state2 bytes.Buffer
	if err := opt.SaveState(&state2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(state.Bytes(), state2.Bytes()) || m.Steps() != 1 {
		t.Fatal("optimizer state or step count changed after a rejected step")
	}
}

// TestResumeMatchesUninterrupted trains 3 steps, saves model and optimizer
// as one checkpoint, trains 3 more; a model loaded from the checkpoint must
// reach the same weights bit for bit (dropout masks included).
func TestResumeMatchesUninterrupted(t *testing.T) {
	in := Shape{10, 10, 3}
	for _, tc := range []struct {
		spec string
		opt  func() Optimizer
	}{
		{"8-8/bn/d2@0.3/h16", func() Optimizer { return NewAdam(1e-3) }},
		{"8/d1/h16", func() Optimizer { o := NewSGD(0.01, 0.9); o.WeightDecay = 1e-3; return o }},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			sp, _ := ParseSpec(tc.spec)
			m, err := Build(sp, in, 3, 11)
			if err != nil {
				t.Fatal(err)
			}
			opt := tc.opt()
			r := rand.New(rand.NewPCG(4, 4))
			batches := make([][2]any, 6)
			for i := range batches {
				x, y := stripes(r, 5, in)
				batches[i] = [2]any{x, y}
			}
			train := func(m *Model, opt Optimizer, from, to int) {
				for _, b := range batches[from:to] {
					if _, _, err := m.TrainBatch(b[0].([]float32), b[1].([]int32), opt); err != nil {
						t.Fatal(err)
					}
				}
			}
			train(m, opt, 0, 3)
			var ckpt bytes.Buffer
			if err := m.Save(&ckpt); err != nil {
				t.Fatal(err)
			}
			if err := opt.SaveState(&ckpt); err != nil {
				t.Fatal(err)
			}
			train(m, opt, 3, 6)

			m2, err := Load(&ckpt)
			if err != nil {
				t.Fatal(err)
			}
			opt2 := tc.opt()
			if err := opt2.LoadState(&ckpt); err != nil {
				t.Fatal(err)
			}
			if m2.Steps() != 3 || opt2.Steps() != 3 {
				t.Fatalf("restored steps %d/%d, want 3", m2.Steps(), opt2.Steps())
			}
			train(m2, opt2, 3, 6)
			if !slices.EqualFunc(snapshot(m), snapshot(m2), slices.Equal) {
				t.Fatal("resumed training diverged from uninterrupted training")
			}
		})
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	sp, _ := ParseSpec("4/d1/h8")
	m, err := Build(sp, Shape{6, 6, 1}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flip := func(i int) []byte { b := slices.Clone(good); b[i] ^= 0x40; return b }
	var adam bytes.Buffer
	if err := NewAdam(1e-3).SaveState(&adam); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "header"},
		{"not a model", []byte("hello, this is not a model file at all"), "not a scour model"},
		{"optimizer file", adam.Bytes(), "not a scour model"},
		{"other version", func() []byte { b := slices.Clone(good); b[8] = 9; return b }(), "version 9"},
		{"flipped weight bit", flip(len(good) - 10), "checksum"},
		{"flipped spec bit", flip(30), "checksum"},
		{"truncated", good[:len(good)-7], "truncated"},
		{"huge length", func() []byte { b := slices.Clone(good); b[19] = 0x7f; return b }(), "claims"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(bytes.NewReader(tc.data))
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrFormat mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := Load(bytes.NewReader(good)); err != nil {
		t.Fatalf("good file: %v", err)
	}
	m.ps[0].w[3] = float32(math.NaN())
	var nan bytes.Buffer
	if err := m.Save(&nan); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(&nan); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("model with a NaN weight: %v", err)
	}
	if err := NewSGD(0.1, 0).LoadState(bytes.NewReader(adam.Bytes())); !errors.Is(err, ErrFormat) {
		t.Fatalf("SGD loading Adam state: %v", err)
	}
}

func TestOptimizerStateMustFitModel(t *testing.T) {
	in := Shape{6, 6, 1}
	a, _ := ParseSpec("4/d0/h8")
	b, _ := ParseSpec("4/d0/h9")
	ma, _ := Build(a, in, 2, 1)
	mb, _ := Build(b, in, 2, 1)
	x, y := stripes(rand.New(rand.NewPCG(1, 1)), 2, in)
	opt := NewAdam(1e-3)
	if _, _, err := ma.TrainBatch(x, y, opt); err != nil {
		t.Fatal(err)
	}
	before := snapshot(mb)
	if _, _, err := mb.TrainBatch(x, y, opt); err == nil {
		t.Fatal("optimizer state of one model accepted by another")
	}
	if !slices.EqualFunc(before, snapshot(mb), slices.Equal) {
		t.Fatal("rejected step changed the weights")
	}
}

func TestSeedDeterminesInit(t *testing.T) {
	sp, _ := ParseSpec("4-8/d1/h8")
	in := Shape{12, 12, 3}
	m1, _ := Build(sp, in, 2, 5)
	m2, _ := Build(sp, in, 2, 5)
	m3, _ := Build(sp, in, 2, 6)
	if !slices.EqualFunc(snapshot(m1), snapshot(m2), slices.Equal) {
		t.Fatal("same seed, different weights")
	}
	if slices.EqualFunc(snapshot(m1), snapshot(m3), slices.Equal) {
		t.Fatal("different seeds, same weights")
	}
	// Glorot uniform: conv1 kernel within sqrt(6/(27+36)), biases zero.
	limit := float32(math.Sqrt(6.0 / (27 + 36)))
	for _, v := range m1.ps[0].w {
		if v < -limit || v > limit {
			t.Fatalf("conv1 weight %v outside ±%v", v, limit)
		}
	}
	for _, v := range m1.ps[1].w {
		if v != 0 {
			t.Fatal("nonzero initial bias")
		}
	}
}
