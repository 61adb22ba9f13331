package frontend

import (
	"math"
	"math/bits"
)

// realFFT is a radix-2 FFT of a real sequence of length n (a power of two),
// computed in float32 as one complex FFT of length n/2 on the even/odd
// samples packed as real/imaginary parts, followed by the standard split
// into the n/2+1 non-redundant bins. All tables and scratch are
// preallocated, so transform does not allocate.
//
// Every product is explicitly rounded (float32(a*b)) so that the compiler
// may not fuse it into an FMA: the arm64 daemon and amd64 training then
// compute bit-identical spectra.
type realFFT struct {
	n, m       int       // real length and complex length m = n/2
	rev        []int32   // bit-reversal permutation of 0..m-1
	twRe, twIm []float32 // exp(-2*pi*i*j/m), j < m/2, for the complex FFT
	spRe, spIm []float32 // exp(-2*pi*i*k/n), k <= m, for the split
	zr, zi     []float32 // complex work array, length m
}

func newRealFFT(n int) *realFFT {
	m := n / 2
	f := &realFFT{
		n: n, m: m,
		rev:  make([]int32, m),
		twRe: make([]float32, m/2), twIm: make([]float32, m/2),
		spRe: make([]float32, m+1), spIm: make([]float32, m+1),
		zr: make([]float32, m), zi: make([]float32, m),
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
	return f
}

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

// transform writes the spectrum of x (len n) to re and im (len n/2+1).
func (f *realFFT) transform(x, re, im []float32) {
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

	// Split Z into X: with A = Z[k], B = Z[m-k],
	// X[k] = ((A + conj B) - i W^k (A - conj B)) / 2, W = exp(-2*pi*i/n).
	re, im = re[:m+1], im[:m+1]
	for k := 0; k <= m; k++ {
		a, b := k, m-k
		if a == m {
			a = 0
		}
		if b == m {
			b = 0
		}
		sr, si := zr[a]+zr[b], zi[a]-zi[b] // A + conj B
		dr, di := zr[a]-zr[b], zi[a]+zi[b] // A - conj B
		// -i*(dr + i*di) = di - i*dr, then times W^k.
		wr, wi := f.spRe[k], f.spIm[k]
		tr := float32(wr*di) + float32(wi*dr)
		ti := float32(wi*di) - float32(wr*dr)
		re[k] = 0.5 * (sr + tr)
		im[k] = 0.5 * (si + ti)
	}
}
