package kernels

import "math"

// Int8 matrix-vector products for the MLP: y = W x + b with W quantized
// once to int8 per output row (symmetric, scale max|W[o,:]|/127) and x
// quantized on every call (symmetric, one scale for the vector). The
// products are summed exactly in int32, so every implementation — SDOT on
// arm64 cores with the dot-product extension, widening multiplies on those
// without (Cortex-A53, A72), AVX2 on amd64 and plain Go — gives the same
// bits, and the float work around the sums is the same IEEE operations in
// the same order:
//
//	inv = 127 / max|x|                      (Go, once per vector)
//	q_i = roundEven(clamp(x_i·inv, -127, 127))
//	acc_o = Σ_k Wq[o,k]·q_k                 (int32, exact)
//	y_o = float32(acc_o)·(sx·ws_o) + b_o     (three roundings, not fused)
//
// where sx = max|x|/127 and ws_o is row o's scale. A vector of zeros has
// scale 0. Results for inputs holding NaN or ±Inf are not specified beyond
// staying inside the output slices.

// int8Block is the padding of both dimensions of an Int8Matrix: the
// assembly handles 16 outputs and 16 inputs per step.
const int8Block = 16

// Int8Matrix is an N×K matrix quantized to int8 per row, packed for the
// dot-product kernels. Build it with QuantizeMatrix.
type Int8Matrix struct {
	N, K   int       // rows (outputs) and columns (inputs)
	Scale  []float32 // [N] row o ≈ Scale[o]·(its int8 values)
	np, kp int       // N and K rounded up to a multiple of int8Block
	// data holds row o's columns 4g..4g+3 at data[(g*np+o)*4:][:4], so one
	// 16-byte load covers four rows by four columns (an SDOT operand) and
	// the 64 bytes for 16 consecutive rows are contiguous. Padding is 0.
	data []int8
}

// QuantizeMatrix quantizes the row-major N×K matrix w (len(w) = n·k) row by
// row. It runs once, when a model is loaded.
func QuantizeMatrix(w []float32, n, k int) *Int8Matrix {
	if n < 0 || k < 0 || len(w) != n*k {
		panic("kernels: QuantizeMatrix: w is not n×k")
	}
	m := &Int8Matrix{N: n, K: k, Scale: make([]float32, n),
		np: roundUp(n, int8Block), kp: roundUp(k, int8Block)}
	m.data = make([]int8, m.np*m.kp)
	row := make([]int8, k)
	for o := range n {
		m.Scale[o] = quantizeGeneric(row, w[o*k:(o+1)*k])
		for c, v := range row {
			m.data[((c/4)*m.np+o)*4+c%4] = v
		}
	}
	return m
}

// Int8Scratch is the working space of Int8Matrix.MulVec, so that the
// product allocates nothing. One scratch serves every matrix whose padded
// sizes fit it; it must not be shared between goroutines.
type Int8Scratch struct {
	q   []int8
	acc []int32
}

// NewInt8Scratch returns scratch space for matrices of up to n rows and k
// columns.
func NewInt8Scratch(n, k int) *Int8Scratch {
	return &Int8Scratch{q: make([]int8, roundUp(k, int8Block)), acc: make([]int32, roundUp(n, int8Block))}
}

// MulVec sets y = W x + b (see the package comment above for the
// arithmetic). len(x) must be K; y and b must have N elements.
func (m *Int8Matrix) MulVec(y, x, b []float32, s *Int8Scratch) {
	if len(x) != m.K || len(y) != m.N || len(b) != m.N {
		panic("kernels: Int8Matrix.MulVec: x, y or b has the wrong length")
	}
	if len(s.q) < m.kp || len(s.acc) < m.np {
		panic("kernels: Int8Matrix.MulVec: scratch too small")
	}
	q, acc := s.q[:m.kp], s.acc[:m.np]
	sx := QuantizeInt8(q[:m.K], x)
	clear(q[m.K:])
	if m.N == 0 {
		return
	}
	if m.K == 0 {
		clear(acc)
	} else {
		dotInt8(acc, m.data, q, m.np, m.kp)
	}
	Dequantize(y, acc[:m.N], sx, m.Scale, b)
}

// QuantizeInt8 sets q[i] = roundEven(clamp(x[i]·inv, -127, 127)) with
// inv = 127/max|x|, for i < len(x), and returns the scale max|x|/127 (0,
// with q all 0, when x is all zeros). q must be at least as long as x.
func QuantizeInt8(q []int8, x []float32) (scale float32) {
	q = q[:len(x)]
	if len(x) == 0 {
		return 0
	}
	if !useAsm {
		return quantizeGeneric(q, x)
	}
	n16 := len(x) &^ (block - 1)
	var amax float32
	if n16 > 0 {
		amax = maxAbsAsm(&x[0], n16)
	}
	for _, v := range x[n16:] {
		amax = maxAbs1(amax, v)
	}
	if amax == 0 {
		clear(q)
		return 0
	}
	inv := 127 / amax
	if n16 > 0 {
		quantizeAsm(&q[0], &x[0], n16, inv)
	}
	for i := n16; i < len(x); i++ {
		q[i] = quantize1(x[i], inv)
	}
	return amax / 127
}

// Dequantize sets y[o] = float32(acc[o])·(sx·ws[o]) + b[o] for o <
// len(y), each product and the sum rounded on its own.
func Dequantize(y []float32, acc []int32, sx float32, ws, b []float32) {
	acc, ws, b = acc[:len(y)], ws[:len(y)], b[:len(y)]
	n16 := 0
	if useAsm {
		n16 = len(y) &^ (block - 1)
		if n16 > 0 {
			dequantizeAsm(&y[0], &acc[0], n16, sx, &ws[0], &b[0])
		}
	}
	for o := n16; o < len(y); o++ {
		c := sx * ws[o]
		p := float32(float32(acc[o]) * c) // rounded: not fused with the sum
		y[o] = p + b[o]
	}
}

// Int8Impl names the int8 product in use: "sdot" or "smull" (NEON, on
// cores with and without the dot-product extension), "avx2" or "generic".
func Int8Impl() string {
	if !useAsm {
		return "generic"
	}
	return int8AsmName()
}

// dotInt8 sets acc[o] = Σ_k W[o,k]·q[k] over the padded sizes.
func dotInt8(acc []int32, w []int8, q []int8, np, kp int) {
	if !useAsm {
		dotInt8Generic(acc, w, q, np, kp)
		return
	}
	dotInt8Asm(&acc[0], &w[0], &q[0], np, kp)
}

// maxAbs1 folds |v| into the running maximum m; a NaN v is skipped.
func maxAbs1(m, v float32) float32 {
	if v < 0 {
		v = -v
	}
	if v > m {
		return v
	}
	return m
}

// quantize1 is one element of QuantizeInt8. The clamp comes before the
// conversion (a NaN becomes -127, as the assembly's min/max give).
func quantize1(x, inv float32) int8 {
	v := x * inv
	if !(v >= -127) {
		v = -127
	}
	if v > 127 {
		v = 127
	}
	return int8(math.RoundToEven(float64(v)))
}

func roundUp(n, b int) int { return (n + b - 1) / b * b }
