package nn

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Spec describes a network: conv blocks, then a head of optional hidden
// dense layers and a final dense layer with one output per class.
//
// Each conv block is Conv2D(filters, Kernel x Kernel, stride 1) [+ BatchNorm]
// + ReLU + MaxPool2D(2). The head starts with Flatten (or global average
// pooling with GAP), then:
//
//	Dropout=0: Dense(h)+ReLU ... Dense(classes)
//	Dropout=1: Dropout, Dense(h)+ReLU ... Dense(classes)     (the reference model)
//	Dropout=2: Dropout, Dense(h)+ReLU, Dropout ... Dense(classes)
//
// that is, dropout=N counts the dropout layers of the original Keras
// experiments: the first sits before the dense head, the second after each
// hidden dense layer. All use Rate.
type Spec struct {
	Conv      []int   // filters of each conv block
	Kernel    int     // conv kernel size (default 3)
	Same      bool    // "same" zero padding instead of "valid"
	BatchNorm bool    // batch norm after each conv (the conv then has no bias)
	GAP       bool    // global average pooling instead of Flatten
	Dropout   int     // 0, 1 or 2 dropout layers, see above
	Rate      float32 // dropout rate in [0, 1) (default 0.5)
	Dense     []int   // hidden dense layer widths (default [128])
}

// ParseSpec reads a spec in either of two forms.
//
// Short: filters joined by "-", then optional "/"-separated flags:
// "d<N>" or "d<N>@<rate>" (dropout layers and rate), "bn", "gap", "same",
// "k<size>", "h<units>[-<units>...]" (hidden dense widths, "h0" for none).
// Example: "32-64-128/d2@0.3/bn".
//
// Long: space-separated key=value fields: conv=32,64,128 dropout=1
// rate=0.5 (or dropout=1@0.5) dense=128 kernel=3 padding=valid|same, and
// the flags bn and gap (or bn=true, head=gap|flatten). Example:
// "conv=32,64,128 dropout=1 dense=128".
//
// Unset fields take the defaults of the reference model: kernel 3, valid
// padding, one dropout layer at rate 0.5, one hidden dense layer of 128.
func ParseSpec(s string) (Spec, error) {
	sp := Spec{Kernel: 3, Dropout: 1, Rate: 0.5, Dense: []int{128}}
	s = strings.TrimSpace(s)
	var err error
	if strings.Contains(s, "=") || s == "bn" || s == "gap" {
		err = sp.parseLong(s)
	} else {
		err = sp.parseShort(s)
	}
	if err != nil {
		return Spec{}, fmt.Errorf("spec %q: %w", s, err)
	}
	if err := sp.Validate(); err != nil {
		return Spec{}, fmt.Errorf("spec %q: %w", s, err)
	}
	return sp, nil
}

func (sp *Spec) parseShort(s string) error {
	parts := strings.Split(s, "/")
	var err error
	if sp.Conv, err = parseInts(parts[0], "-"); err != nil {
		return fmt.Errorf("conv filters: %w", err)
	}
	for _, f := range parts[1:] {
		switch {
		case f == "bn":
			sp.BatchNorm = true
		case f == "gap":
			sp.GAP = true
		case f == "same":
			sp.Same = true
		case f == "valid":
			sp.Same = false
		case strings.HasPrefix(f, "d"):
			if err := sp.parseDropout(f[1:]); err != nil {
				return err
			}
		case strings.HasPrefix(f, "k"):
			if sp.Kernel, err = strconv.Atoi(f[1:]); err != nil {
				return fmt.Errorf("kernel size %q: %w", f[1:], err)
			}
		case strings.HasPrefix(f, "h"):
			if sp.Dense, err = parseInts(f[1:], "-"); err != nil {
				return fmt.Errorf("dense widths: %w", err)
			}
		default:
			return fmt.Errorf("unknown flag %q (want d<N>[@rate], bn, gap, same, k<size>, h<units>)", f)
		}
	}
	return nil
}

func (sp *Spec) parseLong(s string) error {
	for _, f := range strings.Fields(s) {
		key, val, hasVal := strings.Cut(f, "=")
		var err error
		switch key {
		case "conv":
			sp.Conv, err = parseInts(val, ",")
		case "dense":
			sp.Dense, err = parseInts(val, ",")
		case "dropout":
			err = sp.parseDropout(val)
		case "rate":
			err = sp.parseRate(val)
		case "kernel":
			sp.Kernel, err = strconv.Atoi(val)
		case "padding":
			switch val {
			case "valid":
				sp.Same = false
			case "same":
				sp.Same = true
			default:
				err = fmt.Errorf("padding %q (want valid or same)", val)
			}
		case "bn", "gap":
			on := true
			if hasVal {
				on, err = strconv.ParseBool(val)
			}
			if key == "bn" {
				sp.BatchNorm = on
			} else {
				sp.GAP = on
			}
		case "head":
			switch val {
			case "flatten":
				sp.GAP = false
			case "gap":
				sp.GAP = true
			default:
				err = fmt.Errorf("head %q (want flatten or gap)", val)
			}
		default:
			err = fmt.Errorf("unknown field %q (want conv, dense, dropout, rate, kernel, padding, bn, gap, head)", key)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	return nil
}

func (sp *Spec) parseDropout(v string) error {
	n, rate, hasRate := strings.Cut(v, "@")
	d, err := strconv.Atoi(n)
	if err != nil {
		return fmt.Errorf("dropout count %q: %w", n, err)
	}
	sp.Dropout = d
	if hasRate {
		return sp.parseRate(rate)
	}
	return nil
}

func (sp *Spec) parseRate(v string) error {
	r, err := strconv.ParseFloat(v, 32)
	if err != nil {
		return fmt.Errorf("dropout rate %q: %w", v, err)
	}
	sp.Rate = float32(r)
	return nil
}

// parseInts reads sep-separated positive integers; "" and "0" mean none.
func parseInts(s, sep string) ([]int, error) {
	if s == "" || s == "0" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, sep) {
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		if v < 1 {
			return nil, fmt.Errorf("%d must be positive", v)
		}
		out = append(out, v)
	}
	return out, nil
}

// Validate reports a spec that cannot be built.
func (sp Spec) Validate() error {
	switch {
	case sp.Kernel < 1 || sp.Kernel > 15:
		return fmt.Errorf("kernel size %d out of 1..15", sp.Kernel)
	case sp.Same && sp.Kernel%2 == 0:
		return fmt.Errorf("same padding needs an odd kernel size, not %d", sp.Kernel)
	case sp.Dropout < 0 || sp.Dropout > 2:
		return fmt.Errorf("dropout must be 0, 1 or 2 layers, not %d", sp.Dropout)
	case sp.Dropout == 2 && len(sp.Dense) == 0:
		return fmt.Errorf("dropout=2 puts one after the hidden dense layer, but there is none")
	case !(sp.Rate >= 0 && sp.Rate < 1):
		return fmt.Errorf("dropout rate %v out of [0, 1)", sp.Rate)
	case len(sp.Conv) > 16 || len(sp.Dense) > 16:
		return fmt.Errorf("more than 16 conv or dense layers")
	}
	for _, v := range append(slices.Clone(sp.Conv), sp.Dense...) {
		if v < 1 || v > 1<<16 {
			return fmt.Errorf("layer width %d out of 1..65536", v)
		}
	}
	return nil
}

// String is the canonical long form; ParseSpec(sp.String()) gives sp back.
func (sp Spec) String() string {
	join := func(v []int) string {
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = strconv.Itoa(x)
		}
		return strings.Join(s, ",")
	}
	pad := "valid"
	if sp.Same {
		pad = "same"
	}
	dense := join(sp.Dense)
	if dense == "" {
		dense = "0"
	}
	s := fmt.Sprintf("conv=%s kernel=%d padding=%s dropout=%d rate=%s dense=%s",
		join(sp.Conv), sp.Kernel, pad, sp.Dropout, strconv.FormatFloat(float64(sp.Rate), 'g', -1, 32), dense)
	if sp.BatchNorm {
		s += " bn"
	}
	if sp.GAP {
		s += " gap"
	}
	return s
}
