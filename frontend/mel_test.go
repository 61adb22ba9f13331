package frontend

import (
	"math"
	"testing"
)

func TestMelScale(t *testing.T) {
	// HTK: 1000 Hz is about 1000 mel, and the two maps invert each other.
	if m := hzToMel(1000); math.Abs(m-1000) > 0.1 {
		t.Errorf("hzToMel(1000) = %v", m)
	}
	for _, f := range []float64{0, 20, 440, 7600, 8000} {
		if g := melToHz(hzToMel(f)); math.Abs(g-f) > 1e-9*max(f, 1) {
			t.Errorf("melToHz(hzToMel(%v)) = %v", f, g)
		}
	}
}

func TestMelFilterbank(t *testing.T) {
	p := DefaultParams()
	fb := melFilterbank(p)
	if len(fb) != p.NumMels {
		t.Fatalf("%d filters, want %d", len(fb), p.NumMels)
	}
	binHz := float64(p.SampleRate) / float64(p.FFTSize)
	nBins := p.FFTSize/2 + 1
	sum := make([]float64, nBins)
	prevStart := -1
	for j, f := range fb {
		if len(f.weights) == 0 {
			t.Fatalf("filter %d is empty", j)
		}
		if f.start < prevStart {
			t.Errorf("filter %d starts at bin %d, before filter %d", j, f.start, j-1)
		}
		prevStart = f.start
		lo, hi := f.start, f.start+len(f.weights)-1
		if float64(lo)*binHz <= p.FMin || float64(hi)*binHz >= p.FMax {
			t.Errorf("filter %d spans bins %d..%d (%.1f..%.1f Hz), outside (%v, %v)",
				j, lo, hi, float64(lo)*binHz, float64(hi)*binHz, p.FMin, p.FMax)
		}
		// Triangular: rises to its peak, then falls; weights in (0, 1].
		peak := 0
		for i, w := range f.weights {
			if !(w > 0 && w <= 1) {
				t.Fatalf("filter %d weight %d = %v, want (0, 1]", j, i, w)
			}
			if w > f.weights[peak] {
				peak = i
			}
			sum[f.start+i] += w
		}
		for i := 1; i < len(f.weights); i++ {
			if up := f.weights[i] > f.weights[i-1]; up != (i <= peak) {
				t.Fatalf("filter %d is not unimodal: %v", j, f.weights)
			}
		}
		// A filter many bins wide has a bin close to its centre, where it peaks at 1.
		if len(f.weights) >= 10 && f.weights[peak] < 0.9 {
			t.Errorf("filter %d (%d bins) peaks at %v, want about 1", j, len(f.weights), f.weights[peak])
		}
	}
	// Neighbouring triangles share edges, so between the first and last
	// centre the filters sum to 1: each peaks at exactly 1 where its
	// neighbours are 0. Outside FMin..FMax nothing is covered.
	edges := func(i int) float64 {
		lo, hi := hzToMel(p.FMin), hzToMel(p.FMax)
		return melToHz(lo + (hi-lo)*float64(i)/float64(p.NumMels+1))
	}
	firstCentre, lastCentre := edges(1), edges(p.NumMels)
	for k, s := range sum {
		hz := float64(k) * binHz
		switch {
		case hz <= p.FMin || hz >= p.FMax:
			if s != 0 {
				t.Errorf("bin %d (%.1f Hz) outside the range has weight %v", k, hz, s)
			}
		case hz >= firstCentre && hz <= lastCentre:
			if math.Abs(s-1) > 1e-12 {
				t.Errorf("bin %d (%.1f Hz): filters sum to %v, want 1", k, hz, s)
			}
		default: // the outer half-triangles
			if !(s > 0 && s < 1) {
				t.Errorf("bin %d (%.1f Hz): filters sum to %v, want (0, 1)", k, hz, s)
			}
		}
	}
}

// The float32 filters in MFCC are the float64 ones, rounded: column k of
// its mel matrix (its product with a unit impulse at bin k) holds each
// filter's weight for bin k, and zero where the filter does not reach.
func TestMFCCUsesFilterbank(t *testing.T) {
	p := DefaultParams()
	m, _ := New(p)
	filters := melFilterbank(p)
	nBins := p.FFTSize/2 + 1
	if m.mel.Rows() != len(filters) || m.mel.Cols() != nBins {
		t.Fatalf("mel matrix %dx%d, want %dx%d", m.mel.Rows(), m.mel.Cols(), len(filters), nBins)
	}
	x, col := make([]float32, nBins), make([]float32, len(filters))
	for k := range nBins {
		clear(x)
		x[k] = 1
		m.mel.MulVec(col, x)
		for j, f := range filters {
			var want float32
			if i := k - f.start; i >= 0 && i < len(f.weights) {
				want = float32(f.weights[i])
			}
			if col[j] != want {
				t.Fatalf("filter %d, bin %d: weight %v, want %v", j, k, col[j], want)
			}
		}
	}
}
