package npy

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestHeaderLayout(t *testing.T) {
	var b bytes.Buffer
	if err := WriteFloat32(&b, []int{2, 3}, []float32{1, 2, 3, 4, 5, -6.5}); err != nil {
		t.Fatal(err)
	}
	out := b.Bytes()
	hlen := int(binary.LittleEndian.Uint16(out[8:10]))
	if (10+hlen)%64 != 0 {
		t.Fatalf("data starts at %d, not 64-byte aligned", 10+hlen)
	}
	h := string(out[10 : 10+hlen])
	if !strings.Contains(h, "'shape': (2, 3)") || !strings.Contains(h, "'<f4'") || h[len(h)-1] != '\n' {
		t.Fatalf("header %q", h)
	}
	last := math.Float32frombits(binary.LittleEndian.Uint32(out[len(out)-4:]))
	if last != -6.5 || len(out) != 10+hlen+24 {
		t.Fatalf("data wrong: last %v, len %d", last, len(out))
	}
	if err := WriteFloat32(&b, []int{2, 2}, []float32{1}); err == nil {
		t.Fatal("shape mismatch accepted")
	}
}

// NumPy itself must read what we write, when it is installed.
func TestNumpyReadsIt(t *testing.T) {
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import numpy").Run() != nil {
		t.Skip("python3-numpy not installed (scripts/setup.sh test installs it)")
	}
	path := filepath.Join(t.TempDir(), "a.npy")
	var b bytes.Buffer
	if err := WriteFloat32(&b, []int{3}, []float32{0.5, -1, 3}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", "import numpy,sys; a=numpy.load(sys.argv[1]); print(a.dtype, a.shape, a.tolist())", path).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "float32 (3,) [0.5, -1.0, 3.0]" {
		t.Fatalf("numpy read %q, %v", out, err)
	}
}

func TestRoundTripAndBadFiles(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	want := []float32{1.5, -2, 3.25, 0, 7, -0.125}
	if err := WriteFloat32(&b, []int{3, 2}, want); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "a.npy")
	os.WriteFile(path, b.Bytes(), 0o644)
	got, shape, err := ReadFile(path)
	if err != nil || len(shape) != 2 || shape[0] != 3 || shape[1] != 2 {
		t.Fatalf("shape %v, err %v", shape, err)
	}
	for i := range want {
		if got[i] != float64(want[i]) {
			t.Fatalf("value %d: %v, want %v", i, got[i], want[i])
		}
	}
	for name, data := range map[string][]byte{
		"truncated": b.Bytes()[:b.Len()-3],
		"not npy":   []byte("hello world, not numpy"),
		"header":    b.Bytes()[:12],
	} {
		p := filepath.Join(dir, "bad.npy")
		os.WriteFile(p, data, 0o644)
		if _, _, err := ReadFile(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v", name, err)
		}
	}
}
