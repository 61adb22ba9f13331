package main

import (
	"context"
	"io"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/wakewordd/wakewordd/frontend"
	"github.com/wakewordd/wakewordd/npy"
)

// noise is a 16 kHz source of n samples of noise, made as they are read.
type noise struct {
	left int
	rng  *rand.Rand
}

func (s *noise) Read(p []float32) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), s.left)
	for i := range p[:n] {
		p[i] = float32(s.rng.NormFloat64() * 0.1)
	}
	s.left -= n
	return n, nil
}
func (s *noise) Rate() int    { return 16000 }
func (s *noise) Close() error { return nil }

// features used to keep every frame in memory until the end (750 MB for a 2 GB WAV): the
// frames now go to the file as they come, so what it allocates does not grow with the
// input. 30 s and 5 min of audio must cost about the same; the frames of the longer one
// alone are 4.8 MB.
func TestFeaturesStreamToTheFile(t *testing.T) {
	p := frontend.DefaultParams()
	allocated := func(seconds int) (uint64, int) {
		dst := filepath.Join(t.TempDir(), "f.npy")
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		n, err := streamFeatures(context.Background(), &noise{left: seconds * 16000, rng: rand.New(rand.NewPCG(1, 2))}, dst, p)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		_, shape, err := npy.ReadFile(dst)
		if err != nil || len(shape) != 2 || shape[0] != n || shape[1] != p.NumCoeffs {
			t.Fatalf("%d s: %d frames, file shape %v, %v", seconds, n, shape, err)
		}
		return after.TotalAlloc - before.TotalAlloc, n
	}
	short, _ := allocated(30)
	long, frames := allocated(300)
	framesBytes := uint64(frames * p.NumCoeffs * 4)
	if long > short+framesBytes/8 {
		t.Errorf("300 s of audio allocate %d bytes, 30 s %d: the %d bytes of frames are held", long, short, framesBytes)
	}
	t.Logf("allocated %d bytes for 30 s, %d for 300 s (%d bytes of frames)", short, long, framesBytes)
}
