package pipeline

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/errkind"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/project"
)

// baseYAML is a project small enough to run every stage in seconds: two
// classes from a local folder, tiny inputs, one epoch.
const baseYAML = `classes:
  - name: red
  - name: blue
sources:
  - engine: folder
    path: photos
fetch:
  min_width: 16
  min_height: 16
clean:
  # Synthetic pictures look alike to an ImageNet model: only their pixels
  # tell them apart, and off-topic has nothing to judge by.
  duplicates:
    min_cosine: 0
    confirm_cosine: 0
  off_topic:
    method: off
split:
  train: 0.5
  val: 0.25
  test: 0.25
train:
  input_size: 16
  epochs: 1
  batch: 4
  model: 4-8/d1
  sweep: []
`

// writePhotos writes n distinct PNGs of coloured blocks (a reddish or a
// bluish palette per class) into dir, starting at number from.
func writePhotos(t *testing.T, dir, class string, from, n int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := from; i < from+n; i++ {
		rng := rand.New(rand.NewPCG(uint64(len(class)), uint64(i)))
		img := image.NewRGBA(image.Rect(0, 0, 64, 64))
		for by := 0; by < 8; by++ {
			for bx := 0; bx < 8; bx++ {
				a, b := uint8(rng.IntN(256)), uint8(rng.IntN(256))
				c := color.RGBA{200 + a%56, a / 2, b / 2, 255}
				if class == "blue" {
					c = color.RGBA{a / 2, b / 2, 200 + a%56, 255}
				}
				for y := by * 8; y < by*8+8; y++ {
					for x := bx * 8; x < bx*8+8; x++ {
						img.SetRGBA(x, y, c)
					}
				}
			}
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%03d.png", class, i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// newProject creates a project in a temporary folder with a real catalog
// and local store, and 8 photos per class under photos/.
func newProject(t *testing.T, yaml string) *project.Project {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "scour.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"red", "blue"} {
		writePhotos(t, filepath.Join(dir, "photos", c), c, 0, 8)
	}
	p, err := project.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// quiet drops the stages' progress events.
type quiet struct{}

func (quiet) Emit(progress.Event) {}

func fingerprint(t *testing.T, p *project.Project, st Stage) string {
	t.Helper()
	fp, err := st.Fingerprint(context.Background(), p)
	if err != nil {
		t.Fatalf("%s: fingerprint: %v", st.Name(), err)
	}
	return fp
}

func run(t *testing.T, p *project.Project, st interface {
	Run(context.Context, *project.Project, progress.Sink) (any, error)
}) {
	t.Helper()
	if _, err := st.Run(context.Background(), p, quiet{}); err != nil {
		t.Fatal(err)
	}
}

// TestFingerprints checks that each stage's fingerprint follows its own
// inputs: the same project gives the same fingerprint, a change to what
// the stage reads changes it, and a change to what it does not read leaves
// it alone.
func TestFingerprints(t *testing.T) {
	p := newProject(t, baseYAML)
	ctx := context.Background()
	fps := func() map[string]string {
		out := map[string]string{}
		for _, st := range Stages() {
			out[st.Name()] = fingerprint(t, p, st)
		}
		return out
	}
	// changed asserts that exactly the stages in want changed since before.
	changed := func(step string, before, after map[string]string, want ...string) {
		t.Helper()
		for name, fp := range after {
			isWanted := strings.Contains(" "+strings.Join(want, " ")+" ", " "+name+" ")
			if name == "report" {
				if fp != "" {
					t.Errorf("%s: report has fingerprint %q; it must always run", step, fp)
				}
				continue
			}
			if got := fp != before[name]; got != isWanted {
				t.Errorf("%s: %s fingerprint changed = %v, want %v", step, name, got, isWanted)
			}
		}
	}

	f0 := fps()
	changed("again", f0, fps())

	run(t, p, Gather{})
	f1 := fps()
	changed("after gather", f0, f1, "clean", "split")

	writePhotos(t, p.Path("photos/red"), "red", 8, 2)
	f2 := fps()
	changed("photo added to the folder", f1, f2, "gather")
	run(t, p, Gather{})
	f3 := fps()
	changed("gathered the new photos", f2, f3, "clean", "split")

	run(t, p, Clean{Labeler: "none"})
	f4 := fps()
	if f4["gather"] != f3["gather"] || f4["train"] != f3["train"] {
		t.Errorf("clean changed the fingerprint of gather or train")
	}

	run(t, p, Split{})
	f5 := fps()
	changed("split", f4, f5, "train")

	p.Config.Split.Seed++
	f6 := fps()
	changed("split seed", f5, f6, "split")

	p.Config.Train.Epochs++
	f7 := fps()
	changed("train epochs", f6, f7, "train")

	p.Config.Clean.Duplicates.PHashDistance++
	f8 := fps()
	changed("clean setting", f7, f8, "clean")

	p.Config.Fetch.Workers++
	f9 := fps()
	changed("fetch setting", f8, f9, "gather")

	// A new split changes what train reads.
	seed := p.Config.Split.Seed + 100
	if _, err := (Split{Seed: &seed}).Do(ctx, p, quiet{}); err != nil {
		t.Fatal(err)
	}
	changed("resplit", f9, fps(), "train")
}

func results(t *testing.T, rs []StageResult) string {
	t.Helper()
	var b strings.Builder
	for _, r := range rs {
		state := "done"
		if r.Skipped {
			state = "skipped"
		}
		fmt.Fprintf(&b, "%s:%s ", r.Stage, state)
	}
	return strings.TrimSpace(b.String())
}

// TestRunSkipsUnchanged runs the whole pipeline, then again (only the
// report runs), after an edit (only what the edit affects), with --from
// and with --force.
func TestRunSkipsUnchanged(t *testing.T) {
	p := newProject(t, baseYAML)
	ctx := context.Background()
	step := func(name string, o RunOptions, want string) {
		t.Helper()
		o.Events = quiet{}
		rs, err := Run(ctx, p, o)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := results(t, rs); got != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
	step("first", RunOptions{}, "gather:done clean:done split:done train:done report:done")
	if _, err := os.Stat(filepath.Join(p.Dir, "runs", "4-8_d1", "best.scour")); err != nil {
		t.Errorf("train left no model: %v", err)
	}
	if _, err := os.Stat(filepath.Join(p.Dir, "report", "index.html")); err != nil {
		t.Errorf("report left no page: %v", err)
	}
	step("unchanged", RunOptions{}, "gather:skipped clean:skipped split:skipped train:skipped report:done")

	p.Config.Split.Seed++
	step("new split seed", RunOptions{}, "gather:skipped clean:skipped split:done train:done report:done")

	writePhotos(t, p.Path("photos/blue"), "blue", 8, 2)
	step("photos added", RunOptions{}, "gather:done clean:done split:done train:done report:done")

	step("from train", RunOptions{From: "train"}, "train:skipped report:done")
	step("force from split", RunOptions{From: "split", Force: true}, "split:done train:done report:done")
	step("force", RunOptions{Force: true}, "gather:done clean:done split:done train:done report:done")

	_, err := Run(ctx, p, RunOptions{From: "bogus", Events: quiet{}})
	if errkind.Cause(err) != "config" || !strings.Contains(err.Error(), "gather") {
		t.Errorf("--from bogus: %v (cause %q), want a config error naming the stages", err, errkind.Cause(err))
	}
}

// TestErrorKindsMatch checks that `scour run` and the single command fail
// with the same kind of error, the kind the CLI turns into its exit code.
func TestErrorKindsMatch(t *testing.T) {
	ctx := context.Background()

	t.Run("pending work", func(t *testing.T) {
		// A remote host that is down for now: its URLs fail for a passing
		// reason, so red stays below its target with work left.
		down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}))
		defer down.Close()
		yaml := strings.Replace(baseYAML, "  - name: red\n", "  - name: red\n    target: 20\n", 1)
		yaml = strings.Replace(yaml, "sources:\n", "sources:\n  - engine: urls\n    path: urls.txt\n    classes: [red]\n", 1)
		yaml = strings.Replace(yaml, "fetch:\n", "fetch:\n  retries: 0\n", 1)
		p := newProject(t, yaml)
		var list strings.Builder
		for i := range 4 {
			fmt.Fprintf(&list, "%s/red-%d.png\n", down.URL, i)
		}
		if err := os.WriteFile(p.Path("urls.txt"), []byte(list.String()), 0o644); err != nil {
			t.Fatal(err)
		}

		sum, err := Gather{}.Do(ctx, p, quiet{})
		if !errkind.IsPartial(err) || sum == nil {
			t.Fatalf("gather: %v (summary %v), want work pending", err, sum)
		}
		rs, err := Run(ctx, p, RunOptions{Events: quiet{}})
		if !errkind.IsPartial(err) || errkind.IsFatal(err) || errkind.Cause(err) == "config" {
			t.Fatalf("run: %v, want work pending, like gather", err)
		}
		// The top-up has nothing to search (local sources are read whole)
		// but says why red is short.
		if got, want := results(t, rs), "gather:done clean:done top-up:done split:done train:done report:done"; got != want {
			t.Errorf("run with work pending:\n got %s\nwant %s", got, want)
		}
		// Gather is not recorded as finished: the next run tries again,
		// while the stages after it, which did finish, are skipped.
		rs, err = Run(ctx, p, RunOptions{Events: quiet{}})
		if !errkind.IsPartial(err) {
			t.Fatalf("second run: %v, want work pending", err)
		}
		if got, want := results(t, rs), "gather:done clean:skipped top-up:done split:skipped train:skipped report:done"; got != want {
			t.Errorf("second run:\n got %s\nwant %s", got, want)
		}
	})

	t.Run("bad settings", func(t *testing.T) {
		p := newProject(t, baseYAML)
		if _, err := Run(ctx, p, RunOptions{Events: quiet{}}); err != nil {
			t.Fatal(err)
		}
		p.Config.Train.Model = "8-x16"
		_, single := TrainOne(ctx, p, "", "", TrainOverrides{}, quiet{})
		_, stage := Train{}.Do(ctx, p, quiet{})
		_, whole := Run(ctx, p, RunOptions{From: "train", Events: quiet{}})
		for name, err := range map[string]error{"train": single, "train stage": stage, "run": whole} {
			if errkind.Cause(err) != "config" {
				t.Errorf("%s: %v (cause %q), want a config error", name, err, errkind.Cause(err))
			}
		}
		_, single = Clean{Labeler: "bogus"}.Do(ctx, p, quiet{})
		if errkind.Cause(single) != "config" || !strings.Contains(single.Error(), "want local, rekognition, vision or none") {
			t.Errorf("clean --labeler bogus: %v", single)
		}
	})

	t.Run("interrupted", func(t *testing.T) {
		p := newProject(t, baseYAML)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, single := Gather{}.Do(cctx, p, quiet{})
		_, whole := Run(cctx, p, RunOptions{Events: quiet{}})
		for name, err := range map[string]error{"gather": single, "run": whole} {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: %v, want context.Canceled", name, err)
			}
		}
	})
}

// TestDoctorMarkupChanged checks that doctor tells an engine whose page
// changed (it answers, and nothing parses) from one that does not answer.
func TestDoctorMarkupChanged(t *testing.T) {
	changed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<!doctype html><html><body><p>a new layout</p></body></html>")
	}))
	defer changed.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	yaml := strings.Replace(baseYAML, "sources:\n", fmt.Sprintf("sources:\n  - engine: bing\n    base_url: %s\n  - engine: duckduckgo\n    base_url: %s\n", changed.URL, down.URL), 1)
	p := newProject(t, yaml)
	byCheck := map[string]Finding{}
	for _, f := range Doctor(context.Background(), p.Dir, false) {
		byCheck[f.Check] = f
	}
	if f := byCheck["engine bing"]; f.Status != "fail" || !strings.Contains(f.Fix, "changed its page") {
		t.Errorf("bing with a changed page: %+v, want a failure that says the page changed", f)
	}
	if f := byCheck["engine duckduckgo"]; f.Status == "fail" || strings.Contains(f.Fix, "changed its page") {
		t.Errorf("duckduckgo not answering: %+v, want a warning about the network", f)
	}
	if f := byCheck["catalog"]; f.Status != "ok" {
		t.Errorf("catalog: %+v", f)
	}
}
