// Package npy reads and writes NumPy .npy files, the interchange format between the
// daemon's frontend and the training scripts.
package npy

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// WriteFloat32 writes a little-endian float32 array of the given shape, C order.
// len(data) must equal the product of shape.
func WriteFloat32(w io.Writer, shape []int, data []float32) error {
	n := 1
	dims := make([]string, len(shape))
	for i, d := range shape {
		if d < 0 {
			return fmt.Errorf("npy: negative dimension %d", d)
		}
		n *= d
		dims[i] = strconv.Itoa(d)
	}
	if n != len(data) {
		return fmt.Errorf("npy: shape %v holds %d values, got %d", shape, n, len(data))
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", tuple)
	// magic(6) + version(2) + header length(2) + header + '\n', padded to 64 bytes.
	total := 10 + len(header) + 1
	header += strings.Repeat(" ", (64-total%64)%64) + "\n"
	if len(header) > math.MaxUint16 {
		return fmt.Errorf("npy: header too long")
	}
	buf := make([]byte, 0, 10+len(header)+4*len(data))
	buf = append(buf, "\x93NUMPY\x01\x00"...)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(header)))
	buf = append(buf, header...)
	for _, v := range data {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
	}
	_, err := w.Write(buf)
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
