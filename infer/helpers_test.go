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
