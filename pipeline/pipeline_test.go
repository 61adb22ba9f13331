package pipeline

import (
	"context"
	"errors"
	"io"
	"math"
	"testing"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/frontend"
)

// sliceSource serves samples in uneven pieces, then ends with err (io.EOF by default).
type sliceSource struct {
	x      []float32
	piece  int
	err    error
	closed bool
}

func (s *sliceSource) Rate() int { return 16000 }
func (s *sliceSource) Close() error {
	s.closed = true
	return nil
}
func (s *sliceSource) Read(p []float32) (int, error) {
	if len(s.x) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), s.piece)], s.x)
	s.x = s.x[n:]
	s.piece = s.piece%97 + 13 // vary the chunking
	return n, nil
}

func sine(n int, amp float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(amp * math.Sin(2*math.Pi*1000*float64(i)/16000))
	}
	return x
}

func TestFramesEqualTheBatchFrontend(t *testing.T) {
	x := sine(16000, 0.5)
	for i := range x {
		x[i] += float32(i%7) * 1e-3
	}
	want, err := frontend.Compute(x, frontend.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	src := &sliceSource{x: x, piece: 50}
	var got [][]float32
	var indices []uint64
	p, err := New(src, frontend.DefaultParams(), func(i uint64, f []float32) {
		indices = append(indices, i)
		got = append(got, append([]float32(nil), f...))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(want) != 98 {
		t.Fatalf("%d frames, want %d (= 98 for 1 s)", len(got), len(want))
	}
	for i := range want {
		if indices[i] != uint64(i) {
			t.Fatalf("frame %d has index %d", i, indices[i])
		}
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("frame %d coeff %d: %v, batch %v", i, j, got[i][j], want[i][j])
			}
		}
	}
	st := p.Stats()
	if st.Samples != 16000 || st.Frames != 98 || st.AudioSeconds() != 1 || !src.closed {
		t.Fatalf("stats %+v, closed %v", st, src.closed)
	}
	// A sine at amplitude 0.5 is at 20*log10(0.5/sqrt 2) = -9.03 dBFS RMS; the ramp adds little.
	rms, peak := p.Level(st.Samples)
	if math.Abs(rms+9.03) > 0.1 || math.Abs(peak-20*math.Log10(0.5+6e-3)) > 0.1 {
		t.Fatalf("level rms %.2f peak %.2f dBFS", rms, peak)
	}
	if rms, _ := p.Level(0); rms != SilenceDB {
		t.Fatalf("level of nothing = %v", rms)
	}
}

func TestSourceErrorIsReturned(t *testing.T) {
	boom := errors.New("device unplugged")
	p, err := New(&sliceSource{x: sine(1000, 0.1), piece: 100, err: boom}, frontend.DefaultParams(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want %v", err, boom)
	}
}

func TestWrongRateIsRefused(t *testing.T) {
	r := audio.NewRing(10)
	if _, err := New(rateSource{r, 48000}, frontend.DefaultParams(), nil); err == nil {
		t.Fatal("48 kHz source accepted")
	}
}

// rateSource makes a Ring a Source whose Read blocks like a microphone's.
type rateSource struct {
	*audio.Ring
	rate int
}

func (s rateSource) Rate() int    { return s.rate }
func (s rateSource) Close() error { s.Ring.Close(); return nil }

// Cancelling the context stops a pipeline blocked waiting for audio, and that is not an error.
func TestCancelStopsABlockedRead(t *testing.T) {
	ring := audio.NewRing(16000)
	p, err := New(rateSource{ring, 16000}, frontend.DefaultParams(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	ring.Write(sine(4800, 0.1))
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if f := p.Stats().Frames; f != 28 {
		t.Fatalf("%d frames from 0.3 s, want 28", f)
	}
}

func TestNoAllocationsPerChunk(t *testing.T) {
	p, err := New(&sliceSource{}, frontend.DefaultParams(), nil)
	if err != nil {
		t.Fatal(err)
	}
	chunk := sine(160, 0.3)
	p.process(chunk)
	p.process(chunk)
	p.process(chunk)
	if a := testing.AllocsPerRun(200, func() { p.process(chunk) }); a != 0 {
		t.Fatalf("%v allocations per 10 ms chunk", a)
	}
}
