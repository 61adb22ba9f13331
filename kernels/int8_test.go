package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The int8 kernels must equal their exact models bit for bit in every
// implementation (the sums are exact integers and the float steps the same
// IEEE operations), and the quantized product must stay within the
// quantization error of the float product.

// quantizeModel is QuantizeInt8 written out: the maximum in float64, then
// one float32 product, clamp and round per element.
func quantizeModel(x []float32) ([]int8, float32) {
	q := make([]int8, len(x))
	var amax float64
	for _, v := range x {
		if a := math.Abs(float64(v)); a > amax {
			amax = a
		}
	}
	if amax == 0 {
		return q, 0
	}
	inv := float32(127) / float32(amax)
	for i, v := range x {
		p := v * inv
		switch {
		case !(p >= -127):
			p = -127
		case p > 127:
			p = 127
		}
		q[i] = int8(math.RoundToEven(float64(p)))
	}
	return q, float32(amax) / 127
}

// int8At reads element (o, c) of m from its packed layout.
func int8At(m *Int8Matrix, o, c int) int8 { return m.data[((c/4)*m.np+o)*4+c%4] }

// mulVecModel is Int8Matrix.MulVec from the matrix's int8 values, with the
// sums in int64.
func mulVecModel(m *Int8Matrix, x, b []float32) []float32 {
	q, sx := quantizeModel(x)
	y := make([]float32, m.N)
	for o := range y {
		var acc int64
		for c := range m.K {
			acc += int64(int8At(m, o, c)) * int64(q[c])
		}
		if acc != int64(int32(acc)) {
			panic("int32 overflow")
		}
		c := sx * m.Scale[o]
		p := float32(float32(acc) * c)
		y[o] = p + b[o]
	}
	return y
}

func guardedInt8(n, off int) ([]int8, func(t *testing.T, what string)) {
	return guardedOf(n, off, int8(-0x5b))
}

func TestQuantizeInt8(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, n := range lengths() {
			for off := range 4 {
				x := at(randVec(rng, n, 3), off)
				if n%5 == 4 {
					x = withSpecials(rng, x, 2)
				}
				if n%7 == 3 {
					clear(x) // all zeros: scale 0
				}
				q, check := guardedInt8(n, 3-off)
				s := QuantizeInt8(q, x)
				check(t, "QuantizeInt8")
				wantQ, wantS := quantizeModel(x)
				if !same(s, wantS) {
					t.Fatalf("n=%d off=%d: scale %v, the model %v", n, off, s, wantS)
				}
				for i := range q {
					if q[i] != wantQ[i] {
						t.Fatalf("n=%d off=%d: q[%d] = %d for %v, the model %d", n, off, i, q[i], x[i], wantQ[i])
					}
					if moderate(x) && math.Abs(float64(x[i])-float64(s)*float64(q[i])) > 0.5001*float64(s) {
						t.Fatalf("n=%d: q[%d]·scale = %v is more than half a step from %v", n, i, float64(s)*float64(q[i]), x[i])
					}
				}
			}
		}
	})
}

func TestDequantize(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(13, 14))
		for _, n := range lengths() {
			for off := range 4 {
				acc := make([]int32, n+off)[off:]
				for i := range acc {
					acc[i] = int32(rng.IntN(1<<23)) - 1<<22
				}
				ws, b := at(randVec(rng, n, 0.01), 3-off), at(randVec(rng, n, 1), off)
				sx := float32(rng.Float64())
				y, check := guarded(n, off)
				Dequantize(y, acc, sx, ws, b)
				check(t, "Dequantize")
				for o := range y {
					c := sx * ws[o]
					p := float32(float32(acc[o]) * c)
					if want := p + b[o]; !same(y[o], want) {
						t.Fatalf("n=%d: y[%d] = %v, the model %v", n, o, y[o], want)
					}
				}
			}
		}
	})
}

// int8Shapes are the matrix sizes the product tests sweep: the model's
// (64×256, 256×64) and sizes on both sides of the 16-wide padding.
var int8Shapes = []int{0, 1, 3, 4, 5, 15, 16, 17, 31, 33, 64, 100, 256, 300}

func TestInt8MulVec(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(15, 16))
		for _, n := range int8Shapes {
			for _, k := range int8Shapes {
				w := randVec(rng, n*k, 0.2)
				m := QuantizeMatrix(w, n, k)
				x, b := randVec(rng, k, 2), randVec(rng, n, 1)
				s := NewInt8Scratch(n, k)
				y, check := guarded(n, (n+k)%4)
				m.MulVec(y, x, b, s)
				check(t, "MulVec")
				want := mulVecModel(m, x, b)
				_, sx := quantizeModel(x)
				for o := range y {
					if !same(y[o], want[o]) {
						t.Fatalf("%d×%d: y[%d] = %v, the model %v", n, k, o, y[o], want[o])
					}
					// Within the quantization error of W x + b: each weight is
					// off by at most half a row step, each input by half of sx.
					exact, bound := float64(b[o]), 1e-5*math.Abs(float64(b[o]))
					for c := range k {
						wv, xv := float64(w[o*k+c]), float64(x[c])
						exact += wv * xv
						bound += math.Abs(wv)*float64(sx)/2 + math.Abs(xv)*float64(m.Scale[o])/2 + float64(sx)*float64(m.Scale[o])/4
					}
					if !within(y[o], exact, 1.01*bound+1e-6) {
						t.Fatalf("%d×%d: y[%d] = %v, W x + b = %v, beyond the quantization bound %v", n, k, o, y[o], exact, bound)
					}
				}
			}
		}
	})
}

func TestQuantizeMatrixRows(t *testing.T) {
	w := []float32{
		1, -2, 0.5, // scale 2/127: -2 → -127, 1 → 63.5 → 64 (ties to even)
		0, 0, 0, // an all-zero row has scale 0
		-3e-3, 3e-3, 1e-3,
	}
	m := QuantizeMatrix(w, 3, 3)
	want := [][]int8{{64, -127, 32}, {0, 0, 0}, {-127, 127, 42}}
	for o := range 3 {
		for c := range 3 {
			if got := int8At(m, o, c); got != want[o][c] {
				t.Errorf("At(%d, %d) = %d, want %d", o, c, got, want[o][c])
			}
		}
	}
	if m.Scale[1] != 0 || m.Scale[0] != float32(2)/127 {
		t.Errorf("scales %v", m.Scale)
	}
}

func TestInt8MulVecPanics(t *testing.T) {
	m := QuantizeMatrix(make([]float32, 6), 2, 3)
	for name, f := range map[string]func(){
		"short x":       func() { m.MulVec(make([]float32, 2), make([]float32, 2), make([]float32, 2), NewInt8Scratch(2, 3)) },
		"short b":       func() { m.MulVec(make([]float32, 2), make([]float32, 3), make([]float32, 1), NewInt8Scratch(2, 3)) },
		"small scratch": func() { m.MulVec(make([]float32, 2), make([]float32, 3), make([]float32, 2), NewInt8Scratch(2, 0)) },
		"not n×k":       func() { QuantizeMatrix(make([]float32, 5), 2, 3) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func FuzzInt8MulVec(f *testing.F) {
	seedFloats(f, uint8(16))
	f.Fuzz(func(t *testing.T, data []byte, kb uint8) {
		v := floats(data)
		k := min(int(kb), len(v))
		x, w := v[:k], v[k:]
		n := 0
		if k > 0 {
			n = min(len(w)/k, 40)
		}
		for i, c := range w[:n*k] { // weights are finite: model files are checked
			if !moderate([]float32{c}) {
				w[i] = 0
			}
		}
		m := QuantizeMatrix(w[:n*k], n, k)
		b := make([]float32, n)
		want := mulVecModel(m, x, b)
		wantQ, wantS := quantizeModel(x)
		for _, asm := range []bool{false, true} {
			if asm && !haveAsm {
				continue
			}
			withImpl(asm, func() {
				q, check := guardedInt8(k, 1)
				if s := QuantizeInt8(q, x); !same(s, wantS) {
					t.Fatalf("scale %v, the model %v", s, wantS)
				}
				check(t, "QuantizeInt8")
				for i := range q {
					if q[i] != wantQ[i] {
						t.Fatalf("q[%d] = %d for %v, the model %d", i, q[i], x[i], wantQ[i])
					}
				}
				y, check := guarded(n, 2)
				m.MulVec(y, x, b, NewInt8Scratch(n, k))
				check(t, "MulVec")
				for o := range y {
					if !same(y[o], want[o]) {
						t.Fatalf("y[%d] = %v, the model %v", o, y[o], want[o])
					}
				}
			})
		}
	})
}
