// Package npy reads and writes NumPy .npy files, the interchange format between the
// daemon's frontend and the training scripts.
package npy

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// WriteFloat32 writes a little-endian float32 array of the given shape, C order.
// len(data) must equal the product of shape.
func WriteFloat32(w io.Writer, shape []int, data []float32) error {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("npy: negative dimension %d", d)
		}
		n *= d
	}
	if n != len(data) {
		return fmt.Errorf("npy: shape %v holds %d values, got %d", shape, n, len(data))
	}
	buf, err := header(shape, 0)
	if err != nil {
		return err
	}
	buf = slices.Grow(buf, 4*len(data))
	for _, v := range data {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
	}
	_, err = w.Write(buf)
	return err
}

// header returns the .npy preamble of a float32 array of the given shape: magic,
// version, header length and the header dictionary, padded with spaces so that the data
// starts on a multiple of 64 bytes, and at least at offset atLeast.
func header(shape []int, atLeast int) ([]byte, error) {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	h := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", tuple)
	// magic(6) + version(2) + header length(2) + header + '\n', padded to 64 bytes.
	total := max(10+len(h)+1, atLeast)
	h += strings.Repeat(" ", total-(10+len(h)+1)+(64-total%64)%64) + "\n"
	if len(h) > math.MaxUint16 {
		return nil, fmt.Errorf("npy: header too long")
	}
	buf := make([]byte, 0, 10+len(h))
	buf = append(buf, "\x93NUMPY\x01\x00"...)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(h)))
	return append(buf, h...), nil
}

// Float32Writer streams a little-endian float32 array of shape [rows, cols...] to a file
// row by row, for arrays too large to hold: it keeps one buffer of a fixed size, and the
// number of rows, unknown until the end, goes into the header when it is closed. The
// header is written first with room for the largest row count, so that patching it never
// moves the data.
type Float32Writer struct {
	w      io.WriteSeeker
	cols   []int
	rowLen int   // values per row
	values int64 // values written
	hlen   int   // bytes before the data
	buf    []byte
	err    error // sticky
}

// float32WriterBuffer is how many bytes a Float32Writer holds before writing them out.
const float32WriterBuffer = 64 << 10

// NewFloat32Writer writes the header of an array of rows of shape cols (nothing: a vector)
// to w, which must be at its start, and returns a writer of its values.
func NewFloat32Writer(w io.WriteSeeker, cols ...int) (*Float32Writer, error) {
	rowLen := 1
	for _, d := range cols {
		if d < 1 {
			return nil, fmt.Errorf("npy: dimension %d; want at least 1", d)
		}
		rowLen *= d
	}
	widest, err := header(append([]int{math.MaxInt64}, cols...), 0)
	if err != nil {
		return nil, err
	}
	hdr, err := header(append([]int{0}, cols...), len(widest))
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(hdr); err != nil {
		return nil, err
	}
	return &Float32Writer{w: w, cols: slices.Clone(cols), rowLen: rowLen, hlen: len(hdr), buf: make([]byte, 0, float32WriterBuffer)}, nil
}

// Write appends values to the array, in C order: any number, as long as whole rows have
// been written by Close. It does not allocate.
func (a *Float32Writer) Write(values []float32) error {
	for _, v := range values {
		if a.err != nil {
			return a.err
		}
		if len(a.buf) == cap(a.buf) {
			a.flush()
		}
		a.buf = binary.LittleEndian.AppendUint32(a.buf, math.Float32bits(v))
	}
	a.values += int64(len(values))
	return a.err
}

func (a *Float32Writer) flush() {
	if a.err == nil && len(a.buf) > 0 {
		_, a.err = a.w.Write(a.buf)
	}
	a.buf = a.buf[:0]
}

// Rows is the number of whole rows written so far.
func (a *Float32Writer) Rows() int64 { return a.values / int64(a.rowLen) }

// Close writes out what is buffered and rewrites the header with the number of rows. It
// does not close the underlying file.
func (a *Float32Writer) Close() error {
	a.flush()
	if a.err != nil {
		return a.err
	}
	if a.values%int64(a.rowLen) != 0 {
		return fmt.Errorf("npy: %d values are not whole rows of %d", a.values, a.rowLen)
	}
	hdr, err := header(append([]int{int(a.Rows())}, a.cols...), a.hlen)
	if err == nil && len(hdr) != a.hlen {
		err = fmt.Errorf("npy: the header grew from %d to %d bytes", a.hlen, len(hdr))
	}
	if err != nil {
		return err
	}
	if _, err := a.w.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := a.w.Write(hdr); err != nil {
		return err
	}
	_, err = a.w.Seek(0, io.SeekEnd)
	return err
}

// ReadFile reads a little-endian, C-ordered .npy file of float32 ("<f4") or
// float64 ("<f8") into float64s, with its shape. Errors name the file and the problem.
func ReadFile(path string) (data []float64, shape []int, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if len(b) < 10 || string(b[:6]) != "\x93NUMPY" {
		return nil, nil, fmt.Errorf("%s: not a .npy file", path)
	}
	var hlen, off int
	switch b[6] {
	case 1:
		hlen, off = int(binary.LittleEndian.Uint16(b[8:10])), 10
	case 2, 3:
		if len(b) < 12 {
			return nil, nil, fmt.Errorf("%s: short header", path)
		}
		hlen, off = int(binary.LittleEndian.Uint32(b[8:12])), 12
	default:
		return nil, nil, fmt.Errorf("%s: .npy version %d", path, b[6])
	}
	if off+hlen > len(b) {
		return nil, nil, fmt.Errorf("%s: header overruns file", path)
	}
	header, body := string(b[off:off+hlen]), b[off+hlen:]
	field := func(key string) string {
		i := strings.Index(header, "'"+key+"':")
		if i < 0 {
			return ""
		}
		return strings.TrimSpace(header[i+len(key)+3:])
	}
	if strings.HasPrefix(field("fortran_order"), "True") {
		return nil, nil, fmt.Errorf("%s: Fortran order", path)
	}
	s := field("shape")
	if !strings.HasPrefix(s, "(") || !strings.Contains(s, ")") {
		return nil, nil, fmt.Errorf("%s: bad shape in %q", path, header)
	}
	n := 1
	for _, d := range strings.Split(s[1:strings.Index(s, ")")], ",") {
		if d = strings.TrimSpace(d); d == "" {
			continue
		}
		v, err := strconv.Atoi(d)
		if err != nil || v < 0 {
			return nil, nil, fmt.Errorf("%s: bad shape in %q", path, header)
		}
		shape = append(shape, v)
		n *= v
	}
	var size int
	switch descr := field("descr"); {
	case strings.HasPrefix(descr, "'<f4'"):
		size = 4
	case strings.HasPrefix(descr, "'<f8'"):
		size = 8
	default:
		return nil, nil, fmt.Errorf("%s: unsupported dtype in %q", path, header)
	}
	if len(body) != n*size {
		return nil, nil, fmt.Errorf("%s: %d data bytes, shape %v needs %d", path, len(body), shape, n*size)
	}
	data = make([]float64, n)
	for i := range data {
		if size == 4 {
			data[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:])))
		} else {
			data[i] = math.Float64frombits(binary.LittleEndian.Uint64(body[8*i:]))
		}
	}
	return data, shape, nil
}
