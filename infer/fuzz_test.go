package infer

import (
	"bytes"
	"testing"
)

// FuzzParse feeds Parse arbitrary bytes. It must never panic; whatever it
// accepts must be a valid model that survives a Write/Parse round trip
// unchanged, and small accepted models must run.
func FuzzParse(f *testing.F) {
	valid := encodeModel(f, randomModel(f, tinyArch(), 1))
	f.Add(valid)
	for _, n := range []int{0, 7, 8, 9, 100, len(valid) / 2, len(valid) - 4, len(valid) - 1} {
		f.Add(valid[:n])
	}
	for _, i := range []int{0, 3, 7, 8, 20, 200, 600, len(valid) - 100, len(valid) - 1} {
		b := bytes.Clone(valid)
		b[i] ^= 0x10
		f.Add(b)
	}
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)))

	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data, "fuzz")
		if err != nil {
			if bytes.ContainsRune([]byte(err.Error()), '\n') {
				t.Errorf("multi-line error: %q", err)
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("Parse accepted a model that Validate rejects: %v", err)
		}
		var out bytes.Buffer
		if err := Write(&out, m); err != nil {
			t.Fatalf("Write of a parsed model: %v", err)
		}
		m2, err := Parse(out.Bytes(), "fuzz")
		if err != nil {
			t.Fatalf("Parse of a written model: %v", err)
		}
		var out2 bytes.Buffer
		if err := Write(&out2, m2); err != nil || !bytes.Equal(out.Bytes(), out2.Bytes()) {
			t.Fatalf("round trip not stable (%v)", err)
		}
		// A tiny file can still declare many frames; run only cheap models.
		if total, _ := m.DenseMACs(); total < 1e6 {
			logits := make([]float32, m.Arch.NumClasses)
			m.NewDense().Forward(make([]float32, m.Arch.Frames*m.Arch.Coeffs), logits)
		}
	})
}
