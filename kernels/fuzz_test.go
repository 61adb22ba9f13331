package kernels

import (
	"encoding/binary"
	"math"
	"testing"
)

// One fuzz test per kernel. The fuzzer's bytes are raw float32 bit
// patterns, so NaNs, infinities, denormals and extreme magnitudes all
// occur. The assembly must equal the exact model bit for bit (NaNs as
// NaNs); the plain-Go kernel must not panic and, on moderate finite
// inputs, must be within rounding bounds of the model.

func floats(data []byte) []float32 {
	v := make([]float32, len(data)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return v
}

func seedFloats(f *testing.F, extra ...any) {
	for _, n := range []int{0, 1, 5, 16, 17, 33, 64, 100} {
		b := make([]byte, 4*n)
		for i := range n {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(i%7)-2.5+float32(i)/16))
		}
		f.Add(append([]any{b}, extra...)...)
	}
	b := make([]byte, 0, 4*len(specials)*3)
	for range 3 {
		for _, v := range specials {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	f.Add(append([]any{b}, extra...)...)
}

// moderate reports whether every value is finite and below 1e15 in
// magnitude, where rounding bounds are meaningful.
func moderate(vs ...[]float32) bool {
	for _, v := range vs {
		for _, x := range v {
			if !(math.Abs(float64(x)) < 1e15) {
				return false
			}
		}
	}
	return true
}

// withImpl runs f with the assembly off (generic) and, where it exists, on.
func withImpl(asm bool, f func()) {
	was := useGeneric(!asm)
	defer useGeneric(was)
	f()
}

func FuzzDot(f *testing.F) {
	seedFloats(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v := floats(data)
		a, b := v[:len(v)/2], v[len(v)/2:]
		want := dotModel(a, b[:len(a)])
		if haveAsm {
			withImpl(true, func() {
				if got := Dot(a, b); !same(got, want) {
					t.Fatalf("Dot = %v, the exact model %v", got, want)
				}
			})
		}
		withImpl(false, func() {
			got := Dot(a, b)
			if moderate(a, b) {
				var mag float64
				for i := range a {
					mag += math.Abs(float64(a[i]) * float64(b[i]))
				}
				if !within(got, float64(want), 2*float64(len(a)+4)*eps32*mag+1e-30) {
					t.Fatalf("generic Dot = %v, the exact model %v", got, want)
				}
			}
		})
	})
}

func FuzzDotRows(f *testing.F) {
	seedFloats(f, uint8(16), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, n, pad uint8) {
		v := floats(data)
		k := min(int(n), len(v))
		x, w := v[:k], v[k:]
		stride := k + int(pad%4)
		rows := 0
		if stride > 0 {
			rows = min((len(w)-k)/stride+1, 12)
		}
		if len(w) < k {
			rows = 0
		}
		want := make([]float32, rows)
		dotRowsModel(want, x, w, stride)
		for _, asm := range []bool{false, true} {
			if asm && !haveAsm {
				continue
			}
			withImpl(asm, func() {
				dst, check := guarded(rows, int(pad%4))
				DotRows(dst, x, w, stride)
				check(t, "DotRows")
				for r := range dst {
					if asm && !same(dst[r], want[r]) {
						t.Fatalf("row %d = %v, the exact model %v", r, dst[r], want[r])
					}
				}
			})
		}
	})
}

func FuzzAXPY(f *testing.F) {
	seedFloats(f, float32(0.5))
	f.Fuzz(func(t *testing.T, data []byte, a float32) {
		v := floats(data)
		y0, x := v[:len(v)/2], v[len(v)/2:]
		want := append([]float32(nil), y0...)
		axpyRowsModel(want, []float32{a}, x, 0)
		for _, asm := range []bool{false, true} {
			if asm && !haveAsm {
				continue
			}
			withImpl(asm, func() {
				y, check := guarded(len(y0), 1)
				copy(y, y0)
				AXPY(y, a, x)
				check(t, "AXPY")
				for i := range y {
					if asm && !same(y[i], want[i]) {
						t.Fatalf("y[%d] = %v, the exact model %v", i, y[i], want[i])
					}
					if !asm && moderate(y0, x, []float32{a}) {
						mag := math.Abs(float64(y0[i])) + math.Abs(float64(a)*float64(x[i]))
						if !within(y[i], float64(want[i]), 2*eps32*mag+1e-37) {
							t.Fatalf("generic y[%d] = %v, the exact model %v", i, y[i], want[i])
						}
					}
				}
			})
		}
	})
}

func FuzzAXPYRows(f *testing.F) {
	seedFloats(f, uint8(16), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, m, rows uint8) {
		v := floats(data)
		ym := min(int(m), len(v))
		y0, rest := v[:ym], v[ym:]
		nr := min(int(rows)%9, len(rest))
		a, w := rest[:nr], rest[nr:]
		stride := ym
		if nr > 0 && (nr-1)*stride+ym > len(w) {
			nr = 0
			a = a[:0]
		}
		want := append([]float32(nil), y0...)
		axpyRowsModel(want, a, w, stride)
		for _, asm := range []bool{false, true} {
			if asm && !haveAsm {
				continue
			}
			withImpl(asm, func() {
				y, check := guarded(ym, 2)
				copy(y, y0)
				AXPYRows(y, a, w, stride)
				check(t, "AXPYRows")
				for i := range y {
					if asm && !same(y[i], want[i]) {
						t.Fatalf("y[%d] = %v, the exact model %v", i, y[i], want[i])
					}
				}
			})
		}
	})
}

func FuzzRowAXPY(f *testing.F) {
	seedFloats(f, []byte{0, 3, 1, 3}, uint8(16))
	f.Fuzz(func(t *testing.T, data []byte, rowsel []byte, m uint8) {
		v := floats(data)
		ym := min(int(m), len(v))
		y0, w := v[:ym], v[ym:]
		nrows := 0
		if ym > 0 {
			nrows = len(w) / ym
		}
		var idx []int32
		var dv []float32
		for j, b := range rowsel {
			if nrows == 0 || j >= len(w) {
				break
			}
			idx = append(idx, int32(int(b)%nrows))
			dv = append(dv, w[j])
		}
		want := append([]float32(nil), y0...)
		rowAXPYModel(want, w, ym, idx, dv)
		for _, asm := range []bool{false, true} {
			if asm && !haveAsm {
				continue
			}
			withImpl(asm, func() {
				y, check := guarded(ym, 3)
				copy(y, y0)
				RowAXPY(y, w, ym, idx, dv)
				check(t, "RowAXPY")
				for i := range y {
					if asm && !same(y[i], want[i]) {
						t.Fatalf("y[%d] = %v, the exact model %v", i, y[i], want[i])
					}
				}
			})
		}
	})
}

func FuzzAdd(f *testing.F) {
	seedFloats(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v := floats(data)
		y0, x := v[:len(v)/2], v[len(v)/2:]
		for _, asm := range []bool{false, true} {
			if asm && !haveAsm {
				continue
			}
			withImpl(asm, func() {
				y, check := guarded(len(y0), 0)
				copy(y, y0)
				Add(y, x)
				check(t, "Add")
				for i := range y {
					if want := y0[i] + x[i]; !same(y[i], want) {
						t.Fatalf("y[%d] = %v, want %v", i, y[i], want)
					}
				}
			})
		}
	})
}

func FuzzSelectDelta(f *testing.F) {
	seedFloats(f, float32(0.5))
	f.Fuzz(func(t *testing.T, data []byte, theta float32) {
		v := floats(data)
		x, r0 := v[:len(v)/2], v[len(v)/2:len(v)/2*2]
		wantRef := append([]float32(nil), r0...)
		wantIdx, wantDv := make([]int32, len(x)), make([]float32, len(x))
		wk := selectDeltaGeneric(x, wantRef, theta, wantIdx, wantDv)
		for _, asm := range []bool{false, true} {
			if asm && !haveAsm {
				continue
			}
			withImpl(asm, func() {
				ref, checkRef := guarded(len(x), 1)
				copy(ref, r0)
				idx, checkIdx := guardedInts(len(x), 2)
				dv, checkDv := guarded(len(x), 3)
				k := SelectDelta(x, ref, theta, idx, dv)
				checkRef(t, "ref")
				checkIdx(t, "idx")
				checkDv(t, "dv")
				if k != wk {
					t.Fatalf("kept %d, want %d", k, wk)
				}
				for j := range k {
					if idx[j] != wantIdx[j] || !same(dv[j], wantDv[j]) {
						t.Fatalf("kept #%d = (%d, %v), want (%d, %v)", j, idx[j], dv[j], wantIdx[j], wantDv[j])
					}
				}
				for i := range ref {
					if !same(ref[i], wantRef[i]) {
						t.Fatalf("ref[%d] = %v, want %v", i, ref[i], wantRef[i])
					}
				}
			})
		}
	})
}

func FuzzGELU(f *testing.F) {
	seedFloats(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		x0 := floats(data)
		want := append([]float32(nil), x0...)
		geluModel(want)
		for _, asm := range []bool{false, true} {
			if asm && !haveAsm {
				continue
			}
			withImpl(asm, func() {
				x, check := guarded(len(x0), 1)
				copy(x, x0)
				GELU(x)
				check(t, "GELU")
				for i := range x {
					if asm && !same(x[i], want[i]) {
						t.Fatalf("GELU(%v) = %v, the exact model %v", x0[i], x[i], want[i])
					}
					checkGELU(t, x0[i], x[i])
				}
			})
		}
	})
}

func FuzzSoftmax(f *testing.F) {
	seedFloats(f, float32(0.125))
	f.Fuzz(func(t *testing.T, data []byte, scale float32) {
		if !(scale > 0) || math.IsInf(float64(scale), 1) {
			scale = 1
		}
		x0 := floats(data)
		want := append([]float32(nil), x0...)
		softmaxModel(want, scale)
		for _, asm := range []bool{false, true} {
			if asm && !haveAsm {
				continue
			}
			withImpl(asm, func() {
				x, check := guarded(len(x0), 2)
				copy(x, x0)
				Softmax(x, scale)
				check(t, "Softmax")
				for i := range x {
					if asm && !same(x[i], want[i]) {
						t.Fatalf("p[%d] = %v, the exact model %v", i, x[i], want[i])
					}
					// Both implementations: a probability or NaN, NaN
					// exactly when the model's is.
					if (x[i] != x[i]) != (want[i] != want[i]) || x[i] < 0 || x[i] > 1.0000002 {
						t.Fatalf("p[%d] = %v, the exact model %v", i, x[i], want[i])
					}
				}
			})
		}
	})
}

func FuzzLayerNorm(f *testing.F) {
	seedFloats(f, float32(1e-6))
	f.Fuzz(func(t *testing.T, data []byte, eps float32) {
		if !(eps > 0) {
			eps = 1e-6
		}
		v := floats(data)
		n := len(v) / 3
		x0, g, b := v[:n], v[n:2*n], v[2*n:3*n]
		want := append([]float32(nil), x0...)
		layerNormModel(want, g, b, eps)
		for _, asm := range []bool{false, true} {
			if asm && !haveAsm {
				continue
			}
			withImpl(asm, func() {
				x, check := guarded(n, 3)
				copy(x, x0)
				LayerNorm(x, g, b, eps)
				check(t, "LayerNorm")
				for i := range x {
					if asm && !same(x[i], want[i]) {
						t.Fatalf("y[%d] = %v, the exact model %v", i, x[i], want[i])
					}
				}
			})
		}
	})
}
