//go:build cgo

package vision

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"runtime"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/scour-dev/scour/internal/errkind"
)

// ortMu guards the process-wide ONNX Runtime environment. Once loaded it
// stays loaded until the process exits: sessions are cheap to make and
// unloading a library that other sessions may still use is not.
var ortMu sync.Mutex

func initRuntime() error {
	ortMu.Lock()
	defer ortMu.Unlock()
	if ort.IsInitialized() {
		return nil
	}
	path, err := RuntimeLibrary()
	if err != nil {
		return errkind.WithCause(errkind.Fatal(err), "no-onnxruntime")
	}
	ort.SetSharedLibraryPath(path)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return errkind.WithCause(errkind.Fatal(fmt.Errorf("%w: loading %s: %v; %s", ErrNoRuntime, path, err, runtimeHelp)),
			"no-onnxruntime")
	}
	return nil
}

// LocalOptions tune the local labeler; zero values pick the defaults.
type LocalOptions struct {
	TopK      int // labels per image; default 5
	BatchSize int // images per inference run; default 16 (a model with a fixed batch size uses its own)
	Threads   int // ONNX Runtime intra-op threads; default GOMAXPROCS
}

// Local labels images in process with an ONNX ImageNet classifier: the top-k
// classes with softmax confidences, and the model's embedding when it has one.
type Local struct {
	model   Model
	topK    int
	batch   int  // images per Run
	fixed   bool // the model's batch dimension is fixed at batch: pad short batches
	classes int
	embDim  int

	mu      sync.Mutex // serialises Run (the session already uses every thread it is given) and Close
	session *ort.DynamicAdvancedSession
}

// NewLocal loads the ONNX Runtime library (see RuntimeLibrary) and m. A
// missing or unloadable library gives an error wrapping ErrNoRuntime; a
// model that is not valid ONNX, or whose inputs and outputs do not match m,
// gives an errkind.Fatal error with cause "bad-model".
func NewLocal(m Model, opts LocalOptions) (*Local, error) {
	if err := initRuntime(); err != nil {
		return nil, err
	}
	badModel := func(format string, args ...any) error {
		return errkind.WithCause(errkind.Fatal(fmt.Errorf("vision: model %s: "+format, append([]any{m.Name}, args...)...)), "bad-model")
	}
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(m.ONNX)
	if err != nil {
		return nil, badModel("not a usable ONNX file (%d bytes): %w", len(m.ONNX), err)
	}
	l := &Local{model: m, topK: opts.TopK, batch: opts.BatchSize}
	if l.topK <= 0 {
		l.topK = 5
	}
	if l.batch <= 0 {
		l.batch = 16
	}

	in, ok := findInfo(ins, m.Input)
	if !ok {
		return nil, badModel("no input %q (inputs: %v)", m.Input, ins)
	}
	d := in.Dimensions
	c := int64(m.Prep.Crop)
	if in.DataType != ort.TensorElementDataTypeFloat || len(d) != 4 || d[1] != 3 ||
		(d[2] != c && d[2] > 0) || (d[3] != c && d[3] > 0) {
		return nil, badModel("input %q is %s %v, want float32 [N 3 %d %d]", m.Input, in.DataType, d, c, c)
	}
	if d[0] > 0 {
		l.batch, l.fixed = int(d[0]), true
	}

	out, ok := findInfo(outs, m.Output)
	if !ok {
		return nil, badModel("no output %q (outputs: %v)", m.Output, outs)
	}
	if l.classes = perImage(out.Dimensions); l.classes != len(m.Labels) {
		return nil, badModel("output %q has %d values per image (%v), but there are %d labels",
			m.Output, l.classes, out.Dimensions, len(m.Labels))
	}
	names := []string{m.Output}
	if m.Embedding != "" {
		e, ok := findInfo(outs, m.Embedding)
		if !ok {
			return nil, badModel("no embedding output %q (outputs: %v)", m.Embedding, outs)
		}
		if l.embDim = perImage(e.Dimensions); l.embDim <= 0 {
			return nil, badModel("embedding %q has shape %v", m.Embedding, e.Dimensions)
		}
		names = append(names, m.Embedding)
	}

	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("vision: session options: %w", err)
	}
	defer so.Destroy()
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	for _, set := range []error{
		so.SetIntraOpNumThreads(threads),
		so.SetInterOpNumThreads(1),
		// "extended" and "basic" leave the int8 graph about half as fast.
		so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll),
		// Spinning threads steal the cores Go decodes and resizes on.
		so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"),
		so.AddSessionConfigEntry("session.inter_op.allow_spinning", "0"),
	} {
		if set != nil {
			return nil, fmt.Errorf("vision: session options: %w", set)
		}
	}
	l.session, err = ort.NewDynamicAdvancedSessionWithONNXData(m.ONNX, []string{m.Input}, names, so)
	if err != nil {
		return nil, badModel("creating session: %w", err)
	}
	return l, nil
}

func findInfo(infos []ort.InputOutputInfo, name string) (ort.InputOutputInfo, bool) {
	for _, i := range infos {
		if i.Name == name {
			return i, true
		}
	}
	return ort.InputOutputInfo{}, false
}

// perImage is the number of values per batch element, or -1 if a
// non-batch dimension is unknown.
func perImage(d ort.Shape) int {
	if len(d) < 2 {
		return -1
	}
	n := 1
	for _, v := range d[1:] {
		if v <= 0 {
			return -1
		}
		n *= int(v)
	}
	return n
}

// Name says which model labels: "local/mobilenetv2-12-int8".
func (l *Local) Name() string { return "local/" + l.model.Name }

// Label implements Labeler. A nil or empty image gets a per-image error.
func (l *Local) Label(ctx context.Context, imgs []image.Image) ([]Result, error) {
	scores, embs, err := l.infer(ctx, imgs)
	if err != nil {
		return nil, err
	}
	res := make([]Result, len(imgs))
	for i := range imgs {
		if scores[i] == nil {
			res[i].Err = errkind.WithCause(errkind.Permanent(fmt.Errorf("vision: image %d is empty", i)), "empty")
			continue
		}
		res[i].Labels = l.top(scores[i])
		if embs != nil {
			res[i].Embedding = normalize(embs[i])
		}
	}
	return res, nil
}

var errClosed = errors.New("vision: labeler is closed")

// infer returns the raw model outputs per image (logits or probabilities,
// and the embedding before normalisation); nil for images it skipped.
func (l *Local) infer(ctx context.Context, imgs []image.Image) (scores, embs [][]float32, err error) {
	var todo []int
	for i, m := range imgs {
		if m != nil && !m.Bounds().Empty() {
			todo = append(todo, i)
		}
	}
	scores = make([][]float32, len(imgs))
	if l.embDim > 0 {
		embs = make([][]float32, len(imgs))
	}
	crop := l.model.Prep.Crop
	per := 3 * crop * crop
	buf := make([]float32, l.batch*per)
	for len(todo) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("vision: %w", err)
		}
		n := min(len(todo), l.batch)
		chunk := todo[:n]
		todo = todo[n:]
		l.preprocess(imgs, chunk, buf)
		rows := n
		if l.fixed {
			clear(buf[n*per:])
			rows = l.batch
		}
		out, emb, err := l.run(buf[:rows*per], rows)
		if err != nil {
			return nil, nil, err
		}
		for j, i := range chunk {
			scores[i] = out[j*l.classes : (j+1)*l.classes]
			if emb != nil {
				embs[i] = emb[j*l.embDim : (j+1)*l.embDim]
			}
		}
	}
	return scores, embs, nil
}

// preprocess fills buf with imgs[idx[0]], imgs[idx[1]], ... on all cores.
func (l *Local) preprocess(imgs []image.Image, idx []int, buf []float32) {
	crop := l.model.Prep.Crop
	per := 3 * crop * crop
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(idx)) {
		wg.Go(func() {
			for j := range next {
				l.model.Prep.Preprocess(imgs[idx[j]], buf[j*per:(j+1)*per])
			}
		})
	}
	for j := range idx {
		next <- j
	}
	close(next)
	wg.Wait()
}

// run feeds rows images in input to the session and copies out the results.
func (l *Local) run(input []float32, rows int) (scores, emb []float32, err error) {
	crop := int64(l.model.Prep.Crop)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.session == nil {
		return nil, nil, errkind.Fatal(errClosed)
	}
	t, err := ort.NewTensor(ort.NewShape(int64(rows), 3, crop, crop), input)
	if err != nil {
		return nil, nil, errkind.Fatal(fmt.Errorf("vision: input tensor: %w", err))
	}
	defer t.Destroy()
	outs := make([]ort.Value, 1, 2)
	if l.embDim > 0 {
		outs = append(outs, nil)
	}
	if err := l.session.Run([]ort.Value{t}, outs); err != nil {
		return nil, nil, errkind.Fatal(fmt.Errorf("vision: running %s: %w", l.model.Name, err))
	}
	defer func() {
		for _, o := range outs {
			if o != nil {
				o.Destroy()
			}
		}
	}()
	if scores, err = copyOut(outs[0], rows*l.classes); err != nil {
		return nil, nil, err
	}
	if l.embDim > 0 {
		if emb, err = copyOut(outs[1], rows*l.embDim); err != nil {
			return nil, nil, err
		}
	}
	return scores, emb, nil
}

func copyOut(v ort.Value, want int) ([]float32, error) {
	t, ok := v.(*ort.Tensor[float32])
	if !ok {
		return nil, errkind.Fatal(fmt.Errorf("vision: model output is %T, want float32 tensor", v))
	}
	d := t.GetData()
	if len(d) != want {
		return nil, errkind.Fatal(fmt.Errorf("vision: model output has %d values, want %d", len(d), want))
	}
	return append([]float32(nil), d...), nil
}

// top returns the topK classes, most confident first; equal scores keep
// index order. Logits go through a softmax over all classes.
func (l *Local) top(scores []float32) []Label {
	probs := make([]float64, len(scores))
	if l.model.Softmaxed {
		for i, s := range scores {
			probs[i] = min(max(float64(s), 0), 1)
		}
	} else {
		hi := math.Inf(-1)
		for _, s := range scores {
			hi = max(hi, float64(s))
		}
		var sum float64
		for i, s := range scores {
			probs[i] = math.Exp(float64(s) - hi) // minus the max: no overflow
			sum += probs[i]
		}
		for i := range probs {
			probs[i] /= sum
		}
	}
	k := min(l.topK, len(probs))
	best := make([]int, 0, k)
	for i, p := range probs {
		// Insert i into best, kept sorted by descending probability.
		pos := len(best)
		for pos > 0 && probs[best[pos-1]] < p {
			pos--
		}
		if pos >= k {
			continue
		}
		if len(best) < k {
			best = append(best, 0)
		}
		copy(best[pos+1:], best[pos:len(best)-1])
		best[pos] = i
	}
	labels := make([]Label, len(best))
	for j, i := range best {
		labels[j] = Label{Name: l.model.Labels[i], Confidence: probs[i]}
	}
	return labels
}

func normalize(v []float32) []float32 {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	if ss == 0 {
		return out
	}
	inv := 1 / math.Sqrt(ss)
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return out
}

// Close releases the session. It is safe to call more than once.
func (l *Local) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.session == nil {
		return nil
	}
	err := l.session.Destroy()
	l.session = nil
	return err
}
