package frontend

import "math"

// melFilter is one triangular filter stored sparsely: weights[i] applies to
// FFT bin start+i. Only the bins strictly inside the triangle are kept.
type melFilter struct {
	start   int
	weights []float64
}

// hzToMel and melToHz are the HTK mel scale.
func hzToMel(f float64) float64 { return 2595 * math.Log10(1+f/700) }
func melToHz(m float64) float64 { return 700 * (math.Pow(10, m/2595) - 1) }

// melFilterbank builds the filters the way torchaudio's
// melscale_fbanks(norm=None, mel_scale="htk") does: NumMels+2 edges equally
// spaced in mel between FMin and FMax, each triangle evaluated at the FFT
// bin frequencies k*SampleRate/FFTSize, peak 1 at its centre (no area
// normalisation). It is computed in float64; New rounds it to float32.
func melFilterbank(p Params) []melFilter {
	lo, hi := hzToMel(p.FMin), hzToMel(p.FMax)
	edges := make([]float64, p.NumMels+2)
	for i := range edges {
		edges[i] = melToHz(lo + (hi-lo)*float64(i)/float64(p.NumMels+1))
	}
	// Pin the outer edges to the requested frequencies rather than a
	// round trip through the mel scale.
	edges[0], edges[len(edges)-1] = p.FMin, p.FMax

	nBins := p.FFTSize/2 + 1
	binHz := float64(p.SampleRate) / float64(p.FFTSize)
	filters := make([]melFilter, p.NumMels)
	for j := range filters {
		fl, fc, fh := edges[j], edges[j+1], edges[j+2]
		f := melFilter{start: -1}
		for k := 0; k < nBins; k++ {
			hz := float64(float64(k) * binHz) // rounded: no FMA, same on every GOARCH
			w := math.Min((hz-fl)/(fc-fl), (fh-hz)/(fh-fc))
			if !(w > 0) { // also rejects NaN
				if f.start >= 0 {
					break // past the triangle: the support is contiguous
				}
				continue
			}
			if f.start < 0 {
				f.start = k
			}
			f.weights = append(f.weights, w)
		}
		if f.start < 0 {
			f.start = 0
		}
		filters[j] = f
	}
	return filters
}
