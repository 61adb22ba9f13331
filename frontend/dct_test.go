package frontend

import (
	"math"
	"testing"
)

func TestDCTOrthonormal(t *testing.T) {
	const n = 80
	d := dctMatrix(n, n)
	for a := 0; a < n; a++ {
		for b := 0; b < n; b++ {
			var s float64
			for j := 0; j < n; j++ {
				s += d[a*n+j] * d[b*n+j]
			}
			want := 0.0
			if a == b {
				want = 1
			}
			if math.Abs(s-want) > 1e-12 {
				t.Fatalf("row %d . row %d = %v, want %v", a, b, s, want)
			}
		}
	}
	// c0 is the scaled mean: a constant log-mel vector v gives c0 = v*sqrt(n)
	// and nothing else.
	for j := 0; j < n; j++ {
		if math.Abs(d[j]-1/math.Sqrt(n)) > 1e-15 {
			t.Fatalf("row 0 element %d = %v, want 1/sqrt(%d)", j, d[j], n)
		}
	}
	// Truncation keeps the leading rows.
	part := dctMatrix(40, n)
	for i, v := range part {
		if v != d[i] {
			t.Fatalf("dctMatrix(40, 80)[%d] = %v, want %v", i, v, d[i])
		}
	}
}
