package infer

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseSafetensorsErrors(t *testing.T) {
	f32 := func(n int) []byte { return make([]byte, 4*n) }
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "truncated: 0 bytes, need at least 8"},
		{"short length", []byte{1, 2, 3}, "truncated: 3 bytes"},
		{"header past end", rawFile("{}", nil)[:9], "truncated: header says 2 bytes, file has 1 after the length"},
		{"huge header length", binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "truncated: header says 18446744073709551615 bytes"},
		{"not json", rawFile("{x", nil), "header: bad JSON"},
		{"json ends early", rawFile(`{"a":`, nil), "header: JSON ends early"},
		{"not an object", rawFile("[]", nil), "header: not a JSON object"},
		{"trailing data", rawFile("{} {}", nil), "header: data after the JSON object"},
		{"duplicate key", rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}`, nil), `duplicate key "a"`},
		{"not utf-8", rawFile("{\"\xff\":1}", nil), "not valid UTF-8"},
		{"metadata not object", rawFile(`{"__metadata__":[]}`, nil), "__metadata__: not a JSON object"},
		{"metadata value not string", rawFile(`{"__metadata__":{"format":1}}`, nil), `__metadata__: "format": value is not a string`},
		{"entry not object", rawFile(`{"a":3}`, nil), `tensor "a": not a JSON object`},
		{"missing dtype", rawFile(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, f32(1)), `tensor "a": missing key "dtype"`},
		{"extra key", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, f32(1)), `tensor "a": unknown key "x"`},
		{"dtype", rawFile(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, f32(1)), `tensor "a": dtype "F16", want F32`},
		{"negative dim", rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, f32(1)), "shape is not a list of non-negative integers"},
		{"fractional dim", rawFile(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, f32(1)), "shape is not a list"},
		{"string dim", rawFile(`{"a":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}`, f32(1)), "shape is not a list"},
		{"one offset", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, f32(1)), "data_offsets is not a pair"},
		{"backwards", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, f32(1)), "data_offsets [4 0] run backwards"},
		{"past data", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32(1)), `tensor "a": truncated: data_offsets [0 8] end past the data section (4 bytes)`},
		{"size mismatch", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, f32(2)), "data_offsets [0 4] hold 4 bytes, shape [2] needs 8"},
		{"overflowing shape", rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}}`, nil), "needs more than the 0 bytes"},
		{"overflow wraps to size", rawFile(`{"a":{"dtype":"F32","shape":[4611686018427387905],"data_offsets":[0,4]}}`, f32(1)), "needs more than the 4 bytes"},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(2)), `tensor "b": data_offsets [4 8] overlap tensor "a", which ends at 8`},
		{"same bytes twice", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32(1)), `tensor "b": data_offsets [0 4] overlap tensor "a"`},
		{"hole", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(2)), "leave a hole of 4 bytes"},
		{"trailing bytes", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32(2)), "4 bytes after the last tensor"},
		{"data but no tensors", rawFile(`{}`, f32(1)), "4 bytes after the last tensor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := parseSafetensors(c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got error %v, want one containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestParseSafetensorsValid(t *testing.T) {
	body := binary.LittleEndian.AppendUint32(nil, math.Float32bits(1.5))
	body = binary.LittleEndian.AppendUint32(body, math.Float32bits(-2))
	body = binary.LittleEndian.AppendUint32(body, math.Float32bits(3))
	// Out of order in the header, a scalar, a zero-sized tensor, padding
	// spaces and a metadata block: all allowed by the specification.
	header := `{"s":{"dtype":"F32","shape":[],"data_offsets":[8,12]},` +
		`"v":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},` +
		`"z":{"dtype":"F32","shape":[0,3],"data_offsets":[12,12]},` +
		`"__metadata__":{"k":"v"}}    `
	meta, tensors, err := parseSafetensors(rawFile(header, body))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(meta, map[string]string{"k": "v"}) {
		t.Errorf("metadata %v", meta)
	}
	want := map[string]Tensor{
		"v": {Shape: []int{2, 1}, Data: []float32{1.5, -2}},
		"s": {Shape: []int{}, Data: []float32{3}},
		"z": {Shape: []int{0, 3}, Data: []float32{}},
	}
	if !reflect.DeepEqual(tensors, want) {
		t.Errorf("tensors %v, want %v", tensors, want)
	}
}

func TestTensorsRoundTrip(t *testing.T) {
	in := map[string]Tensor{
		"features": {Shape: []int{2, 3, 2}, Data: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, float32(math.Inf(1))}},
		"logits":   {Shape: []int{2, 2}, Data: []float32{-1, 0.5, float32(math.NaN()), 2}},
	}
	var buf bytes.Buffer
	if err := WriteTensors(&buf, in); err != nil {
		t.Fatal(err)
	}
	if n := binary.LittleEndian.Uint64(buf.Bytes()); (8+n)%8 != 0 {
		t.Errorf("data section starts at %d, not a multiple of 8", 8+n)
	}
	path := filepath.Join(t.TempDir(), "g.safetensors")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := ReadTensors(path)
	if err != nil {
		t.Fatal(err)
	}
	// NaN != NaN, so compare bits.
	for name, want := range in {
		got := out[name]
		if !reflect.DeepEqual(got.Shape, want.Shape) || len(got.Data) != len(want.Data) {
			t.Fatalf("%s: got %v", name, got)
		}
		for i := range want.Data {
			if math.Float32bits(got.Data[i]) != math.Float32bits(want.Data[i]) {
				t.Errorf("%s[%d] = %v, want %v", name, i, got.Data[i], want.Data[i])
			}
		}
	}
	if len(out) != len(in) {
		t.Errorf("read %d tensors, wrote %d", len(out), len(in))
	}

	if err := WriteTensors(&buf, map[string]Tensor{"x": {Shape: []int{3}, Data: []float32{1}}}); err == nil {
		t.Error("WriteTensors accepted a shape that does not match the data")
	}
	if _, err := ReadTensors(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("ReadTensors of a missing file succeeded")
	}
}
