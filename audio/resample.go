package audio

import (
	"fmt"
	"io"
	"math"

	"github.com/wakewordd/wakewordd/kernels"
)

// Resampler design. Each stage of a resampler conceptually upsamples its input by L (zeros
// inserted), low-pass filters it at L times its input rate, and decimates by M, where L/M
// is its output rate over its input rate in lowest terms. Only the taps that meet non-zero
// input samples are ever computed: output k uses filter phase (k*M) mod L against the
// newest input floor(k*M/L) and its predecessors, which is the classic polyphase form. The
// prototype is a Kaiser-windowed sinc:
//
//   - passband edge 0.45*min(in, out), where deviation stays well under 0.01 dB;
//   - stopband from 0.5*min(in, out), the Nyquist frequency of the slower side, so nothing
//     aliases into the output (down) and no images appear (up);
//   - designAttenuation dB in the stopband, by Kaiser's formulas for beta and length.
//
// A filter's length grows with its rate over its transition band (0.45 to 0.5 of the
// output rate), so converting a high rate in one stage is dear: 325 taps per output from
// 48 kHz to 16 kHz. An input at 2.5 times the output rate or more, and even, is first
// halved, as often as that holds, by stages whose transition band is wide: they keep
// 0..0.45*out and remove only what would alias onto 0..0.5*out, from in/2 - out/2 up
// (what lands above 0.5*out the next stage removes). 48 kHz -> 16 kHz is then 48 -> 24
// kHz (31 taps, padded to 32) and 24 -> 16 kHz (163 per output): 211 multiply-adds per
// output instead of 325, with no fewer dB; 44.1 kHz -> 16 kHz likewise goes through
// 22.05 kHz (202 instead of 298).
//
// The outputs are computed in batches by package kernels, each the kernels.Dot of its
// phase's coefficients and its window of the input, bit for bit, whose order of
// operations is the same in NEON and AVX2 (the same audio resamples to the same bits on
// arm64 and amd64): kernels.DotStrided with the outputs of one phase, whose windows are m
// inputs apart, when l is 1 (as from 48 to 24 kHz); kernels.DotStridedSpaced with every
// l-th output, one call per phase, when l is small (as from 24 to 16 kHz); else
// kernels.DotPairs with each output's phase and window (22.05 to 16 kHz). Each stage
// keeps its input in a linear buffer (copied in blocks, the consumed part dropped now and
// then), so that every window is contiguous.
const designAttenuation = 85.0

// halvingBeta is the attenuation whose Kaiser beta shapes the window of a halving stage.
// In a filter of some twenty or thirty taps Kaiser's length formula falls a dB or two
// short of its target (84.3 dB at 16.95 kHz from 48 kHz), right where the stage aliases
// onto the output's band; the window for 5 dB more spends some of the stage's wide
// transition band on depth. Each halving stage is then checked: what it folds onto the
// output's band, through the final stage, must be designAttenuation down, or the stage
// is lengthened (from 96 kHz; from 48 and 44.1 kHz the formula's length holds).
const halvingBeta = 90.0

// maxCoefficients bounds the filter table (8 MiB of float32). Ratios of the rates in
// use (8, 11.025, 16, 22.05, 32, 44.1, 48, 96 kHz ...) need from a few hundred to about
// 70k coefficients; only a rate with no common factor with the other side comes close.
const maxCoefficients = 1 << 21

// Resampler converts a stream of samples from one rate to another. It keeps its history
// between calls, so feeding a signal in chunks of any size yields exactly the same output
// as feeding it at once. It is causal: output sample k reflects input up to time k/outRate
// but is centred Delay() samples earlier, the filters' group delay. The first Delay()
// outputs are the filters warming up from silence.
type Resampler struct {
	inRate, outRate int
	stages          []*stage // the halving stages, if any, then the final conversion
	delay           int      // group delay in output samples
}

// stage is one polyphase filter.
type stage struct {
	l, m int       // its output rate over its input rate is l/m in lowest terms
	taps int       // coefficients per phase
	coef []float32 // l phases of taps each, in time order (oldest input first)
	// buf[:n] is the input stream from some point on, preceded at the start of the stream by
	// taps-1 zeros (the silence before it); the next output's window is buf[pos:pos+taps],
	// its newest input buf[pos+taps-1].
	buf    []float32
	n, pos int
	phase  int     // filter phase of the next output
	ci, bi []int32 // a batch of phases' and windows' offsets, for kernels.DotPairs
}

// resampleBatch is the most outputs kernels.DotPairs computes at once; resampleBuf the
// input, beyond a window, that a stage's buffer holds; maxGroupedPhases the most phases a
// stage may have and still compute each phase's outputs with one call of
// kernels.DotStridedSpaced (with more, each phase has too few outputs in a call to be
// worth one of its own).
const (
	resampleBatch    = 64
	resampleBuf      = 4096
	maxGroupedPhases = 8
)

// NewResampler returns a resampler from inRate to outRate (both in Hz).
func NewResampler(inRate, outRate int) (*Resampler, error) {
	if inRate < 1 || outRate < 1 || inRate > maxWAVRate || outRate > maxWAVRate {
		return nil, fmt.Errorf("resample: rates %d Hz -> %d Hz out of range (1..%d)", inRate, outRate, maxWAVRate)
	}
	// The halving stages, by the rate each starts from; then the final conversion.
	type halving struct {
		in         int
		stop       float64 // from here up a tone would fold onto 0..out/2
		half, step int64   // half-length, and the step it grows by
		most       int64   // the longest half-length tried
	}
	var halvings []halving
	for in := inRate; in%2 == 0 && 2*in >= 5*outRate; in /= 2 {
		halvings = append(halvings, halving{in: in, stop: float64(in/2) - 0.5*float64(outRate)})
	}
	last := inRate >> len(halvings)
	g := gcd(last, outRate)
	l, m := outRate/g, last/g
	fup := float64(last) * float64(l) // the rate the final prototype runs at
	pass := 0.45 * float64(min(last, outRate))
	stopFinal := 0.5 * float64(min(last, outRate))

	// The group delay, counted in samples of the final prototype, must come to a whole
	// number of output samples (m of them each), so that a finite stream can be realigned
	// exactly (see Resample). A halving stage from rate in with half-length h delays by
	// h/in seconds, h*fup/in prototype samples: its h is a multiple of what makes that
	// whole, and the final stage's half-length is rounded up to close the sum to a
	// multiple of m.
	for i := range halvings {
		hv := &halvings[i]
		hv.step = int64(hv.in) / gcd64(int64(hv.in), int64(fup)) // h*fup/in is whole iff step divides h
		h := int64(kaiserHalf(designAttenuation, pass, hv.stop, float64(hv.in)))
		hv.half = (h + hv.step - 1) / hv.step * hv.step
		hv.most = 64 + 8*h
	}
	for {
		var delay int64
		protos := make([]prototype, len(halvings))
		for i, hv := range halvings {
			protos[i] = kaiserSinc(int(hv.half), float64(hv.in), pass, hv.stop, halvingBeta)
			delay += hv.half * int64(fup) / int64(hv.in)
		}
		h := int64(kaiserHalf(designAttenuation, pass, stopFinal, fup))
		h += (int64(m) - (delay+h)%int64(m)) % int64(m)
		// Refuse a ratio whose filter table would be too large before designing it.
		if taps := (2*h + int64(l)) / int64(l); taps*int64(l) > maxCoefficients {
			return nil, fmt.Errorf("resample: %d Hz -> %d Hz reduces to %d:%d and needs %d filter coefficients (limit %d); use a rate with a simpler ratio",
				inRate, outRate, l, m, taps*int64(l), maxCoefficients)
		}
		final := kaiserSinc(int(h), fup, pass, stopFinal, designAttenuation)
		// A halving stage is long enough when what it lets alias onto the output's band,
		// less what the final stage then takes off, is designAttenuation down.
		short := false
		for i := range halvings {
			hv := &halvings[i]
			if aliasDepth(protos[i], float64(hv.in), outRate, final, fup) >= designAttenuation {
				continue
			}
			if hv.half += hv.step; hv.half > hv.most {
				return nil, fmt.Errorf("resample: %d Hz -> %d Hz: no halving stage from %d Hz reaches %g dB", inRate, outRate, hv.in, designAttenuation)
			}
			short = true
		}
		if short {
			continue
		}
		r := &Resampler{inRate: inRate, outRate: outRate, delay: int((delay + h) / int64(m))}
		for _, p := range protos {
			r.stages = append(r.stages, newStage(1, 2, p, true))
		}
		r.stages = append(r.stages, newStage(l, m, final, false))
		r.Reset()
		return r, nil
	}
}

// kaiserHalf is the half-length, in samples at rate fs, of the Kaiser-windowed sinc that
// reaches att dB over the transition band pass..stop.
func kaiserHalf(att, pass, stop, fs float64) int {
	order := (att - 7.95) / (2.285 * 2 * math.Pi * (stop - pass) / fs)
	return int(math.Ceil(order / 2))
}

// prototype is a low-pass filter: taps h with DC gain dc (their sum).
type prototype struct {
	h  []float64
	dc float64
}

// kaiserSinc is a low-pass prototype at rate fs: 2*half+1 taps of a sinc centred on half,
// its cutoff midway between pass and stop, under a Kaiser window whose beta is that for
// att dB.
func kaiserSinc(half int, fs, pass, stop, att float64) prototype {
	beta := 0.1102 * (att - 8.7)
	fc := (pass + stop) / 2 / fs // cutoff in cycles per sample
	p := prototype{h: make([]float64, 2*half+1)}
	i0beta := besselI0(beta)
	for i := range p.h {
		x := float64(i - half)
		r := x / float64(half)
		win := besselI0(beta*math.Sqrt(max(0, 1-r*r))) / i0beta
		p.h[i] = 2 * fc * sinc(2*fc*x) * win
		p.dc += p.h[i]
	}
	return p
}

// aliasDepth is the least attenuation in dB, on a grid of 1024 frequencies, of what a
// halving stage p from rate in folds onto the output's band 0..out/2: a tone at in/2 - a
// comes out at a, through h and then the final stage's prototype final at rate fup (the
// halving stages between pass it whole, which only understates the depth).
func aliasDepth(p prototype, in float64, out int, final prototype, fup float64) float64 {
	worst := math.Inf(1)
	for k := range 1025 {
		a := 0.5 * float64(out) * float64(k) / 1024
		d := -20 * math.Log10(math.Abs(response(p, (in/2-a)/in)))
		if d < designAttenuation {
			// Only there is the final stage's response worth its cost (thousands of taps).
			d -= 20 * math.Log10(math.Abs(response(final, a/fup)))
		}
		worst = min(worst, d)
	}
	return worst
}

// response is the gain of the symmetric filter p at f cycles per sample, relative to DC.
func response(p prototype, f float64) float64 {
	half := len(p.h) / 2
	g := p.h[half]
	for i := 1; i <= half; i++ {
		g += 2 * p.h[half+i] * math.Cos(2*math.Pi*f*float64(i))
	}
	return g / p.dc
}

// newStage is the polyphase form of the prototype p for one stage: output rate over
// input rate l/m, p at l times the input rate. pad rounds the taps per phase up to a
// multiple of the kernels' block with zeros at the oldest end, when that costs at most a
// quarter of a block: cheaper than the kernels' tail, and the same filter.
func newStage(l, m int, p prototype, pad bool) *stage {
	taps := (len(p.h) + l - 1) / l
	if pad && (-taps)&15 <= 4 {
		taps = (taps + 15) &^ 15
	}
	// Each phase has unit DC gain on average: the L-fold upsampling is undone here.
	gain := float64(l) / p.dc
	// Output k = sum_j h[p + j*l] * x[base - j]. Store phase p oldest-first so it lines up
	// with the window: coef[p*taps + taps-1-j] = h[p + j*l].
	coef := make([]float32, taps*l)
	for ph := range l {
		for j := range taps {
			if i := ph + j*l; i < len(p.h) {
				coef[ph*taps+taps-1-j] = float32(p.h[i] * gain)
			}
		}
	}
	return &stage{
		l: l, m: m, taps: taps,
		coef: coef,
		buf:  make([]float32, taps-1+resampleBuf),
		ci:   make([]int32, resampleBatch),
		bi:   make([]int32, resampleBatch),
	}
}

// Reset forgets the history, as if the resampler were new.
func (r *Resampler) Reset() {
	for _, s := range r.stages {
		s.n = s.taps - 1
		clear(s.buf[:s.n])
		s.pos, s.phase = 0, 0
	}
}

// Rates returns the input and output rates.
func (r *Resampler) Rates() (in, out int) { return r.inRate, r.outRate }

// Delay is the group delay in output samples: the output reproduces the input delayed
// by Delay()/outRate seconds (a few milliseconds for the usual rates). It is an integer by
// construction.
func (r *Resampler) Delay() int { return r.delay }

// Taps is the cost of one output in multiply-adds: the coefficients per output of each
// stage, times that stage's outputs per output of the resampler.
func (r *Resampler) Taps() int {
	total, rate := 0.0, float64(r.inRate)
	for _, s := range r.stages {
		rate = rate * float64(s.l) / float64(s.m)
		total += float64(s.taps) * rate / float64(r.outRate)
	}
	return int(math.Round(total))
}

// OutLen is the number of outputs that n inputs, aligned for the group delay, stand for:
// ceil(n * outRate / inRate).
func (r *Resampler) OutLen(n int64) int64 {
	return (n*int64(r.outRate) + int64(r.inRate) - 1) / int64(r.inRate)
}

// Process consumes input from src and writes output to dst until src is used up or dst is
// full, and returns how many outputs it wrote and inputs it consumed: when dst fills
// first, the inputs up to the newest that the next output (the first that did not fit)
// needs. It never allocates. Call it again with the rest of src when dst filled first.
func (r *Resampler) Process(dst, src []float32) (nOut, nIn int) {
	return r.pull(len(r.stages)-1, dst, src, true)
}

// pull fills dst with the outputs of stage i from src, the resampler's input, as Process
// does for the last stage (ahead: also taking the inputs of the first output that did not
// fit). Each stage has the one before it write straight into its buffer no more outputs
// than its own outputs need, so every stage consumes its input only as far as its outputs
// require.
func (r *Resampler) pull(i int, dst, src []float32, ahead bool) (nOut, nIn int) {
	s := r.stages[i]
	if i == 0 {
		return s.process(dst, src, ahead)
	}
	for {
		nOut += s.emit(dst[nOut:])
		want := s.wants(len(dst)-nOut, ahead)
		if want <= 0 {
			return nOut, nIn
		}
		s.makeRoom()
		o, k := r.pull(i-1, s.buf[s.n:s.n+min(want, len(s.buf)-s.n)], src[nIn:], false)
		s.n += o
		nIn += k
		if o == 0 {
			return nOut, nIn
		}
	}
}

// makeRoom drops, when the buffer is full, the inputs that no output needs any more.
func (s *stage) makeRoom() {
	if s.n == len(s.buf) {
		s.n = copy(s.buf, s.buf[s.pos:s.n])
		s.pos = 0
	}
}

// wants is how many more inputs than it holds the stage needs for its next room outputs,
// and, ahead, the output after them: the newest input of its k-th next output (from 0)
// is buf[pos + (phase + k·m)/l + taps-1].
func (s *stage) wants(room int, ahead bool) int {
	if !ahead {
		room--
	}
	if room < 0 {
		return 0
	}
	return s.pos + int((int64(s.phase)+int64(room)*int64(s.m))/int64(s.l)) + s.taps - s.n
}

// process is pull for one stage.
func (s *stage) process(dst, src []float32, ahead bool) (nOut, nIn int) {
	for {
		nOut += s.emit(dst[nOut:])
		want := s.wants(len(dst)-nOut, ahead)
		if want <= 0 || nIn == len(src) {
			return nOut, nIn
		}
		s.makeRoom()
		k := copy(s.buf[s.n:], src[nIn:nIn+min(want, len(src)-nIn)])
		s.n += k
		nIn += k
	}
}

// emit writes to dst the outputs whose windows are in buf, as many as fit, and returns
// how many it wrote.
func (s *stage) emit(dst []float32) int {
	if len(dst) == 0 || s.pos+s.taps > s.n {
		return 0
	}
	// Output k (from 0) is ready while pos + (phase + k·m)/l + taps <= n.
	last := (int64(s.n-s.taps-s.pos+1)*int64(s.l) - 1 - int64(s.phase)) / int64(s.m)
	cnt := int(min(last+1, int64(len(dst))))
	dst = dst[:cnt]
	taps := s.taps
	if s.l == 1 {
		kernels.DotStrided(dst, s.coef, s.buf[s.pos:s.n], s.m)
		s.pos += cnt * s.m
		return cnt
	}
	if s.l <= maxGroupedPhases {
		// Outputs j, j+l, j+2l ... share a phase, and output j+i·l starts i·m inputs after
		// output j: one call per phase writes them in their places.
		phase, pos := s.phase, s.pos
		for j := range min(cnt, s.l) {
			kernels.DotStridedSpaced(dst[j:], s.l, (cnt-j+s.l-1)/s.l, s.coef[phase*taps:(phase+1)*taps], s.buf[pos:s.n], s.m)
			phase += s.m
			pos += phase / s.l
			phase %= s.l
		}
		adv := int64(s.phase) + int64(cnt)*int64(s.m)
		s.pos += int(adv / int64(s.l))
		s.phase = int(adv % int64(s.l))
		return cnt
	}
	phase, pos, l, m := s.phase, s.pos, s.l, s.m
	for len(dst) > 0 {
		b := min(len(dst), resampleBatch)
		ci, bi := s.ci[:b], s.bi[:b]
		for k := range ci {
			ci[k], bi[k] = int32(phase*taps), int32(pos)
			if phase += m; phase >= l {
				pos += phase / l
				phase %= l
			}
		}
		kernels.DotPairs(dst[:b], s.coef, ci, s.buf[:s.n], bi, taps)
		dst = dst[b:]
	}
	s.phase, s.pos = phase, pos
	return cnt
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func gcd64(a, b int64) int64 {
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
