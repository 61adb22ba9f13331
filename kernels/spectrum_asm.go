//go:build (amd64 || arm64) && gc && !purego

package kernels

// The frontend's kernels in assembly, the same entry points in NEON (spectrum_arm64.s) and
// AVX2 (spectrum_amd64.s, without its fused multiply-adds); see spectrum.go.
const spectrumAsm = true

//go:noescape
func mulAsm(dst, a, b *float32, n16 int)

//go:noescape
func axpyRowsRoundedAsm(y *float32, m4 int, a *float32, rows int, w *float32, stride int)

//go:noescape
func logFloorAsm(x *float32, n4 int, floor float32, tab *[logTerms + 4]float64)

//go:noescape
func bandAsm(dst, x *float32, cols *int32, groups int, w *float32)

//go:noescape
func fftAsm(zr, zi, x *float32, offs *int32, q int, c0 *[4]float32, mid, last, z *float32)

//go:noescape
func splitMagAsm(mag, zr, zi *float32, m int, tw *float32)
