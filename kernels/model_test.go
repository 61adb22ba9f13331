package kernels

import "math"

// Exact models of the assembly: the operation sequences that kernels.go
// documents, in Go, with fused multiply-adds emulated exactly (fma32). The
// assembly must match them bit for bit on every architecture, which is what
// makes NEON and AVX2 give the same results; the plain-Go kernels are only
// compared with them within rounding bounds.

// fma32 returns a·b + c rounded once to float32. The product of two
// float32 is exact in float64; the float64 sum is made round-to-odd with
// its exact error (TwoSum), and rounding that to float32 is then correct
// (float64 has more than 24+2 bits).
func fma32(a, b, c float32) float32 {
	p := float64(float64(a) * float64(b)) // the conversion forbids fusing
	s := p + float64(c)
	if s == 0 || math.IsInf(s, 0) || math.IsNaN(s) {
		return float32(s)
	}
	bb := s - p
	e := (p - (s - bb)) + (float64(c) - bb)
	if e != 0 {
		if u := math.Float64bits(s); u&1 == 0 {
			if (e > 0) == (s > 0) {
				u++
			} else {
				u--
			}
			s = math.Float64frombits(u)
		}
	}
	return float32(s)
}

// tree16 adds 16 partial sums as the assembly does.
func tree16(s *[16]float32) float32 { return sum16(s) }

func dotModel(x, w []float32) float32 {
	n := len(x)
	n16 := n &^ 15
	var s [16]float32
	for i := range n16 {
		s[i%16] = fma32(x[i], w[i], s[i%16])
	}
	r := tree16(&s)
	for i := n16; i < n; i++ {
		r += float32(x[i] * w[i])
	}
	return r
}

func dotRowsModel(dst, x, w []float32, stride int) {
	for r := range dst {
		dst[r] = dotModel(x, w[r*stride:][:len(x)])
	}
}

func axpyRowsModel(y, a, w []float32, stride int) {
	m16 := len(y) &^ 15
	for j, aj := range a {
		row := w[j*stride:][:len(y)]
		for e := range y {
			if e < m16 {
				y[e] = fma32(aj, row[e], y[e])
			} else {
				y[e] += float32(aj * row[e])
			}
		}
	}
}

func rowAXPYModel(y, w []float32, stride int, idx []int32, dv []float32) {
	for j, i := range idx {
		axpyRowsModel(y, dv[j:j+1], w[int(i)*stride:], 0)
	}
}

func geluModel(x []float32) {
	for i, v := range x {
		c := v
		if v == v { // NaN stays NaN
			c = min(max(v, -geluClamp), geluClamp)
		}
		z := c * c
		p := fma32(geluP4, z, geluP3)
		p = fma32(p, z, geluP2)
		p = fma32(p, z, geluP1)
		p = fma32(p, z, geluP0)
		p = p * c
		q := fma32(geluQ5, z, geluQ4)
		q = fma32(q, z, geluQ3)
		q = fma32(q, z, geluQ2)
		q = fma32(q, z, geluQ1)
		q = fma32(q, z, 1)
		e := p / q
		if e == e {
			e = min(max(e, -1), 1)
		}
		h := v * 0.5
		x[i] = fma32(h, e, h)
	}
}

// expModel is the exp of the assembly's softmax, for t <= 0.
func expModel(t float32) float32 {
	if !(t >= expMin) {
		return 0
	}
	n := float32(math.RoundToEven(float64(t * expLog2e)))
	r := fma32(-n, expLn2Hi, t)
	r = fma32(-n, expLn2Lo, r)
	p := fma32(expC6, r, expC5)
	p = fma32(p, r, expC4)
	p = fma32(p, r, expC3)
	p = fma32(p, r, expC2)
	z := r * r
	s := fma32(p, z, r) + 1
	return math.Float32frombits(math.Float32bits(s) + uint32(int32(n))<<23)
}

func softmaxModel(x []float32, scale float32) {
	if len(x) == 0 {
		return
	}
	mx := float32(math.Inf(-1))
	for i, v := range x {
		x[i] = v * scale
		mx = max(mx, x[i])
	}
	var acc [16]float32
	for i, v := range x {
		e := expModel(v - mx)
		x[i] = e
		acc[i%16] += e
	}
	inv := 1 / tree16(&acc)
	for i := range x {
		x[i] *= inv
	}
}

func layerNormModel(x, g, b []float32, eps float32) {
	n := len(x)
	if n == 0 {
		return
	}
	n16 := n &^ 15
	var s [16]float32
	for i := range n16 {
		s[i%16] += x[i]
	}
	sum := tree16(&s)
	for _, v := range x[n16:] {
		sum += v
	}
	mean := sum / float32(n)
	s = [16]float32{}
	for i := range n16 {
		d := x[i] - mean
		s[i%16] = fma32(d, d, s[i%16])
	}
	ss := tree16(&s)
	for _, v := range x[n16:] {
		d := v - mean
		ss += float32(d * d)
	}
	inv := float32(1 / math.Sqrt(float64(ss/float32(n)+eps)))
	for i, v := range x {
		t := (v - mean) * inv
		x[i] = float32(t*g[i]) + b[i]
	}
}
