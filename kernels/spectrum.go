package kernels

import (
	"math"
	"math/bits"
)

// The kernels of the MFCC frontend (package frontend): the window, the
// magnitude spectrum of a real FFT, the mel filterbank as a banded product,
// the floored log and the DCT as a matrix product. Unlike the kernels of
// the forward passes, these fuse no multiply-adds and keep every sum in the
// order of a plain loop: each is exactly the arithmetic of its plain-Go
// reference (every product rounded, as float32(a*b) forces in Go), so the
// NEON and AVX2 code give the same bits as the references, and the
// references give the same bits on every architecture. Features computed
// for training on amd64 are thus the bits the daemon computes on arm64.
// Where the assembly runs several sums side by side, each lane still adds
// its terms one by one, in order. They run in assembly where the other
// kernels do (spectrumAsm): NEON on arm64, AVX2 on amd64 (without FMA).

// Mul sets dst[i] = a[i]·b[i] for i < len(dst) (the window of a frame).
func Mul(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	n16 := 0
	if useAsm && spectrumAsm {
		n16 = len(dst) &^ (block - 1)
		if n16 > 0 {
			mulAsm(&dst[0], &a[0], &b[0], n16)
		}
	}
	for i := n16; i < len(dst); i++ {
		dst[i] = a[i] * b[i]
	}
}

// AXPYRowsRounded is AXPYRows without fused multiply-adds: it adds a[j]
// times row j of w to y for every j < len(a), in order, each product
// rounded before it is added, y_e = (y_e + a_0·w_0e) + a_1·w_1e + ...:
// the arithmetic of the plain loop, the same bits on every architecture.
// A matrix-vector product y = W x is AXPYRowsRounded on a zeroed y with x
// and the transposed W, each y_e then summing its row in order (the DCT of
// the frontend). y must not overlap w.
func AXPYRowsRounded(y, a, w []float32, stride int) {
	m := len(y)
	checkRows("AXPYRowsRounded", len(w), len(a), stride, m)
	if len(a) == 0 || m == 0 {
		return
	}
	m4 := 0
	if useAsm && spectrumAsm {
		m4 = m &^ 3
		if m4 > 0 {
			axpyRowsRoundedAsm(&y[0], m4, &a[0], len(a), &w[0], stride)
		}
	}
	if m4 < m {
		for j, aj := range a {
			row := w[j*stride:][:m]
			for e := m4; e < m; e++ {
				y[e] += float32(aj * row[e])
			}
		}
	}
}

// LogFloor sets x[i] = log(max(x[i], floor)): the natural logarithm of a
// normal, positive float32, with NaN and +Inf passed through, computed
// with explicitly rounded float64 operations only (see log32), so that it
// gives the same float32 on every GOARCH; math.Log does not (it is assembly
// on amd64 and Go with fused multiply-adds on arm64). floor must be a
// positive normal float32.
func LogFloor(x []float32, floor float32) {
	n4 := 0
	if useAsm && spectrumAsm {
		n4 = len(x) &^ 3
		if n4 > 0 {
			logFloorAsm(&x[0], n4, floor, &logTab)
		}
	}
	for i := n4; i < len(x); i++ {
		x[i] = log32(max(x[i], floor))
	}
}

// log32 returns the natural logarithm of a normal, positive float32, with
// NaN and +Inf passed through. Its float64 result is within a few ulps, so
// the float32 is correctly rounded except in rare near-tie cases.
func log32(x float32) float32 {
	b := math.Float32bits(x)
	e := int(b>>23) - 127
	if e == 128 {
		return x // NaN or +Inf
	}
	// x = 2^e * mant with mant in [sqrt(1/2), sqrt(2)).
	mant := float64(math.Float32frombits(b&0x007fffff | 127<<23))
	if mant > math.Sqrt2 {
		mant *= 0.5
		e++
	}
	// log(mant) = 2*atanh(s) = 2*(s + s^3/3 + s^5/5 + ...), s = (mant-1)/(mant+1).
	// |s| <= 0.1716, so z = s^2 <= 0.0295 and eleven terms reach 1e-18.
	s := (mant - 1) / (mant + 1)
	z := float64(s * s)
	p := logTab[0]
	for _, c := range logTab[1:logTerms] {
		p = float64(p*z) + c
	}
	return float32(float64(float64(e)*math.Ln2) + float64(2*float64(s*p)))
}

// logTab holds the coefficients of log32's series, 1/23 first, in the order
// in which they are used, then the other constants that the assembly reads:
// √2, 0.5, 1 and ln 2.
var logTab = [logTerms + 4]float64{1.0 / 23, 1.0 / 21, 1.0 / 19, 1.0 / 17, 1.0 / 15, 1.0 / 13,
	1.0 / 11, 1.0 / 9, 1.0 / 7, 1.0 / 5, 1.0 / 3, 1,
	math.Sqrt2, 0.5, 1, math.Ln2}

const logTerms = 12

// BandMatrix is a sparse matrix whose rows each hold one contiguous run of
// weights, such as a mel filterbank (each triangular filter covers a few
// FFT bins). Build it with NewBandMatrix.
type BandMatrix struct {
	rows, cols int
	start, off []int     // row r's weights w[off[r]:off[r+1]] apply to columns start[r]...
	w          []float32 // every row's weights, back to back
	// For the assembly, the rows in groups of four, side by side: group g
	// covers columns lo[g] to lo[g]+steps[g]-1 (gcols holds the pairs), and
	// gw holds, per column, the four rows' weights and a mask per row that
	// is zero where the column is outside the row's run.
	gcols []int32
	gw    []float32
}

// NewBandMatrix returns the rows×cols matrix (rows = len(start)) whose row
// r has the weights weights[r] at columns start[r], start[r]+1, ... and
// zeros elsewhere. The runs must lie inside the columns.
func NewBandMatrix(cols int, start []int, weights [][]float32) *BandMatrix {
	if len(start) != len(weights) || cols < 0 {
		panic("kernels: NewBandMatrix: one start per row of weights, and cols >= 0")
	}
	b := &BandMatrix{rows: len(start), cols: cols, start: append([]int(nil), start...), off: make([]int, len(start)+1)}
	for r, w := range weights {
		if start[r] < 0 || start[r]+len(w) > cols {
			panic("kernels: NewBandMatrix: a row's weights lie outside the columns")
		}
		b.w = append(b.w, w...)
		b.off[r+1] = len(b.w)
	}
	for g := 0; g+4 <= b.rows; g += 4 {
		lo, hi := cols, 0
		for r := g; r < g+4; r++ {
			if n := b.off[r+1] - b.off[r]; n > 0 {
				lo, hi = min(lo, start[r]), max(hi, start[r]+n)
			}
		}
		if hi <= lo {
			lo, hi = 0, 0
		}
		b.gcols = append(b.gcols, int32(lo), int32(hi-lo))
		for c := lo; c < hi; c++ {
			var w, mask [4]float32
			for l := range 4 {
				r := g + l
				if i := c - start[r]; i >= 0 && i < b.off[r+1]-b.off[r] {
					w[l], mask[l] = b.w[b.off[r]+i], math.Float32frombits(0xffffffff)
				}
			}
			b.gw = append(b.gw, w[:]...)
			b.gw = append(b.gw, mask[:]...)
		}
	}
	return b
}

// Rows and Cols return the matrix's shape.
func (b *BandMatrix) Rows() int { return b.rows }

// Cols returns the number of columns.
func (b *BandMatrix) Cols() int { return b.cols }

// MulVec sets dst[r] = Σ_i weights[r][i]·x[start[r]+i] for every row r,
// the terms added in order from 0, each product rounded before it is
// added. len(x) must be at least Cols and len(dst) at least Rows.
//
// The assembly sums four rows side by side over the columns any of them
// covers; a column outside a row's run adds +0 (the product masked to
// zero, whatever x holds) to that row's sum, which leaves every sum as it
// is, as the sums start at +0 and can never become -0.
func (b *BandMatrix) MulVec(dst, x []float32) {
	x, dst = x[:b.cols], dst[:b.rows]
	r := 0
	if useAsm && spectrumAsm && b.rows >= 4 {
		r = b.rows &^ 3
		bandAsm(&dst[0], firstOrNil(x), &b.gcols[0], r/4, firstOrNil(b.gw))
	}
	for ; r < b.rows; r++ {
		s := b.start[r]
		var e float32
		for i, w := range b.w[b.off[r]:b.off[r+1]] {
			e += float32(w * x[s+i])
		}
		dst[r] = e
	}
}

// firstOrNil returns &s[0], or nil for an empty slice (which the assembly
// then never reads).
func firstOrNil(s []float32) *float32 {
	if len(s) == 0 {
		return nil
	}
	return &s[0]
}

// RealFFT is the discrete Fourier transform of real sequences of one
// length n, a power of two: X[k] = Σ_j x[j]·exp(-2πijk/n), k = 0..n/2. It
// is computed in float32 as one radix-2 complex FFT of length m = n/2 on
// the even and odd samples packed as real and imaginary parts, followed by
// the standard split into the n/2+1 non-redundant bins.
//
// Every product is rounded (no fused multiply-adds) and every butterfly is
// that of the plain-Go reference (Transform), so Magnitude gives the same
// bits in NEON and AVX2 (for n >= 32) and in Go. A RealFFT holds its
// scratch space: it is not safe for concurrent use.
type RealFFT struct {
	n, m       int       // real length and complex length m = n/2
	rev        []int32   // bit-reversal permutation of 0..m-1
	twRe, twIm []float32 // exp(-2*pi*i*j/m), j < m/2, for the complex FFT
	spRe, spIm []float32 // exp(-2*pi*i*k/n), k <= m, for the split
	zr, zi     []float32 // complex work array, length m+1 (see fftAsm)
	re, im     []float32 // the spectrum, for Magnitude in Go

	asm *fftTables // nil when the assembly cannot take this length
}

// NewRealFFT returns the transform of length n, a power of two >= 4.
func NewRealFFT(n int) *RealFFT {
	if n < 4 || n&(n-1) != 0 {
		panic("kernels: NewRealFFT: the length must be a power of two >= 4")
	}
	m := n / 2
	f := &RealFFT{
		n: n, m: m,
		rev:  make([]int32, m),
		twRe: make([]float32, m/2), twIm: make([]float32, m/2),
		spRe: make([]float32, m+1), spIm: make([]float32, m+1),
		zr: make([]float32, m+1), zi: make([]float32, m+1),
		re: make([]float32, m+1), im: make([]float32, m+1),
	}
	shift := 64 - bits.Len(uint(m-1))
	for i := range f.rev {
		if m > 1 {
			f.rev[i] = int32(bits.Reverse64(uint64(i)) >> shift)
		}
	}
	for j := range f.twRe {
		c, s := unitRoot(j, m)
		f.twRe[j], f.twIm[j] = float32(c), float32(s)
	}
	for k := range f.spRe {
		c, s := unitRoot(k, n)
		f.spRe[k], f.spIm[k] = float32(c), float32(s)
	}
	if m >= fftAsmMin {
		f.asm = newFFTTables(f)
	}
	return f
}

// Len is the length n of the sequences transformed.
func (f *RealFFT) Len() int { return f.n }

// unitRoot returns exp(-2*pi*i*k/n), exact at multiples of a quarter turn
// so that trivial twiddles stay trivial (no 6e-17 instead of 0).
func unitRoot(k, n int) (re, im float64) {
	if (4*k)%n == 0 {
		switch (4 * k / n) % 4 {
		case 0:
			return 1, 0
		case 1:
			return 0, -1
		case 2:
			return -1, 0
		default:
			return 0, 1
		}
	}
	s, c := math.Sincos(2 * math.Pi * float64(k) / float64(n))
	return c, -s
}

// Transform writes the spectrum of x (len n) to re and im (len n/2+1). It
// is the plain-Go reference, whatever the kernels in use.
func (f *RealFFT) Transform(x, re, im []float32) {
	f.complexFFT(x)
	re, im = re[:f.m+1], im[:f.m+1]
	for k := range re {
		re[k], im[k] = f.split(k)
	}
}

// complexFFT leaves in zr, zi the complex FFT of length m of the even and
// odd samples of x packed as real and imaginary parts.
func (f *RealFFT) complexFFT(x []float32) {
	m := f.m
	zr, zi := f.zr[:m], f.zi[:m]
	x = x[:2*m]
	for i, r := range f.rev {
		zr[r], zi[r] = x[2*i], x[2*i+1]
	}

	// Iterative decimation-in-time butterflies on the bit-reversed data.
	for h := 1; h < m; h <<= 1 {
		step := m / (2 * h)
		for s := 0; s < m; s += 2 * h {
			ar, ai := zr[s:s+h], zi[s:s+h]
			br, bi := zr[s+h:s+2*h], zi[s+h:s+2*h]
			for j := range ar {
				wr, wi := f.twRe[j*step], f.twIm[j*step]
				tr := float32(wr*br[j]) - float32(wi*bi[j])
				ti := float32(wr*bi[j]) + float32(wi*br[j])
				br[j], bi[j] = ar[j]-tr, ai[j]-ti
				ar[j], ai[j] = ar[j]+tr, ai[j]+ti
			}
		}
	}
}

// split returns bin k of the real spectrum from the complex FFT Z in zr,
// zi: with A = Z[k], B = Z[m-k] (Z[m] = Z[0]),
// X[k] = ((A + conj B) - i W^k (A - conj B)) / 2, W = exp(-2*pi*i/n).
func (f *RealFFT) split(k int) (re, im float32) {
	m := f.m
	a, b := k, m-k
	if a == m {
		a = 0
	}
	if b == m {
		b = 0
	}
	zr, zi := f.zr, f.zi
	sr, si := zr[a]+zr[b], zi[a]-zi[b] // A + conj B
	dr, di := zr[a]-zr[b], zi[a]+zi[b] // A - conj B
	// -i*(dr + i*di) = di - i*dr, then times W^k.
	wr, wi := f.spRe[k], f.spIm[k]
	tr := float32(wr*di) + float32(wi*dr)
	ti := float32(wi*di) - float32(wr*dr)
	return 0.5 * (sr + tr), 0.5 * (si + ti)
}

// magnitude is |re + i·im| rounded once: the float64 square root of a
// float32 rounds to the float32 square root.
func magnitude(re, im float32) float32 {
	return float32(math.Sqrt(float64(float32(re*re) + float32(im*im))))
}

// Magnitude writes |X[k]| for k = 0..n/2 to mag (len n/2+1), X being the
// spectrum of x (len n) as Transform computes it, each magnitude the
// correctly rounded square root of re·re + im·im (both products rounded).
func (f *RealFFT) Magnitude(mag, x []float32) {
	m := f.m
	x, mag = x[:f.n], mag[:m+1]
	if !(useAsm && spectrumAsm) || f.asm == nil {
		f.Transform(x, f.re, f.im)
		for k := range mag {
			mag[k] = magnitude(f.re[k], f.im[k])
		}
		return
	}
	t := f.asm
	fftAsm(&f.zr[0], &f.zi[0], &x[0], &t.offs[0], m/4, &t.c0, &t.mid[0], &t.last[0], &t.z[0])
	splitMagAsm(&mag[0], &f.zr[0], &f.zi[0], m, &t.split[0])
	mag[m] = magnitude(f.split(m))
}

// fftAsmMin is the shortest complex length the assembly takes: its last
// pass transposes blocks of four vectors of four.
const fftAsmMin = 16

// fftTables are the tables of fftAsm and splitMagAsm, in the order in which
// they read them; every twiddle is a value of twRe, twIm, spRe or spIm, so
// that the assembly multiplies by exactly the reference's numbers.
//
// fftAsm keeps the complex data as Q = m/4 vectors of four lanes (real and
// imaginary parts in separate vectors): vector q, lane l holds position
// p = Q·t + q of the bit-reversed array with t = the two bits of l
// reversed. That makes vector q the four contiguous inputs 4·rev(q)..+3
// (one de-interleaving load), and every stage with span h < Q pairs whole
// vectors q and q+h with one twiddle for all four lanes. The two last
// stages (spans Q and 2Q) pair lanes: they run after a 4×4 transpose, which
// also leaves the result in natural order. The AVX2 code reads the same
// tables, with two vectors per register (2i and 2i+1).
type fftTables struct {
	offs  []int32    // Q byte offsets into x: vector q loads x[8·rev(q):]
	c0    [4]float32 // the twiddles of the first two stages: W^0 and W^(m/4)
	mid   []float32  // spans 4..Q/2: (re, im) of W^(j·m/2h) for j < h, span after span
	last  []float32  // per block of 4 vectors q: W^2q, W^q, W^(Q+q), each re×4 then im×4
	split []float32  // per 4 bins k < m: spRe×4, spIm×4
	z     []float32  // the vectors: Q × (re×4, im×4), or Q/2 × (re×8, im×8) in AVX2
}

func newFFTTables(f *RealFFT) *fftTables {
	m := f.m
	q := m / 4
	t := &fftTables{offs: make([]int32, q), z: make([]float32, 8*q)}
	shift := 64 - bits.Len(uint(q-1))
	for i := range t.offs {
		t.offs[i] = int32(bits.Reverse64(uint64(i))>>shift) * 32
	}
	t.c0 = [4]float32{f.twRe[0], f.twIm[0], f.twRe[m/4], f.twIm[m/4]}
	for h := 4; h < q; h *= 2 {
		step := m / (2 * h)
		for j := range h {
			t.mid = append(t.mid, f.twRe[j*step], f.twIm[j*step])
		}
	}
	t.mid = append(t.mid, 0, 0, 0, 0) // never read: keeps &mid[0] valid
	for q0 := 0; q0 < q; q0 += 4 {
		for _, idx := range []func(int) int{
			func(i int) int { return 2 * i }, // span Q: step 2
			func(i int) int { return i },     // span 2Q, t = 0 and 2
			func(i int) int { return q + i }, // span 2Q, t = 1 and 3
		} {
			for l := range 4 {
				t.last = append(t.last, f.twRe[idx(q0+l)])
			}
			for l := range 4 {
				t.last = append(t.last, f.twIm[idx(q0+l)])
			}
		}
	}
	for k := 0; k < m; k += 4 {
		t.split = append(t.split, f.spRe[k:k+4]...)
		t.split = append(t.split, f.spIm[k:k+4]...)
	}
	return t
}
