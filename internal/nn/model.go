package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// Model is a network built from a Spec, with its weights. It is not safe
// for concurrent use: one goroutine trains or predicts at a time (each call
// uses all the model's threads).
type Model struct {
	spec    Spec
	in      Shape
	classes int
	seed    uint64
	step    uint64 // successful training steps; drives the dropout masks

	e      *engine
	layers []layer
	ps     []*param
	bns    []*batchNorm

	x, probs, dlogits []float32
}

// maxPredictBatch bounds the activations Predict and Evaluate hold at once.
const maxPredictBatch = 64

// Build makes the network described by spec for inputs of shape in and
// classes outputs, with weights initialised from seed (see the package
// documentation). It uses GOMAXPROCS threads; see SetThreads.
func Build(spec Spec, in Shape, classes int, seed uint64) (*Model, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if in.H < 1 || in.W < 1 || in.C < 1 || in.Size() > 1<<28 {
		return nil, fmt.Errorf("input shape %v: every side must be positive and the size under 2^28", in)
	}
	if classes < 2 {
		return nil, fmt.Errorf("%d classes: need at least 2", classes)
	}
	m := &Model{spec: spec, in: in, classes: classes, seed: seed, e: newEngine(0)}
	sh := in
	add := func(l layer) { m.layers = append(m.layers, l); sh = l.outShape() }
	for i, f := range spec.Conv {
		name := fmt.Sprintf("conv%d", i+1)
		if !spec.BatchNorm {
			cp, err := newConvPool(m.e, sh, f, spec.Kernel, spec.Same, 2, name)
			if err != nil {
				return nil, fmt.Errorf("block %d: %w", i+1, err)
			}
			add(cp)
			continue
		}
		c, err := newConv2D(m.e, sh, f, spec.Kernel, spec.Same, false, false, name)
		if err != nil {
			return nil, fmt.Errorf("block %d: %w", i+1, err)
		}
		add(c)
		bn := newBatchNorm(m.e, sh, fmt.Sprintf("bn%d", i+1))
		m.bns = append(m.bns, bn)
		add(bn)
		add(&relu{e: m.e, shape: sh})
		p, err := newMaxPool2D(m.e, sh, 2)
		if err != nil {
			return nil, fmt.Errorf("block %d: %w", i+1, err)
		}
		add(p)
	}
	if spec.GAP {
		add(&globalAvgPool{in: sh})
	} else {
		add(&flatten{in: sh})
	}
	drop := func() {
		if spec.Rate > 0 {
			add(&dropout{shape: sh, rate: spec.Rate, seed: seed, index: len(m.layers), step: &m.step})
		}
	}
	if spec.Dropout >= 1 {
		drop()
	}
	for i, h := range spec.Dense {
		d, err := newDense(m.e, sh, h, true, fmt.Sprintf("dense%d", i+1))
		if err != nil {
			return nil, err
		}
		add(d)
		if spec.Dropout >= 2 {
			drop()
		}
	}
	out, err := newDense(m.e, sh, classes, false, "logits")
	if err != nil {
		return nil, err
	}
	add(out)
	for _, l := range m.layers {
		m.ps = append(m.ps, l.params()...)
	}
	m.init()
	return m, nil
}

// init draws Glorot-uniform kernels in layer order from one PCG stream.
func (m *Model) init() {
	r := rand.New(rand.NewPCG(m.seed, 0x5c0c1a55))
	for _, l := range m.layers {
		w, fanIn, fanOut, ok := kernelOf(l)
		if !ok {
			continue
		}
		limit := math.Sqrt(6 / float64(fanIn+fanOut))
		for i := range w.w {
			w.w[i] = float32((r.Float64()*2 - 1) * limit)
		}
	}
}

// ZeroWeights sets every trainable weight to zero: the usual start of a
// convex fit such as softmax regression (whose optimum does not depend on
// it), where the first L-BFGS iterations then show the loss falling from
// log(classes). A network with hidden layers needs its random start to
// break the symmetry between units.
func (m *Model) ZeroWeights() {
	for _, p := range m.ps {
		if p.g != nil {
			clear(p.w)
		}
	}
}

// kernelOf returns a layer's weight matrix and its Glorot fans (for a
// convolution, k*k times the channels in and out, as Keras counts them).
func kernelOf(l layer) (w *param, fanIn, fanOut int, ok bool) {
	switch l := l.(type) {
	case *convPool:
		return kernelOf(l.c)
	case *conv2D:
		return l.w, l.k * l.k * l.in.C, l.k * l.k * l.out.C, true
	case *dense:
		return l.w, l.in, l.out, true
	}
	return nil, 0, 0, false
}

// Spec returns the spec the model was built from.
func (m *Model) Spec() Spec { return m.spec }

// Input returns the shape of one input example.
func (m *Model) Input() Shape { return m.in }

// Classes returns the number of outputs.
func (m *Model) Classes() int { return m.classes }

// Steps returns the number of successful training steps so far.
func (m *Model) Steps() int64 { return int64(m.step) }

// SetThreads sets how many goroutines the model's layers use (< 1 means
// GOMAXPROCS).
func (m *Model) SetThreads(n int) {
	ks := m.e.ks
	*m.e = *newEngine(n)
	m.e.setKernels(ks)
}

// SetKernel switches the SGEMM kernel set ("avx512", "avx2", "go" or
// "auto"), for comparisons and to work around a suspected kernel bug.
func (m *Model) SetKernel(name string) error {
	ks := defaultKernels()
	if name != "auto" && name != "" {
		var err error
		if ks, err = lookupKernels(name); err != nil {
			return err
		}
	}
	m.e.setKernels(ks)
	return nil
}

// Kernel is the name of the kernel set the model uses.
func (m *Model) Kernel() string { return m.e.ks.name }

// NumParams is the number of trainable weights.
func (m *Model) NumParams() int {
	n := 0
	for _, p := range m.ps {
		if p.g != nil {
			n += len(p.w)
		}
	}
	return n
}

// Summary lists the layers with their output shapes, one per line.
func (m *Model) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "input %v\n", m.in)
	for _, l := range m.layers {
		fmt.Fprintf(&b, "%-28s -> %v\n", l.describe(), l.outShape())
	}
	fmt.Fprintf(&b, "%d trainable parameters", m.NumParams())
	return b.String()
}

// FLOPsPerExample estimates the multiply-adds times two of one forward
// pass, for throughput figures. Training costs about three times as much
// (a bit less: the first layer needs no input gradient).
func (m *Model) FLOPsPerExample() (forward, train float64) {
	first := true
	for _, l := range m.layers {
		var f float64
		if cp, ok := l.(*convPool); ok {
			l = cp.c
		}
		switch l := l.(type) {
		case *conv2D:
			f = 2 * float64(l.out.H*l.out.W*l.out.C) * float64(l.k*l.k*l.in.C)
		case *dense:
			f = 2 * float64(l.in) * float64(l.out)
		default:
			continue
		}
		forward += f
		train += 3 * f
		if first {
			train -= f
			first = false
		}
	}
	return forward, train
}

func (m *Model) checkBatch(x []float32, y []int32, n int) error {
	if n < 1 {
		return fmt.Errorf("empty batch")
	}
	if len(x) != n*m.in.Size() {
		return fmt.Errorf("input has %d floats, want %d (%d examples of %v)", len(x), n*m.in.Size(), n, m.in)
	}
	for i, c := range y {
		if c < 0 || int(c) >= m.classes {
			return fmt.Errorf("label %d of example %d out of range [0, %d)", c, i, m.classes)
		}
	}
	if !finiteSum(x) {
		return fmt.Errorf("input holds NaN or infinite values: %w", ErrNonFinite)
	}
	return nil
}

func (m *Model) forward(x []float32, n int, train bool) []float32 {
	// The input is copied: layers may keep a reference until backward and
	// the caller may reuse its buffer.
	m.x = resize(m.x, len(x))
	copy(m.x, x)
	h := m.x
	for _, l := range m.layers {
		h = l.forward(h, n, train)
	}
	return h
}

// TrainBatch runs one training step on n = len(y) examples (x holds them
// NHWC, n*H*W*C floats) and returns the batch's mean loss and accuracy
// measured during the step (with dropout active). A NaN or infinite loss or
// gradient returns an error wrapping ErrNonFinite and changes nothing.
func (m *Model) TrainBatch(x []float32, y []int32, opt Optimizer) (loss, acc float64, err error) {
	n := len(y)
	if err := m.checkBatch(x, y, n); err != nil {
		return 0, 0, fmt.Errorf("train batch: %w", err)
	}
	if opt == nil {
		return 0, 0, errors.New("train batch: nil optimizer")
	}
	logits := m.forward(x, n, true)
	m.probs = resize(m.probs, n*m.classes)
	m.dlogits = resize(m.dlogits, n*m.classes)
	loss, correct := softmaxCE(logits, y, n, m.classes, m.probs, m.dlogits)
	if !finite(loss) {
		m.discard()
		return loss, 0, fmt.Errorf("train batch: loss is %v: %w", loss, ErrNonFinite)
	}
	g := m.dlogits
	first := m.firstWithParams()
	for i := len(m.layers) - 1; i >= first; i-- {
		g = m.layers[i].backward(g, n, i > first)
	}
	for _, p := range m.ps {
		if p.g != nil && !finiteSum(p.g) {
			m.discard()
			return loss, 0, fmt.Errorf("train batch: gradient of %s: %w", p.name, ErrNonFinite)
		}
	}
	if err := opt.update(m.e, m.ps); err != nil {
		m.discard()
		return loss, 0, fmt.Errorf("train batch: %w", err)
	}
	for _, bn := range m.bns {
		bn.commit()
	}
	m.step++
	return loss, float64(correct) / float64(n), nil
}

func (m *Model) discard() {
	for _, bn := range m.bns {
		bn.pending = false
	}
}

// finiteSum reports whether all of v is finite: x*0 is 0 for finite x and
// NaN for NaN or Inf, and a sum keeps a NaN. Four sums run in parallel.
func finiteSum(v []float32) bool {
	var s0, s1, s2, s3 float32
	for len(v) >= 4 {
		s0 += v[0] * 0
		s1 += v[1] * 0
		s2 += v[2] * 0
		s3 += v[3] * 0
		v = v[4:]
	}
	for _, x := range v {
		s0 += x * 0
	}
	return s0+s1+s2+s3 == 0
}

// Predict returns the class probabilities of n examples (n*classes floats,
// row by row), in inference mode (no dropout, batch norm with running
// statistics).
func (m *Model) Predict(x []float32, n int) ([]float32, error) {
	if err := m.checkBatch(x, nil, n); err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	out := make([]float32, n*m.classes)
	size := m.in.Size()
	for lo := 0; lo < n; lo += maxPredictBatch {
		k := min(maxPredictBatch, n-lo)
		logits := m.forward(x[lo*size:(lo+k)*size], k, false)
		softmaxRows(logits, out[lo*m.classes:(lo+k)*m.classes], k, m.classes)
	}
	return out, nil
}

// Evaluate returns the mean loss and accuracy on n = len(y) examples in
// inference mode.
func (m *Model) Evaluate(x []float32, y []int32) (loss, acc float64, err error) {
	n := len(y)
	if err := m.checkBatch(x, y, n); err != nil {
		return 0, 0, fmt.Errorf("evaluate: %w", err)
	}
	size := m.in.Size()
	var sum float64
	correct := 0
	for lo := 0; lo < n; lo += maxPredictBatch {
		k := min(maxPredictBatch, n-lo)
		logits := m.forward(x[lo*size:(lo+k)*size], k, false)
		m.probs = resize(m.probs, k*m.classes)
		l, c := softmaxCE(logits, y[lo:lo+k], k, m.classes, m.probs, nil)
		sum += l * float64(k)
		correct += c
	}
	return sum / float64(n), float64(correct) / float64(n), nil
}

func softmaxRows(logits, probs []float32, n, classes int) {
	for i := range n {
		z := logits[i*classes : (i+1)*classes]
		p := probs[i*classes : (i+1)*classes]
		mx := z[0]
		for _, v := range z {
			mx = max(mx, v)
		}
		var sum float64
		for j, v := range z {
			e := math.Exp(float64(v - mx))
			p[j] = float32(e)
			sum += e
		}
		for j := range p {
			p[j] = float32(float64(p[j]) / sum)
		}
	}
}

// firstWithParams is the index of the lowest layer with parameters: the
// backward pass stops there, since the gradient with respect to the
// input of a layer below it would change no parameter. For a head of one
// dense layer behind a flatten, that gradient (a transposed batch of the
// whole input width) was most of the cost of a fit.
func (m *Model) firstWithParams() int {
	for i, l := range m.layers {
		if len(l.params()) > 0 {
			return i
		}
	}
	return len(m.layers)
}
