package infer

import (
	"errors"
	"math"
)

// FrameStats returns the mean and standard deviation of every coefficient
// over frames (each of the same length), computed in float64. A coefficient
// that never varies gets a standard deviation of 1.
func FrameStats(frames [][]float32) (mean, std []float32) {
	if len(frames) == 0 {
		return nil, nil
	}
	k := len(frames[0])
	sum, sq := make([]float64, k), make([]float64, k)
	for _, f := range frames {
		for i, v := range f[:k] {
			sum[i] += float64(v)
		}
	}
	n := float64(len(frames))
	mean, std = make([]float32, k), make([]float32, k)
	for i := range sum {
		sum[i] /= n
		mean[i] = float32(sum[i])
	}
	for _, f := range frames {
		for i, v := range f[:k] {
			d := float64(v) - sum[i]
			sq[i] += d * d
		}
	}
	for i := range sq {
		s := math.Sqrt(sq[i] / n)
		if !(s > 1e-12) {
			s = 1
		}
		std[i] = float32(s)
	}
	return mean, std
}

// FoldInputNorm makes the model normalise its input frames per coefficient,
// (f - mean) / std, by folding that map into embed.weight and embed.bias, as
// train/export.py does for a trained model. It is for models with random
// weights (Random), which then see inputs of unit scale as a trained model
// does; std must be positive.
func (m *Model) FoldInputNorm(mean, std []float32) error {
	a := m.Arch
	if len(mean) != a.Coeffs || len(std) != a.Coeffs {
		return errors.New("infer: FoldInputNorm: mean and std need one value per coefficient")
	}
	for _, s := range std {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			return errors.New("infer: FoldInputNorm: std must be positive and finite")
		}
	}
	w := &m.Weights
	for j := range a.Dim {
		row := w.EmbedW[j*a.Coeffs : (j+1)*a.Coeffs]
		b := float64(w.EmbedB[j])
		for k := range row {
			scaled := float64(row[k]) / float64(std[k])
			b -= scaled * float64(mean[k])
			row[k] = float32(scaled)
		}
		w.EmbedB[j] = float32(b)
	}
	return m.Validate()
}
