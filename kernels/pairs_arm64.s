//go:build gc && !purego

#include "textflag.h"

// DotPairs and DotStrided in NEON (pairs.go): the arithmetic of Dot
// (kernels_arm64.s's dotRowsAsm: 16 partial sums of fused multiply-adds,
// the fixed tree), four rows at a time, and then the tail, which Dot adds
// in Go: each row's tail products rounded and added after the tree, one
// after the other; four rows side by side in the lanes of one register.

#define FADD4(m, n, d) WORD $(0x4E20D400|(m)<<16|(n)<<5|(d))   // FADD Vd.4S, Vn.4S, Vm.4S
#define FMUL4(m, n, d) WORD $(0x6E20DC00|(m)<<16|(n)<<5|(d))   // FMUL Vd.4S, Vn.4S, Vm.4S
#define FADDP4(m, n, d) WORD $(0x6E20D400|(m)<<16|(n)<<5|(d))  // FADDP Vd.4S, Vn.4S, Vm.4S
#define FADDPS(n, d) WORD $(0x7E30D800|(n)<<5|(d))             // FADDP Sd, Vn.2S

#define ZERO(V) VEOR V.B16, V.B16, V.B16

// REDUCE16 as in kernels_arm64.s: r_l = (s_l + s_l+8) + (s_l+4 + s_l+12),
// left in register a.
#define REDUCE16(a, b, c, d) \
	FADD4(c, a, a) \
	FADD4(d, b, b) \
	FADD4(b, a, a)

GLOBL pairszero<>(SB), RODATA|NOPTR, $64

// ZERO16 clears V16-V31, loading zeros from pairszero (address in Z): four
// instructions instead of sixteen.
#define ZERO16(Z) \
	VLD1 (Z), [V16.S4, V17.S4, V18.S4, V19.S4] \
	VLD1 (Z), [V20.S4, V21.S4, V22.S4, V23.S4] \
	VLD1 (Z), [V24.S4, V25.S4, V26.S4, V27.S4] \
	VLD1 (Z), [V28.S4, V29.S4, V30.S4, V31.S4]

// ROWS4 multiplies 16 floats of each of four rows (pointers A0-A3,
// post-incremented) with 16 floats at X0-X3, into V16-V31.
#define ROWS4(A0, X0, A1, X1, A2, X2, A3, X3) \
	VLD1.P 64(A0), [V0.S4, V1.S4, V2.S4, V3.S4] \
	VLD1.P 64(X0), [V4.S4, V5.S4, V6.S4, V7.S4] \
	VFMLA  V4.S4, V0.S4, V16.S4 \
	VFMLA  V5.S4, V1.S4, V17.S4 \
	VFMLA  V6.S4, V2.S4, V18.S4 \
	VFMLA  V7.S4, V3.S4, V19.S4 \
	VLD1.P 64(A1), [V0.S4, V1.S4, V2.S4, V3.S4] \
	VLD1.P 64(X1), [V4.S4, V5.S4, V6.S4, V7.S4] \
	VFMLA  V4.S4, V0.S4, V20.S4 \
	VFMLA  V5.S4, V1.S4, V21.S4 \
	VFMLA  V6.S4, V2.S4, V22.S4 \
	VFMLA  V7.S4, V3.S4, V23.S4 \
	VLD1.P 64(A2), [V0.S4, V1.S4, V2.S4, V3.S4] \
	VLD1.P 64(X2), [V4.S4, V5.S4, V6.S4, V7.S4] \
	VFMLA  V4.S4, V0.S4, V24.S4 \
	VFMLA  V5.S4, V1.S4, V25.S4 \
	VFMLA  V6.S4, V2.S4, V26.S4 \
	VFMLA  V7.S4, V3.S4, V27.S4 \
	VLD1.P 64(A3), [V0.S4, V1.S4, V2.S4, V3.S4] \
	VLD1.P 64(X3), [V4.S4, V5.S4, V6.S4, V7.S4] \
	VFMLA  V4.S4, V0.S4, V28.S4 \
	VFMLA  V5.S4, V1.S4, V29.S4 \
	VFMLA  V6.S4, V2.S4, V30.S4 \
	VFMLA  V7.S4, V3.S4, V31.S4

// TREE4 leaves the four rows' sums in V16, as dotRowsAsm does.
#define TREE4 \
	REDUCE16(16, 17, 18, 19) \
	REDUCE16(20, 21, 22, 23) \
	REDUCE16(24, 25, 26, 27) \
	REDUCE16(28, 29, 30, 31) \
	FADDP4(20, 16, 16) \
	FADDP4(28, 24, 24) \
	FADDP4(24, 16, 16)

// ROW1 is one row's 16 floats (A, X post-incremented) into V16-V19.
#define ROW1(A, X) \
	VLD1.P 64(A), [V0.S4, V1.S4, V2.S4, V3.S4] \
	VLD1.P 64(X), [V4.S4, V5.S4, V6.S4, V7.S4] \
	VFMLA  V4.S4, V0.S4, V16.S4 \
	VFMLA  V5.S4, V1.S4, V17.S4 \
	VFMLA  V6.S4, V2.S4, V18.S4 \
	VFMLA  V7.S4, V3.S4, V19.S4

// func dotPairsAsm(dst *float32, rows int, a *float32, ai *int32, b *float32, bi *int32, n16, tail int)
TEXT ·dotPairsAsm(SB), NOSPLIT, $0-64
	MOVD dst+0(FP), R0
	MOVD rows+8(FP), R1
	MOVD a+16(FP), R2
	MOVD ai+24(FP), R3
	MOVD b+32(FP), R4
	MOVD bi+40(FP), R5
	MOVD n16+48(FP), R6
	MOVD tail+56(FP), R7
	MOVD $pairszero<>(SB), R22

dp4:
	CMP     $4, R1
	BLT     dp1
	MOVWU.P 4(R3), R8
	ADD     R8<<2, R2, R8
	MOVWU.P 4(R3), R9
	ADD     R9<<2, R2, R9
	MOVWU.P 4(R3), R10
	ADD     R10<<2, R2, R10
	MOVWU.P 4(R3), R11
	ADD     R11<<2, R2, R11
	MOVWU.P 4(R5), R12
	ADD     R12<<2, R4, R12
	MOVWU.P 4(R5), R13
	ADD     R13<<2, R4, R13
	MOVWU.P 4(R5), R14
	ADD     R14<<2, R4, R14
	MOVWU.P 4(R5), R15
	ADD     R15<<2, R4, R15
	ZERO16(R22)
	MOVD    R6, R19
	CBZ     R19, dp4tree

dp4loop:
	ROWS4(R8, R12, R9, R13, R10, R14, R11, R15)
	SUBS $16, R19
	BNE  dp4loop

dp4tree:
	TREE4
	MOVD R7, R19
	CBZ  R19, dp4store

dp4tail:
	VLD1.P 4(R8), V0.S[0]
	VLD1.P 4(R9), V0.S[1]
	VLD1.P 4(R10), V0.S[2]
	VLD1.P 4(R11), V0.S[3]
	VLD1.P 4(R12), V1.S[0]
	VLD1.P 4(R13), V1.S[1]
	VLD1.P 4(R14), V1.S[2]
	VLD1.P 4(R15), V1.S[3]
	FMUL4(1, 0, 0)
	FADD4(0, 16, 16)
	SUBS   $1, R19
	BNE    dp4tail

dp4store:
	VST1.P [V16.S4], 16(R0)
	SUB    $4, R1
	B      dp4

dp1:
	CBZ     R1, dpdone
	MOVWU.P 4(R3), R8
	ADD     R8<<2, R2, R8
	MOVWU.P 4(R5), R12
	ADD     R12<<2, R4, R12
	ZERO(V16); ZERO(V17); ZERO(V18); ZERO(V19)
	MOVD    R6, R19
	CBZ     R19, dp1tree

dp1loop:
	ROW1(R8, R12)
	SUBS $16, R19
	BNE  dp1loop

dp1tree:
	REDUCE16(16, 17, 18, 19)
	FADDP4(16, 16, 16)
	FADDPS(16, 16)
	MOVD R7, R19
	CBZ  R19, dp1store

dp1tail:
	FMOVS.P 4(R8), F0
	FMOVS.P 4(R12), F1
	FMULS   F1, F0, F0
	FADDS   F0, F16, F16
	SUBS    $1, R19
	BNE     dp1tail

dp1store:
	FMOVS.P F16, 4(R0)
	SUB     $1, R1
	B       dp1

dpdone:
	RET

// STRIDED4 multiplies 16 floats of x (R9) with 16 of each of the rows at
// R11-R14 (all post-incremented), into V16-V31.
#define STRIDED4 \
	VLD1.P 64(R9), [V8.S4, V9.S4, V10.S4, V11.S4] \
	VLD1.P 64(R11), [V4.S4, V5.S4, V6.S4, V7.S4] \
	VFMLA  V4.S4, V8.S4, V16.S4 \
	VFMLA  V5.S4, V9.S4, V17.S4 \
	VFMLA  V6.S4, V10.S4, V18.S4 \
	VFMLA  V7.S4, V11.S4, V19.S4 \
	VLD1.P 64(R12), [V4.S4, V5.S4, V6.S4, V7.S4] \
	VFMLA  V4.S4, V8.S4, V20.S4 \
	VFMLA  V5.S4, V9.S4, V21.S4 \
	VFMLA  V6.S4, V10.S4, V22.S4 \
	VFMLA  V7.S4, V11.S4, V23.S4 \
	VLD1.P 64(R13), [V4.S4, V5.S4, V6.S4, V7.S4] \
	VFMLA  V4.S4, V8.S4, V24.S4 \
	VFMLA  V5.S4, V9.S4, V25.S4 \
	VFMLA  V6.S4, V10.S4, V26.S4 \
	VFMLA  V7.S4, V11.S4, V27.S4 \
	VLD1.P 64(R14), [V4.S4, V5.S4, V6.S4, V7.S4] \
	VFMLA  V4.S4, V8.S4, V28.S4 \
	VFMLA  V5.S4, V9.S4, V29.S4 \
	VFMLA  V6.S4, V10.S4, V30.S4 \
	VFMLA  V7.S4, V11.S4, V31.S4

// TAP3 adds a tail tap, the four rows' values in the lanes of register T,
// times the next float of x (R9, post-incremented) to the sums in V16.
#define TAP3(T) \
	VLD1R.P 4(R9), [V3.S4] \
	FMUL4(3, T, T) \
	FADD4(T, 16, 16)

// func dotRowsTailAsm(dst *float32, rows int, x *float32, n16 int, w *float32, stride, tail, dstep int)
//
// Row r goes to dst + r*dstep bytes: four rows with one store when dstep is
// 4, else lane by lane (the outputs of one phase of a polyphase filter, among
// those of its other phases).
//
// With stride 3 (a filter decimating by 3, as from 48 to 16 kHz) and a tail
// of at least three, the four rows' tail values come three taps at a time
// from one de-interleaving load (VLD3 of 12 floats from row 0's tail: tap
// j of rows 0-3 in one register), the last group loaded from up to two
// floats back so that nothing past row 3's tail is read.
TEXT ·dotRowsTailAsm(SB), NOSPLIT, $0-64
	MOVD dst+0(FP), R0
	MOVD rows+8(FP), R1
	MOVD x+16(FP), R2
	MOVD n16+24(FP), R3
	MOVD w+32(FP), R4
	MOVD stride+40(FP), R5
	MOVD tail+48(FP), R6
	MOVD dstep+56(FP), R23
	MOVD $pairszero<>(SB), R22
	MOVD $0, R7        // VLD3 for the tails
	CMP  $3, R5
	BNE  dtnold3
	CMP  $3, R6
	BLT  dtnold3
	MOVD $1, R7

dtnold3:
	MOVD $12, R20
	LSL  $2, R5 // row stride in bytes

dt4:
	CMP  $4, R1
	BLT  dt1
	MOVD R4, R11
	ADD  R5, R11, R12
	ADD  R5, R12, R13
	ADD  R5, R13, R14
	ADD  R5, R14, R4  // the next group of rows
	MOVD R2, R9
	ZERO16(R22)
	MOVD R3, R10

dt4by64:
	SUBS $64, R10
	BLT  dt4by16
	STRIDED4
	STRIDED4
	STRIDED4
	STRIDED4
	B    dt4by64

dt4by16:
	ADDS $64, R10
	BEQ  dt4tree

dt4loop:
	STRIDED4
	SUBS $16, R10
	BNE  dt4loop

dt4tree:
	TREE4
	MOVD R6, R10
	CBZ  R10, dt4store
	CBZ  R7, dt4tail

dt4by3:
	CMP    $3, R10
	BLT    dt4rest
	VLD3.P (R11)(R20), [V0.S4, V1.S4, V2.S4]
	TAP3(0)
	TAP3(1)
	TAP3(2)
	SUB    $3, R10
	B      dt4by3

dt4rest:
	CBZ  R10, dt4store
	MOVD $3, R21
	SUB  R10, R21, R21
	SUB  R21<<2, R11, R11 // back to the last three taps
	VLD3 (R11), [V0.S4, V1.S4, V2.S4]
	CMP  $1, R10
	BEQ  dt4last
	TAP3(1)

dt4last:
	TAP3(2)
	B    dt4store

dt4tail:
	VLD1R.P 4(R9), [V0.S4]
	VLD1.P  4(R11), V1.S[0]
	VLD1.P  4(R12), V1.S[1]
	VLD1.P  4(R13), V1.S[2]
	VLD1.P  4(R14), V1.S[3]
	FMUL4(1, 0, 0)
	FADD4(0, 16, 16)
	SUBS    $1, R10
	BNE     dt4tail

dt4store:
	CMP    $4, R23
	BNE    dt4spaced
	VST1.P [V16.S4], 16(R0)
	SUB    $4, R1
	B      dt4

dt4spaced:
	VST1.P V16.S[0], (R0)(R23)
	VST1.P V16.S[1], (R0)(R23)
	VST1.P V16.S[2], (R0)(R23)
	VST1.P V16.S[3], (R0)(R23)
	SUB    $4, R1
	B      dt4

dt1:
	CBZ  R1, dtdone
	MOVD R4, R11
	ADD  R5, R4
	MOVD R2, R9
	VLD1 (R22), [V16.S4, V17.S4, V18.S4, V19.S4]
	MOVD R3, R10
	CBZ  R10, dt1tree

dt1loop:
	ROW1(R9, R11)
	SUBS $16, R10
	BNE  dt1loop

dt1tree:
	REDUCE16(16, 17, 18, 19)
	FADDP4(16, 16, 16)
	FADDPS(16, 16)
	MOVD R6, R10
	CBZ  R10, dt1store

dt1tail:
	FMOVS.P 4(R9), F0
	FMOVS.P 4(R11), F1
	FMULS   F1, F0, F0
	FADDS   F0, F16, F16
	SUBS    $1, R10
	BNE     dt1tail

dt1store:
	FMOVS F16, (R0)
	ADD   R23, R0
	SUB   $1, R1
	B     dt1

dtdone:
	RET
