// Package hamming finds every pair of 64-bit hashes (perceptual hashes)
// that lie within a small Hamming distance of each other, fast enough for
// millions of them.
//
// It uses the pigeonhole idea behind multi-index hashing: cut the 64 bits
// into m = d+k blocks; two hashes that differ in at most d bits differ in at
// most d blocks, so they agree exactly on at least k of them. For every
// choice of k blocks, sorting the hashes by those blocks' bits puts all such
// pairs next to each other, and only runs of equal keys are compared. A pair
// is reported only by the first k-subset of blocks it agrees on, so each
// comes out once. With d = 6 and k = 2 the keys are 16 bits long and a
// million random hashes cost a few candidate comparisons each per pass,
// instead of the half a trillion comparisons of the all-pairs loop (and the
// near-linear scans a BK-tree degrades to at this radius). At ten million
// hashes the keys must grow to k = 3 blocks (about 21 bits) to keep the
// candidates near one per hash, and the nested search (nested.go) reaches
// those C(9, 3) = 84 block triples by bucketing level by level instead of
// sorting the whole array 84 times.
package hamming

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"
)

// MaxDistance is the largest distance Pairs accepts. Beyond it the blocks
// get so short that almost everything is a candidate.
const MaxDistance = 16

// Pair is two indexes into the hashes given to Pairs, A < B, and the
// Hamming distance between those hashes.
type Pair struct {
	A, B int32
	Dist uint8
}

// Pairs returns every pair of indexes (i, j), i < j, whose hashes differ in
// at most maxDist bits, each pair once, sorted by A then B. It runs on
// workers goroutines (0 = GOMAXPROCS) and checks ctx between passes.
//
// Its time grows with the number of hashes plus the number of candidate
// pairs, which stays small unless many hashes share most of their bits: a
// caller holding many equal hashes should collapse them to one first, since
// a group of r equal hashes alone yields r(r-1)/2 pairs.
func Pairs(ctx context.Context, hashes []uint64, maxDist, workers int) ([]Pair, error) {
	if maxDist < 0 || maxDist > MaxDistance {
		return nil, fmt.Errorf("hamming: distance %d is outside 0..%d", maxDist, MaxDistance)
	}
	if len(hashes) > math.MaxInt32 {
		return nil, fmt.Errorf("hamming: %d hashes is more than the %d this package indexes", len(hashes), math.MaxInt32)
	}
	k, nested := choose(len(hashes), maxDist)
	if nested {
		return pairsNested(ctx, hashes, maxDist, k, workers)
	}
	return pairs(ctx, hashes, maxDist, k, workers)
}

// choose picks how many blocks a pair must share, and whether to run the
// nested search (see nested.go), by estimating each choice's cost. The flat
// search makes C(m, k) passes, each building and radix-sorting n keys; the
// nested one buckets n hashes once per tuple of up to k blocks, mostly in
// cache. Both then compare the candidates, n²/2 over the number of
// distinct keys per k-subset. More shared blocks mean longer keys and
// fewer candidates but many more passes. The weights were fitted to
// timings of a million random hashes (about 12 ns per key, 10 ns per key
// and radix pass, 8 ns per hash bucketed, 1.6 ns per candidate).
func choose(n, d int) (k int, nested bool) {
	bestCost := math.Inf(1)
	for kk := 1; kk <= 4; kk++ {
		m := d + kk
		keyBits := float64(64*kk) / float64(m)
		candidates := binomial(m, kk) * float64(n) * float64(n) / 2 / math.Pow(2, keyBits)
		perKey := 12 + 10*math.Ceil(keyBits/radixBits)
		cost := binomial(m, kk)*float64(n)*perKey + 1.6*candidates
		if cost < bestCost {
			k, nested, bestCost = kk, false, cost
		}
		if !nestedFits(d, kk) {
			continue
		}
		tuples := 0.0
		for j := 1; j <= kk; j++ {
			tuples += binomial(m, j)
		}
		cost = 8*tuples*float64(n) + 1.6*candidates
		if cost < bestCost {
			k, nested, bestCost = kk, true, cost
		}
	}
	return k, nested
}

func binomial(n, k int) float64 {
	r := 1.0
	for i := range k {
		r = r * float64(n-i) / float64(i+1)
	}
	return r
}

// block is a contiguous range of bits of a hash.
type block struct {
	shift, width uint
}

func (b block) of(h uint64) uint64 { return h >> b.shift & (1<<b.width - 1) }

func blocks(m int) []block {
	bs := make([]block, m)
	shift := uint(0)
	for i := range m {
		w := uint(64 / m)
		if i < 64%m {
			w++
		}
		bs[i] = block{shift, w}
		shift += w
	}
	return bs
}

func pairs(ctx context.Context, hashes []uint64, d, k, workers int) ([]Pair, error) {
	bs := blocks(d + k)
	return run(ctx, subsets(d+k, k), workers, func() func(sub []int, found []Pair) []Pair {
		var s sorter
		return func(sub []int, found []Pair) []Pair { return pass(hashes, d, bs, sub, &s, found) }
	})
}

// run hands the subsets to workers goroutines (0 = GOMAXPROCS), each with
// its own buffers from newWorker, checks ctx between passes, and sorts
// what they found by A then B.
func run(ctx context.Context, subsets [][]int, workers int, newWorker func() func(sub []int, found []Pair) []Pair) ([]Pair, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	jobs := make(chan []int)
	var mu sync.Mutex
	var out []Pair
	var wg sync.WaitGroup
	for range min(workers, len(subsets)) {
		wg.Go(func() {
			work := newWorker()
			var found []Pair
			for sub := range jobs {
				found = work(sub, found)
			}
			mu.Lock()
			out = append(out, found...)
			mu.Unlock()
		})
	}
	var err error
	for _, sub := range subsets {
		if err = ctx.Err(); err != nil {
			break
		}
		jobs <- sub
	}
	close(jobs)
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("hamming: %w", err)
	}
	sortPairs(out)
	return out, nil
}

func sortPairs(ps []Pair) {
	slices.SortFunc(ps, func(a, b Pair) int {
		if a.A != b.A {
			return int(a.A - b.A)
		}
		return int(a.B - b.B)
	})
}

// pass finds the pairs whose first k agreeing blocks are sub, appending
// them to found.
func pass(hashes []uint64, d int, bs []block, sub []int, s *sorter, found []Pair) []Pair {
	keyBits := uint(0)
	for _, b := range sub {
		keyBits += bs[b].width
	}
	s.reset(len(hashes))
	for i, h := range hashes {
		var key uint64
		for _, b := range sub {
			key = key<<bs[b].width | bs[b].of(h)
		}
		s.items[i] = item{key, h, int32(i)}
	}
	items := s.sort(keyBits)
	for lo := 0; lo < len(items); {
		hi := lo + 1
		for hi < len(items) && items[hi].key == items[lo].key {
			hi++
		}
		for x := lo; x < hi; x++ {
			hx := items[x].hash
			for y := x + 1; y < hi; y++ {
				diff := hx ^ items[y].hash
				dist := bits.OnesCount64(diff)
				if dist > d || !firstAgreement(diff, bs, sub) {
					continue
				}
				a, b := items[x].idx, items[y].idx
				if a > b {
					a, b = b, a
				}
				found = append(found, Pair{a, b, uint8(dist)})
			}
		}
		lo = hi
	}
	return found
}

// firstAgreement reports whether sub is the first k blocks (in block order)
// on which two hashes with the given XOR agree, so that of all the passes
// that see the pair, exactly one reports it.
func firstAgreement(diff uint64, bs []block, sub []int) bool {
	j := 0
	for i, b := range bs {
		if b.of(diff) != 0 {
			continue
		}
		if i != sub[j] {
			return false
		}
		if j++; j == len(sub) {
			return true
		}
	}
	return false
}

// item carries its hash so that comparing a run reads memory in order
// rather than jumping around the hashes slice.
type item struct {
	key, hash uint64
	idx       int32
}

// radixBits is the digit width of the least-significant-digit radix sort:
// a 64k-entry count table fits in L2 and a 16-bit key takes one pass.
const radixBits = 16

// sorter keeps its buffers between passes.
type sorter struct {
	items, tmp []item
	count      []int
}

func (s *sorter) reset(n int) {
	if cap(s.items) < n {
		s.items = make([]item, n)
		s.tmp = make([]item, n)
	}
	s.items, s.tmp = s.items[:n], s.tmp[:n]
	if s.count == nil {
		s.count = make([]int, 1<<radixBits)
	}
}

// sort orders s.items by key (the low keyBits bits) and returns them; the
// sort is stable, so equal keys keep index order.
func (s *sorter) sort(keyBits uint) []item {
	src, dst := s.items, s.tmp
	for shift := uint(0); shift < keyBits; shift += radixBits {
		clear(s.count)
		for _, it := range src {
			s.count[it.key>>shift&(1<<radixBits-1)]++
		}
		sum := 0
		for i, c := range s.count {
			s.count[i] = sum
			sum += c
		}
		for _, it := range src {
			digit := it.key >> shift & (1<<radixBits - 1)
			dst[s.count[digit]] = it
			s.count[digit]++
		}
		src, dst = dst, src
	}
	s.items, s.tmp = src, dst
	return src
}

// subsets lists the k-subsets of m blocks, in lexicographic order.
func subsets(m, k int) [][]int {
	var out [][]int
	var gen func(start int, cur []int)
	gen = func(start int, cur []int) {
		if len(cur) == k {
			out = append(out, slices.Clone(cur))
			return
		}
		for i := start; i < m; i++ {
			gen(i+1, append(cur, i))
		}
	}
	gen(0, nil)
	return out
}
