package nn

import (
	"fmt"
	"math"
)

// relu is max(0, x), used where it cannot be fused into the layer before
// (after batch norm).
type relu struct {
	e     *engine
	shape Shape
	y     []float32
}

func (r *relu) describe() string { return "ReLU" }
func (r *relu) outShape() Shape  { return r.shape }
func (r *relu) params() []*param { return nil }
func (r *relu) forward(x []float32, n int, train bool) []float32 {
	size := n * r.shape.Size()
	r.y = resize(r.y, size)
	r.e.split(size, func(_, lo, hi int) {
		y := r.y[lo:hi]
		for i, v := range x[lo:hi] {
			y[i] = max(v, 0)
		}
	})
	return r.y
}

// backward zeroes dy where the output is 0, on the bits: ReLU outputs are
// +0 or positive, so y > 0 exactly when its bits are nonzero, and this way
// needs no branch on what is a coin flip.
func (r *relu) backward(dy []float32, n int, needDX bool) []float32 {
	size := n * r.shape.Size()
	r.e.split(size, func(_, lo, hi int) {
		g := dy[lo:hi]
		for i, v := range r.y[lo:hi] {
			keep := uint32(int32(-math.Float32bits(v)) >> 31)
			g[i] = math.Float32frombits(math.Float32bits(g[i]) & keep)
		}
	})
	return dy
}

// flatten reshapes HxWxC to 1x1x(H*W*C) in NHWC order (h, then w, then c):
// the data does not move. PyTorch flattens NCHW as (c, h, w), which matters
// only when mapping weights between the two.
type flatten struct{ in Shape }

func (f *flatten) describe() string { return "Flatten" }
func (f *flatten) outShape() Shape  { return Shape{1, 1, f.in.Size()} }
func (f *flatten) params() []*param { return nil }
func (f *flatten) forward(x []float32, n int, train bool) []float32 {
	return x[:n*f.in.Size()]
}
func (f *flatten) backward(dy []float32, n int, needDX bool) []float32 { return dy }

// globalAvgPool averages each channel over H x W.
type globalAvgPool struct {
	in    Shape
	y, dx []float32
}

func (g *globalAvgPool) describe() string { return "GlobalAveragePooling2D" }
func (g *globalAvgPool) outShape() Shape  { return Shape{1, 1, g.in.C} }
func (g *globalAvgPool) params() []*param { return nil }

func (g *globalAvgPool) forward(x []float32, n int, train bool) []float32 {
	ch, hw := g.in.C, g.in.H*g.in.W
	g.y = resize(g.y, n*ch)
	clear(g.y)
	inv := 1 / float32(hw)
	for img := range n {
		y := g.y[img*ch : (img+1)*ch]
		for p := range hw {
			addTo(y, x[(img*hw+p)*ch:(img*hw+p+1)*ch])
		}
		for c := range y {
			y[c] *= inv
		}
	}
	return g.y
}

func (g *globalAvgPool) backward(dy []float32, n int, needDX bool) []float32 {
	if !needDX {
		return nil
	}
	ch, hw := g.in.C, g.in.H*g.in.W
	g.dx = resize(g.dx, n*g.in.Size())
	inv := 1 / float32(hw)
	for img := range n {
		src := dy[img*ch : (img+1)*ch]
		for p := range hw {
			dst := g.dx[(img*hw+p)*ch : (img*hw+p+1)*ch]
			for c, v := range src {
				dst[c] = v * inv
			}
		}
	}
	return g.dx
}

// dropout zeroes each element with probability rate during training and
// scales the survivors by 1/(1-rate) (inverted dropout), so inference is
// the identity. The mask is a pure function of (seed, step, layer, element):
// a resumed run draws the same masks as an uninterrupted one.
type dropout struct {
	shape Shape
	rate  float32
	seed  uint64
	index int
	step  *uint64
	y     []float32
	mask  []float32
}

func (d *dropout) describe() string { return fmt.Sprintf("Dropout %.2g", d.rate) }
func (d *dropout) outShape() Shape  { return d.shape }
func (d *dropout) params() []*param { return nil }

func (d *dropout) forward(x []float32, n int, train bool) []float32 {
	size := n * d.shape.Size()
	if !train || d.rate == 0 {
		d.mask = d.mask[:0]
		return x[:size]
	}
	d.y = resize(d.y, size)
	d.mask = resize(d.mask, size)
	scaleBits := math.Float32bits(1 / (1 - d.rate))
	// Keep an element when a uniform 32-bit draw is >= rate * 2^32; the
	// choice is made on bits, branch-free, as the draws are coin flips.
	threshold := int64(float64(d.rate) * (1 << 32))
	base := mix64(d.seed ^ mix64(*d.step*0x9e3779b97f4a7c15+uint64(d.index)))
	x, y, mask := x[:size], d.y[:size], d.mask[:size]
	for i := range mask {
		r := mix64(base + uint64(i>>1))
		u := int64(r>>(32*(i&1))) & 0xffffffff
		m := math.Float32frombits(scaleBits &^ uint32((u-threshold)>>63))
		mask[i] = m
		y[i] = x[i] * m
	}
	return d.y
}

func (d *dropout) backward(dy []float32, n int, needDX bool) []float32 {
	if len(d.mask) == 0 {
		return dy
	}
	for i, m := range d.mask[:n*d.shape.Size()] {
		dy[i] *= m
	}
	return dy
}

// mix64 is SplitMix64's finaliser: a cheap, well-mixed hash of a counter.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
