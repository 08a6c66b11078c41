package report

import (
	"bytes"
	"cmp"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/scour-dev/scour/internal/atomicfile"
)

//go:embed page.html.tmpl
var pageSource string

var pageTemplate = template.Must(template.New("page").Parse(pageSource))

// Write renders r into dir: dir/index.html, one self-contained page (styles
// inline, charts as inline SVG, thumbnails as data: URIs), and every chart
// as dir/charts/<name>.png and .svg. The same Report always gives the same
// bytes. Files of an earlier report that this one does not produce are left
// alone.
func Write(dir string, r Report) error {
	pg, charts, err := build(r)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if r.Dataset != nil && r.Dataset.Credits != nil && pg.Dataset != nil {
		n, err := writeCredits(filepath.Join(dir, CreditsFile), pg.Title, r.Dataset.Credits)
		if err != nil {
			return fmt.Errorf("report: %s: %w", CreditsFile, err)
		}
		if n > 0 {
			pg.Dataset.Credits, pg.Dataset.CreditsFile = n, CreditsFile
		}
	}
	var html bytes.Buffer
	if err := pageTemplate.Execute(&html, pg); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	chartDir := filepath.Join(dir, "charts")
	if err := os.MkdirAll(chartDir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	for _, c := range charts {
		if err := writeFile(filepath.Join(chartDir, c.Name+".png"), c.PNG); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(chartDir, c.Name+".svg"), c.SVG); err != nil {
			return err
		}
	}
	return writeFile(filepath.Join(dir, "index.html"), html.Bytes())
}

// writeFile replaces path atomically, so a browser reloading the report
// never sees half a page.
func writeFile(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// page is what the template shows: every number already formatted, every
// user string left to html/template to escape.
type page struct {
	Title, Generated string
	Thresholds       string
	Dataset          *datasetView
	Training         *trainingView
	Sortable         bool
}

type figureView struct {
	Name, Alt string
	SVG       template.HTML
}

type classRow struct {
	Name                                                     string
	Found, Downloaded, Duplicates, Failed, Quarantined, Kept int
}

type crossTable struct {
	Corner string
	Cols   []string
	Rows   []crossRow
}

type crossRow struct {
	Name  string
	Cells []int
	Total int
}

type countsView struct {
	Figure figureView
	Table  crossTable
}

type sheetView struct {
	Title, Note string
	Items       []thumbView
}

type thumbView struct {
	Src   template.URL
	Alt   string
	Lines []string
}

type datasetView struct {
	Classes           []classRow
	Total             classRow
	Counts            figureView
	Reasons, Failures *countsView
	Sources, Licenses []Count
	Credits           int // images listed in CreditsFile
	CreditsFile       string
	Shortfalls        []Shortfall
	Searches          *searchesView
	Kept, Quarantined []sheetView
}

type trainingView struct {
	Name     string
	RankedBy string
	Ranking  []rankRow
	Overlay  *figureView
	Runs     []runView
}

type rankRow struct {
	Pos                                                  int
	Anchor, Name                                         string
	ValAcc, Gap, BestVal, Params, Seconds                string
	ValAccKey, GapKey, BestValKey, ParamsKey, SecondsKey string
	Verdict, VerdictClass                                string
}

type fact struct{ Name, Value string }

type runView struct {
	Anchor, Name, Spec    string
	Params, Seconds       string
	Verdict, VerdictClass string
	Text                  string
	Facts                 []fact
	Accuracy, Loss        *figureView
	Test                  *testView
	Worst                 []thumbView
}

type testView struct {
	Accuracy string
	Images   int
	Figure   figureView
	Classes  []classMetric
}

type classMetric struct {
	Name                  string
	Precision, Recall, F1 string
	Support               int
}

func build(r Report) (page, []chart, error) {
	t := r.Thresholds.withDefaults()
	pg := page{Title: cmp.Or(strings.TrimSpace(r.Title), "scour report"), Generated: r.Generated, Thresholds: t.String()}
	var charts []chart
	add := func(c chart) figureView {
		charts = append(charts, c)
		return figureView{Name: c.Name, Alt: c.Alt, SVG: inlineSVG(c.SVG)}
	}
	if r.Dataset != nil {
		dv, err := buildDataset(*r.Dataset, add)
		if err != nil {
			return pg, nil, err
		}
		pg.Dataset = dv
	}
	if len(r.Sweep.Runs) > 0 {
		tv, err := buildTraining(r.Sweep, r.RankBy, t, add)
		if err != nil {
			return pg, nil, err
		}
		pg.Training = tv
		pg.Sortable = len(tv.Ranking) > 0
	}
	return pg, charts, nil
}

// inlineSVG drops the XML prolog, which has no place inside HTML. The rest
// was written by gonum's SVG canvas, which escapes every text it draws.
func inlineSVG(svg []byte) template.HTML {
	if i := bytes.Index(svg, []byte("<svg")); i >= 0 {
		svg = svg[i:]
	}
	return template.HTML(svg)
}

func buildDataset(d Dataset, add func(chart) figureView) (*datasetView, error) {
	v := &datasetView{Sources: sortedCounts(d.Sources), Licenses: sortedCounts(d.Licenses),
		Shortfalls: d.Shortfalls, Searches: buildSearches(d.Searches)}
	names := make([]string, len(d.Classes))
	kept, quar, failed := make([]float64, len(d.Classes)), make([]float64, len(d.Classes)), make([]float64, len(d.Classes))
	for i, c := range d.Classes {
		row := classRow{Name: c.Name, Found: c.Found, Downloaded: c.Downloaded, Duplicates: c.Duplicates,
			Failed: sum(c.Failed), Quarantined: sum(c.Quarantined), Kept: c.Kept}
		v.Classes = append(v.Classes, row)
		v.Total.Found += row.Found
		v.Total.Downloaded += row.Downloaded
		v.Total.Duplicates += row.Duplicates
		v.Total.Failed += row.Failed
		v.Total.Quarantined += row.Quarantined
		v.Total.Kept += row.Kept
		names[i] = c.Name
		kept[i], quar[i], failed[i] = float64(row.Kept), float64(row.Quarantined), float64(row.Failed)
	}
	if len(d.Classes) > 0 {
		c, err := barsChart("dataset-counts", "Images per class", "images",
			"Kept, quarantined and failed images per class.", names, []barGroup{
				{"kept", blue, kept}, {"quarantined", orange, quar}, {"failed download", vermillion, failed}})
		if err != nil {
			return nil, err
		}
		v.Counts = add(c)
	}
	var err error
	if v.Reasons, err = countsChart("cleaning-reasons", "Images quarantined by cleaning, by reason", "reason", orange,
		d.Classes, func(c Class) []Count { return c.Quarantined }, add); err != nil {
		return nil, err
	}
	if v.Failures, err = countsChart("failure-causes", "Failed downloads, by cause", "cause", vermillion,
		d.Classes, func(c Class) []Count { return c.Failed }, add); err != nil {
		return nil, err
	}
	if v.Kept, err = keptSheets(d); err != nil {
		return nil, err
	}
	if v.Quarantined, err = quarantineSheets(d); err != nil {
		return nil, err
	}
	return v, nil
}

// countsChart totals one kind of per-class count (quarantine reasons or
// failure causes) into a chart by name and a name-by-class table; nil when
// there is nothing to count.
func countsChart(name, title, corner string, colour color.Color, classes []Class, get func(Class) []Count,
	add func(chart) figureView) (*countsView, error) {
	totals := map[string]int{}
	for _, c := range classes {
		for _, n := range get(c) {
			totals[n.Name] += n.N
		}
	}
	if len(totals) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(totals))
	for k := range totals {
		keys = append(keys, k)
	}
	// biggest first, as the eye reads the chart top down
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(totals[b], totals[a]), strings.Compare(a, b)) })
	tab := crossTable{Corner: corner}
	for _, c := range classes {
		tab.Cols = append(tab.Cols, c.Name)
	}
	vals := make([]float64, len(keys))
	for i, k := range keys {
		row := crossRow{Name: k, Total: totals[k]}
		for _, c := range classes {
			n := 0
			for _, x := range get(c) {
				if x.Name == k {
					n += x.N
				}
			}
			row.Cells = append(row.Cells, n)
		}
		tab.Rows = append(tab.Rows, row)
		vals[i] = float64(totals[k])
	}
	c, err := barsChart(name, title, "images", title+", all classes together.", keys,
		[]barGroup{{Name: corner, Colour: colour, Values: vals}})
	if err != nil {
		return nil, err
	}
	return &countsView{Figure: add(c), Table: tab}, nil
}

func keptSheets(d Dataset) ([]sheetView, error) {
	order := map[string]int{}
	for i, c := range d.Classes {
		order[c.Name] = i
	}
	groups, err := groupSamples(d.Kept, func(s Sample) string { return s.Class }, func(a, b string) int {
		ia, oka := order[a]
		ib, okb := order[b]
		switch {
		case oka && okb:
			return cmp.Compare(ia, ib)
		case oka != okb: // classes the dataset lists come before any it does not
			if oka {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	}, func(s Sample) []string { return nonEmpty(s.Caption) })
	for i := range groups {
		groups[i].Note = countNote(len(groups[i].Items), d.Classes, groups[i].Title, func(c Class) int { return c.Kept })
	}
	return groups, err
}

func quarantineSheets(d Dataset) ([]sheetView, error) {
	totals := map[string]int{}
	for _, c := range d.Classes {
		for _, q := range c.Quarantined {
			totals[q.Name] += q.N
		}
	}
	groups, err := groupSamples(d.Quarantined, func(s Sample) string { return cmp.Or(s.Reason, "no reason given") },
		func(a, b string) int { return cmp.Or(cmp.Compare(totals[b], totals[a]), strings.Compare(a, b)) },
		func(s Sample) []string { return nonEmpty(s.Class, s.Caption) })
	for i := range groups {
		if n := totals[groups[i].Title]; n > len(groups[i].Items) {
			groups[i].Note = fmt.Sprintf("%d of %d shown.", len(groups[i].Items), n)
		}
	}
	return groups, err
}

func countNote(shown int, classes []Class, name string, get func(Class) int) string {
	for _, c := range classes {
		if c.Name == name && get(c) > shown {
			return fmt.Sprintf("%d of %d shown.", shown, get(c))
		}
	}
	return ""
}

// groupSamples makes one contact sheet per key, sheets ordered by less and
// samples in their input order.
func groupSamples(samples []Sample, key func(Sample) string, less func(a, b string) int,
	lines func(Sample) []string) ([]sheetView, error) {
	idx := map[string]int{}
	var sheets []sheetView
	for n, s := range samples {
		src, err := dataURI(s.Picture)
		if err != nil {
			return nil, fmt.Errorf("thumbnail %d (class %q): %w", n, s.Class, err)
		}
		k := key(s)
		i, ok := idx[k]
		if !ok {
			i = len(sheets)
			idx[k] = i
			sheets = append(sheets, sheetView{Title: k})
		}
		ls := lines(s)
		sheets[i].Items = append(sheets[i].Items, thumbView{Src: src, Alt: strings.Join(append([]string{k}, ls...), ", "), Lines: ls})
	}
	slices.SortStableFunc(sheets, func(a, b sheetView) int { return less(a.Title, b.Title) })
	return sheets, nil
}

func buildTraining(s Sweep, by RankBy, t Thresholds, add func(chart) figureView) (*trainingView, error) {
	by, err := ParseRankBy(string(by))
	if err != nil {
		return nil, err
	}
	v := &trainingView{Name: s.Name, RankedBy: rankWords[by]}
	stems := make([]string, len(s.Runs))
	for i, r := range s.Runs {
		stems[i] = fmt.Sprintf("run-%02d", i+1)
		if sl := slug(r.Name); sl != "" {
			stems[i] += "-" + sl
		}
	}
	if len(s.Runs) > 1 {
		rows, err := Rank(s.Runs, by, t)
		if err != nil {
			return nil, err
		}
		for pos, row := range rows {
			v.Ranking = append(v.Ranking, rankRow{
				Pos: pos + 1, Anchor: stems[row.Index], Name: cmp.Or(row.Name, stems[row.Index]),
				ValAcc: fmtNum(row.FinalValAcc, row.Epochs), ValAccKey: sortKey(row.FinalValAcc, row.Epochs, -1),
				Gap: fmtNum(row.FinalGap, row.Epochs), GapKey: sortKey(row.FinalGap, row.Epochs, 1),
				BestVal:    bestVal(row.Diagnosis),
				BestValKey: sortKey(row.BestValAcc, row.Epochs, -1),
				Params:     fmtParams(row.Params), ParamsKey: strconv.FormatInt(row.Params, 10),
				Seconds: fmtSeconds(row.SecondsPerEpoch), SecondsKey: strconv.FormatFloat(row.SecondsPerEpoch, 'f', 3, 64),
				Verdict: string(row.Verdict), VerdictClass: verdictClass(row.Verdict),
			})
		}
		c, err := sweepChart("sweep-val-accuracy", cmp.Or(s.Name, "Sweep")+": validation accuracy", s.Runs)
		if err != nil {
			return nil, err
		}
		f := add(c)
		v.Overlay = &f
	}
	for i, r := range s.Runs {
		rv, err := buildRun(stems[i], r, t, add)
		if err != nil {
			return nil, fmt.Errorf("run %d (%q): %w", i+1, r.Name, err)
		}
		v.Runs = append(v.Runs, rv)
	}
	return v, nil
}

var rankWords = map[RankBy]string{
	ByValAccuracy: "final validation accuracy (highest first; ties: smaller gap, then fewer parameters)",
	ByGap:         "final gap between train and validation accuracy (smallest first; ties: higher validation accuracy)",
}

func buildRun(stem string, r Run, t Thresholds, add func(chart) figureView) (runView, error) {
	d := Diagnose(r, t)
	v := runView{
		Anchor: stem, Name: cmp.Or(r.Name, stem), Spec: r.Spec,
		Params: fmtParams(r.Params), Seconds: fmtSeconds(d.SecondsPerEpoch),
		Verdict: string(d.Verdict), VerdictClass: verdictClass(d.Verdict), Text: d.Text,
	}
	r.Name = v.Name
	if d.Epochs > 0 {
		v.Facts = []fact{
			{"epochs", strconv.Itoa(d.Epochs)},
			{"final accuracy", fmt.Sprintf("train %s, validation %s", num(d.FinalTrainAcc), num(d.FinalValAcc))},
			{"final gap", num(d.FinalGap)},
			{"largest gap", fmt.Sprintf("%s at epoch %d", num(d.LargestGap), d.LargestGapEpoch)},
			{"best validation accuracy", bestVal(d)},
			{"lowest validation loss", fmt.Sprintf("%.3f at epoch %d", d.BestValLoss, d.BestValLossEpoch)},
		}
		c, err := accuracyChart(stem+"-accuracy", r, d)
		if err != nil {
			return v, err
		}
		acc := add(c)
		if c, err = lossChart(stem+"-loss", r, d); err != nil {
			return v, err
		}
		loss := add(c)
		v.Accuracy, v.Loss = &acc, &loss
	}
	if r.Test != nil {
		tv, err := buildTest(stem, v.Name, *r.Test, add)
		if err != nil {
			return v, err
		}
		v.Test = tv
	}
	for n, m := range r.Worst {
		src, err := dataURI(m.Picture)
		if err != nil {
			return v, fmt.Errorf("worst mistake %d: %w", n+1, err)
		}
		lines := []string{"true: " + m.True, fmt.Sprintf("predicted: %s (%.0f%%)", m.Predicted, 100*m.Confidence)}
		v.Worst = append(v.Worst, thumbView{Src: src, Lines: append(lines, nonEmpty(m.Caption)...),
			Alt: fmt.Sprintf("a %s predicted as %s", m.True, m.Predicted)})
	}
	return v, nil
}

func buildTest(stem, name string, m Confusion, add func(chart) figureView) (*testView, error) {
	k := len(m.Classes)
	if k == 0 {
		return nil, errors.New("confusion matrix has no classes")
	}
	if len(m.Counts) != k {
		return nil, fmt.Errorf("confusion matrix has %d rows for %d classes", len(m.Counts), k)
	}
	colSum := make([]int, k)
	tv := &testView{}
	right := 0
	for i, row := range m.Counts {
		if len(row) != k {
			return nil, fmt.Errorf("confusion matrix row %d has %d columns for %d classes", i, len(row), k)
		}
		for j, n := range row {
			if n < 0 {
				return nil, fmt.Errorf("confusion matrix cell (%d, %d) is negative", i, j)
			}
			colSum[j] += n
			tv.Images += n
		}
		right += row[i]
	}
	for i, c := range m.Classes {
		support := sum2(m.Counts[i])
		p, r := ratio(m.Counts[i][i], colSum[i]), ratio(m.Counts[i][i], support)
		f1 := math.NaN()
		if p+r > 0 {
			f1 = 2 * p * r / (p + r)
		}
		tv.Classes = append(tv.Classes, classMetric{Name: c, Precision: fmtRatio(p), Recall: fmtRatio(r), F1: fmtRatio(f1), Support: support})
	}
	tv.Accuracy = fmtRatio(ratio(right, tv.Images))
	c, err := confusionChart(stem+"-confusion", name, m)
	if err != nil {
		return nil, err
	}
	tv.Figure = add(c)
	return tv, nil
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

func fmtRatio(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return num(v)
}

func sum(cs []Count) int {
	n := 0
	for _, c := range cs {
		n += c.N
	}
	return n
}

func sum2(vs []int) int {
	n := 0
	for _, v := range vs {
		n += v
	}
	return n
}

// sortedCounts lists counts largest first, merging repeated names.
func sortedCounts(cs []Count) []Count {
	m := map[string]int{}
	for _, c := range cs {
		m[c.Name] += c.N
	}
	out := make([]Count, 0, len(m))
	for k, n := range m {
		out = append(out, Count{k, n})
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Or(cmp.Compare(b.N, a.N), strings.Compare(a.Name, b.Name)) })
	return out
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func verdictClass(v Verdict) string {
	switch v {
	case FitsWell:
		return "v-ok"
	case Overfitting:
		return "v-over"
	case Underfitting:
		return "v-under"
	}
	return "v-bad"
}

func bestVal(d Diagnosis) string {
	if d.BestValEpoch == 0 {
		return "–"
	}
	return fmt.Sprintf("%s (%d)", num(d.BestValAcc), d.BestValEpoch)
}

func fmtNum(v float64, epochs int) string {
	if epochs == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return num(v)
}

// sortKey is the data-v the page's script sorts on; a missing value sorts
// last in the column's natural direction (dir -1: higher is better).
func sortKey(v float64, epochs int, dir int) string {
	if epochs == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		if dir < 0 {
			return "-1e9"
		}
		return "1e9"
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

func fmtParams(n int64) string {
	if n <= 0 {
		return "unknown"
	}
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func fmtSeconds(s float64) string {
	switch {
	case s <= 0:
		return "unknown"
	case s < 10:
		return fmt.Sprintf("%.2f s", s)
	}
	return fmt.Sprintf("%.1f s", s)
}

// slug makes a run name safe and readable in a file name and an HTML id.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(c)
			dash = false
		default:
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	return b.String()
}
