package nn

import "fmt"

// dense is a fully connected layer y = x W + b with W laid out [in][out]
// and an optional fused ReLU.
type dense struct {
	e       *engine
	in, out int
	relu    bool
	w, b    *param
	x, y    []float32
	dx, dxT []float32
}

func newDense(e *engine, in Shape, units int, relu bool, name string) (*dense, error) {
	if units < 1 {
		return nil, fmt.Errorf("dense %s: %d units", name, units)
	}
	n := in.Size()
	return &dense{
		e: e, in: n, out: units, relu: relu,
		w: &param{name: name + ".w", w: make([]float32, n*units), g: make([]float32, n*units)},
		b: &param{name: name + ".b", w: make([]float32, units), g: make([]float32, units)},
	}, nil
}

func (d *dense) describe() string {
	s := fmt.Sprintf("Dense %d", d.out)
	if d.relu {
		s += " +ReLU"
	}
	return s
}

func (d *dense) outShape() Shape  { return Shape{1, 1, d.out} }
func (d *dense) params() []*param { return []*param{d.w, d.b} }

func (d *dense) forward(x []float32, n int, train bool) []float32 {
	d.x = x
	d.y = resize(d.y, n*d.out)
	d.e.gemm.Sgemm(false, false, n, d.out, d.in, 1, x, d.in, d.w.w, d.out, 0, d.y, d.out)
	for i := range n {
		row := d.y[i*d.out : (i+1)*d.out]
		for j, b := range d.b.w {
			v := row[j] + b
			if d.relu && v < 0 {
				v = 0
			}
			row[j] = v
		}
	}
	return d.y
}

func (d *dense) backward(dy []float32, n int, needDX bool) []float32 {
	if d.relu {
		for i, v := range d.y[:n*d.out] {
			if v <= 0 {
				dy[i] = 0
			}
		}
	}
	d.e.gemm.Sgemm(true, false, d.in, d.out, n, 1, d.x, d.in, dy, d.out, 0, d.w.g, d.out)
	clear(d.b.g)
	for i := range n {
		addTo(d.b.g, dy[i*d.out:(i+1)*d.out])
	}
	if !needDX {
		return nil
	}
	// dx = dy W^T would copy all of W transposed into kernel panels; dx^T =
	// W dy^T reads W in place and transposes only dy and the (smaller) result.
	d.dxT = resize(d.dxT, n*d.in)
	d.e.gemm.Sgemm(false, true, d.in, n, d.out, 1, d.w.w, d.out, dy, d.out, 0, d.dxT, n)
	d.dx = resize(d.dx, n*d.in)
	packTransposed(d.dx, d.in, d.dxT, n, d.in, n)
	return d.dx
}
