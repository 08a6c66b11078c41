package hamming

import (
	"context"
	"errors"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
)

// Planted returns n hashes of which about a fifth are copies of an earlier
// hash with 0..maxFlip random bits flipped, the rest uniformly random.
func planted(n, maxFlip int, seed uint64) []uint64 {
	r := rand.New(rand.NewPCG(seed, 1))
	hs := make([]uint64, n)
	for i := range hs {
		if i > 0 && r.IntN(5) == 0 {
			h := hs[r.IntN(i)]
			for range r.IntN(maxFlip + 1) {
				h ^= 1 << r.IntN(64)
			}
			hs[i] = h
			continue
		}
		hs[i] = r.Uint64()
	}
	return hs
}

func bruteForce(hs []uint64, d int) []Pair {
	var out []Pair
	for i := range hs {
		for j := i + 1; j < len(hs); j++ {
			if dist := bits.OnesCount64(hs[i] ^ hs[j]); dist <= d {
				out = append(out, Pair{int32(i), int32(j), uint8(dist)})
			}
		}
	}
	return out
}

func TestPairsMatchesBruteForce(t *testing.T) {
	// Low-entropy hashes (few distinct bits set) make long runs of equal
	// keys, the case where a wrong dedup rule would report a pair twice.
	lowEntropy := make([]uint64, 300)
	r := rand.New(rand.NewPCG(7, 7))
	for i := range lowEntropy {
		a, b := r.IntN(64), r.IntN(64) // two draws, often equal: then one bit set
		lowEntropy[i] = 1<<a | 1<<b
	}
	for _, tc := range []struct {
		name string
		hs   []uint64
		d    int
	}{
		{"exact only", planted(2000, 0, 1), 0},
		{"distance 1", planted(2000, 2, 2), 1},
		{"distance 6", planted(3000, 8, 3), 6},
		{"distance 10", planted(1500, 12, 4), 10},
		{"distance 16", planted(800, 18, 5), 16},
		{"low entropy", lowEntropy, 4},
		{"empty", nil, 6},
		{"one", []uint64{42}, 6},
	} {
		want := bruteForce(tc.hs, tc.d)
		for k := 1; k <= 4; k++ {
			got, err := pairs(context.Background(), tc.hs, tc.d, k, 2)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s, k=%d: %d pairs, brute force finds %d", tc.name, k, len(got), len(want))
			}
			if !nestedFits(tc.d, k) {
				continue
			}
			got, err = pairsNested(context.Background(), tc.hs, tc.d, k, 2)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s, nested k=%d: %d pairs, brute force finds %d", tc.name, k, len(got), len(want))
			}
		}
		got, err := Pairs(context.Background(), tc.hs, tc.d, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: Pairs found %d pairs, brute force %d", tc.name, len(got), len(want))
		}
	}
}

func TestPairsRejectsBadInput(t *testing.T) {
	for _, d := range []int{-1, MaxDistance + 1} {
		if _, err := Pairs(context.Background(), []uint64{1, 2}, d, 1); err == nil {
			t.Errorf("distance %d accepted", d)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Pairs(ctx, planted(100, 3, 1), 6, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}
}

// TestNestedRandomized draws sizes, radii and bit patterns at random and
// checks the nested search against brute force, including runs long enough
// to be bucketed rather than compared pairwise.
func TestNestedRandomized(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 13))
	for trial := range 40 {
		n := 1 + r.IntN(3000)
		d := r.IntN(MaxDistance + 1)
		var hs []uint64
		if trial%3 == 0 {
			// Few free bits (about 16): long runs of equal outer keys.
			// A small radius keeps the pairs, all within 2d bits of
			// each other, from numbering in the millions.
			d = r.IntN(5)
			mask := r.Uint64() & r.Uint64()
			base := r.Uint64()
			hs = make([]uint64, n)
			for i := range hs {
				hs[i] = base ^ (r.Uint64() & mask)
			}
		} else {
			hs = planted(n, d+2, r.Uint64())
		}
		want := bruteForce(hs, d)
		for k := 2; k <= 4; k++ {
			if !nestedFits(d, k) {
				continue
			}
			got, err := pairsNested(context.Background(), hs, d, k, 1+r.IntN(3))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("trial %d (n=%d d=%d k=%d): %d pairs, brute force finds %d", trial, n, d, k, len(got), len(want))
			}
		}
	}
}

// FuzzNested checks the nested search against brute force on hashes drawn
// around a few centres (so that buckets fill unevenly and some pairs lie
// within the radius), for any radius, number of shared blocks and of
// workers.
func FuzzNested(f *testing.F) {
	f.Add(uint64(1), uint16(500), uint8(6), uint8(3), uint8(2), uint64(0xffff0000ffff))
	f.Add(uint64(2), uint16(2000), uint8(2), uint8(2), uint8(1), ^uint64(0))
	f.Add(uint64(3), uint16(64), uint8(16), uint8(2), uint8(5), uint64(0xff))
	f.Fuzz(func(t *testing.T, seed uint64, n uint16, d, k, workers uint8, free uint64) {
		dd, kk := int(d)%(MaxDistance+1), 2+int(k)%3
		if !nestedFits(dd, kk) {
			return
		}
		r := rand.New(rand.NewPCG(seed, uint64(n)))
		centres := []uint64{r.Uint64(), r.Uint64(), r.Uint64()}
		hs := make([]uint64, int(n)%3000)
		for i := range hs {
			// free picks the bits that vary around a centre; a sparse
			// draw keeps low-entropy inputs from making millions of pairs.
			hs[i] = centres[r.IntN(len(centres))] ^ (r.Uint64() & r.Uint64() & free)
		}
		want := bruteForce(hs, dd)
		if len(want) > 200_000 {
			return
		}
		got, err := pairsNested(context.Background(), hs, dd, kk, 1+int(workers)%4)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d d=%d k=%d workers=%d: %d pairs, brute force finds %d", len(hs), dd, kk, 1+int(workers)%4, len(got), len(want))
		}
	})
}

func TestChoose(t *testing.T) {
	for _, tc := range []struct {
		n, d, wantK int
		wantNested  bool
	}{
		{10_000_000, 6, 3, true}, // the ten-million case the nested search is for
		{1_000_000, 6, 2, true},
	} {
		if k, nested := choose(tc.n, tc.d); k != tc.wantK || nested != tc.wantNested {
			t.Errorf("choose(%d, %d) = %d, %v, want %d, %v", tc.n, tc.d, k, nested, tc.wantK, tc.wantNested)
		}
	}
}

func BenchmarkPairs100k(b *testing.B) {
	hs := planted(100_000, 6, 9)
	for b.Loop() {
		if _, err := Pairs(context.Background(), hs, 6, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPairs1M(b *testing.B) {
	hs := planted(1_000_000, 6, 9)
	for b.Loop() {
		if _, err := Pairs(context.Background(), hs, 6, 0); err != nil {
			b.Fatal(err)
		}
	}
}
