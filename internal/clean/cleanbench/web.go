package cleanbench

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/clean"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/store"
	"github.com/scour-dev/scour/internal/vision"
)

// The web benchmarks (issue 17): garbage as a search engine returns it,
// in clusters, beside look-alikes and misfiled pictures. Each prints its
// figures beside the targets.

// WebOptions configure the web benchmarks.
type WebOptions struct {
	// Shared is the folder of shared test data (its images/ is read).
	Shared string
	// Labeler is the model under test; nil opens the local MobileNetV2.
	// The benchmarks label each picture once and reuse it across their
	// projects.
	Labeler vision.Labeler
	// Classes are the boats classes the planted benchmark puts garbage
	// into, one project each; default all nine.
	Classes []string
	// Decisions are the review sizes of the learning curve; default 0, 5,
	// 10, 20 per class.
	Decisions []int
	// Dir is a scratch directory; "" makes a temporary one.
	Dir    string
	Events progress.Sink
}

// Targets of issue 17.
const (
	targetNoRefP, targetNoRefR = 0.90, 0.85
	targetRefP, targetRefR     = 0.95, 0.90
	targetMisfiled             = 0.80
)

type webEnv struct {
	o       WebOptions
	images  string
	labeler vision.Labeler
	dir     string
	n       int
}

func newWebEnv(o WebOptions) (*webEnv, func(), error) {
	if o.Events == nil {
		o.Events = progress.Discard
	}
	e := &webEnv{o: o, images: filepath.Join(o.Shared, "images")}
	if _, err := os.Stat(e.images); err != nil {
		return nil, nil, fmt.Errorf("cleanbench: the shared photos: %w", err)
	}
	var closers []func()
	done := func() {
		for _, c := range slices.Backward(closers) {
			c()
		}
	}
	l := o.Labeler
	if l == nil {
		local, err := clean.NewLocalLabeler(0)
		if err != nil {
			return nil, nil, err
		}
		closers = append(closers, func() { local.Close() })
		l = local
	}
	e.labeler = &memoLabeler{inner: l, seen: map[[32]byte]vision.Result{}}
	e.dir = o.Dir
	if e.dir == "" {
		d, err := os.MkdirTemp("", "scour-bench-web-")
		if err != nil {
			done()
			return nil, nil, err
		}
		closers = append(closers, func() { os.RemoveAll(d) })
		e.dir = d
	}
	return e, done, nil
}

// project is one scratch project of a benchmark.
func (e *webEnv) project(ctx context.Context) (*benchProject, func(), error) {
	e.n++
	dir := filepath.Join(e.dir, fmt.Sprint(e.n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	cat, err := catalog.Open(ctx, filepath.Join(dir, "scour.db"))
	if err != nil {
		return nil, nil, err
	}
	st, err := store.NewLocal(dir)
	if err != nil {
		cat.Close()
		return nil, nil, err
	}
	return &benchProject{ctx: ctx, cat: cat, store: st}, func() { cat.Close(); os.RemoveAll(dir) }, nil
}

func (e *webEnv) run(ctx context.Context, p *benchProject, classes []clean.Class) (clean.Summary, error) {
	return clean.Run(ctx, clean.Options{Catalog: p.cat, Store: p.store, Labeler: e.labeler, Config: clean.Default(), Classes: classes, Events: e.o.Events})
}

// truth is a benchmark project's ground truth by sha256.
type truth struct {
	junk   map[string]bool   // should be flagged
	ignore map[string]bool   // neither hit nor miss (ambiguous)
	kind   map[string]string // kind of garbage, or "photos"
	class  map[string]string // the class it really belongs to (misfiled)
	filed  map[string]string // the class it is filed in
}

func newTruth() truth {
	return truth{junk: map[string]bool{}, ignore: map[string]bool{}, kind: map[string]string{}, class: map[string]string{}, filed: map[string]string{}}
}

// pr is precision and recall with their counts, overall and per kind.
type pr struct {
	tp, fp, fn   int
	found, total map[string]int
}

func (s pr) p() float64 { return ratio(s.tp, s.tp+s.fp) }
func (s pr) r() float64 { return ratio(s.tp, s.tp+s.fn) }

func (s pr) kinds() string {
	var ks []string
	for k := range s.total {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%s %d/%d", k, s.found[k], s.total[k]))
	}
	return strings.Join(parts, ", ")
}

// measure scores the current off-topic and misfiled flags: an image that
// clean takes out of its class for either counts as flagged (only
// off-topic with offTopicOnly). Images flagged as duplicates, ambiguous
// ones and those a person decided are left out.
func measure(ctx context.Context, p *benchProject, t truth, decided map[string]bool, offTopicOnly ...bool) (pr, error) {
	s := pr{found: map[string]int{}, total: map[string]int{}}
	flagged, skip := map[string]bool{}, map[string]bool{}
	reasons := map[string]map[string]bool{clean.ReasonOffTopic: flagged, clean.ReasonMisfiled: flagged,
		clean.ReasonDuplicate: skip, clean.ReasonCrossClass: skip}
	if len(offTopicOnly) > 0 && offTopicOnly[0] {
		delete(reasons, clean.ReasonMisfiled)
	}
	for reason, into := range reasons {
		fs, err := clean.Flags(ctx, p.cat, reason)
		if err != nil {
			return s, err
		}
		for _, f := range fs {
			into[f.SHA256] = true
		}
	}
	for sha, k := range t.kind {
		if t.ignore[sha] || skip[sha] || decided[sha] {
			continue
		}
		s.total[k]++
		switch {
		case flagged[sha] && t.junk[sha]:
			s.tp++
			s.found[k]++
		case flagged[sha]:
			s.fp++
			s.found[k]++
		case t.junk[sha]:
			s.fn++
		}
	}
	return s, nil
}

func line(w io.Writer, name string, s pr, tp, tr float64) {
	fmt.Fprintf(w, "  %-34s P %.2f R %.2f (%d / %d / %d)  target >= %.2f / %.2f%s\n", name, s.p(), s.r(), s.tp, s.fp, s.fn, tp, tr, mark(s.p() >= tp && s.r() >= tr))
	fmt.Fprintf(w, "  %34s flagged per kind: %s\n", "", s.kinds())
}

func mark(ok bool) string {
	if ok {
		return "  met"
	}
	return "  MISSED"
}

// noisyWeb loads the shared hand-labelled scrape into p.
func (e *webEnv) noisyWeb(p *benchProject) (truth, map[string][]string, error) {
	t := newTruth()
	root := filepath.Join(e.images, "noisy-web")
	f, err := os.Open(filepath.Join(root, "labels.csv"))
	if err != nil {
		return t, nil, fmt.Errorf("cleanbench: noisy-web: %w", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return t, nil, fmt.Errorf("cleanbench: noisy-web labels: %w", err)
	}
	refs := map[string][]string{}
	for _, row := range rows[1:] {
		class, file, label := row[0], row[1], row[2]
		path := filepath.Join(root, class, file)
		data, err := p.addFile(class, path)
		if err != nil {
			return t, nil, err
		}
		sha := hash(data)
		t.kind[sha] = class + " " + label
		t.junk[sha] = label == "garbage"
		t.ignore[sha] = label == "ambiguous"
		if label == "ok" && len(refs[class]) < 3 {
			refs[class] = append(refs[class], path)
		}
	}
	return t, refs, nil
}

// NoisyWeb measures off-topic flags on the real hand-labelled scrape, with
// no references and with the first three `ok` images of each class.
func NoisyWeb(ctx context.Context, o WebOptions, w io.Writer) error {
	e, done, err := newWebEnv(o)
	if err != nil {
		return err
	}
	defer done()
	p, closeP, err := e.project(ctx)
	if err != nil {
		return err
	}
	defer closeP()
	t, refs, err := e.noisyWeb(p)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "noisy-web (real scrape, B-1 and B-52; ambiguous and duplicate-flagged images left out)\n")
	if err := e.withAndWithout(ctx, w, p, t, refs); err != nil {
		return err
	}
	return nil
}

func (e *webEnv) withAndWithout(ctx context.Context, w io.Writer, p *benchProject, t truth, refs map[string][]string) error {
	if _, err := e.run(ctx, p, nil); err != nil {
		return err
	}
	s, err := measure(ctx, p, t, nil)
	if err != nil {
		return err
	}
	line(w, "no references (auto: project)", s, targetNoRefP, targetNoRefR)
	var classes []clean.Class
	for name, rs := range refs {
		classes = append(classes, clean.Class{Name: name, References: rs})
	}
	if _, err := e.run(ctx, p, classes); err != nil {
		return err
	}
	if s, err = measure(ctx, p, t, nil); err != nil {
		return err
	}
	line(w, "3 references (auto: project + refs)", s, targetRefP, targetRefR)
	return nil
}

var boatClasses = []string{"Carriers", "Cruise Ships", "Destroyers", "Fishing Boats", "Kayaks", "Sailboats", "Security Boats", "Submarines", "Tugs"}

// Planted garbage kinds.
const (
	kindCars      = "cluster: cars"
	kindTrucks    = "cluster: trucks"
	kindPages     = "cluster: document pages"
	kindBoats     = "cluster: another boats class"
	kindScattered = "scattered junk"
	kindLookAlike = "look-alikes (CIFAR ships)"
	kindPhotos    = "class photos"
)

// Planted measures off-topic flags on every boats class in turn, in a
// project of all nine classes: the class gets a cluster of 20 pictures of
// one wrong concept (cars or trucks, rendered document pages, or another
// boats class, by turns), 10 scattered pictures of other things and 5
// near-domain look-alikes (CIFAR-10 ships), 35 in about 135. Figures per
// class and per kind of garbage, with no references and with 3.
func Planted(ctx context.Context, o WebOptions, w io.Writer) error {
	e, done, err := newWebEnv(o)
	if err != nil {
		return err
	}
	defer done()
	classes := o.Classes
	if len(classes) == 0 {
		classes = boatClasses
	}
	fmt.Fprintf(w, "planted web garbage in boats classes (project of all nine; per class: a cluster of 20, 10 scattered, 5 look-alikes)\n")
	all := [2]pr{{found: map[string]int{}, total: map[string]int{}}, {found: map[string]int{}, total: map[string]int{}}}
	var cls [2]pr // within the class the garbage went into
	pixAll := pr{found: map[string]int{}, total: map[string]int{}}
	for ti, target := range classes {
		p, closeP, err := e.project(ctx)
		if err != nil {
			return err
		}
		t, refs, err := e.planted(p, target, ti)
		if err != nil {
			closeP()
			return err
		}
		fmt.Fprintf(w, " %s\n", target)
		for k, cs := range [][]clean.Class{nil, {{Name: target, References: refs}}} {
			if _, err := e.run(ctx, p, cs); err != nil {
				closeP()
				return err
			}
			s, err := measure(ctx, p, t, nil)
			if err != nil {
				closeP()
				return err
			}
			name, tp, tr := "no references", targetNoRefP, targetNoRefR
			if k == 1 {
				name, tp, tr = "3 references", targetRefP, targetRefR
			}
			line(w, name+", whole project", s, tp, tr)
			if ot, err := measure(ctx, p, t, nil, true); err == nil {
				fmt.Fprintf(w, "  %-34s P %.2f R %.2f (%d / %d / %d); per kind: %s\n", "  off-topic flags alone", ot.p(), ot.r(), ot.tp, ot.fp, ot.fn, ot.kinds())
			}
			inClass := t
			inClass.kind = map[string]string{}
			for sha, k := range t.kind {
				if t.filed[sha] == target {
					inClass.kind[sha] = k
				}
			}
			if ic, err := measure(ctx, p, inClass, nil); err == nil {
				fmt.Fprintf(w, "  %-34s P %.2f R %.2f (%d / %d / %d)  target >= %.2f / %.2f%s\n", "  in "+target+" only", ic.p(), ic.r(), ic.tp, ic.fp, ic.fn, tp, tr, mark(ic.p() >= tp && ic.r() >= tr))
				cls[k].tp, cls[k].fp, cls[k].fn = cls[k].tp+ic.tp, cls[k].fp+ic.fp, cls[k].fn+ic.fn
			}
			all[k].tp, all[k].fp, all[k].fn = all[k].tp+s.tp, all[k].fp+s.fp, all[k].fn+s.fn
			for kk, v := range s.found {
				all[k].found[kk] += v
			}
			for kk, v := range s.total {
				all[k].total[kk] += v
			}
		}
		// The off-topic figures above count only off-topic and misfiled
		// flags; a real run also quarantines pictures for their pixels
		// (CIFAR-10's 32x32 are too-small whatever the model sees).
		pix, err := pixelFlagged(ctx, p, t, target)
		if err != nil {
			closeP()
			return err
		}
		fmt.Fprintf(w, "  %-34s %s\n", "garbage a pixel check also flags", pix.kinds())
		for kk, v := range pix.found {
			pixAll.found[kk] += v
		}
		for kk, v := range pix.total {
			pixAll.total[kk] += v
		}
		closeP()
	}
	fmt.Fprintf(w, " all classes together\n")
	fmt.Fprintf(w, "  %-34s %s\n", "garbage a pixel check also flags", pixAll.kinds())
	line(w, "no references, whole projects", all[0], targetNoRefP, targetNoRefR)
	line(w, "3 references, whole projects", all[1], targetRefP, targetRefR)
	for k, name := range []string{"no references, in the class only", "3 references, in the class only"} {
		tp, tr := targetNoRefP, targetNoRefR
		if k == 1 {
			tp, tr = targetRefP, targetRefR
		}
		fmt.Fprintf(w, "  %-34s P %.2f R %.2f (%d / %d / %d)  target >= %.2f / %.2f%s\n", name, cls[k].p(), cls[k].r(), cls[k].tp, cls[k].fp, cls[k].fn, tp, tr, mark(cls[k].p() >= tp && cls[k].r() >= tr))
	}
	return nil
}

// pixelFlagged counts, per kind, the planted garbage in target that a
// pixel check (too-small, blurry, ...) flags in the last run.
func pixelFlagged(ctx context.Context, p *benchProject, t truth, target string) (pr, error) {
	s := pr{found: map[string]int{}, total: map[string]int{}}
	fs, err := clean.Flags(ctx, p.cat, "")
	if err != nil {
		return s, err
	}
	pixel := map[string]bool{}
	for _, f := range fs {
		switch f.Reason {
		case clean.ReasonOffTopic, clean.ReasonMisfiled, clean.ReasonDuplicate, clean.ReasonCrossClass:
		default:
			pixel[f.SHA256] = true
		}
	}
	for sha, k := range t.kind {
		if !t.junk[sha] || t.filed[sha] != target {
			continue
		}
		s.total[k]++
		if pixel[sha] {
			s.found[k]++
		}
	}
	return s, nil
}

// planted fills p with the nine boats classes and the garbage of target;
// refs are target's first three photos, left out of the class.
func (e *webEnv) planted(p *benchProject, target string, turn int) (truth, []string, error) {
	t := newTruth()
	boats := filepath.Join(e.images, "boats", "train")
	cluster := []string{kindCars, kindPages, kindBoats, kindTrucks}[turn%4]
	donor := boatClasses[(slices.Index(boatClasses, target)+4)%len(boatClasses)]
	var refs []string
	for _, c := range boatClasses {
		files, err := photos(filepath.Join(boats, c), "*.jpg")
		if err != nil {
			return t, nil, err
		}
		for i, f := range files {
			into, kind, junk := c, kindPhotos, false
			switch {
			case c == target && i < 3:
				refs = append(refs, f)
				continue
			case c == donor && cluster == kindBoats && i < 20:
				into, kind, junk = target, kindBoats, true
			}
			data, err := p.addFile(into, f)
			if err != nil {
				return t, nil, err
			}
			sha := hash(data)
			t.kind[sha], t.junk[sha], t.class[sha], t.filed[sha] = kind, junk, c, into
		}
	}
	addGlob := func(kind string, globs []string, n int) error {
		files, err := roundRobin(globs, n)
		if err != nil {
			return err
		}
		for _, f := range files {
			data, err := p.addFile(target, f)
			if err != nil {
				return err
			}
			t.kind[hash(data)], t.junk[hash(data)], t.filed[hash(data)] = kind, true, target
		}
		return nil
	}
	cifar := func(cs ...string) []string {
		var out []string
		for _, c := range cs {
			out = append(out, filepath.Join(e.images, "cifar10-subset", "train", c, "*.jpg"))
		}
		return out
	}
	switch cluster {
	case kindCars:
		if err := addGlob(kindCars, cifar("automobile"), 20); err != nil {
			return t, nil, err
		}
	case kindTrucks:
		if err := addGlob(kindTrucks, cifar("truck"), 20); err != nil {
			return t, nil, err
		}
	case kindPages:
		for i := range 20 {
			data, err := jpegOf(renderPage(pageKinds[i%len(pageKinds)], turn*100+i), 85)
			if err != nil {
				return t, nil, err
			}
			if err := p.add(target, data); err != nil {
				return t, nil, err
			}
			t.kind[hash(data)], t.junk[hash(data)], t.filed[hash(data)] = kindPages, true, target
		}
	}
	// Scattered: other things, a few of each, from a different slice of
	// CIFAR-10 per class so that projects differ.
	if err := addGlob(kindScattered, append(cifar("airplane", "bird", "cat", "deer", "dog", "frog", "horse"),
		filepath.Join(e.images, "find-the-ship", "set-A_train", "empty", "*.jpg")), 10); err != nil {
		return t, nil, err
	}
	if err := addGlob(kindLookAlike, cifar("ship"), 5); err != nil {
		return t, nil, err
	}
	return t, refs, nil
}

// misfiledClasses are six boats classes that a person tells apart at a
// glance; the confusable three (fishing, security boats, tugs) are
// measured separately.
var misfiledClasses = []string{"Carriers", "Cruise Ships", "Destroyers", "Kayaks", "Submarines", "Sailboats"}

// Misfiled swaps 5% of the images of six boats classes into other classes
// and measures the misfiled flags and their suggested class.
func Misfiled(ctx context.Context, o WebOptions, w io.Writer) error {
	e, done, err := newWebEnv(o)
	if err != nil {
		return err
	}
	defer done()
	for _, set := range [][]string{misfiledClasses, {"Fishing Boats", "Security Boats", "Tugs", "Destroyers", "Kayaks", "Sailboats"}} {
		p, closeP, err := e.project(ctx)
		if err != nil {
			return err
		}
		swapped := map[string]string{} // sha -> its real class
		n := 0
		for c, name := range set {
			files, err := photos(filepath.Join(e.images, "boats", "train", name), "*.jpg")
			if err != nil {
				closeP()
				return err
			}
			for _, f := range files {
				n++
				into := name
				if n%20 == 0 {
					into = set[(c+1+n/20%(len(set)-1))%len(set)]
				}
				data, err := p.addFile(into, f)
				if err != nil {
					closeP()
					return err
				}
				if into != name {
					swapped[hash(data)] = name
				}
			}
		}
		if _, err := e.run(ctx, p, nil); err != nil {
			closeP()
			return err
		}
		flags, err := clean.Flags(ctx, p.cat, clean.ReasonMisfiled)
		if err != nil {
			closeP()
			return err
		}
		scores, err := p.cat.Scores(ctx)
		off, _ := clean.Flags(ctx, p.cat, clean.ReasonOffTopic)
		var offSwapped int
		for _, f := range off {
			if _, ok := swapped[f.SHA256]; ok {
				offSwapped++
			}
		}
		closeP()
		if err != nil {
			return err
		}
		var tp, fp, right int
		for _, f := range flags {
			if real, ok := swapped[f.SHA256]; ok {
				tp++
				if scores[f.SHA256].Suggest == real {
					right++
				}
			} else {
				fp++
			}
		}
		s := pr{tp: tp, fp: fp, fn: len(swapped) - tp}
		fmt.Fprintf(w, "misfiled: 5%% swapped between %s\n", strings.Join(set, ", "))
		fmt.Fprintf(w, "  %-34s P %.2f R %.2f (%d / %d / %d)  target >= %.2f / %.2f%s\n", "misfiled flags", s.p(), s.r(), tp, fp, s.fn, targetMisfiled, targetMisfiled, mark(s.p() >= targetMisfiled && s.r() >= targetMisfiled))
		fmt.Fprintf(w, "  %-34s (besides: %d flagged off-topic, %d of them swapped ones)\n", "", len(off), offSwapped)
		fmt.Fprintf(w, "  %-34s %.2f (%d of %d)  target >= %.2f%s\n", "suggestion right", ratio(right, tp), right, tp, targetMisfiled, mark(ratio(right, tp) >= targetMisfiled))
	}
	return nil
}

// Learn measures how review decisions steer the next run: after 0, 5, 10
// and 20 simulated decisions per class on the most doubtful images still
// undecided (keep or reject, from the ground truth), off-topic precision
// and recall on the images not decided, on noisy-web and on a planted
// boats project.
func Learn(ctx context.Context, o WebOptions, w io.Writer) error {
	e, done, err := newWebEnv(o)
	if err != nil {
		return err
	}
	defer done()
	steps := o.Decisions
	if len(steps) == 0 {
		steps = []int{0, 5, 10, 20}
	}
	for k, name := range []string{"noisy-web", "planted boats (Destroyers)"} {
		p, closeP, err := e.project(ctx)
		if err != nil {
			return err
		}
		var t truth
		if k == 0 {
			t, _, err = e.noisyWeb(p)
		} else {
			t, _, err = e.planted(p, "Destroyers", 1)
		}
		if err != nil {
			closeP()
			return err
		}
		fmt.Fprintf(w, "learning from review: %s, no references (decisions on the most doubtful images; measured on the rest)\n", name)
		decided := map[string]bool{}
		for _, n := range steps {
			if err := e.decide(ctx, p, t, decided, n); err != nil {
				closeP()
				return err
			}
			if _, err := e.run(ctx, p, nil); err != nil {
				closeP()
				return err
			}
			s, err := measure(ctx, p, t, decided)
			if err != nil {
				closeP()
				return err
			}
			fmt.Fprintf(w, "  %2d decisions per class  P %.2f R %.2f (%d / %d / %d)\n", n, s.p(), s.r(), s.tp, s.fp, s.fn)
		}
		closeP()
	}
	return nil
}

// decide records decisions until each class has n, on its most doubtful
// undecided images by the last run's scores.
func (e *webEnv) decide(ctx context.Context, p *benchProject, t truth, decided map[string]bool, n int) error {
	if n == 0 {
		return nil
	}
	scores, err := p.cat.Scores(ctx)
	if err != nil {
		return err
	}
	byClass := map[string][]catalog.Image{}
	err = p.cat.ForEachImage(ctx, catalog.ImageFilter{}, func(im catalog.Image) error {
		byClass[im.Class] = append(byClass[im.Class], im)
		return nil
	})
	if err != nil {
		return err
	}
	// How far past its threshold an image is, off-topic or misfiled: the
	// order in which review shows the most doubtful first.
	doubt := func(sha string) float64 {
		s := scores[sha]
		d := -1e9
		if s.OffTopicThreshold > 0 {
			d = s.OffTopic / s.OffTopicThreshold
		}
		if s.MisfiledThreshold > 0 {
			d = max(d, s.Misfiled/s.MisfiledThreshold)
		}
		return d
	}
	for _, ims := range byClass {
		have := 0
		for _, im := range ims {
			if decided[im.SHA256] {
				have++
			}
		}
		sort.Slice(ims, func(a, b int) bool { return doubt(ims[a].SHA256) > doubt(ims[b].SHA256) })
		for _, im := range ims {
			if have >= n {
				break
			}
			if decided[im.SHA256] || t.ignore[im.SHA256] {
				continue
			}
			d := clean.DecisionKeep
			if t.junk[im.SHA256] {
				d = clean.DecisionReject
			}
			if err := clean.SetDecision(ctx, p.cat, im.SHA256, d); err != nil {
				return err
			}
			decided[im.SHA256] = true
			have++
		}
	}
	return nil
}

// memoLabeler labels each distinct picture once across the benchmark's
// projects; clean's own cache is per catalog.
type memoLabeler struct {
	inner vision.Labeler
	mu    sync.Mutex
	seen  map[[32]byte]vision.Result
}

func (m *memoLabeler) Name() string { return m.inner.Name() }

func (m *memoLabeler) Label(ctx context.Context, imgs []image.Image) ([]vision.Result, error) {
	out := make([]vision.Result, len(imgs))
	keys := make([][32]byte, len(imgs))
	var todo []image.Image
	var at []int
	m.mu.Lock()
	for i, img := range imgs {
		keys[i] = pixelKey(img)
		if r, ok := m.seen[keys[i]]; ok {
			out[i] = r
		} else {
			todo = append(todo, img)
			at = append(at, i)
		}
	}
	m.mu.Unlock()
	if len(todo) == 0 {
		return out, nil
	}
	res, err := m.inner.Label(ctx, todo)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, i := range at {
		out[i] = res[k]
		if res[k].Err == nil {
			m.seen[keys[i]] = res[k]
		}
	}
	return out, nil
}

// pixelKey hashes a picture's size and a grid of its pixels.
func pixelKey(img image.Image) [32]byte {
	h := sha256.New()
	b := img.Bounds()
	var buf [8]byte
	binary.LittleEndian.PutUint32(buf[:4], uint32(b.Dx()))
	binary.LittleEndian.PutUint32(buf[4:], uint32(b.Dy()))
	h.Write(buf[:])
	for y := b.Min.Y; y < b.Max.Y; y += max(1, b.Dy()/48) {
		for x := b.Min.X; x < b.Max.X; x += max(1, b.Dx()/48) {
			r, g, bl, _ := img.At(x, y).RGBA()
			binary.LittleEndian.PutUint16(buf[:2], uint16(r))
			binary.LittleEndian.PutUint16(buf[2:4], uint16(g))
			binary.LittleEndian.PutUint16(buf[4:6], uint16(bl))
			h.Write(buf[:6])
		}
	}
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k
}

// Close leaves the labeler it wraps open: its opener closes it.
func (m *memoLabeler) Close() error { return nil }

// Web runs NoisyWeb, Planted, Misfiled and Learn in turn with one labeler,
// so that each picture is labelled once across all their projects.
func Web(ctx context.Context, o WebOptions, w io.Writer) error {
	if o.Labeler == nil {
		local, err := clean.NewLocalLabeler(0)
		if err != nil {
			return err
		}
		defer local.Close()
		o.Labeler = &memoLabeler{inner: local, seen: map[[32]byte]vision.Result{}}
	}
	for _, run := range []func(context.Context, WebOptions, io.Writer) error{NoisyWeb, Planted, Misfiled, Learn} {
		if err := run(ctx, o, w); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	return nil
}
