package infer

import "math"

// The kernels below are the plain-Go building blocks of the forward passes.
// They stay the reference (and the fallback) when infer/asm provides SIMD
// versions. All work in place or into caller-supplied slices and never
// allocate. Lengths are the callers' responsibility; slicing panics on a
// mismatch rather than reading the wrong memory.

// dot returns the float32 dot product of a and b[:len(a)], summed in four
// independent lanes (so the loop is not one long dependency chain) that are
// added pairwise at the end.
func dot(a, b []float32) float32 {
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

// matVec sets dst[j] = W[j,:]·x for the rows x cols row-major matrix W,
// i.e. dst = W x, a PyTorch Linear without bias.
func matVec(dst, w, x []float32, rows, cols int) {
	dst = dst[:rows]
	x = x[:cols]
	w = w[:rows*cols]
	j := 0
	// Four rows at a time: each x[i] is loaded once for four products.
	for ; j+4 <= rows; j += 4 {
		n := len(x) // re-slicing to len(x) lets the compiler drop bounds checks
		w0 := w[j*cols:][:n]
		w1 := w[(j+1)*cols:][:n]
		w2 := w[(j+2)*cols:][:n]
		w3 := w[(j+3)*cols:][:n]
		var s0, s1, s2, s3 float32
		for i, v := range x {
			s0 += w0[i] * v
			s1 += w1[i] * v
			s2 += w2[i] * v
			s3 += w3[i] * v
		}
		d := dst[j : j+4 : j+4]
		d[0], d[1], d[2], d[3] = s0, s1, s2, s3
	}
	for ; j < rows; j++ {
		dst[j] = dot(w[j*cols:(j+1)*cols], x)
	}
}

// axpy sets dst += a*x over len(dst) elements.
func axpy(dst []float32, a float32, x []float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += a * x[i]
	}
}

// add sets dst += x over len(dst) elements (residual sums, biases).
func add(dst, x []float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += x[i]
	}
}

// layerNorm normalises x in place to zero mean and unit (biased) variance,
// then scales by g and shifts by b, as torch.nn.LayerNorm. The mean is
// subtracted before squaring (two passes), which keeps the variance
// accurate in float32.
func layerNorm(x, g, b []float32, eps float32) {
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

// gelu applies the exact GELU, 0.5 x (1 + erf(x/√2)), in place. It is
// evaluated in float64 and rounded once, so it is exact to float32.
func gelu(x []float32) {
	for i, v := range x {
		f := float64(v)
		x[i] = float32(0.5 * f * (1 + math.Erf(f/math.Sqrt2)))
	}
}

// softmax replaces x by exp(x - max x) / sum, in place. Subtracting the
// maximum keeps every exponent <= 0, so nothing overflows.
func softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	mx := x[0]
	for _, v := range x[1:] {
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

// Softmax writes the softmax of logits into probs, which must have the
// same length; it turns Forward's logits into class posteriors.
func Softmax(logits, probs []float32) {
	if len(probs) != len(logits) {
		panic("infer: Softmax: len(probs) != len(logits)")
	}
	copy(probs, logits)
	softmax(probs)
}
