package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/brewer"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Okabe and Ito's palette, which stays distinguishable under the common
// colour-vision deficiencies. Yellow is left out: it vanishes on white.
var (
	blue       = color.RGBA{0x00, 0x72, 0xB2, 0xFF}
	vermillion = color.RGBA{0xD5, 0x5E, 0x00, 0xFF}
	green      = color.RGBA{0x00, 0x9E, 0x73, 0xFF}
	orange     = color.RGBA{0xE6, 0x9F, 0x00, 0xFF}
	purple     = color.RGBA{0xCC, 0x79, 0xA7, 0xFF}
	skyBlue    = color.RGBA{0x56, 0xB4, 0xE9, 0xFF}
	black      = color.RGBA{0x00, 0x00, 0x00, 0xFF}
	gridGrey   = color.RGBA{0xDD, 0xDD, 0xDD, 0xFF}

	seriesColours = []color.Color{blue, vermillion, green, orange, purple, skyBlue, black}
	// Dash patterns cycle more slowly than colours, so runs 1-7 differ by
	// colour and later ones by colour and dash, and a grey print still tells
	// series apart.
	// shapes mark the epochs of short runs; they differ even where colours
	// look alike
	shapes = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{}, draw.PyramidGlyph{},
		draw.RingGlyph{}, draw.BoxGlyph{}, draw.CrossGlyph{}}
	dashes = [][]vg.Length{nil, {vg.Points(6), vg.Points(3)}, {vg.Points(2), vg.Points(2)}, {vg.Points(8), vg.Points(3), vg.Points(2), vg.Points(3)}}
)

// Liberation Sans is compiled into gonum/plot, so PNGs look the same on
// every machine. The SVGs name it too, with metric-compatible fallbacks (see
// svgFonts).
var (
	sans     = font.Font{Typeface: "Liberation", Variant: "Sans"}
	sansBold = font.Font{Typeface: "Liberation", Variant: "Sans", Weight: xfont.WeightBold}
)

const (
	pngDPI = 144 // twice the 72 points per inch of the layout: sharp on high-density screens
	// maxLegendRunes keeps a long run name from squeezing the plot area.
	maxLegendRunes = 36
	maxTitleRunes  = 70
	// a run's accuracy and loss charts sit side by side on the page: at this
	// size they shrink little in a 1180-pixel column
	runChartW = 6.5 * vg.Inch
	runChartH = 4 * vg.Inch
)

// chart is one rendered figure.
type chart struct {
	Name string // file stem under charts/
	Alt  string // what the chart shows, for readers that cannot see it
	PNG  []byte
	SVG  []byte
}

// figure is a plot and a legend drawn in a strip at its right, outside the
// data area, so the legend never hides a curve.
type figure struct {
	p      *plot.Plot
	legend *plot.Legend // nil = none
	w, h   vg.Length
}

func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = truncate(title, maxTitleRunes)
	p.Title.TextStyle.Font = font.From(sansBold, 13)
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 11)
		a.Tick.Label.Font = font.From(sans, 10)
		a.Padding = vg.Points(2)
	}
	return p
}

func newLegend() *plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font = font.From(sans, 10)
	l.Left, l.Top = true, true
	l.Padding = vg.Points(4)
	return &l
}

func grid(vertical bool) *plotter.Grid {
	g := plotter.NewGrid()
	g.Horizontal.Color = gridGrey
	g.Vertical.Color = nil
	if vertical {
		g.Vertical.Color = gridGrey
	}
	return g
}

// render draws f as PNG and SVG.
func (f figure) render(name, alt string) (chart, error) {
	c := chart{Name: name, Alt: alt}
	img := vgimg.NewWith(vgimg.UseWH(f.w, f.h), vgimg.UseDPI(pngDPI))
	f.draw(draw.New(img))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return c, fmt.Errorf("chart %s: %w", name, err)
	}
	c.PNG = bytes.Clone(buf.Bytes())
	buf.Reset()
	svg := vgsvg.New(f.w, f.h)
	f.draw(draw.New(svg))
	if _, err := svg.WriteTo(&buf); err != nil {
		return c, fmt.Errorf("chart %s: %w", name, err)
	}
	c.SVG = svgFonts(buf.Bytes())
	return c, nil
}

func (f figure) draw(dc draw.Canvas) {
	// a margin keeps the outermost tick label and bar from touching the edge
	// paint the margin and legend strip too: an SVG viewer with a dark
	// background would otherwise show black legend text on black
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	dc = draw.Crop(dc, vg.Points(4), -vg.Points(12), vg.Points(4), -vg.Points(6))
	if f.legend == nil {
		f.p.Draw(dc)
		return
	}
	lw := f.legend.Rectangle(dc).Size().X + vg.Points(20)
	f.p.Draw(draw.Crop(dc, 0, -lw, 0, 0))
	// start the legend level with the top of the data area, below the title
	top := f.p.Title.TextStyle.Rectangle(f.p.Title.Text).Size().Y + f.p.Title.Padding + vg.Points(4)
	f.legend.Draw(draw.Crop(dc, dc.Size().X-lw+vg.Points(14), 0, 0, -top))
}

// svgFonts gives the SVG's font a fallback list: a browser without
// Liberation Sans would otherwise use its default serif, whose wider glyphs
// overlap. Arial and Helvetica have the same advance widths as Liberation
// Sans, so the layout computed here holds.
func svgFonts(svg []byte) []byte {
	return bytes.ReplaceAll(svg, []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
}

// epochTicks labels whole epochs only, at most about ten of them.
type epochTicks struct{}

func (epochTicks) Ticks(lo, hi float64) []plot.Tick {
	first, last := int(math.Ceil(lo)), int(math.Floor(hi))
	step := 1
	for _, s := range []int{1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000} {
		step = s
		if (last-first)/s <= 10 {
			break
		}
	}
	var ts []plot.Tick
	for e := first; e <= last; e++ {
		switch {
		case e%step == 0 || (e == 1 && step >= 5):
			ts = append(ts, plot.Tick{Value: float64(e), Label: strconv.Itoa(e)})
		case step <= 5:
			ts = append(ts, plot.Tick{Value: float64(e)}) // minor
		}
	}
	return ts
}

// fractionTicks labels accuracies every 0.1 (0.2 on a tall range, 0.05 on
// a short one), which DefaultTicks does not: it picked 0.2, 0.6, 1.0.
type fractionTicks struct{}

func (fractionTicks) Ticks(lo, hi float64) []plot.Tick {
	step, digits := 0.1, 1
	switch {
	case hi-lo > 0.6:
		step = 0.2
	case hi-lo <= 0.3:
		step, digits = 0.05, 2
	}
	minor := step / 2
	var ts []plot.Tick
	for i := int(math.Ceil(lo/minor - 1e-9)); float64(i)*minor <= hi+1e-9; i++ {
		t := plot.Tick{Value: float64(i) * minor}
		if i%2 == 0 {
			t.Label = strconv.FormatFloat(t.Value, 'f', digits, 64)
		}
		ts = append(ts, t)
	}
	return ts
}

// curve is a series over epochs: a line, with a glyph on every epoch when
// there are few enough to tell apart (a one-epoch run has no line to see).
type curve struct {
	*plotter.Line
	points *plotter.Scatter // nil on long runs
}

// maxGlyphEpochs is the longest run whose epochs get a glyph each.
const maxGlyphEpochs = 12

func (c curve) Plot(dc draw.Canvas, p *plot.Plot) {
	c.Line.Plot(dc, p)
	if c.points != nil {
		c.points.Plot(dc, p)
	}
}

func (c curve) Thumbnail(dc *draw.Canvas) {
	c.Line.Thumbnail(dc)
	if c.points != nil {
		c.points.Thumbnail(dc)
	}
}

// GlyphBoxes makes room for the glyphs at the edges of the data area.
func (c curve) GlyphBoxes(p *plot.Plot) []plot.GlyphBox {
	if c.points != nil {
		return c.points.GlyphBoxes(p)
	}
	return c.Line.GlyphBoxes(p)
}

func epochLine(vals []float64, c color.Color, dash []vg.Length, shape draw.GlyphDrawer) (curve, error) {
	var xys plotter.XYs
	for i, v := range vals {
		if !math.IsNaN(v) && !math.IsInf(v, 0) { // a diverged run still shows the epochs before it broke
			xys = append(xys, plotter.XY{X: float64(i + 1), Y: v})
		}
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return curve{}, err
	}
	l.Color, l.Width, l.Dashes = c, vg.Points(2), dash
	cv := curve{Line: l}
	if len(vals) <= maxGlyphEpochs {
		if cv.points, err = plotter.NewScatter(xys); err != nil {
			return curve{}, err
		}
		cv.points.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(3), Shape: shape}
	}
	return cv, nil
}

func marker(x, y float64, shape draw.GlyphDrawer) (*plotter.Scatter, error) {
	s, err := plotter.NewScatter(plotter.XYs{{X: x, Y: y}})
	if err != nil {
		return nil, err
	}
	s.GlyphStyle = draw.GlyphStyle{Color: black, Radius: vg.Points(5), Shape: shape}
	return s, nil
}

func epochPlot(title, yLabel string, n int) *plot.Plot {
	p := newPlot(title, "epoch", yLabel)
	p.X.Tick.Marker = epochTicks{}
	p.X.Min, p.X.Max = 1, float64(max(n, 2))
	p.Add(grid(true))
	return p
}

func series(r Run, f func(Epoch) float64) []float64 {
	vs := make([]float64, len(r.Epochs))
	for i, e := range r.Epochs {
		vs[i] = f(e)
	}
	return vs
}

// accuracyChart plots train and validation accuracy per epoch, marks the
// best validation epoch and draws the final gap the verdict is based on.
func accuracyChart(name string, r Run, d Diagnosis) (chart, error) {
	n := len(r.Epochs)
	p := epochPlot(r.Name+": accuracy", "accuracy", n)
	train, err := epochLine(series(r, func(e Epoch) float64 { return e.TrainAcc }), blue, nil, draw.CircleGlyph{})
	if err != nil {
		return chart{}, err
	}
	val, err := epochLine(series(r, func(e Epoch) float64 { return e.ValAcc }), vermillion, dashes[1], draw.PyramidGlyph{})
	if err != nil {
		return chart{}, err
	}
	p.Add(train, val)
	l := newLegend()
	l.Add("train", train)
	l.Add("validation", val)
	lo := 1.0
	for _, e := range r.Epochs {
		lo = min(lo, finiteOr(e.TrainAcc, 1), finiteOr(e.ValAcc, 1))
	}
	// whole tenths keep the scale comparable from run to run while not
	// squashing a 0.85-0.95 race against an empty 0-0.8 band
	p.Y.Min, p.Y.Max = max(0, math.Floor(lo*10)/10-0.05), 1.0
	p.Y.Tick.Marker = fractionTicks{}
	if d.Verdict != Diverged {
		best, err := marker(float64(d.BestValEpoch), d.BestValAcc, draw.RingGlyph{})
		if err != nil {
			return chart{}, err
		}
		last := r.Epochs[n-1]
		gap, err := plotter.NewLine(plotter.XYs{{X: float64(n), Y: last.TrainAcc}, {X: float64(n), Y: last.ValAcc}})
		if err != nil {
			return chart{}, err
		}
		gap.Color, gap.Width = black, vg.Points(1.5)
		p.Add(gap, best)
		l.Add(fmt.Sprintf("best validation: epoch %d, %s", d.BestValEpoch, num(d.BestValAcc)), best)
		l.Add("final gap: "+num(d.FinalGap), gap)
	}
	return figure{p: p, legend: l, w: runChartW, h: runChartH}.render(name,
		fmt.Sprintf("Train and validation accuracy per epoch of %s; the circle marks the best validation epoch and "+
			"the black bar the final gap.", r.Name))
}

// lossChart plots train and validation loss per epoch and marks the epoch of
// lowest validation loss.
func lossChart(name string, r Run, d Diagnosis) (chart, error) {
	p := epochPlot(r.Name+": loss", "loss", len(r.Epochs))
	train, err := epochLine(series(r, func(e Epoch) float64 { return e.TrainLoss }), blue, nil, draw.CircleGlyph{})
	if err != nil {
		return chart{}, err
	}
	val, err := epochLine(series(r, func(e Epoch) float64 { return e.ValLoss }), vermillion, dashes[1], draw.PyramidGlyph{})
	if err != nil {
		return chart{}, err
	}
	p.Add(train, val)
	p.Y.Min = 0
	l := newLegend()
	l.Add("train", train)
	l.Add("validation", val)
	if d.Verdict != Diverged {
		best, err := marker(float64(d.BestValLossEpoch), d.BestValLoss, draw.RingGlyph{})
		if err != nil {
			return chart{}, err
		}
		p.Add(best)
		l.Add(fmt.Sprintf("lowest validation: epoch %d, %.3f", d.BestValLossEpoch, d.BestValLoss), best)
	}
	return figure{p: p, legend: l, w: runChartW, h: runChartH}.render(name,
		fmt.Sprintf("Train and validation loss per epoch of %s; the circle marks the lowest validation loss.", r.Name))
}

// sweepChart overlays every run's validation accuracy.
func sweepChart(name, title string, runs []Run) (chart, error) {
	n := 0
	lo := 1.0
	for _, r := range runs {
		n = max(n, len(r.Epochs))
		for _, e := range r.Epochs {
			lo = min(lo, finiteOr(e.ValAcc, 1))
		}
	}
	p := epochPlot(title, "validation accuracy", n)
	p.Y.Min, p.Y.Max = max(0, math.Floor(lo*10)/10-0.05), 1.0
	p.Y.Tick.Marker = fractionTicks{}
	l := newLegend()
	for i, r := range runs {
		if len(r.Epochs) == 0 {
			continue
		}
		line, err := epochLine(series(r, func(e Epoch) float64 { return e.ValAcc }),
			seriesColours[i%len(seriesColours)], dashes[(i/len(seriesColours))%len(dashes)], shapes[i%len(shapes)])
		if err != nil {
			return chart{}, err
		}
		p.Add(line)
		l.Add(fmt.Sprintf("%s (%s)", truncate(r.Name, maxLegendRunes), num(r.Epochs[len(r.Epochs)-1].ValAcc)), line)
	}
	return figure{p: p, legend: l, w: 8.5 * vg.Inch, h: 4.5 * vg.Inch}.render(name,
		"Validation accuracy per epoch of every run of the sweep, with each run's final value in the legend.")
}

// confusionGrid lays the matrix out with true classes top to bottom, as it
// is read, and colours each cell by its share of the true class: a rare
// class's mistakes stay visible beside a common class's hits.
type confusionGrid struct {
	share [][]float64
}

func (g confusionGrid) Dims() (c, r int)   { return len(g.share), len(g.share) }
func (g confusionGrid) X(c int) float64    { return float64(c) }
func (g confusionGrid) Y(r int) float64    { return float64(r) }
func (g confusionGrid) Z(c, r int) float64 { return g.share[len(g.share)-1-r][c] }
func (g confusionGrid) Min() float64       { return 0 }
func (g confusionGrid) Max() float64       { return 1 }

// confusionChart draws the test confusion matrix as a heat map with the
// count in every cell.
func confusionChart(name, runName string, m Confusion) (chart, error) {
	k := len(m.Classes)
	share := make([][]float64, k)
	for i, row := range m.Counts {
		share[i] = make([]float64, k)
		total := 0
		for _, v := range row {
			total += v
		}
		for j, v := range row {
			if total > 0 {
				share[i][j] = float64(v) / float64(total)
			}
		}
	}
	blues, err := brewer.GetPalette(brewer.TypeSequential, "Blues", 9)
	if err != nil {
		return chart{}, err
	}
	p := newPlot(runName+": test confusion matrix", "predicted class", "true class")
	p.Add(plotter.NewHeatMap(confusionGrid{share}, smooth(blues.Colors(), 64)))
	var labels plotter.XYLabels
	for i, row := range m.Counts {
		for j, v := range row {
			labels.XYs = append(labels.XYs, plotter.XY{X: float64(j), Y: float64(k - 1 - i)})
			labels.Labels = append(labels.Labels, strconv.Itoa(v))
		}
	}
	cells, err := plotter.NewLabels(labels)
	if err != nil {
		return chart{}, err
	}
	size := 11.0
	if k > 12 {
		size = 8
	}
	for n := range cells.TextStyle {
		i, j := n/k, n%k
		st := &cells.TextStyle[n]
		st.Font = font.From(sans, font.Length(size))
		st.XAlign, st.YAlign = draw.XCenter, draw.YCenter
		st.Color = black
		if share[i][j] > 0.55 { // the darker half of the palette
			st.Color = color.White
		}
	}
	p.Add(cells)
	names := make([]string, k)
	rev := make([]string, k)
	for i, c := range m.Classes {
		names[i] = truncate(c, 24)
		rev[k-1-i] = names[i]
	}
	p.NominalX(names...)
	p.NominalY(rev...)
	p.X.Tick.Label.Rotation = math.Pi / 4
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	// size the canvas around square cells: the class names take what they
	// need at the left and, rotated by 45 degrees, at the bottom
	cell := vg.Points(40)
	if k > 12 {
		cell = vg.Points(max(18, 480/float64(k)))
	}
	var longest vg.Length
	for _, n := range names {
		longest = max(longest, p.X.Tick.Label.Width(n))
	}
	lineH := p.X.Label.TextStyle.Height("Mg")
	left := longest + lineH + vg.Points(34)
	bottom := longest*math.Sqrt2/2 + 2*lineH + vg.Points(34)
	top := p.Title.TextStyle.Height(p.Title.Text) + p.Title.Padding + vg.Points(12)
	w := max(left+vg.Length(k)*cell+vg.Points(20), p.Title.TextStyle.Width(p.Title.Text)+vg.Points(24))
	return figure{p: p, w: w, h: top + vg.Length(k)*cell + bottom}.render(name,
		fmt.Sprintf("Test confusion matrix of %s: rows are true classes, columns predicted classes, "+
			"numbers are image counts and colour is the share of the row.", runName))
}

// smooth interpolates a few palette stops into n colours, so a heat map
// cell's shade follows its value rather than jumping between 9 steps.
func smooth(stops []color.Color, n int) palette.Palette {
	out := make([]color.Color, n)
	for i := range out {
		t := float64(i) / float64(n-1) * float64(len(stops)-1)
		a := int(t)
		if a >= len(stops)-1 {
			out[i] = stops[len(stops)-1]
			continue
		}
		f := t - float64(a)
		r0, g0, b0, _ := stops[a].RGBA()
		r1, g1, b1, _ := stops[a+1].RGBA()
		mix := func(x, y uint32) uint8 { return uint8((float64(x)*(1-f) + float64(y)*f) / 257) }
		out[i] = color.RGBA{mix(r0, r1), mix(g0, g1), mix(b0, b1), 0xFF}
	}
	return fixedPalette(out)
}

type fixedPalette []color.Color

func (p fixedPalette) Colors() []color.Color { return p }

// barGroup is one series of a horizontal bar chart.
type barGroup struct {
	Name   string
	Colour color.Color
	Values []float64 // one per category
}

// barsChart draws horizontal bars, one group of bars per category, with the
// categories listed top to bottom in the given order: category names are
// read along the axis however long they are.
func barsChart(name, title, xLabel, alt string, categories []string, groups []barGroup) (chart, error) {
	k := len(categories)
	p := newPlot(title, xLabel, "")
	g := grid(true)
	g.Horizontal.Color = nil // bars run horizontally: only the count gridlines help
	p.Add(g)
	barPt := 10.0
	var l *plot.Legend
	if len(groups) > 1 {
		l = newLegend()
	} else {
		barPt = 16
	}
	top := 0.0
	for gi, g := range groups {
		vals := make(plotter.Values, k)
		var xys plotter.XYLabels
		for i := range k {
			v := g.Values[i]
			vals[k-1-i] = v // first category on top
			top = max(top, v)
			if v != 0 { // a row of zeros says nothing the missing bar does not
				xys.XYs = append(xys.XYs, plotter.XY{X: v, Y: float64(k - 1 - i)})
				xys.Labels = append(xys.Labels, strconv.FormatFloat(v, 'f', -1, 64))
			}
		}
		b, err := plotter.NewBarChart(vals, vg.Points(barPt))
		if err != nil {
			return chart{}, err
		}
		b.Horizontal = true
		b.Color = g.Colour
		b.LineStyle.Width = 0
		// groups are listed top to bottom in the legend's order
		off := vg.Points(barPt * (float64(len(groups)-1)/2 - float64(gi)))
		b.Offset = off
		// the count at the end of each bar saves reading it off the axis
		counts, err := plotter.NewLabels(xys)
		if err != nil {
			return chart{}, err
		}
		for i := range counts.TextStyle {
			counts.TextStyle[i].Font = font.From(sans, font.Length(min(barPt-1, 10)))
			counts.TextStyle[i].YAlign = draw.YCenter
		}
		counts.Offset = vg.Point{X: vg.Points(3), Y: off}
		p.Add(b, counts)
		if l != nil {
			l.Add(g.Name, b)
		}
	}
	names := make([]string, k)
	for i, c := range categories {
		names[k-1-i] = truncate(c, 32)
	}
	p.NominalY(names...)
	// headroom for the count printed after the longest bar
	p.X.Min, p.X.Max = 0, max(1, top*1.12)
	p.X.Tick.Marker = countTicks{}
	slot := barPt*float64(len(groups)) + 12
	h := vg.Length(k)*vg.Points(slot) + 1.1*vg.Inch
	return figure{p: p, legend: l, w: 7.5 * vg.Inch, h: max(h, 2*vg.Inch)}.render(name, alt)
}

// countTicks labels whole numbers only: half an image is not a count.
type countTicks struct{}

func (countTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for _, t := range (plot.DefaultTicks{}).Ticks(lo, hi) {
		if t.Label != "" && t.Value != math.Trunc(t.Value) {
			continue
		}
		if t.Label != "" {
			t.Label = strconv.FormatFloat(t.Value, 'f', 0, 64)
		}
		ts = append(ts, t)
	}
	return ts
}

func finiteOr(v, alt float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return alt
	}
	return v
}

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n-1]) + "…"
}
