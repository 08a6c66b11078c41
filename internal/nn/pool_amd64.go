//go:build !purego

package nn

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:noescape
func maxArgRowsAVX512(y *float32, arg *uint8, v *float32, ch, npix, vstride int, q uint8)

var hasMaxArgAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW

// maxArgRows applies maxArg to npix pixels of ch channels, with the
// candidate pixels vstride floats apart in v.
func maxArgRows(y []float32, arg []uint8, v []float32, ch, npix, vstride int, q uint8) {
	if npix <= 0 {
		return
	}
	if hasMaxArgAVX512 && ch%16 == 0 {
		if len(y) < npix*ch || len(arg) < npix*ch || len(v) < (npix-1)*vstride+ch {
			panic("nn: internal error: maxArgRows out of range")
		}
		maxArgRowsAVX512(&y[0], &arg[0], &v[0], ch, npix, vstride*int(unsafe.Sizeof(float32(0))), q)
		return
	}
	maxArgRowsGo(y, arg, v, ch, npix, vstride, q)
}
