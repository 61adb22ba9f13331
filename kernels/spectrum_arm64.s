//go:build gc && !purego

#include "textflag.h"

// NEON kernels of the MFCC frontend (spectrum.go). No fused multiply-adds:
// every product is rounded before it is added, every sum runs in the order
// of the plain-Go reference, so that the results are those of the
// references bit for bit.
//
// The instructions the Go assembler lacks are WORDs, with Go's operand
// order: OP(m, n, d) computes Vd = Vn OP Vm (register numbers).

#define FADD4(m, n, d) WORD $(0x4E20D400|(m)<<16|(n)<<5|(d))   // FADD Vd.4S, Vn.4S, Vm.4S
#define FSUB4(m, n, d) WORD $(0x4EA0D400|(m)<<16|(n)<<5|(d))   // FSUB Vd.4S, Vn.4S, Vm.4S
#define FMUL4(m, n, d) WORD $(0x6E20DC00|(m)<<16|(n)<<5|(d))   // FMUL Vd.4S, Vn.4S, Vm.4S
#define FMAX4(m, n, d) WORD $(0x4E20F400|(m)<<16|(n)<<5|(d))   // FMAX Vd.4S, Vn.4S, Vm.4S
#define FSQRT4(n, d) WORD $(0x6EA1F800|(n)<<5|(d))             // FSQRT Vd.4S, Vn.4S
// FMULE(m, i, n, d): Vd.4S = Vn.4S times lane i of Vm.4S.
#define FMULE(m, i, n, d) WORD $(0x4F809000|((i)&1)<<21|(m)<<16|((i)>>1)<<11|(n)<<5|(d)) // FMUL Vd.4S, Vn.4S, Vm.S[i]
#define FADD2(m, n, d) WORD $(0x4E60D400|(m)<<16|(n)<<5|(d))   // FADD Vd.2D, Vn.2D, Vm.2D
#define FSUB2(m, n, d) WORD $(0x4EE0D400|(m)<<16|(n)<<5|(d))   // FSUB Vd.2D, Vn.2D, Vm.2D
#define FMUL2(m, n, d) WORD $(0x6E60DC00|(m)<<16|(n)<<5|(d))   // FMUL Vd.2D, Vn.2D, Vm.2D
#define FDIV2(m, n, d) WORD $(0x6E60FC00|(m)<<16|(n)<<5|(d))   // FDIV Vd.2D, Vn.2D, Vm.2D
#define FCMGT2(m, n, d) WORD $(0x6EE0E400|(m)<<16|(n)<<5|(d))  // FCMGT Vd.2D, Vn.2D, Vm.2D
#define FCVTL(n, d) WORD $(0x0E617800|(n)<<5|(d))              // FCVTL Vd.2D, Vn.2S
#define FCVTL2(n, d) WORD $(0x4E617800|(n)<<5|(d))             // FCVTL2 Vd.2D, Vn.4S
#define FCVTN(n, d) WORD $(0x0E616800|(n)<<5|(d))              // FCVTN Vd.2S, Vn.2D
#define FCVTN2(n, d) WORD $(0x4E616800|(n)<<5|(d))             // FCVTN2 Vd.4S, Vn.2D
#define SXTL(n, d) WORD $(0x0F20A400|(n)<<5|(d))               // SXTL Vd.2D, Vn.2S
#define SXTL2(n, d) WORD $(0x4F20A400|(n)<<5|(d))              // SXTL2 Vd.2D, Vn.4S
#define SCVTF2(n, d) WORD $(0x4E61D800|(n)<<5|(d))             // SCVTF Vd.2D, Vn.2D

#define ZERO(V) VEOR V.B16, V.B16, V.B16

// func mulAsm(dst, a, b *float32, n16 int)
TEXT ·mulAsm(SB), NOSPLIT, $0-32
	MOVD dst+0(FP), R0
	MOVD a+8(FP), R1
	MOVD b+16(FP), R2
	MOVD n16+24(FP), R3

mulloop:
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMUL4(4, 0, 0)
	FMUL4(5, 1, 1)
	FMUL4(6, 2, 2)
	FMUL4(7, 3, 3)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUBS   $16, R3
	BNE    mulloop
	RET

// func axpyRowsRoundedAsm(y *float32, m4 int, a *float32, rows int, w *float32, stride int)
//
// Blocks of 32 columns, then of 16, 8 and 4, each held in registers while
// the rows go by: y_e = y_e + round(a_j·w_je), j in order.
TEXT ·axpyRowsRoundedAsm(SB), NOSPLIT, $0-48
	MOVD y+0(FP), R0
	MOVD m4+8(FP), R1
	MOVD a+16(FP), R2
	MOVD rows+24(FP), R3
	MOVD w+32(FP), R4
	MOVD stride+40(FP), R5
	LSL  $2, R5
	SUB  $64, R5, R6 // from a row's second 16 columns to the next row's first

rr32:
	CMP  $32, R1
	BLT  rr16
	VLD1 (R0), [V16.S4, V17.S4, V18.S4, V19.S4]
	ADD  $64, R0, R7
	VLD1 (R7), [V20.S4, V21.S4, V22.S4, V23.S4]
	MOVD R4, R8
	MOVD R2, R9
	MOVD R3, R10

rr32row:
	VLD1R.P 4(R9), [V0.S4]
	VLD1.P  64(R8), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P  (R8)(R6), [V8.S4, V9.S4, V10.S4, V11.S4]
	FMUL4(0, 4, 4)
	FMUL4(0, 5, 5)
	FMUL4(0, 6, 6)
	FMUL4(0, 7, 7)
	FMUL4(0, 8, 8)
	FMUL4(0, 9, 9)
	FMUL4(0, 10, 10)
	FMUL4(0, 11, 11)
	FADD4(4, 16, 16)
	FADD4(5, 17, 17)
	FADD4(6, 18, 18)
	FADD4(7, 19, 19)
	FADD4(8, 20, 20)
	FADD4(9, 21, 21)
	FADD4(10, 22, 22)
	FADD4(11, 23, 23)
	SUBS    $1, R10
	BNE     rr32row
	VST1.P  [V16.S4, V17.S4, V18.S4, V19.S4], 64(R0)
	VST1.P  [V20.S4, V21.S4, V22.S4, V23.S4], 64(R0)
	ADD     $128, R4
	SUB     $32, R1
	B       rr32

rr16:
	CMP  $16, R1
	BLT  rr8
	VLD1 (R0), [V16.S4, V17.S4, V18.S4, V19.S4]
	MOVD R4, R8
	MOVD R2, R9
	MOVD R3, R10

rr16row:
	VLD1R.P 4(R9), [V0.S4]
	VLD1.P  (R8)(R5), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMUL4(0, 4, 4)
	FMUL4(0, 5, 5)
	FMUL4(0, 6, 6)
	FMUL4(0, 7, 7)
	FADD4(4, 16, 16)
	FADD4(5, 17, 17)
	FADD4(6, 18, 18)
	FADD4(7, 19, 19)
	SUBS    $1, R10
	BNE     rr16row
	VST1.P  [V16.S4, V17.S4, V18.S4, V19.S4], 64(R0)
	ADD     $64, R4
	SUB     $16, R1
	B       rr16

rr8:
	CMP  $8, R1
	BLT  rr4
	VLD1 (R0), [V16.S4, V17.S4]
	MOVD R4, R8
	MOVD R2, R9
	MOVD R3, R10

rr8row:
	VLD1R.P 4(R9), [V0.S4]
	VLD1.P  (R8)(R5), [V4.S4, V5.S4]
	FMUL4(0, 4, 4)
	FMUL4(0, 5, 5)
	FADD4(4, 16, 16)
	FADD4(5, 17, 17)
	SUBS    $1, R10
	BNE     rr8row
	VST1.P  [V16.S4, V17.S4], 32(R0)
	ADD     $32, R4
	SUB     $8, R1

rr4:
	CBZ  R1, rrdone
	VLD1 (R0), [V16.S4]
	MOVD R4, R8
	MOVD R2, R9
	MOVD R3, R10

rr4row:
	VLD1R.P 4(R9), [V0.S4]
	VLD1.P  (R8)(R5), [V4.S4]
	FMUL4(0, 4, 4)
	FADD4(4, 16, 16)
	SUBS    $1, R10
	BNE     rr4row
	VST1.P  [V16.S4], 16(R0)
	ADD     $16, R4
	SUB     $4, R1
	B       rr4

rrdone:
	RET

// func bandAsm(dst, x *float32, cols *int32, groups int, w *float32)
//
// Four rows side by side: for each column of the group, the four weights
// times x at that column, masked to +0 where the column is outside a row's
// run, added to the four sums.
TEXT ·bandAsm(SB), NOSPLIT, $0-40
	MOVD dst+0(FP), R0
	MOVD x+8(FP), R1
	MOVD cols+16(FP), R2
	MOVD groups+24(FP), R3
	MOVD w+32(FP), R4

bandgroup:
	MOVWU.P 4(R2), R5 // first column
	MOVWU.P 4(R2), R6 // columns
	ADD     R5<<2, R1, R7
	ZERO(V0)
	TBZ     $0, R6, bandpairs
	VLD1R.P 4(R7), [V1.S4] // an odd column first
	VLD1.P  32(R4), [V2.S4, V3.S4] // weights, masks
	FMUL4(1, 2, 4)
	VAND    V3.B16, V4.B16, V4.B16
	FADD4(4, 0, 0)

bandpairs:
	LSR $1, R6
	CBZ R6, bandstore

bandcol:
	VLD1R.P 4(R7), [V1.S4]
	VLD1R.P 4(R7), [V8.S4]
	VLD1.P  64(R4), [V2.S4, V3.S4, V4.S4, V5.S4] // two columns' weights and masks
	FMUL4(1, 2, 6)
	FMUL4(8, 4, 7)
	VAND    V3.B16, V6.B16, V6.B16
	VAND    V5.B16, V7.B16, V7.B16
	FADD4(6, 0, 0)
	FADD4(7, 0, 0)
	SUBS    $1, R6
	BNE     bandcol

bandstore:
	VST1.P [V0.S4], 16(R0)
	SUBS   $1, R3
	BNE    bandgroup
	RET

// LOG2 computes log32 (spectrum.go) in the two float64 lanes of VM/M (the
// mantissas, exponent 0) and VE/E (the exponents, int64), leaving the
// float64 results in VE. Uses V8-V10 and the constants in V11-V26.
#define LOG2(VM, M, VE, E) \
	FCMGT2(23, M, 8) \
	FMUL2(24, M, 9) \
	VBIT  V8.B16, V9.B16, VM.B16 \
	VSUB  V8.D2, VE.D2, VE.D2 \
	SCVTF2(E, E) \
	FSUB2(25, M, 9) \
	FADD2(25, M, 10) \
	FDIV2(10, 9, 9) \
	FMUL2(9, 9, 10) \
	VORR  V11.B16, V11.B16, VM.B16 \
	FMUL2(10, M, M) \
	FADD2(12, M, M) \
	FMUL2(10, M, M) \
	FADD2(13, M, M) \
	FMUL2(10, M, M) \
	FADD2(14, M, M) \
	FMUL2(10, M, M) \
	FADD2(15, M, M) \
	FMUL2(10, M, M) \
	FADD2(16, M, M) \
	FMUL2(10, M, M) \
	FADD2(17, M, M) \
	FMUL2(10, M, M) \
	FADD2(18, M, M) \
	FMUL2(10, M, M) \
	FADD2(19, M, M) \
	FMUL2(10, M, M) \
	FADD2(20, M, M) \
	FMUL2(10, M, M) \
	FADD2(21, M, M) \
	FMUL2(10, M, M) \
	FADD2(22, M, M) \
	FMUL2(26, E, E) \
	FMUL2(M, 9, 9) \
	FADD2(9, 9, 9) \
	FADD2(9, E, E)

// func logFloorAsm(x *float32, n4 int, floor float32, tab *[logTerms + 4]float64)
//
// Per lane, as log32: e = (bits >> 23) - 127 (the sign bit included, as
// there), the mantissa with exponent 0 widened to float64 and halved when
// above √2 (e + 1), then the series in float64, and the float64 result
// rounded to float32; lanes with e = 128 (NaN, +Inf) keep their value.
TEXT ·logFloorAsm(SB), NOSPLIT, $0-32
	MOVD    x+0(FP), R0
	MOVD    n4+8(FP), R1
	FMOVS   floor+16(FP), F31
	VDUP    V31.S[0], V31.S4
	MOVD    tab+24(FP), R2
	VLD1R.P 8(R2), [V11.D2] // the series, 1/23 first
	VLD1R.P 8(R2), [V12.D2]
	VLD1R.P 8(R2), [V13.D2]
	VLD1R.P 8(R2), [V14.D2]
	VLD1R.P 8(R2), [V15.D2]
	VLD1R.P 8(R2), [V16.D2]
	VLD1R.P 8(R2), [V17.D2]
	VLD1R.P 8(R2), [V18.D2]
	VLD1R.P 8(R2), [V19.D2]
	VLD1R.P 8(R2), [V20.D2]
	VLD1R.P 8(R2), [V21.D2]
	VLD1R.P 8(R2), [V22.D2]
	VLD1R.P 8(R2), [V23.D2] // √2
	VLD1R.P 8(R2), [V24.D2] // 0.5
	VLD1R.P 8(R2), [V25.D2] // 1
	VLD1R   (R2), [V26.D2]  // ln 2
	MOVW    $128, R3
	VDUP    R3, V27.S4
	MOVW    $127, R3
	VDUP    R3, V28.S4
	MOVW    $0x3f800000, R3
	VDUP    R3, V29.S4
	MOVW    $0x007fffff, R3
	VDUP    R3, V30.S4

logloop:
	VLD1   (R0), [V0.S4]
	FMAX4(31, 0, 0)
	VUSHR  $23, V0.S4, V1.S4
	VSUB   V28.S4, V1.S4, V1.S4
	VCMEQ  V27.S4, V1.S4, V2.S4
	VAND   V30.B16, V0.B16, V3.B16
	VORR   V29.B16, V3.B16, V3.B16
	FCVTL(3, 4)
	FCVTL2(3, 5)
	SXTL(1, 6)
	SXTL2(1, 7)
	LOG2(V4, 4, V6, 6)
	LOG2(V5, 5, V7, 7)
	FCVTN(6, 8)
	FCVTN2(7, 8)
	VBIT   V2.B16, V0.B16, V8.B16
	VST1.P [V8.S4], 16(R0)
	SUBS   $4, R1
	BNE    logloop
	RET

// BFLYE is one radix-2 butterfly on four lanes, the twiddle (wr, wi) being
// lanes IR and II of VW/W: tr = wr·br - wi·bi, ti = wr·bi + wi·br (products
// rounded), b = a - t, a = a + t. Uses V16-V18.
#define BFLYE(ar, ai, br, bi, W, IR, II) \
	FMULE(W, IR, br, 16) \
	FMULE(W, II, bi, 17) \
	FSUB4(17, 16, 16) \
	FMULE(W, IR, bi, 17) \
	FMULE(W, II, br, 18) \
	FADD4(18, 17, 17) \
	FSUB4(16, ar, br) \
	FSUB4(17, ai, bi) \
	FADD4(16, ar, ar) \
	FADD4(17, ai, ai)

// BFLYV is BFLYE with a twiddle per lane, in wr and wi. Uses V20-V22.
#define BFLYV(ar, ai, br, bi, wr, wi) \
	FMUL4(wr, br, 20) \
	FMUL4(wi, bi, 21) \
	FSUB4(21, 20, 20) \
	FMUL4(wr, bi, 21) \
	FMUL4(wi, br, 22) \
	FADD4(22, 21, 21) \
	FSUB4(20, ar, br) \
	FSUB4(21, ai, bi) \
	FADD4(20, ar, ar) \
	FADD4(21, ai, ai)

// LOADREV loads vector q (the next offset at R3) from x (R2): four complex
// inputs, de-interleaved into real and imaginary parts.
#define LOADREV(vr, vi) \
	MOVWU.P 4(R3), R11 \
	ADD     R11, R2, R11 \
	VLD2    (R11), [vr.S4, vi.S4]

// func fftAsm(zr, zi, x *float32, offs *int32, q int, c0 *[4]float32, mid, last, z *float32)
//
// The complex FFT of length m = 4q of x's even and odd samples, in the
// layout of fftTables (spectrum.go), written in natural order to zr and zi
// with zr[m] = zr[0] and zi[m] = zi[0]. Every butterfly is the reference's.
TEXT ·fftAsm(SB), NOSPLIT, $0-72
	MOVD zr+0(FP), R0
	MOVD zi+8(FP), R1
	MOVD x+16(FP), R2
	MOVD offs+24(FP), R3
	MOVD q+32(FP), R4
	MOVD c0+40(FP), R5
	MOVD mid+48(FP), R6
	MOVD last+56(FP), R7
	MOVD z+64(FP), R8

	// Spans 1 and 2, four vectors at a time, as they are loaded.
	VLD1 (R5), [V31.S4] // W^0 (lanes 0, 1) and W^(m/4) (lanes 2, 3)
	MOVD R8, R9
	MOVD R4, R10

fftfirst:
	LOADREV(V0, V1)
	LOADREV(V2, V3)
	LOADREV(V4, V5)
	LOADREV(V6, V7)
	BFLYE(0, 1, 2, 3, 31, 0, 1)
	BFLYE(4, 5, 6, 7, 31, 0, 1)
	BFLYE(0, 1, 4, 5, 31, 0, 1)
	BFLYE(2, 3, 6, 7, 31, 2, 3)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R9)
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R9)
	SUBS   $4, R10
	BNE    fftfirst

	// Spans h = 4 .. q/2: vectors s+j and s+j+h, two j at a time.
	MOVD $4, R10

fftspan:
	CMP  R4, R10
	BGE  fftlast
	LSL  $5, R10, R11 // bytes from a to b
	MOVD R8, R9       // a
	MOVD R4, R12      // vectors left

fftblock:
	MOVD R6, R13   // this span's twiddles
	MOVD R10, R14  // j left
	ADD  R11, R9, R15 // b

fftj:
	VLD1   (R9), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1   (R15), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 16(R13), [V30.S4] // wr_j, wi_j, wr_j+1, wi_j+1
	BFLYE(0, 1, 4, 5, 30, 0, 1)
	BFLYE(2, 3, 6, 7, 30, 2, 3)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R9)
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R15)
	SUBS   $2, R14
	BNE    fftj
	MOVD   R15, R9 // the next block
	SUB    R10<<1, R12, R12
	CBNZ   R12, fftblock
	MOVD   R13, R6 // the next span's twiddles
	LSL    $1, R10
	B      fftspan

fftlast:
	// Spans q and 2q: four vectors transposed, so that T_l holds lane l
	// of each, positions q·t + q0 .. q0+3 with t = (l reversed); then
	// the butterflies pair whole registers, and T_l goes to zr, zi at
	// q·t + q0.
	MOVD R8, R9
	LSL  $2, R4, R24 // bytes from t to t+1
	MOVD R0, R19
	MOVD R1, R20
	MOVD R4, R12

fftquad:
	VLD1.P 64(R9), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R9), [V4.S4, V5.S4, V6.S4, V7.S4]
	VTRN1  V2.S4, V0.S4, V20.S4
	VTRN2  V2.S4, V0.S4, V21.S4
	VTRN1  V6.S4, V4.S4, V22.S4
	VTRN2  V6.S4, V4.S4, V23.S4
	VTRN1  V22.D2, V20.D2, V16.D2 // T0, real
	VTRN2  V22.D2, V20.D2, V18.D2 // T2
	VTRN1  V23.D2, V21.D2, V17.D2 // T1
	VTRN2  V23.D2, V21.D2, V19.D2 // T3
	VTRN1  V3.S4, V1.S4, V20.S4
	VTRN2  V3.S4, V1.S4, V21.S4
	VTRN1  V7.S4, V5.S4, V22.S4
	VTRN2  V7.S4, V5.S4, V23.S4
	VTRN1  V22.D2, V20.D2, V24.D2 // T0, imaginary
	VTRN2  V22.D2, V20.D2, V26.D2
	VTRN1  V23.D2, V21.D2, V25.D2
	VTRN2  V23.D2, V21.D2, V27.D2
	VLD1.P 64(R7), [V8.S4, V9.S4, V10.S4, V11.S4]
	VLD1.P 32(R7), [V12.S4, V13.S4]
	BFLYV(16, 24, 18, 26, 8, 9)   // span q: t = 0 (T0) with t = 1 (T2)
	BFLYV(17, 25, 19, 27, 8, 9)   // t = 2 (T1) with t = 3 (T3)
	BFLYV(16, 24, 17, 25, 10, 11) // span 2q: t = 0 with t = 2
	BFLYV(18, 26, 19, 27, 12, 13) // t = 1 with t = 3
	MOVD   R19, R21
	VST1.P [V16.S4], (R21)(R24)
	VST1.P [V18.S4], (R21)(R24)
	VST1.P [V17.S4], (R21)(R24)
	VST1   [V19.S4], (R21)
	MOVD   R20, R21
	VST1.P [V24.S4], (R21)(R24)
	VST1.P [V26.S4], (R21)(R24)
	VST1.P [V25.S4], (R21)(R24)
	VST1   [V27.S4], (R21)
	ADD    $16, R19
	ADD    $16, R20
	SUBS   $4, R12
	BNE    fftquad

	// Z[m] = Z[0], for the split.
	LSL   $2, R24, R21
	MOVWU (R0), R22
	MOVW  R22, (R0)(R21)
	MOVWU (R1), R22
	MOVW  R22, (R1)(R21)
	RET

// func splitMagAsm(mag, zr, zi *float32, m int, tw *float32)
//
// Bins k = 0 .. m-1 of the real spectrum from the complex FFT Z in zr, zi
// (with Z[m] = Z[0]), four at a time, as RealFFT.split computes them, and
// their magnitudes: A = Z[k..k+3], B = Z[m-k..m-k-3] (a load reversed).
TEXT ·splitMagAsm(SB), NOSPLIT, $0-40
	MOVD mag+0(FP), R0
	MOVD zr+8(FP), R1
	MOVD zi+16(FP), R2
	MOVD m+24(FP), R3
	MOVD tw+32(FP), R4
	SUB  $3, R3, R5
	LSL  $2, R5
	ADD  R1, R5, R6 // zr + m-3
	ADD  R2, R5, R7 // zi + m-3
	MOVD $-16, R8
	MOVW $0x3f000000, R9
	VDUP R9, V31.S4 // 0.5

splitloop:
	VLD1.P 16(R1), [V0.S4]
	VLD1.P 16(R2), [V1.S4]
	VLD1.P (R6)(R8), [V2.S4]
	VLD1.P (R7)(R8), [V3.S4]
	VREV64 V2.S4, V2.S4
	VEXT   $8, V2.B16, V2.B16, V2.B16
	VREV64 V3.S4, V3.S4
	VEXT   $8, V3.B16, V3.B16, V3.B16
	VLD1.P 32(R4), [V4.S4, V5.S4] // wr, wi
	FADD4(2, 0, 8)    // sr = ar + br
	FSUB4(3, 1, 9)    // si = ai - bi
	FSUB4(2, 0, 10)   // dr = ar - br
	FADD4(3, 1, 11)   // di = ai + bi
	FMUL4(4, 11, 12)  // wr·di
	FMUL4(5, 10, 13)  // wi·dr
	FADD4(13, 12, 12) // tr
	FMUL4(5, 11, 13)  // wi·di
	FMUL4(4, 10, 14)  // wr·dr
	FSUB4(14, 13, 13) // ti
	FADD4(12, 8, 8)
	FMUL4(31, 8, 8)   // re = 0.5·(sr + tr)
	FADD4(13, 9, 9)
	FMUL4(31, 9, 9)   // im = 0.5·(si + ti)
	FMUL4(8, 8, 8)
	FMUL4(9, 9, 9)
	FADD4(9, 8, 8)
	FSQRT4(8, 8)
	VST1.P [V8.S4], 16(R0)
	SUBS   $4, R3
	BNE    splitloop
	RET
