package clean

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/catalog"
	"github.com/scour-dev/scour/internal/sharedtest"
	"github.com/scour-dev/scour/internal/vision"
)

func cifar(t *testing.T, class string, n int) [][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(sharedtest.Dir(t), "images", "cifar10-subset", "train", class, "*.jpg"))
	slices.Sort(files)
	if len(files) < n {
		t.Fatalf("%d CIFAR-10 %s images, want %d", len(files), class, n)
	}
	var out [][]byte
	for _, f := range files[:n] {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func hasNote(sum Summary, parts ...string) bool {
	for _, n := range sum.Notes {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(n, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// A class of a few images is judged against the whole project: its own
// photos stay, a lone picture of something else in a class of one goes.
func TestProjectTinyClasses(t *testing.T) {
	l := localLabeler(t)
	p := newProject(t)
	for _, b := range boats(t, "Destroyers", 25) {
		p.add("destroyers", b)
	}
	for _, b := range boats(t, "Kayaks", 25) {
		p.add("kayaks", b)
	}
	var tugs []string
	for _, b := range boats(t, "Tugs", 3) {
		tugs = append(tugs, p.add("tugs", b))
	}
	cat := p.add("odd", encodeJPEG(t, resized(decode(t, cifar(t, "cat", 1)[0]), 160, 160), 90))
	sum, _ := p.run(Options{Labeler: l})
	q := p.quarantined()
	flags, err := Flags(context.Background(), p.cat, ReasonOffTopic)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(flags, func(f Flag) bool { return f.SHA256 == cat }) {
		t.Errorf("the cat alone in its class is not flagged off-topic; notes %v", sum.Notes)
	}
	for _, sha := range tugs {
		if r, ok := q[sha]; ok {
			t.Errorf("a tug of the three-image class quarantined for %s", r)
			fs, _ := Flags(context.Background(), p.cat, "")
			for _, f := range fs {
				if f.SHA256 == sha {
					t.Logf("%+v", f)
				}
			}
		}
	}
	scores, err := p.cat.Scores(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, sha := range append(tugs, cat) {
		if scores[sha].OffTopicThreshold == 0 || scores[sha].OffTopicMethod != MethodProject {
			t.Errorf("%s: score %+v, want judged by the project method", sha, scores[sha])
		}
	}
}

// A class that is nothing but another domain is not emptied: it is either
// its own centre or, when it is unlike everything, skipped with a warning.
func TestProjectAllGarbageClass(t *testing.T) {
	l := localLabeler(t)
	p := newProject(t)
	for _, b := range boats(t, "Destroyers", 25) {
		p.add("destroyers", b)
	}
	for _, b := range boats(t, "Submarines", 25) {
		p.add("submarines", b)
	}
	var cats []string
	for _, b := range cifar(t, "cat", 12) {
		cats = append(cats, p.add("cats", b))
	}
	sum, _ := p.run(Options{Labeler: l})
	q := p.quarantined()
	n := 0
	for _, sha := range cats {
		if q[sha] == ReasonOffTopic {
			n++
		}
	}
	if n > len(cats)/2 {
		t.Errorf("%d of %d images of the all-cats class quarantined off-topic; notes %v", n, len(cats), sum.Notes)
	}
	if !hasNote(sum, `class "cats"`, "unlike the rest of the project") {
		t.Errorf("no warning that the cats class is unlike the project: %v", sum.Notes)
	}
	if hasNote(sum, `class "destroyers"`, "unlike the rest") || hasNote(sum, `class "submarines"`, "unlike the rest") {
		t.Errorf("a boats class called unlike the project: %v", sum.Notes)
	}
}

// One class: no cross-class signal, and clean says so.
func TestProjectOneClass(t *testing.T) {
	l := localLabeler(t)
	p := newProject(t)
	for _, b := range boats(t, "Destroyers", 30) {
		p.add("destroyers", b)
	}
	sum, _ := p.run(Options{Labeler: l})
	if !hasNote(sum, "only class", "misfiled check skipped") {
		t.Errorf("no note that misfiled needs two classes: %v", sum.Notes)
	}
	if !hasNote(sum, "only class", "project method") {
		t.Errorf("no note that the project method has no other class: %v", sum.Notes)
	}
	if sum.Flags[ReasonMisfiled] != 0 {
		t.Errorf("%d misfiled flags with one class", sum.Flags[ReasonMisfiled])
	}
}

// A reference that shows something else is left out, with a warning that
// names it; one that cannot be read stops the run before anything moves.
func TestProjectBadReferences(t *testing.T) {
	l := localLabeler(t)
	p := newProject(t)
	for _, b := range boats(t, "Destroyers", 25) {
		p.add("destroyers", b)
	}
	for _, b := range boats(t, "Kayaks", 25) {
		p.add("kayaks", b)
	}
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.jpg"), filepath.Join(dir, "cat.jpg")
	os.WriteFile(good, boat(t, "Destroyers", "151.jpg"), 0o644)
	os.WriteFile(bad, cifar(t, "frog", 1)[0], 0o644)
	sum, _ := p.run(Options{Labeler: l, Classes: []Class{{Name: "destroyers", References: []string{good, bad}}}})
	if !hasNote(sum, "destroyers", "reference image 2 of 2", "not used") {
		t.Errorf("no warning about the off-topic reference: %v", sum.Notes)
	}
	before := p.files()
	_, err := Run(context.Background(), Options{Catalog: p.cat, Store: p.store, Labeler: l, Config: Default(),
		Classes: []Class{{Name: "destroyers", References: []string{filepath.Join(dir, "missing.jpg")}}}})
	if err == nil || !strings.Contains(err.Error(), "missing.jpg") {
		t.Errorf("unreadable reference: err %v, want one naming it", err)
	}
	if after := p.files(); !slices.Equal(before, after) {
		t.Errorf("files moved by a run that failed on its references")
	}
}

// Without a model, the checks that need one are skipped and named; the
// others run and nothing is flagged off-topic or misfiled.
func TestProjectNoModel(t *testing.T) {
	p := newProject(t)
	for _, b := range boats(t, "Destroyers", 5) {
		p.add("destroyers", b)
	}
	for _, b := range boats(t, "Kayaks", 5) {
		p.add("kayaks", b)
	}
	sum, _ := p.run(Options{})
	if !hasNote(sum, "off-topic check skipped", "ONNX Runtime") || !hasNote(sum, "misfiled check skipped", "ONNX Runtime") {
		t.Errorf("notes do not name the skipped checks and what to install: %v", sum.Notes)
	}
	if sum.Flags[ReasonOffTopic]+sum.Flags[ReasonMisfiled] != 0 || sum.Quarantined != 0 {
		t.Errorf("flags %v, %d quarantined without a model", sum.Flags, sum.Quarantined)
	}
}

// Garbage a third of the scores must not widen the scale of the rest.
func TestTrimmedStats(t *testing.T) {
	var scores []float64
	for i := range 70 {
		scores = append(scores, 0.85+0.04*float64(i%7-3)/3)
	}
	for i := range 35 {
		scores = append(scores, 0.45+0.01*float64(i%5))
	}
	plain, trimmed := robustStats(scores), trimmedStats(scores, trimZ)
	if abs(trimmed.Median-0.85) > 0.01 || trimmed.Sigma > 0.06 {
		t.Errorf("trimmed stats %+v, want median 0.85 and sigma about 0.04", trimmed)
	}
	if plain.Sigma <= trimmed.Sigma {
		t.Errorf("plain sigma %.3f not wider than trimmed %.3f: the test does not test trimming", plain.Sigma, trimmed.Sigma)
	}
	if z := trimmed.z(0.47); z > -projectZ {
		t.Errorf("garbage at 0.47 has z %.1f, not flagged at %d", z, projectZ)
	}
}

// A person's decisions move the threshold to where they agree with it.
func TestLearnCut(t *testing.T) {
	items := func(ds ...string) []*item {
		var out []*item
		for _, d := range ds {
			out = append(out, &item{decision: d})
		}
		return out
	}
	pool := items(DecisionKeep, DecisionKeep, DecisionReject, DecisionReject, "")
	doubt := []float64{1, 2, 3, 5, 9}
	th, n := learnCut(pool, doubt, 4)
	if n != 4 || th <= 2 || th > 3 {
		t.Errorf("learnCut = %g from %d decisions, want a cut in (2, 3] from 4", th, n)
	}
	if th, n := learnCut(items("", ""), []float64{1, 9}, 4); th != 4 || n != 0 {
		t.Errorf("no decisions: %g, %d; want the threshold unchanged", th, n)
	}
	// Decisions that agree with the threshold leave it where it is.
	if th, _ := learnCut(pool, []float64{1, 2, 5, 6, 9}, 4); th != 4 {
		t.Errorf("agreeing decisions moved the threshold to %g", th)
	}
}

// Kayaks filed among destroyers are taken out of the class, as misfiled
// with the kayaks class suggested in the flag and in the saved scores (or
// as off-topic when the picture is unlike every class: Kayaks/168.jpg is a
// valley with a kayak in it).
func TestMisfiled(t *testing.T) {
	l := localLabeler(t)
	p := newProject(t)
	for _, b := range boats(t, "Destroyers", 25) {
		p.add("destroyers", b)
	}
	ks := boats(t, "Kayaks", 29)
	for _, b := range ks[:25] {
		p.add("kayaks", b)
	}
	var moved []string
	for _, b := range ks[25:] {
		moved = append(moved, p.add("destroyers", b))
	}
	sum, _ := p.run(Options{Labeler: l})
	flags, err := Flags(context.Background(), p.cat, ReasonMisfiled)
	if err != nil {
		t.Fatal(err)
	}
	scores, err := p.cat.Scores(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	q := p.quarantined()
	misfiled := 0
	for _, sha := range moved {
		i := slices.IndexFunc(flags, func(f Flag) bool { return f.SHA256 == sha })
		switch {
		case i >= 0:
			misfiled++
			if !strings.Contains(flags[i].Detail, "kayaks") || q[sha] != ReasonMisfiled {
				t.Errorf("kayak %s: flag %+v, quarantined for %q", sha[:8], flags[i], q[sha])
			}
			if s := scores[sha]; s.Suggest != "kayaks" || s.Misfiled < s.MisfiledThreshold || s.MisfiledThreshold == 0 {
				t.Errorf("kayak %s: score %+v, want kayaks suggested over the threshold", sha[:8], s)
			}
		case q[sha] != ReasonOffTopic:
			t.Errorf("kayak %s among destroyers left in the class (quarantined for %q); flags %v, notes %v", sha[:8], q[sha], sum.Flags, sum.Notes)
		}
	}
	if misfiled < len(moved)/2 {
		t.Errorf("%d of %d kayaks flagged misfiled", misfiled, len(moved))
	}
	if len(flags) > misfiled+2 {
		t.Errorf("%d misfiled flags for %d misfiled images", len(flags), len(moved))
	}
}

// A reference vouches for the pictures of its class that are like it, and
// only for those: the same odd picture filed in another class stays doubtful.
func TestReferencesVouch(t *testing.T) {
	unit := func(xs ...float32) []float32 {
		var n float32
		for _, x := range xs {
			n += x * x
		}
		for i := range xs {
			xs[i] /= float32(math.Sqrt(float64(n)))
		}
		return xs
	}
	sp := labelSpace{}
	lab := func(name string) sparseVec { return sp.vec([]vision.Label{{Name: name, Confidence: 1}}) }
	odd := view{labels: lab("pier"), emb: unit(0, 1, 0.2)}
	var pool []*item
	var vs []view
	for i := range 40 {
		class := []string{"ships", "boats"}[i%2]
		pool = append(pool, &item{img: catalog.Image{Class: class}})
		vs = append(vs, view{labels: lab("liner"), emb: unit(1, 0.05*float32(i%5), 0)})
	}
	pool = append(pool, &item{img: catalog.Image{Class: "ships"}}, &item{img: catalog.Image{Class: "boats"}})
	vs = append(vs, odd, odd)
	refs := map[string][]view{"ships": {{labels: lab("pier"), emb: unit(0, 1, 0.25)}}}
	pic := projectCentres(pool, vs, refs, len(sp))
	d := scoreProject(pool, vs, pic, len(sp), 0.1)
	if d.doubt[40] < projectZ || d.doubt[41] < projectZ {
		t.Fatalf("the odd picture's doubts %.1f, %.1f before the reference vouches: want both >= %d", d.doubt[40], d.doubt[41], projectZ)
	}
	d.vouch(pool, vs, refs, len(sp), 0.1)
	if d.doubt[40] >= labelZ {
		t.Errorf("the picture like its class's reference: doubt %.1f, want under %d", d.doubt[40], labelZ)
	}
	if d.doubt[41] < projectZ {
		t.Errorf("the same picture in a class without that reference: doubt %.1f, want >= %d", d.doubt[41], projectZ)
	}
}
