//go:build !purego

#include "textflag.h"

// func maxArgRowsAVX512(y *float32, arg *uint8, v *float32, ch, npix, vstride int, q uint8)
//
// For each of npix pixels (y and arg contiguous, ch per pixel; v pixels
// vstride bytes apart) and each channel: if v > y (ordered), y = v and
// arg = q. ch must be a positive multiple of 16.
TEXT ·maxArgRowsAVX512(SB), NOSPLIT, $0-49
	MOVQ         y+0(FP), DI
	MOVQ         arg+8(FP), BX
	MOVQ         v+16(FP), SI
	MOVQ         ch+24(FP), DX
	MOVQ         npix+32(FP), R8
	MOVQ         vstride+40(FP), R9
	MOVBLZX      q+48(FP), AX
	VPBROADCASTB AX, Z2
	TESTQ        R8, R8
	JLE          done

pix:
	MOVQ SI, R10
	MOVQ DX, CX

chan:
	VMOVUPS   (R10), Z0
	VMOVUPS   (DI), Z1
	VCMPPS    $0x1e, Z1, Z0, K1
	VMOVUPS   Z0, K1, (DI)
	VMOVDQU8  X2, K1, (BX)
	ADDQ      $64, R10
	ADDQ      $64, DI
	ADDQ      $16, BX
	SUBQ      $16, CX
	JNZ       chan
	ADDQ      R9, SI
	DECQ      R8
	JNZ       pix

done:
	VZEROUPPER
	RET
