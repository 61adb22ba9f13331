//go:build gc && !purego

package kernels

import "golang.org/x/sys/cpu"

// The AVX2 kernels also use FMA (fused multiply-add) and POPCNT; without
// all three the plain-Go kernels run.
var haveAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasPOPCNT

const asmName = "avx2+fma"

func int8AsmName() string { return "avx2" }
