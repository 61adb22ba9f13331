package infer

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// tinyArch is a small architecture with several heads and layers, so every
// code path runs while tests stay fast.
func tinyArch() Arch {
	return Arch{Dim: 8, Depth: 2, Heads: 2, MLPDim: 12, Frames: 5, Coeffs: 3, NumClasses: 4, NormEps: 1e-6, Norm: "post"}
}

// kwt1 is KWT-1 as the project trains it: 1.5 s windows, 8 classes.
func kwt1(frames, classes int) Arch {
	return Arch{Dim: 64, Depth: 12, Heads: 1, MLPDim: 256, Frames: frames, Coeffs: 40, NumClasses: classes, NormEps: 1e-6, Norm: "post"}
}

// streamArch is a small streaming KWT: 3 layers, 2 heads, 5 tokens of
// context, so that the receptive field (13 frames) is shorter than the
// window (20) and the rings wrap several times in a window.
func streamArch() Arch {
	return Arch{Dim: 16, Depth: 3, Heads: 2, MLPDim: 24, Frames: 20, Coeffs: 6, NumClasses: 4, NormEps: 1e-6, Norm: "post", Context: 5}
}

// streamingKWT is the shipped streaming model's shape: 6 layers of d = 64
// over 148 frames, each token attending to the 25 latest.
func streamingKWT() Arch {
	a := kwt1(148, 8)
	a.Depth, a.Context = 6, 25
	return a
}

func randomModel(t testing.TB, a Arch, seed uint64) *Model {
	t.Helper()
	m, err := Random(a, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func encodeModel(t testing.TB, m *Model) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawFile assembles a safetensors file from a literal header and body.
func rawFile(header string, body []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, body...)
}
