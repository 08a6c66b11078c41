package search

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// License families: what a license lets one do, whatever its version or
// jurisdiction port ("CC BY-SA 3.0 DE" and "cc-by-sa-4.0" are both cc-by-sa).
// Filters and the report speak in families, because a user choosing what may
// go into a dataset cares about attribution, share-alike and commercial use,
// not about version numbers.
const (
	LicenseCC0      = "cc0"
	LicensePD       = "pd"
	LicenseCCBY     = "cc-by"
	LicenseCCBYSA   = "cc-by-sa"
	LicenseCCBYND   = "cc-by-nd"
	LicenseCCBYNC   = "cc-by-nc"
	LicenseCCBYNCSA = "cc-by-nc-sa"
	LicenseCCBYNCND = "cc-by-nc-nd"
	LicenseGFDL     = "gfdl"
	// LicenseOther is a license that was given but is none of the above.
	LicenseOther = "other"
	// LicenseNone is a result that carries no license at all.
	LicenseNone = "none"
)

// LicenseFamilies lists the families a filter may name, in the order a
// person reads them: most permissive first.
func LicenseFamilies() []string {
	return []string{LicenseCC0, LicensePD, LicenseCCBY, LicenseCCBYSA, LicenseCCBYND,
		LicenseCCBYNC, LicenseCCBYNCSA, LicenseCCBYNCND, LicenseGFDL, LicenseOther}
}

// NeedsAttribution reports whether a family's terms ask that every use
// credit the author: every CC BY variant does.
func NeedsAttribution(family string) bool {
	return family == LicenseCCBY || strings.HasPrefix(family, LicenseCCBY+"-")
}

var (
	// A Creative Commons deed URL: /licenses/by-sa/4.0/, /publicdomain/zero/1.0/.
	ccURL = regexp.MustCompile(`creativecommons\.org/(licenses|publicdomain)/([a-z-]+)`)
	// Separators that differ between spellings: "CC BY-SA", "cc_by_sa", "CC-BY-SA".
	licenseSep = regexp.MustCompile(`[\s_/()\[\],;:]+`)
	// Version, jurisdiction and suffix words that do not change the terms.
	licenseNoise = regexp.MustCompile(`^(\d+(\.\d+)*|[a-z]{2}|int|international|generic|unported|migrated|license|licence|licensed|deed|legalcode|only|or|later|\+)$`)
)

// LicenseFamily names the family of a license as sources write it ("CC
// BY-SA 4.0", "cc-by-sa-4.0", "Public domain", "CC0 1.0", a Creative
// Commons URL). It returns LicenseNone for "" and LicenseOther for a
// license it does not know.
func LicenseFamily(license string) string {
	s := strings.ToLower(strings.TrimSpace(license))
	if s == "" {
		return LicenseNone
	}
	// A dual license ("CC BY-SA 3.0 or GFDL") is named by its first known
	// alternative: either one may be chosen.
	if alts := strings.Split(s, " or "); len(alts) > 1 {
		for _, a := range alts {
			if f := licenseFamily(a); f != LicenseOther && f != LicenseNone {
				return f
			}
		}
		return LicenseOther
	}
	return licenseFamily(s)
}

func licenseFamily(s string) string {
	s = strings.TrimSpace(s)
	if m := ccURL.FindStringSubmatch(s); m != nil {
		switch {
		case m[1] == "publicdomain" && m[2] == "zero":
			return LicenseCC0
		case m[1] == "publicdomain":
			return LicensePD
		}
		if f, ok := ccFamily("by" + strings.TrimPrefix(m[2], "by")); ok {
			return f
		}
		return LicenseOther
	}
	switch {
	case strings.HasPrefix(s, "cc0"), strings.HasPrefix(s, "cc-zero"), strings.HasPrefix(s, "cc zero"):
		return LicenseCC0
	case strings.Contains(s, "public domain"), strings.HasPrefix(s, "public-domain"),
		s == "pd" || strings.HasPrefix(s, "pd-") || strings.HasPrefix(s, "pd "), strings.HasPrefix(s, "pdm"):
		return LicensePD
	case strings.HasPrefix(s, "gfdl"), strings.HasPrefix(s, "gnu free documentation"):
		return LicenseGFDL
	}
	// Creative Commons by its words: "Attribution-ShareAlike 4.0 International".
	if strings.HasPrefix(s, "attribution") || strings.HasPrefix(s, "creative commons attribution") {
		s = strings.TrimPrefix(s, "creative commons ")
		s = strings.NewReplacer("attribution", "by", "sharealike", "sa", "share-alike", "sa", "share alike", "sa",
			"noncommercial", "nc", "non-commercial", "nc", "noderivatives", "nd", "noderivs", "nd", "no-derivatives", "nd").Replace(s)
		s = "cc " + s
	}
	var words []string
	for _, w := range licenseSep.Split(strings.ReplaceAll(s, "-", " "), -1) {
		switch {
		case w == "":
		case w == "cc" || w == "by" || w == "sa" || w == "nc" || w == "nd":
			words = append(words, w)
		case !licenseNoise.MatchString(w):
			words = append(words, w)
		}
	}
	if len(words) < 2 || words[0] != "cc" {
		return LicenseOther
	}
	if f, ok := ccFamily(strings.Join(words[1:], "-")); ok {
		return f
	}
	return LicenseOther
}

// ccFamily maps the terms part of a CC license ("by-nc-sa") to its family.
func ccFamily(terms string) (string, bool) {
	f := "cc-" + terms
	switch f {
	case LicenseCCBY, LicenseCCBYSA, LicenseCCBYND, LicenseCCBYNC, LicenseCCBYNCSA, LicenseCCBYNCND:
		return f, true
	case "cc-by-sa-nc":
		return LicenseCCBYNCSA, true
	case "cc-by-nd-nc":
		return LicenseCCBYNCND, true
	}
	return "", false
}

// ParseLicenseFilter reads the families a source's `licenses:` list names.
// Each entry may be a family or any spelling LicenseFamily understands
// ("CC BY-SA 4.0"); an entry that is neither is an error that lists the
// families.
func ParseLicenseFilter(names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		f := strings.ToLower(strings.TrimSpace(n))
		if !slices.Contains(LicenseFamilies(), f) {
			f = LicenseFamily(n)
		}
		if f == LicenseNone || (f == LicenseOther && strings.ToLower(strings.TrimSpace(n)) != LicenseOther) {
			return nil, fmt.Errorf("license %q: want one of %s", n, strings.Join(LicenseFamilies(), ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// LicenseFilter wraps an engine so that its searches return only results
// whose license is in one of the allowed families. Results without a
// license are dropped too: an image of unknown terms is not one the user
// allowed. What it drops is counted, so the caller can say so.
type LicenseFilter struct {
	Engine
	allowed []string

	mu      sync.Mutex
	dropped map[string]int // by family, LicenseNone for results without one
}

// FilterLicenses returns e wrapped by a filter keeping the families in
// allowed (as ParseLicenseFilter returns them).
func FilterLicenses(e Engine, allowed []string) *LicenseFilter {
	return &LicenseFilter{Engine: e, allowed: allowed, dropped: map[string]int{}}
}

// Search starts a filtered search.
func (f *LicenseFilter) Search(ctx context.Context, q Query) (Pager, error) {
	p, err := f.Engine.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	return &licensePager{Pager: p, f: f}, nil
}

// Allowed lists the families the filter keeps.
func (f *LicenseFilter) Allowed() []string { return slices.Clone(f.allowed) }

// Dropped returns, and forgets, the results dropped since the last call,
// by license family (LicenseNone: no license given).
func (f *LicenseFilter) Dropped() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.dropped
	f.dropped = map[string]int{}
	return out
}

type licensePager struct {
	Pager
	f    *LicenseFilter
	seen map[string]bool
	done bool
}

// Page returns the allowed results of the page. A page whose results are
// all dropped is an empty page, not the end: later pages may hold allowed
// ones. But a page that only repeats what the engine gave before is the
// end: gather spots an engine repeating its last page by a page of nothing
// new, which an emptied page would hide from it forever.
func (p *licensePager) Page(ctx context.Context, page int) ([]Result, error) {
	if p.done {
		return nil, ErrNoMore
	}
	rs, err := p.Pager.Page(ctx, page)
	if err != nil {
		return nil, err
	}
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	fresh := 0
	for _, r := range rs {
		if !p.seen[r.MediaURL] {
			p.seen[r.MediaURL] = true
			fresh++
		}
	}
	if len(rs) > 0 && fresh == 0 {
		p.done = true
		return nil, ErrNoMore
	}
	out := make([]Result, 0, len(rs))
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	for _, r := range rs {
		fam := LicenseFamily(r.License)
		if slices.Contains(p.f.allowed, fam) {
			out = append(out, r)
			continue
		}
		p.f.dropped[fam]++
	}
	return out, nil
}
