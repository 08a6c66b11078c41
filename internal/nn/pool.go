package nn

import "fmt"

// maxPool2D takes the maximum over p x p windows with stride p, dropping
// rows and columns that do not fill a window (Keras "valid" pooling). It
// remembers which element of each window won, so backward is a scatter.
type maxPool2D struct {
	e       *engine
	in, out Shape
	p       int
	y, dx   []float32
	arg     []uint8
}

func newMaxPool2D(e *engine, in Shape, p int) (*maxPool2D, error) {
	if p < 1 || p > 15 {
		return nil, fmt.Errorf("max pool %d: size must be 1..15", p)
	}
	out := Shape{in.H / p, in.W / p, in.C}
	if out.H < 1 || out.W < 1 {
		return nil, fmt.Errorf("max pool %dx%d: input %v too small", p, p, in)
	}
	return &maxPool2D{e: e, in: in, out: out, p: p}, nil
}

func (m *maxPool2D) describe() string { return fmt.Sprintf("MaxPool2D %dx%d", m.p, m.p) }
func (m *maxPool2D) outShape() Shape  { return m.out }
func (m *maxPool2D) params() []*param { return nil }

func (m *maxPool2D) forward(x []float32, n int, train bool) []float32 {
	m.y = resize(m.y, n*m.out.Size())
	if cap(m.arg) < len(m.y) {
		m.arg = make([]uint8, len(m.y))
	}
	m.arg = m.arg[:len(m.y)]
	ch, p := m.in.C, m.p
	m.e.split(n, func(_, lo, hi int) {
		for img := lo; img < hi; img++ {
			for py := range m.out.H {
				o := (img*m.out.H + py) * m.out.W * ch
				y, arg := m.y[o:o+m.out.W*ch], m.arg[o:o+m.out.W*ch]
				for q := range p * p {
					src := x[((img*m.in.H+py*p+q/p)*m.in.W+q%p)*ch:]
					if q == 0 {
						for px := range m.out.W {
							copy(y[px*ch:px*ch+ch], src[px*p*ch:px*p*ch+ch])
						}
						clear(arg)
						continue
					}
					maxArgRows(y, arg, src, ch, m.out.W, p*ch, uint8(q))
				}
			}
		}
	})
	return m.y
}

func (m *maxPool2D) backward(dy []float32, n int, needDX bool) []float32 {
	if !needDX {
		return nil
	}
	m.dx = resize(m.dx, n*m.in.Size())
	ch, p := m.in.C, m.p
	m.e.split(n, func(_, lo, hi int) {
		clear(m.dx[lo*m.in.Size() : hi*m.in.Size()])
		for img := lo; img < hi; img++ {
			for py := range m.out.H {
				for px := range m.out.W {
					o := ((img*m.out.H+py)*m.out.W + px) * ch
					g, arg := dy[o:o+ch], m.arg[o:o+ch]
					for c, q := range arg {
						iy, ix := py*p+int(q)/p, px*p+int(q)%p
						m.dx[((img*m.in.H+iy)*m.in.W+ix)*ch+c] = g[c]
					}
				}
			}
		}
	})
	return m.dx
}
