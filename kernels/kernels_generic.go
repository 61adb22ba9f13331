package kernels

import "math"

// The plain-Go kernels: the fallback where there is no assembly (or with
// the purego tag) and the reference that the tests compare the assembly
// with. They are the natural loops, free to be rounded differently from the
// assembly (see the package documentation); the tests bound the difference.

// dotGeneric returns the float32 dot product of a and b[:len(a)], summed
// in four independent lanes (so the loop is not one long dependency chain)
// that are added pairwise at the end.
func dotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		x, y := a[i:i+4:i+4], b[i:i+4:i+4]
		s0 += x[0] * y[0]
		s1 += x[1] * y[1]
		s2 += x[2] * y[2]
		s3 += x[3] * y[3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// dotRowsGeneric sets dst[r] = W[r,:]·x for the rows of W, stride apart,
// four rows at a time so that each x[i] is loaded once for four products.
func dotRowsGeneric(dst, x, w []float32, stride int) {
	n := len(x)
	r := 0
	for ; r+4 <= len(dst); r += 4 {
		w0 := w[r*stride:][:n]
		w1 := w[(r+1)*stride:][:n]
		w2 := w[(r+2)*stride:][:n]
		w3 := w[(r+3)*stride:][:n]
		var s0, s1, s2, s3 float32
		for i, v := range x {
			s0 += w0[i] * v
			s1 += w1[i] * v
			s2 += w2[i] * v
			s3 += w3[i] * v
		}
		d := dst[r : r+4 : r+4]
		d[0], d[1], d[2], d[3] = s0, s1, s2, s3
	}
	for ; r < len(dst); r++ {
		dst[r] = dotGeneric(x, w[r*stride:][:n])
	}
}

// axpyGeneric sets y += a*x over len(y) elements.
func axpyGeneric(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}

// addGeneric sets y += x over len(y) elements.
func addGeneric(y, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += x[i]
	}
}

// axpyRowsGeneric adds a[j] times row j of w to y for every j, four rows
// at a time so that y is loaded and stored once per four rows.
func axpyRowsGeneric(y, a, w []float32, stride int) {
	n := len(y)
	j := 0
	for ; j+4 <= len(a); j += 4 {
		a0, a1, a2, a3 := a[j], a[j+1], a[j+2], a[j+3]
		w0 := w[j*stride:][:n]
		w1 := w[(j+1)*stride:][:n]
		w2 := w[(j+2)*stride:][:n]
		w3 := w[(j+3)*stride:][:n]
		for i := range y {
			y[i] += (a0*w0[i] + a1*w1[i]) + (a2*w2[i] + a3*w3[i])
		}
	}
	for ; j < len(a); j++ {
		axpyGeneric(y, a[j], w[j*stride:][:n])
	}
}

// rowAXPYGeneric adds dv[j] times row idx[j] of w to y, for every j; row r
// is w[r*stride : r*stride+len(y)]. Rows are taken four at a time so that y
// is loaded and stored once per four rows.
func rowAXPYGeneric(y, w []float32, stride int, idx []int32, dv []float32) {
	n := len(y)
	dv = dv[:len(idx)]
	j := 0
	for ; j+4 <= len(idx); j += 4 {
		a0, a1, a2, a3 := dv[j], dv[j+1], dv[j+2], dv[j+3]
		w0 := w[int(idx[j])*stride:][:n]
		w1 := w[int(idx[j+1])*stride:][:n]
		w2 := w[int(idx[j+2])*stride:][:n]
		w3 := w[int(idx[j+3])*stride:][:n]
		for i := range y {
			y[i] += (a0*w0[i] + a1*w1[i]) + (a2*w2[i] + a3*w3[i])
		}
	}
	for ; j < len(idx); j++ {
		axpyGeneric(y, dv[j], w[int(idx[j])*stride:][:n])
	}
}

// selectDeltaGeneric is SelectDelta in plain Go.
func selectDeltaGeneric(x, ref []float32, theta float32, idx []int32, dv []float32) int {
	ref = ref[:len(x)]
	idx = idx[:len(x)]
	dv = dv[:len(x)]
	// Branch-free: every element is written at position n, and n moves on
	// only for the kept ones (keep rates of 5-50 % defeat branch
	// prediction). The references are updated afterwards, for the kept
	// elements only.
	// |d| > theta is compared on the bits: for non-negative floats the
	// order of the bit patterns is that of the values, and a NaN's pattern
	// is above every number's.
	th := uint64(thetaBits(theta))
	n := 0
	for i, xv := range x {
		d := xv - ref[i]
		idx[n] = int32(i) // n <= i < len(x)
		dv[n] = d
		abs := uint64(math.Float32bits(d) &^ (1 << 31))
		n += int((th - abs) >> 63) // 1 when abs > th
	}
	for _, i := range idx[:n] {
		ref[i] = x[i]
	}
	return n
}

// The rational approximation of erf(x/√2) used by GELU:
// erf(x/√2) ≈ x·P(x²)/Q(x²) for |x| <= geluClamp (x is clamped to that
// range and the quotient to [-1, 1]), a weighted least-squares fit of the
// absolute error on [0, 5.3] made by fit_coeffs.py in this directory. In
// float32 with fused multiply-adds its error is below 5e-7.
const (
	geluClamp = 5.0972
	geluP0    = 0.7978836297988892
	geluP1    = 0.10414154082536697
	geluP2    = 0.01139884814620018
	geluP3    = 0.000683253223542124
	geluP4    = 1.252975835086545e-05
	geluQ1    = 0.2971813976764679
	geluQ2    = 0.03882996737957001
	geluQ3    = 0.0028635021299123764
	geluQ4    = 0.00012253515888005495
	geluQ5    = 5.298318228597054e-07
)

// geluGeneric is GELU in plain Go, with the approximation of the assembly.
func geluGeneric(x []float32) {
	for i, v := range x {
		c := min(max(v, -geluClamp), geluClamp)
		z := c * c
		p := (((geluP4*z+geluP3)*z+geluP2)*z+geluP1)*z + geluP0
		q := ((((geluQ5*z+geluQ4)*z+geluQ3)*z+geluQ2)*z+geluQ1)*z + 1
		e := min(max(c*p/q, -1), 1)
		if c == geluClamp { // rounded without fusing, c·p/q may stay below 1
			e = 1
		} else if c == -geluClamp {
			e = -1
		}
		h := 0.5 * v
		x[i] = h + h*e
	}
}

// softmaxGeneric replaces x by softmax(scale·x), in place, with exp and the
// sum in float64.
func softmaxGeneric(x []float32, scale float32) {
	mx := float32(math.Inf(-1))
	for i, v := range x {
		v *= scale
		x[i] = v
		mx = max(mx, v)
	}
	var sum float64
	for i, v := range x {
		e := math.Exp(float64(v - mx))
		x[i] = float32(e)
		sum += e
	}
	inv := float32(1 / sum)
	for i := range x {
		x[i] *= inv
	}
}

// layerNormGeneric is LayerNorm in plain Go.
func layerNormGeneric(x, g, b []float32, eps float32) {
	g, b = g[:len(x)], b[:len(x)]
	n := float32(len(x))
	var sum float32
	for _, v := range x {
		sum += v
	}
	mean := sum / n
	var ss float32
	for _, v := range x {
		d := v - mean
		ss += d * d
	}
	inv := float32(1 / math.Sqrt(float64(ss/n+eps)))
	for i, v := range x {
		x[i] = (v-mean)*inv*g[i] + b[i]
	}
}

// quantizeGeneric is QuantizeInt8 in plain Go (with its own maximum).
func quantizeGeneric(q []int8, x []float32) float32 {
	q = q[:len(x)]
	var amax float32
	for _, v := range x {
		amax = maxAbs1(amax, v)
	}
	if amax == 0 {
		clear(q)
		return 0
	}
	inv := 127 / amax
	for i, v := range x {
		q[i] = quantize1(v, inv)
	}
	return amax / 127
}

// dotInt8Generic is dotInt8 in plain Go, over the packed layout of
// Int8Matrix: four columns of 16 rows at a time.
func dotInt8Generic(acc []int32, w []int8, q []int8, np, kp int) {
	acc, q = acc[:np], q[:kp]
	clear(acc)
	for g := range kp / 4 {
		x0, x1, x2, x3 := int32(q[4*g]), int32(q[4*g+1]), int32(q[4*g+2]), int32(q[4*g+3])
		col := w[g*np*4:][:np*4]
		for o := range acc {
			r := col[4*o:][:4]
			acc[o] += int32(r[0])*x0 + int32(r[1])*x1 + int32(r[2])*x2 + int32(r[3])*x3
		}
	}
}
