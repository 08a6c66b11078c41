package clean

import (
	"context"
	"maps"
	"math"
	"slices"
	"testing"
)

// The catalog keeps embeddings as float16 (catalog/embeddings.go). A first
// run judges with the model's float32 embeddings, a second with the
// float16 ones read back from the catalog: every flag, suggestion and
// duplicate group must come out the same, and the doubts nearly so
// (measured: by at most 0.0044, or that share of a doubt above 1).
func TestCachedEmbeddingsDecideAlike(t *testing.T) {
	l := localLabeler(t)
	p := newProject(t)
	ctx := context.Background()
	for _, b := range boats(t, "Destroyers", 40) {
		p.add("destroyers", b)
	}
	ks := boats(t, "Kayaks", 29)
	for _, b := range ks[:25] {
		p.add("kayaks", b)
	}
	for _, b := range ks[25:] {
		p.add("destroyers", b) // misfiled
	}
	for _, b := range cifar(t, "cat", 6) {
		p.add("destroyers", b) // off-topic
	}
	// Copies: a re-encode and a resize of a few destroyers.
	for _, b := range boats(t, "Destroyers", 4) {
		img := decode(t, b)
		p.add("destroyers", encodeJPEG(t, img, 60))
		sz := img.Bounds().Size()
		p.add("destroyers", encodeJPEG(t, resized(img, sz.X*3/4, sz.Y*3/4), 90))
	}
	type verdict struct {
		flags  map[string]string // sha256 + reason -> method
		scores map[string][3]float64
		groups map[string]string
		sugg   map[string]string
	}
	judge := func() verdict {
		sum, _ := p.run(Options{Labeler: l})
		v := verdict{flags: map[string]string{}, scores: map[string][3]float64{}, sugg: map[string]string{}}
		fs, err := Flags(ctx, p.cat, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			v.flags[f.SHA256+" "+f.Reason] = f.Method
		}
		ss, err := p.cat.Scores(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for sha, s := range ss {
			v.scores[sha] = [3]float64{s.OffTopic, s.Misfiled, s.MisfiledThreshold}
			v.sugg[sha] = s.Suggest
		}
		if v.groups, err = Groups(ctx, p.cat); err != nil {
			t.Fatal(err)
		}
		t.Logf("flags %v, %d labelled this run", sum.Flags, sum.Labelled)
		return v
	}
	first := judge()
	second := judge()
	if !maps.Equal(first.flags, second.flags) {
		t.Errorf("flags from float32 embeddings and from float16 ones differ:\n%v\n%v", slices.Sorted(maps.Keys(first.flags)), slices.Sorted(maps.Keys(second.flags)))
	}
	if !maps.Equal(first.groups, second.groups) || !maps.Equal(first.sugg, second.sugg) {
		t.Errorf("duplicate groups or suggestions differ:\n%v %v\n%v %v", first.groups, first.sugg, second.groups, second.sugg)
	}
	// The doubts are robust z-scores: cosines that move by 1e-5 move
	// them by about a thousandth.
	var worst float64
	for sha, a := range first.scores {
		b := second.scores[sha]
		for k := range a {
			worst = max(worst, math.Abs(a[k]-b[k])/max(1, math.Abs(a[k])))
		}
	}
	third := judge()
	var again float64
	for sha, a := range second.scores {
		b := third.scores[sha]
		for k := range a {
			again = max(again, math.Abs(a[k]-b[k]))
		}
	}
	t.Logf("largest relative change of a doubt or margin: %.2g from float32 to float16, %.2g between two runs on float16", worst, again)
	if worst > 0.01 || again != 0 {
		t.Errorf("doubts moved by up to %g (relative) between float32 and float16 embeddings, %g between two runs on float16", worst, again)
	}
	if len(first.flags) < 5 {
		t.Errorf("only %d flags: the project is not testing the decisions", len(first.flags))
	}
}
