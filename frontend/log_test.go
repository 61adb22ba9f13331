package frontend

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestLog32(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 21))
	inputs := []float32{1, 2, 0.5, math.Sqrt2, 1e-12, 0x1p-126, math.MaxFloat32,
		math.Nextafter32(1, 0), math.Nextafter32(1, 2), math.E}
	for i := 0; i < 200000; i++ {
		// Log-uniform over the whole normal range, plus a dense band near 1.
		inputs = append(inputs, float32(math.Exp(r.Float64()*176-87)), float32(0.5+r.Float64()))
	}
	exact := 0
	for _, x := range inputs {
		got, want := log32(x), float32(math.Log(float64(x)))
		if got == want {
			exact++
			continue
		}
		// At most one float32 ulp away, from a near-tie in rounding.
		if math.Nextafter32(want, got) != got {
			t.Fatalf("log32(%v) = %v, math.Log gives %v", x, got, want)
		}
	}
	if frac := float64(exact) / float64(len(inputs)); frac < 0.9999 {
		t.Errorf("only %.6f of results equal float32(math.Log)", frac)
	}
	if log32(1) != 0 {
		t.Errorf("log32(1) = %v", log32(1))
	}
	inf := float32(math.Inf(1))
	if log32(inf) != inf {
		t.Errorf("log32(+Inf) = %v", log32(inf))
	}
	if nan := float32(math.NaN()); !math.IsNaN(float64(log32(nan))) {
		t.Errorf("log32(NaN) = %v", log32(nan))
	}
}
