//go:build !amd64 || purego

package nn

func maxArgRows(y []float32, arg []uint8, v []float32, ch, npix, vstride int, q uint8) {
	maxArgRowsGo(y, arg, v, ch, npix, vstride, q)
}
