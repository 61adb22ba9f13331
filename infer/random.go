package infer

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/wakewordd/wakewordd/frontend"
)

// Random returns a valid model of architecture a with random weights, for
// tests and benchmarks that need a model without training one. The same
// seed gives the same model. Classes are "silence", "unknown", "kw2",
// "kw3", ...; the frontend is frontend.DefaultParams with a.Coeffs
// coefficients; detection uses DefaultDetection.
//
// Linear weights are uniform with variance 1/fan_in, so activations keep
// unit scale and attention is neither uniform nor one-hot; LayerNorm
// weights are 1 ± 0.5; biases, cls and pos are small.
func Random(a Arch, seed uint64) (*Model, error) {
	if err := a.validate(); err != nil {
		return nil, fmt.Errorf("infer: random model: %w", err)
	}
	m := &Model{
		Arch:      a,
		Frontend:  frontend.DefaultParams(),
		Detection: DefaultDetection(),
		Weights:   Weights{Layers: make([]Layer, a.Depth)},
	}
	m.Frontend.NumCoeffs = a.Coeffs
	for i := range a.NumClasses {
		switch i {
		case 0:
			m.Classes = append(m.Classes, "silence")
		case 1:
			m.Classes = append(m.Classes, "unknown")
		default:
			m.Classes = append(m.Classes, fmt.Sprintf("kw%d", i))
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x6b7774))
	uniform := func(n int, lo, hi float64) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(lo + (hi-lo)*rng.Float64())
		}
		return s
	}
	for _, p := range m.Weights.params(a) {
		n := numel(p.shape)
		switch {
		case len(p.shape) == 2 && p.name != "pos" && !hasSuffix(p.name, "attn.rel"): // Linear weight [out, in]
			b := math.Sqrt(3 / float64(p.shape[1]))
			*p.data = uniform(n, -b, b)
		case hasSuffix(p.name, "norm1.weight", "norm2.weight"):
			*p.data = uniform(n, 0.5, 1.5)
		default: // biases, LayerNorm shifts, cls, pos, distance biases
			*p.data = uniform(n, -0.2, 0.2)
		}
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("infer: random model: %w", err)
	}
	return m, nil
}

func hasSuffix(s string, suffixes ...string) bool {
	for _, x := range suffixes {
		if len(s) >= len(x) && s[len(s)-len(x):] == x {
			return true
		}
	}
	return false
}
