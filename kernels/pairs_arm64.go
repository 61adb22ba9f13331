//go:build gc && !purego

package kernels

// DotPairs and DotStrided in NEON (pairs_arm64.s).
const pairsAsm = true

//go:noescape
func dotPairsAsm(dst *float32, rows int, a *float32, ai *int32, b *float32, bi *int32, n16, tail int)

//go:noescape
func dotRowsTailAsm(dst *float32, rows int, x *float32, n16 int, w *float32, stride, tail, dstep int)
