//go:build gc && !purego

#include "textflag.h"
#include "max_amd64.h"

// AVX2 kernels of the int8 matrix-vector product (see int8.go). Each does a
// multiple of 16 elements; int8.go does the tails. The float steps are the
// IEEE operations of the Go code, in its order (no FMA), so the results are
// the same bits as quantize1 and Dequantize's loop; the int8 dot products
// are exact int32 sums.

// func maxAbsAsm(x *float32, n16 int) float32
TEXT ·maxAbsAsm(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), DI
	MOVQ         n16+8(FP), CX
	MOVL         $0x7fffffff, AX
	MOVQ         AX, X15
	VPBROADCASTD X15, Y15 // clears the sign bit
	VXORPS       Y0, Y0, Y0
	VXORPS       Y1, Y1, Y1

maloop:
	VANDPS  (DI), Y15, Y2
	VANDPS  32(DI), Y15, Y3
	VMAXPS  Y0, Y2, Y0 // max(|x|, m): m where |x| is NaN, so NaN is skipped
	VMAXPS  Y1, Y3, Y1
	ADDQ    $64, DI
	SUBQ    $16, CX
	JNZ     maloop

	MAX16
	MOVSS        X0, ret+16(FP)
	VZEROUPPER
	RET

// func quantizeAsm(q *int8, x *float32, n16 int, inv float32)
TEXT ·quantizeAsm(SB), NOSPLIT, $0-28
	MOVQ         q+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n16+16(FP), CX
	VBROADCASTSS inv+24(FP), Y15
	MOVL         $0xc2fe0000, AX // -127
	MOVQ         AX, X14
	VPBROADCASTD X14, Y14
	MOVL         $0x42fe0000, AX // 127
	MOVQ         AX, X13
	VPBROADCASTD X13, Y13

qloop:
	VMULPS       (SI), Y15, Y0 // v = x*inv
	VMULPS       32(SI), Y15, Y1
	VMAXPS       Y14, Y0, Y0   // max(v, -127): -127 where v is NaN
	VMAXPS       Y14, Y1, Y1
	VMINPS       Y13, Y0, Y0   // min(v, 127)
	VMINPS       Y13, Y1, Y1
	VCVTPS2DQ    Y0, Y0        // round to nearest even
	VCVTPS2DQ    Y1, Y1
	VPACKSSDW    Y1, Y0, Y0    // words: x0-3, x8-11 | x4-7, x12-15
	VEXTRACTI128 $1, Y0, X1
	VPACKSSWB    X1, X0, X0    // bytes: x0-3, x8-11, x4-7, x12-15
	VPSHUFD      $0xd8, X0, X0 // x0-15
	VMOVDQU      X0, (DI)
	ADDQ         $16, DI
	ADDQ         $64, SI
	SUBQ         $16, CX
	JNZ          qloop
	VZEROUPPER
	RET

// func dequantizeAsm(y *float32, acc *int32, n16 int, sx float32, ws, b *float32)
TEXT ·dequantizeAsm(SB), NOSPLIT, $0-48
	MOVQ         y+0(FP), DI
	MOVQ         acc+8(FP), SI
	MOVQ         n16+16(FP), CX
	VBROADCASTSS sx+24(FP), Y15
	MOVQ         ws+32(FP), R8
	MOVQ         b+40(FP), R9
	XORQ         AX, AX

dqloop:
	VMULPS    (R8)(AX*1), Y15, Y0   // c = sx*ws
	VMULPS    32(R8)(AX*1), Y15, Y1
	VCVTDQ2PS (SI)(AX*1), Y2
	VCVTDQ2PS 32(SI)(AX*1), Y3
	VMULPS    Y0, Y2, Y2            // p = float32(acc)*c
	VMULPS    Y1, Y3, Y3
	VADDPS    (R9)(AX*1), Y2, Y2    // y = p + b
	VADDPS    32(R9)(AX*1), Y3, Y3
	VMOVUPS   Y2, (DI)(AX*1)
	VMOVUPS   Y3, 32(DI)(AX*1)
	ADDQ      $64, AX
	SUBQ      $16, CX
	JNZ       dqloop
	VZEROUPPER
	RET

// DOT4 adds to YACC the products of the 16 weights at OFF(R11) (four rows
// by four columns) with the q pattern in Y8: two int32 partial sums per row
// (columns 0-1 and 2-3), rows in order.
#define DOT4(OFF, YT, YACC) \
	VPMOVSXBW OFF(R11), YT \
	VPMADDWD  Y8, YT, YT \
	VPADDD    YT, YACC, YACC

// FOLD8 turns the partial sums of rows 0-3 (YA) and 4-7 (YB) into the 8
// row sums, in order, in YA.
#define FOLD8(YA, YB) \
	VPHADDD YB, YA, YA \
	VPERMQ  $0xd8, YA, YA

// func dotInt8Asm(acc *int32, w, q *int8, np, kp int)
TEXT ·dotInt8Asm(SB), NOSPLIT, $0-40
	MOVQ acc+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ q+16(FP), DX
	MOVQ np+24(FP), CX
	MOVQ kp+32(FP), R10
	SHRQ $2, R10 // column groups of four
	MOVQ CX, R9
	SHLQ $2, R9  // bytes from one column group to the next

dot32:
	CMPQ   CX, $32
	JLT    dot16
	VPXOR  Y0, Y0, Y0
	VPXOR  Y1, Y1, Y1
	VPXOR  Y2, Y2, Y2
	VPXOR  Y3, Y3, Y3
	VPXOR  Y4, Y4, Y4
	VPXOR  Y5, Y5, Y5
	VPXOR  Y6, Y6, Y6
	VPXOR  Y7, Y7, Y7
	MOVQ   SI, R11
	MOVQ   DX, R12
	MOVQ   R10, BX

dot32loop:
	VPBROADCASTD (R12), X8
	VPMOVSXBW    X8, Y8 // q[4g:4g+4] as int16, four times
	DOT4(0, Y9, Y0)
	DOT4(16, Y10, Y1)
	DOT4(32, Y11, Y2)
	DOT4(48, Y12, Y3)
	DOT4(64, Y13, Y4)
	DOT4(80, Y14, Y5)
	DOT4(96, Y15, Y6)
	DOT4(112, Y9, Y7)
	ADDQ $4, R12
	ADDQ R9, R11
	DECQ BX
	JNZ  dot32loop

	FOLD8(Y0, Y1)
	FOLD8(Y2, Y3)
	FOLD8(Y4, Y5)
	FOLD8(Y6, Y7)
	VMOVDQU Y0, (DI)
	VMOVDQU Y2, 32(DI)
	VMOVDQU Y4, 64(DI)
	VMOVDQU Y6, 96(DI)
	ADDQ    $128, DI
	ADDQ    $128, SI
	SUBQ    $32, CX
	JMP     dot32

dot16:
	TESTQ  CX, CX
	JZ     dotdone
	VPXOR  Y0, Y0, Y0
	VPXOR  Y1, Y1, Y1
	VPXOR  Y2, Y2, Y2
	VPXOR  Y3, Y3, Y3
	MOVQ   SI, R11
	MOVQ   DX, R12
	MOVQ   R10, BX

dot16loop:
	VPBROADCASTD (R12), X8
	VPMOVSXBW    X8, Y8
	DOT4(0, Y9, Y0)
	DOT4(16, Y10, Y1)
	DOT4(32, Y11, Y2)
	DOT4(48, Y12, Y3)
	ADDQ $4, R12
	ADDQ R9, R11
	DECQ BX
	JNZ  dot16loop

	FOLD8(Y0, Y1)
	FOLD8(Y2, Y3)
	VMOVDQU Y0, (DI)
	VMOVDQU Y2, 32(DI)

dotdone:
	VZEROUPPER
	RET
