package report

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// svgShape is what the structural tests read from a chart's SVG: every text
// drawn and every stroked path with its colour and vertex count.
type svgShape struct {
	texts []string
	paths []svgPath
}

type svgPath struct {
	stroke, fill string
	vertices     int
}

var styleColour = regexp.MustCompile(`(stroke|fill):(#[0-9A-Fa-f]{6}|none)`)

// parseSVG reads the SVG as XML, so unescaped markup in a label fails the
// test by itself.
func parseSVG(t *testing.T, svg []byte) svgShape {
	t.Helper()
	var s svgShape
	dec := xml.NewDecoder(bytes.NewReader(svg))
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			switch el.Name.Local {
			case "text":
				inText = true
				s.texts = append(s.texts, "")
			case "path":
				var p svgPath
				for _, a := range el.Attr {
					switch a.Name.Local {
					case "d":
						p.vertices = strings.Count(a.Value, "L") + strings.Count(a.Value, "M")
					case "style":
						for _, m := range styleColour.FindAllStringSubmatch(a.Value, -1) {
							if m[1] == "stroke" {
								p.stroke = strings.ToUpper(m[2])
							} else {
								p.fill = strings.ToUpper(m[2])
							}
						}
					}
				}
				s.paths = append(s.paths, p)
			}
		case xml.EndElement:
			if el.Name.Local == "text" {
				inText = false
			}
		case xml.CharData:
			if inText {
				s.texts[len(s.texts)-1] += string(el)
			}
		}
	}
	return s
}

func (s svgShape) hasText(want string) bool { return slices.Contains(s.texts, want) }

// strokes counts stroked paths of colour with exactly n vertices.
func (s svgShape) strokes(colour string, n int) int {
	c := 0
	for _, p := range s.paths {
		if p.stroke == colour && p.vertices == n {
			c++
		}
	}
	return c
}

func checkTexts(t *testing.T, s svgShape, want ...string) {
	t.Helper()
	for _, w := range want {
		if !s.hasText(w) {
			t.Errorf("SVG has no text %q; texts: %q", w, s.texts)
		}
	}
}

func checkPNG(t *testing.T, c chart) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(c.PNG))
	if err != nil {
		t.Fatalf("%s.png: %v", c.Name, err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 200 {
		t.Errorf("%s.png is only %v", c.Name, b.Size())
	}
}

const (
	hexBlue       = "#0072B2"
	hexVermillion = "#D55E00"
)

func TestCurveCharts(t *testing.T) {
	r := Run{Name: "cnn <b>wide</b>", Epochs: epochs(
		[]float64{0.5, 0.7, 0.8, 0.9, 0.95},
		[]float64{0.45, 0.65, 0.8, 0.78, 0.85})}
	d := Diagnose(r, Thresholds{})
	tests := []struct {
		name  string
		build func(string, Run, Diagnosis) (chart, error)
		texts []string
	}{
		{"accuracy", accuracyChart, []string{"cnn <b>wide</b>: accuracy", "epoch", "accuracy", "train", "validation",
			"best validation: epoch 5, 0.85", "final gap: 0.10"}},
		{"loss", lossChart, []string{"cnn <b>wide</b>: loss", "epoch", "loss", "train", "validation",
			"lowest validation: epoch 5, 0.150"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.build("x", r, d)
			if err != nil {
				t.Fatal(err)
			}
			s := parseSVG(t, c.SVG)
			checkTexts(t, s, tc.texts...)
			// epoch axis: whole epochs 1-5 labelled, nothing fractional
			checkTexts(t, s, "1", "2", "3", "4", "5")
			if s.hasText("1.5") || s.hasText("2.5") {
				t.Errorf("fractional epoch tick in %q", s.texts)
			}
			// both series as full curves: one path per epoch vertex, in the
			// train and validation colours
			if s.strokes(hexBlue, 5) != 1 || s.strokes(hexVermillion, 5) != 1 {
				t.Errorf("want one 5-point train (blue) and one validation (vermillion) curve; paths %+v", s.paths)
			}
			if !bytes.Contains(c.SVG, []byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")) {
				t.Error("SVG fonts have no fallback")
			}
			checkPNG(t, c)
		})
	}
}

func TestDivergedRunChart(t *testing.T) {
	r := Run{Name: "nan", Epochs: epochs([]float64{0.5, 0.6, 0.7, 0.3}, []float64{0.5, 0.55, 0.6, 0.3})}
	r.Epochs[3].TrainLoss = math.NaN()
	d := Diagnose(r, Thresholds{})
	c, err := lossChart("x", r, d)
	if err != nil {
		t.Fatal(err)
	}
	s := parseSVG(t, c.SVG)
	// the train loss curve stops before the NaN; validation has all four
	if s.strokes(hexBlue, 3) != 1 || s.strokes(hexVermillion, 4) != 1 {
		t.Errorf("paths %+v", s.paths)
	}
}

func TestSweepChart(t *testing.T) {
	var runs []Run
	for i := range 9 { // more runs than colours: dashes must tell 1 and 8 apart
		v := 0.5 + 0.04*float64(i)
		runs = append(runs, Run{Name: "run " + strconv.Itoa(i), Epochs: epochs([]float64{v, v, v + 0.1}, []float64{v, v, v + 0.05})})
	}
	runs = append(runs, Run{Name: "empty"})
	c, err := sweepChart("s", "boats: validation accuracy", runs)
	if err != nil {
		t.Fatal(err)
	}
	s := parseSVG(t, c.SVG)
	checkTexts(t, s, "boats: validation accuracy", "epoch", "validation accuracy", "run 0 (0.55)", "run 8 (0.87)")
	if s.hasText("empty (0.00)") {
		t.Error("a run without epochs is in the legend")
	}
	if n := s.strokes(hexBlue, 3); n != 2 {
		t.Errorf("%d three-point curves in the first colour, want 2 (run 0 and run 7)", n)
	}
	styles := map[string]bool{}
	for _, line := range strings.Split(string(c.SVG), "\n") {
		if strings.Contains(line, "stroke:"+hexBlue) && strings.Contains(line, "stroke-dasharray") {
			styles["dashed"] = true
		}
	}
	if !styles["dashed"] {
		t.Error("the eighth run repeats the first run's colour without a dash pattern")
	}
	checkPNG(t, c)
}

func TestConfusionChart(t *testing.T) {
	m := Confusion{
		Classes: []string{"destroyer", "carrier <script>", "a very long class name that goes on and on"},
		Counts:  [][]int{{17, 2, 1}, {3, 40, 0}, {0, 5, 9}},
	}
	c, err := confusionChart("c", "cnn", m)
	if err != nil {
		t.Fatal(err)
	}
	s := parseSVG(t, c.SVG)
	checkTexts(t, s, "cnn: test confusion matrix", "predicted class", "true class", "destroyer", "carrier <script>",
		truncate(m.Classes[2], 24))
	var got, want []int
	for _, txt := range s.texts {
		if n, err := strconv.Atoi(txt); err == nil {
			got = append(got, n)
		}
	}
	for _, row := range m.Counts {
		want = append(want, row...)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("cell counts %v, want %v", got, want)
	}
	checkPNG(t, c)
}

func TestBarsChart(t *testing.T) {
	c, err := barsChart("b", "Images per class", "images", "alt", []string{"tug", "kayak"}, []barGroup{
		{"kept", blue, []float64{120, 7}}, {"quarantined", orange, []float64{3, 0}}})
	if err != nil {
		t.Fatal(err)
	}
	s := parseSVG(t, c.SVG)
	checkTexts(t, s, "Images per class", "images", "tug", "kayak", "kept", "quarantined", "120", "7", "3")
	fills := map[string]int{}
	for _, p := range s.paths {
		fills[p.fill]++
	}
	// two bars per colour, plus the legend swatch
	if fills[hexBlue] != 3 || fills["#E69F00"] != 3 {
		t.Errorf("bar fills %v", fills)
	}
	for _, txt := range s.texts {
		if strings.Contains(txt, ".") {
			t.Errorf("fractional count label %q", txt)
		}
	}
	checkPNG(t, c)
}

func TestFractionTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		labels []string
	}{
		{0.25, 1, []string{"0.4", "0.6", "0.8", "1.0"}},
		{0.55, 1, []string{"0.6", "0.7", "0.8", "0.9", "1.0"}},
		{0.75, 1, []string{"0.75", "0.80", "0.85", "0.90", "0.95", "1.00"}},
	}
	for _, tc := range tests {
		var got []string
		for _, tk := range (fractionTicks{}).Ticks(tc.lo, tc.hi) {
			if tk.Label != "" {
				got = append(got, tk.Label)
			}
		}
		if !slices.Equal(got, tc.labels) {
			t.Errorf("ticks(%v, %v) = %v, want %v", tc.lo, tc.hi, got, tc.labels)
		}
	}
}

func TestEpochTicks(t *testing.T) {
	tests := []struct {
		hi     float64
		labels []string
	}{
		{3, []string{"1", "2", "3"}},
		{20, []string{"2", "4", "6", "8", "10", "12", "14", "16", "18", "20"}},
		{50, []string{"1", "5", "10", "15", "20", "25", "30", "35", "40", "45", "50"}},
		{300, []string{"1", "50", "100", "150", "200", "250", "300"}},
	}
	for _, tc := range tests {
		var got []string
		for _, tk := range (epochTicks{}).Ticks(1, tc.hi) {
			if tk.Label != "" {
				got = append(got, tk.Label)
			}
		}
		if !slices.Equal(got, tc.labels) {
			t.Errorf("ticks(1, %v) = %v, want %v", tc.hi, got, tc.labels)
		}
	}
}
