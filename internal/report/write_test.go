package report

import (
	"bytes"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// parsedPage is a written report read back: its tree and the files beside it.
type parsedPage struct {
	dir  string
	raw  []byte
	root *html.Node
}

func writeAndParse(t *testing.T, r Report) parsedPage {
	t.Helper()
	dir := t.TempDir()
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	root, err := html.Parse(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return parsedPage{dir: dir, raw: raw, root: root}
}

// elements returns every element named tag ("" = all), in document order.
func (p parsedPage) elements(tag string) []*html.Node {
	var out []*html.Node
	for n := range p.root.Descendants() {
		if n.Type == html.ElementNode && (tag == "" || n.Data == tag) {
			out = append(out, n)
		}
	}
	return out
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func (p parsedPage) ids() []string {
	var ids []string
	for _, n := range p.elements("") {
		if id, ok := attr(n, "id"); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

func TestWriteSample(t *testing.T) {
	r := sampleReport(t)
	p := writeAndParse(t, r)
	ids := p.ids()
	want := []string{"summary", "dataset", "class-counts", "cleaning", "failures", "provenance", "kept-images",
		"quarantined-images", "training", "ranking", "ranking-table", "fig-dataset-counts", "fig-cleaning-reasons",
		"fig-failure-causes", "fig-sweep-val-accuracy"}
	for i, run := range r.Sweep.Runs {
		stem := "run-0" + string(rune('1'+i)) + "-" + slug(run.Name)
		want = append(want, stem, "fig-"+stem+"-accuracy", "fig-"+stem+"-loss")
		if run.Test != nil {
			want = append(want, "fig-"+stem+"-confusion")
		}
	}
	for _, id := range want {
		if !slices.Contains(ids, id) {
			t.Errorf("page has no element with id %q", id)
		}
	}

	// every figure is inline SVG and both its files exist and decode
	figs := 0
	for _, f := range p.elements("figure") {
		id, ok := attr(f, "id")
		if !ok {
			continue // a thumbnail
		}
		figs++
		name := strings.TrimPrefix(id, "fig-")
		if f.FirstChild == nil || f.FirstChild.Data != "svg" {
			t.Errorf("figure %s does not start with an inline svg", id)
		}
		b, err := os.ReadFile(filepath.Join(p.dir, "charts", name+".png"))
		if err != nil {
			t.Error(err)
		} else if _, _, err := image.Decode(bytes.NewReader(b)); err != nil {
			t.Errorf("%s.png: %v", name, err)
		}
		if svg, err := os.ReadFile(filepath.Join(p.dir, "charts", name+".svg")); err != nil {
			t.Error(err)
		} else {
			parseSVG(t, svg)
		}
	}
	files, _ := filepath.Glob(filepath.Join(p.dir, "charts", "*"))
	if len(files) != 2*figs {
		t.Errorf("%d chart files for %d figures", len(files), figs)
	}

	// the ranking table lists the runs in Rank's order
	rows, err := Rank(r.Sweep.Runs, ByValAccuracy, Thresholds{})
	if err != nil {
		t.Fatal(err)
	}
	var table *html.Node
	for _, n := range p.elements("table") {
		if id, _ := attr(n, "id"); id == "ranking-table" {
			table = n
		}
	}
	var got []string
	for n := range table.Descendants() {
		if n.Type == html.ElementNode && n.Data == "a" {
			got = append(got, text(n))
		}
	}
	var wantOrder []string
	for _, row := range rows {
		wantOrder = append(wantOrder, row.Name)
	}
	if !slices.Equal(got, wantOrder) {
		t.Errorf("ranking table order %v, want %v", got, wantOrder)
	}

	// a thumbnail for every sample and mistake
	thumbs := len(r.Dataset.Kept) + len(r.Dataset.Quarantined)
	for _, run := range r.Sweep.Runs {
		thumbs += len(run.Worst)
	}
	if n := len(p.elements("img")); n != thumbs {
		t.Errorf("%d img elements, want %d", n, thumbs)
	}

	// every verdict and the thresholds are stated in words
	page := text(p.root)
	for _, run := range r.Sweep.Runs {
		if d := Diagnose(run, Thresholds{}); !strings.Contains(page, d.Text) {
			t.Errorf("page lacks the verdict %q", d.Text)
		}
	}
	if !strings.Contains(page, Thresholds{}.String()) {
		t.Error("page does not state the thresholds")
	}
}

// TestNoExternalReferences checks the page needs nothing but itself (and
// the chart files it links to for download).
func TestNoExternalReferences(t *testing.T) {
	p := writeAndParse(t, sampleReport(t))
	for _, n := range p.elements("") {
		switch n.Data {
		case "link", "iframe", "object", "embed", "base":
			t.Errorf("page has a <%s> element", n.Data)
		}
		for _, a := range n.Attr {
			if a.Key != "src" && a.Key != "href" && a.Key != "xlink:href" && !(a.Namespace == "xlink" && a.Key == "href") {
				continue
			}
			switch v := a.Val; {
			case strings.HasPrefix(v, "data:"), strings.HasPrefix(v, "#"):
			case strings.HasPrefix(v, "charts/") && !strings.Contains(v, ".."):
				if _, err := os.Stat(filepath.Join(p.dir, v)); err != nil {
					t.Errorf("link to a missing file: %v", err)
				}
			default:
				t.Errorf("<%s %s=%q> points outside the page", n.Data, a.Key, v)
			}
		}
	}
	for _, s := range append(p.elements("style"), p.elements("script")...) {
		body := text(s)
		if strings.Contains(body, "url(") || strings.Contains(body, "@import") || strings.Contains(body, "://") {
			t.Errorf("<%s> loads something: %.200q", s.Data, body)
		}
		if _, ok := attr(s, "src"); ok {
			t.Error("a script has a src")
		}
	}
}

func TestWriteIsDeterministic(t *testing.T) {
	r := sampleReport(t)
	a, b := t.TempDir(), t.TempDir()
	if err := Write(a, r); err != nil {
		t.Fatal(err)
	}
	if err := Write(b, r); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := filepath.WalkDir(a, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, path)
		x, _ := os.ReadFile(path)
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil {
			return err
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two writes of the same report", rel)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Errorf("only %d files written", n)
	}
}

// TestEscaping feeds markup through every user-supplied string: class
// names, run names and specs, captions, sources and the title come from the
// web or the command line.
func TestEscaping(t *testing.T) {
	const (
		script = `<script>alert("x")</script>`
		img    = `"><img src=x onerror=alert(1)>`
		style  = `</style><script>alert(2)</script>`
	)
	pic := Picture{Image: gradient(20, 20)}
	r := Report{
		Title:     script,
		Generated: img,
		Dataset: &Dataset{
			Classes: []Class{
				{Name: script, Found: 3, Downloaded: 2, Kept: 1, Failed: []Count{{img, 1}}, Quarantined: []Count{{style, 1}}},
				{Name: img, Found: 1, Kept: 1},
			},
			Sources:     []Count{{`<a href="http://evil.example/">x</a>`, 2}},
			Licenses:    []Count{{script, 2}},
			Kept:        []Sample{{Picture: pic, Class: script, Caption: img}},
			Quarantined: []Sample{{Picture: pic, Class: img, Reason: style, Caption: script}},
		},
		Sweep: Sweep{Name: style, Runs: []Run{
			{Name: script, Spec: style, Epochs: epochs([]float64{0.5, 0.9}, []float64{0.5, 0.7}),
				Test:  &Confusion{Classes: []string{script, img}, Counts: [][]int{{3, 1}, {0, 4}}},
				Worst: []Mistake{{Picture: pic, True: script, Predicted: img, Confidence: 0.9, Caption: style}}},
			{Name: img, Epochs: epochs([]float64{0.5, 0.6}, []float64{0.5, 0.6})},
		}},
	}
	p := writeAndParse(t, r)
	for _, bad := range []string{`<script>alert`, `<img src=x`, `</style><script>`, `<a href="http://evil`} {
		if bytes.Contains(p.raw, []byte(bad)) {
			t.Errorf("page contains unescaped %q", bad)
		}
	}
	scripts := p.elements("script")
	if len(scripts) != 1 || !strings.Contains(text(scripts[0]), "table.sortable th[data-col]") {
		t.Errorf("want only the page's own sorting script, got %d scripts", len(scripts))
	}
	for _, n := range p.elements("") {
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s> has an event handler %s=%q", n.Data, a.Key, a.Val)
			}
		}
	}
	for _, n := range p.elements("img") {
		if src, _ := attr(n, "src"); !strings.HasPrefix(src, "data:image/") {
			t.Errorf("img src %q", src)
		}
	}
	// the strings are shown, as text, not dropped
	page := text(p.root)
	for _, s := range []string{script, img, style} {
		if !strings.Contains(page, s) {
			t.Errorf("page text does not show %q", s)
		}
	}
	if h1 := p.elements("h1"); len(h1) != 1 || text(h1[0]) != script {
		t.Errorf("title not shown as text")
	}
}

// TestSections checks which sections each shape of input produces.
func TestSections(t *testing.T) {
	one := Run{Name: "only", Epochs: epochs([]float64{0.5, 0.9}, []float64{0.5, 0.85})}
	two := Run{Name: "other", Epochs: epochs([]float64{0.5, 0.7}, []float64{0.5, 0.65})}
	ds := &Dataset{Classes: []Class{{Name: "tug", Found: 10, Downloaded: 9, Kept: 8}}}
	tests := []struct {
		name    string
		r       Report
		present []string
		absent  []string
	}{
		{"dataset only", Report{Dataset: ds}, []string{"dataset", "class-counts", "fig-dataset-counts"},
			[]string{"training", "summary", "cleaning", "failures", "provenance", "kept-images", "quarantined-images"}},
		{"single run", Report{Sweep: Sweep{Runs: []Run{one}}}, []string{"training", "summary", "run-01-only"},
			[]string{"dataset", "ranking", "fig-sweep-val-accuracy"}},
		{"sweep", Report{Sweep: Sweep{Runs: []Run{one, two}}}, []string{"ranking", "fig-sweep-val-accuracy", "run-02-other"},
			[]string{"dataset"}},
		{"run without epochs", Report{Sweep: Sweep{Runs: []Run{{Name: "empty"}}}}, []string{"run-01-empty"},
			[]string{"fig-run-01-empty-accuracy"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeAndParse(t, tc.r)
			ids := p.ids()
			for _, id := range tc.present {
				if !slices.Contains(ids, id) {
					t.Errorf("no %q in %v", id, ids)
				}
			}
			for _, id := range tc.absent {
				if slices.Contains(ids, id) {
					t.Errorf("unexpected %q", id)
				}
			}
			if len(p.elements("script")) != 0 && !slices.Contains(ids, "ranking-table") {
				t.Error("a script without a table to sort")
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	run := func(m *Confusion) Report {
		return Report{Sweep: Sweep{Runs: []Run{{Name: "r", Test: m}}}}
	}
	tests := []struct {
		name string
		r    Report
		err  string
	}{
		{"rows", run(&Confusion{Classes: []string{"a", "b"}, Counts: [][]int{{1, 2}}}), "1 rows for 2 classes"},
		{"columns", run(&Confusion{Classes: []string{"a", "b"}, Counts: [][]int{{1, 2}, {3}}}), "row 1 has 1 columns"},
		{"negative", run(&Confusion{Classes: []string{"a"}, Counts: [][]int{{-1}}}), "negative"},
		{"no classes", run(&Confusion{}), "no classes"},
		{"rank", Report{RankBy: "speed", Sweep: Sweep{Runs: []Run{{Name: "a"}, {Name: "b"}}}}, "unknown ranking"},
		{"thumbnail", Report{Dataset: &Dataset{Kept: []Sample{{Class: "tug", Picture: Picture{Encoded: []byte("GIF89a")}}}}},
			`thumbnail 0 (class "tug")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Write(t.TempDir(), tc.r)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

func TestSlug(t *testing.T) {
	tests := []struct{ in, want string }{
		{"cnn-32-64-128", "cnn-32-64-128"},
		{"CNN 32/64/128, dropout 0.5", "cnn-32-64-128-dropout-0-5"},
		{"<script>", "script"},
		{"ööö", ""},
		{strings.Repeat("a", 60), strings.Repeat("a", 40)},
	}
	for _, tc := range tests {
		if got := slug(tc.in); got != tc.want {
			t.Errorf("slug(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
