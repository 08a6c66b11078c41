// Package nn is scour's small CNN training engine: NHWC float32 tensors,
// layers with explicit forward and backward passes (Conv2D, MaxPool2D,
// Dense, ReLU, Dropout, BatchNorm, Flatten, GlobalAveragePool, softmax
// cross-entropy), Adam and SGD, and a Model built from a Spec that trains
// batch by batch, predicts, and saves itself and its optimizer state. A
// model without dropout or batch norm can also be fitted on a whole data
// set at once with L-BFGS (LBFGS.Fit), which is how a softmax regression or
// small MLP on fixed features is fitted properly. A spec with no conv
// blocks on a 1x1xN input is such a dense-only network. It knows tensors,
// not projects or files: callers hand it pixels (or features) and labels.
//
// # SGEMM kernels
//
// All the arithmetic goes through register-blocked SGEMM micro-kernels,
// chosen once per process from what the CPU reports (golang.org/x/sys/cpu):
//
//   - "avx512": Go assembly, 6x64 and 12x32 tiles held in zmm registers;
//   - "avx2": Go assembly, AVX2+FMA, 6x16 tile (16 ymm registers);
//   - "go": portable pure Go, always available (and the only one in builds
//     with the purego tag or on other architectures).
//
// No cgo, C library or GOEXPERIMENT is involved. KernelName reports the
// choice; SCOUR_NN_KERNEL=avx2|go|avx512 forces one. The fastest available is
// the default: on the 2-core AMD EPYC (Zen 4) this was measured on,
// best-of-5 training and inference of the reference model ran at 197 and 653
// images/s with avx512 and 190 and 620 with avx2 (Zen 4 splits 512-bit FMAs,
// so the gap is small; the 32 zmm registers still allow bigger tiles), while
// Debian's OpenBLAS detects that CPU as Prescott and reaches 16-47 GFLOP/s
// (our kernels: about 100 per core), which is why there is no BLAS path.
// Threads split the batch (convolutions), the rows or columns of C, or, for
// long sums into a small C, the sum itself (private copies added at the end).
//
// Convolutions never build an im2col matrix. With NHWC and stride 1, the
// kh*kw*Cin patch of one output pixel is kh runs of kw*Cin contiguous input
// floats, and neighbouring output pixels start Cin floats apart, so the
// micro-kernels read the input in place as an A matrix with row stride Cin and
// one "segment" per kernel row. The data gradient is the same operation on the
// zero-padded output gradient with the kernel rotated by 180 degrees, and the
// weight gradient sums over output pixels as one long, segmented reduction.
// Conv+ReLU+MaxPool blocks without batch norm run fused, a few conv rows at a
// time, so the full-resolution activations are never stored.
//
// Initialisation follows Keras: Glorot uniform kernels
// (limit sqrt(6/(fan_in+fan_out)), fan = k*k*channels for convolutions),
// zero biases, batch-norm gamma 1 and beta 0, all from a seeded PCG stream so
// that one seed, spec and input shape always give the same weights.
package nn

import (
	"errors"
	"fmt"
	"math"
	"runtime"
)

// Shape is the size of one example: height, width and channels (NHWC
// without the batch).
type Shape struct{ H, W, C int }

// Size is the number of floats in one example.
func (s Shape) Size() int { return s.H * s.W * s.C }

func (s Shape) String() string { return fmt.Sprintf("%dx%dx%d", s.H, s.W, s.C) }

// ErrNonFinite reports a NaN or infinite loss or gradient. The step that
// produced it changed nothing: weights, optimizer and batch-norm statistics
// are as they were before it.
var ErrNonFinite = errors.New("non-finite loss or gradient")

// param is a tensor the model saves: trainable weights with their gradient,
// or (grad == nil) state such as batch-norm running statistics.
type param struct {
	name string
	w, g []float32
}

// engine is what layers share: the kernel set and the number of workers.
type engine struct {
	ks      *kernelSet
	threads int
	gemm    *gemm
}

func newEngine(threads int) *engine {
	if threads < 1 {
		threads = runtime.GOMAXPROCS(0)
	}
	ks := defaultKernels()
	return &engine{ks: ks, threads: threads, gemm: &gemm{ks: ks, threads: threads}}
}

func (e *engine) setKernels(ks *kernelSet) {
	e.ks = ks
	e.gemm = &gemm{ks: ks, threads: e.threads}
}

// split runs fn(w, lo, hi) over contiguous shares of n items, one per worker.
func (e *engine) split(n int, fn func(w, lo, hi int)) {
	t := min(e.threads, n)
	if t <= 1 {
		fn(0, 0, n)
		return
	}
	parallel(t, func(w int) {
		fn(w, w*n/t, (w+1)*n/t)
	})
}

// layer is one step of the network. forward returns the output batch (a
// buffer the layer owns, valid until its next forward); backward takes the
// gradient of the loss with respect to that output, accumulates nothing
// (parameter gradients are overwritten) and returns the gradient with
// respect to the input, or nil when needDX is false. dy may be overwritten.
type layer interface {
	describe() string
	outShape() Shape
	params() []*param
	forward(x []float32, n int, train bool) []float32
	backward(dy []float32, n int, needDX bool) []float32
}

func resize(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
