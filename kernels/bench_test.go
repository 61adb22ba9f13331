package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// BenchmarkKernels times every kernel at the shapes of KWT-1 as the
// project runs it (d=64, 149 tokens, MLP 256), once with the plain-Go
// kernels and once with the assembly: Kernels/<kernel>/<shape>/<impl>.
// The ratio of the two is the speedup; under qemu-aarch64 with the icount
// plugin, the difference between two run lengths gives the instructions per
// call (bench/README.md).
func BenchmarkKernels(b *testing.B) {
	const d, n, M = 64, 149, 256
	rng := rand.New(rand.NewPCG(1, 1))
	vec := func(k int) []float32 { return randVec(rng, k, 1) }
	// Sparse row sets as the delta passes keep them (about 15 %).
	pick := func(k, of int) []int32 {
		idx := make([]int32, k)
		for j := range idx {
			idx[j] = int32(j * of / k)
		}
		return idx
	}
	x64, x256, p149 := vec(d), vec(M), vec(n)
	kRows := vec(n * d) // K or V: one row per token
	qkvT, fc1T, fc2T := vec(d*3*d), vec(d*M), vec(M*d)
	kT := vec(d * n)
	g, bias := vec(d), vec(d)
	idx, dv := make([]int32, M), vec(M)
	i10, i38 := pick(10, d), pick(38, M)
	near := func(x []float32) []float32 { // 6 in 7 references within theta
		r := append([]float32(nil), x...)
		for i := range r {
			if i%7 == 0 {
				r[i] += 1
			}
		}
		return r
	}
	r64, r149, r256 := near(x64), near(p149), near(x256)
	// Each case has its own output; the in-place kernels whose repeated
	// application would drift into denormals or infinities (GELU, Softmax,
	// LayerNorm, SelectDelta's references) start each call from a copy of
	// their input, in both implementations alike.
	out := func(k int) []float32 { return make([]float32, k) }
	cases := []struct {
		name string
		f    func() func()
	}{
		{"Dot/64", func() func() { return func() { _ = Dot(x64, kRows) } }},
		{"DotRows/scores-149x64", func() func() { y := out(n); return func() { DotRows(y, x64, kRows, d) } }},
		{"AXPY/64", func() func() { y := out(d); return func() { AXPY(y, 0.5, x64) } }},
		{"Add/64", func() func() { y := out(d); return func() { Add(y, x64) } }},
		{"AXPYRows/embed-40x64", func() func() { y := out(d); return func() { AXPYRows(y, x64[:40], fc2T, d) } }},
		{"AXPYRows/qkv-64x192", func() func() { y := out(3 * d); return func() { AXPYRows(y, x64, qkvT, 3*d) } }},
		{"AXPYRows/fc1-64x256", func() func() { y := out(M); return func() { AXPYRows(y, x64, fc1T, M) } }},
		{"AXPYRows/fc2-256x64", func() func() { y := out(d); return func() { AXPYRows(y, x256, fc2T, d) } }},
		{"AXPYRows/values-149x64", func() func() { y := out(d); return func() { AXPYRows(y, p149, kRows, d) } }},
		{"RowAXPY/qkv-10of64", func() func() { y := out(3 * d); return func() { RowAXPY(y, qkvT, 3*d, i10, dv[:10]) } }},
		{"RowAXPY/scores-10of64", func() func() { y := out(n); return func() { RowAXPY(y, kT, n, i10, dv[:10]) } }},
		{"RowAXPY/fc2-38of256", func() func() { y := out(d); return func() { RowAXPY(y, fc2T, d, i38, dv[:38]) } }},
		{"SelectDelta/64", func() func() {
			ref := out(d)
			return func() { copy(ref, r64); SelectDelta(x64, ref, 0.5, idx, dv) }
		}},
		{"SelectDelta/149", func() func() {
			ref := out(n)
			return func() { copy(ref, r149); SelectDelta(p149, ref, 0.5, idx, dv) }
		}},
		{"SelectDelta/256", func() func() {
			ref := out(M)
			return func() { copy(ref, r256); SelectDelta(x256, ref, 0.5, idx, dv) }
		}},
		// The int8 MLP: quantize the input, the int8 product, dequantize
		// (SDOT on arm64 cores that have it, else SMULL/SADALP).
		{"Int8MulVec/fc1-64x256", func() func() {
			y, m, s := out(M), QuantizeMatrix(fc1T, M, d), NewInt8Scratch(M, M)
			return func() { m.MulVec(y, x64, x256, s) }
		}},
		{"Int8MulVec/fc2-256x64", func() func() {
			y, m, s := out(d), QuantizeMatrix(fc2T, d, M), NewInt8Scratch(M, M)
			return func() { m.MulVec(y, x256, x64, s) }
		}},
		{"QuantizeInt8/256", func() func() { q := make([]int8, M); return func() { QuantizeInt8(q, x256) } }},
		{"GELU/256", func() func() { y := out(M); return func() { copy(y, x256); GELU(y) } }},
		{"Softmax/149", func() func() { y := out(n); return func() { copy(y, p149); Softmax(y, 0.125) } }},
		{"LayerNorm/64", func() func() { y := out(d); return func() { copy(y, x64); LayerNorm(y, g, bias, 1e-6) } }},
		// The frontend's kernels at its shapes (16 kHz, 30 ms window, 512-point FFT, 80 mel
		// bands, 40 coefficients), one frame each, and the resampler's: 16 outputs (1 ms)
		// of 48 kHz (325 taps, windows 3 apart) and of 44.1 kHz (298 taps, a phase each).
		{"Mul/window-480", func() func() { y, w := out(480), vec(480); return func() { Mul(y, w, w) } }},
		{"Magnitude/fft-512", func() func() {
			f, x, mag := NewRealFFT(512), vec(512), out(257)
			return func() { f.Magnitude(mag, x) }
		}},
		{"BandMatrix/mel-80x257", func() func() {
			b, x, y := melLike(80, 257), vec(257), out(80)
			return func() { b.MulVec(y, x) }
		}},
		{"LogFloor/80", func() func() {
			e, y := vec(80), out(80)
			for i := range e {
				e[i] = e[i] * e[i]
			}
			return func() { copy(y, e); LogFloor(y, 1e-12) }
		}},
		{"AXPYRowsRounded/dct-80x40", func() func() {
			y, a, w := out(40), vec(80), vec(80*40)
			return func() { clear(y); AXPYRowsRounded(y, a, w, 40) }
		}},
		{"DotStrided/48k-16x325", func() func() {
			y, c, x := out(16), vec(325), vec(15*3+325)
			return func() { DotStrided(y, c, x, 3) }
		}},
		{"DotPairs/44k-16x298", func() func() {
			y, c, x := out(16), vec(160*298), vec(16*3+298)
			ci, xi := make([]int32, 16), make([]int32, 16)
			for k := range ci {
				ci[k], xi[k] = int32((k*441)%160*298), int32(k*441/160)
			}
			return func() { DotPairs(y, c, ci, x, xi, 298) }
		}},
	}
	for _, c := range cases {
		for _, asm := range []bool{false, true} {
			if asm && !haveAsm {
				continue
			}
			name := "generic"
			if asm {
				name = asmName
			}
			b.Run(c.name+"/"+name, func(b *testing.B) {
				was := useGeneric(!asm)
				defer useGeneric(was)
				f := c.f()
				for b.Loop() {
					f()
				}
			})
		}
	}
}

// melLike returns rows triangles over cols columns shaped like a mel
// filterbank: runs that widen from a few columns to a dozen, each
// overlapping the next by half.
func melLike(rows, cols int) *BandMatrix {
	edge := func(i int) int { // grows about exponentially, as mel edges in Hz
		return int(float64(cols-2) * (math.Pow(2, 3*float64(i)/float64(rows+1)) - 1) / 7)
	}
	start, weights := make([]int, rows), make([][]float32, rows)
	for r := range rows {
		lo, hi := edge(r)+1, max(edge(r+2), edge(r)+2)
		start[r] = lo
		for c := lo; c < hi; c++ {
			weights[r] = append(weights[r], 1-float32(math.Abs(float64(2*c-lo-hi)))/float32(hi-lo))
		}
	}
	return NewBandMatrix(cols, start, weights)
}
