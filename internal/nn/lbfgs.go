package nn

import (
	"errors"
	"fmt"
	"math"
)

// LBFGS fits a model to a whole data set at once with limited-memory BFGS
// (Nocedal & Wright, algorithm 7.4) and a backtracking Armijo line search.
// It minimises the mean softmax cross-entropy plus L2/2 times the sum of the
// squared kernel weights (dense and conv kernels, not biases: the penalty
// of scikit-learn's LogisticRegression with C = 1/(L2*n)). For a convex
// problem such as softmax regression it converges to the optimum in a few
// dozen iterations, where minibatch Adam wanders around it.
//
// The objective must be deterministic, so models with dropout or batch norm
// are refused. The search runs in float64; the model computes in float32,
// so the fit stops once a step no longer lowers the objective in float32.
type LBFGS struct {
	L2      float64 // penalty weight on the kernels (>= 0)
	MaxIter int     // iterations at most [300]
	Memory  int     // correction pairs kept [10]
	GradTol float64 // converged when no gradient component exceeds it [1e-5]
	// LossTol: converged when an iteration lowers the objective by at most
	// LossTol*max(|objective|, 1) [1e-9].
	LossTol float64
}

// LBFGSIter describes the model after an iteration of LBFGS.Fit.
type LBFGSIter struct {
	Iter      int     // 1-based; 0 is the starting point
	Objective float64 // Loss plus the L2 penalty
	Loss, Acc float64 // mean cross-entropy and accuracy on the fitted data
	GradMax   float64 // largest absolute component of the objective's gradient
	Evals     int     // loss-and-gradient evaluations so far
}

// LBFGSResult is where a fit ended and why.
type LBFGSResult struct {
	Last      LBFGSIter
	Converged bool   // false when MaxIter stopped it
	Reason    string // in words, for logs
}

// fullBatchChunk bounds the activations a full-batch gradient holds at once.
const fullBatchChunk = 512

// Fit runs L-BFGS from the model's current weights on the n = len(y)
// examples in x. each (may be nil) is called after every iteration with the
// model holding the new weights, so it can evaluate them on other data; an
// error from it stops the fit and is returned. On return the model holds
// the weights of the last iteration.
func (o LBFGS) Fit(m *Model, x []float32, y []int32, each func(LBFGSIter) error) (LBFGSResult, error) {
	if o.MaxIter <= 0 {
		o.MaxIter = 300
	}
	if o.Memory <= 0 {
		o.Memory = 10
	}
	if o.GradTol <= 0 {
		o.GradTol = 1e-5
	}
	if o.LossTol <= 0 {
		o.LossTol = 1e-9
	}
	if !(o.L2 >= 0) || math.IsInf(o.L2, 0) {
		return LBFGSResult{}, fmt.Errorf("lbfgs: L2 %v must be finite and >= 0", o.L2)
	}
	if len(m.bns) > 0 {
		return LBFGSResult{}, errors.New("lbfgs: the model has batch norm, whose batch statistics make the objective change between evaluations; train it with TrainBatch")
	}
	for _, l := range m.layers {
		if d, ok := l.(*dropout); ok && d.rate > 0 {
			return LBFGSResult{}, errors.New("lbfgs: the model has dropout, which makes the objective random; train it with TrainBatch")
		}
	}
	if err := m.checkBatch(x, y, len(y)); err != nil {
		return LBFGSResult{}, fmt.Errorf("lbfgs: %w", err)
	}
	f := newFlatObjective(m, x, y, o.L2)
	w := f.get()
	g := make([]float64, len(w))
	cur, err := f.eval(w, g)
	if err != nil {
		return LBFGSResult{Last: cur}, err
	}
	res := LBFGSResult{Last: cur}
	if cur.GradMax <= o.GradTol {
		res.Converged, res.Reason = true, "the starting point is already optimal"
		return res, nil
	}
	var ss, ys [][]float64
	var rhos []float64
	alpha := make([]float64, o.Memory)
	d := make([]float64, len(w))
	wNew := make([]float64, len(w))
	gNew := make([]float64, len(w))
	wTry := make([]float64, len(w))
	gTry := make([]float64, len(w))
	for it := 1; it <= o.MaxIter; it++ {
		// Two-loop recursion: d = -H g.
		copy(d, g)
		for i := len(ss) - 1; i >= 0; i-- {
			alpha[i] = rhos[i] * dot(ss[i], d)
			axpy(-alpha[i], ys[i], d)
		}
		if k := len(ss) - 1; k >= 0 {
			scale(dot(ss[k], ys[k])/dot(ys[k], ys[k]), d)
		}
		for i := range ss {
			b := rhos[i] * dot(ys[i], d)
			axpy(alpha[i]-b, ss[i], d)
		}
		scale(-1, d)
		gd := dot(g, d)
		step := 1.0
		fresh := len(ss) == 0 || gd >= 0
		if fresh {
			// No curvature yet, or a direction that does not descend
			// (rounding): start over from steepest descent.
			ss, ys, rhos = ss[:0], ys[:0], rhos[:0]
			copy(d, g)
			scale(-1, d)
			gd = dot(g, d)
			step = math.Min(1, 1/math.Sqrt(-gd))
		}
		// Backtracking Armijo search with quadratic interpolation.
		var next LBFGSIter
		accepted := false
		for try := 0; try < 40; try++ {
			copy(wNew, w)
			axpy(step, d, wNew)
			next, err = f.eval(wNew, gNew)
			if err != nil && !errors.Is(err, ErrNonFinite) {
				return res, err
			}
			if err == nil && next.Objective <= cur.Objective+1e-4*step*gd {
				accepted = true
				break
			}
			shrink := 0.5
			if err == nil {
				if q := -gd * step / (2 * (next.Objective - cur.Objective - gd*step)); q > 0.1 && q < 0.5 {
					shrink = q
				}
			} else {
				shrink = 0.1
			}
			step *= shrink
		}
		if accepted && fresh {
			// A steepest-descent step has no curvature to size it and
			// often overshoots the minimum along the line: go to the
			// minimum of the parabola through f(0), f'(0) and f(step)
			// when it lies short of the step.
			if q := -gd * step * step / (2 * (next.Objective - cur.Objective - gd*step)); q > 0 && q < 0.8*step {
				copy(wTry, w)
				axpy(q, d, wTry)
				alt, err := f.eval(wTry, gTry)
				if err != nil && !errors.Is(err, ErrNonFinite) {
					return res, err
				}
				if err == nil && alt.Objective < next.Objective {
					next, step = alt, q
					copy(wNew, wTry)
					copy(gNew, gTry)
				}
			}
			f.set(wNew)
		}
		if !accepted {
			// The model is left at w, the last accepted point.
			f.set(w)
			res.Converged, res.Reason = true, "no step lowers the objective any further at float32 precision"
			return res, nil
		}
		s := make([]float64, len(w))
		yv := make([]float64, len(w))
		for i := range w {
			s[i] = wNew[i] - w[i]
			yv[i] = gNew[i] - g[i]
		}
		// Keep the pair only with positive curvature, as BFGS needs (a
		// non-convex model can violate it).
		if sy := dot(s, yv); sy > 1e-10*dot(yv, yv) {
			if len(ss) == o.Memory {
				ss, ys, rhos = ss[1:], ys[1:], rhos[1:]
			}
			ss, ys, rhos = append(ss, s), append(ys, yv), append(rhos, 1/sy)
		}
		prev := cur
		next.Iter, next.Evals = it, f.evals
		cur = next
		w, wNew = wNew, w
		g, gNew = gNew, g
		res.Last = cur
		if each != nil {
			if err := each(cur); err != nil {
				return res, err
			}
		}
		switch {
		case cur.GradMax <= o.GradTol:
			res.Converged, res.Reason = true, fmt.Sprintf("gradient below %g", o.GradTol)
			return res, nil
		case prev.Objective-cur.Objective <= o.LossTol*math.Max(1, math.Abs(cur.Objective)):
			res.Converged, res.Reason = true, "the objective stopped decreasing"
			return res, nil
		}
	}
	res.Reason = fmt.Sprintf("stopped at the limit of %d iterations", o.MaxIter)
	return res, nil
}

// flatObjective sees a model's trainable weights as one float64 vector.
type flatObjective struct {
	m     *Model
	x     []float32
	y     []int32
	l2    float64
	ps    []*param
	kern  []bool // ps[i] is a kernel, which the L2 penalty applies to
	evals int
}

func newFlatObjective(m *Model, x []float32, y []int32, l2 float64) *flatObjective {
	kernels := map[*param]bool{}
	for _, l := range m.layers {
		if w, _, _, ok := kernelOf(l); ok {
			kernels[w] = true
		}
	}
	f := &flatObjective{m: m, x: x, y: y, l2: l2}
	for _, p := range m.ps {
		if p.g != nil {
			f.ps = append(f.ps, p)
			f.kern = append(f.kern, kernels[p])
		}
	}
	return f
}

func (f *flatObjective) get() []float64 {
	var w []float64
	for _, p := range f.ps {
		for _, v := range p.w {
			w = append(w, float64(v))
		}
	}
	return w
}

func (f *flatObjective) set(w []float64) {
	off := 0
	for _, p := range f.ps {
		for j := range p.w {
			p.w[j] = float32(w[off+j])
		}
		off += len(p.w)
	}
}

// eval sets the weights to w and returns the objective there, with its
// gradient in g.
func (f *flatObjective) eval(w, g []float64) (LBFGSIter, error) {
	f.set(w)
	f.evals++
	loss, acc, err := f.m.fullGradient(f.x, f.y, f.ps, g)
	it := LBFGSIter{Loss: loss, Acc: acc, Evals: f.evals}
	if err != nil {
		return it, err
	}
	var pen float64
	off := 0
	for i, p := range f.ps {
		if f.kern[i] && f.l2 > 0 {
			for j := range p.w {
				v := w[off+j]
				pen += v * v
				g[off+j] += f.l2 * v
			}
		}
		off += len(p.w)
	}
	it.Objective = loss + f.l2/2*pen
	for _, v := range g {
		it.GradMax = math.Max(it.GradMax, math.Abs(v))
	}
	if !finite(it.Objective) || !finite(it.GradMax) {
		return it, fmt.Errorf("lbfgs: objective %v: %w", it.Objective, ErrNonFinite)
	}
	return it, nil
}

// fullGradient returns the mean loss and accuracy over all n = len(y)
// examples in inference mode, and the gradient of that mean loss with
// respect to ps (in order, flattened) in g.
func (m *Model) fullGradient(x []float32, y []int32, ps []*param, g []float64) (loss, acc float64, err error) {
	n := len(y)
	size := m.in.Size()
	clear(g)
	correct := 0
	first := m.firstWithParams()
	for lo := 0; lo < n; lo += fullBatchChunk {
		k := min(fullBatchChunk, n-lo)
		logits := m.forward(x[lo*size:(lo+k)*size], k, false)
		m.probs = resize(m.probs, k*m.classes)
		m.dlogits = resize(m.dlogits, k*m.classes)
		l, c := softmaxCE(logits, y[lo:lo+k], k, m.classes, m.probs, m.dlogits)
		if !finite(l) {
			return l, 0, fmt.Errorf("loss is %v: %w", l, ErrNonFinite)
		}
		loss += l * float64(k)
		correct += c
		d := m.dlogits
		for i := len(m.layers) - 1; i >= first; i-- {
			d = m.layers[i].backward(d, k, i > first)
		}
		// softmaxCE's gradient is of the chunk's mean; weigh it by the
		// chunk's share of the whole.
		wt := float64(k) / float64(n)
		off := 0
		for _, p := range ps {
			for j, v := range p.g {
				g[off+j] += wt * float64(v)
			}
			off += len(p.g)
		}
	}
	return loss / float64(n), float64(correct) / float64(n), nil
}

func dot(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

// axpy is y += a*x.
func axpy(a float64, x, y []float64) {
	for i, v := range x {
		y[i] += a * v
	}
}

func scale(a float64, x []float64) {
	for i := range x {
		x[i] *= a
	}
}

// FoldStandardization rewrites the first layer so that the model applied
// to x gives what it gave for the standardised input (x - mean) / std, one
// mean and std per input feature:
//
//	W'[i][j] = W[i][j] / std[i]
//	b'[j]    = b[j] - Σ_i W[i][j] * mean[i] / std[i]
//
// A model trained on standardised inputs thus becomes one that takes raw
// inputs, with no extra layer for an exporter to know about. Only models
// whose first weighted layer is dense (after Flatten) can fold it: a
// convolution's zero padding would not see the shift.
func (m *Model) FoldStandardization(mean, std []float32) error {
	size := m.in.Size()
	if len(mean) != size || len(std) != size {
		return fmt.Errorf("fold standardization: %d means and %d deviations for %d inputs", len(mean), len(std), size)
	}
	for i, s := range std {
		if !(s > 0) || math.IsInf(float64(s), 0) || !finite(float64(mean[i])) {
			return fmt.Errorf("fold standardization: feature %d has mean %v and deviation %v; deviations must be positive and finite", i, mean[i], s)
		}
	}
	var d *dense
	for _, l := range m.layers {
		if l, ok := l.(*dense); ok {
			d = l
			break
		}
		if _, ok := l.(*flatten); !ok {
			return fmt.Errorf("fold standardization: the first layer with weights must be dense, not %s", l.describe())
		}
	}
	if d == nil {
		return errors.New("fold standardization: the model has no dense layer")
	}
	shift := make([]float64, d.out)
	for i := range d.in {
		row := d.w.w[i*d.out : (i+1)*d.out]
		for j, v := range row {
			scaled := float64(v) / float64(std[i])
			row[j] = float32(scaled)
			shift[j] += scaled * float64(mean[i])
		}
	}
	for j := range d.b.w {
		d.b.w[j] = float32(float64(d.b.w[j]) - shift[j])
	}
	return nil
}
