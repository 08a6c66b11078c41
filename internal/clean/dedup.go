package clean

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/scour-dev/scour/internal/clean/hamming"
	"github.com/scour-dev/scour/internal/imaging"
)

// dupItem is what duplicate grouping knows of one decoded image.
type dupItem struct {
	sha, class, pixelHash, fetchedAt string
	phash                            uint64
	emb                              []float32
	pixels                           int64
	keep                             bool // a person said keep it: the copy kept if anything is
	flagged                          bool // another check flags it: a poor copy to keep
}

// How a copy is linked to the copy kept (the duplicate flag's method).
const (
	linkExact     = "exact"     // the same decoded pixels
	linkPHash     = "phash"     // perceptual hashes within the distance
	linkEmbedding = "embedding" // embeddings at least MinCosine alike
	linkBoth      = "phash+embedding"
	linkChain     = "chain" // alike only through other copies of the group
)

// dupGroup is a set of two or more images that are copies of one picture.
type dupGroup struct {
	kept    int   // index of the copy kept
	members []int // all of them, kept included, in index order
	classes []string
	link    map[int]string // how each other member is linked to kept
}

// findDuplicates groups items into copies of the same picture: the same
// decoded pixels, perceptual hashes within cfg.PHashDistance bits, or (when
// both have one) embeddings with cosine similarity of at least
// cfg.MinCosine, or both signals agreeing at the looser cfg.ConfirmDistance
// and cfg.ConfirmCosine (a crop moves the perceptual hash further than a
// re-encode does, while the picture's content stays). Alikeness is transitive: A~B and B~C put A, B and C in one
// group, which is what split needs to keep copies on one side. In each
// group the copy kept is, in order: one a person chose to keep, one no other
// check flags, the one with the most pixels, the earliest fetched, the
// lowest sha256.
func findDuplicates(ctx context.Context, items []dupItem, cfg DuplicateConfig) ([]dupGroup, error) {
	uf := newUnionFind(len(items))

	byPixels := map[string]int{}
	byPHash := map[uint64]int{}
	var distinct []uint64 // one entry per distinct perceptual hash
	var owner []int       // the first item with distinct[i]
	for i, it := range items {
		if j, ok := byPixels[it.pixelHash]; ok {
			uf.union(i, j)
		} else {
			byPixels[it.pixelHash] = i
		}
		if j, ok := byPHash[it.phash]; ok {
			uf.union(i, j)
			continue
		}
		byPHash[it.phash] = i
		distinct = append(distinct, it.phash)
		owner = append(owner, i)
	}
	radius := cfg.PHashDistance
	confirm := cfg.ConfirmCosine > 0 && cfg.ConfirmDistance > radius &&
		slices.ContainsFunc(items, func(it dupItem) bool { return it.emb != nil })
	if confirm {
		radius = cfg.ConfirmDistance
	}
	pairs, err := hamming.Pairs(ctx, distinct, radius, 0)
	if err != nil {
		return nil, fmt.Errorf("clean: near-duplicate search: %w", err)
	}
	for _, p := range pairs {
		a, b := owner[p.A], owner[p.B]
		if int(p.Dist) <= cfg.PHashDistance || cosine(items[a], items[b]) >= cfg.ConfirmCosine {
			uf.union(a, b)
		}
	}
	if cfg.MinCosine > 0 {
		embs := make([][]float32, len(items))
		for i, it := range items {
			embs[i] = it.emb
		}
		pairs, err := EmbeddingPairs(ctx, embs, cfg.MinCosine, SearchAuto)
		if err != nil {
			return nil, fmt.Errorf("clean: near-duplicate search: %w", err)
		}
		for _, p := range pairs {
			uf.union(int(p[0]), int(p[1]))
		}
	}

	members := map[int][]int{}
	for i := range items {
		r := uf.find(i)
		members[r] = append(members[r], i)
	}
	var groups []dupGroup
	for _, ms := range members {
		if len(ms) < 2 {
			continue
		}
		g := dupGroup{members: ms, kept: slices.MinFunc(ms, func(a, b int) int { return betterCopy(items[a], items[b]) }),
			link: map[int]string{}}
		k := items[g.kept]
		for _, m := range ms {
			if !slices.Contains(g.classes, items[m].class) {
				g.classes = append(g.classes, items[m].class)
			}
			if m == g.kept {
				continue
			}
			it := items[m]
			switch {
			case it.pixelHash == k.pixelHash:
				g.link[m] = linkExact
			case imaging.Hamming(it.phash, k.phash) <= cfg.PHashDistance:
				g.link[m] = linkPHash
			case cfg.MinCosine > 0 && cosine(it, k) >= cfg.MinCosine:
				g.link[m] = linkEmbedding
			case cfg.ConfirmCosine > 0 && imaging.Hamming(it.phash, k.phash) <= cfg.ConfirmDistance && cosine(it, k) >= cfg.ConfirmCosine:
				g.link[m] = linkBoth
			default:
				g.link[m] = linkChain
			}
		}
		slices.Sort(g.classes)
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b dupGroup) int { return a.members[0] - b.members[0] })
	return groups, nil
}

// cosine is the similarity of two items' embeddings, or -1 when either has
// none (or they come from different models).
func cosine(a, b dupItem) float64 {
	if a.emb == nil || len(a.emb) != len(b.emb) {
		return -1
	}
	return dot(a.emb, b.emb)
}

// betterCopy orders a before b (negative) when a is the better copy to keep.
func betterCopy(a, b dupItem) int {
	if a.keep != b.keep {
		if a.keep {
			return -1
		}
		return 1
	}
	if a.flagged != b.flagged {
		if b.flagged {
			return -1
		}
		return 1
	}
	return cmp.Or(
		cmp.Compare(b.pixels, a.pixels),
		cmp.Compare(a.fetchedAt, b.fetchedAt),
		cmp.Compare(a.sha, b.sha),
	)
}

type unionFind struct{ parent []int }

func newUnionFind(n int) *unionFind {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return &unionFind{p}
}

func (u *unionFind) find(i int) int {
	for u.parent[i] != i {
		u.parent[i] = u.parent[u.parent[i]]
		i = u.parent[i]
	}
	return i
}

func (u *unionFind) union(a, b int) {
	ra, rb := u.find(a), u.find(b)
	if ra != rb {
		u.parent[max(ra, rb)] = min(ra, rb)
	}
}
