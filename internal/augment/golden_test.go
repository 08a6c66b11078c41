package augment

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The golden files come from tools/kerasref/make_golden.py, which runs the
// Keras source's own steps on numpy, scipy.ndimage and Pillow.
type goldenFile struct {
	Reference string `json:"reference"`
	Inputs    map[string]struct {
		H, W, C int
		Data    []float32
	} `json:"inputs"`
	Cases []struct {
		Name      string
		Input     string
		Transform struct {
			Theta, Tx, Ty, Shear, Zx, Zy float64
			FlipH                        bool     `json:"flip_h"`
			FlipV                        bool     `json:"flip_v"`
			ChannelShift                 *float64 `json:"channel_shift"`
			Brightness                   *float64 `json:"brightness"`
		}
		FillMode string `json:"fill_mode"`
		Cval     float64
		Want     []float32
	} `json:"cases"`
}

// goldenTol is 0 on amd64, where Go never fuses a multiply and an add and
// the float64 steps follow scipy's order, so every value must match to the
// bit. Compilers for arm64, ppc64 and s390x fuse them into FMA, which moves
// the last bits.
var goldenTol = map[bool]float64{true: 0, false: 1e-4}[runtime.GOARCH == "amd64"]

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		file   string
		legacy bool
	}{
		{"keras3.json.gz", false},
		{"legacy112.json.gz", true},
	} {
		g := readGolden(t, tc.file)
		if len(g.Cases) == 0 {
			t.Fatalf("%s: no cases", tc.file)
		}
		for _, c := range g.Cases {
			t.Run(strings.TrimSuffix(tc.file, ".json.gz")+"/"+c.Name, func(t *testing.T) {
				in, ok := g.Inputs[c.Input]
				if !ok {
					t.Fatalf("input %q missing", c.Input)
				}
				tr := Transform{
					Theta: c.Transform.Theta, Tx: c.Transform.Tx, Ty: c.Transform.Ty,
					Shear: c.Transform.Shear, Zx: c.Transform.Zx, Zy: c.Transform.Zy,
					FlipH: c.Transform.FlipH, FlipV: c.Transform.FlipV, Legacy112: tc.legacy,
				}
				if c.Transform.ChannelShift != nil {
					tr.ChannelShift = *c.Transform.ChannelShift
				}
				if c.Transform.Brightness != nil {
					tr.Brightness = *c.Transform.Brightness
				}
				got := make([]float32, len(in.Data))
				Apply(got, in.Data, in.H, in.W, in.C, tr, c.FillMode, c.Cval)
				if msg := compare(got, c.Want, in.W, in.C, goldenTol); msg != "" {
					t.Errorf("%s vs %s, %+v fill=%s cval=%v:\n%s", g.Reference, tc.file, tr, c.FillMode, c.Cval, msg)
				}
			})
		}
	}
}

func readGolden(t *testing.T, name string) goldenFile {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var g goldenFile
	if err := json.NewDecoder(zr).Decode(&g); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return g
}

// compare reports up to five differing values by (row, col, channel).
func compare(got, want []float32, w, c int, tol float64) string {
	if len(got) != len(want) {
		return fmt.Sprintf("length %d, want %d", len(got), len(want))
	}
	var b strings.Builder
	bad := 0
	for i := range got {
		if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= tol) {
			if bad < 5 {
				fmt.Fprintf(&b, "  [%d,%d,%d] got %v want %v\n", i/c/w, i/c%w, i%c, got[i], want[i])
			}
			bad++
		}
	}
	if bad > 0 {
		fmt.Fprintf(&b, "  %d of %d values differ by more than %g", bad, len(got), tol)
	}
	return b.String()
}
