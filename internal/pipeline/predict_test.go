package pipeline

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/scour-dev/scour/internal/imaging"
	"github.com/scour-dev/scour/internal/progress"
	"github.com/scour-dev/scour/internal/train"
)

// trainedModel gathers, splits and trains baseYAML's tiny CNN for real and
// returns its model file.
func trainedModel(t *testing.T) string {
	t.Helper()
	p := newProject(t, baseYAML)
	run(t, p, Gather{})
	run(t, p, Split{})
	res, err := TrainOne(context.Background(), p, "", "", TrainOverrides{}, quiet{})
	if err != nil {
		t.Fatal(err)
	}
	return res.ModelPath
}

// photoDir lays out what a user points predict at: class folders of PNGs,
// a PNG without an extension, a hidden file and folder, a text file, and a
// broken "JPEG".
func photoDir(t *testing.T) string {
	dir := t.TempDir()
	writePhotos(t, filepath.Join(dir, "a"), "red", 0, 3)
	writePhotos(t, filepath.Join(dir, "b"), "blue", 0, 3)
	writePhotos(t, filepath.Join(dir, ".cache"), "red", 5, 1)
	png, err := os.ReadFile(filepath.Join(dir, "a", "red-000.png"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"b/noext":       png,
		"b/.hidden.png": png,
		"notes.txt":     []byte("not an image"),
		"a/broken.jpg":  append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{7}, 50)...),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func rel(t *testing.T, dir string, files []string) []string {
	var out []string
	for _, f := range files {
		r, err := filepath.Rel(dir, f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, filepath.ToSlash(r))
	}
	return out
}

func TestExpandImageArgs(t *testing.T) {
	dir := photoDir(t)
	j := func(s string) string { return filepath.Join(dir, s) }
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"folder, walked", []string{dir},
			[]string{"a/broken.jpg", "a/red-000.png", "a/red-001.png", "a/red-002.png", "b/blue-000.png", "b/blue-001.png", "b/blue-002.png", "b/noext"}},
		{"files as given, in order, once", []string{j("notes.txt"), j("b/blue-001.png"), j("a/red-000.png"), j("notes.txt")},
			[]string{"notes.txt", "b/blue-001.png", "a/red-000.png"}},
		{"glob", []string{j("*/*-00[12].png")},
			[]string{"a/red-001.png", "a/red-002.png", "b/blue-001.png", "b/blue-002.png"}},
		{"glob: hidden names only where the pattern asks", []string{j("b/*.png"), j("b/.h*")},
			[]string{"b/blue-000.png", "b/blue-001.png", "b/blue-002.png", "b/.hidden.png"}},
		{"glob of folders", []string{j("[b]")},
			[]string{"b/blue-000.png", "b/blue-001.png", "b/blue-002.png", "b/noext"}},
		{"missing file kept, to be listed with its error", []string{j("gone.png")}, []string{"gone.png"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ExpandImageArgs(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if r := rel(t, dir, got); !slices.Equal(r, tc.want) {
				t.Errorf("got %q, want %q", r, tc.want)
			}
		})
	}
	if err := os.Mkdir(j("empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{j("*.jpeg"), j("empty"), j("*/.hid*.jpg")} {
		_, err := ExpandImageArgs([]string{j("a"), bad})
		var ae *ArgError
		if !errors.As(err, &ae) || ae.Arg != bad {
			t.Errorf("%s: got %v, want an ArgError naming it", bad, err)
		}
	}
}

func TestPredict(t *testing.T) {
	model := trainedModel(t)
	dir := photoDir(t)
	ctx := context.Background()
	pr, err := train.LoadPredictor(ctx, model)
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	classes := pr.Meta.Classes
	// direct is what the model says of one file, without Predict.
	direct := func(t *testing.T, file string) []float32 {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := imaging.Decode(b, imaging.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		probs, err := pr.Predict(img)
		if err != nil {
			t.Fatal(err)
		}
		return probs
	}
	predict := func(t *testing.T, args []string, o PredictOptions) (PredictSummary, []byte, *progress.Recorder, error) {
		t.Helper()
		var out bytes.Buffer
		rec := &progress.Recorder{}
		o.Stdout, o.Events = &out, rec
		sum, err := Predict(ctx, model, args, o)
		return sum, out.Bytes(), rec, err
	}
	want, err := ExpandImageArgs([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "a", "broken.jpg")

	t.Run("jsonl, folder with a broken file, top-k", func(t *testing.T) {
		sum, out, rec, err := predict(t, []string{dir}, PredictOptions{TopK: 2, Format: "jsonl"})
		if err != nil {
			t.Fatal(err)
		}
		if sum != (PredictSummary{Images: len(want), Classified: len(want) - 1, Failed: 1}) {
			t.Errorf("summary %+v", sum)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != len(want) {
			t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out)
		}
		for i, line := range lines {
			var p Prediction
			if err := json.Unmarshal([]byte(line), &p); err != nil {
				t.Fatalf("line %d: %v", i, err)
			}
			if p.File != want[i] {
				t.Errorf("line %d is %s, want %s (argument order)", i, p.File, want[i])
			}
			if p.File == broken {
				if p.Error == "" || p.Class != "" || len(p.Top) != 0 {
					t.Errorf("broken file: %+v, want only an error", p)
				}
				continue
			}
			probs := direct(t, p.File)
			if len(p.Top) != 2 || p.Top[0].Probability < p.Top[1].Probability || p.Top[0].Class == p.Top[1].Class {
				t.Fatalf("%s: top %+v, want both classes, most likely first", p.File, p.Top)
			}
			for _, c := range p.Top {
				if got := float64(probs[slices.Index(classes, c.Class)]); math.Abs(got-c.Probability) > 1e-6 {
					t.Errorf("%s: %s has %v, the model says %v", p.File, c.Class, c.Probability, got)
				}
			}
			if p.Class != p.Top[0].Class || p.Confidence != p.Top[0].Probability || p.Error != "" {
				t.Errorf("%s: class %s %v, top %+v", p.File, p.Class, p.Confidence, p.Top)
			}
		}
		notes := rec.Notes()
		if len(notes) != 1 || !strings.Contains(notes[0], fmt.Sprintf("1 of %d images", len(want))) {
			t.Errorf("notes %q, want one warning counting the broken image", notes)
		}
		var steps int64
		for _, e := range rec.Events {
			if e.Stage == "predict" && e.Kind == progress.Advance {
				steps += e.Done
			}
		}
		if first := rec.Events[0]; first.Kind != progress.Begin || first.Total != int64(len(want)) || steps != int64(len(want)) {
			t.Errorf("progress: first event %+v, %d steps, want a bar of %d", first, steps, len(want))
		}
	})

	t.Run("csv to a file, glob", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "out", "pred.csv")
		args := []string{filepath.Join(dir, "b", "*.png"), broken}
		sum, stdout, _, err := predict(t, args, PredictOptions{Format: "csv", Output: file})
		if err != nil {
			t.Fatal(err)
		}
		if len(stdout) != 0 || sum.Output != file || sum.Classified != 3 || sum.Failed != 1 {
			t.Errorf("summary %+v, stdout %q", sum, stdout)
		}
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		recs, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if h := strings.Join(recs[0], ","); h != "file,class,confidence,error" {
			t.Errorf("header %s", h)
		}
		if len(recs) != 5 {
			t.Fatalf("%d records, want header and 4", len(recs))
		}
		for i, r := range recs[1:4] {
			if want := filepath.Join(dir, "b", "blue-00"+strconv.Itoa(i)+".png"); r[0] != want || r[3] != "" {
				t.Errorf("row %d: %q, want %s classified", i, r, want)
			}
			probs := direct(t, r[0])
			ci := slices.Index(classes, r[1])
			conf, err := strconv.ParseFloat(r[2], 64)
			if ci < 0 || err != nil || math.Abs(conf-float64(probs[ci])) > 1e-6 || float64(probs[ci]) < 0.5 {
				t.Errorf("row %d: %q, the model says %v", i, r, probs)
			}
		}
		if r := recs[4]; r[0] != broken || r[1] != "" || r[3] == "" {
			t.Errorf("broken row %q", r)
		}
		if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
			t.Errorf("output folder holds %d files, want the csv alone", len(entries))
		}
	})

	t.Run("csv top-k columns; k above the classes lists all", func(t *testing.T) {
		_, out, _, err := predict(t, []string{want[1]}, PredictOptions{Format: "csv", TopK: 5})
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if h := strings.Join(recs[0], ","); h != "file,class,confidence,class_2,confidence_2,error" || len(recs) != 2 || len(recs[1]) != 6 {
			t.Errorf("got %q", recs)
		}
	})

	t.Run("text and json", func(t *testing.T) {
		_, out, _, err := predict(t, []string{want[1], broken}, PredictOptions{})
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 2 || len(strings.Split(lines[0], "\t")) != 3 || !strings.HasPrefix(lines[1], broken+"\terror: ") {
			t.Errorf("text output:\n%s", out)
		}
		_, out, _, err = predict(t, []string{want[1], broken}, PredictOptions{Format: "json"})
		var ps []Prediction
		if err != nil || json.Unmarshal(out, &ps) != nil || len(ps) != 2 || ps[0].Class == "" || ps[1].Error == "" {
			t.Errorf("json output (%v):\n%s", err, out)
		}
	})

	t.Run("none classified is an error, and still listed", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "pred.jsonl")
		sum, _, _, err := predict(t, []string{broken, filepath.Join(dir, "notes.txt")}, PredictOptions{Format: "jsonl", Output: file})
		if err == nil || !strings.Contains(err.Error(), "none of the 2 images") || sum.Failed != 2 {
			t.Fatalf("got %+v, %v", sum, err)
		}
		if b, _ := os.ReadFile(file); strings.Count(string(b), `"error"`) != 2 {
			t.Errorf("output file:\n%s", b)
		}
	})

	t.Run("no match", func(t *testing.T) {
		pattern := filepath.Join(dir, "*.webp")
		_, _, _, err := predict(t, []string{pattern}, PredictOptions{})
		var ae *ArgError
		if !errors.As(err, &ae) || !strings.Contains(err.Error(), pattern) {
			t.Errorf("got %v, want an ArgError naming %s", err, pattern)
		}
	})
}
