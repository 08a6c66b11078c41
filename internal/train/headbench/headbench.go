// Package headbench compares scour's transfer-learning head with
// scikit-learn's LogisticRegression on the same embeddings: MobileNetV2
// embeddings (as clean caches them) of real photos in class folders, split
// the same way for both, standardised with the training split's statistics,
// the L2 penalty chosen on the validation split from the same grid
// (train.HeadL2Grid, as C = 1/(L2*n)). Both fits run in one process tree,
// one right after the other, so their times are comparable; the accuracies
// are comparable anywhere.
package headbench

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scour-dev/scour/internal/clean"
	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/train"
)

// Options configure a run. Zero values take the defaults in brackets.
type Options struct {
	// Dir holds one folder of photos per class (required).
	Dir string
	// Sets are the class sets to fit a head on [DefaultSets that Dir has].
	Sets [][]string
	// PerClass caps the photos used per class, the first ones by file name
	// [0 = all].
	PerClass int
	// Seed drives the split [1].
	Seed uint64
	// Python runs scikit-learn ["/usr/bin/python3"]; "none" skips it.
	Python string
}

// DefaultSets are class pairs (and one all-class set) of the boat photos in
// the project's shared test data: easy, close and hard pairs.
var DefaultSets = [][]string{
	{"Kayaks", "Sailboats"},
	{"Destroyers", "Carriers"},
	{"Tugs", "Fishing Boats"},
	{"Submarines", "Security Boats"},
	{"Carriers", "Cruise Ships", "Destroyers", "Fishing Boats", "Kayaks", "Sailboats", "Security Boats", "Submarines", "Tugs"},
}

// Score is one fit's outcome.
type Score struct {
	L2       float64 // the penalty chosen (scikit-learn: 1/(C*n))
	ValAcc   float64
	TestAcc  float64
	TestLoss float64
	Seconds  float64 // standardising and fitting the whole grid
}

// Result is one class set.
type Result struct {
	Classes          []string
	Train, Val, Test int
	Scour            Score
	Iterations       int    // L-BFGS iterations of scour's kept fit
	Sklearn          *Score // nil when scikit-learn did not run
	SklearnErr       string // why it did not
}

// Embedded is a class set's embeddings, split.
type Embedded struct {
	Classes          []string
	Train, Val, Test []train.Embedded
}

// Run embeds the photos of every set's classes once, then for each set fits
// scour's head and scikit-learn's, and writes a table to w.
func Run(ctx context.Context, w io.Writer, o Options) ([]Result, error) {
	if o.Dir == "" {
		return nil, errors.New("headbench: no photo folder given: point it at a folder with one subfolder of photos per class")
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Python == "" {
		o.Python = "/usr/bin/python3"
	}
	sets := o.Sets
	if len(sets) == 0 {
		for _, s := range DefaultSets {
			if hasAll(o.Dir, s) {
				sets = append(sets, s)
			}
		}
		if len(sets) == 0 {
			return nil, fmt.Errorf("headbench: %s has none of the default classes' folders; name the class sets to compare", o.Dir)
		}
	}
	var need []string
	for _, s := range sets {
		need = append(need, s...)
	}
	embs, err := EmbedClasses(ctx, o.Dir, need, o.PerClass)
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, s := range sets {
		d := Split(embs, s, o.Seed)
		r, err := Compare(ctx, d, o.Python)
		if err != nil {
			return out, fmt.Errorf("%s: %w", strings.Join(s, " vs "), err)
		}
		out = append(out, r)
	}
	Print(w, out)
	return out, nil
}

func hasAll(dir string, classes []string) bool {
	for _, c := range classes {
		if fi, err := os.Stat(filepath.Join(dir, c)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// EmbedClasses returns the L2-normalised MobileNetV2 embeddings of the
// photos in dir/<class>/ for each class (in file-name order, at most
// perClass of them when > 0), keyed by class. Files that do not decode are
// skipped.
func EmbedClasses(ctx context.Context, dir string, classes []string, perClass int) (map[string][]train.Embedded, error) {
	lab, err := clean.NewLocalLabeler(32)
	if err != nil {
		return nil, fmt.Errorf("headbench: the MobileNetV2 labeler: %w", err)
	}
	defer lab.Close()
	out := map[string][]train.Embedded{}
	for _, c := range classes {
		if _, done := out[c]; done {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, c))
		if err != nil {
			return nil, fmt.Errorf("headbench: class %q: %w", c, err)
		}
		var names []string
		for _, f := range files {
			if !f.IsDir() && !strings.HasPrefix(f.Name(), ".") {
				names = append(names, f.Name())
			}
		}
		sort.Strings(names)
		if perClass > 0 && len(names) > perClass {
			names = names[:perClass]
		}
		var imgs []image.Image
		var keep []string
		for _, n := range names {
			data, err := os.ReadFile(filepath.Join(dir, c, n))
			if err != nil {
				return nil, err
			}
			img, _, err := imaging.Decode(data, imaging.Limits{})
			if err != nil {
				continue
			}
			imgs, keep = append(imgs, img), append(keep, n)
		}
		for lo := 0; lo < len(imgs); lo += 32 {
			hi := min(len(imgs), lo+32)
			rs, err := lab.Label(ctx, imgs[lo:hi])
			if err != nil {
				return nil, fmt.Errorf("headbench: embedding %s: %w", c, err)
			}
			for i, r := range rs {
				if r.Err != nil || r.Embedding == nil {
					continue
				}
				out[c] = append(out[c], train.Embedded{SHA256: c + "/" + keep[lo+i], X: r.Embedding})
			}
		}
		if len(out[c]) < 5 {
			return nil, fmt.Errorf("headbench: class %q has %d usable photos, need at least 5", c, len(out[c]))
		}
	}
	return out, nil
}

// Split labels the embeddings of classes in order and splits each class
// 60/20/20 into train, validation and test, shuffled by seed.
func Split(embs map[string][]train.Embedded, classes []string, seed uint64) Embedded {
	d := Embedded{Classes: classes}
	for ci, c := range classes {
		es := slices.Clone(embs[c])
		rng := rand.New(rand.NewPCG(seed, uint64(ci)))
		rng.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
		for i := range es {
			es[i].Label = int32(ci)
		}
		nTest, nVal := len(es)/5, len(es)/5
		d.Test = append(d.Test, es[:nTest]...)
		d.Val = append(d.Val, es[nTest:nTest+nVal]...)
		d.Train = append(d.Train, es[nTest+nVal:]...)
	}
	return d
}

// Compare fits scour's head on d, then scikit-learn's (unless python is
// "none").
func Compare(ctx context.Context, d Embedded, python string) (Result, error) {
	r := Result{Classes: d.Classes, Train: len(d.Train), Val: len(d.Val), Test: len(d.Test)}
	dir, err := os.MkdirTemp("", "scour-headbench-*")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	t0 := time.Now()
	res, err := train.RunHead(ctx, d.Classes, d.Train, d.Val, d.Test, train.HeadConfig{Name: "head", Model: "bench"}, filepath.Join(dir, "run"), nil)
	if err != nil {
		return r, err
	}
	r.Scour = Score{ValAcc: res.Best().ValAcc, TestAcc: res.TestAcc, TestLoss: res.TestLoss, Seconds: time.Since(t0).Seconds()}
	for _, t := range res.HeadTrials {
		if t.Chosen {
			r.Scour.L2 = t.L2
		}
	}
	r.Iterations = res.BestEpoch
	if python == "none" {
		r.SklearnErr = "not asked for"
		return r, nil
	}
	s, err := Sklearn(ctx, python, d, dir)
	if err != nil {
		r.SklearnErr = err.Error()
		return r, nil
	}
	r.Sklearn = &s
	return r, nil
}

// ErrNoSklearn means the Python given cannot import scikit-learn.
var ErrNoSklearn = errors.New("scikit-learn is not installed for this Python (Debian: apt-get install python3-sklearn)")

// sklearnScript fits LogisticRegression (lbfgs, multinomial, so that two
// classes get softmax's objective, as scour's head) for each C and keeps
// the lowest validation log-loss, like train.RunHead.
const sklearnScript = `
import json, sys, time
try:
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from sklearn.metrics import log_loss
except ImportError as e:
    print("NO_SKLEARN", e)
    sys.exit(3)
meta = json.load(open(sys.argv[1]))
raw = np.fromfile(sys.argv[2], dtype="<f4")
dim, k = meta["dim"], meta["classes"]
xs, ys, off = {}, {}, 0
for part in ("train", "val", "test"):
    n = meta[part]
    xs[part] = raw[off:off + n * dim].reshape(n, dim).astype(np.float64); off += n * dim
    ys[part] = raw[off:off + n].view("<i4").copy(); off += n
t0 = time.perf_counter()
sc = StandardScaler().fit(xs["train"])
tr, va = sc.transform(xs["train"]), sc.transform(xs["val"])
best = None
for c in meta["C"]:
    try:
        clf = LogisticRegression(C=c, max_iter=5000, multi_class="multinomial")
    except TypeError:
        clf = LogisticRegression(C=c, max_iter=5000)
    clf.fit(tr, ys["train"])
    vp = clf.predict_proba(va)
    vl = log_loss(ys["val"], vp, labels=list(range(k)))
    if best is None or vl < best[0]:
        best = (vl, c, clf, float((vp.argmax(1) == ys["val"]).mean()))
secs = time.perf_counter() - t0
vl, c, clf, va_acc = best
tp = clf.predict_proba(sc.transform(xs["test"]))
import sklearn
print(json.dumps({"C": c, "val_acc": va_acc, "test_acc": float((tp.argmax(1) == ys["test"]).mean()),
    "test_loss": float(log_loss(ys["test"], tp, labels=list(range(k)))), "seconds": secs, "version": sklearn.__version__}))
`

// Sklearn runs scikit-learn on d with python, using dir for its files.
func Sklearn(ctx context.Context, python string, d Embedded, dir string) (Score, error) {
	if len(d.Train) == 0 || len(d.Val) == 0 || len(d.Test) == 0 {
		return Score{}, errors.New("scikit-learn: a split is empty")
	}
	dim := len(d.Train[0].X)
	grid := train.HeadL2Grid
	cs := make([]float64, len(grid))
	for i, l2 := range grid {
		cs[i] = 1 / (l2 * float64(len(d.Train)))
	}
	meta := map[string]any{"dim": dim, "classes": len(d.Classes), "train": len(d.Train), "val": len(d.Val), "test": len(d.Test), "C": cs}
	js, _ := json.Marshal(meta)
	metaPath, dataPath, script := filepath.Join(dir, "meta.json"), filepath.Join(dir, "data.bin"), filepath.Join(dir, "fit.py")
	var buf []byte
	for _, part := range [][]train.Embedded{d.Train, d.Val, d.Test} {
		for _, e := range part {
			buf, _ = binary.Append(buf, binary.LittleEndian, e.X)
		}
		for _, e := range part {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(e.Label))
		}
	}
	for p, b := range map[string][]byte{metaPath: js, dataPath: buf, script: []byte(sklearnScript)} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return Score{}, err
		}
	}
	cmd := exec.CommandContext(ctx, python, script, metaPath, dataPath)
	out, err := cmd.Output()
	if strings.HasPrefix(string(out), "NO_SKLEARN") {
		return Score{}, fmt.Errorf("%s: %w", python, ErrNoSklearn)
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return Score{}, fmt.Errorf("%s: %w: %s", python, err, ee.Stderr)
		}
		return Score{}, fmt.Errorf("%s: %w", python, err)
	}
	var got struct {
		C        float64 `json:"C"`
		ValAcc   float64 `json:"val_acc"`
		TestAcc  float64 `json:"test_acc"`
		TestLoss float64 `json:"test_loss"`
		Seconds  float64 `json:"seconds"`
	}
	if err := json.Unmarshal(lastLine(out), &got); err != nil {
		return Score{}, fmt.Errorf("scikit-learn's answer %q: %w", out, err)
	}
	return Score{L2: 1 / (got.C * float64(len(d.Train))), ValAcc: got.ValAcc, TestAcc: got.TestAcc, TestLoss: got.TestLoss, Seconds: got.Seconds}, nil
}

func lastLine(b []byte) []byte {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return []byte(s)
}

// Print writes results as a table.
func Print(w io.Writer, rs []Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "classes\ttrain/val/test\tscour test acc\tsklearn test acc\tscour L2\tsklearn L2\tscour fit s\tsklearn fit s\titerations")
	for _, r := range rs {
		name := strings.Join(r.Classes, " vs ")
		if len(r.Classes) > 3 {
			name = fmt.Sprintf("all %d classes", len(r.Classes))
		}
		sk, skL2, skSec := "-", "-", "-"
		if r.Sklearn != nil {
			sk, skL2, skSec = fmt.Sprintf("%.3f", r.Sklearn.TestAcc), fmt.Sprintf("%.3g", r.Sklearn.L2), fmt.Sprintf("%.2f", r.Sklearn.Seconds)
		}
		fmt.Fprintf(tw, "%s\t%d/%d/%d\t%.3f\t%s\t%g\t%s\t%.2f\t%s\t%d\n", name, r.Train, r.Val, r.Test, r.Scour.TestAcc, sk, r.Scour.L2, skL2, r.Scour.Seconds, skSec, r.Iterations)
	}
	tw.Flush()
	for _, r := range rs {
		if r.Sklearn == nil && r.SklearnErr != "" {
			fmt.Fprintf(w, "scikit-learn did not run: %s\n", r.SklearnErr)
			break
		}
	}
}
