package frontend

import (
	"fmt"
	"math"
	"time"
)

// Limits that keep a hostile or corrupt model file from asking for absurd
// allocations; they are far above anything a wake-word model needs.
const (
	maxSampleRate = 384000
	maxFFTSize    = 1 << 16
	maxHop        = 1 << 20
)

// MaxInferenceHop bounds the time between two inferences: a wake word lasts about a
// second, so a model scored less often than this would miss most of them.
const MaxInferenceHop = 2 * time.Second

// Params describes the MFCC frontend completely. A model file stores these
// values, so the daemon computes exactly the features the model was trained on.
type Params struct {
	SampleRate int     // input sample rate, Hz
	WindowLen  int     // analysis window (periodic Hann), samples
	Hop        int     // distance between frame starts, samples
	FFTSize    int     // power of two >= WindowLen; the frame is zero-padded at its end
	NumMels    int     // triangular mel filters (HTK scale, no area normalisation)
	FMin       float64 // lower edge of the first mel filter, Hz
	FMax       float64 // upper edge of the last mel filter, Hz
	NumCoeffs  int     // orthonormal DCT-II coefficients kept, from c0 up
	LogFloor   float64 // mel energies are clamped to at least this before log
}

// DefaultParams returns the KWT frontend (Berg et al. 2021): 16 kHz, 30 ms
// window, 10 ms hop, 512-point FFT, 80 mel bins over 20-7600 Hz, 40 MFCCs.
func DefaultParams() Params {
	return Params{
		SampleRate: 16000,
		WindowLen:  480,
		Hop:        160,
		FFTSize:    512,
		NumMels:    80,
		FMin:       20,
		FMax:       7600,
		NumCoeffs:  40,
		LogFloor:   1e-12,
	}
}

// Validate reports the first invalid field, by name. It also rejects
// combinations where some mel filter would cover no FFT bin, since such a
// filter could only ever output log(LogFloor).
func (p Params) Validate() error {
	bad := func(field string, format string, args ...any) error {
		return fmt.Errorf("frontend: invalid %s: %s", field, fmt.Sprintf(format, args...))
	}
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case p.SampleRate <= 0 || p.SampleRate > maxSampleRate:
		return bad("SampleRate", "%d Hz, want 1..%d", p.SampleRate, maxSampleRate)
	case p.FFTSize < 4 || p.FFTSize > maxFFTSize || p.FFTSize&(p.FFTSize-1) != 0:
		return bad("FFTSize", "%d, want a power of two in 4..%d", p.FFTSize, maxFFTSize)
	case p.WindowLen <= 0 || p.WindowLen > p.FFTSize:
		return bad("WindowLen", "%d samples, want 1..FFTSize (%d)", p.WindowLen, p.FFTSize)
	case p.Hop <= 0 || p.Hop > maxHop:
		return bad("Hop", "%d samples, want 1..%d", p.Hop, maxHop)
	case p.NumMels <= 0 || p.NumMels > p.FFTSize/2+1:
		return bad("NumMels", "%d, want 1..FFTSize/2+1 (%d)", p.NumMels, p.FFTSize/2+1)
	case !finite(p.FMin) || p.FMin < 0:
		return bad("FMin", "%g Hz, want >= 0", p.FMin)
	case !finite(p.FMax) || p.FMax <= p.FMin || p.FMax > float64(p.SampleRate)/2:
		return bad("FMax", "%g Hz, want FMin (%g) < FMax <= SampleRate/2 (%g)",
			p.FMax, p.FMin, float64(p.SampleRate)/2)
	case p.NumCoeffs <= 0 || p.NumCoeffs > p.NumMels:
		return bad("NumCoeffs", "%d, want 1..NumMels (%d)", p.NumCoeffs, p.NumMels)
	// The floor must survive the conversion to float32 as a normal number:
	// the log takes normal inputs only.
	case !finite(p.LogFloor) || p.LogFloor < 0x1p-126 || p.LogFloor > math.MaxFloat32:
		return bad("LogFloor", "%g, want a positive normal float32", p.LogFloor)
	}
	for j, f := range melFilterbank(p) {
		if len(f.weights) == 0 {
			return bad("NumMels", "%d too many for FFTSize %d over %g-%g Hz: mel filter %d covers no FFT bin",
				p.NumMels, p.FFTSize, p.FMin, p.FMax, j)
		}
	}
	return nil
}

// FrameCount returns the number of complete frames in nSamples samples:
// frame i covers samples [i*Hop, i*Hop+WindowLen), with no padding.
func (p Params) FrameCount(nSamples int) int {
	if p.Hop <= 0 || nSamples < p.WindowLen {
		return 0
	}
	return (nSamples-p.WindowLen)/p.Hop + 1
}

// FramesPerSecond is the frame rate, SampleRate/Hop.
func (p Params) FramesPerSecond() float64 {
	return float64(p.SampleRate) / float64(p.Hop)
}

// FrameHop is the time between two frames.
func (p Params) FrameHop() time.Duration {
	if p.SampleRate <= 0 {
		return 0
	}
	return time.Duration(p.Hop) * time.Second / time.Duration(p.SampleRate)
}

// CheckHop is the one check of an inference hop (the time between two scored windows):
// a whole number of frames, at most MaxInferenceHop.
func (p Params) CheckHop(hop time.Duration) error {
	frame := p.FrameHop()
	if frame <= 0 || hop < frame || hop > MaxInferenceHop || hop%frame != 0 {
		return fmt.Errorf("hop %v must be a multiple of the %v frame hop, at most %v", hop, frame, MaxInferenceHop)
	}
	return nil
}
