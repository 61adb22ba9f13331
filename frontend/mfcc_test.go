package frontend

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/wakewordd/wakewordd/kernels"
)

func randomAudio(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.Float64()*2-1) * 0.5
	}
	return x
}

// stream feeds x to m in chunks of the sizes next returns, draining frames
// after every Write, and returns all frames. A size of 0 is an empty Write
// followed by a 1-sample one, so the stream always advances.
func stream(m *MFCC, x []float32, next func() int) [][]float32 {
	var out [][]float32
	for len(x) > 0 {
		n := min(next(), len(x))
		if n == 0 {
			m.Write(x[:0]) // an empty Write, then make progress anyway
			n = 1
		}
		m.Write(x[:n])
		x = x[n:]
		for {
			f := make([]float32, m.NumCoeffs())
			if !m.Next(f) {
				break
			}
			out = append(out, f)
		}
	}
	return out
}

// sameFrames compares bit patterns, so NaN payloads and signed zeros count.
func sameFrames(t *testing.T, label string, got, want [][]float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d frames, batch has %d", label, len(got), len(want))
	}
	for i := range got {
		for k := range want[i] {
			if math.Float32bits(got[i][k]) != math.Float32bits(want[i][k]) {
				t.Fatalf("%s: frame %d coeff %d: stream %v, batch %v", label, i, k, got[i][k], want[i][k])
			}
		}
	}
}

func TestStreamingEqualsBatch(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    func(*Params)
	}{
		{"default", func(*Params) {}},
		{"odd window", func(p *Params) { p.WindowLen, p.Hop = 401, 97 }},
		{"hop > window", func(p *Params) { p.WindowLen, p.Hop, p.FFTSize, p.NumMels = 200, 300, 256, 40 }},
		{"hop = window", func(p *Params) { p.Hop = p.WindowLen }},
	} {
		p := DefaultParams()
		tc.p(&p)
		m, err := New(p)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		// The last frame ends exactly at the end of the audio, or 77 samples before.
		for _, n := range []int{p.WindowLen + 299*p.Hop, p.WindowLen + 299*p.Hop + 77} {
			x := randomAudio(uint64(n), n)
			want := m.Batch(x)
			if len(want) != p.FrameCount(len(x)) || len(want) != 300 {
				t.Fatalf("%s: batch gave %d frames, FrameCount %d, want 300", tc.name, len(want), p.FrameCount(len(x)))
			}
			for _, size := range []int{1, 7, 159, 160, 161, 479, 480, 481, 1000, 4096, 20000, len(x)} {
				m.Reset()
				sameFrames(t, tc.name, stream(m, x, func() int { return size }), want)
				if m.FramesEmitted() != uint64(len(want)) {
					t.Fatalf("%s: FramesEmitted %d, want %d", tc.name, m.FramesEmitted(), len(want))
				}
			}
			r := rand.New(rand.NewPCG(2, 3))
			for trial := 0; trial < 20; trial++ {
				m.Reset()
				// Zero-length writes included; occasionally a large one.
				sizes := func() int {
					if r.IntN(10) == 0 {
						return r.IntN(5000)
					}
					return r.IntN(300)
				}
				sameFrames(t, tc.name+" random chunks", stream(m, x, sizes), want)
			}
		}
	}
}

// A frame depends on its own samples only: dropping one hop of audio drops
// exactly the first frame.
func TestFrameCoversItsSamplesOnly(t *testing.T) {
	p := DefaultParams()
	m, _ := New(p)
	x := randomAudio(4, p.SampleRate)
	all := m.Batch(x)
	sameFrames(t, "shifted", m.Batch(x[p.Hop:]), all[1:])
	if got := m.Batch(x[:p.WindowLen-1]); len(got) != 0 {
		t.Fatalf("%d frames from WindowLen-1 samples", len(got))
	}
	// Changing sample WindowLen (outside frame 0) leaves frame 0 alone.
	y := append([]float32(nil), x...)
	y[p.WindowLen] = 0.9
	sameFrames(t, "frame 0", m.Batch(y)[:1], all[:1])
}

func TestFrameCount(t *testing.T) {
	p := DefaultParams()
	for _, c := range []struct{ n, want int }{
		{0, 0}, {479, 0}, {480, 1}, {639, 1}, {640, 2}, {16000, 98}, {24000, 148},
	} {
		if got := p.FrameCount(c.n); got != c.want {
			t.Errorf("FrameCount(%d) = %d, want %d", c.n, got, c.want)
		}
	}
	if p.FramesPerSecond() != 100 {
		t.Errorf("FramesPerSecond = %v, want 100", p.FramesPerSecond())
	}
}

func TestResetAndAccessors(t *testing.T) {
	p := DefaultParams()
	m, _ := New(p)
	if m.NumCoeffs() != 40 || m.Params() != p {
		t.Fatalf("NumCoeffs %d, Params %+v", m.NumCoeffs(), m.Params())
	}
	x := randomAudio(5, 1000)
	first := stream(m, x, func() int { return 333 })
	m.Write(x[:100]) // partial data that Reset must discard
	m.Reset()
	if m.FramesEmitted() != 0 {
		t.Fatalf("FramesEmitted %d after Reset", m.FramesEmitted())
	}
	sameFrames(t, "after Reset", stream(m, x, func() int { return 1000 }), first)
}

func TestNextShortDstPanics(t *testing.T) {
	m, _ := New(DefaultParams())
	m.Write(make([]float32, 480))
	defer func() {
		if recover() == nil {
			t.Fatal("Next with a short dst did not panic")
		}
	}()
	m.Next(make([]float32, 39))
}

func TestComputeRejectsBadParams(t *testing.T) {
	p := DefaultParams()
	p.NumCoeffs = 0
	if _, err := Compute(make([]float32, 1000), p); err == nil {
		t.Fatal("Compute accepted NumCoeffs 0")
	}
}

func TestSteadyStateAllocs(t *testing.T) {
	p := DefaultParams()
	m, _ := New(p)
	chunk := randomAudio(6, p.Hop)
	dst := make([]float32, p.NumCoeffs)
	for i := 0; i < 10; i++ {
		m.Write(chunk)
		m.Next(dst)
	}
	ok := true
	allocs := testing.AllocsPerRun(1000, func() {
		m.Write(chunk)
		ok = ok && m.Next(dst) && !m.Next(dst)
	})
	if !ok {
		t.Fatal("160 samples did not yield exactly one frame")
	}
	if allocs != 0 {
		t.Fatalf("%v allocations per 160-sample Write + Next, want 0", allocs)
	}
}

func FuzzStreamingEqualsBatch(f *testing.F) {
	seed := make([]byte, 4*600)
	for i := 0; i < len(seed); i += 4 {
		binary.LittleEndian.PutUint32(seed[i:], math.Float32bits(float32(math.Sin(float64(i)))))
	}
	f.Add(seed, []byte{1, 7, 159, 160, 161})
	f.Add(seed[:400], []byte{0, 255, 3})
	f.Add([]byte{0, 0, 0x80, 0x7f, 0, 0, 0xc0, 0x7f}, []byte{}) // +Inf, NaN
	m, err := New(DefaultParams())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, audio, chunks []byte) {
		// Samples are raw float32 bits, so the fuzzer reaches huge, tiny and
		// non-finite values too; short inputs are tiled to several frames.
		raw := len(audio) / 4
		if raw == 0 {
			return
		}
		x := make([]float32, max(raw, 2000))
		for i := range x {
			x[i] = math.Float32frombits(binary.LittleEndian.Uint32(audio[4*(i%raw):]))
		}
		x = x[:min(len(x), 20000)]
		i := 0
		next := func() int {
			if len(chunks) == 0 {
				return 1
			}
			b := int(chunks[i%len(chunks)])
			i++
			return b * (1 + b%5) // 0..1275
		}
		want := m.Batch(x)
		m.Reset()
		sameFrames(t, "fuzz", stream(m, x, next), want)
	})
}

func BenchmarkMFCC(b *testing.B) {
	p := DefaultParams()
	m, _ := New(p)
	chunk := randomAudio(7, p.Hop)
	dst := make([]float32, p.NumCoeffs)
	b.ReportAllocs()
	for b.Loop() {
		m.Write(chunk)
		m.Next(dst)
	}
	fps := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(fps, "frames/s")
	b.ReportMetric(fps/p.FramesPerSecond(), "x_realtime")
}

func BenchmarkRealFFT512(b *testing.B) {
	f := kernels.NewRealFFT(512)
	x := randomAudio(8, 512)
	mag := make([]float32, 257)
	for b.Loop() {
		f.Magnitude(mag, x)
	}
}
