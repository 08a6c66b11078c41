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
	count   [][]int32 // one count table per depth
}

// maxNestedBits bounds a block's count table (64k entries).
const maxNestedBits = 16

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
	count := s.table(0, b.width)
	for _, h := range hashes {
		count[b.of(h)+1]++
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	for i, h := range hashes {
		v := b.of(h)
		items[count[v]] = nitem{h, int32(i)}
		count[v]++
	}
	chosen := []int{a}
	start := 0
	for v := range 1 << b.width {
		end := int(count[v])
		found = s.descend(items[start:end], d, k, bs, chosen, found)
		start = end
	}
	return found
}

// table returns the zeroed count table of a depth, for a block of width
// bits: entry v+1 counts value v, so that prefix sums give bucket starts.
func (s *nsorter) table(depth int, width uint) []int32 {
	for len(s.count) <= depth {
		s.count = append(s.count, nil)
	}
	n := 1<<width + 1
	if cap(s.count[depth]) < n {
		s.count[depth] = make([]int32, n)
	}
	t := s.count[depth][:n]
	clear(t)
	return t
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
		count := s.table(depth+1, b.width)
		for _, it := range run {
			count[b.of(it.hash)+1]++
		}
		for i := 1; i < len(count); i++ {
			count[i] += count[i-1]
		}
		for _, it := range run {
			v := b.of(it.hash)
			sorted[count[v]] = it
			count[v]++
		}
		// count[v] now ends bucket v; the deeper levels use their own
		// tables, so walk the buckets by their values.
		next[len(next)-1] = c
		for start := 0; start < len(sorted); {
			end := int(count[b.of(sorted[start].hash)])
			// Most buckets at the last level hold one or two hashes: skip
			// the call for singletons and go straight to the comparison.
			switch {
			case end-start < 2:
			case left == 1:
				found = allPairs(sorted[start:end], d, k, bs, next, found)
			default:
				found = s.descend(sorted[start:end], d, k, bs, next, found)
			}
			start = end
		}
	}
	return found
}

// allPairs compares every pair of a run and keeps those within d bits
// whose first agreeing blocks are chosen and which agree on k blocks in
// all: each pair comes out of exactly one run.
func allPairs(run []nitem, d, k int, bs []block, chosen []int, found []Pair) []Pair {
	for x := range run {
		hx := run[x].hash
		for y := x + 1; y < len(run); y++ {
			diff := hx ^ run[y].hash
			dist := bits.OnesCount64(diff)
			if dist > d || !agreesFirstOn(diff, bs, chosen, k) {
				continue
			}
			a, b := run[x].idx, run[y].idx
			if a > b {
				a, b = b, a
			}
			found = append(found, Pair{a, b, uint8(dist)})
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
