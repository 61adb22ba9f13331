//go:build gc && !purego

#include "textflag.h"

// NEON kernels. Each handles the bulk of its vectors (a multiple of 16
// float32); kernels.go does the tail. A block of 16 elements is four
// registers of 4 lanes. The operation sequences are those of
// kernels_amd64.s, so that both give the same bits (see kernels.go).
//
// The Go assembler lacks most floating-point vector instructions; they are
// written as WORDs by the macros below, with Go's operand order:
// OP(m, n, d) computes Vd = Vn OP Vm on .4S (register numbers).

#define FADD4(m, n, d) WORD $(0x4E20D400|(m)<<16|(n)<<5|(d))   // FADD Vd.4S, Vn.4S, Vm.4S
#define FSUB4(m, n, d) WORD $(0x4EA0D400|(m)<<16|(n)<<5|(d))   // FSUB Vd.4S, Vn.4S, Vm.4S
#define FMUL4(m, n, d) WORD $(0x6E20DC00|(m)<<16|(n)<<5|(d))   // FMUL Vd.4S, Vn.4S, Vm.4S
#define FDIV4(m, n, d) WORD $(0x6E20FC00|(m)<<16|(n)<<5|(d))   // FDIV Vd.4S, Vn.4S, Vm.4S
#define FMAX4(m, n, d) WORD $(0x4E20F400|(m)<<16|(n)<<5|(d))   // FMAX Vd.4S, Vn.4S, Vm.4S
#define FMIN4(m, n, d) WORD $(0x4EA0F400|(m)<<16|(n)<<5|(d))   // FMIN Vd.4S, Vn.4S, Vm.4S
#define FADDP4(m, n, d) WORD $(0x6E20D400|(m)<<16|(n)<<5|(d))  // FADDP Vd.4S, Vn.4S, Vm.4S
#define FCMGE4(m, n, d) WORD $(0x6E20E400|(m)<<16|(n)<<5|(d))  // FCMGE Vd.4S, Vn.4S, Vm.4S
#define CMHI4(m, n, d) WORD $(0x6EA03400|(m)<<16|(n)<<5|(d))   // CMHI Vd.4S, Vn.4S, Vm.4S
#define FADDPS(n, d) WORD $(0x7E30D800|(n)<<5|(d))             // FADDP Sd, Vn.2S
#define FMAXV(n, d) WORD $(0x6E30F800|(n)<<5|(d))              // FMAXV Sd, Vn.4S
#define FRINTN4(n, d) WORD $(0x4E218800|(n)<<5|(d))            // FRINTN Vd.4S, Vn.4S
#define FCVTZS4(n, d) WORD $(0x4EA1B800|(n)<<5|(d))            // FCVTZS Vd.4S, Vn.4S

#define ZERO(V) VEOR V.B16, V.B16, V.B16

// REDUCE16 folds the 16 partial sums in VA-VD (lanes 0-3, 4-7, 8-11,
// 12-15) into the four r_l = (s_l + s_l+8) + (s_l+4 + s_l+12), left in
// register a.
#define REDUCE16(a, b, c, d) \
	FADD4(c, a, a) \
	FADD4(d, b, b) \
	FADD4(b, a, a)

// func dotRowsAsm(dst *float32, rows int, x *float32, n16 int, w *float32, stride int)
TEXT ·dotRowsAsm(SB), NOSPLIT, $0-48
	MOVD dst+0(FP), R0
	MOVD rows+8(FP), R1
	MOVD x+16(FP), R2
	MOVD n16+24(FP), R3
	MOVD w+32(FP), R4
	MOVD stride+40(FP), R5
	LSL  $2, R5 // row stride in bytes

dot4:
	CMP  $4, R1
	BLT  dot1
	MOVD R4, R11
	ADD  R5, R11, R12
	ADD  R5, R12, R13
	ADD  R5, R13, R14
	ADD  R5, R14, R4  // the next group of rows
	MOVD R2, R9
	MOVD R3, R10
	ZERO(V16); ZERO(V17); ZERO(V18); ZERO(V19)
	ZERO(V20); ZERO(V21); ZERO(V22); ZERO(V23)
	ZERO(V24); ZERO(V25); ZERO(V26); ZERO(V27)
	ZERO(V28); ZERO(V29); ZERO(V30); ZERO(V31)

dot4loop:
	VLD1.P 64(R9), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R11), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA  V4.S4, V0.S4, V16.S4
	VFMLA  V5.S4, V1.S4, V17.S4
	VFMLA  V6.S4, V2.S4, V18.S4
	VFMLA  V7.S4, V3.S4, V19.S4
	VLD1.P 64(R12), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA  V4.S4, V0.S4, V20.S4
	VFMLA  V5.S4, V1.S4, V21.S4
	VFMLA  V6.S4, V2.S4, V22.S4
	VFMLA  V7.S4, V3.S4, V23.S4
	VLD1.P 64(R13), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA  V4.S4, V0.S4, V24.S4
	VFMLA  V5.S4, V1.S4, V25.S4
	VFMLA  V6.S4, V2.S4, V26.S4
	VFMLA  V7.S4, V3.S4, V27.S4
	VLD1.P 64(R14), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA  V4.S4, V0.S4, V28.S4
	VFMLA  V5.S4, V1.S4, V29.S4
	VFMLA  V6.S4, V2.S4, V30.S4
	VFMLA  V7.S4, V3.S4, V31.S4
	SUBS   $16, R10
	BNE    dot4loop

	REDUCE16(16, 17, 18, 19)
	REDUCE16(20, 21, 22, 23)
	REDUCE16(24, 25, 26, 27)
	REDUCE16(28, 29, 30, 31)
	FADDP4(20, 16, 16) // (r0+r1, r2+r3) of rows 0 and 1
	FADDP4(28, 24, 24) // of rows 2 and 3
	FADDP4(24, 16, 16) // the four sums
	VST1.P [V16.S4], 16(R0)
	SUB    $4, R1
	B      dot4

dot1:
	CBZ  R1, dotdone
	MOVD R4, R11
	ADD  R5, R4
	MOVD R2, R9
	MOVD R3, R10
	ZERO(V16); ZERO(V17); ZERO(V18); ZERO(V19)

dot1loop:
	VLD1.P 64(R9), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R11), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA  V4.S4, V0.S4, V16.S4
	VFMLA  V5.S4, V1.S4, V17.S4
	VFMLA  V6.S4, V2.S4, V18.S4
	VFMLA  V7.S4, V3.S4, V19.S4
	SUBS   $16, R10
	BNE    dot1loop

	REDUCE16(16, 17, 18, 19)
	FADDP4(16, 16, 16)
	FADDPS(16, 16)
	FMOVS F16, (R0)
	ADD   $4, R0
	SUB   $1, R1
	B     dot1

dotdone:
	RET

#define LOAD64(R) \
	VLD1.P 64(R), [V16.S4, V17.S4, V18.S4, V19.S4] \
	VLD1.P 64(R), [V20.S4, V21.S4, V22.S4, V23.S4] \
	VLD1.P 64(R), [V24.S4, V25.S4, V26.S4, V27.S4] \
	VLD1.P 64(R), [V28.S4, V29.S4, V30.S4, V31.S4]

#define STORE64(R) \
	VST1.P [V16.S4, V17.S4, V18.S4, V19.S4], 64(R) \
	VST1.P [V20.S4, V21.S4, V22.S4, V23.S4], 64(R) \
	VST1.P [V24.S4, V25.S4, V26.S4, V27.S4], 64(R) \
	VST1.P [V28.S4, V29.S4, V30.S4, V31.S4], 64(R)

// ROW64 adds the 64 floats at R (post-incremented by 192, then by INC)
// times V0 to V16-V31.
#define ROW64(R, INC) \
	VLD1.P 64(R), [V4.S4, V5.S4, V6.S4, V7.S4] \
	VFMLA  V0.S4, V4.S4, V16.S4 \
	VFMLA  V0.S4, V5.S4, V17.S4 \
	VFMLA  V0.S4, V6.S4, V18.S4 \
	VFMLA  V0.S4, V7.S4, V19.S4 \
	VLD1.P 64(R), [V8.S4, V9.S4, V10.S4, V11.S4] \
	VFMLA  V0.S4, V8.S4, V20.S4 \
	VFMLA  V0.S4, V9.S4, V21.S4 \
	VFMLA  V0.S4, V10.S4, V22.S4 \
	VFMLA  V0.S4, V11.S4, V23.S4 \
	VLD1.P 64(R), [V12.S4, V13.S4, V14.S4, V15.S4] \
	VFMLA  V0.S4, V12.S4, V24.S4 \
	VFMLA  V0.S4, V13.S4, V25.S4 \
	VFMLA  V0.S4, V14.S4, V26.S4 \
	VFMLA  V0.S4, V15.S4, V27.S4 \
	VLD1.P (R)(INC), [V4.S4, V5.S4, V6.S4, V7.S4] \
	VFMLA  V0.S4, V4.S4, V28.S4 \
	VFMLA  V0.S4, V5.S4, V29.S4 \
	VFMLA  V0.S4, V6.S4, V30.S4 \
	VFMLA  V0.S4, V7.S4, V31.S4

// ROW16 adds the 16 floats at R (post-incremented by INC) times V0 to
// V16-V19.
#define ROW16(R, INC) \
	VLD1.P (R)(INC), [V4.S4, V5.S4, V6.S4, V7.S4] \
	VFMLA  V0.S4, V4.S4, V16.S4 \
	VFMLA  V0.S4, V5.S4, V17.S4 \
	VFMLA  V0.S4, V6.S4, V18.S4 \
	VFMLA  V0.S4, V7.S4, V19.S4

// func axpyRowsAsm(y *float32, m16 int, a *float32, rows int, w *float32, stride int)
TEXT ·axpyRowsAsm(SB), NOSPLIT, $0-48
	MOVD y+0(FP), R0
	MOVD m16+8(FP), R1
	MOVD a+16(FP), R2
	MOVD rows+24(FP), R3
	MOVD w+32(FP), R4
	MOVD stride+40(FP), R5
	LSL  $2, R5
	SUB  $192, R5, R6 // from the last quarter of a row's chunk to the next row's

ax64:
	CMP  $64, R1
	BLT  ax16
	MOVD R0, R7
	LOAD64(R7)
	MOVD R4, R8
	MOVD R2, R9
	MOVD R3, R10

ax64row:
	VLD1R.P 4(R9), [V0.S4]
	ROW64(R8, R6)
	SUBS    $1, R10
	BNE     ax64row
	STORE64(R0)
	ADD     $256, R4
	SUB     $64, R1
	B       ax64

ax16:
	CMP  $16, R1
	BLT  axdone
	VLD1 (R0), [V16.S4, V17.S4, V18.S4, V19.S4]
	MOVD R4, R8
	MOVD R2, R9
	MOVD R3, R10

ax16row:
	VLD1R.P 4(R9), [V0.S4]
	ROW16(R8, R5)
	SUBS    $1, R10
	BNE     ax16row
	VST1.P  [V16.S4, V17.S4, V18.S4, V19.S4], 64(R0)
	ADD     $64, R4
	SUB     $16, R1
	B       ax16

axdone:
	RET

// func rowAXPYAsm(y *float32, m16 int, w *float32, stride int, idx *int32, dv *float32, rows, nrows int) (ok bool)
TEXT ·rowAXPYAsm(SB), NOSPLIT, $0-65
	MOVD y+0(FP), R0
	MOVD m16+8(FP), R1
	MOVD w+16(FP), R4
	MOVD stride+24(FP), R5
	MOVD idx+32(FP), R12
	MOVD dv+40(FP), R2
	MOVD rows+48(FP), R3
	MOVD nrows+56(FP), R14
	LSL  $2, R5
	MOVD $0, R6

rx64:
	CMP  $64, R1
	BLT  rx16
	MOVD R0, R7
	LOAD64(R7)
	MOVD R12, R13
	MOVD R2, R9
	MOVD R3, R10

rx64row:
	MOVWU.P 4(R13), R11     // a negative index becomes huge
	CMP     R14, R11
	BHS     rxbad
	MADD    R5, R4, R11, R8 // R8 = w + idx*stride
	VLD1R.P 4(R9), [V0.S4]
	ROW64(R8, R6)
	SUBS    $1, R10
	BNE     rx64row
	STORE64(R0)
	ADD     $256, R4
	SUB     $64, R1
	B       rx64

rx16:
	CMP  $16, R1
	BLT  rxdone
	VLD1 (R0), [V16.S4, V17.S4, V18.S4, V19.S4]
	MOVD R12, R13
	MOVD R2, R9
	MOVD R3, R10

rx16row:
	MOVWU.P 4(R13), R11
	CMP     R14, R11
	BHS     rxbad
	MADD    R5, R4, R11, R8
	VLD1R.P 4(R9), [V0.S4]
	ROW16(R8, R6)
	SUBS    $1, R10
	BNE     rx16row
	VST1.P  [V16.S4, V17.S4, V18.S4, V19.S4], 64(R0)
	ADD     $64, R4
	SUB     $16, R1
	B       rx16

rxdone:
	MOVD $1, R0
	MOVB R0, ok+64(FP)
	RET

rxbad:
	MOVB ZR, ok+64(FP)
	RET

// func addAsm(y, x *float32, n16 int)
TEXT ·addAsm(SB), NOSPLIT, $0-24
	MOVD y+0(FP), R0
	MOVD x+8(FP), R1
	MOVD n16+16(FP), R2

addloop:
	VLD1   (R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	FADD4(4, 0, 0)
	FADD4(5, 1, 1)
	FADD4(6, 2, 2)
	FADD4(7, 3, 3)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUBS   $16, R2
	BNE    addloop
	RET

DATA selconst<>+0(SB)/4, $0
DATA selconst<>+4(SB)/4, $1
DATA selconst<>+8(SB)/4, $2
DATA selconst<>+12(SB)/4, $3
DATA selconst<>+16(SB)/4, $1
DATA selconst<>+20(SB)/4, $2
DATA selconst<>+24(SB)/4, $4
DATA selconst<>+28(SB)/4, $8
GLOBL selconst<>(SB), RODATA|NOPTR, $32

// SELECT4 handles the 4 lanes of x in VX with their references in VR: it
// sets VR = x where kept and appends the kept deltas and positions at R5
// and R4 (storing all four lanes, then moving on by the bytes kept).
#define SELECT4(VX, VR, x, r) \
	FSUB4(r, x, 8) \
	VAND    V30.B16, V8.B16, V9.B16 \
	CMHI4(31, 9, 10) \
	VBIT    V10.B16, VX.B16, VR.B16 \
	VAND    V29.B16, V10.B16, V11.B16 \
	VADDV   V11.S4, V11 \
	VMOV    V11.S[0], R9 \
	ADD     R9<<4, R6, R10 \
	VLD1    (R10), [V12.B16] \
	VTBL    V12.B16, [V8.B16], V13.B16 \
	VTBL    V12.B16, [V28.B16], V14.B16 \
	MOVBU   (R7)(R9), R11 \
	VST1.P  [V13.S4], (R5)(R11) \
	VST1.P  [V14.S4], (R4)(R11) \
	VADD    V27.S4, V28.S4, V28.S4

// func selectDeltaAsm(x, ref *float32, n16 int, th uint32, idx *int32, dv *float32) int
TEXT ·selectDeltaAsm(SB), NOSPLIT, $0-56
	MOVD  x+0(FP), R0
	MOVD  ref+8(FP), R1
	MOVD  n16+16(FP), R2
	MOVWU th+24(FP), R3
	MOVD  idx+32(FP), R4
	MOVD  dv+40(FP), R5
	MOVD  R5, R8
	VDUP  R3, V31.S4 // theta's bits
	MOVW  $0x7fffffff, R3
	VDUP  R3, V30.S4 // clears the sign bit
	MOVD  $selconst<>(SB), R3
	VLD1  (R3), [V28.S4, V29.S4] // positions 0-3; lane bits 1, 2, 4, 8
	MOVW  $4, R3
	VDUP  R3, V27.S4
	MOVD  $·compress4(SB), R6
	MOVD  $·count4(SB), R7

selloop:
	VLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1   (R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	SELECT4(V0, V4, 0, 4)
	SELECT4(V1, V5, 1, 5)
	SELECT4(V2, V6, 2, 6)
	SELECT4(V3, V7, 3, 7)
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R1)
	SUBS   $16, R2
	BNE    selloop
	SUB    R8, R5
	LSR    $2, R5
	MOVD   R5, ret+48(FP)
	RET

// GELU4 replaces the 4 lanes of VX by their GELU; uses V4-V8 and the
// constants in V16-V30 (geluTab's order).
#define GELU4(VX, X) \
	FMAX4(16, X, 4) \
	FMIN4(17, 4, 4) \
	FMUL4(4, 4, 5) \
	VORR  V19.B16, V19.B16, V6.B16 \
	VFMLA V5.S4, V18.S4, V6.S4 \
	VORR  V20.B16, V20.B16, V7.B16 \
	VFMLA V5.S4, V6.S4, V7.S4 \
	VORR  V21.B16, V21.B16, V6.B16 \
	VFMLA V5.S4, V7.S4, V6.S4 \
	VORR  V22.B16, V22.B16, V7.B16 \
	VFMLA V5.S4, V6.S4, V7.S4 \
	FMUL4(4, 7, 7) \
	VORR  V24.B16, V24.B16, V6.B16 \
	VFMLA V5.S4, V23.S4, V6.S4 \
	VORR  V25.B16, V25.B16, V8.B16 \
	VFMLA V5.S4, V6.S4, V8.S4 \
	VORR  V26.B16, V26.B16, V6.B16 \
	VFMLA V5.S4, V8.S4, V6.S4 \
	VORR  V27.B16, V27.B16, V8.B16 \
	VFMLA V5.S4, V6.S4, V8.S4 \
	VORR  V28.B16, V28.B16, V6.B16 \
	VFMLA V5.S4, V8.S4, V6.S4 \
	FDIV4(6, 7, 7) \
	FMAX4(29, 7, 7) \
	FMIN4(28, 7, 7) \
	FMUL4(30, X, X) \
	VFMLA V7.S4, VX.S4, VX.S4

// func geluAsm(x *float32, n16 int)
TEXT ·geluAsm(SB), NOSPLIT, $0-16
	MOVD x+0(FP), R0
	MOVD n16+8(FP), R1
	MOVD $·geluTab(SB), R2
	MOVD $32, R3
	VLD1R.P (R2)(R3), [V16.S4]
	VLD1R.P (R2)(R3), [V17.S4]
	VLD1R.P (R2)(R3), [V18.S4]
	VLD1R.P (R2)(R3), [V19.S4]
	VLD1R.P (R2)(R3), [V20.S4]
	VLD1R.P (R2)(R3), [V21.S4]
	VLD1R.P (R2)(R3), [V22.S4]
	VLD1R.P (R2)(R3), [V23.S4]
	VLD1R.P (R2)(R3), [V24.S4]
	VLD1R.P (R2)(R3), [V25.S4]
	VLD1R.P (R2)(R3), [V26.S4]
	VLD1R.P (R2)(R3), [V27.S4]
	VLD1R.P (R2)(R3), [V28.S4]
	VLD1R.P (R2)(R3), [V29.S4]
	VLD1R   (R2), [V30.S4]

geluloop:
	VLD1   (R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	GELU4(V0, 0)
	GELU4(V1, 1)
	GELU4(V2, 2)
	GELU4(V3, 3)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUBS   $16, R1
	BNE    geluloop
	RET

// func scaleMaxAsm(x *float32, n16 int, scale float32) float32
TEXT ·scaleMaxAsm(SB), NOSPLIT, $0-28
	MOVD  x+0(FP), R0
	MOVD  n16+8(FP), R1
	FMOVS scale+16(FP), F15
	VDUP  V15.S[0], V15.S4
	MOVW  $0xff800000, R2 // -Inf
	VDUP  R2, V16.S4
	VDUP  R2, V17.S4

smloop:
	VLD1   (R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	FMUL4(15, 0, 0)
	FMUL4(15, 1, 1)
	FMUL4(15, 2, 2)
	FMUL4(15, 3, 3)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	FMAX4(0, 16, 16) // FMAX: a NaN wins
	FMAX4(1, 17, 17)
	FMAX4(2, 16, 16)
	FMAX4(3, 17, 17)
	SUBS   $16, R1
	BNE    smloop
	FMAX4(17, 16, 16)
	FMAXV(16, 16)
	FMOVS  F16, ret+24(FP)
	RET

// EXP4 replaces the 4 lanes of VX - m (m in V26) by their exp: 0 below
// expMin or for NaN; uses V1-V4 and the constants in V16-V25 (expTab's
// order).
#define EXP4(VX, X) \
	FSUB4(26, X, X) \
	FCMGE4(16, X, 1) \
	FMUL4(17, X, 2) \
	FRINTN4(2, 2) \
	VFMLS V18.S4, V2.S4, VX.S4 \
	VFMLS V19.S4, V2.S4, VX.S4 \
	VORR  V21.B16, V21.B16, V3.B16 \
	VFMLA VX.S4, V20.S4, V3.S4 \
	VORR  V22.B16, V22.B16, V4.B16 \
	VFMLA VX.S4, V3.S4, V4.S4 \
	VORR  V23.B16, V23.B16, V3.B16 \
	VFMLA VX.S4, V4.S4, V3.S4 \
	VORR  V24.B16, V24.B16, V4.B16 \
	VFMLA VX.S4, V3.S4, V4.S4 \
	FMUL4(X, X, 3) \
	VFMLA V3.S4, V4.S4, VX.S4 \
	FADD4(25, X, X) \
	FCVTZS4(2, 2) \
	VSHL  $23, V2.S4, V2.S4 \
	VADD  V2.S4, VX.S4, VX.S4 \
	VAND  V1.B16, VX.B16, VX.B16

// func expSumAsm(x *float32, n16 int, m float32, acc *[16]float32)
TEXT ·expSumAsm(SB), NOSPLIT, $0-32
	MOVD  x+0(FP), R0
	MOVD  n16+8(FP), R1
	FMOVS m+16(FP), F26
	VDUP  V26.S[0], V26.S4
	MOVD  acc+24(FP), R3
	MOVD  $·expTab(SB), R2
	MOVD  $32, R4
	VLD1R.P (R2)(R4), [V16.S4]
	VLD1R.P (R2)(R4), [V17.S4]
	VLD1R.P (R2)(R4), [V18.S4]
	VLD1R.P (R2)(R4), [V19.S4]
	VLD1R.P (R2)(R4), [V20.S4]
	VLD1R.P (R2)(R4), [V21.S4]
	VLD1R.P (R2)(R4), [V22.S4]
	VLD1R.P (R2)(R4), [V23.S4]
	VLD1R.P (R2)(R4), [V24.S4]
	VLD1R   (R2), [V25.S4]
	VLD1    (R3), [V28.S4, V29.S4, V30.S4, V31.S4]

exploop:
	VLD1 (R0), [V8.S4, V9.S4, V10.S4, V11.S4]
	EXP4(V8, 8)
	EXP4(V9, 9)
	EXP4(V10, 10)
	EXP4(V11, 11)
	FADD4(8, 28, 28)
	FADD4(9, 29, 29)
	FADD4(10, 30, 30)
	FADD4(11, 31, 31)
	VST1.P [V8.S4, V9.S4, V10.S4, V11.S4], 64(R0)
	SUBS   $16, R1
	BNE    exploop
	VST1   [V28.S4, V29.S4, V30.S4, V31.S4], (R3)
	RET

// func scaleAsm(x *float32, n16 int, s float32)
TEXT ·scaleAsm(SB), NOSPLIT, $0-20
	MOVD  x+0(FP), R0
	MOVD  n16+8(FP), R1
	FMOVS s+16(FP), F15
	VDUP  V15.S[0], V15.S4

scaleloop:
	VLD1   (R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	FMUL4(15, 0, 0)
	FMUL4(15, 1, 1)
	FMUL4(15, 2, 2)
	FMUL4(15, 3, 3)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUBS   $16, R1
	BNE    scaleloop
	RET

// func sumAsm(x *float32, n16 int) float32
TEXT ·sumAsm(SB), NOSPLIT, $0-20
	MOVD x+0(FP), R0
	MOVD n16+8(FP), R1
	ZERO(V16); ZERO(V17); ZERO(V18); ZERO(V19)

sumloop:
	VLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	FADD4(0, 16, 16)
	FADD4(1, 17, 17)
	FADD4(2, 18, 18)
	FADD4(3, 19, 19)
	SUBS   $16, R1
	BNE    sumloop
	REDUCE16(16, 17, 18, 19)
	FADDP4(16, 16, 16)
	FADDPS(16, 16)
	FMOVS  F16, ret+16(FP)
	RET

// func sumSqDevAsm(x *float32, n16 int, mean float32) float32
TEXT ·sumSqDevAsm(SB), NOSPLIT, $0-28
	MOVD  x+0(FP), R0
	MOVD  n16+8(FP), R1
	FMOVS mean+16(FP), F15
	VDUP  V15.S[0], V15.S4
	ZERO(V16); ZERO(V17); ZERO(V18); ZERO(V19)

ssloop:
	VLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	FSUB4(15, 0, 0)
	FSUB4(15, 1, 1)
	FSUB4(15, 2, 2)
	FSUB4(15, 3, 3)
	VFMLA  V0.S4, V0.S4, V16.S4
	VFMLA  V1.S4, V1.S4, V17.S4
	VFMLA  V2.S4, V2.S4, V18.S4
	VFMLA  V3.S4, V3.S4, V19.S4
	SUBS   $16, R1
	BNE    ssloop
	REDUCE16(16, 17, 18, 19)
	FADDP4(16, 16, 16)
	FADDPS(16, 16)
	FMOVS  F16, ret+24(FP)
	RET

// func normAsm(x, gain, bias *float32, n16 int, mean, inv float32)
TEXT ·normAsm(SB), NOSPLIT, $0-40
	MOVD  x+0(FP), R0
	MOVD  gain+8(FP), R1
	MOVD  bias+16(FP), R2
	MOVD  n16+24(FP), R3
	FMOVS mean+32(FP), F14
	VDUP  V14.S[0], V14.S4
	FMOVS inv+36(FP), F15
	VDUP  V15.S[0], V15.S4

normloop:
	VLD1   (R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R2), [V8.S4, V9.S4, V10.S4, V11.S4]
	FSUB4(14, 0, 0)
	FSUB4(14, 1, 1)
	FSUB4(14, 2, 2)
	FSUB4(14, 3, 3)
	FMUL4(15, 0, 0)
	FMUL4(15, 1, 1)
	FMUL4(15, 2, 2)
	FMUL4(15, 3, 3)
	FMUL4(4, 0, 0)
	FMUL4(5, 1, 1)
	FMUL4(6, 2, 2)
	FMUL4(7, 3, 3)
	FADD4(8, 0, 0)
	FADD4(9, 1, 1)
	FADD4(10, 2, 2)
	FADD4(11, 3, 3)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUBS   $16, R3
	BNE    normloop
	RET
