package frontend

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"path/filepath"
	"testing"

	"github.com/wakewordd/wakewordd/npy"
)

// goldenNames are the signals written by scripts/gen_frontend_golden.py, an
// independent float64 numpy implementation of the spec.
var goldenNames = []string{"chirp_noise", "noise_low", "tones", "bursts"}

// goldenTol bounds |Go float32 MFCC - numpy float64 MFCC| per coefficient,
// per signal, at about 4x the maximum measured on amd64:
//
//	chirp_noise 1.11e-5, noise_low 4.72e-6, tones 4.12e-5, bursts 8.22e-4.
//
// The error is float32 rounding in the FFT, which is relative to the
// loudest bin; bursts has 0.8-amplitude tone bursts beside bands holding
// only -80 dBFS dither, so its quiet bands carry most of it. Spec
// deviations are far larger: a symmetric Hann window moves coefficients by
// 0.018-0.21 on these signals, FMax 7599 instead of 7600 Hz by 3.5e-3 to
// 1.7e-2.
var goldenTol = map[string]float64{
	"chirp_noise": 5e-5,
	"noise_low":   2e-5,
	"tones":       1.5e-4,
	"bursts":      3e-3,
}

func loadGolden(t *testing.T, name string) (x []float32, want [][]float64) {
	t.Helper()
	in, shape, err := npy.ReadFile(filepath.Join("testdata", name+".in.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if len(shape) != 1 {
		t.Fatalf("%s: input shape %v, want 1-D", name, shape)
	}
	x = make([]float32, len(in))
	for i, v := range in {
		x[i] = float32(v) // exact: stored as float32
	}
	ref, shape, err := npy.ReadFile(filepath.Join("testdata", name+".mfcc.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if len(shape) != 2 {
		t.Fatalf("%s: mfcc shape %v, want 2-D", name, shape)
	}
	for i := 0; i < shape[0]; i++ {
		want = append(want, ref[i*shape[1]:(i+1)*shape[1]])
	}
	return x, want
}

func TestGolden(t *testing.T) {
	p := DefaultParams()
	var worstAbs, worstRel float64
	for _, name := range goldenNames {
		x, want := loadGolden(t, name)
		got, err := Compute(x, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(got) != p.FrameCount(len(x)) {
			t.Fatalf("%s: %d frames, reference has %d, FrameCount says %d",
				name, len(got), len(want), p.FrameCount(len(x)))
		}
		var maxAbs, maxRel float64
		for i := range got {
			if len(want[i]) != p.NumCoeffs {
				t.Fatalf("%s: reference frame has %d coefficients", name, len(want[i]))
			}
			for k, w := range want[i] {
				d := math.Abs(float64(got[i][k]) - w)
				if !(d <= goldenTol[name]) {
					t.Errorf("%s frame %d coeff %d: got %.7g, want %.7g (|diff| %.3g > %.3g)",
						name, i, k, got[i][k], w, d, goldenTol[name])
				}
				maxAbs = max(maxAbs, d)
				// Relative to the coefficient, floored at 1 so values near
				// zero do not dominate.
				maxRel = max(maxRel, d/max(math.Abs(w), 1))
			}
		}
		t.Logf("%-12s %4d frames: max abs error %.3g (tolerance %.3g), max rel error %.3g",
			name, len(got), maxAbs, goldenTol[name], maxRel)
		worstAbs, worstRel = max(worstAbs, maxAbs), max(worstRel, maxRel)
	}
	t.Logf("all: max abs error %.3g, max rel error %.3g", worstAbs, worstRel)
}

// framesDigest is the SHA-256 of every frame of every golden input, as
// little-endian float32 bits. It pins the exact output: a change here means
// the features changed, and every trained model needs checking (or
// retraining). Run the test under GOARCH=arm64 (qemu) and GOAMD64=v3 to see
// that platforms agree bit for bit.
const framesDigest = "73e460b80f2c22605d0ddde6ecae27c98480c9eab64beae65e923c43be620d17"

func TestFramesDigest(t *testing.T) {
	h := sha256.New()
	for _, name := range goldenNames {
		x, _ := loadGolden(t, name)
		got, err := Compute(x, DefaultParams())
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range got {
			for _, v := range f {
				h.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)))
			}
		}
	}
	if d := hex.EncodeToString(h.Sum(nil)); d != framesDigest {
		t.Errorf("frame bits changed: digest %s, want %s", d, framesDigest)
	}
}
