package hamming

import (
	"context"
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
)

// The nested search finds the same pairs as the flat one without its
// C(m, k) full sorts. A pair's first k agreeing blocks s₁ < … < s_k are
// reached by bucketing: all hashes by block s₁ (one pass over memory per
// first block), each of those runs by s₂ (runs of n/2^w hashes, in cache),
// and so on down to runs equal on all k blocks, where every pair is
// compared. Each level's work is a counting sort of runs that already sit
// in cache, so at ten million hashes and distance 6 (k = 3, blocks of 7
// and 8 bits) the 84 passes over 160 MB of the flat search become 7 over
// memory and the rest over runs of 40,000 and then 300 hashes.

// nitem is a hash and its index.
type nitem struct {
	hash uint64
	idx  int32
}

// nsorter keeps one worker's buffers between runs.
type nsorter struct {
	scratch [][]nitem // one per depth below the top
	count   []*countTable
	path    []int // the blocks chosen so far, one per depth
}

// maxNestedBits bounds a block's count table (64k entries).
const maxNestedBits = 16

// countTable is sized for the widest block, so that indexing it by a
// 16-bit value needs no bounds check in the bucketing loops.
type countTable [1<<maxNestedBits + 1]int32

// nestedFits reports whether the nested search can run with k shared
// blocks out of m = d+k: every block must be short enough to bucket by.
func nestedFits(d, k int) bool {
	return k >= 2 && blocks(d + k)[0].width <= maxNestedBits // the widest block comes first
}

// pairsNested buckets all the hashes by each possible first block a in
// turn, into one array shared by the workers, and then hands its buckets
// out to them one at a time. Splitting the work by bucket rather than by
// first block keeps both cores busy to the end (the first blocks' shares
// run from 28 of the 84 block triples down to 1) and needs one copy of the
// hashes instead of one per worker.
func pairsNested(ctx context.Context, hashes []uint64, d, k, workers int) ([]Pair, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	bs := blocks(d + k)
	n := len(hashes)
	top := make([]nitem, n)
	maxNB := 1 << bs[0].width // the widest block comes first
	starts := make([]int, maxNB+1)
	counts := make([][]int, workers)
	sorters := make([]nsorter, workers)
	found := make([][]Pair, workers)
	for w := range workers {
		counts[w] = make([]int, maxNB)
		sorters[w].path = make([]int, 1, k)
	}
	chunk := func(w int) (lo, hi int) { return n * w / workers, n * (w + 1) / workers }
	for a := 0; a <= len(bs)-k; a++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("hamming: %w", err)
		}
		sh, nb := bs[a].shift&63, 1<<bs[a].width
		mask := uint64(nb - 1)
		parallel(workers, func(w int) {
			lo, hi := chunk(w)
			c := counts[w][:nb]
			clear(c)
			for _, h := range hashes[lo:hi] {
				c[h>>sh&mask]++
			}
		})
		pos := 0
		for v := range nb {
			starts[v] = pos
			for w := range workers {
				c := counts[w][v]
				counts[w][v] = pos
				pos += c
			}
		}
		starts[nb] = n
		parallel(workers, func(w int) {
			lo, hi := chunk(w)
			c := counts[w][:nb]
			for i := lo; i < hi; i++ {
				h := hashes[i]
				v := h >> sh & mask
				top[c[v]] = nitem{h, int32(i)}
				c[v]++
			}
		})
		var next atomic.Int64
		parallel(workers, func(w int) {
			s := &sorters[w]
			s.path[0] = a
			for ctx.Err() == nil {
				v := int(next.Add(1)) - 1
				if v >= nb {
					return
				}
				found[w] = s.descend(top[starts[v]:starts[v+1]], d, k, bs, s.path[:1], found[w])
			}
		})
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("hamming: %w", err)
	}
	var out []Pair
	for _, f := range found {
		out = append(out, f...)
	}
	sortPairs(out)
	return out, nil
}

// parallel runs f(0) .. f(workers-1) at once and waits for them.
func parallel(workers int, f func(w int)) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { f(w) })
	}
	wg.Wait()
}

// table returns the count table of a depth with its first n+1 entries
// zeroed.
func (s *nsorter) table(depth, n int) *countTable {
	for len(s.count) <= depth {
		s.count = append(s.count, new(countTable))
	}
	t := s.count[depth]
	clear(t[:n+1])
	return t
}

// bucket sorts run into sorted by the block at shift sh that takes the
// values 0..nb-1, stably, and leaves count[v] at the end of bucket v. The
// loops are written for the compiler: a masked shift and a 16-bit index
// compile to a few instructions without range checks, and this is where
// the search spends half its time.
func bucket(run, sorted []nitem, count *countTable, sh uint, nb int) {
	mask := uint64(nb - 1)
	sh &= 63
	for i := range run {
		count[int(uint16(run[i].hash>>sh&mask))+1]++
	}
	for i := 1; i <= nb; i++ {
		count[i] += count[i-1]
	}
	for i := range run {
		v := uint16(run[i].hash >> sh & mask)
		sorted[count[v]] = run[i]
		count[v]++
	}
}

// descend searches a run of hashes equal on the blocks chosen for the pairs
// whose first len(chosen) agreeing blocks are chosen and which agree on k
// blocks in all.
func (s *nsorter) descend(run []nitem, d, k int, bs []block, chosen []int, found []Pair) []Pair {
	if len(run) < 2 {
		return found
	}
	left := k - len(chosen)
	last := chosen[len(chosen)-1]
	// The next block can be any that leaves room for the rest after it.
	options := len(bs) - last - left
	if left == 0 || len(run)*len(run)/2 <= options*(4*len(run)+1<<bs[last+1].width) {
		return allPairs(run, d, k, bs, chosen, found)
	}
	depth := len(chosen) - 1
	for len(s.scratch) <= depth {
		s.scratch = append(s.scratch, nil)
	}
	if cap(s.scratch[depth]) < len(run) {
		s.scratch[depth] = make([]nitem, len(run))
	}
	sorted := s.scratch[depth][:len(run)]
	next := append(chosen, 0) // chosen is a prefix of s.path, whose capacity is k
	for c := last + 1; c <= len(bs)-left; c++ {
		b := bs[c]
		nb := 1 << b.width
		count := s.table(depth+1, nb)
		bucket(run, sorted, count, b.shift, nb)
		// count[v] now ends bucket v; the deeper levels use their own
		// tables, so the buckets can be walked by value.
		next[len(next)-1] = c
		if left == 1 {
			found = lastLevel(sorted, count[:nb], d, k, bs, next, found)
			continue
		}
		start := int32(0)
		for _, end := range count[:nb] {
			if end-start >= 2 {
				found = s.descend(sorted[start:end], d, k, bs, next, found)
			}
			start = end
		}
	}
	return found
}

// pairRun is the longest bucket lastLevel compares through pairTable.
// Past it the table's indirect loads cost more than the mispredicted row
// ends of nested loops (a million hashes, k = 2, fill buckets with ~15).
const pairRun = 8

// pairTable lists the pairs (i, j), i < j < pairRun, by j and then i, so
// that its first r(r-1)/2 entries are the pairs among r items.
var pairTable = func() (t [pairRun * (pairRun - 1) / 2][2]uint8) {
	p := 0
	for j := 1; j < pairRun; j++ {
		for i := range j {
			t[p] = [2]uint8{uint8(i), uint8(j)}
			p++
		}
	}
	return t
}()

// lastLevel compares the pairs within each bucket of the sorted run; ends
// holds each bucket's end. Most buckets hold a few hashes, and nested
// loops over them would mispredict a branch at the end of every row: one
// loop over the pair table leaves one per bucket.
func lastLevel(sorted []nitem, ends []int32, d, k int, bs []block, chosen []int, found []Pair) []Pair {
	start := int32(0)
	for _, end := range ends {
		run := sorted[start:end]
		start = end
		r := len(run)
		if r > pairRun {
			found = allPairs(run, d, k, bs, chosen, found)
			continue
		}
		run = run[:r:r]
		for _, ij := range pairTable[:r*(r-1)/2] {
			x, y := &run[ij[0]&(pairRun-1)], &run[ij[1]&(pairRun-1)]
			if bits.OnesCount64(x.hash^y.hash) <= d {
				found = keep(*x, *y, d, k, bs, chosen, found)
			}
		}
	}
	return found
}

// keep appends the pair of x and y if their first agreeing blocks are
// chosen; the caller has checked their distance. It is kept out of line
// so that the comparison loops stay small.
//
//go:noinline
func keep(x, y nitem, d, k int, bs []block, chosen []int, found []Pair) []Pair {
	diff := x.hash ^ y.hash
	dist := bits.OnesCount64(diff)
	if dist > d || !agreesFirstOn(diff, bs, chosen, k) {
		return found
	}
	a, b := x.idx, y.idx
	if a > b {
		a, b = b, a
	}
	return append(found, Pair{a, b, uint8(dist)})
}

// allPairs compares every pair of a run and keeps those within d bits
// whose first agreeing blocks are chosen and which agree on k blocks in
// all: each pair comes out of exactly one run.
func allPairs(run []nitem, d, k int, bs []block, chosen []int, found []Pair) []Pair {
	for x := range run {
		hx := run[x].hash
		for y := x + 1; y < len(run); y++ {
			if bits.OnesCount64(hx^run[y].hash) <= d {
				found = keep(run[x], run[y], d, k, bs, chosen, found)
			}
		}
	}
	return found
}

// agreesFirstOn reports whether the first len(chosen) blocks on which two
// hashes with the given XOR agree are chosen, and they agree on at least k.
func agreesFirstOn(diff uint64, bs []block, chosen []int, k int) bool {
	j := 0
	for i, b := range bs {
		if b.of(diff) != 0 {
			continue
		}
		if j < len(chosen) && i != chosen[j] {
			return false
		}
		if j++; j == k {
			return true
		}
	}
	return false
}
