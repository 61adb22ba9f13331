package kernels

import "math/bits"

// Constants and tables that the assembly reads. Each constant is stored
// eight times, so that AVX2 can use it as a memory operand; the NEON code
// loads lane 0 of it into every lane.

// geluTab holds the constants of GELU (kernels_generic.go), in this order:
// -clamp, clamp, P4..P0, Q5..Q1, 1, -1, 0.5.
var geluTab [15][8]float32

// The exp of Softmax: exp(t) = 2^n · exp(r) with n = round(t·log2(e)) (ties
// to even) and r = t - n·ln2 (two fused steps, ln2 = ln2Hi + ln2Lo), and
// exp(r) ≈ 1 + r + r²·(c2 + r·(c3 + r·(c4 + r·(c5 + r·c6)))) on |r| <= ln2/2,
// a relative least-squares fit made by fit_coeffs.py (error below 1e-7 in
// float32). Below expMin the result is 0 (exp(-86.5) ≈ 2.7e-38 is near the
// smallest normal float32, where 2^n stops being a normal number).
const (
	expMin   = -86.5
	expLog2e = 1.4426950216293335
	expLn2Hi = 0.6931471824645996
	expLn2Lo = -1.9046542121259336e-09
	expC2    = 0.4999999403953552
	expC3    = 0.1666651964187622
	expC4    = 0.04166839271783829
	expC5    = 0.008368774317204952
	expC6    = 0.0013814426492899656
)

// expTab holds the constants of exp, in this order: expMin, log2(e),
// ln2Hi, ln2Lo, c6..c2, 1.
var expTab [10][8]float32

func rep8(t [][8]float32, v ...float32) {
	for i, x := range v {
		for l := range t[i] {
			t[i][l] = x
		}
	}
}

// compress8 is the VPERMD table of SelectDelta on AVX2: for each 8-bit
// mask of kept lanes, the kept lanes' numbers in order (the rest 0).
var compress8 [256][8]int32

// compress4 is the TBL table of SelectDelta on NEON: for each 4-bit mask of
// kept lanes, the byte numbers of the kept 32-bit lanes in order (the rest
// 0xff, which TBL turns into 0); count4 is the number of bytes they take.
var (
	compress4 [16][16]byte
	count4    [16]uint8
)

func init() {
	rep8(geluTab[:],
		-geluClamp, geluClamp,
		geluP4, geluP3, geluP2, geluP1, geluP0,
		geluQ5, geluQ4, geluQ3, geluQ2, geluQ1,
		1, -1, 0.5)
	rep8(expTab[:], expMin, expLog2e, expLn2Hi, expLn2Lo, expC6, expC5, expC4, expC3, expC2, 1)
	for m := range compress8 {
		k := 0
		for l := range 8 {
			if m>>l&1 != 0 {
				compress8[m][k] = int32(l)
				k++
			}
		}
	}
	for m := range compress4 {
		for i := range compress4[m] {
			compress4[m][i] = 0xff
		}
		k := 0
		for l := range 4 {
			if m>>l&1 != 0 {
				for b := range 4 {
					compress4[m][4*k+b] = byte(4*l + b)
				}
				k++
			}
		}
		count4[m] = uint8(4 * bits.OnesCount(uint(m)))
	}
}
