package catalog

import (
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// Every float16 value survives the trip through float32 and back, and a
// float32 rounds to the nearer of its two float16 neighbours.
func TestFloat16(t *testing.T) {
	for h := range 1 << 16 {
		f := float16Value(uint16(h))
		if f != f {
			if g := float16Bits(f); g&0x7c00 != 0x7c00 || g&0x3ff == 0 {
				t.Fatalf("NaN %#04x came back as %#04x, not a NaN", h, g)
			}
			continue
		}
		if g := float16Bits(f); g != uint16(h) {
			t.Fatalf("%#04x (%g) came back as %#04x", h, f, g)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		f := float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(12)-8)))
		h := float16Bits(f)
		got := float16Value(h)
		// The neighbour on the far side of f must not be nearer.
		other := h + 1
		if (got < f) != (f > 0) {
			other = h - 1
		}
		if h&0x7fff == 0 || h&0x7c00 == 0x7c00 {
			continue
		}
		if alt := float16Value(other); math.Abs(float64(alt-f)) < math.Abs(float64(got-f)) {
			t.Fatalf("%g rounded to %g, but %g is nearer", f, got, alt)
		}
	}
	for _, c := range []struct {
		f    float32
		want uint16
	}{{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {1e6, 0x7c00}, {float32(math.Inf(-1)), 0xfc00}, {5.96e-8, 0x0001}, {2e-8, 0}, {1 + 1.0/2048, 0x3c00}, {1 + 3.0/2048, 0x3c02}} {
		if got := float16Bits(c.f); got != c.want {
			t.Errorf("float16Bits(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
}

func unitVector(r *rand.Rand, d int) []float32 {
	v := make([]float32, d)
	var ss float64
	for i := range v {
		x := math.Abs(r.NormFloat64()) * r.Float64() // non-negative and skewed, like MobileNetV2's
		v[i] = float32(x)
		ss += x * x
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(ss))
	}
	return v
}

func dot32(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// Embeddings are written as float16 and read back within float16's
// precision; catalogs that hold float32 (written before) still read; bytes
// that are neither are left out, to be labelled again.
func TestEmbeddingStorage(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	r := rand.New(rand.NewPCG(3, 4))
	const d = 1280
	vecs := map[string][]float32{}
	fs := map[string]CleanFeatures{}
	for _, sha := range []string{"a", "b", "c", "d"} {
		vecs[sha] = unitVector(r, d)
		fs[sha] = CleanFeatures{Labels: []CleanLabel{{"ship", 0.5}}, Embedding: vecs[sha]}
	}
	fs["none"] = CleanFeatures{Labels: []CleanLabel{{"cat", 0.9}}}
	if err := c.SaveCleanFeatures(ctx, "m", fs); err != nil {
		t.Fatal(err)
	}
	var size int
	if err := c.db.QueryRow(`SELECT length(embedding) FROM clean_features WHERE sha256 = 'a'`).Scan(&size); err != nil {
		t.Fatal(err)
	}
	if size != 1+2*d {
		t.Errorf("a %d-wide embedding takes %d bytes, want %d", d, size, 1+2*d)
	}
	// An old row: float32 as scour wrote it before.
	old := make([]byte, 4*d)
	vecs["old"] = unitVector(r, d)
	for i, x := range vecs["old"] {
		binary.LittleEndian.PutUint32(old[4*i:], math.Float32bits(x))
	}
	if _, err := c.db.Exec(`INSERT INTO clean_features(sha256, model, labels, embedding) VALUES('old', 'm', '[]', ?), ('bad', 'm', '[]', ?)`,
		old, []byte{'x', 1, 2}); err != nil {
		t.Fatal(err)
	}
	got, err := c.CleanFeatures(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["bad"]; ok {
		t.Error("a damaged embedding was read")
	}
	if e := got["none"].Embedding; e != nil || len(got["none"].Labels) != 1 {
		t.Errorf("features without an embedding read as %+v", got["none"])
	}
	for sha, want := range vecs {
		g := got[sha].Embedding
		if len(g) != d {
			t.Fatalf("%s: %d values, want %d", sha, len(g), d)
		}
		for i := range g {
			tol := float32(0)
			if sha != "old" {
				tol = max(want[i]/2048, 6e-8)
			}
			if diff := g[i] - want[i]; diff > tol || -diff > tol {
				t.Fatalf("%s[%d] = %g, want %g (within %g)", sha, i, g[i], want[i], tol)
			}
		}
	}
	// What clean compares: cosines move by far less than any threshold's
	// precision.
	var worst float64
	for _, a := range []string{"a", "b", "c", "d"} {
		for _, b := range []string{"a", "b", "c", "d"} {
			worst = max(worst, math.Abs(dot32(got[a].Embedding, got[b].Embedding)-dot32(vecs[a], vecs[b])))
		}
	}
	if worst > 1e-4 {
		t.Errorf("cosines moved by up to %g through float16", worst)
	}
	t.Logf("largest change of a cosine through float16: %.2g", worst)
}
