//go:build gc && !purego

package kernels

import "golang.org/x/sys/cpu"

// NEON (Advanced SIMD) is part of every ARMv8-A core: the assembly always
// runs. The one optional extension, SDOT, is used where the CPU has it
// (useSDOT).
const haveAsm = true

const asmName = "neon"

// useSDOT says whether dotInt8Asm uses SDOT, the dot-product extension of
// ARMv8.2 (Cortex-A55, A76 and later: the Raspberry Pi 5); without it
// (Cortex-A53, A72: the Pi 3 and 4) it widens with SMULL and SADALP, which
// gives the same sums.
var useSDOT = cpu.ARM64.HasASIMDDP

func int8AsmName() string {
	if useSDOT {
		return "sdot"
	}
	return "smull"
}
