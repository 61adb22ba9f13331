package infer

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for n := 0; n <= 37; n++ {
		a, b := randomFeatures(n, rng), randomFeatures(n+3, rng) // b may be longer
		want := 0.0
		for i := range n {
			want += float64(a[i]) * float64(b[i])
		}
		if got := float64(dot(a, b)); math.Abs(got-want) > 1e-5*(1+math.Abs(want)) {
			t.Errorf("n=%d: dot = %v, want %v", n, got, want)
		}
	}
}

func TestMatVec(t *testing.T) {
	w := []float32{1, 2, 3, 4, 5, 6} // [2, 3]
	dst := []float32{9, 9, 9}
	matVec(dst, w, []float32{1, 0, -1}, 2, 3)
	if dst[0] != -2 || dst[1] != -2 || dst[2] != 9 {
		t.Errorf("matVec = %v, want [-2 -2 9]", dst)
	}
}

func TestLayerNorm(t *testing.T) {
	// A large offset exercises the two-pass variance.
	x := []float32{1000, 1001, 1002, 1003}
	layerNorm(x, []float32{1, 1, 2, 1}, []float32{0, 0, 0, 1}, 1e-6)
	s := float32(1 / math.Sqrt(1.25+1e-6))
	want := []float32{-1.5 * s, -0.5 * s, 2 * 0.5 * s, 1.5*s + 1}
	for i := range x {
		if math.Abs(float64(x[i]-want[i])) > 1e-6 {
			t.Errorf("layerNorm = %v, want %v", x, want)
			break
		}
	}
	// A constant row becomes the bias (epsilon avoids 0/0).
	x = []float32{3, 3, 3}
	layerNorm(x, []float32{1, 1, 1}, []float32{0.5, 0, -1}, 1e-6)
	if x[0] != 0.5 || x[1] != 0 || x[2] != -1 {
		t.Errorf("constant row: %v", x)
	}
}

func TestGELU(t *testing.T) {
	x := []float32{-3, -1, 0, 1, 3}
	gelu(x)
	// 0.5 x (1 + erf(x / sqrt 2)), from PyTorch's F.gelu in float64.
	want := []float64{-0.0040496598, -0.15865525393, 0, 0.84134474607, 2.9959503402}
	xs := []float64{-3, -1, 0, 1, 3}
	for i := range x {
		// erf is a rational approximation (package kernels): 3e-7·max(1, |x|).
		if math.Abs(float64(x[i])-want[i]) > 3e-7*max(1, math.Abs(xs[i])) {
			t.Errorf("gelu = %v, want %v", x, want)
			break
		}
	}
}

func TestSoftmax(t *testing.T) {
	probs := make([]float32, 3)
	Softmax([]float32{0, 0, -float32(math.Ln2)}, probs)
	want := []float32{0.4, 0.4, 0.2}
	for i := range probs {
		if math.Abs(float64(probs[i]-want[i])) > 1e-7 {
			t.Errorf("Softmax = %v, want %v", probs, want)
			break
		}
	}
	// Large logits must not overflow exp.
	Softmax([]float32{1e30, 1e30, 1e30}, probs)
	for _, p := range probs {
		if math.Abs(float64(p)-1.0/3) > 1e-7 {
			t.Errorf("Softmax of large logits = %v", probs)
			break
		}
	}
	x := []float32{-1e30, 0}
	softmax(x)
	if x[0] != 0 || x[1] != 1 {
		t.Errorf("softmax = %v", x)
	}
	softmax(nil)
}
