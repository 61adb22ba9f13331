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
	DotStridedSpaced(dst, 1, len(dst), a, b, step)
}

// DotStridedSpaced is DotStrided for rows rows written dstStep apart: it sets
// dst[r*dstStep] = Dot(a, b[r*step : r*step+len(a)]) for every r < rows and
// leaves the rest of dst alone. Those are the outputs of one phase of a
// polyphase filter with dstStep phases, in their places among the others'.
func DotStridedSpaced(dst []float32, dstStep, rows int, a, b []float32, step int) {
	n := len(a)
	checkRows("DotStrided", len(b), rows, step, n)
	if rows == 0 {
		return
	}
	if dstStep < 1 || len(dst) == 0 || (rows-1) > (len(dst)-1)/dstStep {
		panic("kernels: DotStrided: rows out of range of dst")
	}
	switch {
	case pairsAsm && useAsm && n > 0:
		n16 := n &^ (block - 1)
		dotRowsTailAsm(&dst[0], rows, &a[0], n16, &b[0], step, n-n16, 4*dstStep)
	case dstStep == 1 && useAsm && n > 0:
		DotRows(dst[:rows], a, b, step) // its assembly path is Dot row by row
	case useAsm && n > 0:
		// DotRows's assembly takes four rows at a time: run it into a buffer and space out.
		var tmp [64]float32
		for r := 0; r < rows; r += len(tmp) {
			k := min(rows-r, len(tmp))
			DotRows(tmp[:k], a, b[r*step:], step)
			for i, v := range tmp[:k] {
				dst[(r+i)*dstStep] = v
			}
		}
	default:
		for r := range rows {
			dst[r*dstStep] = Dot(a, b[r*step:][:n])
		}
	}
}
