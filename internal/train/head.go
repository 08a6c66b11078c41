package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/scour-dev/scour/internal/nn"
	"github.com/scour-dev/scour/internal/progress"
)

// ErrNoEmbeddings means a split has nothing for the head to train or
// validate on.
var ErrNoEmbeddings = errors.New("no embeddings")

// Embedded is one image as a pretrained model's embedding.
type Embedded struct {
	SHA256 string
	Label  int32
	X      []float32
}

// HeadConfig tunes the transfer-learning head: softmax regression on the
// embeddings, or with Hidden > 0 a one-hidden-layer MLP. Both are fitted
// with L-BFGS on the whole training split at once.
type HeadConfig struct {
	Name   string
	Model  string // the embedding model's name, recorded for predict
	Hidden int
	// Epochs caps the L-BFGS iterations of each fit [300]; an iteration
	// goes over the whole training split at least once. Fits usually
	// converge well before.
	Epochs int
	// L2 > 0 fits with that penalty only; 0 tries HeadL2Grid (HeadMLPL2Grid
	// for an MLP) and keeps the one with the lowest validation loss; < 0
	// fits without a penalty.
	L2   float64
	Seed uint64
}

// HeadL2Grid holds the L2 penalties RunHead chooses from for softmax
// regression. The penalty is L2/2 * Σw² on the kernels, added to the mean
// cross-entropy over n training examples: scikit-learn's LogisticRegression
// with C = 1/(L2*n). On MobileNetV2 embeddings of boat photos the best by
// validation loss fell between 1e-4 and 1, mostly 0.03 to 1; each fit takes
// a few dozen iterations, so the grid can be fine.
var HeadL2Grid = []float64{1e-4, 1e-3, 1e-2, 3e-2, 0.1, 0.3, 1, 3, 10}

// HeadMLPL2Grid is HeadL2Grid for the MLP, coarser because each fit costs
// Hidden times more and takes more iterations; above 1 the hidden layer
// dies (every ReLU off) on the same photos.
var HeadMLPL2Grid = []float64{1e-3, 1e-2, 0.1, 1}

// HeadTrial is one L2 penalty RunHead tried, fitted on the training split
// and scored on the validation split.
type HeadTrial struct {
	L2         float64 `json:"l2"`
	Iterations int     `json:"iterations"`
	Converged  bool    `json:"converged"`
	TrainLoss  float64 `json:"train_loss"`
	TrainAcc   float64 `json:"train_acc"`
	ValLoss    float64 `json:"val_loss"`
	ValAcc     float64 `json:"val_acc"`
	Seconds    float64 `json:"seconds"`
	Chosen     bool    `json:"chosen"` // the one RunHead kept
}

// Head is a trained head: a dense-only nn.Model (Flatten of a 1x1xIn
// input, an optional Dense+ReLU hidden layer, a Dense layer of one logit
// per class, softmax) that takes the raw embedding, L2-normalised as clean
// caches it. The embeddings' standardisation is folded into the first
// dense layer, so the model is all an exporter needs.
type Head struct{ *nn.Model }

// In is the embedding size the head takes.
func (h *Head) In() int { return h.Input().Size() }

// Probs returns the class probabilities of one embedding. x must hold In
// finite floats (an embedding of the model named in the file's Meta); use
// Predict for an error instead of a panic on anything else.
func (h *Head) Probs(x []float32) []float32 {
	p, err := h.Predict(x, 1)
	if err != nil {
		panic(fmt.Sprintf("head: %v", err))
	}
	return p
}

// standardizer is the per-feature mean and standard deviation of the
// training embeddings.
type standardizer struct{ mean, std []float32 }

func newStandardizer(es []Embedded, dim int) standardizer {
	sum, sq := make([]float64, dim), make([]float64, dim)
	for _, e := range es {
		for j, v := range e.X {
			sum[j] += float64(v)
		}
	}
	n := float64(len(es))
	s := standardizer{mean: make([]float32, dim), std: make([]float32, dim)}
	for j := range sum {
		sum[j] /= n
		s.mean[j] = float32(sum[j])
	}
	// Two passes: E[x²]-E[x]² cancels badly on features far from zero.
	for _, e := range es {
		for j, v := range e.X {
			d := float64(v) - sum[j]
			sq[j] += d * d
		}
	}
	for j := range sq {
		sd := math.Sqrt(sq[j] / n)
		// A feature (nearly) constant on the training split carries no
		// information; dividing by its tiny spread would only blow up its
		// noise elsewhere. scikit-learn's StandardScaler does the same.
		if sd < 1e-6*math.Max(1, math.Abs(sum[j])) {
			sd = 1
		}
		s.std[j] = float32(sd)
	}
	return s
}

// matrix lays out embeddings row by row, standardised when s is not nil.
func matrix(es []Embedded, s *standardizer) ([]float32, []int32) {
	if len(es) == 0 {
		return nil, nil
	}
	dim := len(es[0].X)
	x := make([]float32, 0, len(es)*dim)
	y := make([]int32, len(es))
	for i, e := range es {
		if s == nil {
			x = append(x, e.X...)
		} else {
			for j, v := range e.X {
				x = append(x, (v-s.mean[j])/s.std[j])
			}
		}
		y[i] = e.Label
	}
	return x, y
}

func checkEmbedded(split string, es []Embedded, dim, classes int) error {
	for _, e := range es {
		if len(e.X) != dim {
			return fmt.Errorf("%s embedding of %s has %d values, the first training one %d: clean cached embeddings of different models; run `scour clean` again", split, e.SHA256, len(e.X), dim)
		}
		if e.Label < 0 || int(e.Label) >= classes {
			return fmt.Errorf("%s embedding of %s has label %d, outside the %d classes", split, e.SHA256, e.Label, classes)
		}
	}
	return nil
}

// RunHead standardises the embeddings with the training split's mean and
// deviation, fits the head with L-BFGS for each L2 penalty tried, keeps the
// one with the lowest validation loss, folds the standardisation into it,
// tests it, and writes the same files as a CNN run (history, best.scour,
// result.json) in dir. The history is the kept fit's L-BFGS iterations,
// from iteration 0 (the starting point: zero weights for softmax
// regression, whose loss is log(classes)); BestEpoch is the last one.
func RunHead(ctx context.Context, classes []string, tr, val, test []Embedded, cfg HeadConfig, dir string, events progress.Sink) (Result, error) {
	if cfg.Epochs <= 0 {
		cfg.Epochs = 300
	}
	if len(classes) < 2 {
		return Result{}, fmt.Errorf("need at least 2 classes, have %d", len(classes))
	}
	if len(tr) == 0 || len(val) == 0 {
		return Result{}, fmt.Errorf("%w for the train or validation split: run `scour clean` (with the local recognizer) before `scour train --head`, then `scour split`", ErrNoEmbeddings)
	}
	dim := len(tr[0].X)
	for _, s := range []struct {
		name string
		es   []Embedded
	}{{"train", tr}, {"validation", val}, {"test", test}} {
		if err := checkEmbedded(s.name, s.es, dim, len(classes)); err != nil {
			return Result{}, err
		}
	}
	grid := HeadL2Grid
	if cfg.Hidden > 0 {
		grid = HeadMLPL2Grid
	}
	switch {
	case cfg.L2 > 0:
		grid = []float64{cfg.L2}
	case cfg.L2 < 0:
		grid = []float64{0}
	}
	std := newStandardizer(tr, dim)
	xtr, ytr := matrix(tr, &std)
	xval, yval := matrix(val, &std)
	spec := nn.Spec{Kernel: 3}
	if cfg.Hidden > 0 {
		spec.Dense = []int{cfg.Hidden}
	}

	stage := "train " + cfg.Name
	progress.Start(events, stage, int64(len(grid)))
	defer progress.Finish(events, stage)
	type fit struct {
		m       *nn.Model
		history []Epoch
	}
	var best *fit
	var trials []HeadTrial
	bestTrial := -1
	for _, l2 := range grid {
		m, err := nn.Build(spec, nn.Shape{H: 1, W: 1, C: dim}, len(classes), cfg.Seed)
		if err != nil {
			return Result{}, err
		}
		if cfg.Hidden == 0 {
			m.ZeroWeights()
		}
		// The starting point is the history's iteration 0, so the curve
		// shows the whole fall: on small sets of embeddings one or two
		// iterations already fit the training split.
		start := time.Now()
		tl, ta, err := m.Evaluate(xtr, ytr)
		if err != nil {
			return Result{}, fmt.Errorf("%w: %w; check the embeddings for NaN values", ErrDiverged, err)
		}
		vl, va, err := m.Evaluate(xval, yval)
		if err != nil {
			return Result{}, err
		}
		f := &fit{m: m, history: []Epoch{{Epoch: 0, TrainLoss: tl, TrainAcc: ta, ValLoss: vl, ValAcc: va, Seconds: time.Since(start).Seconds()}}}
		last := time.Now()
		out, err := nn.LBFGS{L2: l2, MaxIter: cfg.Epochs}.Fit(m, xtr, ytr, func(it nn.LBFGSIter) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			vl, va, err := m.Evaluate(xval, yval)
			if err != nil {
				return err
			}
			f.history = append(f.history, Epoch{Epoch: it.Iter, TrainLoss: it.Loss, TrainAcc: it.Acc, ValLoss: vl, ValAcc: va, Seconds: time.Since(last).Seconds()})
			last = time.Now()
			return nil
		})
		if errors.Is(err, nn.ErrNonFinite) {
			return Result{}, fmt.Errorf("%w: %w (L2 %g); check the embeddings for NaN values", ErrDiverged, err, l2)
		}
		if err != nil {
			return Result{}, err
		}
		final := f.history[len(f.history)-1]
		trials = append(trials, HeadTrial{L2: l2, Iterations: out.Last.Iter, Converged: out.Converged, TrainLoss: final.TrainLoss, TrainAcc: final.TrainAcc,
			ValLoss: final.ValLoss, ValAcc: final.ValAcc, Seconds: time.Since(start).Seconds()})
		if bestTrial < 0 || final.ValLoss < trials[bestTrial].ValLoss {
			best, bestTrial = f, len(trials)-1
		}
		progress.Step(events, stage, 1)
	}
	trials[bestTrial].Chosen = true
	chosen := trials[bestTrial]
	if !chosen.Converged {
		progress.Warn(events, stage, fmt.Sprintf("the head did not converge in %d L-BFGS iterations; raise the epochs to fit it fully", cfg.Epochs))
	}
	m := best.m
	if err := m.FoldStandardization(std.mean, std.std); err != nil {
		return Result{}, err
	}
	res := Result{Name: cfg.Name, Kind: "head", Spec: headSpec(cfg, chosen.L2, len(grid)), Classes: classes, Params: m.NumParams(),
		History: best.history, BestEpoch: best.history[len(best.history)-1].Epoch, HeadTrials: trials}
	if err := writeHistory(dir, res.History); err != nil {
		return res, err
	}
	res.ModelPath = filepath.Join(dir, "best.scour")
	meta := Meta{Kind: "head", Classes: classes, Preprocess: cfg.Model, Spec: res.Spec, Epoch: res.BestEpoch, ValAcc: res.Best().ValAcc}
	if err := SaveModelFile(res.ModelPath, meta, m.Save); err != nil {
		return res, err
	}
	k := len(classes)
	res.Confusion = make([][]int, k)
	for i := range res.Confusion {
		res.Confusion[i] = make([]int, k)
	}
	if len(test) > 0 {
		// The folded model on raw embeddings: what predict will run.
		x, y := matrix(test, nil)
		var err error
		if res.TestLoss, res.TestAcc, err = m.Evaluate(x, y); err != nil {
			return res, err
		}
		p, err := m.Predict(x, len(y))
		if err != nil {
			return res, err
		}
		res.TestN = len(test)
		var misses []Miss
		for i, e := range test {
			pi := argmax(p[i*k : (i+1)*k])
			res.Confusion[e.Label][pi]++
			if pi != int(e.Label) {
				misses = append(misses, Miss{SHA256: e.SHA256, True: classes[e.Label], Predicted: classes[pi], Confidence: float64(p[i*k+pi])})
			}
		}
		sortMisses(misses)
		res.Worst = misses[:min(len(misses), 12)]
	}
	js, _ := json.MarshalIndent(res, "", "  ")
	return res, writeAtomic(filepath.Join(dir, "result.json"), js)
}

func headSpec(c HeadConfig, l2 float64, tried int) string {
	var b strings.Builder
	if c.Hidden > 0 {
		fmt.Fprintf(&b, "head: MLP %d", c.Hidden)
	} else {
		b.WriteString("head: softmax regression")
	}
	fmt.Fprintf(&b, " on standardised %s embeddings, L-BFGS, L2 %g", c.Model, l2)
	if tried > 1 {
		fmt.Fprintf(&b, " (best of %d on validation)", tried)
	}
	return b.String()
}

// LoadHead reads a head model file. The head's nn.Model (h.Model) takes
// the raw embedding as a 1x1xIn input and ends in the softmax: an exporter
// can write its dense layers as they are.
func LoadHead(path string) (Meta, *Head, error) {
	meta, m, err := loadNN(path, "head")
	if err != nil {
		return meta, nil, err
	}
	if in := m.Input(); len(m.Spec().Conv) > 0 || in.H != 1 || in.W != 1 {
		return meta, nil, fmt.Errorf("%s: %w: a head takes a flat embedding, this network takes %v images", path, ErrModelFile, in)
	}
	return meta, &Head{m}, nil
}
