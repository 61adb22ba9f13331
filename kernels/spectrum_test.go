package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// The frontend's kernels must give the bits of their plain-Go references
// (the natural loops, every product rounded): the tests run each kernel
// with the assembly where this build has it and compare with the reference
// bit for bit (NaNs as NaNs), over many lengths and offsets, with guard
// bands around every output; and the references with float64 arithmetic
// within rounding bounds.

func sameSlices(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if !same(got[i], want[i]) {
			t.Fatalf("%s: element %d = %v (%#08x), the reference %v (%#08x)", what, i,
				got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

func TestMul(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(40, 41))
		for _, n := range lengths() {
			for off := range 4 {
				a := at(withSpecials(rng, randVec(rng, n, 1), 2), off)
				b := at(randVec(rng, n+3, 1), 3-off)
				dst, check := guarded(n, off)
				Mul(dst, a, b)
				check(t, "Mul")
				for i := range dst {
					if want := a[i] * b[i]; !same(dst[i], want) {
						t.Fatalf("n=%d off=%d: element %d = %v, want %v", n, off, i, dst[i], want)
					}
				}
			}
		}
	})
}

// axpyRowsRoundedRef is the loop AXPYRowsRounded stands for.
func axpyRowsRoundedRef(y, a, w []float32, stride int) {
	for j, aj := range a {
		for e := range y {
			y[e] += float32(aj * w[j*stride+e])
		}
	}
}

func TestAXPYRowsRounded(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(42, 43))
		for _, m := range lengths() {
			for _, rows := range []int{0, 1, 2, 3, 5, 40, 80} {
				off := (m + rows) % 4
				stride := m + rows%3
				w := at(randVec(rng, rows*stride+1, 1), 3-off)
				a := at(withSpecials(rng, randVec(rng, rows, 1), rows/20), off)
				y, check := guarded(m, off)
				y0 := randVec(rng, m, 1)
				copy(y, y0)
				AXPYRowsRounded(y, a, w, stride)
				check(t, "AXPYRowsRounded")
				want := append([]float32(nil), y0...)
				axpyRowsRoundedRef(want, a, w, stride)
				sameSlices(t, fmt.Sprintf("m=%d rows=%d", m, rows), y, want)
				if rows < 40 { // no specials: within rounding of the float64 sum
					checkAXPY(t, fmt.Sprintf("m=%d rows=%d", m, rows), y, y0, a, func(j int) []float32 { return w[j*stride:] }, nil)
				}
			}
		}
	})
}

func TestAXPYRowsRoundedPanics(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		defer func() {
			if recover() == nil {
				t.Fatal("AXPYRowsRounded with rows beyond w did not panic")
			}
		}()
		AXPYRowsRounded(make([]float32, 32), make([]float32, 3), make([]float32, 95), 32)
	})
}

// logInputs are positive normal floats over the whole range, values near 1
// and √2 (where the reduction switches), and the special values.
func logInputs(rng *rand.Rand, n int) []float32 {
	x := []float32{1, 2, 0.5, math.Sqrt2, math.Nextafter32(math.Sqrt2, 2), math.Nextafter32(math.Sqrt2, 0),
		1e-12, 0x1p-126, math.MaxFloat32, math.Nextafter32(1, 0), math.Nextafter32(1, 2), math.E,
		float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)),
		1e-40, -1, -3e38, math.Float32frombits(0xffc00000), math.Float32frombits(0x7f800001)}
	for len(x) < n {
		x = append(x, float32(math.Exp(rng.Float64()*176-87)), float32(0.5+rng.Float64()))
	}
	return x[:n]
}

func TestLog32(t *testing.T) {
	rng := rand.New(rand.NewPCG(20, 21))
	inputs := []float32{1, 2, 0.5, math.Sqrt2, 1e-12, 0x1p-126, math.MaxFloat32,
		math.Nextafter32(1, 0), math.Nextafter32(1, 2), math.E}
	for range 200000 {
		// Log-uniform over the whole normal range, plus a dense band near 1.
		inputs = append(inputs, float32(math.Exp(rng.Float64()*176-87)), float32(0.5+rng.Float64()))
	}
	exact := 0
	for _, x := range inputs {
		got, want := log32(x), float32(math.Log(float64(x)))
		if got == want {
			exact++
			continue
		}
		// At most one float32 ulp away, from a near-tie in rounding.
		if math.Nextafter32(want, got) != got {
			t.Fatalf("log32(%v) = %v, math.Log gives %v", x, got, want)
		}
	}
	if frac := float64(exact) / float64(len(inputs)); frac < 0.9999 {
		t.Errorf("only %.6f of results equal float32(math.Log)", frac)
	}
	if log32(1) != 0 {
		t.Errorf("log32(1) = %v", log32(1))
	}
	inf := float32(math.Inf(1))
	if log32(inf) != inf {
		t.Errorf("log32(+Inf) = %v", log32(inf))
	}
	if nan := float32(math.NaN()); !math.IsNaN(float64(log32(nan))) {
		t.Errorf("log32(NaN) = %v", log32(nan))
	}
}

func TestLogFloor(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(44, 45))
		for _, floor := range []float32{1e-12, 0x1p-126, 1, 3e38} {
			for _, n := range append(lengths()[:70], 80, 1000) {
				for off := range 4 {
					x0 := logInputs(rng, n)
					rng.Shuffle(len(x0), func(i, j int) { x0[i], x0[j] = x0[j], x0[i] })
					x, check := guarded(n, off)
					copy(x, x0)
					LogFloor(x, floor)
					check(t, "LogFloor")
					for i, v := range x0 {
						if want := log32(max(v, floor)); !same(x[i], want) {
							t.Fatalf("floor %g, n=%d off=%d: log(max(%v, floor)) = %v, the reference %v", floor, n, off, v, x[i], want)
						}
					}
				}
			}
		}
	})
}

// bandRef is BandMatrix.MulVec's loop, from the rows as given.
func bandRef(dst, x []float32, start []int, weights [][]float32) {
	for r, w := range weights {
		var e float32
		for i, v := range w {
			e += float32(v * x[start[r]+i])
		}
		dst[r] = e
	}
}

// randomBand returns rows runs of weights in cols columns: mostly short
// overlapping runs that move along the columns as a filterbank's do, some
// empty, some long, some anywhere.
func randomBand(rng *rand.Rand, rows, cols int) ([]int, [][]float32) {
	start := make([]int, rows)
	weights := make([][]float32, rows)
	for r := range rows {
		n := rng.IntN(min(cols, 12) + 1)
		if rng.IntN(8) == 0 {
			n = rng.IntN(cols + 1)
		}
		s := 0
		if cols > n {
			s = min(r*cols/max(rows, 1), cols-n)
			if rng.IntN(5) == 0 {
				s = rng.IntN(cols - n + 1)
			}
		}
		start[r] = s
		weights[r] = randVec(rng, n, 1)
		for i := range weights[r] {
			weights[r][i] = float32(math.Abs(float64(weights[r][i])))
		}
	}
	return start, weights
}

func TestBandMatrix(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(46, 47))
		for _, cols := range []int{0, 1, 5, 31, 257, 1025} {
			for rows := range 23 {
				for trial := range 3 {
					start, weights := randomBand(rng, rows, cols)
					b := NewBandMatrix(cols, start, weights)
					if b.Rows() != rows || b.Cols() != cols {
						t.Fatalf("shape %dx%d, want %dx%d", b.Rows(), b.Cols(), rows, cols)
					}
					off := trial % 4
					x := at(randVec(rng, cols, 1), off)
					if trial == 2 { // non-finite inputs, which padding must not reach
						withSpecials(rng, x, 3)
					}
					dst, check := guarded(rows, 3-off)
					b.MulVec(dst, x)
					check(t, "BandMatrix.MulVec")
					want := make([]float32, rows)
					bandRef(want, x, start, weights)
					sameSlices(t, fmt.Sprintf("%d rows, %d cols, trial %d", rows, cols, trial), dst, want)
				}
			}
		}
	})
}

func TestBandMatrixPanics(t *testing.T) {
	for _, c := range []struct {
		cols  int
		start []int
		w     [][]float32
	}{
		{4, []int{3}, [][]float32{{1, 2}}},
		{4, []int{-1}, [][]float32{{1}}},
		{4, []int{0, 1}, [][]float32{{1}}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewBandMatrix(%d, %v, %v) did not panic", c.cols, c.start, c.w)
				}
			}()
			NewBandMatrix(c.cols, c.start, c.w)
		}()
	}
}

// naiveDFT is the O(n^2) definition in float64, the oracle for RealFFT.
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
		f := NewRealFFT(n)
		re, im := make([]float32, n/2+1), make([]float32, n/2+1)
		for range 3 {
			x := make([]float32, n)
			var norm float64
			for i := range x {
				x[i] = float32(r.Float64()*2 - 1)
				norm += float64(x[i]) * float64(x[i])
			}
			f.Transform(x, re, im)
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
	f := NewRealFFT(n)
	re, im := make([]float32, n/2+1), make([]float32, n/2+1)

	// An impulse at 0 has a flat spectrum, exactly.
	x := make([]float32, n)
	x[0] = 1
	f.Transform(x, re, im)
	for k := range re {
		if re[k] != 1 || im[k] != 0 {
			t.Fatalf("impulse: X[%d] = %v%+vi, want 1", k, re[k], im[k])
		}
	}
	// Constant input: all energy in bin 0, exactly n.
	for i := range x {
		x[i] = 1
	}
	f.Transform(x, re, im)
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
	f.Transform(x, re, im)
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

// magnitudeRef is Magnitude as the reference computes it: Transform, then
// the rounded square root of re² + im².
func magnitudeRef(f *RealFFT, x []float32) []float32 {
	m := f.Len() / 2
	re, im, mag := make([]float32, m+1), make([]float32, m+1), make([]float32, m+1)
	f.Transform(x, re, im)
	for k := range mag {
		mag[k] = float32(math.Sqrt(float64(float32(re[k]*re[k]) + float32(im[k]*im[k]))))
	}
	return mag
}

func TestRealFFTMagnitude(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(48, 49))
		for n := 4; n <= 4096; n *= 2 {
			f := NewRealFFT(n)
			for trial := range 6 {
				off := trial % 4
				x := at(randVec(rng, n, math.Pow(10, float64(trial-2))), off)
				switch trial {
				case 4: // a frame zero-padded at its end, as the frontend's
					clear(x[n*15/16:])
				case 5:
					withSpecials(rng, x, 2)
				}
				mag, check := guarded(n/2+1, 3-off)
				f.Magnitude(mag, x)
				check(t, "Magnitude")
				sameSlices(t, fmt.Sprintf("n=%d trial %d", n, trial), mag, magnitudeRef(f, x))
			}
		}
	})
}

// The arithmetic must not depend on the data's history in the scratch: the
// same input gives the same magnitudes after any other.
func TestRealFFTMagnitudeRepeats(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(50, 51))
		f := NewRealFFT(512)
		x := randVec(rng, 512, 1)
		first := make([]float32, 257)
		f.Magnitude(first, x)
		other := make([]float32, 257)
		f.Magnitude(other, withSpecials(rng, randVec(rng, 512, 1), 5))
		again := make([]float32, 257)
		f.Magnitude(again, x)
		sameSlices(t, "again", again, first)
	})
}

func TestNewRealFFTPanics(t *testing.T) {
	for _, n := range []int{0, 2, 3, 6, 100} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewRealFFT(%d) did not panic", n)
				}
			}()
			NewRealFFT(n)
		}()
	}
}

// The fuzz tests: the fuzzer's bytes are raw float32 bit patterns, so NaNs,
// infinities, denormals and extreme magnitudes all occur. The assembly must
// give the reference's bits (NaNs as NaNs).

// againstReference runs f with the plain-Go kernels, then, where this build
// has them, with the assembly, and compares the two outputs.
func againstReference(t *testing.T, what string, f func() []float32) {
	t.Helper()
	var want []float32
	withImpl(false, func() { want = append([]float32(nil), f()...) })
	if haveAsm {
		withImpl(true, func() { sameSlices(t, what, f(), want) })
	}
}

func FuzzMagnitude(f *testing.F) {
	seedFloats(f, uint8(5))
	f.Fuzz(fuzzMagnitude)
}

func fuzzMagnitude(t *testing.T, data []byte, logn uint8) {
	v := floats(data)
	if len(v) == 0 {
		return
	}
	n := 1 << (2 + logn%9) // 4 .. 1024
	x := make([]float32, n)
	for i := range x {
		x[i] = v[i%len(v)]
	}
	ft := NewRealFFT(n)
	againstReference(t, fmt.Sprintf("Magnitude n=%d", n), func() []float32 {
		mag, check := guarded(n/2+1, int(logn%4))
		ft.Magnitude(mag, x)
		check(t, "Magnitude")
		return mag
	})
}

func FuzzLogFloor(f *testing.F) {
	seedFloats(f, float32(1e-12))
	f.Fuzz(fuzzLogFloor)
}

func fuzzLogFloor(t *testing.T, data []byte, floor float32) {
	if !(floor >= 0x1p-126 && floor <= math.MaxFloat32) {
		floor = 1e-12
	}
	x0 := floats(data)
	againstReference(t, "LogFloor", func() []float32 {
		x, check := guarded(len(x0), len(x0)%4)
		copy(x, x0)
		LogFloor(x, floor)
		check(t, "LogFloor")
		return x
	})
}

func FuzzBandMatrix(f *testing.F) {
	seedFloats(f, uint64(1), uint8(9))
	f.Fuzz(fuzzBandMatrix)
}

func fuzzBandMatrix(t *testing.T, data []byte, seed uint64, rows uint8) {
	x := floats(data)
	start, weights := randomBand(rand.New(rand.NewPCG(seed, 3)), int(rows%40), len(x))
	b := NewBandMatrix(len(x), start, weights)
	againstReference(t, "BandMatrix.MulVec", func() []float32 {
		dst, check := guarded(b.Rows(), int(seed%4))
		b.MulVec(dst, x)
		check(t, "BandMatrix.MulVec")
		return dst
	})
}

func FuzzAXPYRowsRounded(f *testing.F) {
	seedFloats(f, uint8(40), uint8(3))
	f.Fuzz(fuzzAXPYRowsRounded)
}

func fuzzAXPYRowsRounded(t *testing.T, data []byte, m, rows uint8) {
	v := floats(data)
	k := min(int(rows%90), len(v))
	a, w := v[:k], v[k:]
	stride := int(m)
	n := 0
	if k > 0 && stride > 0 && len(w) >= (k-1)*stride {
		n = min(stride, len(w)-(k-1)*stride)
	}
	y0 := make([]float32, n)
	for i := range y0 {
		y0[i] = float32(i%5) - 2
	}
	againstReference(t, "AXPYRowsRounded", func() []float32 {
		y, check := guarded(n, k%4)
		copy(y, y0)
		AXPYRowsRounded(y, a, w, stride)
		check(t, "AXPYRowsRounded")
		want := append([]float32(nil), y0...)
		axpyRowsRoundedRef(want, a, w, stride)
		sameSlices(t, "AXPYRowsRounded against the loop", y, want)
		return y
	})
}

// TestSpectrumRandomBits runs the fuzz tests' bodies on random bit patterns
// (a third of them special values), so that the NEON assembly meets them
// where the fuzzer cannot run it: scripts/test.sh fuzzes on amd64 (the AVX2
// assembly), and qemu-user cannot start the fuzzer's workers.
func TestSpectrumRandomBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(52, 53))
	n := 400
	if testing.Short() {
		n = 50
	}
	for range n {
		data := make([]byte, 4*rng.IntN(700))
		for i := 0; i < len(data); i += 4 {
			b := rng.Uint32()
			if rng.IntN(3) == 0 {
				b = math.Float32bits(specials[rng.IntN(len(specials))])
			} else if rng.IntN(2) == 0 {
				b = math.Float32bits(float32(rng.NormFloat64()))
			}
			binary.LittleEndian.PutUint32(data[i:], b)
		}
		fuzzMagnitude(t, data, uint8(rng.IntN(256)))
		fuzzLogFloor(t, data, math.Float32frombits(rng.Uint32()))
		fuzzBandMatrix(t, data, rng.Uint64(), uint8(rng.IntN(256)))
		fuzzAXPYRowsRounded(t, data, uint8(rng.IntN(256)), uint8(rng.IntN(256)))
	}
}
