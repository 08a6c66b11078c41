package hamming

import (
	"math/bits"
	"slices"
)

// The nested search splits each pass of the flat one in two. A pair whose
// first k agreeing blocks are (s₁..s_{k-1}, c) is found by sorting all the
// hashes once by the outer blocks s₁..s_{k-1} and then, inside each run of
// equal outer keys (a few hundred hashes at ten million), bucketing by each
// later block c in turn. The big sorts, which stream the whole array
// through memory, drop from C(m, k) to C(m-1, k-1); the per-c work happens
// on runs that sit in cache. At ten million hashes and distance 6 this
// turns 84 full sorts (k = 3) into 28 and keeps the 24-bit effective key
// that holds the candidates to about one per hash.

// nitem is the nested search's sort item: 16 bytes instead of 24, since the
// outer key never exceeds 32 bits (see nestedFits).
type nitem struct {
	hash uint64
	idx  int32
	key  uint32
}

// nsorter keeps the nested search's buffers between passes.
type nsorter struct {
	items, tmp []nitem
	count      []int
	inner      []int32 // positions in a run, bucketed by the inner block
	icount     []int32
}

// nestedFits reports whether the nested search can run with k shared
// blocks out of m = d+k: the outer key must fit nitem's 32 bits and the
// inner block must be short enough to bucket with a small count table.
func nestedFits(d, k int) bool {
	if k < 2 {
		return false
	}
	bs := blocks(d + k)
	outer := uint(0)
	for i := range k - 1 {
		outer += bs[i].width // the widest blocks come first
	}
	return outer <= 32 && bs[0].width <= maxInnerBits
}

// maxInnerBits bounds the inner block's count table (4k entries) so that
// clearing it per run costs little next to the run itself.
const maxInnerBits = 12

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

// outerSubsets lists the (k-1)-subsets of m blocks that leave at least one
// block after their last.
func outerSubsets(m, k int) [][]int {
	return slices.DeleteFunc(subsets(m, k-1), func(s []int) bool { return s[len(s)-1] == m-1 })
}

// nestedPass finds every pair whose first k-1 agreeing blocks are outer and
// that agrees on at least one more block, appending them to found.
func nestedPass(hashes []uint64, d int, bs []block, outer []int, s *nsorter, found []Pair) []Pair {
	keyBits := uint(0)
	for _, b := range outer {
		keyBits += bs[b].width
	}
	items := s.sort(hashes, bs, outer, keyBits)
	sub := append(slices.Clone(outer), 0)
	last := outer[len(outer)-1]
	for lo := 0; lo < len(items); {
		hi := lo + 1
		for hi < len(items) && items[hi].key == items[lo].key {
			hi++
		}
		run := items[lo:hi]
		lo = hi
		if len(run) < 2 {
			continue
		}
		laterBlocks := len(bs) - 1 - last
		// Comparing all pairs of a short run beats bucketing it once per
		// later block; the break-even is about a dozen items per block.
		if len(run) <= 12*laterBlocks {
			found = runAllPairs(run, d, bs, outer, found)
			continue
		}
		for c := last + 1; c < len(bs); c++ {
			sub[len(sub)-1] = c
			found = s.bucketRun(run, d, bs, sub, found)
		}
	}
	return found
}

// runAllPairs compares every pair of a run, keeping those whose first k-1
// agreeing blocks are outer and which agree on one more block after them.
func runAllPairs(run []nitem, d int, bs []block, outer []int, found []Pair) []Pair {
	for x := range run {
		hx := run[x].hash
		for y := x + 1; y < len(run); y++ {
			diff := hx ^ run[y].hash
			dist := bits.OnesCount64(diff)
			if dist > d || !firstAgreementThenMore(diff, bs, outer) {
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

// firstAgreementThenMore reports whether outer is the first len(outer)
// agreeing blocks of diff and another agreeing block follows: exactly the
// pairs that some sub = outer+c reports with firstAgreement.
func firstAgreementThenMore(diff uint64, bs []block, outer []int) bool {
	j := 0
	for i, b := range bs {
		if b.of(diff) != 0 {
			continue
		}
		if j == len(outer) {
			return true
		}
		if i != outer[j] {
			return false
		}
		j++
	}
	return false
}

// bucketRun groups a run by block sub[k-1] with a counting sort and
// compares within each group.
func (s *nsorter) bucketRun(run []nitem, d int, bs []block, sub []int, found []Pair) []Pair {
	b := bs[sub[len(sub)-1]]
	n := 1 << b.width
	if cap(s.icount) < n+1 {
		s.icount = make([]int32, n+1)
	}
	count := s.icount[:n+1]
	clear(count)
	for _, it := range run {
		count[b.of(it.hash)+1]++
	}
	for i := 1; i <= n; i++ {
		count[i] += count[i-1]
	}
	if cap(s.inner) < len(run) {
		s.inner = make([]int32, len(run))
	}
	pos := s.inner[:len(run)]
	for i, it := range run {
		v := b.of(it.hash)
		pos[count[v]] = int32(i)
		count[v]++
	}
	// count[v] now ends bucket v; walk the buckets in order.
	for start := 0; start < len(pos); {
		v := b.of(run[pos[start]].hash)
		end := int(count[v])
		for x := start; x < end; x++ {
			ix := run[pos[x]]
			for y := x + 1; y < end; y++ {
				iy := run[pos[y]]
				diff := ix.hash ^ iy.hash
				dist := bits.OnesCount64(diff)
				if dist > d || !firstAgreement(diff, bs, sub) {
					continue
				}
				a, bb := ix.idx, iy.idx
				if a > bb {
					a, bb = bb, a
				}
				found = append(found, Pair{a, bb, uint8(dist)})
			}
		}
		start = end
	}
	return found
}

// sort fills the items with the hashes keyed by the outer blocks and
// radix-sorts them.
func (s *nsorter) sort(hashes []uint64, bs []block, outer []int, keyBits uint) []nitem {
	n := len(hashes)
	if cap(s.items) < n {
		s.items = make([]nitem, n)
		s.tmp = make([]nitem, n)
	}
	s.items, s.tmp = s.items[:n], s.tmp[:n]
	if s.count == nil {
		s.count = make([]int, 1<<radixBits)
	}
	for i, h := range hashes {
		var key uint64
		for _, b := range outer {
			key = key<<bs[b].width | bs[b].of(h)
		}
		s.items[i] = nitem{h, int32(i), uint32(key)}
	}
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
