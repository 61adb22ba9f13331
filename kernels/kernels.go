// Package kernels holds the hot loops of the forward passes in package
// infer, of the resampler in package audio and of the MFCC frontend in
// package frontend: NEON assembly on arm64 (kernels_arm64.s,
// spectrum_arm64.s), AVX2+FMA assembly on amd64 (kernels_amd64.s, used when
// the CPU has AVX2, FMA and POPCNT) and a plain-Go version of every kernel
// (kernels_generic.go, spectrum.go), which is the fallback and the
// reference the tests compare the assembly with. It imports nothing of this
// module, so that all three can depend on it.
//
// The frontend's kernels (spectrum.go: the window, the FFT's magnitudes, the
// mel filterbank, the log, the DCT) are apart: their assembly computes
// exactly what their plain-Go references compute, with no fused
// multiply-adds and every sum in the order of the plain loop, in NEON and
// in AVX2 alike. What follows is about the others.
//
// The assembly does the bulk of a vector, in blocks of 16 float32; Go does
// the rest (the tail), with plain loops or, where the result must not depend
// on the split (GELU, softmax's exp), by running the assembly on a padded
// copy of the tail. All kernels work in place or into caller-supplied slices
// and never allocate. They panic, before touching memory, when a slice is too
// short or a row index out of range.
//
// # Choosing the implementation
//
// The choice is made once, when the package is initialised: the assembly
// where the build and the CPU have it, else the plain-Go kernels. Two
// things force the plain-Go kernels:
//
//   - the purego build tag (go build -tags purego), which leaves the
//     assembly out of the binary;
//   - the environment variable WAKEWORDD_KERNELS=generic, read once at
//     init (setting it later has no effect).
//
// "generic" is the only value of WAKEWORDD_KERNELS that is recognised. Any
// other non-empty value is ignored (the default implementation runs) and
// reported by [EnvError], for the program to log. [Impl] names the
// kernels in use.
//
// # The same bits on arm64 and amd64
//
// NEON (4 lanes) and AVX2 (8 lanes) run the same sequence of IEEE
// operations, so the assembly gives bit-for-bit the same results on both
// (NaN payloads aside): a sum over a vector is accumulated in 16 partial
// sums, partial sum l taking the elements i with i mod 16 = l, and these
// are added in one fixed tree (see [Dot]); a multiply-add in a reduction or
// a row update is a fused multiply-add (one rounding); the tail elements are
// added after the tree, in order, each product rounded before the sum (Go
// code with explicit conversions, which the compiler must not fuse). The
// plain-Go kernels are the natural loops and differ from the assembly in
// the last bits; the Go compiler fuses multiply-adds on arm64 but not on
// amd64, so they also differ between the two.
package kernels

import (
	"fmt"
	"math"
	"os"
)

// EnvVar is the environment variable that, set to "generic", makes the
// plain-Go kernels run (see the package documentation).
const EnvVar = "WAKEWORDD_KERNELS"

// useAsm says whether the assembly kernels run, and envErr what was wrong
// with WAKEWORDD_KERNELS: both set once at init (the tests switch useAsm
// to run both implementations).
var useAsm, envErr = choose(haveAsm, os.Getenv(EnvVar))

// choose returns whether the assembly runs, given whether the build and the
// CPU have it and the value of WAKEWORDD_KERNELS, and the error for a value
// other than "" and "generic", which is otherwise ignored.
func choose(have bool, env string) (asm bool, err error) {
	switch env {
	case "":
		return have, nil
	case "generic":
		return false, nil
	}
	return have, fmt.Errorf("%s=%q: want generic or unset", EnvVar, env)
}

// Impl names the kernels in use: "neon", "avx2+fma" or "generic".
func Impl() string {
	if useAsm {
		return asmName
	}
	return "generic"
}

// EnvError returns nil when WAKEWORDD_KERNELS was unset, empty or
// "generic" at start-up, and otherwise an error naming the value, which was
// ignored: the default kernels run. The daemon logs it at start-up.
func EnvError() error { return envErr }

// block is the number of float32 that the assembly handles per step: the
// bulk of a vector of n elements is n &^ (block-1), the rest is the tail.
const block = 16

// checkRows panics unless rows rows of n elements, stride elements apart,
// fit in a slice of length l.
func checkRows(name string, l, rows, stride, n int) {
	if rows == 0 || n == 0 {
		return
	}
	if stride < 0 || n < 0 || (rows > 1 && stride > 0 && rows-1 > (l-n)/stride) || n > l {
		panic("kernels: " + name + ": rows out of range")
	}
}

// Dot returns the dot product of a and b[:len(a)].
//
// The assembly accumulates s_l = fma(a_i, b_i, s_l) over the bulk, for
// l = i mod 16 and i in increasing order, then forms
// r_l = (s_l + s_{l+8}) + (s_{l+4} + s_{l+12}) for l < 4 and returns
// ((r_0 + r_1) + (r_2 + r_3)) plus the tail products, one after the other.
func Dot(a, b []float32) float32 {
	b = b[:len(a)]
	if !useAsm {
		return dotGeneric(a, b)
	}
	var s float32
	n16 := len(a) &^ (block - 1)
	if n16 > 0 {
		dotRowsAsm(&s, 1, &a[0], n16, &b[0], 0)
	}
	for i := n16; i < len(a); i++ {
		s += float32(a[i] * b[i])
	}
	return s
}

// DotRows sets dst[r] = Dot(x, w[r*stride : r*stride+len(x)]) for every
// r < len(dst): a matrix-vector product with the rows of a row-major matrix
// (stride = its row length), e.g. the attention scores of one query against
// every key.
func DotRows(dst, x, w []float32, stride int) {
	rows, n := len(dst), len(x)
	checkRows("DotRows", len(w), rows, stride, n)
	if rows == 0 {
		return
	}
	if !useAsm {
		dotRowsGeneric(dst, x, w, stride)
		return
	}
	n16 := n &^ (block - 1)
	if n16 == 0 {
		clear(dst)
	} else {
		dotRowsAsm(&dst[0], rows, &x[0], n16, &w[0], stride)
	}
	if n16 < n {
		for r := range dst {
			row := w[r*stride:][:n]
			s := dst[r]
			for i := n16; i < n; i++ {
				s += float32(x[i] * row[i])
			}
			dst[r] = s
		}
	}
}

// AXPY sets y += a*x[:len(y)] (a fused multiply-add per element in the
// bulk).
func AXPY(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	if !useAsm {
		axpyGeneric(y, a, x)
		return
	}
	m16 := len(y) &^ (block - 1)
	if m16 > 0 {
		axpyRowsAsm(&y[0], m16, &a, 1, &x[0], 0)
	}
	for i := m16; i < len(y); i++ {
		y[i] += float32(a * x[i])
	}
}

// AXPYRows adds a[j] times row j of w to y for every j < len(a), in order:
// y += Σ_j a[j]·w[j*stride : j*stride+len(y)]. It is the product of the
// vector a with a row-major matrix (y += aᵀW), so a linear layer y = W x
// is AXPYRows(y, x, Wᵀ, rows of W) on the transposed weights. Each element
// of y is updated by a chain of fused multiply-adds over j (in the bulk), so
// the result does not depend on the vector width. y must not overlap w.
func AXPYRows(y, a, w []float32, stride int) {
	m := len(y)
	checkRows("AXPYRows", len(w), len(a), stride, m)
	if len(a) == 0 || m == 0 {
		return
	}
	if !useAsm {
		axpyRowsGeneric(y, a, w, stride)
		return
	}
	m16 := m &^ (block - 1)
	if m16 > 0 {
		axpyRowsAsm(&y[0], m16, &a[0], len(a), &w[0], stride)
	}
	if m16 < m {
		for j, aj := range a {
			row := w[j*stride:][:m]
			for e := m16; e < m; e++ {
				y[e] += float32(aj * row[e])
			}
		}
	}
}

// RowAXPY adds dv[j] times row idx[j] of w to y for every j < len(idx), in
// order: y += Σ_j dv[j]·w[idx[j]*stride : idx[j]*stride+len(y)]. It is the
// sparse row update of the delta passes, on the rows that SelectDelta kept;
// the arithmetic is that of AXPYRows. y must not overlap w.
func RowAXPY(y, w []float32, stride int, idx []int32, dv []float32) {
	m := len(y)
	dv = dv[:len(idx)]
	if len(idx) == 0 || m == 0 {
		return
	}
	if !useAsm {
		rowAXPYGeneric(y, w, stride, idx, dv) // slicing checks every row
		return
	}
	if stride < 0 || m > len(w) {
		panic("kernels: RowAXPY: rows out of range")
	}
	m16 := m &^ (block - 1)
	if m16 > 0 {
		// The assembly checks every index against the rows that fit in w
		// before it reads the row, and touches nothing when one is out of
		// range.
		nrows := 1 << 32 // stride 0: every row is w[:m]
		if stride > 0 {
			nrows = (len(w)-m)/stride + 1
		}
		if !rowAXPYAsm(&y[0], m16, &w[0], stride, &idx[0], &dv[0], len(idx), nrows) {
			panic("kernels: RowAXPY: row index out of range")
		}
	}
	if m16 < m {
		for j, i := range idx {
			row := w[int(i)*stride:][:m]
			aj := dv[j]
			for e := m16; e < m; e++ {
				y[e] += float32(aj * row[e])
			}
		}
	}
}

// Add sets y += x[:len(y)] (residual sums, biases).
func Add(y, x []float32) {
	x = x[:len(y)]
	if !useAsm {
		addGeneric(y, x)
		return
	}
	n16 := len(y) &^ (block - 1)
	if n16 > 0 {
		addAsm(&y[0], &x[0], n16)
	}
	for i := n16; i < len(y); i++ {
		y[i] += x[i]
	}
}

// SelectDelta compares x with its reference ref element by element. For
// every element that differs by more than theta (|x_i - ref_i| > theta,
// compared on the bit patterns, so that a NaN difference is kept and
// propagates as in the dense pass) it appends the position to idx and the
// difference to dv, and sets ref_i = x_i. It returns how many elements
// were kept. ref, idx and dv need room for len(x); idx[n:len(x)] and
// dv[n:len(x)] are overwritten with unspecified values. The result is
// exact: every implementation keeps the same elements.
func SelectDelta(x, ref []float32, theta float32, idx []int32, dv []float32) int {
	ref = ref[:len(x)]
	idx = idx[:len(x)]
	dv = dv[:len(x)]
	if !useAsm {
		return selectDeltaGeneric(x, ref, theta, idx, dv)
	}
	n16 := len(x) &^ (block - 1)
	n := 0
	if n16 > 0 {
		n = selectDeltaAsm(&x[0], &ref[0], n16, thetaBits(theta), &idx[0], &dv[0])
	}
	if n16 < len(x) {
		k := selectDeltaGeneric(x[n16:], ref[n16:], theta, idx[n:], dv[n:])
		for j := n; j < n+k; j++ {
			idx[j] += int32(n16) // the tail's positions count from n16
		}
		n += k
	}
	return n
}

// GELU applies GELU(x) = x·Φ(x) = 0.5 x (1 + erf(x/√2)) in place, with erf
// replaced by a rational approximation (see geluGeneric): the error is
// below 3e-7·max(1, |x|), and below 1e-6 relative for x >= -1.
func GELU(x []float32) {
	if !useAsm {
		geluGeneric(x)
		return
	}
	n16 := len(x) &^ (block - 1)
	if n16 > 0 {
		geluAsm(&x[0], n16)
	}
	if n16 < len(x) {
		var buf [block]float32
		t := copy(buf[:], x[n16:])
		geluAsm(&buf[0], block)
		copy(x[n16:], buf[:t])
	}
}

// Softmax replaces x by softmax(scale·x), in place: y_i = x_i·scale
// (rounded), m = max y, x_i = exp(y_i - m) / Σ exp(y_j - m). Subtracting
// the maximum keeps every exponent <= 0, so nothing overflows. scale must
// be positive. A NaN anywhere, or +Inf, makes the whole row NaN.
//
// The assembly's exp has a relative error below 2e-7 and gives exactly 0
// below exp(-86.5) ≈ 2.7e-38; the sum is a 16-lane sum (as in Dot) and the
// result is multiplied by the rounded reciprocal of the sum.
func Softmax(x []float32, scale float32) {
	if len(x) == 0 {
		return
	}
	if !useAsm {
		softmaxGeneric(x, scale)
		return
	}
	n16 := len(x) &^ (block - 1)
	mx := float32(math.Inf(-1))
	if n16 > 0 {
		mx = scaleMaxAsm(&x[0], n16, scale)
	}
	for i := n16; i < len(x); i++ {
		v := x[i] * scale
		x[i] = v
		mx = max(mx, v) // NaN if either is NaN, as the assembly's
	}
	var acc [block]float32
	if n16 > 0 {
		expSumAsm(&x[0], n16, mx, &acc)
	}
	if n16 < len(x) {
		// The tail runs through the same assembly, padded with -Inf, whose
		// exp is exactly 0 and leaves the sums unchanged.
		buf := [block]float32{}
		t := copy(buf[:], x[n16:])
		for i := t; i < block; i++ {
			buf[i] = float32(math.Inf(-1))
		}
		expSumAsm(&buf[0], block, mx, &acc)
		copy(x[n16:], buf[:t])
	}
	inv := 1 / sum16(&acc)
	if n16 > 0 {
		scaleAsm(&x[0], n16, inv)
	}
	for i := n16; i < len(x); i++ {
		x[i] *= inv
	}
}

// sum16 adds 16 partial sums in the tree of Dot.
func sum16(s *[block]float32) float32 {
	var r [4]float32
	for l := range r {
		r[l] = (s[l] + s[l+8]) + (s[l+4] + s[l+12])
	}
	return (r[0] + r[1]) + (r[2] + r[3])
}

// LayerNorm normalises x in place to zero mean and unit (biased) variance,
// then scales by g and shifts by b, as torch.nn.LayerNorm with epsilon eps.
// The mean is subtracted before squaring (two passes), which keeps the
// variance accurate in float32.
//
// The assembly sums x and (x - mean)² in 16 lanes (as Dot, the squares
// fused), computes 1/√(var + eps) in Go, and sets
// x_i = ((x_i - mean)·inv)·g_i + b_i with every operation rounded.
func LayerNorm(x, g, b []float32, eps float32) {
	g, b = g[:len(x)], b[:len(x)]
	if len(x) == 0 {
		return
	}
	if !useAsm {
		layerNormGeneric(x, g, b, eps)
		return
	}
	n := len(x)
	n16 := n &^ (block - 1)
	var sum float32
	if n16 > 0 {
		sum = sumAsm(&x[0], n16)
	}
	for _, v := range x[n16:] {
		sum += v
	}
	mean := sum / float32(n)
	var ss float32
	if n16 > 0 {
		ss = sumSqDevAsm(&x[0], n16, mean)
	}
	for _, v := range x[n16:] {
		d := v - mean
		ss += float32(d * d)
	}
	inv := float32(1 / math.Sqrt(float64(ss/float32(n)+eps)))
	if n16 > 0 {
		normAsm(&x[0], &g[0], &b[0], n16, mean, inv)
	}
	for i := n16; i < n; i++ {
		t := (x[i] - mean) * inv
		x[i] = float32(t*g[i]) + b[i]
	}
}

// thetaBits is the bit pattern of |theta|, which SelectDelta compares with
// the bit patterns of |x_i - ref_i|.
func thetaBits(theta float32) uint32 { return math.Float32bits(theta) &^ (1 << 31) }
