package report

import (
	"strings"
	"testing"
)

// The per-search table lists every search with its counts and highlights
// the one the caller marked worst, naming it in words too.
func TestSearchesTable(t *testing.T) {
	p := writeAndParse(t, Report{Title: "t", Dataset: &Dataset{
		Classes: []Class{{Name: "zumwalt", Found: 90, Kept: 40}},
		Searches: []Search{
			{Engine: "bing", Class: "zumwalt", Query: "Zumwalt-class destroyer", Found: 50, Downloaded: 45, Kept: 40, CleanKept: 36},
			{Engine: "bing", Class: "zumwalt", Query: "DDG <1000>", Found: 40, Downloaded: 30, Kept: 28, CleanKept: 4, Worst: true},
			{Engine: "urls", Class: "zumwalt", Found: 3, Downloaded: 3, Kept: 3, CleanKept: 3},
		},
	}})
	var rows, worst []string
	for _, tr := range p.elements("tr") {
		var cells []string
		for c := tr.FirstChild; c != nil; c = c.NextSibling {
			if c.Data == "td" {
				cells = append(cells, text(c))
			}
		}
		line := strings.Join(cells, " ")
		if !strings.HasPrefix(line, "bing") && !strings.HasPrefix(line, "urls") {
			continue
		}
		rows = append(rows, line)
		if c, _ := attr(tr, "class"); c == "worst" {
			worst = append(worst, line)
		}
	}
	want := []string{
		"bing zumwalt Zumwalt-class destroyer 50 45 40 36 0.72",
		"bing zumwalt DDG <1000> 40 30 28 4 0.10",
		"urls zumwalt (every entry) 3 3 3 3 1.00",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	if len(worst) != 1 || !strings.Contains(worst[0], "DDG <1000>") {
		t.Errorf("highlighted rows %q, want the DDG query's", worst)
	}
	if !strings.Contains(string(p.raw), `bing &#34;DDG &lt;1000&gt;&#34; (class zumwalt) brings the most garbage: 4 of its 40 URLs`) {
		t.Error("the page does not name the worst search in words")
	}

	// Without searches there is no table.
	p = writeAndParse(t, Report{Title: "t", Dataset: &Dataset{Classes: []Class{{Name: "a"}}}})
	for _, h := range p.elements("h3") {
		if strings.Contains(text(h), "search") {
			t.Errorf("a page without searches has the heading %q", text(h))
		}
	}
}
