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
					for _, ds := range []int{1, 2, 3} {
						// Rows ds apart; what lies between them must stay as it was.
						dst, check := guarded(max(rows-1, 0)*ds+min(rows, 1), off)
						if ds == 1 {
							DotStrided(dst, a, b, step)
						} else {
							DotStridedSpaced(dst, ds, rows, a, b, step)
						}
						check(t, "DotStrided")
						for i, v := range dst {
							if i%ds != 0 && math.Float32bits(v) != math.Float32bits(sentinel) {
								t.Fatalf("n=%d rows=%d step=%d spaced %d: dst[%d] between rows written", n, rows, step, ds, i)
							}
						}
						for r := range rows {
							row, got := b[r*step:][:n], dst[r*ds]
							if want := Dot(a, row); !same(got, want) {
								t.Fatalf("n=%d rows=%d step=%d spaced %d: row %d = %v, Dot %v", n, rows, step, ds, r, got, want)
							}
							if asm {
								if m := dotModel(a, row); !same(got, m) {
									t.Fatalf("n=%d rows=%d step=%d spaced %d: row %d = %v, the exact model %v", n, rows, step, ds, r, got, m)
								}
							}
						}
					}
				}
			}
		}
	})
}

// TestDotStridedSpacedManyRows covers more rows than the amd64 path's buffer holds.
func TestDotStridedSpacedManyRows(t *testing.T) {
	impls(t, func(t *testing.T, asm bool) {
		rng := rand.New(rand.NewPCG(66, 67))
		const rows, n, step, ds = 150, 37, 3, 2
		a := randVec(rng, n, 1)
		b := randVec(rng, (rows-1)*step+n, 1)
		dst, check := guarded((rows-1)*ds+1, 1)
		DotStridedSpaced(dst, ds, rows, a, b, step)
		check(t, "DotStridedSpaced")
		for r := range rows {
			if want := Dot(a, b[r*step:][:n]); !same(dst[r*ds], want) {
				t.Fatalf("row %d = %v, Dot %v", r, dst[r*ds], want)
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
		for _, c := range []struct{ dstLen, ds int }{{4, 2}, {6, 3}, {9, 0}, {0, 1}} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("DotStridedSpaced of 3 rows %d apart into %d did not panic", c.ds, c.dstLen)
					}
				}()
				DotStridedSpaced(make([]float32, c.dstLen), c.ds, 3, make([]float32, 20), make([]float32, 40), 3)
			}()
		}
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
	ds := int(step/8%3) + 1 // rows 1-3 apart in dst
	eachImpl(func(asm bool) {
		dst, check := guarded(max(rows-1, 0)*ds+min(rows, 1), int(step%4))
		DotStridedSpaced(dst, ds, rows, a, b, s)
		check(t, "DotStrided")
		for r := range rows {
			row, got := b[r*s:][:k], dst[r*ds]
			if want := Dot(a, row); !same(got, want) {
				t.Fatalf("row %d = %v, Dot %v", r, got, want)
			}
			if m := dotModel(a, row); asm && !same(got, m) {
				t.Fatalf("row %d = %v, the exact model %v", r, got, m)
			}
		}
		for i, v := range dst {
			if i%ds != 0 && math.Float32bits(v) != math.Float32bits(sentinel) {
				t.Fatalf("dst[%d], between rows %d apart, written", i, ds)
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
