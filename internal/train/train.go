package train

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/scour-dev/scour/internal/augment"
	"github.com/scour-dev/scour/internal/nn"
	"github.com/scour-dev/scour/internal/progress"
)

// Config is one training run's settings.
type Config struct {
	Name      string         // run name: the folder under runs/
	Spec      string         // model spec, e.g. "32-64-128/d1"
	Epochs    int            // default 20
	Batch     int            // default 32
	Optimizer string         // "adam" (default) or "sgd"
	LR        float64        // default 1e-3 (adam), 1e-2 (sgd)
	Momentum  float64        // sgd only; default 0.9
	Patience  int            // stop after this many epochs without a better val loss; 0 = never
	Seed      uint64         // everything random derives from it
	Augment   augment.Params // applied to training batches only
	Threads   int            // GEMM threads; 0 = all cores
}

func (c *Config) defaults() {
	if c.Epochs <= 0 {
		c.Epochs = 20
	}
	if c.Batch <= 0 {
		c.Batch = 32
	}
	if c.Optimizer == "" {
		c.Optimizer = "adam"
	}
	if c.LR <= 0 {
		c.LR = 1e-3
		if c.Optimizer == "sgd" {
			c.LR = 1e-2
		}
	}
	if c.Momentum == 0 && c.Optimizer == "sgd" {
		c.Momentum = 0.9
	}
	if c.Threads <= 0 {
		c.Threads = runtime.GOMAXPROCS(0)
	}
	if c.Augment.Rescale == 0 {
		c.Augment.Rescale = 1.0 / 255
	}
}

// fingerprint identifies the settings that a checkpoint must share with the
// run that resumes it.
func (c Config) fingerprint(d Data) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%d|%s|%g|%g|%d|%s|%d|%v|%d|%d", c.Spec, c.Batch, c.Optimizer, c.LR, c.Momentum, c.Seed, c.Augment.String(), d.Size, d.Classes, len(d.Train), len(d.Val))
	return strconv.FormatUint(h.Sum64(), 16)
}

// Epoch is one row of a run's history.
type Epoch struct {
	Epoch     int     `json:"epoch"`
	TrainLoss float64 `json:"train_loss"`
	TrainAcc  float64 `json:"train_acc"`
	ValLoss   float64 `json:"val_loss"`
	ValAcc    float64 `json:"val_acc"`
	Seconds   float64 `json:"seconds"`
}

// Miss is a misclassified test image.
type Miss struct {
	SHA256     string  `json:"sha256"`
	True       string  `json:"true"`
	Predicted  string  `json:"predicted"`
	Confidence float64 `json:"confidence"`
}

// Result is a finished run.
type Result struct {
	Name         string   `json:"name"`
	Kind         string   `json:"kind"` // "cnn" or "head"
	Spec         string   `json:"spec"`
	Params       int      `json:"params"`
	Classes      []string `json:"classes"`
	History      []Epoch  `json:"history"`
	BestEpoch    int      `json:"best_epoch"`
	StoppedEarly bool     `json:"stopped_early"`
	TestLoss     float64  `json:"test_loss"`
	TestAcc      float64  `json:"test_acc"`
	TestN        int      `json:"test_n"`
	Confusion    [][]int  `json:"confusion"` // [true][predicted]
	Worst        []Miss   `json:"worst"`
	ModelPath    string   `json:"model"`
	Kernel       string   `json:"kernel,omitempty"`
	// HeadTrials are the L2 penalties a head tried (History is the kept one's).
	HeadTrials []HeadTrial `json:"head_trials,omitempty"`
}

// Final is the last epoch of the history.
func (r Result) Final() Epoch {
	if len(r.History) == 0 {
		return Epoch{}
	}
	return r.History[len(r.History)-1]
}

// Best is the epoch whose weights were kept.
func (r Result) Best() Epoch {
	for _, e := range r.History {
		if e.Epoch == r.BestEpoch {
			return e
		}
	}
	return r.Final()
}

// ErrDiverged is returned when the loss became NaN or infinite; the last
// good checkpoint and the best model so far are kept.
var ErrDiverged = errors.New("training diverged")

type checkpoint struct {
	Fingerprint string  `json:"fingerprint"`
	Epoch       int     `json:"epoch"` // epochs completed
	History     []Epoch `json:"history"`
	BestEpoch   int     `json:"best_epoch"`
	BestLoss    float64 `json:"best_val_loss"`
	Since       int     `json:"epochs_since_best"`
}

// Run trains cfg on d in dir (runs/<name>), resuming from dir's checkpoint
// when its settings match. It writes, as it goes: history.csv and
// history.json after each epoch, checkpoint files, best.scour (the best
// model so far by validation loss) and finally result.json.
func Run(ctx context.Context, d Data, cfg Config, dir string, events progress.Sink) (Result, error) {
	cfg.defaults()
	if err := d.Check(); err != nil {
		return Result{}, err
	}
	if err := cfg.Augment.Validate(); err != nil {
		return Result{}, err
	}
	spec, err := nn.ParseSpec(cfg.Spec)
	if err != nil {
		return Result{}, err
	}
	shape := nn.Shape{H: d.Size, W: d.Size, C: 3}
	model, err := nn.Build(spec, shape, len(d.Classes), cfg.Seed)
	if err != nil {
		return Result{}, err
	}
	model.SetThreads(cfg.Threads)
	var opt nn.Optimizer
	switch cfg.Optimizer {
	case "adam":
		opt = nn.NewAdam(float32(cfg.LR))
	case "sgd":
		opt = nn.NewSGD(float32(cfg.LR), float32(cfg.Momentum))
	default:
		return Result{}, fmt.Errorf("optimizer %q: want adam or sgd", cfg.Optimizer)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Result{}, err
	}
	fp := cfg.fingerprint(d)
	ck := checkpoint{Fingerprint: fp, BestLoss: math.MaxFloat64}
	if prev, m, o, ok := loadCheckpoint(dir, fp, opt); ok {
		ck, model, opt = prev, m, o
		model.SetThreads(cfg.Threads)
		progress.Info(events, "train", fmt.Sprintf("%s: resuming after epoch %d", cfg.Name, ck.Epoch))
	}
	res := Result{Name: cfg.Name, Kind: "cnn", Spec: spec.String(), Params: model.NumParams(), Classes: d.Classes, Kernel: model.Kernel()}
	stage := "train " + cfg.Name
	stepsPerEpoch := (len(d.Train) + cfg.Batch - 1) / cfg.Batch
	progress.Start(events, stage, int64(stepsPerEpoch*(cfg.Epochs-ck.Epoch)))
	defer progress.Finish(events, stage)

	valX, valY := tensors(d.Val, d.Size)
	for ep := ck.Epoch + 1; ep <= cfg.Epochs; ep++ {
		if cfg.Patience > 0 && ck.Since >= cfg.Patience {
			res.StoppedEarly = true
			break
		}
		t0 := time.Now()
		var lossSum, accSum float64
		var seen int
		err := batches(ctx, d, cfg, ep, func(x []float32, y []int32) error {
			l, a, err := model.TrainBatch(x, y, opt)
			if err != nil {
				if errors.Is(err, nn.ErrNonFinite) {
					return fmt.Errorf("%w at epoch %d (%v): lower the learning rate (train.lr) and run again; the best model so far is kept in %s", ErrDiverged, ep, err, filepath.Join(dir, "best.scour"))
				}
				return err
			}
			lossSum += l * float64(len(y))
			accSum += a * float64(len(y))
			seen += len(y)
			progress.Step(events, stage, 1)
			return nil
		})
		if err != nil {
			return res, err
		}
		vl, va, err := model.Evaluate(valX, valY)
		if err != nil {
			return res, err
		}
		if math.IsNaN(vl) || math.IsInf(vl, 0) {
			return res, fmt.Errorf("%w: validation loss is %v at epoch %d; the best model so far is kept", ErrDiverged, vl, ep)
		}
		e := Epoch{Epoch: ep, TrainLoss: lossSum / float64(seen), TrainAcc: accSum / float64(seen), ValLoss: vl, ValAcc: va, Seconds: time.Since(t0).Seconds()}
		ck.History = append(ck.History, e)
		ck.Epoch = ep
		if vl < ck.BestLoss {
			ck.BestLoss, ck.BestEpoch, ck.Since = vl, ep, 0
			if err := saveCNN(filepath.Join(dir, "best.scour"), model, d, cfg, ep, va); err != nil {
				return res, err
			}
		} else {
			ck.Since++
		}
		if err := writeHistory(dir, ck.History); err != nil {
			return res, err
		}
		if err := saveCheckpoint(dir, ck, model, opt); err != nil {
			return res, err
		}
		progress.Info(events, "train", fmt.Sprintf("%s epoch %d/%d: loss %.3f acc %.3f, val loss %.3f acc %.3f (%.1fs)", cfg.Name, ep, cfg.Epochs, e.TrainLoss, e.TrainAcc, e.ValLoss, e.ValAcc, e.Seconds))
	}
	res.History, res.BestEpoch = ck.History, ck.BestEpoch
	res.ModelPath = filepath.Join(dir, "best.scour")
	// Test with the best weights, as early stopping with restore would.
	_, best, err := LoadCNN(res.ModelPath)
	if err != nil {
		return res, err
	}
	best.SetThreads(cfg.Threads)
	if err := evaluateTest(best, d, &res); err != nil {
		return res, err
	}
	js, _ := json.MarshalIndent(res, "", "  ")
	return res, writeAtomic(filepath.Join(dir, "result.json"), js)
}

func saveCNN(path string, m *nn.Model, d Data, cfg Config, ep int, valAcc float64) error {
	meta := Meta{Kind: "cnn", Classes: d.Classes, Size: d.Size, Preprocess: "rgb/255", Spec: m.Spec().String(), Epoch: ep, ValAcc: valAcc}
	return SaveModelFile(path, meta, m.Save)
}

// tensors converts examples to one NHWC float32 batch scaled to [0,1].
func tensors(ex []Example, size int) ([]float32, []int32) {
	per := size * size * 3
	x := make([]float32, len(ex)*per)
	y := make([]int32, len(ex))
	for i, e := range ex {
		for j, v := range e.Pixels {
			x[i*per+j] = float32(v) / 255
		}
		y[i] = e.Label
	}
	return x, y
}

// batches shuffles the training set for epoch ep and hands augmented
// batches to fn. A few goroutines prepare the next batches while fn trains
// on the current one, so decoding and augmenting never stall the model.
func batches(ctx context.Context, d Data, cfg Config, ep int, fn func(x []float32, y []int32) error) error {
	order := make([]int, len(d.Train))
	for i := range order {
		order[i] = i
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(ep)))
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	n := (len(order) + cfg.Batch - 1) / cfg.Batch
	per := d.Size * d.Size * 3
	type batch struct {
		i int
		x []float32
		y []int32
	}
	ready := make([]chan batch, n)
	for i := range ready {
		ready[i] = make(chan batch, 1)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	workers := max(1, runtime.GOMAXPROCS(0)-1)
	for w := 0; w < workers; w++ {
		go func() {
			src := make([]float32, per)
			for b := range jobs {
				lo, hi := b*cfg.Batch, min(len(order), (b+1)*cfg.Batch)
				x := make([]float32, (hi-lo)*per)
				y := make([]int32, hi-lo)
				// Each batch has its own generator, so the augmentation is the
				// same whichever worker draws it: runs are reproducible.
				brng := rand.New(rand.NewPCG(cfg.Seed^0x9e3779b97f4a7c15, uint64(ep)<<32|uint64(b)))
				for k, idx := range order[lo:hi] {
					e := d.Train[idx]
					for j, v := range e.Pixels {
						src[j] = float32(v)
					}
					t := cfg.Augment.Random(brng, d.Size, d.Size)
					cfg.Augment.Augment(x[k*per:(k+1)*per], src, d.Size, d.Size, 3, t)
					y[k] = e.Label
				}
				select {
				case ready[b] <- batch{b, x, y}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	// At most `ahead` batches are prepared beyond the one training, so
	// memory stays bounded whatever the size of the training set.
	const ahead = 4
	tokens := make(chan struct{}, ahead)
	go func() {
		defer close(jobs)
		for b := 0; b < n; b++ {
			select {
			case tokens <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	for b := 0; b < n; b++ {
		select {
		case bt := <-ready[b]:
			err := fn(bt.x, bt.y)
			<-tokens
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func evaluateTest(m *nn.Model, d Data, res *Result) error {
	k := len(d.Classes)
	res.Confusion = make([][]int, k)
	for i := range res.Confusion {
		res.Confusion[i] = make([]int, k)
	}
	if len(d.Test) == 0 {
		return nil
	}
	x, y := tensors(d.Test, d.Size)
	loss, acc, err := m.Evaluate(x, y)
	if err != nil {
		return err
	}
	probs, err := m.Predict(x, len(y))
	if err != nil {
		return err
	}
	res.TestLoss, res.TestAcc, res.TestN = loss, acc, len(y)
	var misses []Miss
	for i, t := range y {
		row := probs[i*k : (i+1)*k]
		p := argmax(row)
		res.Confusion[t][p]++
		if int32(p) != t {
			misses = append(misses, Miss{SHA256: d.Test[i].SHA256, True: d.Classes[t], Predicted: d.Classes[p], Confidence: float64(row[p])})
		}
	}
	sortMisses(misses)
	res.Worst = misses[:min(len(misses), 12)]
	return nil
}

// sortMisses puts the most confident mistakes first: the ones worth a look.
func sortMisses(m []Miss) {
	sort.Slice(m, func(i, j int) bool { return m[i].Confidence > m[j].Confidence })
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func writeHistory(dir string, h []Epoch) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }
	for _, e := range h {
		w.Write([]string{strconv.Itoa(e.Epoch), f(e.TrainLoss), f(e.TrainAcc), f(e.ValLoss), f(e.ValAcc), f(e.Seconds)})
	}
	w.Flush()
	if err := writeAtomic(filepath.Join(dir, "history.csv"), buf.Bytes()); err != nil {
		return err
	}
	js, _ := json.MarshalIndent(h, "", "  ")
	return writeAtomic(filepath.Join(dir, "history.json"), js)
}

// A checkpoint is one file, so it is replaced atomically as a whole:
// u32 len | JSON state | u32 len | model | optimizer state.
func saveCheckpoint(dir string, ck checkpoint, m *nn.Model, opt nn.Optimizer) error {
	var buf bytes.Buffer
	js, _ := json.Marshal(ck)
	binary.Write(&buf, binary.LittleEndian, uint32(len(js)))
	buf.Write(js)
	var mb bytes.Buffer
	if err := m.Save(&mb); err != nil {
		return err
	}
	binary.Write(&buf, binary.LittleEndian, uint32(mb.Len()))
	buf.Write(mb.Bytes())
	if err := opt.SaveState(&buf); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, "checkpoint.bin"), buf.Bytes())
}

// loadCheckpoint restores a run with the same fingerprint. A damaged or
// foreign checkpoint is ignored (the run starts over) rather than trusted.
func loadCheckpoint(dir, fp string, opt nn.Optimizer) (checkpoint, *nn.Model, nn.Optimizer, bool) {
	data, err := os.ReadFile(filepath.Join(dir, "checkpoint.bin"))
	if err != nil || len(data) < 8 {
		return checkpoint{}, nil, nil, false
	}
	r := bytes.NewReader(data)
	var n uint32
	binary.Read(r, binary.LittleEndian, &n)
	if int(n) > r.Len() {
		return checkpoint{}, nil, nil, false
	}
	js := make([]byte, n)
	io.ReadFull(r, js)
	var ck checkpoint
	if json.Unmarshal(js, &ck) != nil || ck.Fingerprint != fp {
		return checkpoint{}, nil, nil, false
	}
	binary.Read(r, binary.LittleEndian, &n)
	if int(n) > r.Len() {
		return checkpoint{}, nil, nil, false
	}
	mb := make([]byte, n)
	io.ReadFull(r, mb)
	m, err := nn.Load(bytes.NewReader(mb))
	if err != nil {
		return checkpoint{}, nil, nil, false
	}
	if err := opt.LoadState(r); err != nil {
		return checkpoint{}, nil, nil, false
	}
	return ck, m, opt, true
}
