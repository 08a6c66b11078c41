package nn

import (
	"fmt"
	"io"
	"math"
)

// Optimizer updates a model's weights from their gradients. Its state (Adam
// moments, SGD velocity, step count) can be saved and restored, so training
// resumes after a kill exactly as if it had not stopped. An optimizer
// belongs to one model; the first step after LoadState checks that the
// saved state fits that model's parameters.
type Optimizer interface {
	// Name is "adam" or "sgd".
	Name() string
	// Steps is the number of updates applied so far.
	Steps() int64
	// SaveState writes the optimizer's hyper-parameters and state.
	SaveState(w io.Writer) error
	// LoadState replaces the state with one written by SaveState of the
	// same kind of optimizer.
	LoadState(r io.Reader) error

	update(e *engine, ps []*param) error
}

// slot is the per-parameter state of an optimizer, named after the
// parameter it belongs to so that a mismatched restore is caught.
type slot struct {
	name string
	m, v []float32
}

// bindSlots returns one slot per trainable parameter, creating them on
// first use and checking restored ones against ps.
func bindSlots(slots []slot, ps []*param, second bool) ([]slot, error) {
	var train []*param
	for _, p := range ps {
		if p.g != nil {
			train = append(train, p)
		}
	}
	if slots == nil {
		slots = make([]slot, len(train))
		for i, p := range train {
			slots[i] = slot{name: p.name, m: make([]float32, len(p.w))}
			if second {
				slots[i].v = make([]float32, len(p.w))
			}
		}
		return slots, nil
	}
	if len(slots) != len(train) {
		return nil, fmt.Errorf("optimizer state has %d parameters, model has %d", len(slots), len(train))
	}
	for i, p := range train {
		if slots[i].name != p.name || len(slots[i].m) != len(p.w) {
			return nil, fmt.Errorf("optimizer state parameter %d is %s[%d], model has %s[%d]", i, slots[i].name, len(slots[i].m), p.name, len(p.w))
		}
	}
	return slots, nil
}

// Adam is Adam (Kingma & Ba) with PyTorch's placement of epsilon:
//
//	m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
//	w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
//
// (Keras adds eps to sqrt(v) before bias correction instead; the two differ
// only while v is tiny.) WeightDecay adds WeightDecay*w to the gradient,
// like torch.optim.Adam; with Decoupled it is applied to the weights
// directly (w -= lr*WeightDecay*w), like AdamW.
type Adam struct {
	LR, Beta1, Beta2, Eps float32
	WeightDecay           float32
	Decoupled             bool

	t     int64
	slots []slot
}

// NewAdam returns Adam with PyTorch's defaults: betas 0.9 and 0.999,
// eps 1e-8, no weight decay.
func NewAdam(lr float32) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
}

func (a *Adam) Name() string { return "adam" }
func (a *Adam) Steps() int64 { return a.t }

func (a *Adam) update(e *engine, ps []*param) error {
	slots, err := bindSlots(a.slots, ps, true)
	if err != nil {
		return err
	}
	a.slots = slots
	a.t++
	t := float64(a.t)
	bc1 := 1 - math.Pow(float64(a.Beta1), t)
	bc2 := 1 - math.Pow(float64(a.Beta2), t)
	k := &adamConsts{
		b1: a.Beta1, c1: 1 - a.Beta1, b2: a.Beta2, c2: 1 - a.Beta2,
		step: float32(float64(a.LR) / bc1), rbc2: float32(1 / math.Sqrt(bc2)), eps: a.Eps,
	}
	if a.Decoupled {
		k.wdd = a.LR * a.WeightDecay
	} else {
		k.wdc = a.WeightDecay
	}
	i := 0
	for _, p := range ps {
		if p.g == nil {
			continue
		}
		s := &slots[i]
		i++
		w, g, m, v := p.w, p.g, s.m, s.v
		e.split(len(w), func(_, lo, hi int) {
			adamStep(w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], k)
		})
	}
	return nil
}

// adamConsts are one Adam step's coefficients (the assembly reads them in
// this order):
//
//	g' = g + wdc*w;  w' = w - wdd*w
//	m = b1*m + c1*g';  v = b2*v + c2*g'^2
//	w' -= step * m / (sqrt(v)*rbc2 + eps)
type adamConsts struct {
	b1, c1, b2, c2, step, rbc2, eps, wdc, wdd float32
}

func adamStepGo(w, g, m, v []float32, k *adamConsts) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	for j, wj := range w {
		gj := g[j] + k.wdc*wj
		wj -= k.wdd * wj
		mj := k.b1*m[j] + k.c1*gj
		vj := k.b2*v[j] + k.c2*gj*gj
		m[j], v[j] = mj, vj
		w[j] = wj - k.step*mj/(float32(math.Sqrt(float64(vj)))*k.rbc2+k.eps)
	}
}

// SGD is stochastic gradient descent with PyTorch's momentum form
// (v = mu*v + g; w -= lr*v, or w -= lr*(g + mu*v) with Nesterov) and
// L2 weight decay added to the gradient.
type SGD struct {
	LR, Momentum, WeightDecay float32
	Nesterov                  bool

	t     int64
	slots []slot
}

// NewSGD returns SGD with the given learning rate and momentum (0 for none).
func NewSGD(lr, momentum float32) *SGD { return &SGD{LR: lr, Momentum: momentum} }

func (o *SGD) Name() string { return "sgd" }
func (o *SGD) Steps() int64 { return o.t }

func (o *SGD) update(e *engine, ps []*param) error {
	slots, err := bindSlots(o.slots, ps, false)
	if err != nil {
		return err
	}
	o.slots = slots
	o.t++
	lr, mu, wd, nest := o.LR, o.Momentum, o.WeightDecay, o.Nesterov
	i := 0
	for _, p := range ps {
		if p.g == nil {
			continue
		}
		s := &slots[i]
		i++
		w, g, v := p.w, p.g, s.m
		e.split(len(w), func(_, lo, hi int) {
			w, g, v := w[lo:hi], g[lo:hi], v[lo:hi]
			for j := range w {
				gj := g[j] + wd*w[j]
				if mu == 0 {
					w[j] -= lr * gj
					continue
				}
				v[j] = mu*v[j] + gj
				if nest {
					gj += mu * v[j]
				} else {
					gj = v[j]
				}
				w[j] -= lr * gj
			}
		})
	}
	return nil
}

var (
	_ Optimizer = (*Adam)(nil)
	_ Optimizer = (*SGD)(nil)
)
