package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

	// A streamed array, whose header was left room for any number of rows.
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := NewFloat32Writer(f, 2)
	a.Write([]float32{1, 2, 3, 4, 5, 6})
	if err := errors.Join(a.Close(), f.Close()); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(py, "-c", "import numpy,sys; a=numpy.load(sys.argv[1]); print(a.dtype, a.shape, a.tolist())", path).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "float32 (3, 2) [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]" {
		t.Fatalf("numpy read the streamed array as %q, %v", out, err)
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

func TestFloat32WriterStreams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.npy")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewFloat32Writer(f, 3)
	if err != nil {
		t.Fatal(err)
	}
	var want []float64
	for i := range 40000 { // more than one buffer, in pieces that split rows
		want = append(want, float64(i)-0.5)
	}
	for i := 0; i < len(want); i += 7 {
		var piece []float32
		for _, v := range want[i:min(i+7, len(want))] {
			piece = append(piece, float32(v))
		}
		if err := a.Write(piece); err != nil {
			t.Fatal(err)
		}
	}
	if a.Rows() != 40000/3 {
		t.Errorf("Rows() = %d", a.Rows())
	}
	if err := a.Write([]float32{39999.5, 40000.5}); err != nil { // complete the last row
		t.Fatal(err)
	}
	want = append(want, 39999.5, 40000.5)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, shape, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(shape) != 2 || shape[0] != 40002/3 || shape[1] != 3 || !slices.Equal(got, want) {
		t.Fatalf("shape %v, %d values; want [%d 3], %d", shape, len(got), 40002/3, len(want))
	}
	b, _ := os.ReadFile(path)
	if hlen := int(binary.LittleEndian.Uint16(b[8:10])); (10+hlen)%64 != 0 {
		t.Errorf("data starts at %d, not 64-byte aligned", 10+hlen)
	}

	// Partial rows and bad shapes are errors.
	a, _ = NewFloat32Writer(&sizeFile{}, 40)
	a.Write(make([]float32, 41))
	if err := a.Close(); err == nil {
		t.Error("a partial row was accepted")
	}
	if _, err := NewFloat32Writer(&sizeFile{}, 0); err == nil {
		t.Error("a 0 dimension was accepted")
	}
	// A vector.
	var v sizeFile
	a, _ = NewFloat32Writer(&v)
	a.Write([]float32{1, 2, 3})
	if err := a.Close(); err != nil || !strings.Contains(string(v.head), "'shape': (3,)") {
		t.Errorf("vector: %v, header %q", err, v.head)
	}
}

// sizeFile is a file that keeps its first 4 KiB and its size only: an array of any size
// can be written to it in no memory.
type sizeFile struct {
	head      []byte
	pos, size int64
	biggest   int // the largest single Write
}

func (f *sizeFile) Write(p []byte) (int, error) {
	if f.pos < 4096 {
		end := min(f.pos+int64(len(p)), 4096)
		if int64(len(f.head)) < end {
			f.head = append(f.head, make([]byte, end-int64(len(f.head)))...)
		}
		copy(f.head[f.pos:end], p)
	}
	f.pos += int64(len(p))
	f.size = max(f.size, f.pos)
	f.biggest = max(f.biggest, len(p))
	return len(p), nil
}

func (f *sizeFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		f.pos = off
	case io.SeekEnd:
		f.pos = f.size + off
	default:
		f.pos += off
	}
	return f.pos, nil
}

// The writer's memory does not grow with the array: Write does not allocate, and what
// reaches the file comes in pieces of at most the buffer's size, whatever the array's.
// The header's shape is patched at the end, in the room left for it.
func TestFloat32WriterMemoryIsFlat(t *testing.T) {
	var f sizeFile
	a, err := NewFloat32Writer(&f, 40)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]float32, 40)
	if n := testing.AllocsPerRun(1000, func() { a.Write(frame) }); n != 0 {
		t.Errorf("Write allocates %.1f times per frame", n)
	}
	const frames = 2_000_000 // 320 MB of float32, as from a 5.5-hour recording
	for range frames - 1001 {
		a.Write(frame)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if f.biggest > float32WriterBuffer {
		t.Errorf("a single write of %d bytes; the buffer is %d", f.biggest, float32WriterBuffer)
	}
	hlen := int64(binary.LittleEndian.Uint16(f.head[8:10]))
	if h := string(f.head[10 : 10+hlen]); !strings.Contains(h, "'shape': (2000000, 40)") || f.size != 10+hlen+frames*40*4 {
		t.Errorf("header %q, file size %d", h, f.size)
	}
}
