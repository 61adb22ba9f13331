//go:build !(arm64 || amd64) || !gc || purego

package kernels

// The frontend's kernels have no assembly in this build: the plain-Go
// references run. The stubs are never called.
const spectrumAsm = false

func mulAsm(dst, a, b *float32, n16 int) { panic(noSpectrumAsm) }
func axpyRowsRoundedAsm(y *float32, m4 int, a *float32, rows int, w *float32, stride int) {
	panic(noSpectrumAsm)
}
func logFloorAsm(x *float32, n4 int, floor float32, tab *[logTerms + 4]float64) { panic(noSpectrumAsm) }
func bandAsm(dst, x *float32, cols *int32, groups int, w *float32)              { panic(noSpectrumAsm) }
func fftAsm(zr, zi, x *float32, offs *int32, q int, c0 *[4]float32, mid, last, z *float32) {
	panic(noSpectrumAsm)
}
func splitMagAsm(mag, zr, zi *float32, m int, tw *float32) { panic(noSpectrumAsm) }

const noSpectrumAsm = "kernels: no assembly for the frontend's kernels in this build"
