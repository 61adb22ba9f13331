package engine

import (
	"testing"
	"time"

	"github.com/wakewordd/wakewordd/detect"
	"github.com/wakewordd/wakewordd/frontend"
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

func newEngine(t *testing.T, frames int, hop time.Duration, s Scorer, onDet func(detect.Detection)) *Engine {
	t.Helper()
	classes := []string{"silence", "unknown", "alexa"}
	det, err := detect.New(classes, detect.Rule{Enabled: true, Threshold: 0.5, Smoothing: 1, Patience: 1, Refractory: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Frames: frames, Classes: 3, Hop: hop, Frontend: frontend.DefaultParams(), OnDetect: onDet}, s, det)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestWindowsAndHops(t *testing.T) {
	rec := &recorder{k: 40}
	var dets []detect.Detection
	e := newEngine(t, 5, 20*time.Millisecond, rec, func(d detect.Detection) { dets = append(dets, d) })
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
	// Frame 10 ends at (10*160 + 480) / 16000 s = 130 ms.
	if len(dets) != 1 || dets[0].Keyword != "alexa" || dets[0].At != 130*time.Millisecond {
		t.Fatalf("detections %+v", dets)
	}
	e.Reset()
	if e.Inferences() != 0 {
		t.Fatal("Reset kept the count")
	}
}

func TestBadHop(t *testing.T) {
	det, _ := detect.New([]string{"alexa"}, detect.Rule{Enabled: true, Threshold: 0.5, Smoothing: 1, Patience: 1}, nil)
	for _, hop := range []time.Duration{0, 15 * time.Millisecond} {
		if _, err := New(Config{Frames: 5, Classes: 1, Hop: hop, Frontend: frontend.DefaultParams()}, &recorder{k: 40}, det); err == nil {
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
