package infer

// The safetensors container is parsed here rather than with
// github.com/nlpodyssey/safetensors. That library was read in full
// (v0.0.0-20250209183917-bfb01cc25f7c) and its bounds checks are sound:
// offsets must be contiguous from 0, sizes use overflow-checked
// multiplication, and the total must equal the buffer. It was still not
// used, because:
//   - its errors name neither the tensor nor the sizes ("info data offsets
//     mismatch", "metadata incomplete buffer"), while ours must tell a user
//     which tensor of which file is wrong and by how much;
//   - it decodes the header through Go maps, so a duplicated JSON key is
//     silently resolved to its last value instead of being rejected;
//   - it is an untagged pseudo-version, and the part it would save us is
//     about a hundred lines of encoding/json, which FuzzParse covers.
// The parser follows the safetensors specification: 8-byte little-endian
// header length, a UTF-8 JSON object, then a data section that the tensors
// cover exactly, without overlaps or holes.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/wakewordd/wakewordd/internal/limited"
)

// MaxFileSize caps the size of a model or tensor file. KWT-3 (d=192) at
// 148 frames is about 21 MB; the cap keeps a hostile file from making the
// loader allocate without bound.
const MaxFileSize = 64 << 20

// Tensor is a float32 tensor in row-major (C) order.
type Tensor struct {
	Shape []int
	Data  []float32
}

// ReadTensors reads every tensor of a safetensors file with the same
// validating parser as Load, without requiring wakewordd metadata. It is
// meant for golden-vector files. Only F32 tensors are accepted.
func ReadTensors(path string) (map[string]Tensor, error) {
	data, err := limited.ReadFile(path, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	_, tensors, err := parseSafetensors(data)
	if err != nil {
		return nil, fmt.Errorf("safetensors %s: %w", path, err)
	}
	return tensors, nil
}

// tensorEntry is one tensor's header entry, before its data is decoded.
type tensorEntry struct {
	name       string
	shape      []int
	begin, end uint64 // byte offsets in the data section
}

// parseSafetensors validates a whole safetensors file and decodes its
// tensors. meta is nil when the header has no __metadata__.
func parseSafetensors(data []byte) (meta map[string]string, tensors map[string]Tensor, err error) {
	if len(data) < 8 {
		return nil, nil, fmt.Errorf("truncated: %d bytes, need at least 8 for the header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if rest := uint64(len(data) - 8); n > rest {
		return nil, nil, fmt.Errorf("truncated: header says %d bytes, file has %d after the length", n, rest)
	}
	header, body := data[8:8+n], data[8+n:]
	if !utf8.Valid(header) {
		return nil, nil, errors.New("header is not valid UTF-8")
	}
	fields, err := objectFields(header)
	if err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}

	var entries []tensorEntry
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		raw := fields[name]
		if name == "__metadata__" {
			if meta, err = parseMetadata(raw); err != nil {
				return nil, nil, fmt.Errorf("header: __metadata__: %w", err)
			}
			continue
		}
		e, err := parseEntry(name, raw, uint64(len(body)))
		if err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		entries = append(entries, e)
	}
	if err := checkCoverage(entries, uint64(len(body))); err != nil {
		return nil, nil, err
	}

	tensors = make(map[string]Tensor, len(entries))
	for _, e := range entries {
		b := body[e.begin:e.end]
		t := Tensor{Shape: e.shape, Data: make([]float32, len(b)/4)}
		for i := range t.Data {
			t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		tensors[e.name] = t
	}
	return meta, tensors, nil
}

// parseMetadata decodes __metadata__: an object whose values are strings.
func parseMetadata(raw json.RawMessage) (map[string]string, error) {
	fields, err := objectFields(raw)
	if err != nil {
		return nil, err
	}
	meta := make(map[string]string, len(fields))
	for k, v := range fields {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("%q: value is not a string", k)
		}
		meta[k] = s
	}
	return meta, nil
}

// parseEntry decodes and checks one tensor's header entry against the size
// of the data section.
func parseEntry(name string, raw json.RawMessage, dataLen uint64) (tensorEntry, error) {
	fields, err := objectFields(raw)
	if err != nil {
		return tensorEntry{}, err
	}
	if err := exactKeys(fields, "dtype", "shape", "data_offsets"); err != nil {
		return tensorEntry{}, err
	}
	var dtype string
	var shape, offsets []uint64
	if err := json.Unmarshal(fields["dtype"], &dtype); err != nil {
		return tensorEntry{}, errors.New("dtype is not a string")
	}
	if err := json.Unmarshal(fields["shape"], &shape); err != nil {
		return tensorEntry{}, errors.New("shape is not a list of non-negative integers")
	}
	if err := json.Unmarshal(fields["data_offsets"], &offsets); err != nil || len(offsets) != 2 {
		return tensorEntry{}, errors.New("data_offsets is not a pair of non-negative integers")
	}
	if dtype != "F32" {
		return tensorEntry{}, fmt.Errorf("dtype %q, want F32", dtype)
	}
	begin, end := offsets[0], offsets[1]
	if begin > end {
		return tensorEntry{}, fmt.Errorf("data_offsets [%d %d] run backwards", begin, end)
	}
	if end > dataLen {
		return tensorEntry{}, fmt.Errorf("truncated: data_offsets [%d %d] end past the data section (%d bytes)", begin, end, dataLen)
	}
	// Every element needs 4 bytes of the data section, so a shape whose
	// product exceeds dataLen/4 is wrong; checking that bound while
	// multiplying also rules out overflow.
	limit := dataLen / 4
	elems := uint64(1)
	for _, d := range shape {
		if d == 0 {
			elems = 0
			break
		}
	}
	if elems != 0 {
		for _, d := range shape {
			if d > limit || elems > limit/d {
				return tensorEntry{}, fmt.Errorf("shape %v needs more than the %d bytes of the data section", shape, dataLen)
			}
			elems *= d
		}
	}
	if end-begin != 4*elems {
		return tensorEntry{}, fmt.Errorf("data_offsets [%d %d] hold %d bytes, shape %v needs %d", begin, end, end-begin, shape, 4*elems)
	}
	e := tensorEntry{name: name, shape: make([]int, len(shape)), begin: begin, end: end}
	for i, d := range shape {
		e.shape[i] = int(d) // d <= limit < MaxInt
	}
	return e, nil
}

// checkCoverage requires the tensors to tile the data section exactly:
// no overlaps (two names for the same bytes) and no holes or trailing bytes
// (room for data nobody validated), as the safetensors specification says.
func checkCoverage(entries []tensorEntry, dataLen uint64) error {
	slices.SortFunc(entries, func(a, b tensorEntry) int {
		if a.begin != b.begin {
			return cmpUint(a.begin, b.begin)
		}
		if a.end != b.end {
			return cmpUint(a.end, b.end)
		}
		return strings.Compare(a.name, b.name)
	})
	pos, prev := uint64(0), ""
	for _, e := range entries {
		switch {
		case e.begin < pos:
			return fmt.Errorf("tensor %q: data_offsets [%d %d] overlap tensor %q, which ends at %d", e.name, e.begin, e.end, prev, pos)
		case e.begin > pos:
			return fmt.Errorf("tensor %q: data_offsets [%d %d] leave a hole of %d bytes before it", e.name, e.begin, e.end, e.begin-pos)
		}
		pos, prev = e.end, e.name
	}
	if pos != dataLen {
		return fmt.Errorf("%d bytes after the last tensor in the data section", dataLen-pos)
	}
	return nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// objectFields splits one JSON object into its fields, rejecting duplicate
// keys and anything after the object other than whitespace.
func objectFields(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	fields := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonError(err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("object key is not a string")
		}
		if _, dup := fields[key]; dup {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, jsonError(err)
		}
		fields[key] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return fields, nil
}

// jsonError turns a decoder error into a one-line message.
func jsonError(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("JSON ends early")
	}
	return fmt.Errorf("bad JSON: %v", err)
}

// exactKeys reports a missing or unknown key, so that a misspelt key is an
// error rather than silently ignored.
func exactKeys(fields map[string]json.RawMessage, keys ...string) error {
	if err := requiredKeys(fields, keys...); err != nil {
		return err
	}
	return knownKeys(fields, keys...)
}

// requiredKeys reports the first of keys missing from fields.
func requiredKeys(fields map[string]json.RawMessage, keys ...string) error {
	for _, k := range keys {
		if _, ok := fields[k]; !ok {
			return fmt.Errorf("missing key %q", k)
		}
	}
	return nil
}

// knownKeys reports the first key (in sorted order) that is not in keys.
func knownKeys(fields map[string]json.RawMessage, keys ...string) error {
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if !slices.Contains(keys, k) {
			return fmt.Errorf("unknown key %q", k)
		}
	}
	return nil
}

// namedTensor is a tensor to be written, in file order.
type namedTensor struct {
	name  string
	shape []int
	data  []float32
}

// encodeSafetensors lays out a safetensors file: the header lists
// __metadata__ first and the tensors in the given order, is padded with
// spaces so that the data section starts at a multiple of 8 bytes, and the
// tensors follow back to back. Callers pass tensors sorted by name, which is
// also the order of the Python safetensors writer for single-dtype files.
func encodeSafetensors(meta map[string]string, tensors []namedTensor) ([]byte, error) {
	var h bytes.Buffer
	h.WriteByte('{')
	sep := func() {
		if h.Len() > 1 {
			h.WriteByte(',')
		}
	}
	if meta != nil {
		b, err := json.Marshal(meta) // sorted keys
		if err != nil {
			return nil, err
		}
		h.WriteString(`"__metadata__":`)
		h.Write(b)
	}
	var off uint64
	for _, t := range tensors {
		n := 1
		for _, d := range t.shape {
			if d < 0 {
				return nil, fmt.Errorf("tensor %q: negative dimension in shape %v", t.name, t.shape)
			}
			n *= d
		}
		if n != len(t.data) {
			return nil, fmt.Errorf("tensor %q: shape %v holds %d values, got %d", t.name, t.shape, n, len(t.data))
		}
		name, err := json.Marshal(t.name)
		if err != nil {
			return nil, err
		}
		shape := t.shape
		if shape == nil {
			shape = []int{} // a scalar: "shape":[] rather than null
		}
		sb, err := json.Marshal(shape)
		if err != nil {
			return nil, err
		}
		sep()
		size := 4 * uint64(len(t.data))
		fmt.Fprintf(&h, `%s:{"dtype":"F32","shape":%s,"data_offsets":[%d,%d]}`, name, sb, off, off+size)
		off += size
	}
	h.WriteByte('}')
	for (8+h.Len())%8 != 0 {
		h.WriteByte(' ')
	}
	out := make([]byte, 0, 8+uint64(h.Len())+off)
	out = binary.LittleEndian.AppendUint64(out, uint64(h.Len()))
	out = append(out, h.Bytes()...)
	for _, t := range tensors {
		for _, v := range t.data {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
		}
	}
	return out, nil
}

// WriteTensors writes tensors as a plain safetensors file (no metadata),
// sorted by name; it is the counterpart of ReadTensors for test vectors.
func WriteTensors(w io.Writer, tensors map[string]Tensor) error {
	list := make([]namedTensor, 0, len(tensors))
	for _, name := range slices.Sorted(maps.Keys(tensors)) {
		t := tensors[name]
		list = append(list, namedTensor{name, t.Shape, t.Data})
	}
	b, err := encodeSafetensors(nil, list)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	_, err = w.Write(b)
	return err
}
