package onnxexport

import (
	"fmt"

	"github.com/scour-dev/scour/internal/nn"
)

// appendLayers adds the inference pass of ls to g, reading x, and returns
// the name of the logits. x is NCHW [N,C,H,W] when the first layer is
// spatial, or [N,features] when the network starts with Flatten or Dense.
//
// nn is NHWC; ONNX convolutions are NCHW. Kernels are transposed from
// [k][k][Cin][Cout] to [Cout][Cin][k][k], and the dense layer after a
// Flatten gets its rows permuted from (h, w, c) to (c, h, w) order, so the
// graph needs no Transpose and computes the same sums.
func appendLayers(g *graph, x string, ls []nn.Layer) (string, error) {
	var flat *nn.Shape // set by Flatten until the dense layer that reads it
	for i, l := range ls {
		p := fmt.Sprintf("scour/l%d_%s", i, l.Kind)
		switch l.Kind {
		case nn.KindConv:
			k, ci, co := l.Kernel, l.In.C, l.Out.C
			if len(l.W) != k*k*ci*co || (l.B != nil && len(l.B) != co) {
				return "", fmt.Errorf("layer %d (conv): %d weights for a %dx%dx%dx%d kernel", i, len(l.W), k, k, ci, co)
			}
			w := make([]float32, len(l.W))
			for ky := range k {
				for kx := range k {
					for c := range ci {
						for o := range co {
							w[((o*ci+c)*k+ky)*k+kx] = l.W[((ky*k+kx)*ci+c)*co+o]
						}
					}
				}
			}
			in := []string{x, g.floats(p+".w", []int64{int64(co), int64(ci), int64(k), int64(k)}, w)}
			if l.B != nil {
				in = append(in, g.floats(p+".b", []int64{int64(co)}, l.B))
			}
			pad := int64(l.Pad)
			x = g.add("Conv", in,
				intsAttr("kernel_shape", int64(k), int64(k)),
				intsAttr("pads", pad, pad, pad, pad),
				intsAttr("strides", 1, 1),
				intsAttr("dilations", 1, 1),
				intAttr("group", 1))
		case nn.KindBatchNorm:
			c := []int64{int64(l.In.C)}
			x = g.add("BatchNormalization", []string{x,
				g.floats(p+".gamma", c, l.Gamma), g.floats(p+".beta", c, l.Beta),
				g.floats(p+".mean", c, l.Mean), g.floats(p+".var", c, l.Var)},
				floatAttr("epsilon", l.Eps))
		case nn.KindReLU:
			x = g.add("Relu", []string{x})
		case nn.KindMaxPool:
			s := int64(l.Pool)
			x = g.add("MaxPool", []string{x}, intsAttr("kernel_shape", s, s), intsAttr("strides", s, s))
		case nn.KindFlatten:
			x = g.add("Flatten", []string{x}, intAttr("axis", 1))
			if l.In.H*l.In.W > 1 && l.In.C > 1 {
				in := l.In
				flat = &in
			}
		case nn.KindGAP:
			x = g.add("GlobalAveragePool", []string{x})
			x = g.add("Flatten", []string{x}, intAttr("axis", 1))
		case nn.KindDense:
			in, out := l.In.Size(), l.Out.Size()
			if len(l.W) != in*out || len(l.B) != out {
				return "", fmt.Errorf("layer %d (dense): %d weights and %d biases for %d inputs and %d outputs", i, len(l.W), len(l.B), in, out)
			}
			w := l.W
			if flat != nil {
				w = chwRows(l.W, *flat, out)
				flat = nil
			}
			// W is stored [out][in] with transB=1, as PyTorch's Linear
			// exports it: OpenCV 4.6 reads only that form correctly.
			wt := make([]float32, len(w))
			for r := range in {
				for c := range out {
					wt[c*in+r] = w[r*out+c]
				}
			}
			x = g.add("Gemm", []string{x,
				g.floats(p+".w", []int64{int64(out), int64(in)}, wt),
				g.floats(p+".b", []int64{int64(out)}, l.B)},
				intAttr("transB", 1))
		default:
			return "", fmt.Errorf("layer %d: no ONNX form for %q layers", i, l.Kind)
		}
		if l.ReLU && l.Kind != nn.KindReLU {
			x = g.add("Relu", []string{x})
		}
		if flat != nil && l.Kind != nn.KindFlatten {
			return "", fmt.Errorf("layer %d (%s) reads a flattened %v map; only a dense layer can", i, l.Kind, *flat)
		}
	}
	return x, nil
}

// chwRows reorders the rows of w (one per input of an NHWC-flattened map s,
// out columns each) into NCHW-flatten order.
func chwRows(w []float32, s nn.Shape, out int) []float32 {
	r := make([]float32, len(w))
	for h := range s.H {
		for x := range s.W {
			for c := range s.C {
				src := ((h*s.W+x)*s.C + c) * out
				dst := ((c*s.H+h)*s.W + x) * out
				copy(r[dst:dst+out], w[src:src+out])
			}
		}
	}
	return r
}
