//go:build gc && !purego

#include "textflag.h"

// NEON kernels of the int8 matrix-vector product (int8.go). The sums are
// exact int32 and the float steps are those of int8_amd64.s and the Go
// code, so every implementation gives the same bits. Instructions the Go
// assembler lacks are WORDs, operands as in kernels_arm64.s: OP(m, n, d)
// computes Vd = Vn OP Vm.

#define FABS4(n, d) WORD $(0x4EA0F800|(n)<<5|(d))              // FABS Vd.4S, Vn.4S
#define FMAXNM4(m, n, d) WORD $(0x4E20C400|(m)<<16|(n)<<5|(d)) // FMAXNM Vd.4S, Vn.4S, Vm.4S
#define FMINNM4(m, n, d) WORD $(0x4EA0C400|(m)<<16|(n)<<5|(d)) // FMINNM Vd.4S, Vn.4S, Vm.4S
#define FMAXNMV(n, d) WORD $(0x6E30C800|(n)<<5|(d))            // FMAXNMV Sd, Vn.4S
#define FMUL4(m, n, d) WORD $(0x6E20DC00|(m)<<16|(n)<<5|(d))   // FMUL Vd.4S, Vn.4S, Vm.4S
#define FADD4(m, n, d) WORD $(0x4E20D400|(m)<<16|(n)<<5|(d))   // FADD Vd.4S, Vn.4S, Vm.4S
#define FCVTNS4(n, d) WORD $(0x4E21A800|(n)<<5|(d))            // FCVTNS Vd.4S, Vn.4S (to nearest, ties to even)
#define SCVTF4(n, d) WORD $(0x4E21D800|(n)<<5|(d))             // SCVTF Vd.4S, Vn.4S
#define SQXTN4H(n, d) WORD $(0x0E614800|(n)<<5|(d))            // SQXTN Vd.4H, Vn.4S
#define SQXTN8H(n, d) WORD $(0x4E614800|(n)<<5|(d))            // SQXTN2 Vd.8H, Vn.4S
#define SQXTN8B(n, d) WORD $(0x0E214800|(n)<<5|(d))            // SQXTN Vd.8B, Vn.8H
#define SQXTN16B(n, d) WORD $(0x4E214800|(n)<<5|(d))           // SQXTN2 Vd.16B, Vn.8H
#define SMULL8(m, n, d) WORD $(0x0E20C000|(m)<<16|(n)<<5|(d))  // SMULL Vd.8H, Vn.8B, Vm.8B
#define SMULL16(m, n, d) WORD $(0x4E20C000|(m)<<16|(n)<<5|(d)) // SMULL2 Vd.8H, Vn.16B, Vm.16B
#define SADALP(n, d) WORD $(0x4E606800|(n)<<5|(d))             // SADALP Vd.4S, Vn.8H
#define ADDP4(m, n, d) WORD $(0x4EA0BC00|(m)<<16|(n)<<5|(d))   // ADDP Vd.4S, Vn.4S, Vm.4S

// SDOT Vd.4S, Vn.16B, Vm.4B[lane]: lane j of Vd += the dot product of the
// four bytes 4j..4j+3 of Vn with the bytes 4·lane..4·lane+3 of Vm.
#define SDOTE(m, lane, n, d) WORD $(0x4F80E000|((lane)&1)<<21|((lane)>>1)<<11|(m)<<16|(n)<<5|(d))

#define ZERO(V) VEOR V.B16, V.B16, V.B16

// func maxAbsAsm(x *float32, n16 int) float32
TEXT ·maxAbsAsm(SB), NOSPLIT, $0-20
	MOVD x+0(FP), R0
	MOVD n16+8(FP), R1
	ZERO(V4)
	ZERO(V5)
	ZERO(V6)
	ZERO(V7)

maxabs:
	VLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	FABS4(0, 0)
	FABS4(1, 1)
	FABS4(2, 2)
	FABS4(3, 3)
	FMAXNM4(0, 4, 4)
	FMAXNM4(1, 5, 5)
	FMAXNM4(2, 6, 6)
	FMAXNM4(3, 7, 7)
	SUBS $16, R1
	BNE  maxabs
	FMAXNM4(5, 4, 4)
	FMAXNM4(7, 6, 6)
	FMAXNM4(6, 4, 4)
	FMAXNMV(4, 4)
	FMOVS F4, ret+16(FP)
	RET

// QUANT4(r) turns the four floats in Vr into int32: x·inv (V16),
// clamped to [-127 (V17), 127 (V18)], a NaN becoming -127, then rounded to
// nearest, ties to even.
#define QUANT4(r) \
	FMUL4(16, r, r)   \
	FMAXNM4(17, r, r) \
	FMINNM4(18, r, r) \
	FCVTNS4(r, r)

// func quantizeAsm(q *int8, x *float32, n16 int, inv float32)
TEXT ·quantizeAsm(SB), NOSPLIT, $0-28
	MOVD  q+0(FP), R0
	MOVD  x+8(FP), R1
	MOVD  n16+16(FP), R2
	FMOVS inv+24(FP), F16
	VDUP  V16.S[0], V16.S4
	MOVW  $0xC2FE0000, R3 // -127.0
	VDUP  R3, V17.S4
	MOVW  $0x42FE0000, R3 // 127.0
	VDUP  R3, V18.S4

quantize:
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	QUANT4(0)
	QUANT4(1)
	QUANT4(2)
	QUANT4(3)
	SQXTN4H(0, 4)
	SQXTN8H(1, 4)
	SQXTN4H(2, 5)
	SQXTN8H(3, 5)
	SQXTN8B(4, 6)
	SQXTN16B(5, 6)
	VST1.P [V6.B16], 16(R0)
	SUBS   $16, R2
	BNE    quantize
	RET

// func dequantizeAsm(y *float32, acc *int32, n16 int, sx float32, ws, b *float32)
TEXT ·dequantizeAsm(SB), NOSPLIT, $0-48
	MOVD  y+0(FP), R0
	MOVD  acc+8(FP), R1
	MOVD  n16+16(FP), R2
	FMOVS sx+24(FP), F16
	VDUP  V16.S[0], V16.S4
	MOVD  ws+32(FP), R4
	MOVD  b+40(FP), R5

dequantize:
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R4), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R5), [V20.S4, V21.S4, V22.S4, V23.S4]
	FMUL4(4, 16, 4) // c = sx·ws
	FMUL4(5, 16, 5)
	FMUL4(6, 16, 6)
	FMUL4(7, 16, 7)
	SCVTF4(0, 0)
	SCVTF4(1, 1)
	SCVTF4(2, 2)
	SCVTF4(3, 3)
	FMUL4(4, 0, 0)  // p = acc·c
	FMUL4(5, 1, 1)
	FMUL4(6, 2, 2)
	FMUL4(7, 3, 3)
	FADD4(20, 0, 0) // y = p + b
	FADD4(21, 1, 1)
	FADD4(22, 2, 2)
	FADD4(23, 3, 3)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUBS   $16, R2
	BNE    dequantize
	RET

// SDOT16(lane) adds the products of the four q values in lane `lane` of
// V16 with the next column group of the 16 rows (64 bytes at R6, then R6
// moves on by the group stride R5) to the sums of those rows in V24-V27.
#define SDOT16(lane) \
	VLD1.P (R6)(R5), [V0.B16, V1.B16, V2.B16, V3.B16] \
	SDOTE(16, lane, 0, 24) \
	SDOTE(16, lane, 1, 25) \
	SDOTE(16, lane, 2, 26) \
	SDOTE(16, lane, 3, 27)

// WIDEN4(r, a, b) adds the products of the four bytes of each row in Vr
// with the four q values repeated in V17: the 16 products of two rows are
// widened to int16 (V20, V21) and added in pairs to int32 sums: Va gets
// rows 0-1 of Vr, two partial sums each, Vb rows 2-3.
#define WIDEN4(r, a, b) \
	SMULL8(17, r, 20)  \
	SMULL16(17, r, 21) \
	SADALP(20, a)      \
	SADALP(21, b)

// WIDEN16(lane) is SDOT16 without the dot-product extension (Cortex-A53,
// A72): V24-V31 hold two partial sums per row.
#define WIDEN16(lane) \
	VDUP   V16.S[lane], V17.S4 \
	VLD1.P (R6)(R5), [V0.B16, V1.B16, V2.B16, V3.B16] \
	WIDEN4(0, 24, 25) \
	WIDEN4(1, 26, 27) \
	WIDEN4(2, 28, 29) \
	WIDEN4(3, 30, 31)

// func dotInt8Asm(acc *int32, w, q *int8, np, kp int)
TEXT ·dotInt8Asm(SB), NOSPLIT, $0-40
	MOVD  acc+0(FP), R0
	MOVD  w+8(FP), R1
	MOVD  q+16(FP), R2
	MOVD  np+24(FP), R3
	MOVD  kp+32(FP), R4
	LSL   $2, R3, R5 // bytes from one column group to the next
	MOVBU ·useSDOT(SB), R9
	CBZ   R9, widenRows

sdotRows: // 16 rows at a time
	MOVD R1, R6
	MOVD R2, R7
	MOVD R4, R8
	ZERO(V24)
	ZERO(V25)
	ZERO(V26)
	ZERO(V27)

sdotCols: // 16 columns (four groups) at a time
	VLD1.P 16(R7), [V16.B16]
	SDOT16(0)
	SDOT16(1)
	SDOT16(2)
	SDOT16(3)
	SUBS   $16, R8
	BNE    sdotCols
	VST1.P [V24.S4, V25.S4, V26.S4, V27.S4], 64(R0)
	ADD    $64, R1
	SUBS   $16, R3
	BNE    sdotRows
	RET

widenRows:
	MOVD R1, R6
	MOVD R2, R7
	MOVD R4, R8
	ZERO(V24)
	ZERO(V25)
	ZERO(V26)
	ZERO(V27)
	ZERO(V28)
	ZERO(V29)
	ZERO(V30)
	ZERO(V31)

widenCols:
	VLD1.P 16(R7), [V16.B16]
	WIDEN16(0)
	WIDEN16(1)
	WIDEN16(2)
	WIDEN16(3)
	SUBS   $16, R8
	BNE    widenCols
	ADDP4(25, 24, 0) // the two partial sums of each row
	ADDP4(27, 26, 1)
	ADDP4(29, 28, 2)
	ADDP4(31, 30, 3)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	ADD    $64, R1
	SUBS   $16, R3
	BNE    widenRows
	RET
