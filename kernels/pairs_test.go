package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// DotPairs and DotStrided must give Dot's bits for every row, in every
// implementation, and the assembly the exact model's.

func TestDotStrided(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(60, 61))
		for _, n := range append(lengths()[:70], 127, 149, 298, 300, 325, 512) {
			for _, rows := range []int{0, 1, 2, 3, 4, 5, 7, 9, 16} {
				for _, step := range []int{1, 3, n + 2} {
					off := (n + rows + step) % 4
					a := at(withSpecials(rng, randVec(rng, n, 1), n/100), off)
					b := at(randVec(rng, max(rows-1, 0)*step+n+1, 1), 3-off)
					dst, check := guarded(rows, off)
					DotStrided(dst, a, b, step)
					check(t, "DotStrided")
					for r := range rows {
						row := b[r*step:][:n]
						if want := Dot(a, row); !same(dst[r], want) {
							t.Fatalf("n=%d rows=%d step=%d: row %d = %v, Dot %v", n, rows, step, r, dst[r], want)
						}
						if asm {
							if m := dotModel(a, row); !same(dst[r], m) {
								t.Fatalf("n=%d rows=%d step=%d: row %d = %v, the exact model %v", n, rows, step, r, dst[r], m)
							}
						}
					}
				}
			}
		}
	})
}

func TestDotPairs(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(62, 63))
		for _, n := range append(lengths()[:70], 127, 149, 298, 300, 325, 512) {
			for _, rows := range []int{0, 1, 2, 3, 4, 5, 7, 9, 16} {
				off := (n + rows) % 4
				a := at(withSpecials(rng, randVec(rng, 3*n+5, 1), n/100), off)
				b := at(randVec(rng, 2*n+7, 1), 3-off)
				ai, bi := make([]int32, rows), make([]int32, rows)
				for r := range rows {
					ai[r], bi[r] = int32(rng.IntN(len(a)-n+1)), int32(rng.IntN(len(b)-n+1))
				}
				dst, check := guarded(rows, off)
				DotPairs(dst, a, ai, b, bi, n)
				check(t, "DotPairs")
				for r := range rows {
					x, y := a[ai[r]:][:n], b[bi[r]:][:n]
					if want := Dot(x, y); !same(dst[r], want) {
						t.Fatalf("n=%d rows=%d: row %d = %v, Dot %v", n, rows, r, dst[r], want)
					}
					if asm {
						if m := dotModel(x, y); !same(dst[r], m) {
							t.Fatalf("n=%d rows=%d: row %d = %v, the exact model %v", n, rows, r, dst[r], m)
						}
					}
				}
			}
		}
	})
}

func TestDotPairsPanics(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		a, b := make([]float32, 40), make([]float32, 50)
		for _, c := range []struct {
			ai, bi int32
			n      int
		}{{31, 0, 10}, {0, 41, 10}, {-1, 0, 10}, {0, -1, 1}, {0, 0, 51}, {0, 0, -1}} {
			func() {
				dst := []float32{7, 7}
				defer func() {
					if recover() == nil {
						t.Errorf("DotPairs with offsets %d, %d and n=%d did not panic", c.ai, c.bi, c.n)
					}
					if dst[0] != 7 {
						t.Errorf("DotPairs wrote before it panicked")
					}
				}()
				DotPairs(dst, a, []int32{0, c.ai}, b, []int32{0, c.bi}, c.n)
			}()
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Error("DotStrided with rows beyond b did not panic")
				}
			}()
			DotStrided(make([]float32, 3), make([]float32, 20), make([]float32, 25), 3)
		}()
	})
}

func FuzzDotPairs(f *testing.F) {
	seedFloats(f, uint8(17), uint64(1))
	f.Fuzz(fuzzDotPairs)
}

func fuzzDotPairs(t *testing.T, data []byte, n uint8, seed uint64) {
	v := floats(data)
	k := min(int(n), len(v)/2)
	a, b := v[:len(v)/2], v[len(v)/2:]
	rng := rand.New(rand.NewPCG(seed, 5))
	rows := rng.IntN(11)
	ai, bi := make([]int32, rows), make([]int32, rows)
	for r := range rows {
		ai[r], bi[r] = int32(rng.IntN(len(a)-k+1)), int32(rng.IntN(len(b)-k+1))
	}
	eachImpl(func(asm bool) {
		dst, check := guarded(rows, int(seed%4))
		DotPairs(dst, a, ai, b, bi, k)
		check(t, "DotPairs")
		for r := range dst {
			x, y := a[ai[r]:][:k], b[bi[r]:][:k]
			if want := Dot(x, y); !same(dst[r], want) {
				t.Fatalf("row %d = %v, Dot %v", r, dst[r], want)
			}
			if m := dotModel(x, y); asm && !same(dst[r], m) {
				t.Fatalf("row %d = %v, the exact model %v", r, dst[r], m)
			}
		}
	})
}

// eachImpl runs f with the plain-Go kernels and, where this build has it,
// with the assembly.
func eachImpl(f func(asm bool)) {
	withImpl(false, func() { f(false) })
	if haveAsm {
		withImpl(true, func() { f(true) })
	}
}

func FuzzDotStrided(f *testing.F) {
	seedFloats(f, uint8(17), uint8(3))
	f.Fuzz(fuzzDotStrided)
}

func fuzzDotStrided(t *testing.T, data []byte, n, step uint8) {
	v := floats(data)
	k := min(int(n), len(v))
	a, b := v[:k], v[k:]
	s := int(step%8) + 1
	rows := 0
	if len(b) >= k {
		rows = min((len(b)-k)/s+1, 12)
	}
	eachImpl(func(asm bool) {
		dst, check := guarded(rows, int(step%4))
		DotStrided(dst, a, b, s)
		check(t, "DotStrided")
		for r := range dst {
			row := b[r*s:][:k]
			if want := Dot(a, row); !same(dst[r], want) {
				t.Fatalf("row %d = %v, Dot %v", r, dst[r], want)
			}
			if m := dotModel(a, row); asm && !same(dst[r], m) {
				t.Fatalf("row %d = %v, the exact model %v", r, dst[r], m)
			}
		}
	})
}

// TestPairsRandomBits runs the fuzz bodies on random bit patterns, for the
// assembly (see TestSpectrumRandomBits).
func TestPairsRandomBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(64, 65))
	n := 300
	if testing.Short() {
		n = 40
	}
	for i := range n {
		data := make([]byte, 4*rng.IntN(900))
		for j := 0; j < len(data); j += 4 {
			b := math.Float32bits(float32(rng.NormFloat64()))
			if rng.IntN(4) == 0 {
				b = math.Float32bits(specials[rng.IntN(len(specials))])
			} else if rng.IntN(4) == 0 {
				b = rng.Uint32()
			}
			binary.LittleEndian.PutUint32(data[j:], b)
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			fuzzDotPairs(t, data, uint8(rng.IntN(256)), rng.Uint64())
			fuzzDotStrided(t, data, uint8(rng.IntN(256)), uint8(rng.IntN(256)))
		})
	}
}
