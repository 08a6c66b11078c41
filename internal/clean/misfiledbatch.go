package clean

import "slices"

// Misfiled batches. A search error or a homonym brings a whole batch of
// another class into a folder (20 security boats among the destroyers),
// not one photo. Fitted on every image, the heads then learn the batch as
// part of the folder: each member is judged by heads fitted on the other
// four fifths of the batch, which vouch for it, and with 20 security boats
// among 115 destroyers they flagged 6 of the 20 (cruise ships among
// security boats: 1 of 20). So before the heads are fitted, dense groups
// of suspects are found and left out of their training: a batch cannot
// vouch for itself. Single suspects stay in: between two look-alike
// classes (fishing boats and tugs) most of them are in-between photos of
// their own class, and without them the heads grow sure of themselves
// there and flag them.
//
// A batch is a connected group of at least minBatch suspects (undecided,
// not off-topic, the centres' margin over th), linked where each is among
// the other's batchNeighbours nearest images in their own folder: a
// misfiled batch is its own neighbourhood in a folder of something else.
// In-between photos of look-alike classes form such groups too (up to 19
// fishing boats leaning towards tugs), so the group must also stand out as
// a whole: its median margin must clear batchTh, twice misfiled_z robust
// standard deviations above the project's median margin where one image
// needs misfiled_z (the group is taken out of the heads' sight on the
// word of the centres alone, so the centres must be surer of it than of
// one image the heads still judge). Measured on the
// planted benchmark's two turns with a batch of another boats class, the
// batches' median margins were 0.35 to 0.68 against a bar of 0.22; the
// in-between groups of the confusable boats set 0.19 to 0.22 against 0.27.
//
// Cost: each suspect is compared with every image of its folder,
// O(suspects·folder·d), a small share of the heads' fit.
const (
	batchNeighbours = 5
	minBatch        = 3
)

// misfiledBatches marks, per class, the views that belong to a misfiled
// batch; sizes gives each marked view its batch's size.
func misfiledBatches(views [][]view, margin [][]float64, th, batchTh float64, judged [][]*item) (in [][]bool, sizes [][]int) {
	in, sizes = make([][]bool, len(views)), make([][]int, len(views))
	for c, vs := range views {
		in[c], sizes[c] = make([]bool, len(vs)), make([]int, len(vs))
		var suspects []int
		for i, it := range judged[c] {
			_, off := it.flags[ReasonOffTopic]
			if margin[c][i] >= th && !off && it.decision == "" {
				suspects = append(suspects, i)
			}
		}
		if len(suspects) < minBatch {
			continue
		}
		k := min(batchNeighbours, len(vs)-1)
		near := make(map[int]map[int]bool, len(suspects))
		for _, i := range suspects {
			near[i] = nearestIn(vs, i, k)
		}
		parent := make(map[int]int, len(suspects))
		for _, i := range suspects {
			parent[i] = i
		}
		find := func(x int) int {
			for parent[x] != x {
				parent[x] = parent[parent[x]]
				x = parent[x]
			}
			return x
		}
		for _, i := range suspects {
			for j := range near[i] {
				if _, suspect := near[j]; suspect && near[j][i] {
					parent[find(i)] = find(j)
				}
			}
		}
		groups := map[int][]int{}
		for _, i := range suspects {
			groups[find(i)] = append(groups[find(i)], i)
		}
		for _, g := range groups {
			if len(g) < minBatch {
				continue
			}
			ms := make([]float64, len(g))
			for k, i := range g {
				ms[k] = margin[c][i]
			}
			if median(ms) < batchTh {
				continue
			}
			for _, i := range g {
				in[c][i], sizes[c][i] = true, len(g)
			}
		}
	}
	return in, sizes
}

// nearestIn is the set of the k views of vs most like vs[i], itself
// excepted.
func nearestIn(vs []view, i, k int) map[int]bool {
	type cand struct {
		j int
		s float64
	}
	best := make([]cand, 0, k+1)
	for j, v := range vs {
		if j == i {
			continue
		}
		s := dot(vs[i].emb, v.emb)
		if len(best) == k && s <= best[k-1].s {
			continue
		}
		at, _ := slices.BinarySearchFunc(best, s, func(b cand, s float64) int {
			switch {
			case b.s > s:
				return -1
			case b.s < s:
				return 1
			}
			return 0
		})
		best = slices.Insert(best, at, cand{j, s})
		if len(best) > k {
			best = best[:k]
		}
	}
	out := make(map[int]bool, len(best))
	for _, b := range best {
		out[b.j] = true
	}
	return out
}
