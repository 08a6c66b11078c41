package ljpeg

// This is libjpeg-turbo's jpeg_idct_islow (jidctint.c: Copyright (C)
// 1991-1998 Thomas G. Lane, libjpeg-turbo modifications by D. R. Commander;
// IJG licence), translated to Go. It takes a dequantized block in natural
// order and leaves the samples before the +128 level shift, which
// reconstructBlock applies with clamping (libjpeg's range-limit table agrees
// with that clamping for every value a valid stream can produce).

// A block is an 8x8 input to the IDCT.
type block [blockSize]int32

const blockSize = 8 * 8

const (
	constBits = 13
	pass1Bits = 2

	fix0_298631336 = 2446
	fix0_390180644 = 3196
	fix0_541196100 = 4433
	fix0_765366865 = 6270
	fix0_899976223 = 7373
	fix1_175875602 = 9633
	fix1_501321110 = 12299
	fix1_847759065 = 15137
	fix1_961570560 = 16069
	fix2_053119869 = 16819
	fix2_562915447 = 20995
	fix3_072711026 = 25172
)

func descale(x int64, n uint) int64 { return (x + 1<<(n-1)) >> n }

// idct1D is the shared butterfly of both passes: in0..in7 are the inputs at
// frequencies 0..7; the eight outputs come back before descaling.
func idct1D(in0, in1, in2, in3, in4, in5, in6, in7 int64) (o [8]int64) {
	// Even part.
	z2, z3 := in2, in6
	z1 := (z2 + z3) * fix0_541196100
	tmp2 := z1 + z3*(-fix1_847759065)
	tmp3 := z1 + z2*fix0_765366865
	tmp0 := (in0 + in4) << constBits
	tmp1 := (in0 - in4) << constBits
	tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
	tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2

	// Odd part.
	tmp0, tmp1, tmp2, tmp3 = in7, in5, in3, in1
	z1 = tmp0 + tmp3
	z2 = tmp1 + tmp2
	z3 = tmp0 + tmp2
	z4 := tmp1 + tmp3
	z5 := (z3 + z4) * fix1_175875602
	tmp0 *= fix0_298631336
	tmp1 *= fix2_053119869
	tmp2 *= fix3_072711026
	tmp3 *= fix1_501321110
	z1 *= -fix0_899976223
	z2 *= -fix2_562915447
	z3 *= -fix1_961570560
	z4 *= -fix0_390180644
	z3 += z5
	z4 += z5
	tmp0 += z1 + z3
	tmp1 += z2 + z4
	tmp2 += z2 + z3
	tmp3 += z1 + z4

	return [8]int64{tmp10 + tmp3, tmp11 + tmp2, tmp12 + tmp1, tmp13 + tmp0,
		tmp13 - tmp0, tmp12 - tmp1, tmp11 - tmp2, tmp10 - tmp3}
}

func idct(b *block) {
	var ws [blockSize]int64
	// Pass 1: columns into the work array, scaled up by pass1Bits.
	for c := range 8 {
		if b[8+c] == 0 && b[16+c] == 0 && b[24+c] == 0 && b[32+c] == 0 &&
			b[40+c] == 0 && b[48+c] == 0 && b[56+c] == 0 {
			dc := int64(b[c]) << pass1Bits
			for r := range 8 {
				ws[r*8+c] = dc
			}
			continue
		}
		o := idct1D(int64(b[c]), int64(b[8+c]), int64(b[16+c]), int64(b[24+c]),
			int64(b[32+c]), int64(b[40+c]), int64(b[48+c]), int64(b[56+c]))
		for r := range 8 {
			ws[r*8+c] = descale(o[r], constBits-pass1Bits)
		}
	}
	// Pass 2: rows, removing both scalings and the factor of 8.
	for r := range 8 {
		w := ws[r*8 : r*8+8]
		if w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0 && w[6] == 0 && w[7] == 0 {
			v := int32(descale(w[0], pass1Bits+3))
			for c := range 8 {
				b[r*8+c] = v
			}
			continue
		}
		o := idct1D(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7])
		for c := range 8 {
			b[r*8+c] = int32(descale(o[c], constBits+pass1Bits+3))
		}
	}
}
