package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestCreditsGolden writes a report with credits and compares credits.md
// with testdata/credits.md (go test -update rewrites it): sorted by class
// and file, a source's Markdown and line breaks made harmless, missing
// authors and titles said so.
func TestCreditsGolden(t *testing.T) {
	dir := t.TempDir()
	r := Report{Title: "boats: dataset and training report", Dataset: &Dataset{
		Classes:  []Class{{Name: "tug", Kept: 3}, {Name: "Cruise Ships", Kept: 1}},
		Licenses: []Count{{"cc-by-sa", 2}, {"cc-by", 1}, {"cc0", 1}},
		Credits: CreditsOf(
			Credit{Class: "tug", File: "images/tug/bb.jpg", Title: "Tug *Hercules* in [Rotterdam]", Author: "Jan de Vries", License: "CC BY-SA 4.0", Source: "https://commons.example/wiki/File:Tug.jpg"},
			Credit{Class: "tug", File: "images/tug/aa.jpg", Title: "", Author: "", License: "CC BY 2.0", Source: "https://photos.example/1"},
			Credit{Class: "Cruise Ships", File: "images/Cruise Ships/cc.jpg", Title: "Two\nlines", Author: "A <b>B</b> | C", License: "cc-by-sa-3.0", Source: "https://commons.example/wiki/File:Ship.jpg"},
		),
	}}
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, CreditsFile))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "credits.md")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("credits.md differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), `3 kept images are under licenses that ask for attribution: <a href="credits.md">`) {
		t.Error("the page does not link the credits")
	}

	// No image asks for credit: no credits file.
	dir = t.TempDir()
	r.Dataset.Credits = nil
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, CreditsFile)); !os.IsNotExist(err) {
		t.Errorf("credits.md written with nothing to credit: %v", err)
	}
}

func TestShortfallsShown(t *testing.T) {
	dir := t.TempDir()
	r := Report{Dataset: &Dataset{
		Classes:    []Class{{Name: "tug", Kept: 3}},
		Shortfalls: []Shortfall{{Class: "tug", Target: 10, Kept: 3, Why: "sources exhausted: <every> search ran to its end"}},
	}}
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="shortfalls"`, "<td>tug</td><td>3</td><td>10</td>", "sources exhausted: &lt;every&gt; search"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
