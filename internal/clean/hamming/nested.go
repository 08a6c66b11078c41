package hamming

import (
	"math/bits"
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

// nsorter keeps one worker's buffers between first blocks.
type nsorter struct {
	top     []nitem
	scratch [][]nitem // one per depth below the top
	count   []*countTable
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

// firstBlock buckets all the hashes by block a and searches each bucket
// for the pairs whose first agreeing block is a.
func (s *nsorter) firstBlock(hashes []uint64, d, k int, bs []block, a int, found []Pair) []Pair {
	if cap(s.top) < len(hashes) {
		s.top = make([]nitem, len(hashes))
	}
	items := s.top[:len(hashes)]
	b := bs[a]
	sh, nb := b.shift&63, 1<<b.width
	mask := uint64(nb - 1)
	count := s.table(0, nb)
	for _, h := range hashes {
		count[int(uint16(h>>sh&mask))+1]++
	}
	for i := 1; i <= nb; i++ {
		count[i] += count[i-1]
	}
	for i, h := range hashes {
		v := uint16(h >> sh & mask)
		items[count[v]] = nitem{h, int32(i)}
		count[v]++
	}
	chosen := []int{a}
	start := 0
	for v := range nb {
		end := int(count[v])
		found = s.descend(items[start:end], d, k, bs, chosen, found)
		start = end
	}
	return found
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
	next := append(chosen[:len(chosen):len(chosen)], 0)
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

// pairTable lists the pairs (i, j), i < j < 16, by j and then i, so that
// its first r(r-1)/2 entries are the pairs among r items.
var pairTable = func() (t [120][2]uint8) {
	p := 0
	for j := 1; j < 16; j++ {
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
		if r > 16 {
			found = allPairs(run, d, k, bs, chosen, found)
			continue
		}
		run = run[:r:r]
		for _, ij := range pairTable[:r*(r-1)/2] {
			x, y := &run[ij[0]&15], &run[ij[1]&15]
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
