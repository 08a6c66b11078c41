package nn

import (
	"fmt"
	"math"
)

// convPool is Conv2D + ReLU + MaxPool2D(p) computed p conv rows at a
// time (and only the columns the pooling reads), so the full-resolution conv output (the largest tensor of the
// network, 65 MB for the first layer of the reference model at batch 32)
// never leaves the cache and is never stored. Backward needs only the pooled
// output and each window's arg-max: the ReLU derivative at the winner is
// (pooled > 0), because the window maximum of ReLU outputs is positive
// exactly when the winning pre-activation is. Ties go to the first element
// in the window, as in PyTorch.
type convPool struct {
	c       *conv2D
	p       int
	out     Shape
	y, dx   []float32
	arg     []uint8
	rowbufs [][]float32
	grads   [][]float32 // per worker: one image's conv-output gradient
}

func newConvPool(e *engine, in Shape, filters, k int, same bool, p int, name string) (*convPool, error) {
	c, err := newConv2D(e, in, filters, k, same, true, true, name)
	if err != nil {
		return nil, err
	}
	if p < 1 || p > 15 {
		return nil, fmt.Errorf("max pool %d: size must be 1..15", p)
	}
	out := Shape{c.out.H / p, c.out.W / p, filters}
	if out.H < 1 || out.W < 1 {
		return nil, fmt.Errorf("max pool %dx%d: conv output %v too small", p, p, c.out)
	}
	return &convPool{c: c, p: p, out: out}, nil
}

func (l *convPool) describe() string {
	return fmt.Sprintf("%s +MaxPool2D %dx%d", l.c.describe(), l.p, l.p)
}

func (l *convPool) outShape() Shape  { return l.out }
func (l *convPool) params() []*param { return l.c.params() }

func (l *convPool) forward(x []float32, n int, train bool) []float32 {
	c, p := l.c, l.p
	c.x = c.padded(x, n)
	c.packWeights()
	l.y = resize(l.y, n*l.out.Size())
	if cap(l.arg) < len(l.y) {
		l.arg = make([]uint8, len(l.y))
	}
	l.arg = l.arg[:len(l.y)]
	ws := c.workers()
	if len(l.rowbufs) != len(ws) {
		l.rowbufs = make([][]float32, len(ws))
		l.grads = make([][]float32, len(ws))
	}
	rowLen := c.out.W * c.out.C
	ch := l.out.C
	c.e.split(n, func(w, lo, hi int) {
		buf := resize(l.rowbufs[w], p*rowLen)
		l.rowbufs[w] = buf
		for img := lo; img < hi; img++ {
			for py := range l.out.H {
				c.forwardRows(ws[w].s, img, py*p, py*p+p, p*l.out.W, buf)
				o := (img*l.out.H + py) * l.out.W * ch
				y, arg := l.y[o:o+l.out.W*ch], l.arg[o:o+l.out.W*ch]
				for q := range p * p {
					src := buf[(q/p)*rowLen+(q%p)*ch:]
					if q == 0 {
						for px := range l.out.W {
							copy(y[px*ch:px*ch+ch], src[px*p*ch:px*p*ch+ch])
						}
						clear(arg)
						continue
					}
					maxArgRows(y, arg, src, ch, l.out.W, p*ch, uint8(q))
				}
			}
		}
	})
	return l.y
}

func (l *convPool) backward(dy []float32, n int, needDX bool) []float32 {
	c, p := l.c, l.p
	if needDX {
		c.rotatedWeights()
		l.dx = resize(l.dx, n*c.in.Size())
	}
	ws := c.workers()
	ch := l.out.C
	rowLen := c.out.W * ch
	c.e.split(n, func(w, lo, hi int) {
		wk := &ws[w]
		wk.zeroGrads(c)
		g := resize(l.grads[w], c.out.Size())
		l.grads[w] = g
		for img := lo; img < hi; img++ {
			clear(g)
			base := img * l.out.Size()
			for i := 0; i < l.out.Size(); i += ch {
				pos := i / ch
				py, px := pos/l.out.W, pos%l.out.W
				d, y, arg := dy[base+i:base+i+ch], l.y[base+i:base+i+ch], l.arg[base+i:base+i+ch]
				for j, q := range arg {
					if y[j] <= 0 {
						continue
					}
					g[(py*p+int(q)/p)*rowLen+(px*p+int(q)%p)*ch+j] = d[j]
					wk.db[j] += d[j]
				}
			}
			c.accumulateDW(wk, img, g)
			if needDX {
				c.dataGrad(wk, g, l.dx[img*c.in.Size():(img+1)*c.in.Size()])
			}
		}
	})
	c.sumGrads(ws, n)
	if !needDX {
		return nil
	}
	return l.dx
}

// maxArgRowsGo is the portable maxArgRows: for npix pixels of ch channels
// (candidates vstride floats apart in v) it sets y, arg = v, q where v > y.
// It compares order-preserving integer keys of the float bits, branch-free:
// on real data the comparison is a coin flip, and mispredicted branches cost
// more than the work. (It differs from the float comparison only on NaN and
// on -0 against +0, which are equal as numbers.)
func maxArgRowsGo(y []float32, arg []uint8, v []float32, ch, npix, vstride int, q uint8) {
	key := func(b uint32) int64 { return int64(int32(b ^ uint32(int32(b)>>31)&0x7fffffff)) }
	for px := range npix {
		yo, ao, vo := y[px*ch:(px+1)*ch], arg[px*ch:(px+1)*ch], v[px*vstride:px*vstride+ch]
		for j, old := range yo {
			ob, vb := math.Float32bits(old), math.Float32bits(vo[j])
			gt := uint32((key(ob) - key(vb)) >> 63) // all ones when v > y
			yo[j] = math.Float32frombits(ob ^ (ob^vb)&gt)
			ao[j] ^= (ao[j] ^ q) & uint8(gt)
		}
	}
}
