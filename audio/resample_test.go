package audio

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/wakewordd/wakewordd/kernels"
)

// tone returns n samples of amp*sin(2*pi*freq*t) at rate, computed in float64.
func tone(n, rate int, freq, amp float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return x
}

// resampleAll runs a fresh resampler over x in one call with ample output room.
func resampleAll(t testing.TB, in, out int, x []float32) ([]float32, *Resampler) {
	t.Helper()
	r, err := NewResampler(in, out)
	if err != nil {
		t.Fatal(err)
	}
	y := make([]float32, int(r.OutLen(int64(len(x))))+2)
	n, m := r.Process(y, x)
	if m != len(x) {
		t.Fatalf("%d->%d: consumed %d of %d inputs", in, out, m, len(x))
	}
	return y[:n], r
}

// toneAmp fits a*sin + b*cos at freq to y and returns the amplitude. Over a whole number
// of periods the two are orthogonal, so this is exact for a pure tone.
func toneAmp(y []float32, rate int, freq float64) float64 {
	var s, c float64
	for i, v := range y {
		ph := 2 * math.Pi * freq * float64(i) / float64(rate)
		s += float64(v) * math.Sin(ph)
		c += float64(v) * math.Cos(ph)
	}
	return 2 * math.Hypot(s, c) / float64(len(y))
}

func rms(y []float32) float64 {
	var s float64
	for _, v := range y {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(y)))
}

func dB(x float64) float64 { return 20 * math.Log10(x) }

// measureTone resamples a tone of amplitude 0.5 and returns its output level relative
// to the input in dB, over one second of output after the filter has warmed up.
func measureTone(t testing.TB, in, out int, freq float64) (gainDB float64, r *Resampler) {
	t.Helper()
	const amp = 0.5
	x := tone(3*in, in, freq, amp) // 3 s: warm-up, 1 s measured, slack
	y, r := resampleAll(t, in, out, x)
	warm := 2*r.Delay() + out/10
	seg := y[warm : warm+out] // exactly 1 s: a whole number of periods of any integer freq
	if freq < float64(min(in, out))/2 {
		return dB(toneAmp(seg, out, freq) / amp), r
	}
	// Above the output's Nyquist the tone aliases; what is left is all leakage.
	return dB(rms(seg) / (amp / math.Sqrt2)), r
}

func TestResamplerPassband(t *testing.T) {
	for _, tc := range []struct {
		in, out int
		freq    float64
		tolDB   float64
	}{
		{8000, 16000, 1000, 0.1},
		{22050, 16000, 1000, 0.1},
		{44100, 16000, 1000, 0.1},
		{48000, 16000, 1000, 0.1},
		{11025, 16000, 1000, 0.1},
		{32000, 16000, 1000, 0.1},
		{96000, 16000, 1000, 0.1},
		{16000, 48000, 1000, 0.1},
		{44100, 16000, 7000, 0.5},  // near the passband edge (7.2 kHz)
		{48000, 16000, 7000, 0.5},  //
		{8000, 16000, 3500, 0.5},   // upsampling, near the input's passband edge
		{16000, 44100, 7000, 0.5},  //
		{44100, 48000, 19000, 0.5}, // between two high rates
	} {
		g, r := measureTone(t, tc.in, tc.out, tc.freq)
		t.Logf("%6d -> %6d Hz, %5.0f Hz tone: %+.5f dB (taps %d, delay %d)", tc.in, tc.out, tc.freq, g, r.Taps(), r.Delay())
		if math.Abs(g) > tc.tolDB {
			t.Errorf("%d -> %d Hz: %.0f Hz tone changed by %+.4f dB; want within %.2f dB", tc.in, tc.out, tc.freq, g, tc.tolDB)
		}
	}
}

func TestResamplerStopband(t *testing.T) {
	for _, tc := range []struct {
		in, out int
		freq    float64
		minDB   float64
	}{
		{48000, 16000, 9000, 60},
		{44100, 16000, 9000, 60},
		{48000, 16000, 12000, 60},
		{96000, 16000, 30000, 60},
		{22050, 16000, 10000, 60},
		{16000, 48000, 9000, 60}, // upsampling: the image of a 7 kHz tone
		// What a halving stage must remove: it would alias onto 0-8 kHz at half the rate.
		{48000, 16000, 16500, 80},
		{44100, 16000, 15000, 80},
		{96000, 16000, 41000, 80},
		{96000, 16000, 17000, 80},
	} {
		var g float64
		if tc.in < tc.out {
			// An image, not an input tone: feed 7 kHz and measure what lands at fs_in - 7k.
			const amp = 0.5
			x := tone(3*tc.in, tc.in, float64(tc.in)-tc.freq, amp)
			y, r := resampleAll(t, tc.in, tc.out, x)
			seg := y[2*r.Delay()+tc.out/10:][:tc.out]
			g = dB(toneAmp(seg, tc.out, tc.freq) / amp)
		} else {
			g, _ = measureTone(t, tc.in, tc.out, tc.freq)
		}
		t.Logf("%6d -> %6d Hz, %5.0f Hz: attenuated by %.1f dB", tc.in, tc.out, tc.freq, -g)
		if -g < tc.minDB {
			t.Errorf("%d -> %d Hz: %.0f Hz only attenuated by %.1f dB; want >= %.0f dB", tc.in, tc.out, tc.freq, -g, tc.minDB)
		}
	}
}

// TestResamplerReport logs the measured response of the 48 kHz -> 16 kHz converter across
// the stopband (run with -v). It also holds the design figure: every tone at or above the
// output's Nyquist frequency is down by at least 80 dB.
func TestResamplerReport(t *testing.T) {
	for _, f := range []float64{1000, 4000, 7000, 7200, 8050, 8500, 9000, 10000, 12000, 15000, 16000, 16500, 17000, 20000, 23000} {
		g, r := measureTone(t, 48000, 16000, f)
		switch {
		case f < 8000:
			t.Logf("48k->16k %6.0f Hz: %+8.4f dB (passband)", f, g)
		default:
			t.Logf("48k->16k %6.0f Hz: %8.1f dB attenuation", f, -g)
			if -g < 80 {
				t.Errorf("48k->16k: %.0f Hz attenuated by only %.1f dB; the design promises 80", f, -g)
			}
		}
		_ = r
	}
}

// TestResamplerStopbandScan holds the design figure across the whole stopband: every
// tone from 8 kHz to the input's Nyquist frequency, 100 Hz apart, comes out at least
// designAttenuation down, cascades (48, 44.1 and 96 kHz) included, and their passband
// edge stays flat. It also checks that those rates take the cheaper cascade.
func TestResamplerStopbandScan(t *testing.T) {
	if testing.Short() {
		t.Skip("hundreds of tones")
	}
	for _, tc := range []struct{ in, stages, maxTaps int }{{48000, 2, 215}, {44100, 2, 205}, {96000, 3, 280}, {32000, 1, 217}} {
		worst, at := math.Inf(1), 0.0
		for f := 8000.0; f < float64(tc.in)/2; f += 100 {
			g, _ := measureTone(t, tc.in, 16000, f)
			if -g < worst {
				worst, at = -g, f
			}
		}
		edge, r := measureTone(t, tc.in, 16000, 7200)
		t.Logf("%6d -> 16000 Hz: %d stages, %d taps per output; stopband %.1f dB at worst (%.0f Hz); 7.2 kHz %+.4f dB",
			tc.in, len(r.stages), r.Taps(), worst, at, edge)
		if worst < designAttenuation {
			t.Errorf("%d -> 16000 Hz: %.0f Hz attenuated by only %.1f dB; the design promises %.0f", tc.in, at, worst, designAttenuation)
		}
		if math.Abs(edge) > 0.01 {
			t.Errorf("%d -> 16000 Hz: the passband edge moved by %+.4f dB", tc.in, edge)
		}
		if len(r.stages) != tc.stages || r.Taps() > tc.maxTaps {
			t.Errorf("%d -> 16000 Hz: %d stages, %d taps per output; want %d stages, at most %d", tc.in, len(r.stages), r.Taps(), tc.stages, tc.maxTaps)
		}
	}
}

// TestResamplerLength: n inputs give one output per output instant k/out before n/in,
// ceil(n*out/in), through Resample (aligned for the delay). Process alone, unaligned,
// gives as many from one stage; a cascade (48 and 44.1 kHz to 16) may give one more, an
// output whose window ends an input before its instant.
func TestResamplerLength(t *testing.T) {
	for _, rates := range [][2]int{{8000, 16000}, {11025, 16000}, {22050, 16000}, {32000, 16000},
		{44100, 16000}, {48000, 16000}, {96000, 16000}, {16000, 44100}, {16000, 48000}} {
		in, out := rates[0], rates[1]
		for _, n := range []int{0, 1, 2, 3, 441, in/3 + 7, 2 * in} {
			want := int64(math.Ceil(float64(n) * float64(out) / float64(in)))
			y, r := resampleAll(t, in, out, make([]float32, n))
			if got := int64(len(y)); got != want && !(len(r.stages) > 1 && got == want+1) {
				t.Errorf("%d->%d, %d inputs: Process gave %d outputs; want %d (%d stages)", in, out, n, got, want, len(r.stages))
			}
			s, err := Resample(&sliceSource{x: make([]float32, n), rate: in, step: 1000}, out)
			if err != nil {
				t.Fatal(err)
			}
			if got := int64(len(readAll(t, s, 160))); got != want {
				t.Errorf("%d->%d, %d inputs: Resample gave %d outputs; want %d", in, out, n, got, want)
			}
			if ol := r.OutLen(int64(n)); ol != want {
				t.Errorf("%d->%d: OutLen(%d) = %d; want %d", in, out, n, ol, want)
			}
		}
	}
}

// TestResamplerChunking feeds the same noise in random chunks with random output room
// and requires bit-identical output.
func TestResamplerChunking(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, rates := range [][2]int{{48000, 16000}, {44100, 16000}, {8000, 16000}, {11025, 16000}, {16000, 44100}} {
		in, out := rates[0], rates[1]
		x := make([]float32, in/2)
		for i := range x {
			x[i] = float32(rng.Float64()*2 - 1)
		}
		want, _ := resampleAll(t, in, out, x)
		for trial := range 5 {
			r, _ := NewResampler(in, out)
			var got []float32
			src := x
			buf := make([]float32, 64)
			for len(src) > 0 || trial%2 == 1 {
				chunk := min(len(src), rng.IntN(700)) // sometimes 0
				room := buf[:rng.IntN(len(buf)+1)]    // sometimes 0
				o, i := r.Process(room, src[:chunk])
				got = append(got, room[:o]...)
				src = src[i:]
				if len(src) == 0 && o == 0 {
					break
				}
			}
			// Drain what is still due for the last input.
			for {
				o, _ := r.Process(buf, nil)
				if o == 0 {
					break
				}
				got = append(got, buf[:o]...)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%d->%d trial %d: chunked output differs (%d vs %d samples)", in, out, trial, len(got), len(want))
			}
		}
	}
}

// refResampler is the resampler as it was before its outputs were batched on package
// kernels, one per-sample filter per stage: one input pushed at a time into a ring of the
// last taps inputs (kept twice, so that the window is contiguous), one kernels.Dot per
// output, each stage pulling one input at a time from the stage before it only when its
// next output needs it. It is the oracle of TestResamplerMatchesPerSample: the batched
// resampler must give its bits and consume as much input.
type refResampler struct {
	*Resampler
	stages []*refStage
}

type refStage struct {
	*stage
	hist         []float32
	w            int
	phase, ahead int
}

func newRefResampler(t *testing.T, in, out int) *refResampler {
	r, err := NewResampler(in, out)
	if err != nil {
		t.Fatal(err)
	}
	ref := &refResampler{Resampler: r}
	for _, s := range r.stages {
		ref.stages = append(ref.stages, &refStage{stage: s, hist: make([]float32, 2*s.taps), ahead: 1})
	}
	return ref
}

// ready pulls inputs into stage i until its next output has them all, from stage i-1
// (or, for stage 0, from src); false when the input ran out first.
func (r *refResampler) ready(i int, src []float32, nIn *int) bool {
	s := r.stages[i]
	for s.ahead > 0 {
		var x float32
		if i == 0 {
			if *nIn == len(src) {
				return false
			}
			x = src[*nIn]
			*nIn++
		} else {
			if !r.ready(i-1, src, nIn) {
				return false
			}
			x = r.next(i - 1)
		}
		s.hist[s.w] = x
		s.hist[s.w+s.taps] = x
		s.w++
		if s.w == s.taps {
			s.w = 0
		}
		s.ahead--
	}
	return true
}

// next computes stage i's next output, which is ready.
func (r *refResampler) next(i int) float32 {
	s := r.stages[i]
	y := kernels.Dot(s.coef[s.phase*s.taps:(s.phase+1)*s.taps], s.hist[s.w:s.w+s.taps])
	s.phase += s.m
	s.ahead += s.phase / s.l
	s.phase %= s.l
	return y
}

// Process writes outputs while there is room, and takes the inputs of the first output
// that did not fit, as the resampler's Process does.
func (r *refResampler) Process(dst, src []float32) (nOut, nIn int) {
	last := len(r.stages) - 1
	for r.ready(last, src, &nIn) && nOut < len(dst) {
		dst[nOut] = r.next(last)
		nOut++
	}
	return nOut, nIn
}

// TestResamplerMatchesPerSample feeds both resamplers the same noise (with a few
// special values) in the same random chunks and output room: every call must write the
// same bits and consume the same inputs, whatever the kernels (run it with
// WAKEWORDD_KERNELS=generic and under qemu-aarch64 too).
func TestResamplerMatchesPerSample(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, rates := range [][2]int{{48000, 16000}, {44100, 16000}, {22050, 16000}, {32000, 16000},
		{96000, 16000}, {8000, 16000}, {11025, 16000}, {24000, 16000}, {16000, 44100}, {16000, 48000}} {
		in, out := rates[0], rates[1]
		x := make([]float32, in/3)
		for i := range x {
			x[i] = float32(rng.Float64()*2 - 1)
		}
		x[len(x)/2] = float32(math.Inf(1))
		x[len(x)/3] = 3e38
		for trial := range 4 {
			r, ref := newRefResampler(t, in, out), newRefResampler(t, in, out)
			got, want := make([]float32, 3000), make([]float32, 3000)
			src, calls := x, 0
			for len(src) > 0 {
				chunk := min(len(src), 1+rng.IntN(9000))
				room := 1 + rng.IntN(len(got))
				if trial == 0 {
					chunk, room = min(len(src), 4096), 160 // as the pipeline reads a file
				}
				o, i := r.Resampler.Process(got[:room], src[:chunk])
				wo, wi := ref.Process(want[:room], src[:chunk])
				if o != wo || i != wi {
					t.Fatalf("%d->%d trial %d call %d: wrote %d and consumed %d, the per-sample resampler %d and %d",
						in, out, trial, calls, o, i, wo, wi)
				}
				for k := range o {
					if math.Float32bits(got[k]) != math.Float32bits(want[k]) && !(got[k] != got[k] && want[k] != want[k]) {
						t.Fatalf("%d->%d trial %d call %d: output %d is %v, the per-sample resampler's %v",
							in, out, trial, calls, k, got[k], want[k])
					}
				}
				src = src[i:]
				calls++
			}
		}
	}
}

// TestResamplerDelay checks the documented group delay: an impulse comes out centred
// Delay() output samples late.
func TestResamplerDelay(t *testing.T) {
	for _, rates := range [][2]int{{48000, 16000}, {44100, 16000}, {8000, 16000}, {32000, 16000}} {
		in, out := rates[0], rates[1]
		g := gcd(in, out)
		at := 10 * (in / g) // an input instant that is also an output instant
		x := make([]float32, at+4*in/10)
		x[at] = 1
		y, r := resampleAll(t, in, out, x)
		peak := 0
		for i := range y {
			if math.Abs(float64(y[i])) > math.Abs(float64(y[peak])) {
				peak = i
			}
		}
		if want := at*out/in + r.Delay(); peak != want {
			t.Errorf("%d->%d: impulse peaks at output %d; want %d (delay %d)", in, out, peak, want, r.Delay())
		}
	}
}

func TestResamplerZeroAlloc(t *testing.T) {
	r, _ := NewResampler(48000, 16000)
	x := tone(480, 48000, 1000, 0.5)
	y := make([]float32, 200)
	if a := testing.AllocsPerRun(100, func() { r.Process(y, x) }); a != 0 {
		t.Errorf("Process allocates %.1f times per call", a)
	}
}

func TestNewResamplerErrors(t *testing.T) {
	for _, rates := range [][2]int{{0, 16000}, {16000, 0}, {-1, 16000}, {2_000_000, 16000}, {999_983, 16000}} {
		if _, err := NewResampler(rates[0], rates[1]); err == nil {
			t.Errorf("NewResampler(%d, %d) succeeded", rates[0], rates[1])
		} else {
			t.Log(err)
		}
	}
}

// sliceSource is a finite Source over a slice, read in pieces of at most step.
type sliceSource struct {
	x      []float32
	rate   int
	step   int
	closed bool
}

func (s *sliceSource) Read(p []float32) (int, error) {
	if s.closed {
		return 0, errClosed
	}
	if len(s.x) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), s.step)], s.x)
	s.x = s.x[n:]
	return n, nil
}
func (s *sliceSource) Rate() int    { return s.rate }
func (s *sliceSource) Close() error { s.closed = true; return nil }

type statSliceSource struct{ sliceSource }

func (s *statSliceSource) Stats() Stats { return Stats{Captured: 42, Overruns: 7} }

func readAll(t testing.TB, s Source, chunk int) []float32 {
	t.Helper()
	var out []float32
	buf := make([]float32, chunk)
	for {
		n, err := s.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("Read returned 0 samples and no error")
		}
	}
}

func TestResample16k(t *testing.T) {
	s16 := &sliceSource{x: make([]float32, 10), rate: 16000, step: 10}
	if got, _ := Resample16k(s16); got != Source(s16) {
		t.Error("Resample16k of a 16 kHz source is not the source itself")
	}

	for _, in := range []int{8000, 22050, 44100, 48000} {
		// A 1 kHz tone from t = 0.2 s: the output must be the same tone, aligned in time.
		n := in + in/3
		x := make([]float32, n)
		start := in / 5
		copy(x[start:], tone(n-start, in, 1000, 0.5))
		for _, chunk := range []int{1, 7, 160, 4096} {
			s, err := Resample16k(&sliceSource{x: x, rate: in, step: 333})
			if err != nil {
				t.Fatal(err)
			}
			if s.Rate() != 16000 {
				t.Fatalf("Rate() = %d", s.Rate())
			}
			y := readAll(t, s, chunk)
			if want := (int64(n)*16000 + int64(in) - 1) / int64(in); int64(len(y)) != want {
				t.Fatalf("%d Hz, %d samples: %d outputs; want %d", in, n, len(y), want)
			}
			// Aligned: 0.2 s = 3200 output samples of silence, then the tone with phase 0.
			ref := make([]float32, len(y))
			copy(ref[3200:], tone(len(y)-3200, 16000, 1000, 0.5))
			var worst float64
			for i := range y {
				if i > 3000 && i < 3400 || i > len(y)-200 {
					continue // the onset and the end are band-limited edges
				}
				worst = max(worst, math.Abs(float64(y[i]-ref[i])))
			}
			if worst > 1e-3 {
				t.Errorf("%d Hz, chunk %d: output deviates from the aligned tone by %.2g", in, chunk, worst)
			}
		}
	}

	st, err := Resample16k(&statSliceSource{sliceSource{x: make([]float32, 100), rate: 48000, step: 100}})
	if err != nil {
		t.Fatal(err)
	}
	if ss, ok := st.(StatSource); !ok || ss.Stats().Overruns != 7 {
		t.Error("Resample16k of a StatSource does not pass Stats through")
	}
	inner := &sliceSource{x: make([]float32, 100), rate: 48000, step: 100}
	rs, _ := Resample16k(inner)
	rs.Close()
	if !inner.closed {
		t.Error("Close did not close the wrapped source")
	}
	if _, err := Resample16k(&sliceSource{rate: 999_983}); err == nil {
		t.Error("Resample16k accepted a rate it cannot build a filter for")
	}
}

// errSource fails after some samples.
type errSource struct{ sliceSource }

var errBoom = errors.New("boom")

func (s *errSource) Read(p []float32) (int, error) {
	n, err := s.sliceSource.Read(p)
	if err == io.EOF {
		return 0, errBoom
	}
	return n, err
}

func TestResampleSourceError(t *testing.T) {
	s, _ := Resample16k(&errSource{sliceSource{x: make([]float32, 4800), rate: 48000, step: 1000}})
	buf := make([]float32, 10000)
	var err error
	for range 100 {
		if _, err = s.Read(buf); err != nil {
			break
		}
	}
	if err != errBoom {
		t.Errorf("got %v; want the source's error", err)
	}
}

// BenchmarkResample48kTo16k reports throughput in input samples per second.
func BenchmarkResample48kTo16k(b *testing.B)  { benchResample(b, 48000, 16000) }
func BenchmarkResample44k1To16k(b *testing.B) { benchResample(b, 44100, 16000) }
func BenchmarkResample8kTo16k(b *testing.B)   { benchResample(b, 8000, 16000) }
func benchResample(b *testing.B, in, out int) {
	r, err := NewResampler(in, out)
	if err != nil {
		b.Fatal(err)
	}
	x := tone(in/100, in, 1000, 0.5) // 10 ms blocks, as a capture loop would pass them
	y := make([]float32, 2*len(x)*out/in+2)
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		src := x
		for len(src) > 0 {
			_, m := r.Process(y, src)
			src = src[m:]
		}
	}
	sec := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N)*float64(len(x))/sec, "in-samples/s")
	b.ReportMetric(float64(b.N)*float64(len(x))/sec/float64(in), "x-realtime")
}

// resampledDigest is the SHA-256 of what the usual capture rates resample to (a second of
// noise at each, through Resample16k), as little-endian float32 bits. It pins the exact
// output of the assembly kernels, which the NEON and AVX2 builds must both give: the test
// runs natively and under qemu-aarch64 in scripts/test.sh. A change here changes the
// daemon's frames for these rates.
const resampledDigest = "32adb504ee3e457a323ada8d41f4ee4fe9982412f099929311631e1502cc26bb"

func TestResampledDigest(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	h := sha256.New()
	for _, in := range []int{8000, 22050, 32000, 44100, 48000, 96000} {
		x := make([]float32, in)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * 0.3)
		}
		s, err := Resample16k(&sliceSource{x: x, rate: in, step: in / 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range readAll(t, s, 160) {
			h.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)))
		}
	}
	d := hex.EncodeToString(h.Sum(nil))
	if kernels.Impl() == "generic" {
		// The plain-Go dot product sums in another order (package kernels).
		t.Skipf("kernels %s: digest %s; the pinned one is the assembly's", kernels.Impl(), d)
	}
	if d != resampledDigest {
		t.Errorf("resampled bits changed with kernels %s: digest %s, want %s", kernels.Impl(), d, resampledDigest)
	}
}
