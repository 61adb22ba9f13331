package frontend

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// naiveDFT is the O(n^2) definition in float64, the oracle for realFFT.
func naiveDFT(x []float32) (re, im []float64) {
	n := len(x)
	re, im = make([]float64, n/2+1), make([]float64, n/2+1)
	for k := range re {
		for j, v := range x {
			// Reduce k*j mod n first so large angles lose no precision.
			a := 2 * math.Pi * float64(k*j%n) / float64(n)
			re[k] += float64(v) * math.Cos(a)
			im[k] -= float64(v) * math.Sin(a)
		}
	}
	return re, im
}

func TestRealFFTAgainstDFT(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 11))
	for n := 4; n <= 4096; n *= 2 {
		f := newRealFFT(n)
		re, im := make([]float32, n/2+1), make([]float32, n/2+1)
		for trial := 0; trial < 3; trial++ {
			x := make([]float32, n)
			var norm float64
			for i := range x {
				x[i] = float32(r.Float64()*2 - 1)
				norm += float64(x[i]) * float64(x[i])
			}
			f.transform(x, re, im)
			wr, wi := naiveDFT(x)
			// float32 FFT error grows like eps * log2(n) * ||x||.
			tol := 2 * 0x1p-24 * float64(bits.Len(uint(n))) * math.Sqrt(norm)
			var worst float64
			for k := range wr {
				worst = max(worst, math.Hypot(float64(re[k])-wr[k], float64(im[k])-wi[k]))
			}
			if worst > tol {
				t.Errorf("n=%d: max |error| %.3g > %.3g", n, worst, tol)
			}
		}
	}
}

func TestRealFFTExactCases(t *testing.T) {
	const n = 512
	f := newRealFFT(n)
	re, im := make([]float32, n/2+1), make([]float32, n/2+1)

	// An impulse at 0 has a flat spectrum, exactly.
	x := make([]float32, n)
	x[0] = 1
	f.transform(x, re, im)
	for k := range re {
		if re[k] != 1 || im[k] != 0 {
			t.Fatalf("impulse: X[%d] = %v%+vi, want 1", k, re[k], im[k])
		}
	}
	// Constant input: all energy in bin 0, exactly n.
	for i := range x {
		x[i] = 1
	}
	f.transform(x, re, im)
	if re[0] != n || im[0] != 0 {
		t.Fatalf("DC: X[0] = %v%+vi, want %d", re[0], im[0], n)
	}
	for k := 1; k < len(re); k++ {
		if re[k] != 0 || im[k] != 0 {
			t.Fatalf("DC: X[%d] = %v%+vi, want 0", k, re[k], im[k])
		}
	}
	// Alternating signs: all energy in the Nyquist bin.
	for i := range x {
		x[i] = float32(1 - 2*(i%2))
	}
	f.transform(x, re, im)
	if re[n/2] != n || im[n/2] != 0 || re[0] != 0 {
		t.Fatalf("Nyquist: X[n/2] = %v%+vi, X[0] = %v", re[n/2], im[n/2], re[0])
	}
}

func TestUnitRootQuadrants(t *testing.T) {
	for _, c := range []struct {
		k, n   int
		re, im float64
	}{{0, 8, 1, 0}, {2, 8, 0, -1}, {4, 8, -1, 0}, {6, 8, 0, 1}, {128, 512, 0, -1}} {
		if re, im := unitRoot(c.k, c.n); re != c.re || im != c.im {
			t.Errorf("unitRoot(%d, %d) = %v, %v; want %v, %v", c.k, c.n, re, im, c.re, c.im)
		}
	}
}
