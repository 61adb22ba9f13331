package kernels

// DotPairs sets dst[r] = Dot(a[ai[r] : ai[r]+n], b[bi[r] : bi[r]+n]) for
// every r < len(dst), with the bits of Dot: one dot product per pair of
// offsets, as a polyphase resampler computes its outputs (each its filter
// phase's coefficients in a against its window of the input in b). ai and
// bi need len(dst) offsets; it panics, before writing anything, when one
// pair does not fit in a and b.
func DotPairs(dst, a []float32, ai []int32, b []float32, bi []int32, n int) {
	ai, bi = ai[:len(dst)], bi[:len(dst)]
	for r := range dst {
		if ai[r] < 0 || int(ai[r]) > len(a)-n || bi[r] < 0 || int(bi[r]) > len(b)-n || n < 0 {
			panic("kernels: DotPairs: a pair of offsets out of range")
		}
	}
	if len(dst) == 0 {
		return
	}
	if !useAsm || !pairsAsm || n == 0 {
		for r := range dst {
			dst[r] = Dot(a[ai[r]:][:n], b[bi[r]:][:n])
		}
		return
	}
	n16 := n &^ (block - 1)
	dotPairsAsm(&dst[0], len(dst), &a[0], &ai[0], &b[0], &bi[0], n16, n-n16)
}

// DotStrided sets dst[r] = Dot(a, b[r*step : r*step+len(a)]) for every
// r < len(dst), with the bits of Dot (in every implementation, plain Go
// included): the outputs of a filter decimating by step, which all use the
// same coefficients a against windows of the input b step samples apart.
func DotStrided(dst, a, b []float32, step int) {
	n := len(a)
	checkRows("DotStrided", len(b), len(dst), step, n)
	if len(dst) == 0 {
		return
	}
	switch {
	case !useAsm || n == 0:
		for r := range dst {
			dst[r] = Dot(a, b[r*step:][:n])
		}
	case pairsAsm:
		n16 := n &^ (block - 1)
		dotRowsTailAsm(&dst[0], len(dst), &a[0], n16, &b[0], step, n-n16)
	default:
		DotRows(dst, a, b, step) // its assembly path is Dot row by row
	}
}
