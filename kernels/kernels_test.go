package kernels

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// Every kernel is run with the assembly (where this CPU and build have it)
// and with the plain-Go kernels (useGeneric), over lengths 0 to 300 and
// beyond, start offsets 0-3, with guard bands around every output. The
// assembly must equal the exact models of model_test.go bit for bit; every
// implementation must be within rounding bounds of a float64 reference.

// useGeneric switches to the plain-Go kernels (true) or to the assembly
// where this build and CPU have it (false), whatever WAKEWORDD_KERNELS
// said, and returns the previous setting. It is the tests' and benchmarks'
// way to run both implementations; it must not be called while a kernel
// runs.
func useGeneric(on bool) (was bool) {
	was = !useAsm
	useAsm = haveAsm && !on
	return was
}

// impls runs f once per implementation that this machine can run.
func impls(t *testing.T, f func(t *testing.T, asm bool)) {
	t.Helper()
	modes := []bool{false}
	if haveAsm {
		modes = append(modes, true)
	}
	for _, asm := range modes {
		name := "generic"
		if asm {
			name = asmName
		}
		t.Run(name, func(t *testing.T) {
			was := useGeneric(!asm)
			defer useGeneric(was)
			f(t, asm)
		})
	}
}

const guard = 9

// sentinel fills the guard bands: a NaN with a payload that no kernel
// makes.
var sentinel = math.Float32frombits(0x7fa5a5a5)

// guarded returns a slice of n elements starting off elements into a
// buffer with guard bands on both sides, and a function that reports any
// change to the bands.
func guarded(n, off int) ([]float32, func(t *testing.T, what string)) {
	buf := make([]float32, guard+off+n+guard)
	for i := range buf {
		buf[i] = sentinel
	}
	s := buf[guard+off : guard+off+n : guard+off+n]
	return s, func(t *testing.T, what string) {
		t.Helper()
		for i, v := range buf {
			if i >= guard+off && i < guard+off+n {
				continue
			}
			if math.Float32bits(v) != math.Float32bits(sentinel) {
				t.Fatalf("%s: element %d outside the slice (offset %d, length %d) changed to %v", what, i-guard-off, off, n, v)
			}
		}
	}
}

func guardedInts(n, off int) ([]int32, func(t *testing.T, what string)) {
	return guardedOf(n, off, int32(-0x5a5a5a5a))
}

// guardedOf is guarded for integer slices, with fill in the bands.
func guardedOf[T int8 | int32](n, off int, fill T) ([]T, func(t *testing.T, what string)) {
	buf := make([]T, guard+off+n+guard)
	for i := range buf {
		buf[i] = fill
	}
	s := buf[guard+off : guard+off+n : guard+off+n]
	return s, func(t *testing.T, what string) {
		t.Helper()
		for i, v := range buf {
			if (i < guard+off || i >= guard+off+n) && v != fill {
				t.Fatalf("%s: index %d outside the slice changed to %d", what, i-guard-off, v)
			}
		}
	}
}

// at copies v into a slice at offset off of a fresh buffer, so that inputs
// are also read at every alignment.
func at(v []float32, off int) []float32 {
	buf := make([]float32, off+len(v)+3)
	return append(buf[:off], v...)[off:]
}

func randVec(rng *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * scale)
	}
	return v
}

// specials are values that kernels must carry through as IEEE arithmetic
// does.
var specials = []float32{
	float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
	0, float32(math.Copysign(0, -1)), 1e-40, -1e-40, 1.4e-45, -1.4e-45, 1.1754942e-38,
	3e38, -3e38, 1e-30, 65504, -0.5,
}

// withSpecials replaces a few random elements of v by special values.
func withSpecials(rng *rand.Rand, v []float32, k int) []float32 {
	if len(v) == 0 {
		return v
	}
	for range k {
		v[rng.IntN(len(v))] = specials[rng.IntN(len(specials))]
	}
	return v
}

func same(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

// lengths are the vector lengths the tests sweep: 0-300, then some beyond.
func lengths() []int {
	var ns []int
	for n := 0; n <= 300; n++ {
		ns = append(ns, n)
	}
	return append(ns, 319, 320, 321, 512, 1000, 1024+15)
}

// within reports whether got is within tol of the float64 want.
func within(got float32, want, tol float64) bool {
	return math.Abs(float64(got)-want) <= tol
}

const eps32 = 1.0 / (1 << 24) // unit roundoff of float32

func TestDot(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, n := range lengths() {
			for off := range 4 {
				a, b := at(randVec(rng, n, 1), off), at(randVec(rng, n+off, 1), 3-off)
				got := Dot(a, b)
				var want, mag float64
				for i := range n {
					want += float64(a[i]) * float64(b[i])
					mag += math.Abs(float64(a[i]) * float64(b[i]))
				}
				if !within(got, want, float64(n+4)*eps32*mag) {
					t.Fatalf("n=%d off=%d: Dot = %v, want %v", n, off, got, want)
				}
				if asm {
					if m := dotModel(a, b); !same(got, m) {
						t.Fatalf("n=%d off=%d: Dot = %v, the exact model %v", n, off, got, m)
					}
				}
			}
		}
	})
}

func TestDotRows(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, n := range append(lengths()[:70], 127, 128, 149, 256, 300) {
			for rows := range 10 {
				for off := range 4 {
					stride := n + off%2*5
					x := at(randVec(rng, n, 1), off)
					w := at(randVec(rng, max(rows*stride, 1), 1), 3-off)
					dst, check := guarded(rows, off)
					DotRows(dst, x, w, stride)
					check(t, "DotRows")
					for r := range rows {
						var want, mag float64
						for i := range n {
							p := float64(x[i]) * float64(w[r*stride+i])
							want += p
							mag += math.Abs(p)
						}
						if !within(dst[r], want, float64(n+4)*eps32*mag) {
							t.Fatalf("n=%d rows=%d off=%d: row %d = %v, want %v", n, rows, off, r, dst[r], want)
						}
					}
					if asm {
						m := make([]float32, rows)
						dotRowsModel(m, x, w, stride)
						for r := range m {
							if !same(dst[r], m[r]) {
								t.Fatalf("n=%d rows=%d off=%d: row %d = %v, the exact model %v", n, rows, off, r, dst[r], m[r])
							}
						}
					}
				}
			}
		}
	})
}

// checkAXPY compares y (after the kernel) with the float64 update of y0 by
// the rows, and with the exact model where asm.
func checkAXPY(t *testing.T, what string, got, y0 []float32, a []float32, rows func(j int) []float32, model []float32) {
	t.Helper()
	for e := range got {
		want, mag := float64(y0[e]), math.Abs(float64(y0[e]))
		for j, aj := range a {
			p := float64(aj) * float64(rows(j)[e])
			want += p
			mag += math.Abs(p)
		}
		if !within(got[e], want, float64(len(a)+4)*eps32*mag) {
			t.Fatalf("%s: element %d = %v, want %v", what, e, got[e], want)
		}
		if model != nil && !same(got[e], model[e]) {
			t.Fatalf("%s: element %d = %v, the exact model %v", what, e, got[e], model[e])
		}
	}
}

func TestAXPY(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, n := range lengths() {
			for off := range 4 {
				y, check := guarded(n, off)
				y0 := randVec(rng, n, 1)
				copy(y, y0)
				x := at(randVec(rng, n, 1), 3-off)
				a := float32(rng.NormFloat64())
				AXPY(y, a, x)
				check(t, "AXPY")
				var model []float32
				if asm {
					model = append([]float32(nil), y0...)
					axpyRowsModel(model, []float32{a}, x, 0)
				}
				checkAXPY(t, fmt.Sprintf("n=%d off=%d", n, off), y, y0, []float32{a}, func(int) []float32 { return x }, model)
			}
		}
	})
}

func TestAXPYRows(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, m := range lengths() {
			for _, rows := range []int{0, 1, 2, 3, 4, 5, 7, 40, 64} {
				off := (m + rows) % 4
				stride := m + rows%3
				w := at(randVec(rng, rows*stride+1, 1), 3-off)
				a := at(randVec(rng, rows, 1), off)
				y, check := guarded(m, off)
				y0 := randVec(rng, m, 1)
				copy(y, y0)
				AXPYRows(y, a, w, stride)
				check(t, "AXPYRows")
				var model []float32
				if asm {
					model = append([]float32(nil), y0...)
					axpyRowsModel(model, a, w, stride)
				}
				checkAXPY(t, fmt.Sprintf("m=%d rows=%d", m, rows), y, y0, a, func(j int) []float32 { return w[j*stride:] }, model)
			}
		}
	})
}

func TestRowAXPY(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(9, 10))
		for _, m := range lengths() {
			for _, k := range []int{0, 1, 3, 4, 5, 9, 33} {
				off := (m + k) % 4
				nrows := 50
				stride := m + k%2
				w := at(randVec(rng, nrows*stride, 1), off)
				idx := make([]int32, k)
				for j := range idx {
					idx[j] = int32(rng.IntN(nrows)) // repeats allowed
				}
				dv := at(randVec(rng, k, 1), 3-off)
				y, check := guarded(m, off)
				y0 := randVec(rng, m, 1)
				copy(y, y0)
				RowAXPY(y, w, stride, idx, dv)
				check(t, "RowAXPY")
				var model []float32
				if asm {
					model = append([]float32(nil), y0...)
					rowAXPYModel(model, w, stride, idx, dv)
				}
				checkAXPY(t, fmt.Sprintf("m=%d k=%d", m, k), y, y0, dv, func(j int) []float32 { return w[int(idx[j])*stride:] }, model)
			}
		}
	})
}

func TestRowAXPYBadIndexPanics(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		w := make([]float32, 10*32)
		for _, bad := range []int32{10, -1, math.MaxInt32} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("RowAXPY with row %d of 10 did not panic", bad)
					}
				}()
				RowAXPY(make([]float32, 32), w, 32, []int32{0, bad}, []float32{1, 1})
			}()
		}
		for _, c := range []struct{ rows, stride, n, l int }{{2, 32, 33, 64}, {3, 32, 32, 95}, {1, 0, 5, 4}} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("AXPYRows with %d rows of %d, stride %d, in %d did not panic", c.rows, c.n, c.stride, c.l)
					}
				}()
				AXPYRows(make([]float32, c.n), make([]float32, c.rows), make([]float32, c.l), c.stride)
			}()
		}
	})
}

func TestAdd(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, n := range lengths() {
			for off := range 4 {
				y, check := guarded(n, off)
				y0 := withSpecials(rng, randVec(rng, n, 1), 3)
				copy(y, y0)
				x := at(withSpecials(rng, randVec(rng, n, 1), 3), 3-off)
				Add(y, x)
				check(t, "Add")
				for i := range y {
					if want := y0[i] + x[i]; !same(y[i], want) {
						t.Fatalf("n=%d off=%d: element %d = %v, want %v", n, off, i, y[i], want)
					}
				}
			}
		}
	})
}

func TestSelectDelta(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(13, 14))
		thetas := []float32{0, 0.1, 0.5, 2, float32(math.Inf(1)), 1e-40, -0.5}
		for _, n := range lengths() {
			for off := range 4 {
				theta := thetas[(n+off)%len(thetas)]
				x := at(randVec(rng, n, 1), off)
				r0 := randVec(rng, n, 1)
				for i := range r0 {
					if rng.IntN(3) > 0 {
						r0[i] = x[i] + float32(rng.NormFloat64()*0.2) // mostly small changes
					}
				}
				if n%5 == 0 {
					withSpecials(rng, x, 4)
					withSpecials(rng, r0, 2)
				}
				ref, checkRef := guarded(n, off)
				copy(ref, r0)
				idx, checkIdx := guardedInts(n, 3-off)
				dv, checkDv := guarded(n, (off+1)%4)
				k := SelectDelta(x, ref, theta, idx, dv)
				checkRef(t, "ref")
				checkIdx(t, "idx")
				checkDv(t, "dv")

				wantRef := append([]float32(nil), r0...)
				wantIdx, wantDv := make([]int32, n), make([]float32, n)
				wk := selectDeltaGeneric(x, wantRef, theta, wantIdx, wantDv)
				if k != wk {
					t.Fatalf("n=%d off=%d theta=%v: kept %d, want %d", n, off, theta, k, wk)
				}
				for j := range k {
					if idx[j] != wantIdx[j] || !same(dv[j], wantDv[j]) {
						t.Fatalf("n=%d off=%d: kept #%d = (%d, %v), want (%d, %v)", n, off, j, idx[j], dv[j], wantIdx[j], wantDv[j])
					}
				}
				for i := range ref {
					if !same(ref[i], wantRef[i]) {
						t.Fatalf("n=%d off=%d: ref[%d] = %v, want %v", n, off, i, ref[i], wantRef[i])
					}
				}
				// The definition, once more, by hand.
				j := 0
				th := math.Float32bits(theta) &^ (1 << 31)
				for i := range x {
					d := x[i] - r0[i]
					if math.Float32bits(d)&^(1<<31) > th {
						if j >= k || idx[j] != int32(i) {
							t.Fatalf("n=%d: element %d (delta %v, theta %v) not kept", n, i, d, theta)
						}
						j++
					}
				}
			}
		}
	})
}

func TestGELU(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(15, 16))
		for _, n := range lengths() {
			for off := range 4 {
				x, check := guarded(n, off)
				x0 := randVec(rng, n, 3)
				if n%7 == 0 {
					withSpecials(rng, x0, 3)
				}
				copy(x, x0)
				GELU(x)
				check(t, "GELU")
				for i, v := range x0 {
					checkGELU(t, v, x[i])
				}
				if asm {
					m := append([]float32(nil), x0...)
					geluModel(m)
					for i := range m {
						if !same(x[i], m[i]) {
							t.Fatalf("n=%d off=%d: GELU(%v) = %v, the exact model %v", n, off, x0[i], x[i], m[i])
						}
					}
				}
			}
		}
		// A sweep of the whole range, the clamp points and the specials.
		var xs []float32
		for v := -12.0; v <= 12; v += 1.0 / 1024 {
			xs = append(xs, float32(v))
		}
		xs = append(xs, geluClamp, -geluClamp, math.Nextafter32(geluClamp, 0), 1e4, -1e4, 3e38, -3e38)
		xs = append(xs, specials...)
		y := append([]float32(nil), xs...)
		GELU(y)
		for i, v := range xs {
			checkGELU(t, v, y[i])
		}
		for _, v := range []float32{geluClamp, 6, 1e4, 3e38} {
			z := []float32{v, -v}
			GELU(z)
			if z[0] != v || z[1] != 0 {
				t.Errorf("GELU(±%v) = %v, want %v and 0", v, z, v)
			}
		}
	})
}

// checkGELU compares one GELU value with the exact one (float64 erf):
// within 3e-7·max(1, |x|) absolute, and 1e-6 relative for x >= -1.
func checkGELU(t *testing.T, x, got float32) {
	t.Helper()
	f := float64(x)
	want := 0.5 * f * (1 + math.Erf(f/math.Sqrt2))
	if math.IsNaN(want) || math.IsInf(want, 0) {
		if !same(got, float32(want)) {
			t.Fatalf("GELU(%v) = %v, want %v", x, got, want)
		}
		return
	}
	d := math.Abs(float64(got) - want)
	if d > 3e-7*max(1, math.Abs(f)) || (x >= -1 && d > 1e-6*math.Abs(want)+1e-37) {
		t.Fatalf("GELU(%v) = %v, want %v (error %.3g)", x, got, want, d)
	}
}

func TestSoftmax(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(17, 18))
		for _, n := range lengths() {
			for off := range 4 {
				x, check := guarded(n, off)
				x0 := randVec(rng, n, 4)
				scale := float32(0.125)
				if off == 1 {
					scale = 1
				}
				if n%11 == 0 && n > 0 {
					x0[rng.IntN(n)] = float32(math.Inf(-1))
					x0[rng.IntN(n)] = -1e30
				}
				copy(x, x0)
				Softmax(x, scale)
				check(t, "Softmax")
				mx := math.Inf(-1)
				for _, v := range x0 {
					mx = max(mx, float64(v*scale))
				}
				var sum float64
				for _, v := range x0 {
					sum += math.Exp(float64(v*scale) - mx)
				}
				for i, v := range x0 {
					// v·scale - max is rounded to float32 (as in PyTorch):
					// that costs up to |v·scale - max|·2^-24 relative.
					tv := float64(v*scale) - mx
					want := math.Exp(tv) / sum
					tol := (4e-7+math.Abs(tv)*eps32)*want + 1e-37
					if math.IsInf(tv, -1) {
						tol = 0
					}
					if !within(x[i], want, tol) {
						t.Fatalf("n=%d off=%d: p[%d] = %v, want %v", n, off, i, x[i], want)
					}
				}
				if asm {
					m := append([]float32(nil), x0...)
					softmaxModel(m, scale)
					for i := range m {
						if !same(x[i], m[i]) {
							t.Fatalf("n=%d off=%d: p[%d] = %v, the exact model %v", n, off, i, x[i], m[i])
						}
					}
				}
			}
		}
		// Rows with a NaN or +Inf become NaN; -Inf and huge negatives give 0.
		for _, n := range []int{1, 5, 16, 17, 40} {
			for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
				for _, pos := range []int{0, n / 2, n - 1} {
					x := randVec(rng, n, 1)
					x[pos] = bad
					Softmax(x, 1)
					for i, v := range x {
						if v == v {
							t.Fatalf("n=%d, %v at %d: p[%d] = %v, want NaN", n, bad, pos, i, v)
						}
					}
				}
			}
			if n == 1 {
				continue // a row of one -Inf is NaN, as exp(-Inf - -Inf)
			}
			x := make([]float32, n)
			x[0] = float32(math.Inf(-1))
			x[n-1] = -1e30
			Softmax(x, 1)
			if x[0] != 0 || x[n-1] != 0 {
				t.Fatalf("n=%d: softmax of -Inf and -1e30 = %v and %v, want 0", n, x[0], x[n-1])
			}
		}
	})
}

func TestLayerNorm(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(19, 20))
		for _, n := range lengths()[1:] {
			for off := range 4 {
				x, check := guarded(n, off)
				x0 := randVec(rng, n, 2)
				shift := float32(rng.NormFloat64() * 10)
				for i := range x0 {
					x0[i] += shift
				}
				copy(x, x0)
				g := at(randVec(rng, n, 1), 3-off)
				b := at(randVec(rng, n, 1), off)
				LayerNorm(x, g, b, 1e-6)
				check(t, "LayerNorm")
				var mean, vr float64
				for _, v := range x0 {
					mean += float64(v)
				}
				mean /= float64(n)
				for _, v := range x0 {
					vr += (float64(v) - mean) * (float64(v) - mean)
				}
				inv := 1 / math.Sqrt(vr/float64(n)+1e-6)
				for i, v := range x0 {
					norm := (float64(v) - mean) * inv
					want := norm*float64(g[i]) + float64(b[i])
					tol := 2e-6*(math.Abs(float64(shift))+2)*inv*math.Abs(float64(g[i])) + 4*eps32*(math.Abs(norm*float64(g[i]))+math.Abs(float64(b[i])))
					if !within(x[i], want, tol) {
						t.Fatalf("n=%d off=%d: y[%d] = %v, want %v", n, off, i, x[i], want)
					}
				}
				if asm {
					m := append([]float32(nil), x0...)
					layerNormModel(m, g, b, 1e-6)
					for i := range m {
						if !same(x[i], m[i]) {
							t.Fatalf("n=%d off=%d: y[%d] = %v, the exact model %v", n, off, i, x[i], m[i])
						}
					}
				}
			}
		}
		// A constant row becomes the bias (epsilon avoids 0/0).
		x := []float32{3, 3, 3}
		LayerNorm(x, []float32{1, 1, 1}, []float32{0.5, 0, -1}, 1e-6)
		if x[0] != 0.5 || x[1] != 0 || x[2] != -1 {
			t.Errorf("constant row: %v", x)
		}
	})
}

func TestFMA32(t *testing.T) {
	// fma32 against math.FMA where float64 cannot double-round: products
	// and sums of small integers are exact.
	if got := fma32(3, 5, 7); got != 22 {
		t.Fatalf("fma32(3, 5, 7) = %v", got)
	}
	// (1 + 2^-12)² + 2^-70 = 1 + 2^-11 + 2^-24 + 2^-70 is just above the
	// midpoint of two float32: rounded once it goes up, rounded through
	// float64 (which drops 2^-70) it is a tie and goes down to even.
	a := float32(1 + 1.0/(1<<12))
	if got, want := fma32(a, a, 0x1p-70), float32(1+0x1p-11+0x1p-23); got != want {
		t.Fatalf("fma32 rounds twice: %v, want %v", got, want)
	}
	rng := rand.New(rand.NewPCG(21, 22))
	for range 100000 {
		x, y, z := float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.NormFloat64())
		exact := bigFMA(x, y, z)
		if got := fma32(x, y, z); got != exact {
			t.Fatalf("fma32(%v, %v, %v) = %v, want %v", x, y, z, got, exact)
		}
	}
}

// bigFMA is a·b + c rounded once, in big.Float arithmetic.
func bigFMA(a, b, c float32) float32 {
	x := new(big.Float).SetPrec(256).SetFloat64(float64(a))
	x.Mul(x, new(big.Float).SetFloat64(float64(b)))
	x.Add(x, new(big.Float).SetFloat64(float64(c)))
	f, _ := x.Float32()
	return f
}
