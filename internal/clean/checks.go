package clean

// Check is one test of an image's own pixels.
//
// Reason returns the reason code the check flags with (a Reason*
// constant). Test is called once for each image that decoded (broken images
// never reach a check) with its measurements, and returns whether the image
// fails and a score: the measured value the decision rests on, in the units
// of the check's threshold, so a reviewer sees how far past the line an
// image is. Test must depend on nothing but m and the check's settings (no
// I/O, no state) and be safe for concurrent use, so that a re-run of clean
// on the same images flags the same ones.
type Check interface {
	Reason() string
	Test(m Measure) (score float64, flagged bool)
}

// threshold is a Check made of a reason and a comparison.
type threshold struct {
	reason string
	test   func(Measure) (float64, bool)
}

func (t threshold) Reason() string                 { return t.reason }
func (t threshold) Test(m Measure) (float64, bool) { return t.test(m) }

// Checks returns the pixel checks that c enables, in reasonOrder.
func Checks(c Config) []Check {
	all := []threshold{
		{ReasonTooSmall, func(m Measure) (float64, bool) {
			s := min(m.Width, m.Height)
			return float64(s), s < c.MinSide
		}},
		{ReasonOddAspect, func(m Measure) (float64, bool) {
			a := float64(max(m.Width, m.Height)) / float64(max(1, min(m.Width, m.Height)))
			return a, a > c.MaxAspect
		}},
		{ReasonLowInformation, func(m Measure) (float64, bool) {
			return m.Entropy, m.Entropy < c.MinEntropy || m.Contrast < c.MinContrast
		}},
		{ReasonDark, func(m Measure) (float64, bool) { return m.Brightness, m.Brightness < c.DarkBelow }},
		{ReasonBright, func(m Measure) (float64, bool) { return m.Brightness, m.Brightness > c.BrightAbove }},
		{ReasonBlurry, func(m Measure) (float64, bool) { return m.Sharpness, m.Sharpness < c.MinSharpness }},
		{ReasonGrayscale, func(m Measure) (float64, bool) { return m.Colourfulness, m.Colourfulness <= c.GrayscaleUpTo }},
	}
	var out []Check
	for _, t := range all {
		if c.enabled(t.reason) {
			out = append(out, t)
		}
	}
	return out
}
