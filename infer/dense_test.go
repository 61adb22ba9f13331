package infer

import (
	"math"
	"math/rand/v2"
	"testing"
)

// referenceForward is an independent float64 implementation of the
// forward pass in models/FORMAT.md, written as plain loops over the
// formula, for the window KWT and the streaming KWT (Arch.Context > 0: no
// class token or positions, attention to the Context latest tokens with a
// bias per distance, the head on the last token). It is the oracle for
// Dense.Forward.
func referenceForward(m *Model, features []float32) []float64 {
	a, w := m.Arch, &m.Weights
	d, K, T, N := a.Dim, a.Coeffs, a.Frames, a.Tokens()
	hd := d / a.Heads
	// linear returns W v + b for a row-major [out, in] W.
	linear := func(W, b []float32, v []float64, out int) []float64 {
		in := len(v)
		y := make([]float64, out)
		for j := range out {
			s := 0.0
			if b != nil {
				s = float64(b[j])
			}
			for i := range in {
				s += float64(W[j*in+i]) * v[i]
			}
			y[j] = s
		}
		return y
	}
	norm := func(v []float64, g, b []float32) []float64 {
		mean, vr := 0.0, 0.0
		for _, x := range v {
			mean += x
		}
		mean /= float64(len(v))
		for _, x := range v {
			vr += (x - mean) * (x - mean)
		}
		vr /= float64(len(v))
		y := make([]float64, len(v))
		for i, x := range v {
			y[i] = (x-mean)/math.Sqrt(vr+a.NormEps)*float64(g[i]) + float64(b[i])
		}
		return y
	}

	x := make([][]float64, N)
	first := N - T // token of the first frame: 1 after the class token, or 0
	if first == 1 {
		x[0] = make([]float64, d)
		for i := range d {
			x[0][i] = float64(w.Cls[i]) + float64(w.Pos[i])
		}
	}
	for t := range T {
		f := make([]float64, K)
		for k := range K {
			f[k] = float64(features[t*K+k])
		}
		x[first+t] = linear(w.EmbedW, w.EmbedB, f, d)
		if first == 1 {
			for i := range d {
				x[1+t][i] += float64(w.Pos[(1+t)*d+i])
			}
		}
	}
	// sees reports whether token t attends to token u, and the bias it adds.
	sees := func(l *Layer, h, t, u int) (bool, float64) {
		if a.Context == 0 {
			return true, 0
		}
		if u > t || t-u >= a.Context {
			return false, 0
		}
		return true, float64(l.Rel[h*a.Context+t-u])
	}
	for li := range w.Layers {
		l := &w.Layers[li]
		q, k, v := make([][]float64, N), make([][]float64, N), make([][]float64, N)
		for t := range N {
			q[t], k[t], v[t] = linear(l.Q, nil, x[t], d), linear(l.K, nil, x[t], d), linear(l.V, nil, x[t], d)
		}
		for t := range N {
			o := make([]float64, d)
			for h := range a.Heads {
				p := make([]float64, N)
				mx := math.Inf(-1)
				for u := range N {
					ok, bias := sees(l, h, t, u)
					if !ok {
						p[u] = math.Inf(-1)
						continue
					}
					for i := h * hd; i < (h+1)*hd; i++ {
						p[u] += q[t][i] * k[u][i]
					}
					p[u] = p[u]/math.Sqrt(float64(hd)) + bias
					mx = max(mx, p[u])
				}
				sum := 0.0
				for u := range N {
					p[u] = math.Exp(p[u] - mx)
					sum += p[u]
				}
				for u := range N {
					for i := h * hd; i < (h+1)*hd; i++ {
						o[i] += p[u] / sum * v[u][i]
					}
				}
			}
			att := linear(l.Out, l.OutB, o, d)
			for i := range d {
				att[i] += x[t][i]
			}
			// x[t] is not needed by other tokens any more: q, k, v hold
			// everything attention reads.
			x[t] = norm(att, l.Norm1, l.Norm1B)
		}
		for t := range N {
			h := linear(l.FC1, l.FC1B, x[t], a.MLPDim)
			for i, z := range h {
				h[i] = 0.5 * z * (1 + math.Erf(z/math.Sqrt2))
			}
			y := linear(l.FC2, l.FC2B, h, d)
			for i := range d {
				y[i] += x[t][i]
			}
			x[t] = norm(y, l.Norm2, l.Norm2B)
		}
	}
	if a.Streaming() {
		return linear(w.HeadW, w.HeadB, x[N-1], a.NumClasses)
	}
	return linear(w.HeadW, w.HeadB, x[0], a.NumClasses)
}

func randomFeatures(n int, rng *rand.Rand) []float32 {
	f := make([]float32, n)
	for i := range f {
		f[i] = float32(rng.NormFloat64() * 3)
	}
	return f
}

func TestDenseMatchesReference(t *testing.T) {
	archs := []Arch{
		tinyArch(),
		{Dim: 16, Depth: 3, Heads: 4, MLPDim: 32, Frames: 1, Coeffs: 7, NumClasses: 2, NormEps: 1e-6, Norm: "post"},
		{Dim: 12, Depth: 1, Heads: 3, MLPDim: 5, Frames: 31, Coeffs: 13, NumClasses: 9, NormEps: 1e-5, Norm: "post"},
		kwt1(98, 12),
		streamArch(),
		{Dim: 12, Depth: 1, Heads: 3, MLPDim: 5, Frames: 31, Coeffs: 13, NumClasses: 9, NormEps: 1e-5, Norm: "post", Context: 31},
		{Dim: 16, Depth: 3, Heads: 1, MLPDim: 32, Frames: 1, Coeffs: 7, NumClasses: 2, NormEps: 1e-6, Norm: "post", Context: 1},
		streamingKWT(),
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for i, a := range archs {
		m := randomModel(t, a, uint64(i))
		s := m.NewDense()
		logits := make([]float32, a.NumClasses)
		var worst float64
		for range 3 {
			f := randomFeatures(a.Frames*a.Coeffs, rng)
			s.Forward(f, logits)
			want := referenceForward(m, f)
			for c := range want {
				worst = max(worst, math.Abs(float64(logits[c])-want[c]))
			}
		}
		t.Logf("%+v: max |logit - float64 reference| = %.2g", a, worst)
		if worst > 1e-5 {
			t.Errorf("%+v: Forward differs from the float64 reference by %.3g > 1e-5", a, worst)
		}
	}
}

func TestDenseRepeatable(t *testing.T) {
	// Forward must not depend on the previous call's state.
	m := randomModel(t, tinyArch(), 9)
	s := m.NewDense()
	rng := rand.New(rand.NewPCG(1, 2))
	f1, f2 := randomFeatures(15, rng), randomFeatures(15, rng)
	a, b, c := make([]float32, 4), make([]float32, 4), make([]float32, 4)
	s.Forward(f1, a)
	s.Forward(f2, b)
	s.Forward(f1, c)
	for i := range a {
		if a[i] != c[i] {
			t.Fatalf("Forward(f1) changed after Forward(f2): %v vs %v", a, c)
		}
	}
}

func TestDenseZeroAllocs(t *testing.T) {
	m := randomModel(t, tinyArch(), 10)
	s := m.NewDense()
	f := randomFeatures(m.Arch.Frames*m.Arch.Coeffs, rand.New(rand.NewPCG(3, 4)))
	logits, probs := make([]float32, 4), make([]float32, 4)
	if n := testing.AllocsPerRun(100, func() {
		s.Forward(f, logits)
		Softmax(logits, probs)
	}); n != 0 {
		t.Errorf("Forward+Softmax: %v allocations per call, want 0", n)
	}
}

func TestDenseBadLengthsPanic(t *testing.T) {
	m := randomModel(t, tinyArch(), 11)
	s := m.NewDense()
	for _, c := range []struct{ nf, nl int }{{14, 4}, {15, 3}, {0, 0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Forward with %d features, %d logits did not panic", c.nf, c.nl)
				}
			}()
			s.Forward(make([]float32, c.nf), make([]float32, c.nl))
		}()
	}
}

// BenchmarkDenseForward times one dense inference of KWT-1 as the project
// trains it: d=64, 12 layers, 148 frames (1.5 s), 8 classes.
func BenchmarkDenseForward(b *testing.B) {
	m := randomModel(b, kwt1(148, 8), 1)
	s := m.NewDense()
	f := randomFeatures(148*40, rand.New(rand.NewPCG(5, 6)))
	logits := make([]float32, 8)
	total, _ := m.DenseMACs()
	b.ReportAllocs()
	for b.Loop() {
		s.Forward(f, logits)
	}
	us := float64(b.Elapsed().Microseconds()) / float64(b.N)
	b.ReportMetric(us, "µs/inference")
	b.ReportMetric(float64(total)/us/1e3, "GMAC/s")
}
