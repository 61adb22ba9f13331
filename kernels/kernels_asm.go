//go:build (amd64 || arm64) && gc && !purego

package kernels

// The assembly entry points, the same on amd64 (AVX2+FMA) and arm64 (NEON). Each does the
// multiples of 16 elements (n16, m16); Go does the tails.

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

//go:noescape
func maxAbsAsm(x *float32, n16 int) float32

//go:noescape
func quantizeAsm(q *int8, x *float32, n16 int, inv float32)

//go:noescape
func dequantizeAsm(y *float32, acc *int32, n16 int, sx float32, ws, b *float32)

//go:noescape
func dotInt8Asm(acc *int32, w, q *int8, np, kp int)
