package nn

import "math"

// batchNorm normalises each channel over the batch and all pixels, with
// Keras's defaults: momentum 0.99 for the running statistics, epsilon 1e-3,
// and the biased (1/N) batch variance in both the normalisation and the
// running variance. Running statistics are only committed after the whole
// training step succeeded (commit), so a step rejected for a NaN loss leaves
// them untouched.
type batchNorm struct {
	e                       *engine
	shape                   Shape
	gamma, beta, mean, vari *param
	momentum, eps           float32
	y, xhat, dx             []float32
	bmean, bvar, invstd     []float32
	pending                 bool
}

func newBatchNorm(e *engine, shape Shape, name string) *batchNorm {
	c := shape.C
	ones := func() []float32 {
		v := make([]float32, c)
		for i := range v {
			v[i] = 1
		}
		return v
	}
	return &batchNorm{
		e: e, shape: shape, momentum: 0.99, eps: 1e-3,
		gamma:  &param{name: name + ".gamma", w: ones(), g: make([]float32, c)},
		beta:   &param{name: name + ".beta", w: make([]float32, c), g: make([]float32, c)},
		mean:   &param{name: name + ".running_mean", w: make([]float32, c)},
		vari:   &param{name: name + ".running_var", w: ones()},
		bmean:  make([]float32, c),
		bvar:   make([]float32, c),
		invstd: make([]float32, c),
	}
}

func (b *batchNorm) describe() string { return "BatchNorm" }
func (b *batchNorm) outShape() Shape  { return b.shape }
func (b *batchNorm) params() []*param { return []*param{b.gamma, b.beta, b.mean, b.vari} }

// sums adds f(row, sums) over all rows, split across the workers, each
// with private float64 sums of c channels, and returns the total.
func (b *batchNorm) sums(rows, k int, f func(r int, acc []float64)) []float64 {
	t := max(1, min(b.e.threads, rows))
	part := make([][]float64, t)
	b.e.split(rows, func(w, lo, hi int) {
		acc := make([]float64, k*b.shape.C)
		for r := lo; r < hi; r++ {
			f(r, acc)
		}
		part[w] = acc
	})
	total := part[0]
	for _, p := range part[1:] {
		for j, v := range p {
			total[j] += v
		}
	}
	return total
}

func (b *batchNorm) forward(x []float32, n int, train bool) []float32 {
	c := b.shape.C
	size := n * b.shape.Size()
	rows := size / c
	b.y = resize(b.y, size)
	mean, vari := b.mean.w, b.vari.w
	if train {
		// Two passes in float64: one-pass E[x^2]-E[x]^2 cancels badly on
		// large activations.
		sum := b.sums(rows, 1, func(r int, acc []float64) {
			for j, v := range x[r*c : (r+1)*c] {
				acc[j] += float64(v)
			}
		})
		for j := range c {
			b.bmean[j] = float32(sum[j] / float64(rows))
		}
		sq := b.sums(rows, 1, func(r int, acc []float64) {
			for j, v := range x[r*c : (r+1)*c] {
				d := float64(v - b.bmean[j])
				acc[j] += d * d
			}
		})
		for j := range c {
			b.bvar[j] = float32(sq[j] / float64(rows))
		}
		mean, vari = b.bmean, b.bvar
		b.pending = true
		b.xhat = resize(b.xhat, size)
	}
	for j := range c {
		b.invstd[j] = float32(1 / math.Sqrt(float64(vari[j])+float64(b.eps)))
	}
	b.e.split(rows, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*c:(r+1)*c], b.y[r*c:(r+1)*c]
			for j, v := range xr {
				h := (v - mean[j]) * b.invstd[j]
				if train {
					b.xhat[r*c+j] = h
				}
				yr[j] = h*b.gamma.w[j] + b.beta.w[j]
			}
		}
	})
	return b.y
}

func (b *batchNorm) backward(dy []float32, n int, needDX bool) []float32 {
	c := b.shape.C
	size := n * b.shape.Size()
	rows := size / c
	// Sums of dy (first c) and dy*xhat (next c).
	s := b.sums(rows, 2, func(r int, acc []float64) {
		for j, g := range dy[r*c : (r+1)*c] {
			acc[j] += float64(g)
			acc[c+j] += float64(g) * float64(b.xhat[r*c+j])
		}
	})
	sdy, sdyx := s[:c], s[c:]
	for j := range c {
		b.beta.g[j] = float32(sdy[j])
		b.gamma.g[j] = float32(sdyx[j])
	}
	if !needDX {
		return nil
	}
	b.dx = resize(b.dx, size)
	inv := 1 / float64(rows)
	k1, k2, k3 := make([]float32, c), make([]float32, c), make([]float32, c)
	for j := range c {
		// dx = gamma*invstd*(dy - mean(dy) - xhat*mean(dy*xhat))
		k1[j] = b.gamma.w[j] * b.invstd[j]
		k2[j] = float32(sdy[j] * inv)
		k3[j] = float32(sdyx[j] * inv)
	}
	b.e.split(rows, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			g, h, d := dy[r*c:(r+1)*c], b.xhat[r*c:(r+1)*c], b.dx[r*c:(r+1)*c]
			for j := range d {
				d[j] = k1[j] * (g[j] - k2[j] - h[j]*k3[j])
			}
		}
	})
	return b.dx
}

// commit folds the last training batch's statistics into the running ones.
func (b *batchNorm) commit() {
	if !b.pending {
		return
	}
	m := b.momentum
	for j := range b.shape.C {
		b.mean.w[j] = m*b.mean.w[j] + (1-m)*b.bmean[j]
		b.vari.w[j] = m*b.vari.w[j] + (1-m)*b.bvar[j]
	}
	b.pending = false
}
