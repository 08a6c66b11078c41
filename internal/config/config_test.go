package config

import (
	"strings"
	"testing"
	"time"
)

const good = `
classes:
  - name: zumwalt
    queries: ["Zumwalt-class destroyer"]
    target: 100
  - name: type052
    queries: ["Type 052 destroyer"]
sources:
  - engine: bing
  - engine: urls
    path: urls.txt
    classes: [zumwalt]
fetch:
  timeout: 15s
  max_bytes: 10MB
`

func TestParseGood(t *testing.T) {
	c, err := Parse("scour.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ClassNames(); strings.Join(got, ",") != "zumwalt,type052" {
		t.Fatalf("classes %v", got)
	}
	if c.Fetch.Timeout.D() != 15*time.Second || c.Fetch.MaxBytes != 10<<20 {
		t.Fatalf("fetch %+v", c.Fetch)
	}
	if c.Fetch.Workers != Default().Fetch.Workers {
		t.Fatalf("defaults not kept: workers=%d", c.Fetch.Workers)
	}
}

func TestParseErrorsPointAtTheProblem(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"typo in class key", "classes:\n  - name: a\n    queris: [x]\n", []string{"line 3", `unknown key "queris"`, `did you mean "queries"`}},
		{"typo at top", "clases:\n  - name: a\n", []string{"line 1", `"clases"`, `did you mean "classes"`}},
		{"typo in fetch", "classes: [{name: a}]\nfetch:\n  workrs: 3\n", []string{"line 3", `"workrs"`, `"workers"`}},
		{"typo in clean", "classes: [{name: a}]\nclean:\n  off_topic:\n    metod: labels\n", []string{"line 4", `"metod" in clean.off_topic`, `"method"`}},
		{"bad clean value", "classes: [{name: a}]\nclean:\n  off_topic:\n    method: vibes\n", []string{"clean:", "vibes"}},
		{"bad duration", "classes: [{name: a}]\nfetch:\n  timeout: fast\n", []string{"line 3", "not a duration"}},
		{"bad size", "classes: [{name: a}]\nfetch:\n  max_bytes: lots\n", []string{"line 3", "not a size"}},
		{"no classes", "sources: [{engine: bing}]\n", []string{"no classes"}},
		{"bad engine", "classes: [{name: a}]\nsources: [{engine: bign}]\n", []string{`unknown engine "bign"`, `did you mean "bing"`}},
		{"urls without path", "classes: [{name: a}]\nsources: [{engine: urls}]\n", []string{"needs a path"}},
		{"class twice", "classes: [{name: a}, {name: a}]\n", []string{"listed twice"}},
		{"class name with a newline", "classes: [{name: \"a\\nb\"}]\n", []string{"class 1", "control character"}},
		{"class name with a trailing space", "classes: [{name: 'ships '}]\n", []string{`"ships "`, "remove it"}},
		{"class names sharing a folder", "classes: [{name: Cruise Ships}, {name: Cruise_Ships}]\n", []string{`"Cruise Ships" and "Cruise_Ships"`, "rename one"}},
		{"class names equal but for case", "classes: [{name: Ship}, {name: ship}]\n", []string{`"Ship" and "ship"`, "macOS and Windows"}},
		{"unknown class in source", "classes: [{name: a}]\nsources: [{engine: bing, classes: [b]}]\n", []string{`class "b"`}},
		{"not yaml", "classes: [\n", []string{"scour.yaml"}},
		{"unknown license", "classes: [{name: a}]\nsources: [{engine: commons, licenses: [cc0, cc-by-foo]}]\n", []string{"source 1 (commons): licenses", `"cc-by-foo"`, "cc-by-sa"}},
		{"license on an engine without licenses", "classes: [{name: a}]\nsources: [{engine: bing, licenses: [cc0]}]\n", []string{"source 1 (bing)", "carry no license"}},
		{"bad store", "classes: [{name: a}]\nstore: ftp://x\n", []string{"s3://"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("scour.yaml", []byte(c.yaml))
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseLicenses(t *testing.T) {
	c, err := Parse("scour.yaml", []byte("classes: [{name: a}]\nsources:\n  - engine: commons\n    licenses: [cc0, CC BY-SA 4.0, pd]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Sources[0].Licenses, ","); got != "cc0,CC BY-SA 4.0,pd" {
		t.Errorf("licenses %q: kept as written, for the fingerprint and messages", got)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"25MB": 25 << 20, "512KB": 512 << 10, "1GiB": 1 << 30, "1000": 1000, "1.5M": 3 << 19} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestFreeTextClassNames(t *testing.T) {
	c, err := Parse("scour.yaml", []byte("classes:\n  - name: Cruise Ships\n  - name: 望遠鏡\n  - name: a/b\nsources: [{engine: bing, classes: [望遠鏡]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.ClassNames(), "|"); got != "Cruise Ships|望遠鏡|a/b" {
		t.Errorf("class names %q: want them as written", got)
	}
}
