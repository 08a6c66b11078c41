package report

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// epochs builds a run from parallel train and validation accuracies; losses
// mirror them so that only accuracies matter.
func epochs(train, val []float64) []Epoch {
	out := make([]Epoch, len(train))
	for i := range train {
		out[i] = Epoch{TrainAcc: train[i], ValAcc: val[i], TrainLoss: 1 - train[i], ValLoss: 1 - val[i], Seconds: 10}
	}
	return out
}

func TestDiagnose(t *testing.T) {
	tests := []struct {
		name    string
		train   []float64
		val     []float64
		th      Thresholds
		verdict Verdict
		text    string // the whole text when it starts with "=", else a substring
		// spot checks of the numbers behind the verdict
		bestEpoch, gapEpoch int
		finalGap            float64
	}{
		{
			name:      "overfitting, peaked earlier",
			train:     []float64{0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99},
			val:       []float64{0.45, 0.6, 0.7, 0.74, 0.76, 0.78, 0.80, 0.79, 0.78, 0.78},
			verdict:   Overfitting,
			text:      "=overfitting: validation accuracy peaked at epoch 7 and the final gap is 0.21 (> 0.10)",
			bestEpoch: 7, gapEpoch: 10, finalGap: 0.21,
		},
		{
			name:      "overfitting, still peaking at the end",
			train:     []float64{0.6, 0.9, 0.99},
			val:       []float64{0.55, 0.7, 0.8},
			verdict:   Overfitting,
			text:      "=overfitting: the final gap is 0.19 (> 0.10)",
			bestEpoch: 3, gapEpoch: 2, finalGap: 0.19,
		},
		{
			name:      "gap just above the threshold prints more digits",
			train:     []float64{0.9},
			val:       []float64{0.796},
			verdict:   Overfitting,
			text:      "final gap is 0.104 (> 0.10)",
			bestEpoch: 1, gapEpoch: 1, finalGap: 0.104,
		},
		{
			name:      "overfitting by the drop from the peak, small gap (dropout)",
			train:     []float64{0.6, 0.7, 0.75, 0.78, 0.8},
			val:       []float64{0.65, 0.78, 0.84, 0.8, 0.76},
			verdict:   Overfitting,
			text:      "=overfitting: validation accuracy peaked at epoch 3 (0.84) and fell 0.08 by epoch 5 (> 0.05), although the final gap is 0.04",
			bestEpoch: 3, gapEpoch: 5, finalGap: 0.04,
		},
		{
			name:      "underfitting",
			train:     []float64{0.3, 0.4, 0.52},
			val:       []float64{0.3, 0.38, 0.48},
			verdict:   Underfitting,
			text:      "=underfitting: both accuracies below 0.60 (train 0.52, validation 0.48 at epoch 3)",
			bestEpoch: 3, gapEpoch: 3, finalGap: 0.04,
		},
		{
			name:      "fits well, plateaued",
			train:     []float64{0.6, 0.8, 0.88, 0.9, 0.91},
			val:       []float64{0.6, 0.79, 0.86, 0.88, 0.87},
			verdict:   FitsWell,
			text:      "=fits well: the final gap is 0.04 (≤ 0.10) and validation accuracy is 0.87",
			bestEpoch: 4, gapEpoch: 5, finalGap: 0.04,
		},
		{
			name:      "fits well and still rising",
			train:     []float64{0.6, 0.7, 0.8},
			val:       []float64{0.62, 0.72, 0.79},
			verdict:   FitsWell,
			text:      "still rising at the last epoch, so more epochs may help",
			bestEpoch: 3, gapEpoch: 3, finalGap: 0.01,
		},
		{
			name:      "validation above train (dropout) fits well",
			train:     []float64{0.7, 0.8},
			val:       []float64{0.78, 0.85},
			verdict:   FitsWell,
			text:      "final gap is -0.05",
			bestEpoch: 2, gapEpoch: 2, finalGap: -0.05,
		},
		{
			name:      "a stricter gap threshold changes the verdict and is stated",
			train:     []float64{0.6, 0.8, 0.88, 0.9, 0.91},
			val:       []float64{0.6, 0.79, 0.86, 0.88, 0.87},
			th:        Thresholds{MaxGap: 0.03},
			verdict:   Overfitting,
			text:      "=overfitting: validation accuracy peaked at epoch 4 and the final gap is 0.04 (> 0.03)",
			bestEpoch: 4, gapEpoch: 5, finalGap: 0.04,
		},
		{
			name:      "a higher accuracy bar turns a good run into underfitting",
			train:     []float64{0.6, 0.8, 0.88, 0.9, 0.91},
			val:       []float64{0.6, 0.79, 0.86, 0.88, 0.87},
			th:        Thresholds{MinAccuracy: 0.95},
			verdict:   Underfitting,
			text:      "both accuracies below 0.95",
			bestEpoch: 4, gapEpoch: 5, finalGap: 0.04,
		},
		{
			name:      "NaN loss",
			train:     []float64{0.5, math.NaN(), math.NaN()},
			val:       []float64{0.5, 0.5, math.NaN()},
			verdict:   Diverged,
			text:      "from epoch 2",
			bestEpoch: 1, gapEpoch: 1, finalGap: math.NaN(),
		},
		{
			name:    "no epochs",
			verdict: NoData,
			text:    "=no data: the run recorded no epochs",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Diagnose(Run{Name: "r", Epochs: epochs(tc.train, tc.val)}, tc.th)
			if d.Verdict != tc.verdict {
				t.Errorf("verdict %q, want %q (%s)", d.Verdict, tc.verdict, d.Text)
			}
			if want, exact := strings.CutPrefix(tc.text, "="); exact && d.Text != want {
				t.Errorf("text\n %q\nwant\n %q", d.Text, want)
			} else if !exact && !strings.Contains(d.Text, tc.text) {
				t.Errorf("text %q does not contain %q", d.Text, tc.text)
			}
			if !strings.HasPrefix(d.Text, string(d.Verdict)+":") {
				t.Errorf("text %q does not start with the verdict", d.Text)
			}
			if d.BestValEpoch != tc.bestEpoch || d.LargestGapEpoch != tc.gapEpoch {
				t.Errorf("best val epoch %d, largest gap epoch %d; want %d, %d", d.BestValEpoch, d.LargestGapEpoch,
					tc.bestEpoch, tc.gapEpoch)
			}
			if len(tc.train) > 0 && !(math.Abs(d.FinalGap-tc.finalGap) < 1e-9 || math.IsNaN(tc.finalGap) && math.IsNaN(d.FinalGap)) {
				t.Errorf("final gap %v, want %v", d.FinalGap, tc.finalGap)
			}
		})
	}
}

func TestDiagnoseTiming(t *testing.T) {
	r := Run{Epochs: []Epoch{{Seconds: 10}, {Seconds: 0}, {Seconds: 14}}}
	if got := Diagnose(r, Thresholds{}).SecondsPerEpoch; got != 12 {
		t.Errorf("seconds per epoch %v, want 12 (the untimed epoch left out)", got)
	}
}

func TestThresholdsString(t *testing.T) {
	s := Thresholds{MaxGap: 0.15}.String()
	for _, want := range []string{"above 0.15", "below 0.60", "more than 0.05"} {
		if !strings.Contains(s, want) {
			t.Errorf("%q does not state %q", s, want)
		}
	}
}

func TestRank(t *testing.T) {
	run := func(name string, params int64, train, val float64) Run {
		return Run{Name: name, Params: params, Epochs: epochs([]float64{train * 0.8, train}, []float64{val * 0.8, val})}
	}
	runs := []Run{
		run("wide", 9_000_000, 0.99, 0.84), // gap 0.15
		run("base", 3_000_000, 0.90, 0.86), // gap 0.04
		run("small", 800_000, 0.82, 0.80),  // gap 0.02
		{Name: "empty"},
		run("twin", 500_000, 0.90, 0.86), // ties base on accuracy and gap, fewer parameters
		{Name: "nan", Epochs: epochs([]float64{math.NaN()}, []float64{math.NaN()})},
	}
	tests := []struct {
		by   RankBy
		want []string
	}{
		{ByValAccuracy, []string{"twin", "base", "wide", "small", "empty", "nan"}},
		{"", []string{"twin", "base", "wide", "small", "empty", "nan"}},
		{ByGap, []string{"small", "twin", "base", "wide", "empty", "nan"}},
	}
	for _, tc := range tests {
		t.Run(string(tc.by), func(t *testing.T) {
			rows, err := Rank(runs, tc.by, Thresholds{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, r.Name)
				if runs[r.Index].Name != r.Name {
					t.Errorf("row %q points at run %d (%q)", r.Name, r.Index, runs[r.Index].Name)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("order %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := Rank(runs, "speed", Thresholds{}); err == nil {
		t.Error("an unknown criterion was accepted")
	}
}

func TestParseRankBy(t *testing.T) {
	tests := []struct {
		in   string
		want RankBy
		ok   bool
	}{
		{"", ByValAccuracy, true},
		{"val-accuracy", ByValAccuracy, true},
		{" Accuracy ", ByValAccuracy, true},
		{"gap", ByGap, true},
		{"GAP", ByGap, true},
		{"loss", "", false},
	}
	for _, tc := range tests {
		got, err := ParseRankBy(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseRankBy(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
