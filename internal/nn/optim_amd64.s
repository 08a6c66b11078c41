//go:build !purego

#include "textflag.h"

// func adamAVX512(w, grad, m, v *float32, n int, k *adamConsts)
//
// n must be a multiple of 16. See adamConsts for the formula.
TEXT ·adamAVX512(SB), NOSPLIT, $0-48
	MOVQ         w+0(FP), DI
	MOVQ         grad+8(FP), SI
	MOVQ         m+16(FP), R8
	MOVQ         v+24(FP), R9
	MOVQ         n+32(FP), CX
	MOVQ         k+40(FP), AX
	VBROADCASTSS 0(AX), Z20  // b1
	VBROADCASTSS 4(AX), Z21  // 1-b1
	VBROADCASTSS 8(AX), Z22  // b2
	VBROADCASTSS 12(AX), Z23 // 1-b2
	VBROADCASTSS 16(AX), Z24 // step
	VBROADCASTSS 20(AX), Z25 // rbc2
	VBROADCASTSS 24(AX), Z26 // eps
	VBROADCASTSS 28(AX), Z27 // wdc
	VBROADCASTSS 32(AX), Z28 // wdd
	TESTQ        CX, CX
	JLE          done

loop:
	VMOVUPS      (DI), Z0
	VMOVUPS      (SI), Z1
	VMOVUPS      (R8), Z2
	VMOVUPS      (R9), Z3
	VFMADD231PS  Z27, Z0, Z1 // g += wdc*w
	VFNMADD231PS Z28, Z0, Z0 // w -= wdd*w
	VMULPS       Z20, Z2, Z2
	VFMADD231PS  Z21, Z1, Z2 // m = b1*m + (1-b1)*g
	VMULPS       Z1, Z1, Z4
	VMULPS       Z22, Z3, Z3
	VFMADD231PS  Z23, Z4, Z3 // v = b2*v + (1-b2)*g*g
	VSQRTPS      Z3, Z5
	VFMADD213PS  Z26, Z25, Z5 // d = sqrt(v)*rbc2 + eps
	VDIVPS       Z5, Z2, Z6   // m/d
	VFNMADD231PS Z24, Z6, Z0  // w -= step*m/d
	VMOVUPS      Z0, (DI)
	VMOVUPS      Z2, (R8)
	VMOVUPS      Z3, (R9)
	ADDQ         $64, DI
	ADDQ         $64, SI
	ADDQ         $64, R8
	ADDQ         $64, R9
	SUBQ         $16, CX
	JNZ          loop

done:
	VZEROUPPER
	RET
