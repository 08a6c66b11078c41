package augment

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ParseParams reads settings written the way they are passed to Keras'
// ImageDataGenerator, so a Keras call can be pasted into a config:
//
//	rotation_range=20, width_shift_range=0.1, zoom_range=0.2,
//	horizontal_flip=True, brightness_range=[0.8, 1.2], rescale=1./255
//
// Pairs are separated by commas or new lines. Keys are Keras' argument names
// plus legacy112. Numbers may be written as fractions (1/255); booleans as
// true/false in any case; zoom_range as one number z (meaning [1-z, 1+z]) or
// a pair; brightness_range as a pair or None; fill_mode with or without
// quotes. A key given twice is an error. The result is validated.
func ParseParams(s string) (Params, error) {
	var p Params
	seen := map[string]bool{}
	for _, item := range splitTop(s) {
		key, val, ok := strings.Cut(item, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || key == "" || val == "" {
			return Params{}, fmt.Errorf("augment: %q: want key=value", item)
		}
		if seen[key] {
			return Params{}, fmt.Errorf("augment: %s given twice", key)
		}
		seen[key] = true
		if err := p.set(key, val); err != nil {
			return Params{}, fmt.Errorf("augment: %s=%s: %w", key, val, err)
		}
	}
	if err := p.Validate(); err != nil {
		return Params{}, err
	}
	return p, nil
}

// splitTop splits at commas and new lines outside brackets.
func splitTop(s string) []string {
	var items []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '[', '(':
			depth++
		case ']', ')':
			depth--
		case ',', '\n':
			if depth == 0 {
				items = append(items, s[start:i])
				start = i + 1
			}
		}
	}
	items = append(items, s[start:])
	out := items[:0]
	for _, it := range items {
		if strings.TrimSpace(it) != "" {
			out = append(out, it)
		}
	}
	return out
}

var errNoList = errors.New("the list form of Keras (choices) is not supported; give one number")

func (p *Params) set(key, val string) error {
	var err error
	switch key {
	case "rotation_range":
		p.RotationRange, err = parseNumber(val)
	case "width_shift_range":
		p.WidthShiftRange, err = parseScalar(val)
	case "height_shift_range":
		p.HeightShiftRange, err = parseScalar(val)
	case "shear_range":
		p.ShearRange, err = parseNumber(val)
	case "zoom_range":
		if isPair(val) {
			p.ZoomRange, err = parsePair(val)
		} else {
			var z float64
			z, err = parseNumber(val)
			if z != 0 {
				p.ZoomRange = ZoomRangeOf(z)
			}
		}
	case "channel_shift_range":
		p.ChannelShiftRange, err = parseNumber(val)
	case "brightness_range":
		if isNone(val) {
			p.BrightnessRange = [2]float64{}
		} else {
			p.BrightnessRange, err = parsePair(val)
		}
	case "horizontal_flip":
		p.HorizontalFlip, err = parseBool(val)
	case "vertical_flip":
		p.VerticalFlip, err = parseBool(val)
	case "legacy112":
		p.Legacy112, err = parseBool(val)
	case "fill_mode":
		p.FillMode = strings.Trim(val, `"'`)
	case "cval":
		p.Cval, err = parseNumber(val)
	case "rescale":
		if isNone(val) {
			p.Rescale = 0
		} else {
			p.Rescale, err = parseNumber(val)
		}
	default:
		return errors.New("unknown key; known: rotation_range, width_shift_range, height_shift_range, " +
			"shear_range, zoom_range, channel_shift_range, horizontal_flip, vertical_flip, brightness_range, fill_mode, cval, rescale, legacy112")
	}
	return err
}

func isPair(v string) bool { return strings.HasPrefix(v, "[") || strings.HasPrefix(v, "(") }

func isNone(v string) bool { return v == "None" || strings.EqualFold(v, "null") }

func parseScalar(v string) (float64, error) {
	if isPair(v) {
		return 0, errNoList
	}
	return parseNumber(v)
}

// parseNumber accepts a float or a quotient such as 1./255.
func parseNumber(v string) (float64, error) {
	if num, den, ok := strings.Cut(v, "/"); ok {
		a, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil {
			return 0, err
		}
		b, err := strconv.ParseFloat(strings.TrimSpace(den), 64)
		if err != nil {
			return 0, err
		}
		if b == 0 {
			return 0, errors.New("division by zero")
		}
		return a / b, nil
	}
	return strconv.ParseFloat(v, 64)
}

func parsePair(v string) ([2]float64, error) {
	if !isPair(v) || !(strings.HasSuffix(v, "]") || strings.HasSuffix(v, ")")) {
		return [2]float64{}, errors.New("want a pair such as [0.8, 1.2]")
	}
	parts := strings.Split(v[1:len(v)-1], ",")
	if len(parts) != 2 {
		return [2]float64{}, fmt.Errorf("want exactly two numbers, got %d", len(parts))
	}
	var out [2]float64
	for i, s := range parts {
		f, err := parseNumber(strings.TrimSpace(s))
		if err != nil {
			return [2]float64{}, err
		}
		out[i] = f
	}
	return out, nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errors.New("want True or False")
}

// String writes p in ParseParams' syntax, omitting settings left at their
// zero value, so ParseParams(p.String()) gives p back.
func (p Params) String() string {
	var parts []string
	num := func(k string, v float64) {
		if v != 0 {
			parts = append(parts, k+"="+strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	pair := func(k string, v [2]float64) {
		if v != [2]float64{} {
			parts = append(parts, fmt.Sprintf("%s=[%s, %s]", k,
				strconv.FormatFloat(v[0], 'g', -1, 64), strconv.FormatFloat(v[1], 'g', -1, 64)))
		}
	}
	flag := func(k string, v bool) {
		if v {
			parts = append(parts, k+"=True")
		}
	}
	num("rotation_range", p.RotationRange)
	num("width_shift_range", p.WidthShiftRange)
	num("height_shift_range", p.HeightShiftRange)
	num("shear_range", p.ShearRange)
	pair("zoom_range", p.ZoomRange)
	num("channel_shift_range", p.ChannelShiftRange)
	flag("horizontal_flip", p.HorizontalFlip)
	flag("vertical_flip", p.VerticalFlip)
	pair("brightness_range", p.BrightnessRange)
	if p.FillMode != "" {
		parts = append(parts, "fill_mode="+p.FillMode)
	}
	num("cval", p.Cval)
	num("rescale", p.Rescale)
	flag("legacy112", p.Legacy112)
	return strings.Join(parts, ", ")
}
