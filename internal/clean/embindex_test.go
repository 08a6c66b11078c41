package clean

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// clusteredEmbeddings makes n non-negative unit vectors of d values in
// groups around random pictures, each member at its own distance from its
// picture, so that the cosines of a group spread across clean's thresholds
// as copies of one photo do (re-encodes near 1, crops lower).
func clusteredEmbeddings(r *rand.Rand, n, d, group int) [][]float32 {
	embs := make([][]float32, n)
	var base []float32
	for i := range embs {
		if i%group == 0 {
			base = make([]float32, d)
			for j := range base {
				base[j] = float32(math.Abs(r.NormFloat64()) * r.ExpFloat64())
			}
		}
		noise := 0.3 * r.Float64() * r.Float64()
		e := make([]float32, d)
		for j := range e {
			e[j] = max(0, base[j]+float32(noise*r.NormFloat64()))
		}
		embs[i] = unit(e...)
	}
	r.Shuffle(n, func(i, j int) { embs[i], embs[j] = embs[j], embs[i] })
	return embs
}

// Below cappedFrom the index finds exactly the pairs that comparing every
// pair finds; above it, nearly all of them, and always the same groups of
// copies (what dedup makes of the pairs); either way with far fewer
// comparisons.
func TestIndexPairs(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		n, d, group int
		minCos      float64
	}{
		{2000, 64, 20, 0.97},
		{2000, 64, 20, 0.9},
		{1000, 1280, 50, 0.97},
		{400, 64, 400, 0.97}, // one big group: more cells than the cap
		{300, 16, 1, 0.5},    // no groups, a low threshold
	} {
		r := rand.New(rand.NewPCG(uint64(tc.n), uint64(tc.d)))
		embs := clusteredEmbeddings(r, tc.n, tc.d, tc.group)
		want, err := exactPairs(ctx, embs, tc.minCos)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(want, comparePairs)
		var work indexWork
		got, err := indexPairs(ctx, embs, tc.minCos, &work)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(got, comparePairs)
		all := int64(tc.n) * int64(tc.n-1) / 2
		t.Logf("n %d, d %d, groups of %d, cosine >= %g: %d of %d pairs; %d of %d pairs compared on the projection, %d on the full embedding",
			tc.n, tc.d, tc.group, tc.minCos, len(got), len(want), work.projected, all, work.full)
		for _, p := range got {
			if _, ok := slices.BinarySearchFunc(want, p, comparePairs); !ok {
				t.Fatalf("n %d, d %d: the index found %v, which is not a pair", tc.n, tc.d, p)
			}
		}
		switch {
		case tc.minCos < cappedFrom && len(got) != len(want):
			t.Errorf("n %d, d %d, cosine %g: the index found %d pairs, comparing all %d", tc.n, tc.d, tc.minCos, len(got), len(want))
		case tc.group <= 50 && float64(len(got)) < 0.99*float64(len(want)):
			t.Errorf("n %d, d %d, cosine %g: recall %d of %d", tc.n, tc.d, tc.minCos, len(got), len(want))
		case !slices.Equal(components(tc.n, got), components(tc.n, want)):
			t.Errorf("n %d, d %d, cosine %g: the index's %d pairs make other groups than all %d", tc.n, tc.d, tc.minCos, len(got), len(want))
		}
		if tc.group > 1 && tc.group < tc.n && (work.full > all/10 || tc.minCos >= 0.97 && work.projected > all/2) {
			t.Errorf("n %d, d %d: the index compared %d projections and %d full embeddings of %d pairs: it barely prunes", tc.n, tc.d, work.projected, work.full, all)
		}
	}
}

// components labels each of n points with the lowest index of its
// connected component.
func components(n int, pairs [][2]int32) []int {
	uf := newUnionFind(n)
	for _, p := range pairs {
		uf.union(int(p[0]), int(p[1]))
	}
	out := make([]int, n)
	for i := range out {
		out[i] = uf.find(i)
	}
	return out
}

// Nil embeddings pair with nothing, embeddings of another length only with
// their own kind, and both searches agree whatever the input.
func TestEmbeddingPairsMixed(t *testing.T) {
	ctx := context.Background()
	a := unit(1, 0, 0)
	embs := [][]float32{a, nil, unit(1, 0.01, 0), unit(1, 0), unit(1, 0.001), a, unit(0, 1, 0)}
	want := [][2]int32{{0, 2}, {0, 5}, {2, 5}, {3, 4}}
	for _, how := range []PairSearch{SearchAuto, SearchExact, SearchIndex} {
		got, err := EmbeddingPairs(ctx, embs, 0.99, how)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("search %d: %v, want %v", how, got, want)
		}
	}
	if ps, err := EmbeddingPairs(ctx, [][]float32{a, a, a}, 1.5, SearchIndex); err != nil || len(ps) != 0 {
		t.Errorf("a threshold no cosine reaches: %v, %v", ps, err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := EmbeddingPairs(cancelled, clusteredEmbeddings(rand.New(rand.NewPCG(1, 1)), 500, 32, 10), 0.97, SearchIndex); err == nil {
		t.Error("a cancelled search returned no error")
	}
}

func comparePairs(a, b [2]int32) int {
	if a[0] != b[0] {
		return int(a[0] - b[0])
	}
	return int(a[1] - b[1])
}
