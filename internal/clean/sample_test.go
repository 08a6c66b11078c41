package clean

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestHeadRowsKeepsAllUnderTheBound(t *testing.T) {
	train := [][]bool{make([]bool, 10_000), make([]bool, 15_000)}
	for c := range train {
		for i := range train[c] {
			train[c][i] = i%7 != 0
		}
	}
	fit := headRows(train)
	for c := range train {
		for i := range train[c] {
			if fit[c][i] != train[c][i] {
				t.Fatalf("class %d row %d: fitted %v, trusted %v; under the bound every trusted row is fitted", c, i, fit[c][i], train[c][i])
			}
		}
	}
}

func TestHeadRowsSamplesEachClassAlike(t *testing.T) {
	sizes := []int{60_000, 30_000, 900}
	train := make([][]bool, len(sizes))
	var trusted int
	for c, n := range sizes {
		train[c] = make([]bool, n)
		for i := range train[c] {
			train[c][i] = i%10 != 3 // a tenth in doubt
			if train[c][i] {
				trusted++
			}
		}
	}
	fit := headRows(train)
	// Fold 3 holds the fewest trusted rows, so its fit is the largest.
	var inFold3 int
	for c := range train {
		for i, ok := range train[c] {
			if ok && i%headFolds == 3 {
				inFold3++
			}
		}
	}
	share := float64(headRowsMax) / float64(trusted-inFold3)
	for c := range train {
		var kept, trustedC int
		for i, ok := range fit[c] {
			if ok && !train[c][i] {
				t.Fatalf("class %d row %d is fitted but not trusted", c, i)
			}
			if ok {
				kept++
			}
			if train[c][i] {
				trustedC++
			}
		}
		if want := share * float64(trustedC); math.Abs(float64(kept)-want) > headFolds {
			t.Errorf("class %d: %d of %d trusted rows fitted, want %.0f (the same share in every class)", c, kept, trustedC, want)
		}
	}
	// Each fold fits the sampled rows outside it: at most the bound.
	for f := range headFolds {
		var rows int
		for c := range fit {
			for i, ok := range fit[c] {
				if ok && i%headFolds != f {
					rows++
				}
			}
		}
		if rows > headRowsMax {
			t.Errorf("fold %d fits %d rows, over the bound %d", f, rows, headRowsMax)
		}
	}
	again := headRows(train)
	for c := range fit {
		for i := range fit[c] {
			if fit[c][i] != again[c][i] {
				t.Fatal("two runs sampled different rows")
			}
		}
	}
}

func TestStandardiseIntoMatchesACopy(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const dim = 1280
	mu, sd := make([]float64, dim), make([]float64, dim)
	emb := make([]float32, dim)
	for j := range dim {
		mu[j], sd[j] = r.Float64(), 0.1+r.Float64()
		emb[j] = float32(r.NormFloat64())
	}
	e := make([]float64, dim)
	for j, x := range emb {
		e[j] = (float64(x) - mu[j]) / sd[j]
	}
	want := unitSum(e)
	raw := slices.Clone(emb)
	f := &features{Embedding: emb}
	got := standardiseInto(f, mu, sd)
	if f.Embedding != nil {
		t.Error("the features still hold the raw embedding, so both stay in memory")
	}
	// A labeler's cache may hand the same array to the next project.
	if !slices.Equal(emb, raw) {
		t.Error("standardising wrote over the raw embedding array")
	}
	for j := range want {
		if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
			t.Fatalf("value %d: %v standardised, %v by unitSum", j, got[j], want[j])
		}
	}
}
