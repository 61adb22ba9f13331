//go:build gc && !purego

package asm

// NEON (Advanced SIMD) is part of every ARMv8-A core: the assembly always
// runs, and uses no optional extension (no SDOT).
const haveAsm = true

const asmName = "neon"
