//go:build gc && !purego

package asm

// NEON (Advanced SIMD) is part of every ARMv8-A core: the assembly always
// runs, and uses no optional extension (no SDOT).
const haveAsm = true

const asmName = "neon"

//go:noescape
func dotRowsAsm(dst *float32, rows int, x *float32, n16 int, w *float32, stride int)

//go:noescape
func axpyRowsAsm(y *float32, m16 int, a *float32, rows int, w *float32, stride int)

//go:noescape
func rowAXPYAsm(y *float32, m16 int, w *float32, stride int, idx *int32, dv *float32, rows, nrows int) (ok bool)

//go:noescape
func addAsm(y, x *float32, n16 int)

//go:noescape
func selectDeltaAsm(x, ref *float32, n16 int, th uint32, idx *int32, dv *float32) int

//go:noescape
func geluAsm(x *float32, n16 int)

//go:noescape
func scaleMaxAsm(x *float32, n16 int, scale float32) float32

//go:noescape
func expSumAsm(x *float32, n16 int, m float32, acc *[16]float32)

//go:noescape
func scaleAsm(x *float32, n16 int, s float32)

//go:noescape
func sumAsm(x *float32, n16 int) float32

//go:noescape
func sumSqDevAsm(x *float32, n16 int, mean float32) float32

//go:noescape
func normAsm(x, gain, bias *float32, n16 int, mean, inv float32)
