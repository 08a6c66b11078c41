// Package suggest finds the word a user probably meant, for "did you mean"
// hints in error messages about config keys, engine names and flags.
package suggest

import "strings"

// Closest returns the candidate within two edits of s (case-insensitive),
// or "" when none is that close or two are equally close.
func Closest(s string, candidates []string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	best, bestD, tie := "", 3, false
	for _, c := range candidates {
		d := Distance(s, strings.ToLower(c))
		switch {
		case d < bestD:
			best, bestD, tie = c, d, false
		case d == bestD:
			tie = true
		}
	}
	if tie {
		return ""
	}
	return best
}

// Distance is the Levenshtein distance with a transposition of neighbours
// counted as one edit ("bign" is one edit from "bing").
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
