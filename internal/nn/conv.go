package nn

import "fmt"

// conv2D is a k x k convolution with stride 1, "valid" or "same" (zero,
// k odd) padding, weights laid out [k][k][Cin][Cout], an optional bias and an
// optional fused ReLU (the model fuses Conv+ReLU when no batch norm sits in
// between, which saves a pass over the largest tensors).
type conv2D struct {
	e        *engine
	in, out  Shape
	k, pad   int
	relu     bool
	w, b     *param
	x        []float32 // input as seen by the kernel (padded copy for "same")
	xp       []float32
	y        []float32
	dx       []float32
	wr       []float32 // W rotated for the data gradient
	wp, wrp  []float32 // W and wr, packed into kernel panels
	work     []convWork
	dwRowsPP int // output rows per chunk of the weight-gradient sum
}

type convWork struct {
	s      *scratch
	dw, db []float32
	dyp    []float32
	dxp    []float32
}

func newConv2D(e *engine, in Shape, filters, k int, same, bias, relu bool, name string) (*conv2D, error) {
	if k < 1 || (same && k%2 == 0) {
		return nil, fmt.Errorf("conv %s: kernel size %d (same padding needs an odd size)", name, k)
	}
	pad := 0
	if same {
		pad = k / 2
	}
	out := Shape{in.H + 2*pad - k + 1, in.W + 2*pad - k + 1, filters}
	if out.H < 1 || out.W < 1 {
		return nil, fmt.Errorf("conv %s: input %v too small for a %dx%d kernel", name, in, k, k)
	}
	c := &conv2D{e: e, in: in, out: out, k: k, pad: pad, relu: relu}
	c.w = &param{name: name + ".w", w: make([]float32, k*k*in.C*filters), g: make([]float32, k*k*in.C*filters)}
	if bias {
		c.b = &param{name: name + ".b", w: make([]float32, filters), g: make([]float32, filters)}
	}
	// Keep one chunk of the weight-gradient sum (input rows plus output
	// gradient rows) near 256 KiB so it stays in L2 across all tiles.
	perRow := (in.W+2*pad)*in.C + out.W*filters
	c.dwRowsPP = max(1, (64<<10)/max(1, perRow))
	return c, nil
}

func (c *conv2D) describe() string {
	pad := "valid"
	if c.pad > 0 {
		pad = "same"
	}
	s := fmt.Sprintf("Conv2D %dx%d %d %s", c.k, c.k, c.out.C, pad)
	if c.relu {
		s += " +ReLU"
	}
	return s
}

func (c *conv2D) outShape() Shape { return c.out }

func (c *conv2D) params() []*param {
	if c.b == nil {
		return []*param{c.w}
	}
	return []*param{c.w, c.b}
}

func (c *conv2D) workers() []convWork {
	if len(c.work) != c.e.threads {
		c.work = make([]convWork, c.e.threads)
		for i := range c.work {
			c.work[i].s = new(scratch)
		}
	}
	return c.work
}

// padded returns x with a zero border of c.pad, or x itself.
func (c *conv2D) padded(x []float32, n int) []float32 {
	if c.pad == 0 {
		return x
	}
	hp, wp, ch := c.in.H+2*c.pad, c.in.W+2*c.pad, c.in.C
	c.xp = resize(c.xp, n*hp*wp*ch)
	clear(c.xp)
	for img := range n {
		for y := range c.in.H {
			src := x[((img*c.in.H+y)*c.in.W)*ch : ((img*c.in.H+y)*c.in.W+c.in.W)*ch]
			copy(c.xp[((img*hp+y+c.pad)*wp+c.pad)*ch:], src)
		}
	}
	return c.xp
}

func (c *conv2D) forward(x []float32, n int, train bool) []float32 {
	c.x = c.padded(x, n)
	c.y = resize(c.y, n*c.out.Size())
	c.packWeights()
	ws := c.workers()
	c.e.split(n, func(w, lo, hi int) {
		for img := lo; img < hi; img++ {
			c.forwardRows(ws[w].s, img, 0, c.out.H, c.out.W, c.y[img*c.out.Size():])
		}
	})
	return c.y
}

func (c *conv2D) packWeights() {
	c.wp = c.e.ks.packB(c.wp, false, c.w.w, c.out.C, 0, 0, c.k*c.k*c.in.C, c.out.C)
}

// forwardRows computes the first cols columns of output rows [oy0, oy1)
// of image img of c.x into dst, one row of out.W*Cout floats after another
// (bias and ReLU applied).
func (c *conv2D) forwardRows(s *scratch, img, oy0, oy1, cols int, dst []float32) {
	cin, cout, k := c.in.C, c.out.C, c.k
	hp, wp := c.in.H+2*c.pad, c.in.W+2*c.pad
	var bias []float32
	if c.b != nil {
		bias = c.b.w
	}
	for oy := oy0; oy < oy1; oy++ {
		A := opA{a: c.x, off: (img*hp + oy) * wp * cin, rs: cin, cs: 1, kseg: k * cin, nseg: k, ss: wp * cin}
		C := opC{dst, (oy - oy0) * c.out.W * cout, cout}
		c.e.ks.tiles(cols, cout, A, opB{b: c.wp, panels: true}, C, 1, false, bias, c.relu, s)
	}
}

func (c *conv2D) backward(dy []float32, n int, needDX bool) []float32 {
	if needDX {
		c.rotatedWeights()
		c.dx = resize(c.dx, n*c.in.Size())
	}
	ws := c.workers()
	size := c.out.Size()
	c.e.split(n, func(w, lo, hi int) {
		wk := &ws[w]
		wk.zeroGrads(c)
		for img := lo; img < hi; img++ {
			g := dy[img*size : (img+1)*size]
			if c.relu {
				for i, v := range c.y[img*size : (img+1)*size] {
					if v <= 0 {
						g[i] = 0
					}
				}
			}
			for i := 0; i < len(g); i += c.out.C {
				addTo(wk.db, g[i:i+c.out.C])
			}
			c.accumulateDW(wk, img, g)
			if needDX {
				c.dataGrad(wk, g, c.dx[img*c.in.Size():(img+1)*c.in.Size()])
			}
		}
	})
	c.sumGrads(ws, n)
	if !needDX {
		return nil
	}
	return c.dx
}

func (wk *convWork) zeroGrads(c *conv2D) {
	wk.dw = resize(wk.dw, len(c.w.g))
	clear(wk.dw)
	wk.db = resize(wk.db, c.out.C)
	clear(wk.db)
}

// sumGrads adds up the workers' private gradients into the parameters.
func (c *conv2D) sumGrads(ws []convWork, n int) {
	used := ws[:min(len(ws), n)]
	copy(c.w.g, used[0].dw)
	for _, wk := range used[1:] {
		addTo(c.w.g, wk.dw)
	}
	if c.b != nil {
		copy(c.b.g, used[0].db)
		for _, wk := range used[1:] {
			addTo(c.b.g, wk.db)
		}
	}
}

// accumulateDW adds image img's weight gradient to wk.dw, given g, the
// gradient of its (pre-activation) output: dW[ky] (k*Cin x Cout) gets the
// sum over output pixels of the input run at row oy+ky times g at (oy, ox),
// a chunk of rows at a time so both stay in L2.
func (c *conv2D) accumulateDW(wk *convWork, img int, g []float32) {
	cin, cout, k := c.in.C, c.out.C, c.k
	hp, wp := c.in.H+2*c.pad, c.in.W+2*c.pad
	ho, wo := c.out.H, c.out.W
	kw := k * cin
	for oy0 := 0; oy0 < ho; oy0 += c.dwRowsPP {
		rows := min(c.dwRowsPP, ho-oy0)
		B := opB{b: g, off: oy0 * wo * cout, ld: cout}
		for ky := range k {
			A := opA{a: c.x, off: ((img*hp + oy0 + ky) * wp) * cin, rs: 1, cs: cin, kseg: wo, nseg: rows, ss: wp * cin}
			c.e.ks.tiles(kw, cout, A, B, opC{wk.dw, ky * kw * cout, cout}, 1, true, nil, false, wk.s)
		}
	}
}

// dataGrad writes one image's input gradient into dx, given g, the
// gradient of its output: a "valid" convolution of g zero-padded by k-1 on
// each side with the kernel rotated 180 degrees and its channel axes
// swapped (c.wrp, see rotatedWeights).
func (c *conv2D) dataGrad(wk *convWork, g, dx []float32) {
	cin, cout, k := c.in.C, c.out.C, c.k
	ho, wo := c.out.H, c.out.W
	hp, wp := c.in.H+2*c.pad, c.in.W+2*c.pad
	hq, wq := ho+2*(k-1), wo+2*(k-1)
	wk.dyp = resize(wk.dyp, hq*wq*cout)
	clear(wk.dyp)
	for oy := range ho {
		copy(wk.dyp[((oy+k-1)*wq+k-1)*cout:], g[oy*wo*cout:(oy+1)*wo*cout])
	}
	dst, ldst := dx, c.in.W*cin
	if c.pad > 0 {
		wk.dxp = resize(wk.dxp, hp*wp*cin)
		dst, ldst = wk.dxp, wp*cin
	}
	for y := range hp {
		A := opA{a: wk.dyp, off: y * wq * cout, rs: cout, cs: 1, kseg: k * cout, nseg: k, ss: wq * cout}
		c.e.ks.tiles(wp, cin, A, opB{b: c.wrp, panels: true}, opC{dst, y * ldst, cin}, 1, false, nil, false, wk.s)
	}
	if c.pad > 0 {
		for y := range c.in.H {
			copy(dx[y*c.in.W*cin:(y+1)*c.in.W*cin], wk.dxp[((y+c.pad)*wp+c.pad)*cin:])
		}
	}
}

// rotatedWeights packs Wr[ky][kx][co][ci] = W[k-1-ky][k-1-kx][ci][co].
func (c *conv2D) rotatedWeights() {
	cin, cout, k := c.in.C, c.out.C, c.k
	c.wr = resize(c.wr, len(c.w.w))
	wr := c.wr
	for ky := range k {
		for kx := range k {
			src := c.w.w[((k-1-ky)*k+(k-1-kx))*cin*cout:]
			dst := wr[(ky*k+kx)*cout*cin:]
			for ci := range cin {
				for co := range cout {
					dst[co*cin+ci] = src[ci*cout+co]
				}
			}
		}
	}
	c.wrp = c.e.ks.packB(c.wrp, false, wr, cin, 0, 0, k*k*cout, cin)
}
