package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Thresholds decide a run's verdict. They are printed beside every verdict,
// so a reader can see why a run was called what it was called.
type Thresholds struct {
	// MaxGap: a final train-minus-validation accuracy gap above it means
	// overfitting (the original workflow's criterion).
	MaxGap float64
	// MinAccuracy: final train and validation accuracies both below it mean
	// underfitting.
	MinAccuracy float64
	// MaxDrop: validation accuracy falling more than this from its peak by
	// the last epoch also means overfitting. It catches runs trained with
	// dropout, whose train accuracy is measured with dropout on and so can
	// sit below validation accuracy while the model memorises.
	MaxDrop float64
}

// DefaultThresholds returns the thresholds used where a field is zero.
func DefaultThresholds() Thresholds {
	return Thresholds{MaxGap: 0.10, MinAccuracy: 0.60, MaxDrop: 0.05}
}

func (t Thresholds) withDefaults() Thresholds {
	d := DefaultThresholds()
	if t.MaxGap == 0 {
		t.MaxGap = d.MaxGap
	}
	if t.MinAccuracy == 0 {
		t.MinAccuracy = d.MinAccuracy
	}
	if t.MaxDrop == 0 {
		t.MaxDrop = d.MaxDrop
	}
	return t
}

// String states the thresholds in the words the page uses.
func (t Thresholds) String() string {
	t = t.withDefaults()
	return fmt.Sprintf("overfitting when the final gap (train − validation accuracy) is above %s or validation accuracy "+
		"falls more than %s below its peak; underfitting when both final accuracies are below %s",
		num(t.MaxGap), num(t.MaxDrop), num(t.MinAccuracy))
}

// Verdict is the one-word judgement of a run.
type Verdict string

const (
	FitsWell     Verdict = "fits well"
	Overfitting  Verdict = "overfitting"
	Underfitting Verdict = "underfitting"
	Diverged     Verdict = "diverged" // a loss or accuracy became NaN or infinite
	NoData       Verdict = "no data"  // the run recorded no epochs
)

// Diagnosis is what the curves of one run say. Epoch numbers start at 1;
// they are 0 when the run has no epochs.
type Diagnosis struct {
	Verdict Verdict
	Text    string // the verdict in plain words, with the numbers and thresholds behind it

	Epochs                     int
	FinalTrainAcc, FinalValAcc float64
	FinalGap                   float64 // FinalTrainAcc - FinalValAcc
	LargestGap                 float64 // largest train - validation accuracy over all epochs
	LargestGapEpoch            int
	BestValAcc                 float64
	BestValEpoch               int // the first epoch that reached BestValAcc
	BestValLoss                float64
	BestValLossEpoch           int
	SecondsPerEpoch            float64 // mean over epochs with a known time; 0 = unknown
}

// Diagnose judges a run's curves against t (zero fields take defaults).
func Diagnose(r Run, t Thresholds) Diagnosis {
	t = t.withDefaults()
	d := Diagnosis{Epochs: len(r.Epochs)}
	if len(r.Epochs) == 0 {
		d.Verdict, d.Text = NoData, "no data: the run recorded no epochs"
		return d
	}
	last := r.Epochs[len(r.Epochs)-1]
	d.FinalTrainAcc, d.FinalValAcc = last.TrainAcc, last.ValAcc
	d.FinalGap = last.TrainAcc - last.ValAcc
	d.LargestGap, d.BestValAcc, d.BestValLoss = math.Inf(-1), math.Inf(-1), math.Inf(1)
	var secs float64
	var timed int
	bad := 0 // first epoch with a non-finite metric
	for i, e := range r.Epochs {
		if bad == 0 && !allFinite(e.TrainLoss, e.TrainAcc, e.ValLoss, e.ValAcc) {
			bad = i + 1
		}
		if g := e.TrainAcc - e.ValAcc; g > d.LargestGap {
			d.LargestGap, d.LargestGapEpoch = g, i+1
		}
		if e.ValAcc > d.BestValAcc {
			d.BestValAcc, d.BestValEpoch = e.ValAcc, i+1
		}
		if e.ValLoss < d.BestValLoss {
			d.BestValLoss, d.BestValLossEpoch = e.ValLoss, i+1
		}
		if e.Seconds > 0 {
			secs += e.Seconds
			timed++
		}
	}
	if timed > 0 {
		d.SecondsPerEpoch = secs / float64(timed)
	}
	n := len(r.Epochs)
	drop := d.BestValAcc - d.FinalValAcc
	switch {
	case bad > 0:
		d.Verdict = Diverged
		d.Text = fmt.Sprintf("diverged: a loss or accuracy is not a finite number from epoch %d; lower the learning rate", bad)
	case d.FinalTrainAcc < t.MinAccuracy && d.FinalValAcc < t.MinAccuracy:
		d.Verdict = Underfitting
		d.Text = fmt.Sprintf("underfitting: both accuracies below %s (train %s, validation %s at epoch %d)",
			num(t.MinAccuracy), num(d.FinalTrainAcc), num(d.FinalValAcc), n)
	case d.FinalGap > t.MaxGap:
		d.Verdict = Overfitting
		if d.BestValEpoch < n {
			d.Text = fmt.Sprintf("overfitting: validation accuracy peaked at epoch %d and the final gap is %s (> %s)",
				d.BestValEpoch, above(d.FinalGap, t.MaxGap), num(t.MaxGap))
		} else {
			d.Text = fmt.Sprintf("overfitting: the final gap is %s (> %s)", above(d.FinalGap, t.MaxGap), num(t.MaxGap))
		}
	case drop > t.MaxDrop:
		d.Verdict = Overfitting
		d.Text = fmt.Sprintf("overfitting: validation accuracy peaked at epoch %d (%s) and fell %s by epoch %d (> %s), "+
			"although the final gap is %s", d.BestValEpoch, num(d.BestValAcc), above(drop, t.MaxDrop), n,
			num(t.MaxDrop), num(d.FinalGap))
	default:
		d.Verdict = FitsWell
		d.Text = fmt.Sprintf("fits well: the final gap is %s (≤ %s) and validation accuracy is %s",
			num(d.FinalGap), num(t.MaxGap), num(d.FinalValAcc))
		if n >= 3 && d.BestValEpoch == n && last.ValAcc > r.Epochs[n-2].ValAcc {
			d.Text += "; it was still rising at the last epoch, so more epochs may help"
		}
	}
	return d
}

func allFinite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// num formats a fraction the way the page prints them.
func num(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// above formats v, known to exceed limit, with enough digits that it does
// not print as equal to limit ("0.101 (> 0.10)", not "0.10 (> 0.10)").
func above(v, limit float64) string {
	for prec := 2; prec < 6; prec++ {
		s := strconv.FormatFloat(v, 'f', prec, 64)
		if f, _ := strconv.ParseFloat(s, 64); f > limit {
			return s
		}
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// RankBy names the criterion a sweep's runs are ranked by.
type RankBy string

const (
	// ByValAccuracy ranks by final validation accuracy, highest first; ties
	// go to the smaller gap, then fewer parameters.
	ByValAccuracy RankBy = "val-accuracy"
	// ByGap ranks by final train-minus-validation gap, smallest first (the
	// least overfitted); ties go to the higher validation accuracy.
	ByGap RankBy = "gap"
)

// ParseRankBy reads a ranking criterion as a user would type it.
func ParseRankBy(s string) (RankBy, error) {
	switch RankBy(strings.ToLower(strings.TrimSpace(s))) {
	case "", ByValAccuracy, "accuracy", "val":
		return ByValAccuracy, nil
	case ByGap:
		return ByGap, nil
	}
	return "", fmt.Errorf("unknown ranking %q: use %q or %q", s, ByValAccuracy, ByGap)
}

// Ranked is one row of a sweep's ranking table.
type Ranked struct {
	Index  int // position of the run in Sweep.Runs
	Name   string
	Params int64
	Diagnosis
}

// Rank orders runs by the criterion. Runs without data or with non-finite
// metrics go last; the order is total, so equal inputs give equal output.
func Rank(runs []Run, by RankBy, t Thresholds) ([]Ranked, error) {
	by, err := ParseRankBy(string(by))
	if err != nil {
		return nil, err
	}
	rows := make([]Ranked, len(runs))
	for i, r := range runs {
		rows[i] = Ranked{Index: i, Name: r.Name, Params: r.Params, Diagnosis: Diagnose(r, t)}
	}
	// usable runs sort before broken ones under either criterion
	broken := func(r Ranked) bool { return r.Verdict == NoData || r.Verdict == Diverged }
	byAcc := func(a, b Ranked) int { return cmp.Compare(b.FinalValAcc, a.FinalValAcc) }
	byGap := func(a, b Ranked) int { return cmp.Compare(a.FinalGap, b.FinalGap) }
	first, second := byAcc, byGap
	if by == ByGap {
		first, second = byGap, byAcc
	}
	slices.SortStableFunc(rows, func(a, b Ranked) int {
		switch ba, bb := broken(a), broken(b); {
		case ba && bb: // their numbers mean nothing: keep the sweep's order
			return cmp.Compare(a.Index, b.Index)
		case ba != bb:
			if ba {
				return 1
			}
			return -1
		}
		return cmp.Or(first(a, b), second(a, b), cmp.Compare(a.Params, b.Params),
			strings.Compare(a.Name, b.Name), cmp.Compare(a.Index, b.Index))
	})
	return rows, nil
}
