package infer

import (
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/frontend"
)

// kitchen holds the MFCC frames of examples/kitchen.wav (real audio: a
// kitchen with speech and dishes), normalised per coefficient. Consecutive
// frames are correlated as in real use; random iid inputs would show no
// sparsity at all.
var kitchen struct {
	once   sync.Once
	frames [][]float32
	err    error
}

func kitchenFrames(t testing.TB) [][]float32 {
	t.Helper()
	kitchen.once.Do(func() {
		src, err := audio.OpenFile("../examples/kitchen.wav", audio.FileOptions{Channel: audio.MixAll})
		if err != nil {
			kitchen.err = err
			return
		}
		r, err := audio.Resample16k(src)
		if err != nil {
			kitchen.err = err
			return
		}
		samples, err := audio.ReadAll(r)
		if err != nil {
			kitchen.err = err
			return
		}
		frames, err := frontend.Compute(samples, frontend.DefaultParams())
		if err != nil {
			kitchen.err = err
			return
		}
		mean, std := FrameStats(frames)
		for _, f := range frames {
			for i := range f {
				f[i] = (f[i] - mean[i]) / std[i]
			}
		}
		kitchen.frames = frames
	})
	if kitchen.err != nil {
		t.Fatal(kitchen.err)
	}
	return kitchen.frames
}

// kitchenWindow returns frames start..start+n of kitchen.wav, flattened.
func kitchenWindow(t testing.TB, start, n int) []float32 {
	fr := kitchenFrames(t)
	if start+n > len(fr) {
		t.Fatalf("kitchen.wav has %d frames, want %d", len(fr), start+n)
	}
	out := make([]float32, 0, n*len(fr[0]))
	for _, f := range fr[start : start+n] {
		out = append(out, f...)
	}
	return out
}

// theta scales for the two kinds of input: activations (Q/K/V, scores,
// out, fc1, fc2) and attention probabilities (values), whose deltas are
// some 250 times smaller.
func thresholdsAt(depth int, theta float32) Thresholds {
	th := UniformThresholds(depth, theta)
	th.Set(DeltaValues, depth, theta/250)
	return th
}

func maxAbsDiff(a, b []float32) float64 {
	var worst float64
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if !(d <= worst) { // NaN wins
			worst = d
		}
	}
	return worst
}

func deltaArchs() []Arch {
	return []Arch{
		tinyArch(),
		{Dim: 16, Depth: 3, Heads: 2, MLPDim: 32, Frames: 20, Coeffs: 40, NumClasses: 4, NormEps: 1e-6, Norm: "post"},
		{Dim: 12, Depth: 2, Heads: 3, MLPDim: 5, Frames: 31, Coeffs: 13, NumClasses: 9, NormEps: 1e-5, Norm: "post"},
		{Dim: 16, Depth: 1, Heads: 4, MLPDim: 8, Frames: 1, Coeffs: 7, NumClasses: 2, NormEps: 1e-6, Norm: "post"},
		kwt1(148, 8),
	}
}

// With every site on and every threshold 0, Delta gives Dense's logits up
// to float32 rounding.
func TestDeltaThetaZeroMatchesDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 1))
	for i, a := range deltaArchs() {
		m := randomModel(t, a, uint64(100+i))
		dense, delta := m.NewDense(), m.NewDelta(UniformThresholds(a.Depth, 0))
		want, got := make([]float32, a.NumClasses), make([]float32, a.NumClasses)
		var worst float64
		inputs := [][]float32{randomFeatures(a.Frames*a.Coeffs, rng), make([]float32, a.Frames*a.Coeffs)}
		if a.Coeffs == 40 && a.Frames <= 1000 {
			inputs = append(inputs, kitchenWindow(t, 300, a.Frames))
		}
		for _, f := range inputs {
			dense.Forward(f, want)
			delta.Forward(f, got)
			worst = max(worst, maxAbsDiff(got, want))
		}
		t.Logf("%+v: max |delta - dense logit| at theta 0 = %.3g", a, worst)
		if !(worst <= 1e-4) {
			t.Errorf("%+v: delta at theta 0 differs from dense by %.3g > 1e-4", a, worst)
		}
	}
}

// FuzzDeltaEqualsDense compares the two passes at theta 0 on random
// models (one to four heads) and random inputs.
func FuzzDeltaEqualsDense(f *testing.F) {
	f.Add(uint64(1), uint8(0), uint8(2), uint8(5), uint64(7), float32(3))
	f.Add(uint64(2), uint8(1), uint8(1), uint8(30), uint64(8), float32(0.01))
	f.Add(uint64(3), uint8(2), uint8(3), uint8(1), uint64(9), float32(10))
	f.Fuzz(func(t *testing.T, modelSeed uint64, heads, depth, frames uint8, inputSeed uint64, scale float32) {
		// Normalised frames have unit scale; far beyond 10, float32 itself
		// (the dense pass against a float64 reference) is off by 1e-4.
		if !(math.Abs(float64(scale)) <= 10) {
			return
		}
		h := []int{1, 2, 4}[int(heads)%3]
		a := Arch{Dim: 8 * h, Depth: 1 + int(depth)%3, Heads: h, MLPDim: 16, Frames: 1 + int(frames)%40,
			Coeffs: 6, NumClasses: 3, NormEps: 1e-6, Norm: "post"}
		m, err := Random(a, modelSeed)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(inputSeed, 5))
		x := randomFeatures(a.Frames*a.Coeffs, rng)
		// Smooth the input along time, sometimes, so that deltas vary from
		// zero to everything.
		if inputSeed%2 == 0 {
			for i := a.Coeffs; i < len(x); i++ {
				x[i] = 0.9*x[i-a.Coeffs] + 0.1*x[i]
			}
		}
		for i := range x {
			x[i] *= scale
		}
		want, got := make([]float32, a.NumClasses), make([]float32, a.NumClasses)
		m.NewDense().Forward(x, want)
		m.NewDelta(UniformThresholds(a.Depth, 0)).Forward(x, got)
		// Large inputs make large attention scores, where float32 rounding in
		// either pass moves the logits by up to 1e-4 (the running sums of the
		// delta pass round differently from the dense sums): the tolerance
		// grows with the dense pass's own distance from a float64 reference,
		// and with the input's scale, since the delta pass's running sums carry
		// the rounding of every frame before (at scale 9 over 31 frames, 1.7e-4
		// where the dense pass is 1e-6 off; a wrong term is off by far more).
		var denseErr float64
		for c, r := range referenceForward(m, x) {
			denseErr = max(denseErr, math.Abs(float64(want[c])-r))
		}
		if d := maxAbsDiff(got, want); !(d <= 1e-4*max(1, math.Abs(float64(scale)))+2*denseErr) {
			t.Fatalf("%+v: |delta - dense| = %.3g, dense off the float64 reference by %.3g\ndelta %v\ndense %v", a, d, denseErr, got, want)
		}
	})
}

// With no site enabled, Delta runs Dense's code: the same bits.
func TestDeltaNoSitesIsDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 1))
	for i, a := range deltaArchs()[:4] {
		m := randomModel(t, a, uint64(200+i))
		f := randomFeatures(a.Frames*a.Coeffs, rng)
		want, got := make([]float32, a.NumClasses), make([]float32, a.NumClasses)
		m.NewDense().Forward(f, want)
		s := m.NewDelta(Thresholds{})
		s.Forward(f, got)
		for c := range want {
			if math.Float32bits(got[c]) != math.Float32bits(want[c]) {
				t.Fatalf("%+v: logits %v, dense %v", a, got, want)
			}
		}
		ops := s.Ops()
		if tot := ops.Total(); tot.Executed != tot.Dense || ops.TotalReduction() != 0 {
			t.Errorf("no sites: executed %d of %d dense MACs", tot.Executed, tot.Dense)
		}
		if total, mhsa := m.DenseMACs(); ops.Total().Dense != total || ops.MHSA().Dense != mhsa {
			t.Errorf("dense counts %d / %d MHSA, DenseMACs says %d / %d", ops.Total().Dense, ops.MHSA().Dense, total, mhsa)
		}
	}
}

// Raising theta on a fixed input removes more and more operations.
func TestDeltaOpsDecreaseWithTheta(t *testing.T) {
	a := kwt1(148, 8)
	a.Depth = 4
	m := randomModel(t, a, 5)
	f := kitchenWindow(t, 500, a.Frames)
	logits := make([]float32, a.NumClasses)
	prev := int64(math.MaxInt64)
	prevSite := map[OpSite]int64{}
	for _, theta := range []float32{0, 0.01, 0.03, 0.1, 0.3, 1, 3, 10} {
		s := m.NewDelta(thresholdsAt(a.Depth, theta))
		s.Forward(f, logits)
		ops := s.Ops()
		tot := ops.Total()
		t.Logf("theta %5g: MHSA -%5.1f%%  total -%5.1f%%  (q -%4.1f%% scores -%4.1f%% values -%4.1f%% out -%4.1f%% fc1 -%4.1f%% fc2 -%4.1f%%)",
			theta, 100*ops.MHSAReduction(), 100*ops.TotalReduction(),
			100*ops.Site(OpQ).Reduction(), 100*ops.Site(OpScores).Reduction(), 100*ops.Site(OpValues).Reduction(),
			100*ops.Site(OpOut).Reduction(), 100*ops.Site(OpFC1).Reduction(), 100*ops.Site(OpFC2).Reduction())
		if tot.Executed > prev {
			t.Errorf("theta %g: %d MACs, more than %d at the smaller theta", theta, tot.Executed, prev)
		}
		for site := OpQ; site <= OpFC2; site++ {
			if e := ops.Site(site).Executed; theta > 0 && e > prevSite[site] {
				t.Errorf("theta %g: site %s executes %d MACs, more than %d at the smaller theta", theta, site, e, prevSite[site])
			}
			prevSite[site] = ops.Site(site).Executed
		}
		prev = tot.Executed
		if theta == 10 && ops.MHSAReduction() < 0.8 {
			t.Errorf("theta 10 removes only %.1f%% of MHSA MACs", 100*ops.MHSAReduction())
		}
	}
}

// bruteDelta is an independent, plain re-implementation of the delta pass:
// one loop iteration per multiply-accumulate, each counted. It is the
// oracle for Delta's op accounting.
func bruteDelta(m *Model, th Thresholds, features []float32) ([]float32, [][NumOpSites]int64) {
	a, w := m.Arch, &m.Weights
	d, N, K, M, H := a.Dim, a.Tokens(), a.Coeffs, a.MLPDim, a.Heads
	hd := d / H
	ops := make([][NumOpSites]int64, a.Depth)
	vec := func(n int) []float32 { return make([]float32, n) }
	mat := func(rows, cols int) [][]float32 {
		r := make([][]float32, rows)
		for i := range r {
			r[i] = vec(cols)
		}
		return r
	}
	// linearSeq maps each row of in through the [out, in] matrix W, with
	// delta pruning at theta when on; it counts into *count.
	linearSeq := func(in [][]float32, W []float32, out int, on bool, theta float32, count *int64) [][]float32 {
		nIn := len(in[0])
		y := mat(len(in), out)
		ref, acc := vec(nIn), vec(out)
		for t, x := range in {
			if !on {
				for j := range out {
					var s float32
					for i := range nIn {
						s += W[j*nIn+i] * x[i]
						*count++
					}
					y[t][j] = s
				}
				continue
			}
			for i := range nIn {
				dl := x[i] - ref[i]
				if dl > theta || dl < -theta {
					ref[i] = x[i]
					for j := range out {
						acc[j] += dl * W[j*nIn+i]
						*count++
					}
				}
			}
			copy(y[t], acc)
		}
		return y
	}
	theta := func(s DeltaSite, l int) (bool, float32) {
		if !th.Enabled[s] {
			return false, 0
		}
		return true, th.Theta[s][l]
	}
	norm := func(x, g, b []float32) { layerNorm(x, g, b, float32(a.NormEps)) }

	x := mat(N, d)
	for i := range d {
		x[0][i] = w.Cls[i] + w.Pos[i]
	}
	for t := 1; t <= a.Frames; t++ {
		for j := range d {
			var s float32
			for k := range K {
				s += w.EmbedW[j*K+k] * features[(t-1)*K+k]
			}
			x[t][j] = s + w.EmbedB[j] + w.Pos[t*d+j]
		}
	}
	scale := float32(1 / math.Sqrt(float64(hd)))
	for li := range a.Depth {
		l := &w.Layers[li]
		// Keys and values of every token; the rest only for the tokens
		// read later: in the last layer the class token alone.
		R := N
		if li == a.Depth-1 {
			R = 1
		}
		on, th0 := theta(DeltaQKV, li)
		var cq, ck, cv int64
		q := linearSeq(x[:R], l.Q, d, on, th0, &cq)
		k := linearSeq(x, l.K, d, on, th0, &ck)
		v := linearSeq(x, l.V, d, on, th0, &cv)
		ops[li][OpQ], ops[li][OpK], ops[li][OpV] = cq, ck, cv
		o := mat(N, d)
		for h := range H {
			lo := h * hd
			onS, thS := theta(DeltaScores, li)
			onV, thV := theta(DeltaValues, li)
			refQ, sAcc := vec(hd), vec(N)
			refP, oAcc := vec(N), vec(hd)
			for t := range R {
				p := vec(N)
				if onS {
					for i := range hd {
						dl := q[t][lo+i] - refQ[i]
						if dl > thS || dl < -thS {
							refQ[i] = q[t][lo+i]
							for u := range N {
								sAcc[u] += dl * k[u][lo+i]
								ops[li][OpScores]++
							}
						}
					}
					for u := range N {
						p[u] = sAcc[u] * scale
					}
				} else {
					for u := range N {
						for i := range hd {
							p[u] += q[t][lo+i] * k[u][lo+i]
							ops[li][OpScores]++
						}
						p[u] *= scale
					}
				}
				softmax(p)
				if onV {
					for u := range N {
						dl := p[u] - refP[u]
						if dl > thV || dl < -thV {
							refP[u] = p[u]
							for i := range hd {
								oAcc[i] += dl * v[u][lo+i]
								ops[li][OpValues]++
							}
						}
					}
					copy(o[t][lo:lo+hd], oAcc)
				} else {
					for u := range N {
						for i := range hd {
							o[t][lo+i] += p[u] * v[u][lo+i]
							ops[li][OpValues]++
						}
					}
				}
			}
		}
		on, th0 = theta(DeltaOut, li)
		att := linearSeq(o[:R], l.Out, d, on, th0, &ops[li][OpOut])
		for t := range R {
			for j := range d {
				x[t][j] += att[t][j] + l.OutB[j]
			}
			norm(x[t], l.Norm1, l.Norm1B)
		}
		on, th0 = theta(DeltaFC1, li)
		hid := linearSeq(x[:R], l.FC1, M, on, th0, &ops[li][OpFC1])
		for t := range R {
			for j := range M {
				hid[t][j] += l.FC1B[j]
			}
			gelu(hid[t])
		}
		on, th0 = theta(DeltaFC2, li)
		y := linearSeq(hid, l.FC2, d, on, th0, &ops[li][OpFC2])
		for t := range R {
			for j := range d {
				x[t][j] += y[t][j] + l.FC2B[j]
			}
			norm(x[t], l.Norm2, l.Norm2B)
		}
	}
	logits := vec(a.NumClasses)
	for c := range logits {
		var s float32
		for i := range d {
			s += w.HeadW[c*d+i] * x[0][i]
		}
		logits[c] = s + w.HeadB[c]
	}
	return logits, ops
}

// Delta's op counts equal a count of every multiply-accumulate made by a
// plain implementation, site by site and layer by layer, with some sites
// on and some off.
func TestDeltaCountsMatchBruteForce(t *testing.T) {
	a := Arch{Dim: 16, Depth: 3, Heads: 2, MLPDim: 24, Frames: 40, Coeffs: 40, NumClasses: 5, NormEps: 1e-6, Norm: "post"}
	m := randomModel(t, a, 8)
	f := kitchenWindow(t, 700, a.Frames)
	cases := map[string]Thresholds{
		"all 0.3":  thresholdsAt(a.Depth, 0.3),
		"all 0":    UniformThresholds(a.Depth, 0),
		"mhsa 0.5": UniformThresholds(a.Depth, 0.5, MHSASites...),
		"mixed":    {},
	}
	mixed := UniformThresholds(a.Depth, 0.2, DeltaScores, DeltaFC2)
	mixed.Set(DeltaValues, a.Depth, 0.001)
	mixed.Theta[DeltaScores][1] = 2
	cases["mixed"] = mixed
	for name, th := range cases {
		s := m.NewDelta(th)
		got := make([]float32, a.NumClasses)
		s.Forward(f, got)
		want, brute := bruteDelta(m, th, f)
		if d := maxAbsDiff(got, want); d > 1e-4 {
			t.Errorf("%s: logits differ from the plain implementation by %.3g", name, d)
		}
		ops := s.Ops()
		for li := range a.Depth {
			for site := OpQ; site <= OpFC2; site++ {
				if g, w := ops.Layers[li][site].Executed, brute[li][site]; g != w {
					t.Errorf("%s: layer %d site %s: counted %d MACs, brute force %d", name, li, site, g, w)
				}
			}
		}
		if e, d := ops.Model[OpEmbed], int64(a.Frames*a.Coeffs*a.Dim); e.Executed != d || e.Dense != d {
			t.Errorf("%s: embed %+v, want %d", name, e, d)
		}
		t.Logf("%s: MHSA -%.1f%%, total -%.1f%%", name, 100*ops.MHSAReduction(), 100*ops.TotalReduction())
	}
}

// Op counts accumulate over windows until Reset.
func TestDeltaOpsAccumulate(t *testing.T) {
	a := tinyArch()
	m := randomModel(t, a, 12)
	s := m.NewDelta(thresholdsAt(a.Depth, 0.1))
	f := randomFeatures(a.Frames*a.Coeffs, rand.New(rand.NewPCG(1, 1)))
	logits := make([]float32, a.NumClasses)
	s.Forward(f, logits)
	one := s.Ops()
	s.Forward(f, logits)
	two := s.Ops()
	if two.Windows != 2 || two.Total().Executed != 2*one.Total().Executed || two.Total().Dense != 2*one.Total().Dense {
		t.Errorf("two windows: %+v, one: %+v", two.Total(), one.Total())
	}
	s.Reset()
	if z := s.Ops(); z.Windows != 0 || z.Total() != (MACs{}) {
		t.Errorf("after Reset: %+v", z.Total())
	}
}

// ForwardEmbedded on EmbedFrame's tokens is bit-for-bit Forward on the
// frames, for both passes.
func TestForwardEmbeddedMatchesForward(t *testing.T) {
	for i, a := range deltaArchs()[:3] {
		m := randomModel(t, a, uint64(300+i))
		f := randomFeatures(a.Frames*a.Coeffs, rand.New(rand.NewPCG(uint64(i), 9)))
		type pass interface {
			Forward(features, logits []float32)
			EmbedFrame(frame, token []float32)
			ForwardEmbedded(tokens, logits []float32)
			Ops() OpCounts
		}
		for _, p := range []pass{m.NewDense(), m.NewDelta(thresholdsAt(a.Depth, 0.2))} {
			want, got := make([]float32, a.NumClasses), make([]float32, a.NumClasses)
			p.Forward(f, want)
			tokens := make([]float32, a.Frames*a.Dim)
			for t := range a.Frames {
				p.EmbedFrame(f[t*a.Coeffs:(t+1)*a.Coeffs], tokens[t*a.Dim:(t+1)*a.Dim])
			}
			p.ForwardEmbedded(tokens, got)
			for c := range want {
				if math.Float32bits(got[c]) != math.Float32bits(want[c]) {
					t.Fatalf("%T %+v: embedded %v, direct %v", p, a, got, want)
				}
			}
			ops := p.Ops()
			if ops.Windows != 2 || ops.Frames != int64(2*a.Frames) {
				t.Errorf("%T: %d windows, %d frames", p, ops.Windows, ops.Frames)
			}
		}
	}
}

func TestDeltaZeroAllocs(t *testing.T) {
	a := deltaArchs()[1]
	m := randomModel(t, a, 13)
	s := m.NewDelta(thresholdsAt(a.Depth, 0.1))
	s.SetTiming(true)
	f := randomFeatures(a.Frames*a.Coeffs, rand.New(rand.NewPCG(3, 4)))
	tokens := make([]float32, a.Frames*a.Dim)
	logits := make([]float32, a.NumClasses)
	if n := testing.AllocsPerRun(50, func() { s.Forward(f, logits) }); n != 0 {
		t.Errorf("Forward: %v allocations per call", n)
	}
	if n := testing.AllocsPerRun(50, func() {
		s.EmbedFrame(f[:a.Coeffs], tokens[:a.Dim])
		s.ForwardEmbedded(tokens, logits)
	}); n != 0 {
		t.Errorf("EmbedFrame+ForwardEmbedded: %v allocations per call", n)
	}
	d := m.NewDense()
	d.SetTiming(true)
	if n := testing.AllocsPerRun(50, func() {
		d.EmbedFrame(f[:a.Coeffs], tokens[:a.Dim])
		d.ForwardEmbedded(tokens, logits)
	}); n != 0 {
		t.Errorf("Dense EmbedFrame+ForwardEmbedded: %v allocations per call", n)
	}
	if tm := s.Times(); tm.MHSA <= 0 || tm.MLP <= 0 || tm.Forward < tm.MHSA+tm.MLP || tm.Embed <= 0 {
		t.Errorf("times %+v", tm)
	}
}

func TestDeltaBadThresholdsPanic(t *testing.T) {
	m := randomModel(t, tinyArch(), 14)
	defer func() {
		if recover() == nil {
			t.Error("NewDelta with one threshold for two layers did not panic")
		}
	}()
	m.NewDelta(UniformThresholds(1, 0.1))
}

func TestSelectDeltaAndRowAXPY(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6}
	ref := []float32{1, 2.5, 2, 4.1, 0, 6}
	idx, dv := make([]int32, 6), make([]float32, 6)
	n := selectDelta(x, ref, 0.2, idx, dv)
	if n != 3 || idx[0] != 1 || idx[1] != 2 || idx[2] != 4 || dv[0] != -0.5 || dv[1] != 1 || dv[2] != 5 {
		t.Fatalf("kept %d: %v %v", n, idx[:n], dv[:n])
	}
	if ref[1] != 2 || ref[2] != 3 || ref[4] != 5 || ref[3] != 4.1 {
		t.Errorf("reference %v", ref)
	}
	// rowAXPY against a plain loop, for every count of rows (the unrolled
	// part and the tail) and a stride wider than the rows.
	rng := rand.New(rand.NewPCG(2, 2))
	const rows, stride, width = 9, 7, 5
	w := randomFeatures(rows*stride, rng)
	for k := 0; k <= rows; k++ {
		y, want := make([]float32, width), make([]float32, width)
		ix, dl := make([]int32, k), randomFeatures(k, rng)
		for j := range ix {
			ix[j] = int32(rng.IntN(rows))
		}
		rowAXPY(y, w, stride, ix, dl)
		for j := range ix {
			for i := range want {
				want[i] += dl[j] * w[int(ix[j])*stride+i]
			}
		}
		if d := maxAbsDiff(y, want); d > 1e-5 {
			t.Errorf("%d rows: off by %g", k, d)
		}
	}
}

// BenchmarkDeltaForward times one delta inference of KWT-1 (d=64, 12
// layers, 148 frames, 8 classes, random weights) on real audio frames, at
// several thresholds (activations theta, probabilities theta/250), and
// reports the MACs removed. Compare with BenchmarkDenseForward.
func BenchmarkDeltaForward(b *testing.B) {
	a := kwt1(148, 8)
	m := randomModel(b, a, 1)
	fr := kitchenFrames(b)
	// Several windows at a 100 ms hop, as the daemon sees them.
	var windows [][]float32
	for start := 0; start+a.Frames <= len(fr) && len(windows) < 32; start += 10 {
		windows = append(windows, kitchenWindow(b, start, a.Frames))
	}
	for _, theta := range []float32{0, 0.1, 0.25, 0.5, 1} {
		b.Run("theta="+ftoa(theta), func(b *testing.B) {
			s := m.NewDelta(thresholdsAt(a.Depth, theta))
			logits := make([]float32, a.NumClasses)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				s.Forward(windows[i%len(windows)], logits)
				i++
			}
			us := float64(b.Elapsed().Microseconds()) / float64(b.N)
			ops := s.Ops()
			b.ReportMetric(us, "µs/inference")
			b.ReportMetric(100*ops.MHSAReduction(), "%MHSA-removed")
			b.ReportMetric(100*ops.TotalReduction(), "%MACs-removed")
		})
	}
}

// BenchmarkDenseForwardKitchen is BenchmarkDenseForward on the same inputs
// as BenchmarkDeltaForward (the dense pass does not depend on them).
func BenchmarkDenseForwardKitchen(b *testing.B) {
	a := kwt1(148, 8)
	m := randomModel(b, a, 1)
	f := kitchenWindow(b, 0, a.Frames)
	s := m.NewDense()
	logits := make([]float32, a.NumClasses)
	b.ReportAllocs()
	for b.Loop() {
		s.Forward(f, logits)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/inference")
}

func ftoa(f float32) string { return strconv.FormatFloat(float64(f), 'g', -1, 32) }
