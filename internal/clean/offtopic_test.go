package clean

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/sharedtest"
	"github.com/scour-dev/scour/internal/vision"
)

func TestRobustStats(t *testing.T) {
	for _, tc := range []struct {
		name          string
		scores        []float64
		median, sigma float64
	}{
		{"odd", []float64{0.8, 0.9, 0.7, 0.85, 0.2}, 0.8, 0.1 * madToSigma},
		{"even", []float64{1, 2, 3, 4}, 2.5, 1 * madToSigma},
		// All alike: the floor keeps z finite and tiny differences unflagged.
		{"identical", []float64{0.9, 0.9, 0.9}, 0.9, minSigma},
	} {
		st := robustStats(tc.scores)
		if math.Abs(st.Median-tc.median) > 1e-12 || math.Abs(st.Sigma-tc.sigma) > 1e-12 {
			t.Errorf("%s: median %g sigma %g, want %g and %g", tc.name, st.Median, st.Sigma, tc.median, tc.sigma)
		}
	}
	st := robustStats([]float64{0.8, 0.9, 0.7, 0.85, 0.2})
	if z := st.z(0.2); math.Abs(z-(0.2-0.8)/(0.1*madToSigma)) > 1e-9 || z > -3 {
		t.Errorf("0.2 among 0.7-0.9: z = %g, want about -4", z)
	}
	if th := st.threshold(3); math.Abs(th-(0.8-3*0.1*madToSigma)) > 1e-12 {
		t.Errorf("threshold %g", th)
	}
}

func unit(v ...float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / math.Sqrt(s))
	}
	return v
}

func TestSimilarityScores(t *testing.T) {
	embs := [][]float32{unit(1, 0, 0), unit(1, 0.1, 0), unit(0.9, 0.1, 0.1), unit(0, 0, 1)}
	ref := referenceScores(embs, [][]float32{unit(0, 1, 0), unit(1, 0, 0)})
	for i, want := range []float64{1, dot(embs[1], unit(1, 0, 0)), dot(embs[2], unit(1, 0, 0)), 0} {
		if math.Abs(ref[i]-want) > 1e-6 {
			t.Errorf("reference score %d = %g, want %g", i, ref[i], want)
		}
	}
	nb := neighbourScores(embs, 2)
	// The lone vector's nearest two are the others' 0 and 0.0995.
	if want := (dot(embs[3], embs[2]) + dot(embs[3], embs[1])) / 2; math.Abs(nb[3]-want) > 1e-6 {
		t.Errorf("neighbour score of the outlier = %g, want %g", nb[3], want)
	}
	if !(nb[0] > nb[3] && nb[1] > nb[3] && nb[2] > nb[3]) {
		t.Errorf("neighbour scores %v: the outlier is not lowest", nb)
	}
	if got := neighbourScores(embs[:1], 5); got[0] != 0 {
		t.Errorf("a class of one: %v", got)
	}
}

// TestCentroidScores: the centroid is the references plus the half of the
// class closest to them, so the other half cannot move it.
func TestCentroidScores(t *testing.T) {
	refs := [][]float32{unit(1, 0, 0)}
	embs := [][]float32{unit(1, 0.2, 0), unit(1, 0.3, 0), unit(1, 0.25, 0.05), unit(0, 0, 1), unit(0.1, 0, 1)}
	got := centroidScores(embs, refs)
	// By hand: the median reference score is embs[1]'s, so embs[0..2] join
	// the reference and the two off-topic vectors do not.
	var c [3]float64
	for _, e := range append(refs, embs[:3]...) {
		for j := range c {
			c[j] += float64(e[j])
		}
	}
	centre := unit(float32(c[0]), float32(c[1]), float32(c[2]))
	for i, e := range embs {
		if want := dot(e, centre); math.Abs(got[i]-want) > 1e-6 {
			t.Errorf("score %d = %g, want %g", i, got[i], want)
		}
	}
	if !(got[1] > referenceScores(embs[1:2], refs)[0]) {
		t.Errorf("an on-topic image unlike the reference did not gain from the class: %v", got)
	}
}

// TestLabelScores checks the label overlap against the Bhattacharyya
// coefficient worked by hand.
func TestLabelScores(t *testing.T) {
	ls := func(kv ...any) []vision.Label {
		var out []vision.Label
		for i := 0; i < len(kv); i += 2 {
			out = append(out, vision.Label{Name: kv[i].(string), Confidence: kv[i+1].(float64)})
		}
		return out
	}
	refs := [][]vision.Label{ls("liner", 0.64, "dock", 0.36)}
	labels := [][]vision.Label{
		ls("liner", 0.64, "dock", 0.36),    // the reference's own labels
		ls("liner", 0.32, "dock", 0.18),    // the same, but only half the mass kept: renormalised
		ls("liner", 0.25, "canoe", 0.75),   // one label shared
		ls("tabby", 0.9, "tiger cat", 0.1), // nothing shared
	}
	// With the class median (the first two images) equal to the reference,
	// the profile stays the reference's distribution.
	got := labelScores(labels, refs)
	for i, want := range []float64{1, 1, math.Sqrt(0.64 * 0.25), 0} {
		if math.Abs(got[i]-want) > 1e-6 {
			t.Errorf("image %d: overlap %.6f, want %.6f", i, got[i], want)
		}
	}
	// An image with no labels at all shares nothing; with no labels
	// anywhere every score is 0 (not NaN, which would break --json).
	if got := labelScores([][]vision.Label{nil, ls("liner", 1.0)}, refs); got[0] != 0 || got[1] <= 0 {
		t.Errorf("no labels: %v", got)
	}
	if got := labelScores([][]vision.Label{nil, nil}, [][]vision.Label{nil}); got[0] != 0 || got[1] != 0 {
		t.Errorf("no labels anywhere: %v", got)
	}
}

// localLabeler opens the real MobileNetV2 labeler, or skips.
func localLabeler(t *testing.T) vision.Labeler {
	t.Helper()
	if _, err := vision.RuntimeLibrary(); err != nil {
		t.Skipf("no ONNX Runtime: %v", err)
	}
	l, err := NewLocalLabeler(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// Shrinking to the model's first resize before labelling must not change
// what the model says.
func TestModelInputChangesNothing(t *testing.T) {
	l := localLabeler(t)
	var imgs, small []image.Image
	for _, b := range boats(t, "Destroyers", 3) {
		img := decode(t, b)
		imgs, small = append(imgs, img), append(small, modelInput(img))
	}
	find := sharedtest.Path(t, "images", "find-the-ship", "set-A_train", "empty")
	names, _ := filepath.Glob(filepath.Join(find, "*.jpg"))
	data, err := os.ReadFile(names[0])
	if err != nil {
		t.Fatal(err)
	}
	img := decode(t, data) // 640x480: really shrunk
	imgs, small = append(imgs, img), append(small, modelInput(img))
	a, err := l.Label(context.Background(), imgs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Label(context.Background(), small)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if !slices.Equal(a[i].Embedding, b[i].Embedding) || !slices.Equal(a[i].Labels, b[i].Labels) {
			t.Errorf("image %d: labels %v vs %v", i, a[i].Labels[:2], b[i].Labels[:2])
		}
	}
}

// offTopicMix is a class of real destroyer photos with planted junk: CIFAR
// thumbnails and empty webcam frames (clear junk) and kayaks (boats, which
// the model finds harder to tell from warships). refs are destroyer photos
// outside the class. more adds further junk.
func offTopicMix(t *testing.T, more ...junkSource) (p *project, junk map[string]string, refs []string) {
	p = newProject(t)
	junk = map[string]string{}
	dir := sharedtest.Path(t, "images", "boats", "train", "Destroyers")
	names, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
	slices.Sort(names)
	// Two Arleigh Burke-class ships and a Zumwalt: references should span
	// the class.
	for _, r := range []string{"0.jpg", "1.jpg", "151.jpg"} {
		refs = append(refs, filepath.Join(dir, r))
	}
	names = slices.DeleteFunc(names, func(n string) bool { return slices.Contains(refs, n) })
	for _, n := range names[:40] {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		p.add("destroyers", data)
	}
	sources := append([]junkSource{
		{"cifar10-subset/train/cat/*.jpg", 2, "clear"},
		{"cifar10-subset/train/truck/*.jpg", 2, "clear"},
		{"find-the-ship/set-A_train/empty/*.jpg", 2, "clear"},
		{"boats/train/Kayaks/*.jpg", 2, "boat"},
	}, more...)
	for _, src := range sources {
		files, _ := filepath.Glob(filepath.Join(sharedtest.Dir(t), "images", src.glob))
		slices.Sort(files)
		for _, f := range files[:src.n] {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			junk[p.add("destroyers", data)] = src.kind
		}
	}
	return p, junk, refs
}

// junkSource is the first n shared images matching glob, junk of a kind.
type junkSource struct {
	glob string
	n    int
	kind string
}

// judgeDestroyers runs clean on an offTopicMix class and scores its
// off-topic flags: precision and recall, and recall on the junk of kind.
func judgeDestroyers(t *testing.T, p *project, junk map[string]string, kind string, o Options) (ot OffTopicSummary, flags []Flag, prec, rec, recKind float64) {
	t.Helper()
	sum, _ := p.run(o)
	flags, err := Flags(context.Background(), p.cat, ReasonOffTopic)
	if err != nil {
		t.Fatal(err)
	}
	prec, rec, recKind = precisionRecall(flags, junk, kind)
	return sum.Classes["destroyers"].OffTopic, flags, prec, rec, recKind
}

// precisionRecall scores the flags against all the junk, and the recall
// on the junk of one kind.
func precisionRecall(flagged []Flag, junk map[string]string, kind string) (p, r, rKind float64) {
	tp, tpKind, nKind := 0, 0, 0
	for _, k := range junk {
		if k == kind {
			nKind++
		}
	}
	for _, f := range flagged {
		if k, ok := junk[f.SHA256]; ok {
			tp++
			if k == kind {
				tpKind++
			}
		}
	}
	return float64(tp) / float64(max(len(flagged), 1)), float64(tp) / float64(len(junk)), float64(tpKind) / float64(nKind)
}

func TestOffTopicWithModel(t *testing.T) {
	if testing.Short() {
		t.Skip("labels 51 photos with the real model")
	}
	l := localLabeler(t)
	p, junk, refs := offTopicMix(t)
	cfg := Default()
	cfg.Disable = []string{ReasonTooSmall, ReasonDuplicate} // judge off-topic alone
	for _, tc := range []struct {
		method string
		refs   []string
		// floors under what the method does on this mix (see the quality
		// benchmark), so that the test catches a broken method rather than
		// a noisy one: precision, and recall on the clear junk
		minP, minR float64
	}{
		{MethodReference, refs, 0.85, 1},
		{MethodOutlier, nil, 0.85, 1},
		{MethodLabels, refs, 0.5, 0.8},
		{MethodProject, nil, 0.85, 1},
		{MethodProject, refs, 0.85, 1},
	} {
		ot, flags, prec, rec, recClear := judgeDestroyers(t, p, junk, "clear",
			Options{Config: cfg, Labeler: l, Classes: []Class{{Name: "destroyers", Method: tc.method, References: tc.refs}}})
		t.Logf("%s: precision %.2f recall %.2f, on the clear junk %.2f (%d flagged; median %.3f sigma %.3f threshold %.3f)",
			tc.method, prec, rec, recClear, len(flags), ot.Median, ot.Sigma, ot.Threshold)
		if prec < tc.minP || recClear < tc.minR {
			t.Errorf("%s: precision %.2f, recall on the clear junk %.2f; want at least %.2f and %.2f", tc.method, prec, recClear, tc.minP, tc.minR)
		}
		if ot.Method != tc.method || ot.Skipped != "" {
			t.Errorf("%s: summary %+v", tc.method, ot)
		}
		for _, f := range flags {
			if f.Method != tc.method || f.Detail == "" {
				t.Errorf("flag %+v", f)
				break
			}
		}
	}
	// Everything is cached by now: a re-run asks the model nothing.
	sum, _ := p.run(Options{Config: cfg, Labeler: l, Classes: []Class{{Name: "destroyers", References: refs}}})
	if sum.Labelled != 0 || sum.Measured != 0 {
		t.Errorf("re-run labelled %d and measured %d images", sum.Labelled, sum.Measured)
	}
	// With embeddings, references join the project method's picture.
	if m := sum.Classes["destroyers"].OffTopic.Method; m != MethodProject {
		t.Errorf("auto with references chose %q", m)
	}
}

// TestLabelViewFindsLookalikes: boats that MobileNetV2 embeds close to
// destroyers are labelled as what they are (canoe, yawl, ...), so the
// reference method's label view flags boats that its embedding view alone
// lets through, without flagging destroyers.
func TestLabelViewFindsLookalikes(t *testing.T) {
	if testing.Short() {
		t.Skip("labels 58 photos with the real model")
	}
	l := localLabeler(t)
	p, junk, refs := offTopicMix(t, junkSource{"boats/train/Sailboats/*.jpg", 4, "boat"}, junkSource{"boats/train/Fishing Boats/*.jpg", 4, "boat"})
	cfg := Default()
	cfg.Disable = []string{ReasonTooSmall, ReasonDuplicate}
	boats := map[bool]float64{}
	for _, withLabels := range []bool{false, true} {
		cfg.OffTopic.MinLabelOverlap = 0
		if withLabels {
			cfg.OffTopic.MinLabelOverlap = Default().OffTopic.MinLabelOverlap
		}
		ot, flags, prec, rec, recBoats := judgeDestroyers(t, p, junk, "boat",
			Options{Config: cfg, Labeler: l, Classes: []Class{{Name: "destroyers", Method: MethodReference, References: refs}}})
		t.Logf("label view %v: precision %.2f recall %.2f, on the boats %.2f (label median %.3f threshold %.3f)",
			withLabels, prec, rec, recBoats, ot.LabelMedian, ot.LabelThreshold)
		if prec < 0.9 {
			t.Errorf("label view %v: precision %.2f", withLabels, prec)
		}
		if withLabels != (ot.LabelThreshold > 0) {
			t.Errorf("label view %v: summary %+v", withLabels, ot)
		}
		boats[withLabels] = recBoats
		if withLabels {
			for _, f := range flags {
				if !strings.HasPrefix(f.Detail, "label overlap") {
					continue
				}
				if !strings.Contains(f.Detail, "its labels: ") {
					t.Errorf("flag detail %q does not name the labels", f.Detail)
				}
				t.Logf("%s (%s)", f.Detail, junk[f.SHA256])
			}
		}
	}
	if boats[true] <= boats[false] {
		t.Errorf("boats found with the label view %.2f, without %.2f: the label view added nothing", boats[true], boats[false])
	}
}

// fakeLabeler stands in for a remote service with the failures a real one
// has: it fails whole calls once told to, and refuses some images. It gives
// labels and no embeddings, like a cloud API.
type fakeLabeler struct {
	mu        sync.Mutex
	failAfter int // whole calls that succeed before every call fails; -1 never
	calls     int
	refuse    func(data []byte) bool
	seen      int
}

func (f *fakeLabeler) Name() string { return "fake" }
func (f *fakeLabeler) Close() error { return nil }

func (f *fakeLabeler) call(n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.failAfter >= 0 && f.calls > f.failAfter {
		return errkind.Retryable(errors.New("fake: throttled"), 0)
	}
	f.seen += n
	return nil
}

func (f *fakeLabeler) Label(ctx context.Context, imgs []image.Image) ([]vision.Result, error) {
	if err := f.call(len(imgs)); err != nil {
		return nil, err
	}
	out := make([]vision.Result, len(imgs))
	for i, img := range imgs {
		b := img.Bounds()
		if b.Dy() != labelSide && b.Dx() != labelSide {
			out[i].Err = fmt.Errorf("fake: got %v, want the shorter side %d", b.Size(), labelSide)
			continue
		}
		out[i] = vision.Result{Labels: []vision.Label{{Name: "pixels", Confidence: 1}}}
	}
	return out, nil
}

type fakeBytesLabeler struct{ *fakeLabeler }

func (f fakeBytesLabeler) LabelBytes(ctx context.Context, data [][]byte) ([]vision.Result, error) {
	if err := f.call(len(data)); err != nil {
		return nil, err
	}
	out := make([]vision.Result, len(data))
	for i, d := range data {
		if f.refuse != nil && f.refuse(d) {
			out[i].Err = errkind.Permanent(errors.New("fake: image refused"))
			continue
		}
		out[i] = vision.Result{Labels: []vision.Label{{Name: "bytes", Confidence: 0.5}}}
	}
	return out, nil
}

func TestRunWithFailingLabelers(t *testing.T) {
	ref := filepath.Join(sharedtest.Path(t, "images", "boats", "train", "Destroyers"), "0.jpg")
	for _, tc := range []struct {
		name     string
		labeler  vision.Labeler
		classes  []Class
		wantNote string
		// wantLabelled is how many images come back labelled
		wantLabelled int
	}{
		{"fails every call", &fakeLabeler{failAfter: 0}, nil, "the labeler fake failed: fake: throttled", 0},
		{"fails on the references", &fakeLabeler{failAfter: 0}, []Class{{Name: "destroyers", References: []string{ref}}},
			"the labeler fake failed", 0},
		{"fails after the first batch", &fakeLabeler{failAfter: 1}, nil, "the labeler fake failed", 4},
		{"works", &fakeLabeler{failAfter: -1}, nil, "", 10},
		{"refuses some images (bytes API)", fakeBytesLabeler{&fakeLabeler{failAfter: -1, refuse: func(d []byte) bool {
			return len(d) < 1000 // the 1x1 PNG and the truncated photo's half are small
		}}}, []Class{{Name: "destroyers", References: []string{ref}}}, "the labeler refused 1 images", 8},
		// 8: the reference is also an image of the class, labelled (and
		// cached) before the others; the broken one is never sent.
	} {
		p := newCleanProject(t)
		cfg := Default()
		cfg.OffTopic.BatchSize = 4
		sum, rec := p.run(Options{Config: cfg, Labeler: tc.labeler, Classes: tc.classes})
		notes := strings.Join(rec.Notes(), "\n")
		if tc.wantNote != "" && !strings.Contains(notes, tc.wantNote) {
			t.Errorf("%s: notes %q, want one saying %q", tc.name, notes, tc.wantNote)
		}
		if sum.Labelled != tc.wantLabelled {
			t.Errorf("%s: labelled %d, want %d", tc.name, sum.Labelled, tc.wantLabelled)
		}
		// Whatever the labeler did, the model-free checks ran.
		if got := p.quarantined(); got[p.broken] != ReasonBroken || got[p.tiny] != ReasonTooSmall || got[p.exact] != ReasonDuplicate {
			t.Errorf("%s: quarantined %v", tc.name, got)
		}
	}
}

// How auto and explicit methods resolve with a labeler that gives labels
// and no embeddings (a cloud API).
func TestOffTopicMethodChoice(t *testing.T) {
	ref := filepath.Join(sharedtest.Path(t, "images", "boats", "train", "Destroyers"), "3.jpg")
	for _, tc := range []struct {
		name        string
		method      string // Config.OffTopic.Method
		class       Class
		wantMethod  string
		wantSkipped string
	}{
		{"auto with references", MethodAuto, Class{Name: "destroyers", References: []string{ref}}, MethodLabels, ""},
		{"auto without", MethodAuto, Class{Name: "destroyers"}, MethodProject, "needs embeddings"},
		// An unlisted class (a listed one is rejected before the run).
		{"reference by default, none given", MethodReference, Class{}, MethodReference, "needs reference images"},
		{"reference, no embeddings", MethodAuto, Class{Name: "destroyers", Method: MethodReference, References: []string{ref}}, MethodReference, "needs embeddings"},
		{"off", MethodOff, Class{Name: "destroyers"}, MethodOff, ""},
	} {
		p := newCleanProject(t)
		cfg := Default()
		cfg.OffTopic.Method = tc.method
		var classes []Class
		if tc.class.Name != "" {
			classes = []Class{tc.class}
		}
		sum, rec := p.run(Options{Config: cfg, Labeler: fakeBytesLabeler{&fakeLabeler{failAfter: -1}}, Classes: classes})
		ot := sum.Classes["destroyers"].OffTopic
		if ot.Method != tc.wantMethod || !strings.Contains(ot.Skipped, tc.wantSkipped) || (tc.wantSkipped == "") != (ot.Skipped == "") {
			t.Errorf("%s: %+v, want method %s skipped for %q", tc.name, ot, tc.wantMethod, tc.wantSkipped)
		}
		if tc.wantSkipped != "" && !slices.ContainsFunc(rec.Notes(), func(n string) bool { return strings.Contains(n, tc.wantSkipped) }) {
			t.Errorf("%s: no note says why: %q", tc.name, rec.Notes())
		}
	}
}
