// Package cleanbench measures the clean stage: how fast near-duplicate
// search scales (Dedup), how well the checks find planted junk and copies
// in real photos (Quality), how fast images go through decoding,
// resizing and the local model (Speed), and the whole stage on a project of
// up to 100,000 images (Scale). The CLI runs them as `scour bench dedup`,
// `scour bench clean` and `scour bench clean --images N`.
package cleanbench

import (
	"context"
	"fmt"
	"github.com/scour-dev/scour/internal/rusage"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"strings"
	"time"

	"github.com/scour-dev/scour/internal/clean/hamming"
)

// DedupOptions sizes the near-duplicate benchmark.
type DedupOptions struct {
	N       int    // hashes in all; default 1,000,000
	Planted int    // near-duplicate pairs planted among them; default 50,000
	MaxDist int    // the search radius in bits; default 6
	Seed    uint64 // for the random hashes
	Workers int    // 0 = GOMAXPROCS
}

// DedupReport is what Dedup measured.
type DedupReport struct {
	N, Planted, MaxDist int
	Pairs               int // pairs within MaxDist found
	PlantedFound        int // of the planted pairs
	Seconds             float64
	CPUSeconds          float64 // user+system time of the search, all cores; -1 where unknown
	PeakRSSBytes        int64   // the process's high-water resident set
	HeapBytes           uint64
	Cores               int
}

func (r DedupReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dedup benchmark: all pairs within Hamming distance %d among %d 64-bit hashes (%d near-duplicate pairs planted)\n", r.MaxDist, r.N, r.Planted)
	fmt.Fprintf(&b, "  search time         %8.2f s     (target < 10 s on 2 cores; %d cores here)\n", r.Seconds, r.Cores)
	if r.CPUSeconds >= 0 {
		fmt.Fprintf(&b, "  search CPU time     %8.2f s     (%.2f cores busy on average: how well the search splits)\n", r.CPUSeconds, r.CPUSeconds/r.Seconds)
	}
	fmt.Fprintf(&b, "  peak RSS            %8.0f MB    (target < 1 GB; Go heap in use after the search %.0f MB)\n", float64(r.PeakRSSBytes)/1e6, float64(r.HeapBytes)/1e6)
	fmt.Fprintf(&b, "  pairs found         %8d       (planted pairs found: %d of %d; the rest are chance pairs among planted copies)\n", r.Pairs, r.PlantedFound, r.Planted)
	return b.String()
}

// Dedup generates random hashes, plants near-duplicates of some (each a
// copy of a random hash with 0..MaxDist bits flipped), and times the
// all-pairs search through the index clean uses.
func Dedup(ctx context.Context, o DedupOptions) (DedupReport, error) {
	if o.N <= 0 {
		o.N = 1_000_000
	}
	if o.Planted <= 0 {
		o.Planted = 50_000
	}
	if o.MaxDist <= 0 {
		o.MaxDist = 6
	}
	if o.Planted > o.N/2 {
		return DedupReport{}, fmt.Errorf("cleanbench: %d planted pairs need at least %d hashes", o.Planted, 2*o.Planted)
	}
	r := rand.New(rand.NewPCG(o.Seed, 0x5c0)) // fixed stream: the same hashes every run
	hs := make([]uint64, o.N)
	for i := range hs {
		hs[i] = r.Uint64()
	}
	// Copies go in the last Planted slots, each of a distinct earlier hash.
	planted := make([][2]int32, o.Planted)
	src := r.Perm(o.N - o.Planted)
	for k := range o.Planted {
		i, j := src[k], o.N-o.Planted+k
		h := hs[i]
		for _, bit := range r.Perm(64)[:r.IntN(o.MaxDist+1)] {
			h ^= 1 << bit
		}
		hs[j] = h
		planted[k] = [2]int32{int32(i), int32(j)}
	}
	runtime.GC()
	t0, cpu0 := time.Now(), rusage.CPUTime()
	pairs, err := hamming.Pairs(ctx, hs, o.MaxDist, o.Workers)
	if err != nil {
		return DedupReport{}, err
	}
	rep := DedupReport{N: o.N, Planted: o.Planted, MaxDist: o.MaxDist, Pairs: len(pairs), Seconds: time.Since(t0).Seconds(),
		CPUSeconds: -1, PeakRSSBytes: rusage.PeakRSS(), Cores: runtime.GOMAXPROCS(0)}
	if cpu1 := rusage.CPUTime(); cpu0 >= 0 && cpu1 >= 0 {
		rep.CPUSeconds = (cpu1 - cpu0).Seconds()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rep.HeapBytes = ms.HeapInuse
	found := map[[2]int32]bool{}
	for _, p := range pairs {
		if bits.OnesCount64(hs[p.A]^hs[p.B]) > o.MaxDist {
			return rep, fmt.Errorf("cleanbench: pair %v is %d bits apart", p, bits.OnesCount64(hs[p.A]^hs[p.B]))
		}
		found[[2]int32{p.A, p.B}] = true
	}
	for _, p := range planted {
		if found[p] {
			rep.PlantedFound++
		}
	}
	return rep, nil
}
