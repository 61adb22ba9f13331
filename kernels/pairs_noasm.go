//go:build !arm64 || !gc || purego

package kernels

// No assembly for DotPairs and DotStrided here: they run Dot row by row
// (or DotRows's assembly, which is that), which gives the same bits. The
// stubs are never called.
const pairsAsm = false

func dotPairsAsm(dst *float32, rows int, a *float32, ai *int32, b *float32, bi *int32, n16, tail int) {
	panic(noPairsAsm)
}

func dotRowsTailAsm(dst *float32, rows int, x *float32, n16 int, w *float32, stride, tail, dstep int) {
	panic(noPairsAsm)
}

const noPairsAsm = "kernels: no assembly for DotPairs in this build"
