//go:build gc && !purego

#include "textflag.h"

// AVX2 kernels of the MFCC frontend (spectrum.go). No fused multiply-adds:
// every product is rounded before it is added, every sum runs in the order
// of the plain-Go reference, so that the results are those of the
// references bit for bit, as in spectrum_arm64.s. The operands are in the
// order the Go compiler gives the references', which decides which NaN
// comes out where two meet.

// func mulAsm(dst, a, b *float32, n16 int)
TEXT ·mulAsm(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n16+24(FP), CX
	SHLQ $2, CX
	XORQ AX, AX

mulloop:
	VMOVUPS (SI)(AX*1), Y0
	VMOVUPS 32(SI)(AX*1), Y1
	VMULPS  (DX)(AX*1), Y0, Y0
	VMULPS  32(DX)(AX*1), Y1, Y1
	VMOVUPS Y0, (DI)(AX*1)
	VMOVUPS Y1, 32(DI)(AX*1)
	ADDQ    $64, AX
	CMPQ    AX, CX
	JLT     mulloop
	VZEROUPPER
	RET

// RRn adds round(a_j·w) for the row at (R10) to the sums of n blocks of 8
// columns in Y8-Y15 (a_j in Y0); LOADn and STOREn move the sums.
#define RR(off, acc) \
	VMOVUPS off(R10), Y1 \
	VMULPS  Y0, Y1, Y1 \
	VADDPS  acc, Y1, acc

#define RR1 RR(0, Y8)
#define RR2 RR1 \
	RR(32, Y9)
#define RR3 RR2 \
	RR(64, Y10)
#define RR4 RR3 \
	RR(96, Y11)
#define RR5 RR4 \
	RR(128, Y12)
#define RR6 RR5 \
	RR(160, Y13)
#define RR7 RR6 \
	RR(192, Y14)
#define RR8 RR7 \
	RR(224, Y15)

#define LOAD1 VMOVUPS (DI), Y8
#define LOAD2 LOAD1 \
	VMOVUPS 32(DI), Y9
#define LOAD3 LOAD2 \
	VMOVUPS 64(DI), Y10
#define LOAD4 LOAD3 \
	VMOVUPS 96(DI), Y11
#define LOAD5 LOAD4 \
	VMOVUPS 128(DI), Y12
#define LOAD6 LOAD5 \
	VMOVUPS 160(DI), Y13
#define LOAD7 LOAD6 \
	VMOVUPS 192(DI), Y14
#define LOAD8 LOAD7 \
	VMOVUPS 224(DI), Y15

#define STORE1 VMOVUPS Y8, (DI)
#define STORE2 STORE1 \
	VMOVUPS Y9, 32(DI)
#define STORE3 STORE2 \
	VMOVUPS Y10, 64(DI)
#define STORE4 STORE3 \
	VMOVUPS Y11, 96(DI)
#define STORE5 STORE4 \
	VMOVUPS Y12, 128(DI)
#define STORE6 STORE5 \
	VMOVUPS Y13, 160(DI)
#define STORE7 STORE6 \
	VMOVUPS Y14, 192(DI)
#define STORE8 STORE7 \
	VMOVUPS Y15, 224(DI)

// RRSTART and RRNEXT step through the rows: R10 the block's columns in row
// j, R11 a_j, R12 the rows left.
#define RRSTART \
	MOVQ R8, R10 \
	MOVQ SI, R11 \
	MOVQ CX, R12

#define RRNEXT \
	ADDQ $4, R11 \
	ADDQ R9, R10 \
	DECQ R12

// func axpyRowsRoundedAsm(y *float32, m4 int, a *float32, rows int, w *float32, stride int)
//
// Blocks of up to 64 columns (n = 1..8 registers of sums, so that the 40
// coefficients of the DCT are one block), then one of 4, each held in
// registers while the rows go by: y_e = y_e + round(a_j·w_je), j in order.
TEXT ·axpyRowsRoundedAsm(SB), NOSPLIT, $0-48
	MOVQ y+0(FP), DI
	MOVQ m4+8(FP), DX
	MOVQ a+16(FP), SI
	MOVQ rows+24(FP), CX
	MOVQ w+32(FP), R8
	MOVQ stride+40(FP), R9
	SHLQ $2, R9

rrblock:
	MOVQ DX, AX
	SHRQ $3, AX // blocks of 8 columns left
	JZ   rr4
	CMPQ AX, $8
	JGE  rr8
	CMPQ AX, $7
	JEQ  rr7
	CMPQ AX, $6
	JEQ  rr6
	CMPQ AX, $5
	JEQ  rr5
	CMPQ AX, $4
	JEQ  rr4y
	CMPQ AX, $3
	JEQ  rr3
	CMPQ AX, $2
	JEQ  rr2

	LOAD1
	RRSTART

rr1row:
	VBROADCASTSS (R11), Y0
	RR1
	RRNEXT
	JNZ rr1row
	STORE1
	MOVQ $1, AX
	JMP  rrnext

rr2:
	LOAD2
	RRSTART

rr2row:
	VBROADCASTSS (R11), Y0
	RR2
	RRNEXT
	JNZ rr2row
	STORE2
	MOVQ $2, AX
	JMP  rrnext

rr3:
	LOAD3
	RRSTART

rr3row:
	VBROADCASTSS (R11), Y0
	RR3
	RRNEXT
	JNZ rr3row
	STORE3
	MOVQ $3, AX
	JMP  rrnext

rr4y:
	LOAD4
	RRSTART

rr4yrow:
	VBROADCASTSS (R11), Y0
	RR4
	RRNEXT
	JNZ rr4yrow
	STORE4
	MOVQ $4, AX
	JMP  rrnext

rr5:
	LOAD5
	RRSTART

rr5row:
	VBROADCASTSS (R11), Y0
	RR5
	RRNEXT
	JNZ rr5row
	STORE5
	MOVQ $5, AX
	JMP  rrnext

rr6:
	LOAD6
	RRSTART

rr6row:
	VBROADCASTSS (R11), Y0
	RR6
	RRNEXT
	JNZ rr6row
	STORE6
	MOVQ $6, AX
	JMP  rrnext

rr7:
	LOAD7
	RRSTART

rr7row:
	VBROADCASTSS (R11), Y0
	RR7
	RRNEXT
	JNZ rr7row
	STORE7
	MOVQ $7, AX
	JMP  rrnext

rr8:
	LOAD8
	RRSTART

rr8row:
	VBROADCASTSS (R11), Y0
	RR8
	RRNEXT
	JNZ rr8row
	STORE8
	MOVQ $8, AX

rrnext:
	SHLQ $5, AX // bytes done
	ADDQ AX, DI
	ADDQ AX, R8
	SHRQ $2, AX
	SUBQ AX, DX
	JMP  rrblock

rr4:
	TESTQ DX, DX
	JZ    rrdone
	VMOVUPS (DI), X8
	RRSTART

rr4row:
	VBROADCASTSS (R11), X0
	VMOVUPS      (R10), X1
	VMULPS       X0, X1, X1
	VADDPS       X8, X1, X8
	RRNEXT
	JNZ rr4row
	VMOVUPS X8, (DI)

rrdone:
	VZEROUPPER
	RET

// func bandAsm(dst, x *float32, cols *int32, groups int, w *float32)
//
// Four rows side by side: for each column of the group, the four weights
// times x at that column, masked to +0 where the column is outside a row's
// run, added to the four sums.
TEXT ·bandAsm(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ cols+16(FP), DX
	MOVQ groups+24(FP), CX
	MOVQ w+32(FP), R8

bandgroup:
	MOVL   (DX), AX  // first column
	MOVL   4(DX), BX // columns
	ADDQ   $8, DX
	LEAQ   (SI)(AX*4), R10
	VXORPS X0, X0, X0
	TESTQ  $1, BX
	JZ     bandpairs
	VBROADCASTSS (R10), X1 // an odd column first
	VMOVUPS      (R8), X2
	VMULPS       X1, X2, X2
	VANDPS       16(R8), X2, X2
	VADDPS       X2, X0, X0
	ADDQ         $4, R10
	ADDQ         $32, R8

bandpairs:
	SHRQ $1, BX
	JZ   bandstore

bandcol:
	VBROADCASTSS (R10), X1
	VBROADCASTSS 4(R10), X3
	VMOVUPS      (R8), X2
	VMOVUPS      32(R8), X4
	VMULPS       X1, X2, X2
	VMULPS       X3, X4, X4
	VANDPS       16(R8), X2, X2
	VANDPS       48(R8), X4, X4
	VADDPS       X2, X0, X0
	VADDPS       X4, X0, X0
	ADDQ         $8, R10
	ADDQ         $64, R8
	DECQ         BX
	JNZ          bandcol

bandstore:
	VMOVUPS X0, (DI)
	ADDQ    $16, DI
	DECQ    CX
	JNZ     bandgroup
	VZEROUPPER
	RET

// func logFloorAsm(x *float32, n4 int, floor float32, tab *[logTerms + 4]float64)
//
// Four lanes at a time, as LogFloor: max(x, floor) as Go computes it on
// amd64 (a NaN gives a positive NaN), then as log32: e = (bits >> 23) - 127,
// the mantissa with exponent 0 widened to float64 and halved when above √2
// (e + 1, exactly, in float64), the series in float64, and the float64
// result rounded to float32; lanes with e = 128 (NaN, +Inf) keep their
// value. tab's 16 constants are broadcast to the frame: the series, 1/23
// first, at 0(SP) to 352(SP), then √2, 0.5, 1 and ln 2.
TEXT ·logFloorAsm(SB), NOSPLIT, $512-32
	MOVQ x+0(FP), DI
	MOVQ n4+8(FP), CX
	MOVQ tab+24(FP), SI
	XORQ AX, AX

logtab:
	VBROADCASTSD (SI)(AX*8), Y0
	MOVQ         AX, BX
	SHLQ         $5, BX
	VMOVUPD      Y0, (SP)(BX*1)
	INCQ         AX
	CMPQ         AX, $16
	JLT          logtab

	MOVL         $0x80000000, AX
	MOVQ         AX, X8
	VPBROADCASTD X8, X8 // the sign bit
	VBROADCASTSS floor+16(FP), X9
	VXORPS       X8, X9, X9 // -floor
	MOVL         $0x007fffff, AX
	MOVQ         AX, X10
	VPBROADCASTD X10, X10
	MOVL         $0x3f800000, AX
	MOVQ         AX, X11
	VPBROADCASTD X11, X11
	MOVL         $127, AX
	MOVQ         AX, X12
	VPBROADCASTD X12, X12
	MOVL         $255, AX
	MOVQ         AX, X13
	VPBROADCASTD X13, X13

logloop:
	VMOVUPS   (DI), X0
	VXORPS    X8, X0, X1 // max(x, floor) = -min(-x, -floor), as Go's:
	VMINPS    X9, X1, X2 // the two minima ORed, so that a NaN stays a NaN
	VMINPS    X1, X2, X3
	VORPS     X3, X2, X2
	VXORPS    X8, X2, X0
	VPSRLD    $23, X0, X1
	VPCMPEQD  X13, X1, X3 // e = 128: NaN, +Inf
	VPSUBD    X12, X1, X1 // e
	VANDPS    X10, X0, X2
	VORPS     X11, X2, X2
	VCVTPS2PD X2, Y4      // the mantissa
	VCVTDQ2PD X1, Y5      // e
	VCMPPD    $0x1e, 384(SP), Y4, Y2 // mantissa > √2
	VMULPD    416(SP), Y4, Y6
	VBLENDVPD Y2, Y6, Y4, Y4
	VANDPD    448(SP), Y2, Y2
	VADDPD    Y2, Y5, Y5
	VSUBPD    448(SP), Y4, Y6
	VADDPD    448(SP), Y4, Y7
	VDIVPD    Y7, Y6, Y6  // s
	VMULPD    Y6, Y6, Y7  // z = s²
	VMOVUPD   (SP), Y4    // p
	VMULPD    Y7, Y4, Y4
	VADDPD    32(SP), Y4, Y4
	VMULPD    Y7, Y4, Y4
	VADDPD    64(SP), Y4, Y4
	VMULPD    Y7, Y4, Y4
	VADDPD    96(SP), Y4, Y4
	VMULPD    Y7, Y4, Y4
	VADDPD    128(SP), Y4, Y4
	VMULPD    Y7, Y4, Y4
	VADDPD    160(SP), Y4, Y4
	VMULPD    Y7, Y4, Y4
	VADDPD    192(SP), Y4, Y4
	VMULPD    Y7, Y4, Y4
	VADDPD    224(SP), Y4, Y4
	VMULPD    Y7, Y4, Y4
	VADDPD    256(SP), Y4, Y4
	VMULPD    Y7, Y4, Y4
	VADDPD    288(SP), Y4, Y4
	VMULPD    Y7, Y4, Y4
	VADDPD    320(SP), Y4, Y4
	VMULPD    Y7, Y4, Y4
	VADDPD    352(SP), Y4, Y4
	VMULPD    480(SP), Y5, Y5 // e·ln 2
	VMULPD    Y4, Y6, Y6
	VADDPD    Y6, Y6, Y6      // 2·s·p
	VADDPD    Y6, Y5, Y5
	VCVTPD2PSY Y5, X5
	VBLENDVPS X3, X0, X5, X5
	VMOVUPS   X5, (DI)
	ADDQ      $16, DI
	SUBQ      $4, CX
	JNZ       logloop
	VZEROUPPER
	RET

// BFLY is one radix-2 butterfly on eight lanes, the twiddle (wr, wi) per
// lane: tr = br·wr - bi·wi, ti = bi·wr + br·wi (products rounded),
// b = a - t, a = t + a. Uses Y8-Y10.
#define BFLY(ar, ai, br, bi, wr, wi) \
	VMULPS wr, br, Y8 \
	VMULPS wi, bi, Y9 \
	VSUBPS Y9, Y8, Y8 \
	VMULPS wr, bi, Y9 \
	VMULPS wi, br, Y10 \
	VADDPS Y10, Y9, Y9 \
	VSUBPS Y8, ar, br \
	VSUBPS Y9, ai, bi \
	VADDPS ar, Y8, ar \
	VADDPS ai, Y9, ai

// Lane indices for VPERMPS: sym<> holds the eight lane numbers a-h.
#define LANES8(sym, a, b, c, d, e, f, g, h) \
	DATA sym<>+0(SB)/4, $a; DATA sym<>+4(SB)/4, $b; DATA sym<>+8(SB)/4, $c; DATA sym<>+12(SB)/4, $d \
	DATA sym<>+16(SB)/4, $e; DATA sym<>+20(SB)/4, $f; DATA sym<>+24(SB)/4, $g; DATA sym<>+28(SB)/4, $h \
	GLOBL sym<>(SB), RODATA|NOPTR, $32

LANES8(twre, 0, 0, 0, 0, 2, 2, 2, 2) // the first of two twiddles (re, im) in lanes 0-3, the second in 4-7
LANES8(twim, 1, 1, 1, 1, 3, 3, 3, 3)
LANES8(quad, 0, 4, 2, 6, 1, 5, 3, 7) // [a | b] to a0 b0 a2 b2 | a1 b1 a3 b3
LANES8(rev8, 7, 6, 5, 4, 3, 2, 1, 0)

// LOADREV loads vectors q and q+2 (their offsets in RA and RB) from x (SI)
// into vr and vi, [q | q+2]: eight complex inputs de-interleaved.
#define LOADREV(RA, RB, vr, vi) \
	VMOVUPS     (SI)(RA*1), X0 \
	VINSERTF128 $1, (SI)(RB*1), Y0, Y0 \
	VMOVUPS     16(SI)(RA*1), X1 \
	VINSERTF128 $1, 16(SI)(RB*1), Y1, Y1 \
	VSHUFPS     $0x88, Y1, Y0, vr \
	VSHUFPS     $0xdd, Y1, Y0, vi

// func fftAsm(zr, zi, x *float32, offs *int32, q int, c0 *[4]float32, mid, last, z *float32)
//
// The complex FFT of length m = 4q of x's even and odd samples, with the
// vectors of fftTables (spectrum.go) two to a register, [2i | 2i+1], held in
// z as (re×8, im×8), written in natural order to zr and zi with zr[m] =
// zr[0] and zi[m] = zi[0]. Every butterfly is the reference's.
TEXT ·fftAsm(SB), NOSPLIT, $0-72
	MOVQ x+16(FP), SI
	MOVQ offs+24(FP), R10
	MOVQ q+32(FP), CX
	MOVQ c0+40(FP), R11
	MOVQ z+64(FP), DI

	// Spans 1 and 2, four vectors at a time, as they are loaded: span 1
	// pairs [q | q+2] with [q+1 | q+3], span 2 [q | q+1] with [q+2 | q+3].
	VBROADCASTSS (R11), Y14  // W^0
	VBROADCASTSS 4(R11), Y15
	VBROADCASTSS (R11), X12  // W^0 (q with q+2), W^(m/4) (q+1 with q+3)
	VBROADCASTSS 8(R11), X0
	VINSERTF128  $1, X0, Y12, Y12
	VBROADCASTSS 4(R11), X13
	VBROADCASTSS 12(R11), X0
	VINSERTF128  $1, X0, Y13, Y13

fftfirst:
	MOVL 0(R10), AX
	MOVL 4(R10), BX
	MOVL 8(R10), DX
	MOVL 12(R10), R11
	ADDQ $16, R10
	LOADREV(AX, DX, Y2, Y3)
	LOADREV(BX, R11, Y4, Y5)
	BFLY(Y2, Y3, Y4, Y5, Y14, Y15)
	VPERM2F128 $0x20, Y4, Y2, Y0 // [q | q+1]
	VPERM2F128 $0x31, Y4, Y2, Y1 // [q+2 | q+3]
	VPERM2F128 $0x20, Y5, Y3, Y6
	VPERM2F128 $0x31, Y5, Y3, Y7
	BFLY(Y0, Y6, Y1, Y7, Y12, Y13)
	VMOVUPS Y0, (DI)
	VMOVUPS Y6, 32(DI)
	VMOVUPS Y1, 64(DI)
	VMOVUPS Y7, 96(DI)
	ADDQ    $128, DI
	SUBQ    $4, CX
	JNZ     fftfirst

	// Spans h = 4 .. q/2: registers [s+j | s+j+1] and [s+j+h | s+j+h+1],
	// with the twiddles of j and j+1.
	MOVQ    q+32(FP), CX
	MOVQ    mid+48(FP), R12
	VMOVDQU twre<>(SB), Y14
	VMOVDQU twim<>(SB), Y15
	MOVQ    $4, BX

fftspan:
	CMPQ BX, CX
	JGE  fftlast
	MOVQ BX, R11
	SHLQ $5, R11 // bytes from a to b
	MOVQ z+64(FP), DI
	MOVQ CX, DX  // vectors left

fftblock:
	MOVQ R12, AX // this span's twiddles
	MOVQ BX, R13 // j left
	LEAQ (DI)(R11*1), SI

fftj:
	VPERMPS (AX), Y14, Y12
	VPERMPS (AX), Y15, Y13
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS (SI), Y2
	VMOVUPS 32(SI), Y3
	BFLY(Y0, Y1, Y2, Y3, Y12, Y13)
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, (SI)
	VMOVUPS Y3, 32(SI)
	ADDQ    $64, DI
	ADDQ    $64, SI
	ADDQ    $16, AX
	SUBQ    $2, R13
	JNZ     fftj
	MOVQ    SI, DI // the next block
	SUBQ    BX, DX
	SUBQ    BX, DX
	JNZ     fftblock
	MOVQ    AX, R12 // the next span's twiddles
	SHLQ    $1, BX
	JMP     fftspan

fftlast:
	// Spans q and 2q, four vectors at a time: T_l, lane l of each, holds
	// positions q·t + q0 .. q0+3 with t = (l reversed). [T0 | T1] pairs with
	// [T2 | T3], then [T0 | T2] with [T1 | T3], whose halves go to zr, zi at
	// q·t + q0.
	MOVQ    z+64(FP), DI
	MOVQ    last+56(FP), R13
	MOVQ    zr+0(FP), R8
	MOVQ    zi+8(FP), R9
	VMOVDQU quad<>(SB), Y14
	MOVQ    CX, R11
	SHLQ    $2, R11 // bytes from t to t+1
	LEAQ    (R11)(R11*2), R12

fftquad:
	VPERMPS        (DI), Y14, Y0
	VPERMPS        64(DI), Y14, Y1
	VPERMPS        32(DI), Y14, Y2
	VPERMPS        96(DI), Y14, Y3
	VUNPCKLPD      Y1, Y0, Y4 // [T0 | T1], real
	VUNPCKHPD      Y1, Y0, Y5 // [T2 | T3]
	VUNPCKLPD      Y3, Y2, Y6 // imaginary
	VUNPCKHPD      Y3, Y2, Y7
	VBROADCASTF128 (R13), Y12 // W^2q
	VBROADCASTF128 16(R13), Y13
	BFLY(Y4, Y6, Y5, Y7, Y12, Y13)
	VPERM2F128     $0x20, Y5, Y4, Y0 // [T0 | T2]
	VPERM2F128     $0x31, Y5, Y4, Y1 // [T1 | T3]
	VPERM2F128     $0x20, Y7, Y6, Y2
	VPERM2F128     $0x31, Y7, Y6, Y3
	VMOVUPS        32(R13), X12 // W^q, W^(q+Q)
	VINSERTF128    $1, 64(R13), Y12, Y12
	VMOVUPS        48(R13), X13
	VINSERTF128    $1, 80(R13), Y13, Y13
	BFLY(Y0, Y2, Y1, Y3, Y12, Y13)
	VMOVUPS        X0, (R8)
	VEXTRACTF128   $1, Y0, (R8)(R11*1)
	VMOVUPS        X1, (R8)(R11*2)
	VEXTRACTF128   $1, Y1, (R8)(R12*1)
	VMOVUPS        X2, (R9)
	VEXTRACTF128   $1, Y2, (R9)(R11*1)
	VMOVUPS        X3, (R9)(R11*2)
	VEXTRACTF128   $1, Y3, (R9)(R12*1)
	ADDQ           $128, DI
	ADDQ           $96, R13
	ADDQ           $16, R8
	ADDQ           $16, R9
	SUBQ           $4, CX
	JNZ            fftquad

	// Z[m] = Z[0], for the split.
	MOVQ zr+0(FP), R8
	MOVQ zi+8(FP), R9
	MOVL (R8), AX
	MOVL AX, (R8)(R11*4)
	MOVL (R9), AX
	MOVL AX, (R9)(R11*4)
	VZEROUPPER
	RET

// func splitMagAsm(mag, zr, zi *float32, m int, tw *float32)
//
// Bins k = 0 .. m-1 of the real spectrum from the complex FFT Z in zr, zi
// (with Z[m] = Z[0]), eight at a time, as RealFFT.split computes them, and
// their magnitudes: A = Z[k..k+7], B = Z[m-k..m-k-7] (a load reversed).
TEXT ·splitMagAsm(SB), NOSPLIT, $0-40
	MOVQ         mag+0(FP), DI
	MOVQ         zr+8(FP), SI
	MOVQ         zi+16(FP), DX
	MOVQ         m+24(FP), CX
	MOVQ         tw+32(FP), R8
	LEAQ         -28(SI)(CX*4), R9  // zr + m-7
	LEAQ         -28(DX)(CX*4), R10 // zi + m-7
	VMOVDQU      rev8<>(SB), Y15
	MOVL         $0x3f000000, AX
	MOVQ         AX, X14
	VPBROADCASTD X14, Y14 // 0.5

splitloop:
	VMOVUPS     (SI), Y0
	VMOVUPS     (DX), Y1
	VPERMPS     (R9), Y15, Y2
	VPERMPS     (R10), Y15, Y3
	VMOVUPS     (R8), X4 // wr, wi of two blocks of four bins
	VINSERTF128 $1, 32(R8), Y4, Y4
	VMOVUPS     16(R8), X5
	VINSERTF128 $1, 48(R8), Y5, Y5
	VADDPS      Y0, Y2, Y8   // sr = br + ar
	VSUBPS      Y3, Y1, Y9   // si = ai - bi
	VSUBPS      Y2, Y0, Y10  // dr = ar - br
	VADDPS      Y3, Y1, Y11  // di = ai + bi
	VMULPS      Y11, Y4, Y12 // wr·di
	VMULPS      Y10, Y5, Y13 // wi·dr
	VADDPS      Y13, Y12, Y12 // tr
	VMULPS      Y11, Y5, Y13 // wi·di
	VMULPS      Y10, Y4, Y6  // wr·dr
	VSUBPS      Y6, Y13, Y13 // ti
	VADDPS      Y12, Y8, Y8
	VMULPS      Y14, Y8, Y8  // re = 0.5·(sr + tr)
	VADDPS      Y9, Y13, Y9
	VMULPS      Y14, Y9, Y9  // im = 0.5·(ti + si)
	VMULPS      Y8, Y8, Y8
	VMULPS      Y9, Y9, Y9
	VADDPS      Y9, Y8, Y8
	VSQRTPS     Y8, Y8
	VMOVUPS     Y8, (DI)
	ADDQ        $32, DI
	ADDQ        $32, SI
	ADDQ        $32, DX
	SUBQ        $32, R9
	SUBQ        $32, R10
	ADDQ        $64, R8
	SUBQ        $8, CX
	JNZ         splitloop
	VZEROUPPER
	RET
