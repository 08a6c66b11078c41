// Package split divides kept images into train, validation and test sets:
// stratified per class, reproducible from a seed, and leakage-safe: images
// that clean found to be near-duplicates of each other form a group, and a
// group always lands on one side, so the test set never holds a re-encode of
// a training image.
package split

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
)

// The three sets.
const (
	Train = "train"
	Val   = "val"
	Test  = "test"
)

// Names lists the sets in order.
var Names = []string{Train, Val, Test}

// Item is one kept image.
type Item struct {
	SHA256 string
	Class  string
	// Group names the near-duplicate group the image belongs to; "" means
	// it is alone. Items of one group always get the same set.
	Group string
}

// Fractions are the shares of each set; they must add up to 1.
type Fractions struct {
	Train, Val, Test float64
}

// Validate checks the fractions.
func (f Fractions) Validate() error {
	if f.Train < 0 || f.Val < 0 || f.Test < 0 {
		return errors.New("split fractions must not be negative")
	}
	if math.Abs(f.Train+f.Val+f.Test-1) > 1e-6 {
		return fmt.Errorf("split fractions add up to %.3f, want 1 (train %.2f + val %.2f + test %.2f)", f.Train+f.Val+f.Test, f.Train, f.Val, f.Test)
	}
	if f.Train == 0 {
		return errors.New("the train fraction must be positive")
	}
	return nil
}

func (f Fractions) of(name string) float64 {
	switch name {
	case Train:
		return f.Train
	case Val:
		return f.Val
	}
	return f.Test
}

// Assign returns the set of every item, by SHA256. The result depends only
// on the items (not their order), the fractions and the seed.
//
// Each class is split on its own (stratification). Within a class, groups
// are ordered by a seeded hash and each goes to the set furthest below its
// share, largest groups first so they cannot unbalance the end. A group with
// members in several classes is split with the class that comes first by
// name, and all its members follow. When a class has at least as many groups
// as sets with a positive share, every such set gets at least one group.
func Assign(items []Item, f Fractions, seed int64) (map[string]string, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	type group struct {
		key   string
		class string
		shas  []string
		order uint64
	}
	groups := map[string]*group{}
	for _, it := range items {
		key := it.Group
		if key == "" {
			key = "sha:" + it.SHA256
		}
		g := groups[key]
		if g == nil {
			g = &group{key: key, class: it.Class, order: seededHash(seed, key)}
			groups[key] = g
		}
		if it.Class < g.class {
			g.class = it.Class
		}
		g.shas = append(g.shas, it.SHA256)
	}
	byClass := map[string][]*group{}
	for _, g := range groups {
		byClass[g.class] = append(byClass[g.class], g)
	}
	out := make(map[string]string, len(items))
	for _, gs := range byClass {
		sort.Slice(gs, func(i, j int) bool {
			if len(gs[i].shas) != len(gs[j].shas) {
				return len(gs[i].shas) > len(gs[j].shas)
			}
			if gs[i].order != gs[j].order {
				return gs[i].order < gs[j].order
			}
			return gs[i].key < gs[j].key
		})
		total := 0
		for _, g := range gs {
			total += len(g.shas)
		}
		var wanted []string
		for _, n := range Names {
			if f.of(n) > 0 {
				wanted = append(wanted, n)
			}
		}
		have := map[string]int{}
		// Seed each wanted set with one group (the smallest ones, from the
		// end) when there are enough groups, so no set is empty.
		start, end := 0, len(gs)
		if len(gs) >= len(wanted) {
			for i := len(wanted) - 1; i >= 1; i-- {
				end--
				g := gs[end]
				have[wanted[i]] += len(g.shas)
				for _, s := range g.shas {
					out[s] = wanted[i]
				}
			}
		}
		for _, g := range gs[start:end] {
			best, bestDef := Train, math.Inf(-1)
			for _, n := range wanted {
				def := f.of(n)*float64(total) - float64(have[n])
				if def > bestDef+1e-9 {
					best, bestDef = n, def
				}
			}
			have[best] += len(g.shas)
			for _, s := range g.shas {
				out[s] = best
			}
		}
	}
	return out, nil
}

func seededHash(seed int64, key string) uint64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(seed))
	h := sha256.New()
	h.Write(b[:])
	h.Write([]byte(key))
	return binary.LittleEndian.Uint64(h.Sum(nil))
}
