package catalog

import (
	"encoding/binary"
	"math"
	"sync"
)

// How clean_features.embedding holds a vector. Catalogs written before
// 2026-12-03 hold float32, little-endian: 4 bytes a value, 5,120 for
// MobileNetV2's 1,280. Since then a vector is written as float16 behind a
// one-byte tag: 2,561 bytes, half the file and half the reading. The tagged
// form always has an odd length, so it is never mistaken for float32 (whose
// length is a multiple of 4) and both read; a scour from before it sees the
// odd length as a damaged entry and labels the image again rather than
// misread it.
//
// float16 keeps 11 significant bits: an L2-normalised 1,280-wide vector
// comes back with a relative error under 0.05% per value, and cosines
// between two vectors move by under 1e-4, far below the precision of any
// threshold clean uses (embeddings_test.go).
const embFloat16 = 'h'

func encodeEmbedding(v []float32) []byte {
	if v == nil {
		return nil
	}
	b := make([]byte, 1+2*len(v))
	b[0] = embFloat16
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[1+2*i:], float16Bits(x))
	}
	return b
}

// decodeEmbedding reads either form; ok is false for bytes that are
// neither (a damaged entry).
func decodeEmbedding(b []byte) (v []float32, ok bool) {
	switch {
	case len(b) == 0:
		return nil, true
	case len(b)%4 == 0:
		v = make([]float32, len(b)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return v, true
	case len(b)%2 == 1 && b[0] == embFloat16:
		tab := float16Table()
		v = make([]float32, (len(b)-1)/2)
		for i := range v {
			v[i] = tab[binary.LittleEndian.Uint16(b[1+2*i:])]
		}
		return v, true
	}
	return nil, false
}

// float16Table maps every float16 bit pattern to its float32 value: 256 KB
// that turn decoding into one lookup a value.
var float16Table = sync.OnceValue(func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for h := range t {
		t[h] = float16Value(uint16(h))
	}
	return &t
})

func float16Value(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0xff<<23 | man<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
	}
	// Zero or subnormal: man × 2^-24.
	f := float32(man) * (1.0 / (1 << 24))
	if sign != 0 {
		f = -f
	}
	return f
}

// float16Bits rounds f to the nearest float16 (ties to even), as IEEE 754
// binary16: too large becomes infinity, too small a subnormal or zero.
func float16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23&0xff) - 127 + 15
	man := b & 0x7fffff
	switch {
	case b&0x7fffffff > 0x7f800000: // NaN: keep it a NaN
		return sign | 0x7e00
	case exp >= 0x1f: // too large, or infinity
		return sign | 0x7c00
	case exp <= 0:
		if exp < -10 {
			return sign // under half the smallest subnormal
		}
		man |= 0x800000 // the implicit bit
		shift := uint32(14 - exp)
		h := man >> shift
		rem := man & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || rem == half && h&1 == 1 {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(exp)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || rem == 0x1000 && h&1 == 1 {
		h++ // may carry into the exponent, which is still right
	}
	return sign | uint16(h)
}
