package nn

import (
	"slices"
	"testing"
)

func TestLayersDescribeInference(t *testing.T) {
	for spec, want := range map[string][]LayerKind{
		"8-16/bn/d2/h4": {KindConv, KindBatchNorm, KindReLU, KindMaxPool, KindConv, KindBatchNorm, KindReLU, KindMaxPool, KindFlatten, KindDense, KindDense},
		"8/gap/same":    {KindConv, KindMaxPool, KindGAP, KindDense, KindDense},
		"0/h0/d0":       {KindFlatten, KindDense},
	} {
		sp, err := ParseSpec(spec)
		if err != nil {
			t.Fatal(err)
		}
		in := Shape{12, 12, 3}
		if len(sp.Conv) == 0 {
			in = Shape{1, 1, 20}
		}
		m, err := Build(sp, in, 3, 1)
		if err != nil {
			t.Fatal(err)
		}
		ls := m.Layers()
		var got []LayerKind
		for i, l := range ls {
			got = append(got, l.Kind)
			if i > 0 && l.In != ls[i-1].Out {
				t.Errorf("%s: layer %d (%s) reads %v after %v", spec, i, l.Kind, l.In, ls[i-1].Out)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: layers %v, want %v", spec, got, want)
		}
		if ls[0].In != in || ls[len(ls)-1].Out.Size() != 3 {
			t.Errorf("%s: from %v to %v", spec, ls[0].In, ls[len(ls)-1].Out)
		}
		// Fused conv blocks come out with their ReLU.
		if spec == "8/gap/same" && (!ls[0].ReLU || ls[0].Pad != 1 || len(ls[0].B) != 8) {
			t.Errorf("%s: conv %+v", spec, ls[0])
		}
	}
}
