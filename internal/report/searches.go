package report

import "fmt"

// Search is what one search (an engine, a class, a query) brought: the
// candidate URLs it found, how many of them downloaded as images, the
// distinct images those are, and how many of those are still kept after
// clean. Worst marks the search the caller judged to bring the most
// garbage; the page highlights it.
type Search struct {
	Engine, Class, Query               string
	Found, Downloaded, Kept, CleanKept int
	Worst                              bool
}

type searchRow struct {
	Engine, Class, Query               string
	Found, Downloaded, Kept, CleanKept int
	Yield                              string // kept after clean per URL found
	Worst                              bool
}

type searchesView struct {
	Rows  []searchRow
	Worst string // a sentence naming the worst search, "" when none stands out
}

func buildSearches(ss []Search) *searchesView {
	if len(ss) == 0 {
		return nil
	}
	v := &searchesView{}
	for _, s := range ss {
		q := s.Query
		if q == "" {
			q = "(every entry)"
		}
		row := searchRow{Engine: s.Engine, Class: s.Class, Query: q, Found: s.Found, Downloaded: s.Downloaded,
			Kept: s.Kept, CleanKept: s.CleanKept, Yield: fmtRatio(ratio(s.CleanKept, s.Found)), Worst: s.Worst}
		v.Rows = append(v.Rows, row)
		if s.Worst {
			v.Worst = fmt.Sprintf("%s %q (class %s) brings the most garbage: %d of its %d URLs became images still kept after clean.",
				s.Engine, s.Query, s.Class, s.CleanKept, s.Found)
		}
	}
	return v
}
