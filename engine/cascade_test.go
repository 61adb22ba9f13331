package engine

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wakewordd/wakewordd/infer"
)

// cascadeModels returns a window model and a streaming gate over the same classes, window
// and frontend, and 3 s of frames.
func cascadeModels(t *testing.T) (judge, gate *infer.Model, frames [][]float32) {
	t.Helper()
	a := infer.Arch{Dim: 16, Depth: 2, Heads: 2, MLPDim: 32, Frames: 50, Coeffs: 40, NumClasses: 4, NormEps: 1e-6, Norm: "post"}
	judge, err := infer.Random(a, 3)
	if err != nil {
		t.Fatal(err)
	}
	a.Context = 8
	if gate, err = infer.Random(a, 4); err != nil {
		t.Fatal(err)
	}
	return judge, gate, randomFrames(300, a.Coeffs)
}

// gateProbs is the gate's best keyword posterior at every hop.
func gateProbs(t *testing.T, gate *infer.Model, frames [][]float32) []float32 {
	var best []float32
	for _, p := range runStream(t, gate, gate.NewDense(), frames, false) {
		best = append(best, max(p[2], p[3]))
	}
	return best
}

// The detector sees the judge's posteriors exactly at the hops where the gate is open
// (its keyword posterior reached the threshold within the last Hold hops) and the gate's
// elsewhere; the judge runs at those hops only.
func TestCascadeGatesTheJudge(t *testing.T) {
	judge, gate, frames := cascadeModels(t)
	gp := gateProbs(t, gate, frames)
	judged := runStream(t, judge, judge.NewDelta(infer.UniformThresholds(2, 0.2)), frames, false)
	gated := runStream(t, gate, gate.NewDense(), frames, false)
	// A threshold at the median of the gate's posteriors opens it about half the time.
	sorted := append([]float32(nil), gp...)
	for i := range sorted {
		for j := i + 1; j < len(sorted); j++ {
			if sorted[j] < sorted[i] {
				sorted[i], sorted[j] = sorted[j], sorted[i]
			}
		}
	}
	threshold := sorted[len(sorted)/2]
	for _, hold := range []int{0, 1, 3} {
		c, err := Gate(gate, judge, judge.NewDelta(infer.UniformThresholds(2, 0.2)), float64(threshold), hold, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := runStream(t, judge, c, frames, false)
		if len(got) != len(judged) {
			t.Fatalf("%d hops, want %d", len(got), len(judged))
		}
		left, want := 0, 0
		for i := range got {
			if gp[i] >= threshold {
				left = hold + 1
			}
			from := gated[i]
			if left > 0 {
				from, left = judged[i], left-1
				want++
			}
			if !sameBits(got[i], from) {
				t.Fatalf("hold %d, hop %d: posteriors %v, want %v", hold, i, got[i], from)
			}
		}
		hops, n := c.Judged()
		if hops != uint64(len(got)) || n != uint64(want) || want == 0 || want == len(got) {
			t.Errorf("hold %d: judged %d of %d hops, want %d of %d", hold, n, hops, want, len(got))
		}
		t.Logf("threshold %.3f, hold %d: the judge scored %d of %d hops", threshold, hold, n, hops)
	}
}

// A gate that never opens leaves every decision to nothing: no detection, the judge idle;
// one that always opens gives the judge's detections.
func TestCascadeExtremes(t *testing.T) {
	judge, gate, frames := cascadeModels(t)
	c, err := Gate(gate, judge, judge.NewDense(), 1, 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	clear(gate.Weights.HeadW) // the gate's posteriors: uniform, 0.25, never 1
	runStream(t, judge, c, frames, false)
	if _, n := c.Judged(); n != 0 {
		t.Errorf("a closed gate let the judge score %d hops", n)
	}
	always, err := Gate(gate, judge, judge.NewDense(), 0.01, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := runStream(t, judge, judge.NewDense(), frames, false)
	for i, p := range runStream(t, judge, always, frames, false) {
		if !sameBits(p, want[i]) {
			t.Fatalf("hop %d: an open gate gave %v, the judge alone %v", i, p, want[i])
		}
	}
	// Reset closes the gate and starts both streams again: the same posteriors twice.
	var got [][]float32
	e, err := New(Config{Frames: 50, Classes: 4, Hop: 100 * time.Millisecond, Frontend: judge.Frontend,
		OnPosteriors: func(_ time.Duration, p []float32) { got = append(got, append([]float32(nil), p...)) }}, always)
	if err != nil {
		t.Fatal(err)
	}
	run := func(fs [][]float32) [][]float32 {
		e.Reset()
		got = nil
		for i, f := range fs {
			e.PushFrame(uint64(i), f)
		}
		return got
	}
	first := run(frames[30:])
	run(frames[:100])
	again := run(frames[30:])
	if len(first) == 0 || len(again) != len(first) {
		t.Fatalf("%d and %d hops", len(first), len(again))
	}
	for i := range first {
		if !sameBits(first[i], again[i]) {
			t.Fatalf("after Reset, hop %d: %v, first time %v", i, again[i], first[i])
		}
	}
}

// sameBits reports whether a and b hold the same float32 bits.
func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

func TestCascadeRejects(t *testing.T) {
	judge, gate, _ := cascadeModels(t)
	other := *gate
	other.Classes = []string{"silence", "unknown", "kw2", "other"}
	long := *gate
	long.Arch.Frames = 60
	for _, tc := range []struct {
		gate      *infer.Model
		threshold float64
		hold      int
		fuse      float64
		want      string
	}{
		{judge, 0.1, 5, 0, "not a streaming model"},
		{&other, 0.1, 5, 0, "classes"},
		{&long, 0.1, 5, 0, "window of 60 frames"},
		{gate, 0, 5, 0, "threshold"},
		{gate, 1.5, 5, 0, "threshold"},
		{gate, math.NaN(), 5, 0, "threshold"},
		{gate, 0.1, -1, 0, "hold"},
		{gate, 0.1, 1, 1, "fuse"},
		{gate, 0.1, 1, -0.1, "fuse"},
		{gate, 0.1, 1, math.NaN(), "fuse"},
	} {
		if _, err := Gate(tc.gate, judge, judge.NewDense(), tc.threshold, tc.hold, tc.fuse); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("threshold %v, hold %d, fuse %v: %v, want an error about %s", tc.threshold, tc.hold, tc.fuse, err, tc.want)
		}
	}
}

// With Fuse w a judged hop reports the normalised product judge^(1-w) * gate^w of the two
// models' posteriors (the softmax of the blend of their logits); a closed gate's hops stay
// the gate's alone.
func TestCascadeFuse(t *testing.T) {
	judge, gate, frames := cascadeModels(t)
	alone := runStream(t, judge, judge.NewDense(), frames, false)
	gp := runStream(t, gate, gate.NewDense(), frames, false)
	for _, w := range []float64{0.3, 0.5} {
		c, err := Gate(gate, judge, judge.NewDense(), 0.01, 0, w)
		if err != nil {
			t.Fatal(err)
		}
		got := runStream(t, judge, c, frames, false)
		if _, n := c.Judged(); n == 0 {
			t.Fatal("the gate never opened")
		}
		moved := false
		for i := range got {
			var sum float64
			want := make([]float64, len(got[i]))
			for k := range want {
				want[k] = math.Pow(float64(alone[i][k]), 1-w) * math.Pow(float64(gp[i][k]), w)
				sum += want[k]
			}
			for k := range want {
				if d := math.Abs(float64(got[i][k]) - want[k]/sum); d > 1e-5 {
					t.Fatalf("fuse %v, hop %d, class %d: %v, want %v", w, i, k, got[i][k], want[k]/sum)
				}
				moved = moved || math.Abs(float64(got[i][k]-alone[i][k])) > 1e-3
			}
		}
		if !moved {
			t.Errorf("fuse %v: the posteriors are the judge's alone", w)
		}
	}
	closed, err := Gate(gate, judge, judge.NewDense(), 1, 0, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	clear(gate.Weights.HeadW) // uniform: never opens
	gp = runStream(t, gate, gate.NewDense(), frames, false)
	for i, p := range runStream(t, judge, closed, frames, false) {
		if !sameBits(p, gp[i]) {
			t.Fatalf("closed gate, hop %d: %v, the gate's %v", i, p, gp[i])
		}
	}
}

func TestCascadeDoesNotAllocate(t *testing.T) {
	judge, gate, frames := cascadeModels(t)
	c, err := Gate(gate, judge, judge.NewDelta(infer.UniformThresholds(2, 0.1)), 0.01, 2, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Frames: 50, Classes: 4, Hop: 10 * time.Millisecond, Frontend: judge.Frontend}, c)
	if err != nil {
		t.Fatal(err)
	}
	var i uint64
	if a := testing.AllocsPerRun(300, func() { e.PushFrame(i, frames[i%300]); i++ }); a != 0 {
		t.Fatalf("%v allocations per frame", a)
	}
}
