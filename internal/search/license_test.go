package search

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestLicenseFamily(t *testing.T) {
	cases := map[string]string{
		"":                               LicenseNone,
		"  ":                             LicenseNone,
		"CC BY-SA 4.0":                   LicenseCCBYSA,
		"cc-by-sa-4.0":                   LicenseCCBYSA,
		"CC-BY-SA-3.0-migrated":          LicenseCCBYSA,
		"CC BY-SA 3.0 DE":                LicenseCCBYSA,
		"CC BY-SA 2.5 in":                LicenseCCBYSA,
		"cc_by_sa_4.0":                   LicenseCCBYSA,
		"CC BY 2.0":                      LicenseCCBY,
		"CC-BY-4.0":                      LicenseCCBY,
		"cc by":                          LicenseCCBY,
		"CC BY-NC 2.0":                   LicenseCCBYNC,
		"CC BY-NC-SA 4.0":                LicenseCCBYNCSA,
		"CC BY-SA-NC 2.0":                LicenseCCBYNCSA,
		"CC BY-ND 4.0":                   LicenseCCBYND,
		"CC BY-NC-ND 3.0":                LicenseCCBYNCND,
		"CC0":                            LicenseCC0,
		"CC0 1.0":                        LicenseCC0,
		"cc-zero":                        LicenseCC0,
		"Public domain":                  LicensePD,
		"public-domain":                  LicensePD,
		"PD-old":                         LicensePD,
		"pd":                             LicensePD,
		"Public Domain Mark 1.0":         LicensePD,
		"GFDL 1.2":                       LicenseGFDL,
		"GNU Free Documentation License": LicenseGFDL,
		"Attribution-ShareAlike 4.0 International":              LicenseCCBYSA,
		"Creative Commons Attribution-Share Alike 3.0 Unported": LicenseCCBYSA,
		"Creative Commons Attribution 4.0":                      LicenseCCBY,
		"https://creativecommons.org/licenses/by-sa/4.0/":       LicenseCCBYSA,
		"http://creativecommons.org/licenses/by-nc/2.0/deed.en": LicenseCCBYNC,
		"https://creativecommons.org/publicdomain/zero/1.0/":    LicenseCC0,
		"https://creativecommons.org/publicdomain/mark/1.0/":    LicensePD,
		"CC BY-SA 3.0 or GFDL":                                  LicenseCCBYSA,
		"GFDL or CC BY-SA 4.0":                                  LicenseGFDL,
		"All rights reserved":                                   LicenseOther,
		"Copyrighted free use":                                  LicenseOther,
		"MIT":                                                   LicenseOther,
		"CC":                                                    LicenseOther,
		"CC BY-EXTRA":                                           LicenseOther,
	}
	for in, want := range cases {
		if got := LicenseFamily(in); got != want {
			t.Errorf("LicenseFamily(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNeedsAttribution(t *testing.T) {
	for _, f := range LicenseFamilies() {
		want := strings.HasPrefix(f, "cc-by")
		if got := NeedsAttribution(f); got != want {
			t.Errorf("NeedsAttribution(%q) = %v, want %v", f, got, want)
		}
	}
}

func TestParseLicenseFilter(t *testing.T) {
	got, err := ParseLicenseFilter([]string{"cc0", "CC BY-SA 4.0", "cc-by-sa", "pd", "other"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{LicenseCC0, LicenseCCBYSA, LicensePD, LicenseOther}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"", "cc-by-foo", "all rights reserved", "none"} {
		if _, err := ParseLicenseFilter([]string{bad}); err == nil || !strings.Contains(err.Error(), "cc-by-sa") {
			t.Errorf("ParseLicenseFilter(%q) = %v, want an error listing the families", bad, err)
		}
	}
}

// pagesEngine serves fixed pages, then ErrNoMore (or repeats its last page
// forever, as some scraped engines do).
type pagesEngine struct {
	pages  [][]Result
	repeat bool
}

func (e pagesEngine) Name() string { return "pages" }

func (e pagesEngine) Search(context.Context, Query) (Pager, error) {
	return &pagesPager{e: e}, nil
}

type pagesPager struct{ e pagesEngine }

func (p *pagesPager) Page(_ context.Context, n int) ([]Result, error) {
	if n >= len(p.e.pages) {
		if p.e.repeat {
			return p.e.pages[len(p.e.pages)-1], nil
		}
		return nil, ErrNoMore
	}
	return p.e.pages[n], nil
}

func res(license string, i int) Result {
	return Result{MediaURL: fmt.Sprintf("https://example.org/%d.jpg", i), License: license}
}

func walkAll(t *testing.T, e Engine) ([]string, error) {
	t.Helper()
	p, err := e.Search(t.Context(), Query{Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for n := 0; n < 100; n++ {
		rs, err := p.Page(t.Context(), n)
		if errors.Is(err, ErrNoMore) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		for _, r := range rs {
			got = append(got, r.License)
		}
	}
	return got, errors.New("no end after 100 pages")
}

func TestLicenseFilter(t *testing.T) {
	allowed, err := ParseLicenseFilter([]string{"cc0", "cc-by", "cc-by-sa"})
	if err != nil {
		t.Fatal(err)
	}
	eng := pagesEngine{pages: [][]Result{
		{res("CC BY-SA 4.0", 1), res("", 2), res("CC BY-NC 2.0", 3), res("CC0", 4)},
		// A page of nothing allowed is not the end.
		{res("All rights reserved", 5), res("", 6)},
		{res("cc-by-4.0", 7), res("Public domain", 8)},
	}}
	f := FilterLicenses(eng, allowed)
	if f.Name() != "pages" {
		t.Errorf("the filter renames the engine: %q", f.Name())
	}
	got, err := walkAll(t, f)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"CC BY-SA 4.0", "CC0", "cc-by-4.0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("kept %q, want %q", got, want)
	}
	wantDropped := map[string]int{LicenseNone: 2, LicenseCCBYNC: 1, LicenseOther: 1, LicensePD: 1}
	if d := f.Dropped(); !reflect.DeepEqual(d, wantDropped) {
		t.Errorf("dropped %v, want %v", d, wantDropped)
	}
	if d := f.Dropped(); len(d) != 0 {
		t.Errorf("Dropped twice gives %v, want the counts once", d)
	}

	// An engine that repeats a page of nothing allowed must still end.
	eng.repeat = true
	eng.pages = eng.pages[:2]
	if _, err := walkAll(t, FilterLicenses(eng, allowed)); err != nil {
		t.Errorf("an engine repeating a page the filter empties: %v", err)
	}
}
