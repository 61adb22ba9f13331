//go:build gc && !purego

#include "textflag.h"
#include "max_amd64.h"

// AVX2+FMA kernels. Each handles the bulk of its vectors (a multiple of 16
// float32); kernels.go does the tail. A block of 16 elements is two YMM
// registers: elements 0-7 and 8-15. The operation sequences are those of
// kernels_arm64.s, so that both give the same bits (see kernels.go).

// REDUCE16 folds the 16 partial sums in YA (lanes 0-7) and YB (lanes 8-15)
// into the four r_l = (s_l + s_l+8) + (s_l+4 + s_l+12), left in XA.
#define REDUCE16(YA, YB, XA, XT) \
	VADDPS       YB, YA, YA \
	VEXTRACTF128 $1, YA, XT \
	VADDPS       XT, XA, XA

// func dotRowsAsm(dst *float32, rows int, x *float32, n16 int, w *float32, stride int)
TEXT ·dotRowsAsm(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ rows+8(FP), CX
	MOVQ x+16(FP), SI
	MOVQ n16+24(FP), DX
	MOVQ w+32(FP), R8
	MOVQ stride+40(FP), R9
	SHLQ $2, R9 // row stride in bytes
	SHLQ $2, DX // row length in bytes

dot4:
	CMPQ CX, $4
	JLT  dot1
	LEAQ (R8)(R9*1), R10
	LEAQ (R10)(R9*1), R11
	LEAQ (R11)(R9*1), R12
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ AX, AX

dot4loop:
	VMOVUPS     (SI)(AX*1), Y8
	VMOVUPS     32(SI)(AX*1), Y9
	VFMADD231PS (R8)(AX*1), Y8, Y0
	VFMADD231PS 32(R8)(AX*1), Y9, Y1
	VFMADD231PS (R10)(AX*1), Y8, Y2
	VFMADD231PS 32(R10)(AX*1), Y9, Y3
	VFMADD231PS (R11)(AX*1), Y8, Y4
	VFMADD231PS 32(R11)(AX*1), Y9, Y5
	VFMADD231PS (R12)(AX*1), Y8, Y6
	VFMADD231PS 32(R12)(AX*1), Y9, Y7
	ADDQ        $64, AX
	CMPQ        AX, DX
	JLT         dot4loop

	REDUCE16(Y0, Y1, X0, X8)
	REDUCE16(Y2, Y3, X2, X8)
	REDUCE16(Y4, Y5, X4, X8)
	REDUCE16(Y6, Y7, X6, X8)
	VHADDPS X2, X0, X0 // (r0+r1, r2+r3) of rows 0 and 1
	VHADDPS X6, X4, X4 // of rows 2 and 3
	VHADDPS X4, X0, X0 // the four sums
	VMOVUPS X0, (DI)
	ADDQ    $16, DI
	LEAQ    (R12)(R9*1), R8
	SUBQ    $4, CX
	JMP     dot4

dot1:
	TESTQ CX, CX
	JZ    dotdone
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	XORQ AX, AX

dot1loop:
	VMOVUPS     (SI)(AX*1), Y8
	VMOVUPS     32(SI)(AX*1), Y9
	VFMADD231PS (R8)(AX*1), Y8, Y0
	VFMADD231PS 32(R8)(AX*1), Y9, Y1
	ADDQ        $64, AX
	CMPQ        AX, DX
	JLT         dot1loop

	REDUCE16(Y0, Y1, X0, X8)
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VMOVSS  X0, (DI)
	ADDQ    $4, DI
	ADDQ    R9, R8
	DECQ    CX
	JMP     dot1

dotdone:
	VZEROUPPER
	RET

// ROW64 adds the row at (P) times Y8 to the 64 accumulators Y0-Y7.
#define ROW64(P) \
	VFMADD231PS (P), Y8, Y0 \
	VFMADD231PS 32(P), Y8, Y1 \
	VFMADD231PS 64(P), Y8, Y2 \
	VFMADD231PS 96(P), Y8, Y3 \
	VFMADD231PS 128(P), Y8, Y4 \
	VFMADD231PS 160(P), Y8, Y5 \
	VFMADD231PS 192(P), Y8, Y6 \
	VFMADD231PS 224(P), Y8, Y7

#define LOAD64(P) \
	VMOVUPS (P), Y0 \
	VMOVUPS 32(P), Y1 \
	VMOVUPS 64(P), Y2 \
	VMOVUPS 96(P), Y3 \
	VMOVUPS 128(P), Y4 \
	VMOVUPS 160(P), Y5 \
	VMOVUPS 192(P), Y6 \
	VMOVUPS 224(P), Y7

#define STORE64(P) \
	VMOVUPS Y0, (P) \
	VMOVUPS Y1, 32(P) \
	VMOVUPS Y2, 64(P) \
	VMOVUPS Y3, 96(P) \
	VMOVUPS Y4, 128(P) \
	VMOVUPS Y5, 160(P) \
	VMOVUPS Y6, 192(P) \
	VMOVUPS Y7, 224(P)

// func axpyRowsAsm(y *float32, m16 int, a *float32, rows int, w *float32, stride int)
TEXT ·axpyRowsAsm(SB), NOSPLIT, $0-48
	MOVQ y+0(FP), DI
	MOVQ m16+8(FP), DX
	MOVQ a+16(FP), SI
	MOVQ rows+24(FP), CX
	MOVQ w+32(FP), R8
	MOVQ stride+40(FP), R9
	SHLQ $2, R9

ax64:
	CMPQ DX, $64
	JLT  ax16
	LOAD64(DI)
	MOVQ R8, R10
	MOVQ SI, R11
	MOVQ CX, BX

ax64row:
	VBROADCASTSS (R11), Y8
	ROW64(R10)
	ADDQ $4, R11
	ADDQ R9, R10
	DECQ BX
	JNZ  ax64row
	STORE64(DI)
	ADDQ $256, DI
	ADDQ $256, R8
	SUBQ $64, DX
	JMP  ax64

ax16:
	CMPQ DX, $16
	JLT  axdone
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	MOVQ R8, R10
	MOVQ SI, R11
	MOVQ CX, BX

ax16row:
	VBROADCASTSS (R11), Y8
	VFMADD231PS  (R10), Y8, Y0
	VFMADD231PS  32(R10), Y8, Y1
	ADDQ $4, R11
	ADDQ R9, R10
	DECQ BX
	JNZ  ax16row
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $64, DI
	ADDQ $64, R8
	SUBQ $16, DX
	JMP  ax16

axdone:
	VZEROUPPER
	RET

// func rowAXPYAsm(y *float32, m16 int, w *float32, stride int, idx *int32, dv *float32, rows, nrows int) (ok bool)
TEXT ·rowAXPYAsm(SB), NOSPLIT, $0-65
	MOVQ y+0(FP), DI
	MOVQ m16+8(FP), DX
	MOVQ w+16(FP), R8
	MOVQ stride+24(FP), R9
	MOVQ idx+32(FP), R12
	MOVQ dv+40(FP), SI
	MOVQ rows+48(FP), CX
	MOVQ nrows+56(FP), R14
	SHLQ $2, R9

rx64:
	CMPQ DX, $64
	JLT  rx16
	LOAD64(DI)
	MOVQ R12, R13
	MOVQ SI, R11
	MOVQ CX, BX

rx64row:
	MOVL         (R13), AX // zero-extended: a negative index becomes huge
	CMPQ         AX, R14
	JAE          rxbad
	IMULQ        R9, AX
	ADDQ         R8, AX
	VBROADCASTSS (R11), Y8
	ROW64(AX)
	ADDQ $4, R11
	ADDQ $4, R13
	DECQ BX
	JNZ  rx64row
	STORE64(DI)
	ADDQ $256, DI
	ADDQ $256, R8
	SUBQ $64, DX
	JMP  rx64

rx16:
	CMPQ DX, $16
	JLT  rxdone
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	MOVQ R12, R13
	MOVQ SI, R11
	MOVQ CX, BX

rx16row:
	MOVL         (R13), AX
	CMPQ         AX, R14
	JAE          rxbad
	IMULQ        R9, AX
	ADDQ         R8, AX
	VBROADCASTSS (R11), Y8
	VFMADD231PS  (AX), Y8, Y0
	VFMADD231PS  32(AX), Y8, Y1
	ADDQ $4, R11
	ADDQ $4, R13
	DECQ BX
	JNZ  rx16row
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $64, DI
	ADDQ $64, R8
	SUBQ $16, DX
	JMP  rx16

rxdone:
	MOVB $1, ok+64(FP)
	VZEROUPPER
	RET

rxbad:
	MOVB $0, ok+64(FP)
	VZEROUPPER
	RET

// func addAsm(y, x *float32, n16 int)
TEXT ·addAsm(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n16+16(FP), CX

addloop:
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VADDPS  (SI), Y0, Y0
	VADDPS  32(SI), Y1, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    $64, DI
	ADDQ    $64, SI
	SUBQ    $16, CX
	JNZ     addloop
	VZEROUPPER
	RET

DATA iota8<>+0(SB)/4, $0
DATA iota8<>+4(SB)/4, $1
DATA iota8<>+8(SB)/4, $2
DATA iota8<>+12(SB)/4, $3
DATA iota8<>+16(SB)/4, $4
DATA iota8<>+20(SB)/4, $5
DATA iota8<>+24(SB)/4, $6
DATA iota8<>+28(SB)/4, $7
GLOBL iota8<>(SB), RODATA|NOPTR, $32

// func selectDeltaAsm(x, ref *float32, n16 int, th uint32, idx *int32, dv *float32) int
TEXT ·selectDeltaAsm(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ ref+8(FP), DI
	MOVQ n16+16(FP), CX
	MOVL th+24(FP), AX
	MOVQ AX, X15
	VPBROADCASTD X15, Y15
	MOVQ idx+32(FP), R8
	MOVQ dv+40(FP), R9
	MOVL $0x7fffffff, AX
	MOVQ AX, X14
	VPBROADCASTD X14, Y14     // clears the sign bit
	MOVL $8, AX
	MOVQ AX, X12
	VPBROADCASTD X12, Y12     // 8, 8, ...
	VMOVDQU iota8<>(SB), Y13  // the positions i..i+7
	LEAQ ·compress8(SB), R10
	XORQ DX, DX               // kept so far
	SHLQ $2, CX
	XORQ AX, AX               // byte offset of the block

selloop:
	VMOVUPS      (SI)(AX*1), Y0
	VMOVUPS      (DI)(AX*1), Y1
	VSUBPS       Y1, Y0, Y2    // d = x - ref
	VPAND        Y14, Y2, Y3   // |d| as bits
	VPCMPGTD     Y15, Y3, Y4   // kept: |d| > theta (on the bits)
	VBLENDVPS    Y4, Y0, Y1, Y1
	VMOVUPS      Y1, (DI)(AX*1) // ref = x where kept
	VMOVMSKPS    Y4, BX
	MOVQ         BX, R11
	SHLQ         $5, R11
	VMOVDQU      (R10)(R11*1), Y5
	VPERMD       Y2, Y5, Y6    // the kept deltas, first
	VPERMD       Y13, Y5, Y7   // and their positions
	VMOVUPS      Y6, (R9)(DX*4)
	VMOVDQU      Y7, (R8)(DX*4)
	POPCNTL      BX, BX
	ADDQ         BX, DX
	VPADDD       Y12, Y13, Y13
	ADDQ         $32, AX
	CMPQ         AX, CX
	JLT          selloop
	MOVQ DX, ret+48(FP)
	VZEROUPPER
	RET

// GELU of the 8 lanes of YX, into YX; uses Y1-Y4 and geluTab at R8.
#define GELU8(YX) \
	VMAXPS      (R8), YX, Y1 \
	VMINPS      32(R8), Y1, Y1 \
	VMULPS      Y1, Y1, Y2 \
	VMOVUPS     64(R8), Y3 \
	VFMADD213PS 96(R8), Y2, Y3 \
	VFMADD213PS 128(R8), Y2, Y3 \
	VFMADD213PS 160(R8), Y2, Y3 \
	VFMADD213PS 192(R8), Y2, Y3 \
	VMULPS      Y1, Y3, Y3 \
	VMOVUPS     224(R8), Y4 \
	VFMADD213PS 256(R8), Y2, Y4 \
	VFMADD213PS 288(R8), Y2, Y4 \
	VFMADD213PS 320(R8), Y2, Y4 \
	VFMADD213PS 352(R8), Y2, Y4 \
	VFMADD213PS 384(R8), Y2, Y4 \
	VDIVPS      Y4, Y3, Y3 \
	VMAXPS      416(R8), Y3, Y3 \
	VMINPS      384(R8), Y3, Y3 \
	VMULPS      448(R8), YX, YX \
	VFMADD231PS Y3, YX, YX

// func geluAsm(x *float32, n16 int)
TEXT ·geluAsm(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), DI
	MOVQ n16+8(FP), CX
	LEAQ ·geluTab(SB), R8

geluloop:
	VMOVUPS (DI), Y0
	GELU8(Y0)
	VMOVUPS Y0, (DI)
	VMOVUPS 32(DI), Y0
	GELU8(Y0)
	VMOVUPS Y0, 32(DI)
	ADDQ    $64, DI
	SUBQ    $16, CX
	JNZ     geluloop
	VZEROUPPER
	RET

// func scaleMaxAsm(x *float32, n16 int, scale float32) float32
TEXT ·scaleMaxAsm(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), DI
	MOVQ         n16+8(FP), CX
	VBROADCASTSS scale+16(FP), Y15
	MOVL         $0xff800000, AX // -Inf
	MOVQ         AX, X0
	VPBROADCASTD X0, Y0
	VMOVUPS      Y0, Y1
	VXORPS       Y2, Y2, Y2 // NaN seen

smloop:
	VMULPS  (DI), Y15, Y3
	VMULPS  32(DI), Y15, Y4
	VMOVUPS Y3, (DI)
	VMOVUPS Y4, 32(DI)
	VMAXPS  Y3, Y0, Y0
	VMAXPS  Y4, Y1, Y1
	VCMPPS  $3, Y3, Y3, Y5 // unordered: NaN
	VCMPPS  $3, Y4, Y4, Y6
	VORPS   Y5, Y2, Y2
	VORPS   Y6, Y2, Y2
	ADDQ    $64, DI
	SUBQ    $16, CX
	JNZ     smloop

	MAX16
	VMOVMSKPS    Y2, AX
	TESTL        AX, AX
	JZ           smdone
	MOVL         $0x7fc00000, AX // NaN
	MOVQ         AX, X0

smdone:
	MOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// EXP8 replaces the 8 lanes of YT (t <= 0) by exp(t): 0 below expMin or
// for NaN; uses Y1-Y4 and expTab at R8.
#define EXP8(YT) \
	VCMPPS       $0x1d, (R8), YT, Y1 \
	VMULPS       32(R8), YT, Y2 \
	VROUNDPS     $0, Y2, Y2 \
	VFNMADD231PS 64(R8), Y2, YT \
	VFNMADD231PS 96(R8), Y2, YT \
	VMOVUPS      128(R8), Y3 \
	VFMADD213PS  160(R8), YT, Y3 \
	VFMADD213PS  192(R8), YT, Y3 \
	VFMADD213PS  224(R8), YT, Y3 \
	VFMADD213PS  256(R8), YT, Y3 \
	VMULPS       YT, YT, Y4 \
	VFMADD231PS  Y4, Y3, YT \
	VADDPS       288(R8), YT, YT \
	VCVTTPS2DQ   Y2, Y2 \
	VPSLLD       $23, Y2, Y2 \
	VPADDD       Y2, YT, YT \
	VANDPS       Y1, YT, YT

// func expSumAsm(x *float32, n16 int, m float32, acc *[16]float32)
TEXT ·expSumAsm(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), DI
	MOVQ         n16+8(FP), CX
	VBROADCASTSS m+16(FP), Y15
	MOVQ         acc+24(FP), SI
	LEAQ         ·expTab(SB), R8
	VMOVUPS      (SI), Y13
	VMOVUPS      32(SI), Y14
	MOVL         $0, BX

exploop:
	VMOVUPS (DI)(BX*1), Y0
	VSUBPS  Y15, Y0, Y0 // t = x - m
	EXP8(Y0)
	VMOVUPS Y0, (DI)(BX*1)
	VADDPS  Y0, Y13, Y13
	VMOVUPS 32(DI)(BX*1), Y0
	VSUBPS  Y15, Y0, Y0
	EXP8(Y0)
	VMOVUPS Y0, 32(DI)(BX*1)
	VADDPS  Y0, Y14, Y14
	ADDQ    $64, BX
	SUBQ    $16, CX
	JNZ     exploop
	VMOVUPS Y13, (SI)
	VMOVUPS Y14, 32(SI)
	VZEROUPPER
	RET

// func scaleAsm(x *float32, n16 int, s float32)
TEXT ·scaleAsm(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), DI
	MOVQ         n16+8(FP), CX
	VBROADCASTSS s+16(FP), Y15

scaleloop:
	VMULPS  (DI), Y15, Y0
	VMULPS  32(DI), Y15, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    $64, DI
	SUBQ    $16, CX
	JNZ     scaleloop
	VZEROUPPER
	RET

// func sumAsm(x *float32, n16 int) float32
TEXT ·sumAsm(SB), NOSPLIT, $0-20
	MOVQ   x+0(FP), DI
	MOVQ   n16+8(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

sumloop:
	VADDPS (DI), Y0, Y0
	VADDPS 32(DI), Y1, Y1
	ADDQ   $64, DI
	SUBQ   $16, CX
	JNZ    sumloop
	REDUCE16(Y0, Y1, X0, X8)
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	MOVSS   X0, ret+16(FP)
	VZEROUPPER
	RET

// func sumSqDevAsm(x *float32, n16 int, mean float32) float32
TEXT ·sumSqDevAsm(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), DI
	MOVQ         n16+8(FP), CX
	VBROADCASTSS mean+16(FP), Y15
	VXORPS       Y0, Y0, Y0
	VXORPS       Y1, Y1, Y1

ssloop:
	VMOVUPS     (DI), Y2
	VMOVUPS     32(DI), Y3
	VSUBPS      Y15, Y2, Y2
	VSUBPS      Y15, Y3, Y3
	VFMADD231PS Y2, Y2, Y0
	VFMADD231PS Y3, Y3, Y1
	ADDQ        $64, DI
	SUBQ        $16, CX
	JNZ         ssloop
	REDUCE16(Y0, Y1, X0, X8)
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	MOVSS   X0, ret+24(FP)
	VZEROUPPER
	RET

// func normAsm(x, gain, bias *float32, n16 int, mean, inv float32)
TEXT ·normAsm(SB), NOSPLIT, $0-40
	MOVQ         x+0(FP), DI
	MOVQ         gain+8(FP), SI
	MOVQ         bias+16(FP), DX
	MOVQ         n16+24(FP), CX
	VBROADCASTSS mean+32(FP), Y14
	VBROADCASTSS inv+36(FP), Y15

normloop:
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VSUBPS  Y14, Y0, Y0
	VSUBPS  Y14, Y1, Y1
	VMULPS  Y15, Y0, Y0
	VMULPS  Y15, Y1, Y1
	VMULPS  (SI), Y0, Y0
	VMULPS  32(SI), Y1, Y1
	VADDPS  (DX), Y0, Y0
	VADDPS  32(DX), Y1, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    $64, DI
	ADDQ    $64, SI
	ADDQ    $64, DX
	SUBQ    $16, CX
	JNZ     normloop
	VZEROUPPER
	RET
