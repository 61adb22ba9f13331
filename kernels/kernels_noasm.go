//go:build (!amd64 && !arm64) || !gc || purego

package kernels

// No assembly in this build: the plain-Go kernels run. The stubs below are
// never called (useAsm stays false).

const (
	haveAsm = false
	asmName = "generic"
)

func dotRowsAsm(dst *float32, rows int, x *float32, n16 int, w *float32, stride int) { panic(noAsm) }
func axpyRowsAsm(y *float32, m16 int, a *float32, rows int, w *float32, stride int)  { panic(noAsm) }
func rowAXPYAsm(y *float32, m16 int, w *float32, stride int, idx *int32, dv *float32, rows, nrows int) bool {
	panic(noAsm)
}
func addAsm(y, x *float32, n16 int) { panic(noAsm) }
func selectDeltaAsm(x, ref *float32, n16 int, th uint32, idx *int32, dv *float32) int {
	panic(noAsm)
}
func geluAsm(x *float32, n16 int)                                { panic(noAsm) }
func scaleMaxAsm(x *float32, n16 int, scale float32) float32     { panic(noAsm) }
func expSumAsm(x *float32, n16 int, m float32, acc *[16]float32) { panic(noAsm) }
func scaleAsm(x *float32, n16 int, s float32)                    { panic(noAsm) }
func sumAsm(x *float32, n16 int) float32                         { panic(noAsm) }
func sumSqDevAsm(x *float32, n16 int, mean float32) float32      { panic(noAsm) }
func normAsm(x, gain, bias *float32, n16 int, mean, inv float32) { panic(noAsm) }

func maxAbsAsm(x *float32, n16 int) float32                 { panic(noAsm) }
func quantizeAsm(q *int8, x *float32, n16 int, inv float32) { panic(noAsm) }
func dotInt8Asm(acc *int32, w, q *int8, np, kp int)         { panic(noAsm) }
func dequantizeAsm(y *float32, acc *int32, n16 int, sx float32, ws, b *float32) {
	panic(noAsm)
}

func int8AsmName() string { return "generic" }

const noAsm = "kernels: no assembly in this build"
