package nn

import "slices"

// LayerKind names what an exported Layer computes.
type LayerKind string

const (
	KindConv      LayerKind = "conv"      // k x k convolution, stride 1, Pad zeros each side
	KindBatchNorm LayerKind = "batchnorm" // inference form: (x-Mean)/sqrt(Var+Eps)*Gamma+Beta per channel
	KindReLU      LayerKind = "relu"
	KindMaxPool   LayerKind = "maxpool" // Pool x Pool windows, stride Pool, partial windows dropped
	KindFlatten   LayerKind = "flatten" // HxWxC to H*W*C in NHWC order (h, then w, then c)
	KindGAP       LayerKind = "gap"     // mean of each channel over H x W
	KindDense     LayerKind = "dense"
)

// Layer is one step of a model's inference pass, for tools that rebuild the
// network elsewhere (ONNX export). Dropout is the identity at inference and
// is left out; a fused block (conv+ReLU+max pool) comes out as its parts. The
// weight slices are copies.
type Layer struct {
	Kind    LayerKind
	In, Out Shape
	ReLU    bool // a ReLU follows (fused into conv or dense)

	Kernel, Pad int       // conv
	Pool        int       // maxpool
	W, B        []float32 // conv: W [k][k][Cin][Cout] (NHWC kernels), B [Cout] or nil; dense: W [in][out], B [out]

	Gamma, Beta, Mean, Var []float32 // batchnorm
	Eps                    float32
}

// Layers lists the model's inference pass in order; the softmax over the
// last layer's outputs is implied.
func (m *Model) Layers() []Layer {
	var out []Layer
	in := m.in
	for _, l := range m.layers {
		switch l := l.(type) {
		case *convPool:
			out = append(out, convLayer(l.c, in))
			out = append(out, Layer{Kind: KindMaxPool, In: l.c.out, Out: l.out, Pool: l.p})
		case *conv2D:
			out = append(out, convLayer(l, in))
		case *batchNorm:
			out = append(out, Layer{Kind: KindBatchNorm, In: in, Out: l.shape,
				Gamma: slices.Clone(l.gamma.w), Beta: slices.Clone(l.beta.w),
				Mean: slices.Clone(l.mean.w), Var: slices.Clone(l.vari.w), Eps: l.eps})
		case *relu:
			out = append(out, Layer{Kind: KindReLU, In: in, Out: l.shape})
		case *maxPool2D:
			out = append(out, Layer{Kind: KindMaxPool, In: in, Out: l.out, Pool: l.p})
		case *flatten:
			out = append(out, Layer{Kind: KindFlatten, In: in, Out: l.outShape()})
		case *globalAvgPool:
			out = append(out, Layer{Kind: KindGAP, In: in, Out: l.outShape()})
		case *dense:
			out = append(out, Layer{Kind: KindDense, In: in, Out: l.outShape(), ReLU: l.relu,
				W: slices.Clone(l.w.w), B: slices.Clone(l.b.w)})
		case *dropout:
		default:
			// A layer type added to the engine must be described here, or
			// an exporter would silently drop it.
			panic("nn: Layers does not know " + l.describe())
		}
		in = l.outShape()
	}
	return out
}

func convLayer(c *conv2D, in Shape) Layer {
	l := Layer{Kind: KindConv, In: in, Out: c.out, ReLU: c.relu, Kernel: c.k, Pad: c.pad, W: slices.Clone(c.w.w)}
	if c.b != nil {
		l.B = slices.Clone(c.b.w)
	}
	return l
}
