package infer

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// streamFrames returns n slowly changing random frames, as speech gives.
func streamFrames(a Arch, n int, rng *rand.Rand) []float32 {
	f := randomFeatures(n*a.Coeffs, rng)
	for t := 1; t < n; t++ {
		for k := range a.Coeffs {
			f[t*a.Coeffs+k] = 0.9*f[(t-1)*a.Coeffs+k] + 0.45*f[t*a.Coeffs+k]
		}
	}
	return f
}

// sameBits reports whether a and b hold the same float32 bits.
func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

// TestStreamEqualsWindow pushes a long stream frame by frame and checks,
// after every frame once a window is full, that the stream's logits are
// bit for bit those of Forward on the window that ends there: the newest
// token must not depend on anything older than its window.
func TestStreamEqualsWindow(t *testing.T) {
	for _, mlp := range []string{MLPFloat32, MLPInt8} {
		for _, a := range []Arch{streamArch(), streamingKWT()} {
			m := randomModel(t, a, 3)
			m.MLP = mlp
			frames := 3 * a.Frames
			if a.Frames > 100 {
				frames = a.Frames + 12
			}
			f := streamFrames(a, frames, rand.New(rand.NewPCG(1, 2)))
			stream, window := m.NewStreamDense(), m.NewDense()
			if !stream.Streaming() {
				t.Fatal("Streaming() false for a model with context")
			}
			got, want := make([]float32, a.NumClasses), make([]float32, a.NumClasses)
			checked := 0
			for i := range frames {
				stream.PushFrame(f[i*a.Coeffs : (i+1)*a.Coeffs])
				if i+1 < a.Frames {
					continue
				}
				stream.StreamLogits(got)
				window.Forward(f[(i+1-a.Frames)*a.Coeffs:(i+1)*a.Coeffs], want)
				if !sameBits(got, want) {
					t.Fatalf("%s, %+v: frame %d: stream %v, window %v", mlp, a, i, got, want)
				}
				checked++
			}
			// Forward must not disturb a stream, and logits may be asked twice.
			stream.StreamLogits(got)
			stream.StreamLogits(want)
			if maxAbsDiff(got, want) != 0 {
				t.Errorf("%s: StreamLogits twice gave different logits", mlp)
			}
			t.Logf("%s, %d frames per window, context %d: %d windows equal", mlp, a.Frames, a.Context, checked)
		}
	}
}

// TestStreamReset checks that ResetStream forgets the stream: afterwards
// the same frames give the same logits as on a fresh scorer.
func TestStreamReset(t *testing.T) {
	a := streamArch()
	m := randomModel(t, a, 4)
	rng := rand.New(rand.NewPCG(5, 6))
	f := streamFrames(a, 2*a.Frames, rng)
	th := UniformThresholds(a.Depth, 0.2, DeltaQKV, DeltaOut, DeltaFC1, DeltaFC2)
	for _, s := range []interface {
		PushFrame([]float32)
		StreamLogits([]float32)
		ResetStream()
	}{m.NewStreamDense(), m.NewStreamDelta(th)} {
		run := func() []float32 {
			out := make([]float32, a.NumClasses)
			for i := range 5 { // fewer frames than the context: a ring not yet full
				s.PushFrame(f[i*a.Coeffs : (i+1)*a.Coeffs])
			}
			s.StreamLogits(out)
			return out
		}
		for i := range a.Frames + 3 {
			s.PushFrame(f[(a.Frames+i%a.Frames)*a.Coeffs : (a.Frames+i%a.Frames+1)*a.Coeffs])
		}
		s.ResetStream()
		first := run()
		s.ResetStream()
		if d := maxAbsDiff(first, run()); d != 0 {
			t.Errorf("%T: logits after ResetStream differ by %g", s, d)
		}
	}
}

// TestStreamDelta checks the delta pass of a streaming KWT: with every
// threshold 0 it gives the dense logits up to rounding; with thresholds it
// executes fewer MACs than the dense stream counts, and its chain runs on
// across hops (it is not restarted by StreamLogits).
func TestStreamDelta(t *testing.T) {
	a := streamArch()
	m := randomModel(t, a, 8)
	sites := []DeltaSite{DeltaQKV, DeltaOut, DeltaFC1, DeltaFC2}
	f := streamFrames(a, 4*a.Frames, rand.New(rand.NewPCG(9, 9)))
	run := func(s interface {
		PushFrame([]float32)
		StreamLogits([]float32)
	}) [][]float32 {
		var out [][]float32
		for i := range 4 * a.Frames {
			s.PushFrame(f[i*a.Coeffs : (i+1)*a.Coeffs])
			if i+1 >= a.Frames && (i+1)%10 == 0 {
				l := make([]float32, a.NumClasses)
				s.StreamLogits(l)
				out = append(out, l)
			}
		}
		return out
	}
	dense := run(m.NewStreamDense())
	zero := m.NewStreamDelta(UniformThresholds(a.Depth, 0, sites...))
	for i, l := range run(zero) {
		if d := maxAbsDiff(l, dense[i]); d > 1e-4 {
			t.Errorf("theta 0, hop %d: delta differs from dense by %g", i, d)
		}
	}
	pruned := m.NewStreamDelta(UniformThresholds(a.Depth, 0.3, sites...))
	var worst float64
	for i, l := range run(pruned) {
		worst = max(worst, maxAbsDiff(l, dense[i]))
	}
	ops := pruned.Ops()
	if ops.Windows != int64(len(dense)) || ops.Frames != int64(4*a.Frames) {
		t.Errorf("ops count %d windows and %d frames, want %d and %d", ops.Windows, ops.Frames, len(dense), 4*a.Frames)
	}
	for _, s := range []OpSite{OpQ, OpK, OpV, OpOut, OpFC1, OpFC2} {
		if m := ops.Site(s); m.Executed >= m.Dense {
			t.Errorf("theta 0.3: site %v executed %d of %d dense MACs", s, m.Executed, m.Dense)
		}
	}
	// The attention over the ring and the last layer's query side run densely.
	for _, s := range []OpSite{OpScores, OpValues} {
		if m := ops.Site(s); m.Executed != m.Dense {
			t.Errorf("site %v: executed %d, dense %d", s, m.Executed, m.Dense)
		}
	}
	zops := zero.Ops()
	if zops.Total().Dense != ops.Total().Dense {
		t.Errorf("dense counts of the same stream differ: %d and %d", zops.Total().Dense, ops.Total().Dense)
	}
	t.Logf("theta 0.3: %.1f %% of MACs removed, max |logit diff| %.3g", 100*ops.TotalReduction(), worst)
	if worst == 0 || worst > 2 {
		t.Errorf("theta 0.3 moved the logits by %g: want a small non-zero change", worst)
	}
}

// TestStreamCounts checks the dense op counts of a streaming KWT: Forward
// counts the DenseMACs of a window, and a stream counts per frame and per
// hop what it runs.
func TestStreamCounts(t *testing.T) {
	a := streamArch()
	m := randomModel(t, a, 2)
	s := m.NewStreamDense()
	f := streamFrames(a, a.Frames, rand.New(rand.NewPCG(3, 3)))
	logits := make([]float32, a.NumClasses)
	s.Forward(f, logits)
	total, _ := m.DenseMACs()
	if got := s.Ops().Total(); got.Executed != total || got.Dense != total {
		t.Errorf("Forward counts %+v, DenseMACs %d", got, total)
	}
	s.Reset()
	s.ResetStream()
	for i := range a.Frames {
		s.PushFrame(f[i*a.Coeffs : (i+1)*a.Coeffs])
	}
	s.StreamLogits(logits)
	if got := s.Ops().Total(); got.Executed != total {
		t.Errorf("a stream of one window counts %d, want %d", got.Executed, total)
	}
	// One more frame and hop: every layer but the last runs one token over a
	// full ring; the last layer its keys and values, then the query side.
	s.Reset()
	s.PushFrame(f[:a.Coeffs])
	s.StreamLogits(logits)
	d, M, C, n := int64(a.Dim), int64(a.MLPDim), int64(a.Context), int64(a.Coeffs)
	layer := 4*d*d + 2*C*d + 2*d*M
	want := n*d + int64(a.Depth-1)*layer + layer + int64(a.NumClasses)*d
	if got := s.Ops().Total().Executed; got != want {
		t.Errorf("one frame and hop over full rings: %d MACs, want %d", got, want)
	}
}

func TestStreamZeroAllocs(t *testing.T) {
	a := streamArch()
	m := randomModel(t, a, 1)
	m.MLP = MLPInt8
	frame := make([]float32, a.Coeffs)
	logits := make([]float32, a.NumClasses)
	for _, s := range []interface {
		PushFrame([]float32)
		StreamLogits([]float32)
	}{m.NewStreamDense(), m.NewStreamDelta(UniformThresholds(a.Depth, 0.1, DeltaQKV, DeltaFC2))} {
		if n := testing.AllocsPerRun(50, func() {
			s.PushFrame(frame)
			s.StreamLogits(logits)
		}); n != 0 {
			t.Errorf("%T: %v allocations per frame", s, n)
		}
	}
}

// TestStreamRejects covers what a streaming model cannot do: delta sites on
// the ring's scores and values, and a context that reaches past the window;
// and that a window KWT has no stream.
func TestStreamRejects(t *testing.T) {
	a := streamArch()
	m := randomModel(t, a, 1)
	th := UniformThresholds(a.Depth, 0.1, DeltaScores)
	if err := m.NewDelta(Thresholds{}).SetThresholds(th); err == nil || !strings.Contains(err.Error(), "scores") {
		t.Errorf("SetThresholds(scores) = %v, want an error naming the site", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("NewDelta(values) did not panic")
			}
		}()
		m.NewDelta(UniformThresholds(a.Depth, 0.1, DeltaValues))
	}()
	m.Delta = &th
	var buf bytes.Buffer
	if err := Write(&buf, m); err == nil || !strings.Contains(err.Error(), `metadata "delta"`) {
		t.Errorf("Write with delta scores on a streaming model: %v", err)
	}
	m.Delta = nil

	bad := a
	bad.Context = 8 // 3 * 7 = 21 >= 20 frames
	if _, err := Random(bad, 1); err == nil || !strings.Contains(err.Error(), "context 8") {
		t.Errorf("context past the window: %v, want an error naming context", err)
	}
	bad.Context = -1
	if _, err := Random(bad, 1); err == nil || !strings.Contains(err.Error(), "context") {
		t.Errorf("context -1: %v", err)
	}

	window := randomModel(t, tinyArch(), 1)
	for _, p := range []Pass{window.NewDense(), window.NewDelta(Thresholds{})} {
		if _, ok := p.(interface{ PushFrame([]float32) }); ok {
			t.Errorf("%T, the pass of a window KWT, takes frames one by one", p)
		}
	}
	for name, f := range map[string]func(){
		"NewStreamDense": func() { window.NewStreamDense() },
		"NewStreamDelta": func() { window.NewStreamDelta(Thresholds{}) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "window KWT") {
					t.Errorf("%s on a window KWT: panic %v, want one naming the window KWT", name, r)
				}
			}()
			f()
		}()
	}
}

// TestPassTypes checks that NewDense and NewDelta choose the pass of the
// architecture: Dense and Delta for a window KWT, StreamDense and
// StreamDelta for a streaming KWT.
func TestPassTypes(t *testing.T) {
	window, stream := randomModel(t, tinyArch(), 1), randomModel(t, streamArch(), 1)
	if _, ok := window.NewDense().(*Dense); !ok {
		t.Errorf("NewDense of a window KWT: %T, want *Dense", window.NewDense())
	}
	if _, ok := window.NewDelta(Thresholds{}).(*Delta); !ok {
		t.Errorf("NewDelta of a window KWT: %T, want *Delta", window.NewDelta(Thresholds{}))
	}
	if _, ok := stream.NewDense().(*StreamDense); !ok {
		t.Errorf("NewDense of a streaming KWT: %T, want *StreamDense", stream.NewDense())
	}
	if _, ok := stream.NewDelta(Thresholds{}).(*StreamDelta); !ok {
		t.Errorf("NewDelta of a streaming KWT: %T, want *StreamDelta", stream.NewDelta(Thresholds{}))
	}
	th := UniformThresholds(stream.Arch.Depth, 0.2, DeltaQKV)
	d := stream.NewStreamDelta(th)
	if got := d.Thresholds(); !got.Equal(th) {
		t.Errorf("Thresholds() = %v, want %v", got, th)
	}
}

// TestStreamRoundTrip writes and parses a streaming model: the context and
// the distance biases survive, and there is no cls or pos tensor.
func TestStreamRoundTrip(t *testing.T) {
	a := streamArch()
	m := randomModel(t, a, 6)
	data := encodeModel(t, m)
	got, err := Parse(data, "stream.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if got.Arch != a {
		t.Errorf("arch %+v, want %+v", got.Arch, a)
	}
	for li := range a.Depth {
		if maxAbsDiff(got.Weights.Layers[li].Rel, m.Weights.Layers[li].Rel) != 0 {
			t.Errorf("layer %d: attn.rel changed", li)
		}
	}
	_, tensors, err := parseSafetensors(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cls", "pos"} {
		if _, ok := tensors[name]; ok {
			t.Errorf("streaming model file holds %q", name)
		}
	}
	if want := int64(0); got.ParamCount() <= want {
		t.Error("no parameters")
	}
	var n int64
	for _, p := range got.Weights.params(a) {
		n += int64(numel(p.shape))
	}
	if got.ParamCount() != n {
		t.Errorf("ParamCount %d, tensors hold %d", got.ParamCount(), n)
	}
}

// FuzzStreamEqualsWindow streams random frames through random streaming
// KWTs and checks, at every frame after the first window, that the stream's
// logits are those of the window computed whole (bit for bit), and that a
// delta stream at threshold 0 stays within rounding of the dense one.
func FuzzStreamEqualsWindow(f *testing.F) {
	f.Add(uint64(1), uint8(0), uint8(2), uint8(5), uint8(3), uint64(7))
	f.Add(uint64(2), uint8(1), uint8(1), uint8(30), uint8(0), uint64(8))
	f.Add(uint64(3), uint8(2), uint8(3), uint8(1), uint8(9), uint64(9))
	f.Fuzz(func(t *testing.T, modelSeed uint64, heads, depth, frames, context uint8, inputSeed uint64) {
		h := []int{1, 2, 4}[int(heads)%3]
		a := Arch{Dim: 8 * h, Depth: 1 + int(depth)%3, Heads: h, MLPDim: 16, Frames: 1 + int(frames)%40,
			Coeffs: 6, NumClasses: 3, NormEps: 1e-6, Norm: "post"}
		a.Context = 1 + int(context)%((a.Frames-1)/a.Depth+1) // depth*(context-1) < frames
		m, err := Random(a, modelSeed)
		if err != nil {
			t.Fatal(err)
		}
		n := a.Frames + 1 + int(inputSeed%50)
		x := streamFrames(a, n, rand.New(rand.NewPCG(inputSeed, 5)))
		stream, window := m.NewStreamDense(), m.NewDense()
		zero := m.NewStreamDelta(UniformThresholds(a.Depth, 0, DeltaQKV, DeltaOut, DeltaFC1, DeltaFC2))
		got, want, dz := make([]float32, a.NumClasses), make([]float32, a.NumClasses), make([]float32, a.NumClasses)
		for i := range n {
			fr := x[i*a.Coeffs : (i+1)*a.Coeffs]
			stream.PushFrame(fr)
			zero.PushFrame(fr)
			if i+1 < a.Frames {
				continue
			}
			stream.StreamLogits(got)
			window.Forward(x[(i+1-a.Frames)*a.Coeffs:(i+1)*a.Coeffs], want)
			if !sameBits(got, want) {
				t.Fatalf("%+v: frame %d: stream %v, window %v", a, i, got, want)
			}
			zero.StreamLogits(dz)
			if d := maxAbsDiff(dz, got); !(d <= 1e-3) {
				t.Fatalf("%+v: frame %d: delta at theta 0 off the dense stream by %.3g", a, i, d)
			}
		}
	})
}
