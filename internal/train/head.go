package train

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

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
// embeddings, or with Hidden > 0 a one-hidden-layer MLP.
type HeadConfig struct {
	Name   string
	Model  string // the embedding model's name, recorded for predict
	Hidden int
	Epochs int     // default 100
	Batch  int     // default 32
	LR     float64 // Adam; default 1e-3
	L2     float64 // weight decay; default 1e-4
	Seed   uint64
}

// Head is a trained head: one or two dense layers.
type Head struct {
	In, Hidden, Classes int
	W1, B1, W2, B2      []float32 // W1: In x Hidden (or In x Classes when Hidden == 0)
}

// Probs returns the class probabilities of one embedding.
func (h *Head) Probs(x []float32) []float32 {
	z := h.forward(x, nil)
	return softmax(z)
}

func (h *Head) forward(x []float32, hid []float32) []float32 {
	if h.Hidden == 0 {
		return affine(x, h.W1, h.B1, h.In, h.Classes)
	}
	a := affine(x, h.W1, h.B1, h.In, h.Hidden)
	for i := range a {
		if a[i] < 0 {
			a[i] = 0
		}
	}
	if hid != nil {
		copy(hid, a)
	}
	return affine(a, h.W2, h.B2, h.Hidden, h.Classes)
}

func affine(x, w, b []float32, in, out int) []float32 {
	z := make([]float32, out)
	copy(z, b)
	for i := 0; i < in; i++ {
		xi := x[i]
		if xi == 0 {
			continue
		}
		row := w[i*out : (i+1)*out]
		for j := range z {
			z[j] += xi * row[j]
		}
	}
	return z
}

func softmax(z []float32) []float32 {
	m := z[0]
	for _, v := range z {
		m = max(m, v)
	}
	var s float64
	p := make([]float32, len(z))
	for i, v := range z {
		e := math.Exp(float64(v - m))
		p[i] = float32(e)
		s += e
	}
	for i := range p {
		p[i] = float32(float64(p[i]) / s)
	}
	return p
}

// RunHead fits a head on the train embeddings, keeps the epoch with the
// lowest validation loss, tests it, and writes the same files as a CNN run
// (history, best.scour, result.json) in dir.
func RunHead(ctx context.Context, classes []string, tr, val, test []Embedded, cfg HeadConfig, dir string, events progress.Sink) (Result, error) {
	if cfg.Epochs <= 0 {
		cfg.Epochs = 100
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 32
	}
	if cfg.LR <= 0 {
		cfg.LR = 1e-3
	}
	if cfg.L2 < 0 {
		cfg.L2 = 0
	} else if cfg.L2 == 0 {
		cfg.L2 = 1e-4
	}
	if len(classes) < 2 {
		return Result{}, fmt.Errorf("need at least 2 classes, have %d", len(classes))
	}
	if len(tr) == 0 || len(val) == 0 {
		return Result{}, fmt.Errorf("%w for the train or validation split: run `scour clean` (with the local recognizer) before `scour train --head`, then `scour split`", ErrNoEmbeddings)
	}
	dim := len(tr[0].X)
	h := &Head{In: dim, Hidden: cfg.Hidden, Classes: len(classes)}
	rng := rand.New(rand.NewPCG(cfg.Seed, 17))
	glorot := func(in, out int) []float32 {
		lim := math.Sqrt(6 / float64(in+out))
		w := make([]float32, in*out)
		for i := range w {
			w[i] = float32((rng.Float64()*2 - 1) * lim)
		}
		return w
	}
	if cfg.Hidden > 0 {
		h.W1, h.B1 = glorot(dim, cfg.Hidden), make([]float32, cfg.Hidden)
		h.W2, h.B2 = glorot(cfg.Hidden, len(classes)), make([]float32, len(classes))
	} else {
		h.W1, h.B1 = glorot(dim, len(classes)), make([]float32, len(classes))
	}
	params := [][]float32{h.W1, h.B1, h.W2, h.B2}
	m := make([][]float32, len(params))
	v := make([][]float32, len(params))
	g := make([][]float32, len(params))
	for i, p := range params {
		m[i], v[i], g[i] = make([]float32, len(p)), make([]float32, len(p)), make([]float32, len(p))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Result{}, err
	}
	res := Result{Name: cfg.Name, Kind: "head", Spec: headSpec(cfg), Classes: classes}
	for _, p := range params {
		res.Params += len(p)
	}
	best, bestLoss := (*Head)(nil), math.MaxFloat64
	order := make([]int, len(tr))
	for i := range order {
		order[i] = i
	}
	step := 0
	stage := "train " + cfg.Name
	progress.Start(events, stage, int64(cfg.Epochs))
	defer progress.Finish(events, stage)
	for ep := 1; ep <= cfg.Epochs; ep++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		t0 := time.Now()
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var lossSum float64
		correct := 0
		hid := make([]float32, max(cfg.Hidden, 1))
		for lo := 0; lo < len(order); lo += cfg.Batch {
			for _, gi := range g {
				clear(gi)
			}
			batch := order[lo:min(len(order), lo+cfg.Batch)]
			for _, idx := range batch {
				e := tr[idx]
				z := h.forward(e.X, hid)
				p := softmax(z)
				lossSum -= math.Log(math.Max(float64(p[e.Label]), 1e-12))
				if argmax(p) == int(e.Label) {
					correct++
				}
				p[e.Label]--
				n := float32(len(batch))
				if cfg.Hidden == 0 {
					accum(g[0], g[1], e.X, p, n)
				} else {
					accum(g[2], g[3], hid, p, n)
					dh := make([]float32, cfg.Hidden)
					for i := 0; i < cfg.Hidden; i++ {
						if hid[i] <= 0 {
							continue
						}
						row := h.W2[i*len(classes) : (i+1)*len(classes)]
						for j, d := range p {
							dh[i] += row[j] * d
						}
					}
					accum(g[0], g[1], e.X, dh, n)
				}
			}
			step++
			for i, p := range params {
				if p == nil {
					continue
				}
				adam(p, g[i], m[i], v[i], float32(cfg.LR), float32(cfg.L2), step)
			}
		}
		vl, va := headEval(h, val)
		if math.IsNaN(vl) {
			return res, fmt.Errorf("%w: validation loss is NaN at epoch %d", ErrDiverged, ep)
		}
		res.History = append(res.History, Epoch{Epoch: ep, TrainLoss: lossSum / float64(len(tr)), TrainAcc: float64(correct) / float64(len(tr)),
			ValLoss: vl, ValAcc: va, Seconds: time.Since(t0).Seconds()})
		if vl < bestLoss {
			bestLoss, res.BestEpoch = vl, ep
			best = h.clone()
		}
		progress.Step(events, stage, 1)
	}
	if err := writeHistory(dir, res.History); err != nil {
		return res, err
	}
	res.ModelPath = filepath.Join(dir, "best.scour")
	meta := Meta{Kind: "head", Classes: classes, Preprocess: cfg.Model, Spec: res.Spec, Epoch: res.BestEpoch, ValAcc: res.Best().ValAcc}
	if err := SaveModelFile(res.ModelPath, meta, best.save); err != nil {
		return res, err
	}
	k := len(classes)
	res.Confusion = make([][]int, k)
	for i := range res.Confusion {
		res.Confusion[i] = make([]int, k)
	}
	if len(test) > 0 {
		res.TestLoss, res.TestAcc = headEval(best, test)
		res.TestN = len(test)
		var misses []Miss
		for _, e := range test {
			p := best.Probs(e.X)
			pi := argmax(p)
			res.Confusion[e.Label][pi]++
			if pi != int(e.Label) {
				misses = append(misses, Miss{SHA256: e.SHA256, True: classes[e.Label], Predicted: classes[pi], Confidence: float64(p[pi])})
			}
		}
		sortMisses(misses)
		res.Worst = misses[:min(len(misses), 12)]
	}
	js, _ := json.MarshalIndent(res, "", "  ")
	return res, writeAtomic(filepath.Join(dir, "result.json"), js)
}

func headSpec(c HeadConfig) string {
	if c.Hidden > 0 {
		return fmt.Sprintf("head: MLP %d on %s embeddings", c.Hidden, c.Model)
	}
	return fmt.Sprintf("head: softmax regression on %s embeddings", c.Model)
}

// accum adds the gradient of one example, divided by n: dW += x dz^T / n.
func accum(gw, gb, x, dz []float32, n float32) {
	out := len(dz)
	for j, d := range dz {
		gb[j] += d / n
	}
	for i, xi := range x {
		if xi == 0 {
			continue
		}
		row := gw[i*out : (i+1)*out]
		for j, d := range dz {
			row[j] += xi * d / n
		}
	}
}

// adam is one Adam step with PyTorch's epsilon placement and L2 decay.
func adam(w, g, m, v []float32, lr, l2 float32, t int) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	c1 := 1 - math.Pow(b1, float64(t))
	c2 := math.Sqrt(1 - math.Pow(b2, float64(t)))
	for i := range w {
		gi := g[i] + l2*w[i]
		m[i] = b1*m[i] + (1-b1)*gi
		v[i] = b2*v[i] + (1-b2)*gi*gi
		w[i] -= float32(float64(lr) / c1 * float64(m[i]) / (math.Sqrt(float64(v[i]))/c2 + eps))
	}
}

func headEval(h *Head, es []Embedded) (loss, acc float64) {
	correct := 0
	for _, e := range es {
		p := h.Probs(e.X)
		loss -= math.Log(math.Max(float64(p[e.Label]), 1e-12))
		if argmax(p) == int(e.Label) {
			correct++
		}
	}
	return loss / float64(len(es)), float64(correct) / float64(len(es))
}

func (h *Head) clone() *Head {
	c := *h
	c.W1, c.B1 = append([]float32(nil), h.W1...), append([]float32(nil), h.B1...)
	c.W2, c.B2 = append([]float32(nil), h.W2...), append([]float32(nil), h.B2...)
	return &c
}

func (h *Head) save(w io.Writer) error {
	var buf bytes.Buffer
	for _, v := range []int{h.In, h.Hidden, h.Classes} {
		binary.Write(&buf, binary.LittleEndian, uint32(v))
	}
	for _, p := range [][]float32{h.W1, h.B1, h.W2, h.B2} {
		binary.Write(&buf, binary.LittleEndian, uint32(len(p)))
		binary.Write(&buf, binary.LittleEndian, p)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// LoadHead reads a head model file.
func LoadHead(path string) (Meta, *Head, error) {
	meta, r, err := ReadModelFile(path)
	if err != nil {
		return meta, nil, err
	}
	if meta.Kind != "head" {
		return meta, nil, fmt.Errorf("%s: a %s model, not a head", path, meta.Kind)
	}
	h := &Head{}
	var dims [3]uint32
	if err := binary.Read(r, binary.LittleEndian, &dims); err != nil {
		return meta, nil, fmt.Errorf("%s: %w: %v", path, ErrModelFile, err)
	}
	h.In, h.Hidden, h.Classes = int(dims[0]), int(dims[1]), int(dims[2])
	ps := []*[]float32{&h.W1, &h.B1, &h.W2, &h.B2}
	for _, p := range ps {
		var n uint32
		if err := binary.Read(r, binary.LittleEndian, &n); err != nil || n > 1<<26 {
			return meta, nil, fmt.Errorf("%s: %w: truncated", path, ErrModelFile)
		}
		*p = make([]float32, n)
		if err := binary.Read(r, binary.LittleEndian, *p); err != nil {
			return meta, nil, fmt.Errorf("%s: %w: truncated", path, ErrModelFile)
		}
	}
	want1 := h.In * max(h.Hidden, 0)
	if h.Hidden == 0 {
		want1 = h.In * h.Classes
	}
	if len(h.W1) != want1 || h.Classes != len(meta.Classes) {
		return meta, nil, fmt.Errorf("%s: %w: weights do not fit %d inputs and %d classes", path, ErrModelFile, h.In, h.Classes)
	}
	return meta, h, nil
}
