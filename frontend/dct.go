package frontend

import "math"

// dctMatrix returns the first nCoeffs rows of the orthonormal DCT-II of
// size n, row-major: c_k = s_k * sum_j x_j cos(pi*k*(2j+1)/(2n)), with
// s_0 = sqrt(1/n) and s_k = sqrt(2/n). This matches scipy's
// dct(type=2, norm="ortho") and torchaudio's create_dct(norm="ortho").
func dctMatrix(nCoeffs, n int) []float64 {
	d := make([]float64, nCoeffs*n)
	for k := 0; k < nCoeffs; k++ {
		s := math.Sqrt(2 / float64(n))
		if k == 0 {
			s = math.Sqrt(1 / float64(n))
		}
		for j := 0; j < n; j++ {
			d[k*n+j] = s * math.Cos(math.Pi*float64(k*(2*j+1))/float64(2*n))
		}
	}
	return d
}
