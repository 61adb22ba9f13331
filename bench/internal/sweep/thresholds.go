package sweep

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/frontend"
	"github.com/wakewordd/wakewordd/infer"
)

// DefaultValueRatio is the threshold of the values site relative to the activation sites:
// attention probabilities change by about 250 times less than post-LayerNorm activations
// (DESIGN.md, training notes: 0.5-1.0 on activations, 0.002 on probabilities).
const DefaultValueRatio = 0.004

// ScopeSites returns the delta sites of a scope ("mhsa" or "all") that models of
// architecture a run (a streaming model has no scores or values sites).
func ScopeSites(a infer.Arch, scope string) []infer.DeltaSite {
	sites := infer.AllSites
	if scope == "mhsa" {
		sites = infer.MHSASites
	}
	return slices.DeleteFunc(slices.Clone(sites), func(s infer.DeltaSite) bool { return !a.HasDeltaSite(s) })
}

// RestrictThresholds returns th with the sites outside scope switched off.
func RestrictThresholds(a infer.Arch, th infer.Thresholds, scope string) infer.Thresholds {
	out := infer.Thresholds{}
	for _, s := range ScopeSites(a, scope) {
		if th.Enabled[s] {
			out.Enabled[s] = true
			out.Theta[s] = append([]float32(nil), th.Theta[s]...)
		}
	}
	return out
}

// UniformThresholds switches on the sites of scope with theta in every layer, and the
// values site (where a has one) with theta*ratio.
func UniformThresholds(a infer.Arch, theta, ratio float64, scope string) infer.Thresholds {
	th := infer.UniformThresholds(a.Depth, float32(theta), ScopeSites(a, scope)...)
	if a.HasDeltaSite(infer.DeltaValues) {
		th.Set(infer.DeltaValues, a.Depth, float32(theta*ratio))
	}
	return th
}

// ScaledThresholds multiplies every threshold by f, rounded to 3 significant digits as
// the greedy moves are (so 0.0004 x 1.25 is stored as 0.0005, not 0.00049999997).
func ScaledThresholds(th infer.Thresholds, f float64) infer.Thresholds {
	out := th.Clone()
	for s := range out.Theta {
		for i, v := range out.Theta[s] {
			out.Theta[s][i] = float32(min(roundSig(float64(v)*f, 3), infer.MaxTheta))
		}
	}
	return out
}

// RandomKWT1 returns a random-weight KWT-1 (d=64, depth layers, 148 frames, 8 classes)
// with its input normalisation fitted to the MFCC frames of the audio file input.
func RandomKWT1(depth int, input string) (*infer.Model, error) {
	if depth < 1 || depth > 48 {
		return nil, fmt.Errorf("--random-depth %d: want 1..48", depth)
	}
	samples, err := audio.DecodeFile(input)
	if err != nil {
		return nil, err
	}
	frames, err := frontend.Compute(samples, frontend.DefaultParams()) // as the streaming frontend, bit for bit
	if err != nil {
		return nil, err
	}
	if len(frames) == 0 {
		return nil, errors.New("--random needs input frames to fit the normalisation")
	}
	a := infer.Arch{Dim: 64, Depth: depth, Heads: 1, MLPDim: 256, Frames: 148, Coeffs: 40, NumClasses: 8, NormEps: 1e-6, Norm: "post"}
	m, err := infer.Random(a, 1)
	if err != nil {
		return nil, err
	}
	mean, std := infer.FrameStats(frames)
	if err := m.FoldInputNorm(mean, std); err != nil {
		return nil, err
	}
	m.Path = fmt.Sprintf("random KWT-1 shape (d=64, %d layers, 148 frames, 8 classes; random weights)", depth)
	return m, nil
}

// WriteModel writes m with th as its delta metadata to path (atomically), as `wakewordd
// bench --write-model` does.
func WriteModel(m *infer.Model, th infer.Thresholds, path string) error {
	out := *m
	t := th.Clone()
	out.Delta = &t
	tmp := path + ".tmp"
	fh, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := infer.Write(fh, &out); err != nil {
		fh.Close()
		os.Remove(tmp)
		return err
	}
	if err := fh.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
