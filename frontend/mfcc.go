// Package frontend turns 16 kHz mono audio into MFCC frames, one every hop,
// identically whether the audio arrives in a stream of arbitrary chunks or
// all at once (the batch path used to compute training features).
//
// Per frame i, covering samples [i*Hop, i*Hop+WindowLen) with no padding or
// centring:
//
//  1. multiply by a periodic Hann window, w[n] = 0.5 - 0.5*cos(2*pi*n/WindowLen)
//     (torch.hann_window's default), and zero-pad at the end to FFTSize;
//  2. real FFT, magnitude |X[k]| (not power) for k = 0..FFTSize/2;
//  3. NumMels triangular HTK-mel filters over FMin..FMax, peak 1, no area
//     normalisation (torchaudio melscale_fbanks(norm=None, mel_scale="htk"));
//  4. log(max(energy, LogFloor));
//  5. orthonormal DCT-II, keeping the first NumCoeffs coefficients.
//
// No pre-emphasis, no dithering, no liftering, no mean normalisation.
//
// Padding at the end rather than centring the window inside the FFT (as
// torch.stft does) only rotates the FFT input, which leaves |X| unchanged.
// Note that torch.stft would also take n_fft-sample frames, so it cannot
// reproduce these frames; training must use this package or an equivalent
// proven equal by the golden test.
//
// All arithmetic on the hot path is float32 with every product explicitly
// rounded and every sum in a fixed order, and the log is computed with
// rounded float64 operations only: package kernels does the work (the
// window, the FFT's magnitudes, the mel filterbank, the log and the DCT; in
// NEON on arm64, in plain Go elsewhere, the same bits), so features computed
// for training on amd64 are the same bits the daemon computes on arm64.
// TestFramesDigest pins those bits; run it under qemu-aarch64 to check.
//
// Streaming use, with no allocations per frame:
//
//	m, err := frontend.New(params) // params from the model file
//	frame := make([]float32, m.NumCoeffs())
//	for chunk := range audio {
//		m.Write(chunk)
//		for m.Next(frame) {
//			consume(frame)
//		}
//	}
package frontend

import (
	"fmt"
	"math"

	"github.com/wakewordd/wakewordd/kernels"
)

// MFCC computes MFCC frames. It holds all tables and scratch space, so Write
// and Next do not allocate in steady state. It is not safe for concurrent use.
type MFCC struct {
	p Params

	window []float32 // WindowLen
	fft    *kernels.RealFFT
	mel    *kernels.BandMatrix // NumMels x (FFTSize/2+1), one run of bins per filter
	dctT   []float32           // the DCT matrix transposed: NumMels x NumCoeffs, row-major
	floor  float32

	// Per-frame scratch.
	frame  []float32 // FFTSize: windowed frame, zero beyond WindowLen
	mag    []float32 // FFTSize/2+1
	logMel []float32 // NumMels

	// Stream state: buf[start:] holds samples not yet consumed; frames start
	// at buf[start]. skip counts input samples to drop before the next frame
	// (only when Hop > WindowLen).
	buf     []float32
	start   int
	skip    int
	emitted uint64
}

// New validates p and precomputes the window, FFT tables, mel filterbank
// and DCT matrix.
func New(p Params) (*MFCC, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	nBins := p.FFTSize/2 + 1
	m := &MFCC{
		p:      p,
		window: make([]float32, p.WindowLen),
		fft:    kernels.NewRealFFT(p.FFTSize),
		floor:  float32(p.LogFloor),
		frame:  make([]float32, p.FFTSize),
		mag:    make([]float32, nBins),
		logMel: make([]float32, p.NumMels),
		// Room for a window of history plus typical audio callback chunks,
		// so steady-state Writes never grow it.
		buf: make([]float32, 0, 2*p.WindowLen+4096),
	}
	for n := range m.window {
		c := math.Cos(2 * math.Pi * float64(n) / float64(p.WindowLen))
		m.window[n] = float32(0.5 - float64(0.5*c)) // rounded product: no FMA
	}
	filters := melFilterbank(p)
	starts, weights := make([]int, len(filters)), make([][]float32, len(filters))
	for j, f := range filters {
		starts[j] = f.start
		for _, w := range f.weights {
			weights[j] = append(weights[j], float32(w))
		}
	}
	m.mel = kernels.NewBandMatrix(nBins, starts, weights)
	d := dctMatrix(p.NumCoeffs, p.NumMels)
	m.dctT = make([]float32, len(d))
	for k := range p.NumCoeffs {
		for j := range p.NumMels {
			m.dctT[j*p.NumCoeffs+k] = float32(d[k*p.NumMels+j])
		}
	}
	return m, nil
}

// Params returns the parameters m was built with.
func (m *MFCC) Params() Params { return m.p }

// NumCoeffs is the length of every frame.
func (m *MFCC) NumCoeffs() int { return m.p.NumCoeffs }

// FramesEmitted counts the frames returned by Next since New or Reset.
func (m *MFCC) FramesEmitted() uint64 { return m.emitted }

// Reset forgets all buffered audio and the frame count, as after New.
func (m *MFCC) Reset() {
	m.buf = m.buf[:0]
	m.start, m.skip, m.emitted = 0, 0, 0
}

// Write appends samples to the stream. Call Next until it returns false
// after each Write: unconsumed samples stay buffered, and the buffer only
// grows (amortised) when more audio is pending than it has ever held.
func (m *MFCC) Write(samples []float32) {
	if m.skip > 0 {
		n := min(m.skip, len(samples))
		samples = samples[n:]
		m.skip -= n
	}
	if len(samples) == 0 {
		return
	}
	if len(m.buf)+len(samples) > cap(m.buf) {
		// Drop consumed samples first; grow only if that is not enough.
		pending := len(m.buf) - m.start
		dst := m.buf[:pending]
		if pending+len(samples) > cap(m.buf) {
			dst = make([]float32, pending, 2*(pending+len(samples)))
		}
		copy(dst, m.buf[m.start:])
		m.buf, m.start = dst, 0
	}
	m.buf = append(m.buf, samples...)
}

// Next writes the next frame's NumCoeffs coefficients to dst and reports
// true, or reports false if fewer than WindowLen samples are buffered for
// it. It panics if len(dst) < NumCoeffs.
func (m *MFCC) Next(dst []float32) bool {
	if len(m.buf)-m.start < m.p.WindowLen {
		return false
	}
	m.compute(dst, m.buf[m.start:m.start+m.p.WindowLen])
	m.emitted++
	m.start += m.p.Hop
	if m.start > len(m.buf) {
		m.skip = m.start - len(m.buf)
		m.start = len(m.buf)
	}
	return true
}

// Batch computes every complete frame of samples (see Params.FrameCount)
// with the same per-frame code as Next, so the results are bit-identical to
// streaming the same audio in any chunking. It does not touch the stream
// state.
func (m *MFCC) Batch(samples []float32) [][]float32 {
	n := m.p.FrameCount(len(samples))
	c := m.p.NumCoeffs
	out := make([][]float32, n)
	flat := make([]float32, n*c)
	for i := range out {
		out[i] = flat[i*c : (i+1)*c : (i+1)*c]
		s := i * m.p.Hop
		m.compute(out[i], samples[s:s+m.p.WindowLen])
	}
	return out
}

// Compute is New(p) followed by Batch(samples).
func Compute(samples []float32, p Params) ([][]float32, error) {
	m, err := New(p)
	if err != nil {
		return nil, err
	}
	return m.Batch(samples), nil
}

// compute is the one per-frame function behind both Next and Batch.
// x holds exactly WindowLen samples.
func (m *MFCC) compute(dst, x []float32) {
	c := m.p.NumCoeffs
	if len(dst) < c {
		panic(fmt.Sprintf("frontend: frame buffer has %d elements, need NumCoeffs = %d", len(dst), c))
	}
	// The window; frame[WindowLen:] stays zero from New.
	kernels.Mul(m.frame[:len(m.window)], x, m.window)
	// |X[k]| (not the power), for k = 0..FFTSize/2.
	m.fft.Magnitude(m.mag, m.frame)
	// The mel energies: each filter's bins, in order, products rounded.
	m.mel.MulVec(m.logMel, m.mag)
	kernels.LogFloor(m.logMel, m.floor)
	// The DCT: dst[k] = Σ_j dct[k][j]·logMel[j], j in order, products rounded.
	d := dst[:c]
	clear(d)
	kernels.AXPYRowsRounded(d, m.logMel, m.dctT, c)
}
