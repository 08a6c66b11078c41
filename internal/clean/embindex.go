package clean

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
)

// PairSearch says how EmbeddingPairs looks for alike embeddings.
type PairSearch int

const (
	SearchAuto  PairSearch = iota // the index, except for so few embeddings that comparing every pair is as cheap
	SearchExact                   // compare every pair
	SearchIndex                   // the index (see indexPairs); `scour bench clean --images` measures its recall against SearchExact
)

// exactBelow: under this many embeddings every pair is compared. The index
// costs a projection, a k-means and its bookkeeping before the first
// comparison, which pays for itself somewhere in the low thousands (2,000
// embeddings are 2 million pairs, a fraction of a second).
const exactBelow = 2000

// EmbeddingPairs returns the index pairs (i < j) of embs whose dot product
// (cosine: clean's embeddings are L2-normalised) is at least minCos, sorted.
// Embeddings are only paired with others of the same length; nil ones with
// none. The index returns only true pairs, and all of them below
// cosine cappedFrom; above it nearly all (see probeCells): a pair it
// misses is almost always one of a large group of copies whose other
// pairs still join them into one duplicate group.
func EmbeddingPairs(ctx context.Context, embs [][]float32, minCos float64, how PairSearch) ([][2]int32, error) {
	if len(embs) > math.MaxInt32 {
		return nil, fmt.Errorf("clean: %d embeddings are more than the near-duplicate search indexes", len(embs))
	}
	byLen := map[int][]int32{}
	for i, e := range embs {
		if len(e) > 0 {
			byLen[len(e)] = append(byLen[len(e)], int32(i))
		}
	}
	var out [][2]int32
	for _, idx := range byLen {
		vs := make([][]float32, len(idx))
		for k, i := range idx {
			vs[k] = embs[i]
		}
		var ps [][2]int32
		var err error
		switch {
		case how == SearchExact || how == SearchAuto && len(vs) < exactBelow:
			ps, err = exactPairs(ctx, vs, minCos)
		case how == SearchIndex || how == SearchAuto:
			ps, err = indexPairs(ctx, vs, minCos, nil)
		default:
			return nil, fmt.Errorf("clean: unknown pair search %d", how)
		}
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			out = append(out, [2]int32{idx[p[0]], idx[p[1]]})
		}
	}
	slices.SortFunc(out, func(a, b [2]int32) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	return out, nil
}

// exactPairs compares every pair of embs (all of one length), on all
// cores: n²/2 dot products, about 10 s for 10,000 of MobileNetV2's 1,280
// values on 2 cores.
func exactPairs(ctx context.Context, embs [][]float32, minCos float64) ([][2]int32, error) {
	var mu sync.Mutex
	var out [][2]int32
	parallelRows(len(embs), func(i int) {
		if ctx.Err() != nil {
			return
		}
		var found [][2]int32
		for j := i + 1; j < len(embs); j++ {
			if dot(embs[i], embs[j]) >= minCos {
				found = append(found, [2]int32{int32(i), int32(j)})
			}
		}
		if found != nil {
			mu.Lock()
			out = append(out, found...)
			mu.Unlock()
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("clean: %w", err)
	}
	return out, nil
}

// The index: pairs at cosine >= t are pairs at Euclidean distance <= r,
// with r² = 2·(largest squared norm) - 2t (exactly 2 - 2t for unit
// vectors; float16 storage leaves norms a hair off 1). Projecting onto
// orthonormal directions never lengthens a distance, so two embeddings
// whose projections lie more than r apart cannot be a pair. The index
// projects every embedding onto the projDims directions along which the
// project's embeddings vary most (principal components, estimated from a
// sample), cuts that small space into cells with k-means, and compares an
// embedding only with the members of the cells it could reach: a partner
// in cell C lies on C's side of the hyperplane bisecting C's centre and
// the embedding's own, so a cell whose bisector is more than r away is
// skipped, and within a cell only members whose distance to its centre is
// within r of the embedding's own are looked at. Candidates are checked on
// the projection first (32 multiply-adds instead of 1,280), then on the
// full embedding, with the same dot product as exactPairs. Within the
// cells looked into nothing is approximate (the bounds carry a margin for
// rounding); from cosine cappedFrom up an embedding looks into at most
// probeCells cells, its nearest, which is what keeps the cost below n²
// (see probeCells). `scour bench clean --images` measures the recall
// against comparing every pair.
const (
	projDims    = 32
	projSample  = 2000 // embeddings the directions are estimated from
	projIters   = 3    // subspace iterations
	cellSize    = 8    // embeddings per k-means cell, on average
	kmeansIters = 4
	kmeansMax   = 20000 // embeddings k-means is fitted on (or 4 a cell, if more)
	// probeCells caps the cells an embedding looks into, nearest centre
	// first, from a threshold of cappedFrom up. That makes the index
	// approximate and its cost n^1.5: at most probeCells cells of about
	// √n/4 members each per embedding. Near-duplicates at cosine 0.97 lie
	// in the nearest few cells: on MobileNetV2 embeddings of 4,000
	// variants of the shared photos, 8 cells found 99.85% of the pairs and
	// 16 all of them, looking at 6.4% of the pairs (16% uncapped). At
	// cosine 0.9 the partners are spread wider (16 cells: 74%), so lower
	// thresholds search every cell the bounds allow, exactly.
	probeCells = 24
	cappedFrom = 0.95
	// boundSlack covers the rounding of float32 projections and float64
	// sums in the bounds: far above it, far below any gap that matters.
	boundSlack = 1e-4
)

// indexWork counts what the index did: embeddings compared on their
// projection, and on the full embedding.
type indexWork struct {
	projected, full int64
}

func indexPairs(ctx context.Context, embs [][]float32, minCos float64, work *indexWork) ([][2]int32, error) {
	n, d := len(embs), len(embs[0])
	if n < 2 {
		return nil, nil
	}
	var maxNorm float64
	for _, e := range embs {
		maxNorm = max(maxNorm, dot(e, e))
	}
	r2 := 2*maxNorm - 2*minCos
	if r2 < 0 {
		return nil, nil // no pair can reach minCos
	}
	r := math.Sqrt(r2) + boundSlack
	r2 = r * r

	rng := rand.New(rand.NewPCG(uint64(n), uint64(d))) // the same cells every run for the same input
	m := min(projDims, d)
	mean, dirs := principalDirections(embs, m, rng)
	// proj holds the n projections, m float32 each, in one block.
	proj := make([]float32, n*m)
	parallelRows(n, func(i int) {
		projectOnto(embs[i], mean, dirs, proj[i*m:(i+1)*m])
	})
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("clean: %w", err)
	}
	// Smaller cells prune more and cost more: every embedding measures its
	// distance to every centre, and the bisector bound keeps k² distances
	// between centres. Up to 4·√n cells keep both near n^1.5 (1,265 cells,
	// 13 MB, at 100,000 embeddings).
	k := max(1, min(n/cellSize, int(4*math.Sqrt(float64(n)))))
	all := make([]int32, n)
	for i := range all {
		all[i] = int32(i)
	}
	centres := kmeans(proj, m, all, k, rng)
	k = len(centres) / m
	// Distances between centres, for the bisector bound.
	between := make([]float64, k*k)
	parallelRows(k, func(a int) {
		for c := range k {
			between[a*k+c] = math.Sqrt(sqDist(centres[a*m:(a+1)*m], centres[c*m:(c+1)*m]))
		}
	})
	// Every embedding goes to its nearest centre. Each cell lists its
	// members sorted by their distance to its centre: a partner of y in
	// cell C lies within r of y, so its own distance to C's centre is
	// within r of y's (the triangle inequality), a window found by binary
	// search.
	cell := make([]int32, n)
	parallelRows(n, func(i int) {
		cell[i] = int32(nearestCentre(proj[i*m:(i+1)*m], centres, m))
	})
	members := make([][]member, k)
	for i, c := range cell {
		members[c] = append(members[c], member{int32(i), math.Sqrt(sqDist(proj[i*m:(i+1)*m], centres[int(c)*m:(int(c)+1)*m]))})
	}
	for _, ms := range members {
		slices.SortFunc(ms, func(a, b member) int { return cmp.Compare(a.dist, b.dist) })
	}

	capped := minCos >= cappedFrom
	var mu sync.Mutex
	var out [][2]int32
	const chunk = 64
	parallelRows((n+chunk-1)/chunk, func(ch int) {
		if ctx.Err() != nil {
			return
		}
		dist := make([]float64, k)
		order := make([]int, k)
		var found [][2]int32
		var projected, full int64
		for i := ch * chunk; i < min(n, (ch+1)*chunk); i++ {
			y := proj[i*m : (i+1)*m]
			own := int(cell[i])
			for c := range k {
				dist[c] = sqDist(y, centres[c*m:(c+1)*m])
				order[c] = c
			}
			probe := order
			if capped && probeCells < k {
				slices.SortFunc(order, func(a, b int) int { return cmp.Compare(dist[a], dist[b]) })
				probe = order[:probeCells]
			}
			for _, c := range probe {
				// y's distance to the bisector of its own centre and c's
				// is (|y-c|² - |y-own|²) / (2|c-own|); every member of c
				// is on c's side of it.
				if b := between[own*k+c]; c != own && b > 0 && (dist[c]-dist[own])/(2*b) > r {
					continue
				}
				ms := members[c]
				dc := math.Sqrt(dist[c])
				lo, _ := slices.BinarySearchFunc(ms, dc-r, func(a member, x float64) int { return cmp.Compare(a.dist, x) })
				for _, mj := range ms[lo:] {
					if mj.dist > dc+r {
						break
					}
					j := mj.index
					if int(j) <= i { // each pair once: from its lower index
						continue
					}
					projected++
					if sqDist(y, proj[int(j)*m:(int(j)+1)*m]) > r2 {
						continue
					}
					full++
					if dot(embs[i], embs[j]) >= minCos {
						found = append(found, [2]int32{int32(i), j})
					}
				}
			}
		}
		mu.Lock()
		out = append(out, found...)
		if work != nil {
			work.projected += projected
			work.full += full
		}
		mu.Unlock()
	})
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("clean: %w", err)
	}
	return out, nil
}

type member struct {
	index int32
	dist  float64 // to its cell's centre, in the projection
}

func nearestCentre(y, centres []float32, m int) int {
	best, bd := 0, math.Inf(1)
	for c := range len(centres) / m {
		if dd := sqDist(y, centres[c*m:(c+1)*m]); dd < bd {
			best, bd = c, dd
		}
	}
	return best
}

// principalDirections returns the mean of embs and m orthonormal
// directions (m rows of len(mean) values) spanning, nearly, the m along
// which a sample of them varies most: a few rounds of subspace iteration
// on the sample's centred values, from random directions.
func principalDirections(embs [][]float32, m int, rng *rand.Rand) (mean []float64, dirs [][]float64) {
	n, d := len(embs), len(embs[0])
	mean = make([]float64, d)
	for _, e := range embs {
		for j, x := range e {
			mean[j] += float64(x)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	sample := embs
	if n > projSample {
		sample = make([][]float32, projSample)
		for k, i := range rng.Perm(n)[:projSample] {
			sample[k] = embs[i]
		}
	}
	centred := make([][]float64, len(sample))
	for k, e := range sample {
		c := make([]float64, d)
		for j, x := range e {
			c[j] = float64(x) - mean[j]
		}
		centred[k] = c
	}
	dirs = make([][]float64, m)
	for q := range dirs {
		dirs[q] = make([]float64, d)
		for j := range dirs[q] {
			dirs[q][j] = rng.NormFloat64()
		}
	}
	orthonormalise(dirs, rng)
	coef := make([][]float64, len(centred))
	for range projIters {
		// dirs ← orth(Xᵀ X dirs), X the centred sample.
		parallelRows(len(centred), func(k int) {
			c := make([]float64, m)
			for q := range m {
				c[q] = dot64(centred[k], dirs[q])
			}
			coef[k] = c
		})
		next := make([][]float64, m)
		parallelRows(m, func(q int) {
			v := make([]float64, d)
			for k, x := range centred {
				w := coef[k][q]
				for j, xj := range x {
					v[j] += w * xj
				}
			}
			next[q] = v
		})
		dirs = next
		orthonormalise(dirs, rng)
	}
	return mean, dirs
}

// orthonormalise makes the rows of v orthonormal in place (modified
// Gram-Schmidt, twice over for accuracy); a row that vanishes, its
// direction already spanned, is replaced by a random one.
func orthonormalise(v [][]float64, rng *rand.Rand) {
	for q := range v {
		for attempt := 0; ; attempt++ {
			for range 2 {
				for p := range q {
					w := dot64(v[q], v[p])
					for j := range v[q] {
						v[q][j] -= w * v[p][j]
					}
				}
			}
			if nn := math.Sqrt(dot64(v[q], v[q])); nn > 1e-9 || attempt == 5 {
				for j := range v[q] {
					v[q][j] /= nn
				}
				break
			}
			for j := range v[q] {
				v[q][j] = rng.NormFloat64()
			}
		}
	}
}

func projectOnto(e []float32, mean []float64, dirs [][]float64, out []float32) {
	for q, dir := range dirs {
		var s float64
		for j, x := range e {
			s += (float64(x) - mean[j]) * dir[j]
		}
		out[q] = float32(s)
	}
}

// kmeans fits up to k centres to the points idx of proj (m values each;
// a sample of them when there are many), starting from k of them drawn at
// random, and returns them in one block of m values each. Its cells need
// not be good, only compact: any cells keep the search exact, and tighter
// ones check fewer candidates.
func kmeans(proj []float32, m int, idx []int32, k int, rng *rand.Rand) []float32 {
	pts := idx
	if len(pts) > max(kmeansMax, 4*k) {
		pts = make([]int32, max(kmeansMax, 4*k))
		for s, p := range rng.Perm(len(idx))[:len(pts)] {
			pts[s] = idx[p]
		}
	}
	k = min(k, len(pts))
	at := func(i int32) []float32 { return proj[int(i)*m : (int(i)+1)*m] }
	centres := make([]float32, 0, k*m)
	for _, s := range rng.Perm(len(pts))[:k] {
		centres = append(centres, at(pts[s])...)
	}
	assign := make([]int, len(pts))
	sums := make([]float64, k*m)
	counts := make([]int, k)
	for range kmeansIters {
		parallelRows(len(pts), func(s int) { assign[s] = nearestCentre(at(pts[s]), centres, m) })
		clear(sums)
		clear(counts)
		for s, c := range assign {
			counts[c]++
			for q, x := range at(pts[s]) {
				sums[c*m+q] += float64(x)
			}
		}
		for c := range k {
			if counts[c] == 0 {
				continue // an empty cell keeps its centre; it costs nothing
			}
			for q := range m {
				centres[c*m+q] = float32(sums[c*m+q] / float64(counts[c]))
			}
		}
	}
	return centres
}

func sqDist(a, b []float32) float64 {
	b = b[:len(a)]
	var s float64
	for i, x := range a {
		dd := float64(x) - float64(b[i])
		s += dd * dd
	}
	return s
}

func dot64(a, b []float64) float64 {
	b = b[:len(a)]
	var s float64
	for i, x := range a {
		s += x * b[i]
	}
	return s
}
