package engine

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/wakewordd/wakewordd/frontend"
	"github.com/wakewordd/wakewordd/infer"
)

// recorder remembers the first coefficient of every frame of each window it scores and
// votes for class 2 when the newest frame's value is at least 100.
type recorder struct {
	k       int
	windows [][]float32
}

func (r *recorder) Forward(window, logits []float32) {
	var firsts []float32
	for i := 0; i < len(window); i += r.k {
		firsts = append(firsts, window[i])
	}
	r.windows = append(r.windows, firsts)
	clear(logits)
	if window[len(window)-r.k] >= 100 {
		logits[2] = 10
	}
}

func newEngine(t *testing.T, frames int, hop time.Duration, s Scorer, onPost PosteriorFunc) *Engine {
	t.Helper()
	e, err := New(Config{Frames: frames, Classes: 3, Hop: hop, Frontend: frontend.DefaultParams(), OnPosteriors: onPost}, s)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestWindowsAndHops(t *testing.T) {
	rec := &recorder{k: 40}
	type hop struct {
		at    time.Duration
		alexa float32
	}
	var hops []hop
	e := newEngine(t, 5, 20*time.Millisecond, rec, func(at time.Duration, p []float32) { hops = append(hops, hop{at, p[2]}) })
	frame := make([]float32, 40)
	for i := 0; i < 12; i++ {
		frame[0] = float32(i)
		if i == 10 {
			frame[0] = 100
		}
		e.PushFrame(uint64(i), frame)
	}
	// Windows complete after frames 4, 6, 8, 10 (every 2 frames).
	want := [][]float32{{0, 1, 2, 3, 4}, {2, 3, 4, 5, 6}, {4, 5, 6, 7, 8}, {6, 7, 8, 9, 100}}
	if len(rec.windows) != len(want) || e.Inferences() != 4 {
		t.Fatalf("%d windows, want %d", len(rec.windows), len(want))
	}
	for i := range want {
		for j := range want[i] {
			if rec.windows[i][j] != want[i][j] {
				t.Fatalf("window %d = %v, want %v", i, rec.windows[i], want[i])
			}
		}
	}
	// Frame 10 ends at (10*160 + 480) / 16000 s = 130 ms; only that window holds the keyword.
	if len(hops) != 4 || hops[3].at != 130*time.Millisecond || hops[3].alexa < 0.99 || hops[2].alexa > 0.5 || hops[0].at != 70*time.Millisecond {
		t.Fatalf("posteriors %+v", hops)
	}
	e.Reset()
	if e.Inferences() != 0 {
		t.Fatal("Reset kept the count")
	}
}

func TestBadHop(t *testing.T) {
	for _, hop := range []time.Duration{0, -10 * time.Millisecond, 15 * time.Millisecond, 3 * time.Second} {
		if _, err := New(Config{Frames: 5, Classes: 1, Hop: hop, Frontend: frontend.DefaultParams()}, &recorder{k: 40}); err == nil {
			t.Errorf("hop %v accepted", hop)
		}
	}
}

type constScorer struct{}

func (constScorer) Forward(_, logits []float32) { logits[0] = 1 }

func TestPushFrameDoesNotAllocate(t *testing.T) {
	e := newEngine(t, 10, 10*time.Millisecond, constScorer{}, nil)
	frame := make([]float32, 40)
	var i uint64
	if a := testing.AllocsPerRun(500, func() { e.PushFrame(i, frame); i++ }); a != 0 {
		t.Fatalf("%v allocations per frame", a)
	}
}

// opsScorer is a FrameScorer with op counts: an infer.Pass.
type opsScorer interface {
	FrameScorer
	Ops() infer.OpCounts
}

// runStream pushes frames through an engine over s (hop 100 ms) and returns every hop's
// posteriors.
func runStream(t *testing.T, m *infer.Model, s Scorer, frames [][]float32, noReuse bool) [][]float32 {
	t.Helper()
	var out [][]float32
	e, err := New(Config{Frames: m.Arch.Frames, Classes: len(m.Classes), Hop: 100 * time.Millisecond, Frontend: m.Frontend,
		NoReuse: noReuse, OnPosteriors: func(_ time.Duration, p []float32) { out = append(out, append([]float32(nil), p...)) }}, s)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		e.PushFrame(uint64(i), f)
	}
	return out
}

// randomFrames returns n frames of normal noise, the same every time.
func randomFrames(n, coeffs int) [][]float32 {
	rng := rand.New(rand.NewPCG(1, 2))
	frames := make([][]float32, n)
	for i := range frames {
		frames[i] = make([]float32, coeffs)
		for j := range frames[i] {
			frames[i][j] = float32(rng.NormFloat64())
		}
	}
	return frames
}

// Reusing each frame's projection gives the same posteriors, bit for bit, as projecting
// every window afresh, for the dense and the delta pass; and the embedding MACs per second
// of audio drop from Frames per hop to one projection per frame.
func TestFrameReuse(t *testing.T) {
	a := infer.Arch{Dim: 16, Depth: 2, Heads: 2, MLPDim: 32, Frames: 50, Coeffs: 40, NumClasses: 4, NormEps: 1e-6, Norm: "post"}
	m, err := infer.Random(a, 3)
	if err != nil {
		t.Fatal(err)
	}
	frames := randomFrames(300, a.Coeffs) // 3 s
	th := infer.UniformThresholds(a.Depth, 0.3)
	for name, mk := range map[string]func() opsScorer{
		"dense": func() opsScorer { return m.NewDense() },
		"delta": func() opsScorer { return m.NewDelta(th) },
	} {
		direct, reused := mk(), mk()
		want := runStream(t, m, direct, frames, true)
		got := runStream(t, m, reused, frames, false)
		if len(want) != 26 || len(got) != len(want) { // (300-50)/10 + 1 windows
			t.Fatalf("%s: %d and %d windows", name, len(want), len(got))
		}
		for i := range want {
			if !sameBits(got[i], want[i]) {
				t.Fatalf("%s: window %d: reused %v, direct %v", name, i, got[i], want[i])
			}
		}
		perFrame := int64(a.Coeffs * a.Dim)
		od, or := direct.Ops(), reused.Ops()
		if e := od.Model[infer.OpEmbed].Executed; e != 26*50*perFrame {
			t.Errorf("%s without reuse: %d embed MACs, want %d", name, e, 26*50*perFrame)
		}
		if e := or.Model[infer.OpEmbed].Executed; e != 300*perFrame {
			t.Errorf("%s with reuse: %d embed MACs, want one projection per frame, %d", name, e, 300*perFrame)
		}
		if od.Total().Dense != or.Total().Dense || od.Windows != or.Windows {
			t.Errorf("%s: dense counts differ: %+v vs %+v", name, od.Total(), or.Total())
		}
		t.Logf("%s: embed MACs per second of audio: %d without reuse, %d with", name,
			od.Model[infer.OpEmbed].Executed/3, or.Model[infer.OpEmbed].Executed/3)
	}
}

func TestPushFrameWithDeltaDoesNotAllocate(t *testing.T) {
	a := infer.Arch{Dim: 8, Depth: 1, Heads: 2, MLPDim: 8, Frames: 10, Coeffs: 40, NumClasses: 3, NormEps: 1e-6, Norm: "post"}
	m, err := infer.Random(a, 4)
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, 10, 10*time.Millisecond, m.NewDelta(infer.UniformThresholds(1, 0.1)), nil)
	frame := make([]float32, 40)
	var i uint64
	if a := testing.AllocsPerRun(500, func() { frame[0] = float32(i % 7); e.PushFrame(i, frame); i++ }); a != 0 {
		t.Fatalf("%v allocations per frame", a)
	}
}

// A streaming model runs each frame through the network once: its posteriors equal bit for
// bit those of scoring every window afresh (dense), the MACs per second of audio drop by
// about the window's length in hops, and Reset starts the stream anew.
func TestStreamingModel(t *testing.T) {
	a := infer.Arch{Dim: 16, Depth: 2, Heads: 2, MLPDim: 32, Frames: 50, Coeffs: 40, NumClasses: 4, NormEps: 1e-6, Norm: "post", Context: 8}
	m, err := infer.Random(a, 3)
	if err != nil {
		t.Fatal(err)
	}
	frames := randomFrames(300, a.Coeffs) // 3 s
	direct, streamed := m.NewDense(), m.NewDense()
	want := runStream(t, m, direct, frames, true)
	got := runStream(t, m, streamed, frames, false)
	if len(want) != 26 || len(got) != len(want) {
		t.Fatalf("%d and %d windows", len(want), len(got))
	}
	for i := range want {
		if !sameBits(got[i], want[i]) {
			t.Fatalf("window %d: streamed %v, whole windows %v", i, got[i], want[i])
		}
	}
	whole, streamMACs := direct.Ops().Total().Executed, streamed.Ops().Total().Executed
	if ratio := float64(whole) / float64(streamMACs); ratio < 4 {
		t.Errorf("whole windows run %d MACs, the stream %d: only %.1fx fewer", whole, streamMACs, ratio)
	}
	t.Logf("MACs for 3 s: %d scoring whole windows, %d streaming (%.1fx)", whole, streamMACs, float64(whole)/float64(streamMACs))

	// A delta stream stays close to the dense one.
	delta := m.NewDelta(infer.UniformThresholds(a.Depth, 0.05, infer.DeltaQKV, infer.DeltaOut))
	for i, p := range runStream(t, m, delta, frames, false) {
		for c := range p {
			if d := math.Abs(float64(p[c] - want[i][c])); d > 0.05 {
				t.Fatalf("delta stream, window %d: posterior %v, dense %v", i, p, want[i])
			}
		}
	}

	var first [][]float32
	e, err := New(Config{Frames: a.Frames, Classes: a.NumClasses, Hop: 100 * time.Millisecond, Frontend: m.Frontend,
		OnPosteriors: func(_ time.Duration, p []float32) { first = append(first, append([]float32(nil), p...)) }}, streamed)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames[100:] { // a stream that starts elsewhere
		e.PushFrame(uint64(i), f)
	}
	e.Reset()
	first = nil
	for i, f := range frames {
		e.PushFrame(uint64(i), f)
	}
	for i := range want {
		if !sameBits(first[i], want[i]) {
			t.Fatalf("after Reset, window %d: %v, want %v", i, first[i], want[i])
		}
	}
}

func TestPushFrameStreamingDoesNotAllocate(t *testing.T) {
	a := infer.Arch{Dim: 8, Depth: 1, Heads: 2, MLPDim: 8, Frames: 10, Coeffs: 40, NumClasses: 3, NormEps: 1e-6, Norm: "post", Context: 4}
	m, err := infer.Random(a, 4)
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, 10, 10*time.Millisecond, m.NewDelta(infer.UniformThresholds(1, 0.1, infer.DeltaQKV)), nil)
	frame := make([]float32, 40)
	var i uint64
	if a := testing.AllocsPerRun(500, func() { frame[0] = float32(i % 7); e.PushFrame(i, frame); i++ }); a != 0 {
		t.Fatalf("%v allocations per frame", a)
	}
}
