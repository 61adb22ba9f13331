package audio

import (
	"fmt"
	"io"
	"math"

	"github.com/wakewordd/wakewordd/kernels"
)

// Resampler design. The input is conceptually upsampled by L (zeros inserted), low-pass
// filtered at L*inRate, and decimated by M, where L/M is outRate/inRate in lowest terms.
// Only the taps that meet non-zero input samples are ever computed: output k uses filter
// phase (k*M) mod L against the newest input floor(k*M/L) and its predecessors, which is
// the classic polyphase form. The prototype is a Kaiser-windowed sinc:
//
//   - passband edge 0.45*min(in, out), where deviation stays well under 0.01 dB;
//   - stopband from 0.5*min(in, out), the Nyquist frequency of the slower side, so nothing
//     aliases into the output (down) and no images appear (up);
//   - designAttenuation dB in the stopband, by Kaiser's formulas for beta and length.
//
// At 48 kHz -> 16 kHz that is about 300 taps per output sample.
//
// The outputs are computed in batches by package kernels, each the kernels.Dot of its
// phase's coefficients and its window of the input, bit for bit, whose order of
// operations is the same in NEON and AVX2 (the same audio resamples to the same bits on
// arm64 and amd64): kernels.DotStrided when l is 1 (48, 32 and 96 kHz to 16 kHz: every
// output uses the one phase, windows m inputs apart), else kernels.DotPairs with each
// output's phase and window (44.1 and 22.05 kHz). The input is kept in a linear buffer
// (copied in blocks, the consumed part dropped now and then), so that every window is
// contiguous.
const designAttenuation = 85.0

// maxCoefficients bounds the filter table (8 MiB of float32). Ratios of the rates in
// use (8, 11.025, 16, 22.05, 32, 44.1, 48, 96 kHz ...) need from a few hundred to about
// 70k coefficients; only a rate with no common factor with the other side comes close.
const maxCoefficients = 1 << 21

// Resampler converts a stream of samples from one rate to another. It keeps its history
// between calls, so feeding a signal in chunks of any size yields exactly the same output
// as feeding it at once. It is causal: output sample k reflects input up to time k/outRate
// but is centred Delay() samples earlier, the filter's group delay. The first Delay()
// outputs are the filter warming up from silence.
type Resampler struct {
	inRate, outRate int
	l, m            int       // outRate/inRate = l/m in lowest terms
	taps            int       // coefficients per phase
	coef            []float32 // l phases of taps each, in time order (oldest input first)
	// buf[:n] is the input stream from some point on, preceded at the start of the stream by
	// taps-1 zeros (the silence before it); the next output's window is buf[pos:pos+taps],
	// its newest input buf[pos+taps-1].
	buf    []float32
	n, pos int
	phase  int     // filter phase of the next output
	ci, bi []int32 // a batch of phases' and windows' offsets, for kernels.DotPairs
	delay  int     // group delay in output samples
}

// resampleBatch is the most outputs kernels.DotPairs computes at once; resampleBuf the
// input, beyond a window, that the buffer holds.
const (
	resampleBatch = 64
	resampleBuf   = 4096
)

// NewResampler returns a resampler from inRate to outRate (both in Hz).
func NewResampler(inRate, outRate int) (*Resampler, error) {
	if inRate < 1 || outRate < 1 || inRate > maxWAVRate || outRate > maxWAVRate {
		return nil, fmt.Errorf("resample: rates %d Hz -> %d Hz out of range (1..%d)", inRate, outRate, maxWAVRate)
	}
	g := gcd(inRate, outRate)
	l, m := outRate/g, inRate/g
	fmin := float64(min(inRate, outRate))
	fup := float64(inRate) * float64(l) // the rate the prototype filter runs at
	pass, stop := 0.45*fmin, 0.5*fmin

	// Kaiser: beta and the order that reach the attenuation over the transition band.
	beta := 0.1102 * (designAttenuation - 8.7)
	order := (designAttenuation - 7.95) / (2.285 * 2 * math.Pi * (stop - pass) / fup)
	// Half-length rounded up to a multiple of m makes the delay a whole number of
	// output samples, so a finite stream can be realigned exactly (see Resample).
	half := int(math.Ceil(order / 2))
	half = (half + m - 1) / m * m
	n := 2*half + 1
	taps := (n + l - 1) / l
	if int64(taps)*int64(l) > maxCoefficients {
		return nil, fmt.Errorf("resample: %d Hz -> %d Hz reduces to %d:%d and needs %d filter coefficients (limit %d); use a rate with a simpler ratio",
			inRate, outRate, l, m, int64(taps)*int64(l), maxCoefficients)
	}

	// Prototype h[i], i in [0, n), centred on half, with unit DC gain.
	fc := (pass + stop) / 2 / fup // cutoff in cycles per prototype sample
	h := make([]float64, taps*l)
	i0beta := besselI0(beta)
	var sum float64
	for i := range n {
		x := float64(i - half)
		r := x / float64(half)
		win := besselI0(beta*math.Sqrt(max(0, 1-r*r))) / i0beta
		h[i] = 2 * fc * sinc(2*fc*x) * win
		sum += h[i]
	}
	// Each phase then has unit DC gain on average: the L-fold upsampling is undone here.
	gain := float64(l) / sum

	// Output k = sum_j h[p + j*l] * x[base - j]. Store phase p oldest-first so it lines up
	// with hist: coef[p*taps + taps-1-j] = h[p + j*l].
	coef := make([]float32, taps*l)
	for p := range l {
		for j := range taps {
			coef[p*taps+taps-1-j] = float32(h[p+j*l] * gain)
		}
	}
	r := &Resampler{
		inRate: inRate, outRate: outRate,
		l: l, m: m, taps: taps,
		coef:  coef,
		buf:   make([]float32, taps-1+resampleBuf),
		ci:    make([]int32, resampleBatch),
		bi:    make([]int32, resampleBatch),
		delay: half / m,
	}
	r.Reset()
	return r, nil
}

// Reset forgets the history, as if the resampler were new.
func (r *Resampler) Reset() {
	r.n = r.taps - 1
	clear(r.buf[:r.n])
	r.pos, r.phase = 0, 0
}

// Rates returns the input and output rates.
func (r *Resampler) Rates() (in, out int) { return r.inRate, r.outRate }

// Delay is the group delay in output samples: the output reproduces the input delayed
// by Delay()/outRate seconds (a few milliseconds for the usual rates). It is an integer by
// construction.
func (r *Resampler) Delay() int { return r.delay }

// Taps is the number of coefficients per output sample, the cost of one output in
// multiply-adds.
func (r *Resampler) Taps() int { return r.taps }

// OutLen is the number of outputs that n inputs, aligned for the group delay, stand for:
// ceil(n * outRate / inRate).
func (r *Resampler) OutLen(n int64) int64 {
	return (n*int64(r.l) + int64(r.m) - 1) / int64(r.m)
}

// Process consumes input from src and writes output to dst until src is used up or dst is
// full, and returns how many outputs it wrote and inputs it consumed: when dst fills
// first, the inputs up to the newest that the next output (the first that did not fit)
// needs. It never allocates. Call it again with the rest of src when dst filled first.
func (r *Resampler) Process(dst, src []float32) (nOut, nIn int) {
	for {
		nOut += r.emit(dst[nOut:])
		// The inputs up to the newest of the first output dst has no room for: the newest
		// input of the k-th next output is buf[pos + (phase + k·m)/l + taps-1].
		need := r.pos + int((int64(r.phase)+int64(len(dst)-nOut)*int64(r.m))/int64(r.l)) + r.taps - r.n
		if need <= 0 || nIn == len(src) {
			return nOut, nIn
		}
		if r.n == len(r.buf) {
			// Full: drop the inputs that no output needs any more.
			r.n = copy(r.buf, r.buf[r.pos:r.n])
			r.pos = 0
		}
		k := copy(r.buf[r.n:], src[nIn:nIn+min(need, len(src)-nIn)])
		r.n += k
		nIn += k
	}
}

// emit writes to dst the outputs whose windows are in buf, as many as fit, and returns
// how many it wrote.
func (r *Resampler) emit(dst []float32) int {
	if len(dst) == 0 || r.pos+r.taps > r.n {
		return 0
	}
	// Output k (from 0) is ready while pos + (phase + k·m)/l + taps <= n.
	last := (int64(r.n-r.taps-r.pos+1)*int64(r.l) - 1 - int64(r.phase)) / int64(r.m)
	cnt := int(min(last+1, int64(len(dst))))
	dst = dst[:cnt]
	taps := r.taps
	if r.l == 1 {
		kernels.DotStrided(dst, r.coef, r.buf[r.pos:r.n], r.m)
		r.pos += cnt * r.m
		return cnt
	}
	for len(dst) > 0 {
		b := min(len(dst), len(r.ci))
		for k := range b {
			r.ci[k], r.bi[k] = int32(r.phase*taps), int32(r.pos)
			r.phase += r.m
			r.pos += r.phase / r.l
			r.phase %= r.l
		}
		kernels.DotPairs(dst[:b], r.coef, r.ci[:b], r.buf[:r.n], r.bi[:b], taps)
		dst = dst[b:]
	}
	return cnt
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// besselI0 is the modified Bessel function of the first kind, order 0, by its power
// series, which converges quickly for the arguments Kaiser windows use (< 20).
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	q := x * x / 4
	for k := 1; k < 200; k++ {
		term *= q / float64(k*k)
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}

// Resample16k returns src converted to TargetRate, or src itself if it is already there.
// See Resample.
//
// Every source reaches the detector through here, so this is where a rate outside
// MinRate..MaxRate is refused whatever the source (the file, raw and capture sources
// refuse it already when they open, naming what declared it).
func Resample16k(src Source) (Source, error) {
	if err := CheckRate(src.Rate()); err != nil {
		return nil, fmt.Errorf("audio: %w", err)
	}
	return Resample(src, TargetRate)
}

// Resample returns src converted to outRate, or src itself if it is already at that rate.
//
// The result is aligned in time with src: the filter's group delay is taken out by
// dropping its first Delay() outputs, and when src ends the filter is flushed with silence,
// so n input samples give exactly ceil(n*outRate/inRate) output samples and a feature at
// input time t comes out at output time t. The first few milliseconds are the filter
// starting from silence. If src reports Stats, so does the result.
func Resample(src Source, outRate int) (Source, error) {
	if src.Rate() == outRate {
		return src, nil
	}
	rs, err := NewResampler(src.Rate(), outRate)
	if err != nil {
		return nil, err
	}
	s := &resampled{
		src:  src,
		rs:   rs,
		in:   make([]float32, 4096),
		skip: rs.Delay(),
	}
	if st, ok := src.(StatSource); ok {
		return &statResampled{s, st}, nil
	}
	return s, nil
}

// resampled is a Source converted by a Resampler.
type resampled struct {
	src      Source
	rs       *Resampler
	in       []float32 // input read from src; in[pos:end] not yet consumed
	pos, end int
	skip     int   // warm-up outputs still to drop
	fed      int64 // real input samples consumed
	out      int64 // aligned samples returned
	flushing bool  // src has ended; feeding silence to push out the tail
	err      error // sticky error from src (io.EOF included)
}

func (s *resampled) Rate() int { return s.rs.outRate }

func (s *resampled) Close() error { return s.src.Close() }

func (s *resampled) Read(p []float32) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if s.flushing && s.out >= s.rs.OutLen(s.fed) {
			return 0, io.EOF
		}
		if s.pos < s.end {
			nOut, nIn := s.rs.Process(p, s.in[s.pos:s.end])
			s.pos += nIn
			if !s.flushing {
				s.fed += int64(nIn)
			}
			if d := min(s.skip, nOut); d > 0 {
				copy(p, p[d:nOut])
				nOut -= d
				s.skip -= d
			}
			if s.flushing {
				nOut = int(min(int64(nOut), s.rs.OutLen(s.fed)-s.out))
			}
			s.out += int64(nOut)
			if nOut > 0 {
				return nOut, nil
			}
			continue
		}
		if s.flushing {
			// Silence pushes the last outputs through the filter.
			s.pos, s.end = 0, len(s.in)
			clear(s.in)
			continue
		}
		if s.err != nil {
			if s.err != io.EOF {
				return 0, s.err
			}
			s.flushing = true
			continue
		}
		n, err := s.src.Read(s.in)
		s.pos, s.end, s.err = 0, n, err
	}
}

// statResampled is a resampled StatSource that still reports its source's Stats.
type statResampled struct {
	*resampled
	st StatSource
}

func (s *statResampled) Stats() Stats { return s.st.Stats() }
