package frontend

import "math"

// log32 returns the natural logarithm of a normal, positive float32, with
// NaN and +Inf passed through. It exists instead of math.Log because
// math.Log is assembly on amd64 and Go (with compiler-fused multiply-adds)
// on arm64, which can differ in the last bit; log32 uses only explicitly
// rounded float64 operations, so it gives the same float32 on every GOARCH.
// Its float64 result is within a few ulps, so the float32 is correctly
// rounded except in rare near-tie cases.
func log32(x float32) float32 {
	b := math.Float32bits(x)
	e := int(b>>23) - 127
	if e == 128 {
		return x // NaN or +Inf
	}
	// x = 2^e * mant with mant in [sqrt(1/2), sqrt(2)).
	mant := float64(math.Float32frombits(b&0x007fffff | 127<<23))
	if mant > math.Sqrt2 {
		mant *= 0.5
		e++
	}
	// log(mant) = 2*atanh(s) = 2*(s + s^3/3 + s^5/5 + ...), s = (mant-1)/(mant+1).
	// |s| <= 0.1716, so z = s^2 <= 0.0295 and eleven terms reach 1e-18.
	s := (mant - 1) / (mant + 1)
	z := float64(s * s)
	p := 1.0 / 23
	for _, c := range [...]float64{1.0 / 21, 1.0 / 19, 1.0 / 17, 1.0 / 15, 1.0 / 13,
		1.0 / 11, 1.0 / 9, 1.0 / 7, 1.0 / 5, 1.0 / 3, 1} {
		p = float64(p*z) + c
	}
	return float32(float64(float64(e)*math.Ln2) + float64(2*float64(s*p)))
}
