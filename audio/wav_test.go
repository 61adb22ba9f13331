package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// Hand-built WAV files: a chunk list behind a RIFF header whose size can be forced.

type wavChunk struct {
	id   string
	body []byte
	size int64 // declared size; -1 means len(body)
}

func chunk(id string, body []byte) wavChunk { return wavChunk{id, body, -1} }

// riffFile assembles chunks (padding odd ones) behind "RIFF" riffSize "WAVE". A riffSize
// of -1 writes the correct value.
func riffFile(riffSize int64, chunks ...wavChunk) []byte {
	var b []byte
	for _, c := range chunks {
		size := c.size
		if size < 0 {
			size = int64(len(c.body))
		}
		b = append(b, c.id...)
		b = binary.LittleEndian.AppendUint32(b, uint32(size))
		b = append(b, c.body...)
		if len(c.body)%2 == 1 {
			b = append(b, 0)
		}
	}
	if riffSize < 0 {
		riffSize = int64(len(b) + 4)
	}
	h := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(riffSize))...)
	return append(append(h, "WAVE"...), b...)
}

// fmtBody is a 16-byte fmt chunk; blockAlign 0 means channels*bits/8.
func fmtBody(tag, channels, rate, bits, blockAlign int) []byte {
	if blockAlign == 0 {
		blockAlign = channels * bits / 8
	}
	le := binary.LittleEndian
	b := le.AppendUint16(nil, uint16(tag))
	b = le.AppendUint16(b, uint16(channels))
	b = le.AppendUint32(b, uint32(rate))
	b = le.AppendUint32(b, uint32(rate*blockAlign))
	b = le.AppendUint16(b, uint16(blockAlign))
	return le.AppendUint16(b, uint16(bits))
}

// extBody is a 40-byte WAVE_FORMAT_EXTENSIBLE fmt chunk with the given subformat tag.
func extBody(channels, rate, bits, validBits, subTag int) []byte {
	le := binary.LittleEndian
	b := fmtBody(wavFormatExtensible, channels, rate, bits, 0)
	b = le.AppendUint16(b, 22)
	b = le.AppendUint16(b, uint16(validBits))
	b = le.AppendUint32(b, 0x3) // channel mask: front left, front right
	b = le.AppendUint16(b, uint16(subTag))
	return append(b, wavSubformatTail[:]...)
}

func le16(v ...int16) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint16(b, uint16(x))
	}
	return b
}

func le24(v ...int32) []byte {
	var b []byte
	for _, x := range v {
		b = append(b, byte(x), byte(x>>8), byte(x>>16))
	}
	return b
}

func le32(v ...int32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, uint32(x))
	}
	return b
}

func f32(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func f64(v ...float64) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

// decodeWAV parses data and reads every sample, in reads of chunk samples.
func decodeWAV(data []byte, chunk int) (WAVFormat, []float32, error) {
	w, err := NewWAVReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return WAVFormat{}, nil, err
	}
	var out []float32
	buf := make([]float32, chunk)
	for {
		n, err := w.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return w.Format(), out, nil
		}
		if err != nil {
			return w.Format(), out, err
		}
	}
}

// decodeWAVStream is decodeWAV through NewWAVStream, from a reader that hands out at most
// piece bytes at a time, as a pipe may.
func decodeWAVStream(data []byte, chunk, piece int) (*WAVReader, []float32, error) {
	w, err := NewWAVStream(&pieceReader{bytes.NewReader(data), piece})
	if err != nil {
		return nil, nil, err
	}
	var out []float32
	buf := make([]float32, chunk)
	for {
		n, err := w.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return w, out, nil
		}
		if err != nil {
			return w, out, err
		}
		if n == 0 {
			return w, out, errors.New("Read returned nothing and no error")
		}
	}
}

// pieceReader returns at most n bytes per Read.
type pieceReader struct {
	r io.Reader
	n int
}

func (p *pieceReader) Read(b []byte) (int, error) { return p.r.Read(b[:min(len(b), p.n)]) }

const top = maxSample // the largest sample, just below 1

func TestWAVVariants(t *testing.T) {
	nan := float32(math.NaN())
	list := chunk("LIST", []byte("INFOISFT\x05\x00\x00\x00Lavf\x00\x00")) // metadata to skip
	for _, tc := range []struct {
		name string
		file []byte
		want WAVFormat
		samp []float32
	}{
		{"pcm8 unsigned", riffFile(-1, chunk("fmt ", fmtBody(1, 1, 8000, 8, 0)), chunk("data", []byte{0, 128, 255, 64, 192})),
			WAVFormat{8000, 1, 8, false, 1}, []float32{-1, 0, 127.0 / 128, -0.5, 0.5}},
		{"pcm16", riffFile(-1, chunk("fmt ", fmtBody(1, 1, 16000, 16, 0)), chunk("data", le16(-32768, 0, 32767, 16384, -1))),
			WAVFormat{16000, 1, 16, false, 2}, []float32{-1, 0, 32767.0 / 32768, 0.5, -1.0 / 32768}},
		{"pcm24", riffFile(-1, chunk("fmt ", fmtBody(1, 1, 48000, 24, 0)), chunk("data", le24(-8388608, 8388607, 1, -1, 0x400000))),
			WAVFormat{48000, 1, 24, false, 3}, []float32{-1, 8388607.0 / 8388608, 1.0 / 8388608, -1.0 / 8388608, 0.5}},
		{"pcm32", riffFile(-1, chunk("fmt ", fmtBody(1, 1, 44100, 32, 0)), chunk("data", le32(math.MinInt32, math.MaxInt32, 1<<30, -1<<29))),
			WAVFormat{44100, 1, 32, false, 4}, []float32{-1, top, 0.5, -0.25}},
		{"pcm12 in 16", riffFile(-1, chunk("fmt ", fmtBody(1, 1, 16000, 12, 2)), chunk("data", le16(0x7FF0, -0x8000))),
			WAVFormat{16000, 1, 16, false, 2}, []float32{0x7FF0 / 32768.0, -1}},
		{"float32 clamped", riffFile(-1, chunk("fmt ", fmtBody(3, 1, 22050, 32, 0)), chunk("data", f32(0.25, -1, 1.5, nan, float32(math.Inf(-1)), 1, -2))),
			WAVFormat{22050, 1, 32, true, 4}, []float32{0.25, -1, top, 0, -1, top, -1}},
		{"float64", riffFile(-1, chunk("fmt ", fmtBody(3, 1, 96000, 64, 0)), chunk("data", f64(0.125, -0.75, math.Inf(1)))),
			WAVFormat{96000, 1, 64, true, 8}, []float32{0.125, -0.75, top}},
		{"stereo16", riffFile(-1, chunk("fmt ", fmtBody(1, 2, 16000, 16, 0)), chunk("data", le16(16384, -16384, 8192, 0))),
			WAVFormat{16000, 2, 16, false, 4}, []float32{0.5, -0.5, 0.25, 0}},
		{"extensible pcm24", riffFile(-1, chunk("fmt ", extBody(2, 48000, 24, 24, 1)), chunk("data", le24(0x400000, -0x400000))),
			WAVFormat{48000, 2, 24, false, 6}, []float32{0.5, -0.5}},
		{"extensible 20 valid in 32", riffFile(-1, chunk("fmt ", extBody(1, 48000, 32, 20, 1)), chunk("data", le32(-1<<31, 1<<30))),
			WAVFormat{48000, 1, 32, false, 4}, []float32{-1, 0.5}},
		{"extensible float", riffFile(-1, chunk("fmt ", extBody(1, 16000, 32, 32, 3)), chunk("data", f32(0.5, -0.125))),
			WAVFormat{16000, 1, 32, true, 4}, []float32{0.5, -0.125}},
		{"odd chunk with pad, LIST first", riffFile(-1, chunk("junk", []byte{1, 2, 3}), list, chunk("fmt ", fmtBody(1, 1, 16000, 16, 0)), chunk("data", le16(100))),
			WAVFormat{16000, 1, 16, false, 2}, []float32{100.0 / 32768}},
		{"data before fmt", riffFile(-1, chunk("data", le16(1, 2)), list, chunk("fmt ", fmtBody(1, 1, 8000, 16, 0))),
			WAVFormat{8000, 1, 16, false, 2}, []float32{1.0 / 32768, 2.0 / 32768}},
		{"odd-sized 8-bit data then LIST", riffFile(-1, chunk("fmt ", fmtBody(1, 1, 8000, 8, 0)), chunk("data", []byte{255, 0, 128}), list),
			WAVFormat{8000, 1, 8, false, 1}, []float32{127.0 / 128, -1, 0}},
		{"streamed: sizes 0xFFFFFFFF", riffFile(0xFFFFFFFF, chunk("fmt ", fmtBody(1, 1, 16000, 16, 0)), wavChunk{"data", le16(1, 2, 3), 0xFFFFFFFF}),
			WAVFormat{16000, 1, 16, false, 2}, []float32{1.0 / 32768, 2.0 / 32768, 3.0 / 32768}},
		{"streamed: sizes 0", riffFile(0, chunk("fmt ", fmtBody(1, 1, 16000, 16, 0)), wavChunk{"data", le16(1, 2), 0}),
			WAVFormat{16000, 1, 16, false, 2}, []float32{1.0 / 32768, 2.0 / 32768}},
		{"streamed, partial frame dropped", riffFile(0xFFFFFFFF, chunk("fmt ", fmtBody(1, 2, 16000, 16, 0)), wavChunk{"data", append(le16(1, 2), 9, 9), 0xFFFFFFFF}),
			WAVFormat{16000, 2, 16, false, 4}, []float32{1.0 / 32768, 2.0 / 32768}},
		{"finished file, empty data, LIST after", riffFile(-1, chunk("fmt ", fmtBody(1, 1, 16000, 16, 0)), wavChunk{"data", nil, 0}, list),
			WAVFormat{16000, 1, 16, false, 2}, nil},
		{"declared size with a partial frame", riffFile(-1, chunk("fmt ", fmtBody(1, 1, 16000, 16, 0)), chunk("data", []byte{0, 0x40, 7})),
			WAVFormat{16000, 1, 16, false, 2}, []float32{0.5}},
		{"trailing garbage shorter than a chunk header", append(riffFile(-1, chunk("fmt ", fmtBody(1, 1, 16000, 16, 0)), list), append([]byte("data\x02\x00\x00\x00\x00\x40"), 1, 2, 3)...),
			WAVFormat{16000, 1, 16, false, 2}, []float32{0.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunk := range []int{7, 4096} {
				format, samp, err := decodeWAV(tc.file, chunk)
				if err != nil {
					t.Fatal(err)
				}
				if format != tc.want {
					t.Errorf("format %+v; want %+v", format, tc.want)
				}
				if !slices.Equal(samp, tc.samp) {
					t.Errorf("samples %v; want %v", samp, tc.samp)
				}
				// The same from a stream, however it arrives, unless the samples come
				// before the format (a stream cannot go back to them).
				for _, piece := range []int{1, 5, 1 << 20} {
					w, samp, err := decodeWAVStream(tc.file, chunk, piece)
					if strings.Contains(tc.name, "data before fmt") {
						if err == nil || !strings.Contains(err.Error(), "wav: no fmt chunk before the sample data (a stream cannot go back to it)") {
							t.Errorf("stream with data before fmt: %v", err)
						}
						continue
					}
					if err != nil {
						t.Fatalf("stream in pieces of %d: %v", piece, err)
					}
					if w.Format() != tc.want || w.Frames() != -1 || !slices.Equal(samp, tc.samp) {
						t.Errorf("stream in pieces of %d: %+v, %d frames, samples %v; want %+v, -1, %v", piece, w.Format(), w.Frames(), samp, tc.want, tc.samp)
					}
				}
			}
		})
	}
}

func TestWAVErrors(t *testing.T) {
	pcm16 := chunk("fmt ", fmtBody(1, 1, 16000, 16, 0))
	data := chunk("data", le16(1, 2, 3, 4))
	badGUID := extBody(1, 16000, 16, 16, 1)
	badGUID[30] ^= 0xFF
	shortExt := extBody(1, 16000, 16, 16, 1)[:30]
	for _, tc := range []struct {
		name string
		file []byte
		want string // the whole error, or a distinctive part of it
	}{
		{"empty", nil, "wav: file too short for a RIFF header (0 bytes)"},
		{"not riff", []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00"), "wav: not a RIFF/WAVE file"},
		{"riff but avi", []byte("RIFF\x04\x00\x00\x00AVI "), "wav: not a RIFF/WAVE file"},
		{"rf64", []byte("RF64\xff\xff\xff\xffWAVEds64"), "wav: RF64 (64-bit WAV) is not supported"},
		{"adpcm", riffFile(-1, chunk("fmt ", fmtBody(2, 1, 16000, 4, 256)), data),
			"wav: unsupported format tag 0x0002 (ADPCM); want PCM or IEEE float"},
		{"mu-law", riffFile(-1, chunk("fmt ", fmtBody(7, 1, 8000, 8, 0)), data),
			"wav: unsupported format tag 0x0007 (mu-law); want PCM or IEEE float"},
		{"odd tag", riffFile(-1, chunk("fmt ", fmtBody(0x1234, 1, 8000, 8, 0)), data),
			"wav: unsupported format tag 0x1234 (unknown); want PCM or IEEE float"},
		{"zero channels", riffFile(-1, chunk("fmt ", fmtBody(1, 0, 16000, 16, 2)), data), "wav: fmt chunk declares 0 channels"},
		{"33 channels", riffFile(-1, chunk("fmt ", fmtBody(1, 33, 16000, 16, 0)), data), "wav: 33 channels; at most 32 are supported"},
		{"zero rate", riffFile(-1, chunk("fmt ", fmtBody(1, 1, 0, 16, 0)), data), "wav: fmt chunk: sample rate 0 Hz is out of range"},
		{"1 Hz", riffFile(-1, chunk("fmt ", fmtBody(1, 1, 1, 16, 0)), data), "wav: fmt chunk: sample rate 1 Hz is out of range: wakewordd reads 4000 to 384000 Hz"},
		{"absurd rate", riffFile(-1, chunk("fmt ", fmtBody(1, 1, 0xFFFFFFFF, 16, 0)), data), "wav: fmt chunk: sample rate 4294967295 Hz is out of range"},
		{"block align", riffFile(-1, chunk("fmt ", fmtBody(1, 2, 16000, 16, 2)), data),
			"wav: block align 2 does not match 2 channel(s) of 16-bit samples (want 4)"},
		{"huge block align", riffFile(-1, chunk("fmt ", fmtBody(1, 1, 16000, 16, 0xFFFF)), data), "wav: block align 65535"},
		{"pcm 40 bits", riffFile(-1, chunk("fmt ", fmtBody(1, 1, 16000, 40, 0)), data), "wav: 40-bit PCM"},
		{"pcm 0 bits", riffFile(-1, chunk("fmt ", fmtBody(1, 1, 16000, 0, 2)), data), "wav: 0-bit PCM"},
		{"float 16 bits", riffFile(-1, chunk("fmt ", fmtBody(3, 1, 16000, 16, 0)), data), "wav: 16-bit IEEE float; want 32 or 64"},
		{"short fmt", riffFile(-1, chunk("fmt ", fmtBody(1, 1, 16000, 16, 0)[:14]), data), "wav: fmt chunk is 14 bytes; want at least 16"},
		{"short extensible", riffFile(-1, chunk("fmt ", shortExt), data), "wav: WAVE_FORMAT_EXTENSIBLE fmt chunk is 30 bytes; want 40"},
		{"extensible guid", riffFile(-1, chunk("fmt ", badGUID), data), "wav: unsupported WAVE_FORMAT_EXTENSIBLE subformat"},
		{"extensible adpcm", riffFile(-1, chunk("fmt ", extBody(1, 16000, 16, 16, 2)), data), "wav: unsupported format tag 0x0002 (ADPCM)"},
		{"extensible valid bits", riffFile(-1, chunk("fmt ", extBody(1, 16000, 16, 24, 1)), data), "wav: 24 valid bits in a 16-bit container"},
		{"no data", riffFile(-1, pcm16), "wav: no data chunk"},
		{"no fmt", riffFile(-1, data), "wav: no fmt chunk before the sample data"},
		{"streamed data before fmt", riffFile(0xFFFFFFFF, wavChunk{"data", le16(1), 0xFFFFFFFF}, pcm16), "wav: no fmt chunk"},
		{"fmt beyond file", riffFile(-1, wavChunk{"fmt ", fmtBody(1, 1, 16000, 16, 0), 0xFFFFFF00}),
			`wav: truncated "fmt " chunk at offset 12: it declares 4294967040 bytes, the file has 16`},
		{"list beyond file", riffFile(-1, pcm16, wavChunk{"LIST", []byte("INFO"), 0x10000}, data),
			`wav: truncated "LIST" chunk at offset 36`},
		{"two fmt", riffFile(-1, pcm16, pcm16, data), "wav: more than one fmt chunk"},
		{"two data", riffFile(-1, data, data, pcm16), "wav: more than one data chunk"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decodeWAV(tc.file, 64)
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q; want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not one line", err)
			}
			if _, _, err := decodeWAVStream(tc.file, 64, 3); err == nil || strings.Contains(err.Error(), "\n") {
				t.Errorf("as a stream: %v; want a one-line error", err)
			}
		})
	}
}

// TestWAVDataBeyondTheEnd: writers that stream to a pipe cannot seek back to fill in the
// data size, so they declare a huge one (arecord 0x80000000, sox 0x7FFFF000, others
// 0xFFFFFFFF or 0); a file cut short declares more than it has. Either way the samples
// run to the end of the file, and UntilEnd says the size was not what bounded them.
func TestWAVDataBeyondTheEnd(t *testing.T) {
	pcm16 := chunk("fmt ", fmtBody(1, 1, 16000, 16, 0))
	samples := le16(1, 2, 3)
	want := []float32{1.0 / 32768, 2.0 / 32768, 3.0 / 32768}
	for _, tc := range []struct {
		name           string
		riff, declared int64
		untilEnd       bool
	}{
		{"arecord", 0x80000024, 0x80000000, true},
		{"sox", 0x7FFFF024, 0x7FFFF000, true},
		{"all ones", 0xFFFFFFFF, 0xFFFFFFFF, true},
		{"all ones but one", 0xFFFFFFFF, 0xFFFFFFFE, true},
		{"cut short", -1, 1000, true},
		{"zero, unfinished", 0, 0, true},
		{"one byte more than the file", -1, 7, true},
		{"exact", -1, 6, false},
		{"less than the file", -1, 4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := riffFile(tc.riff, pcm16, wavChunk{"data", samples, tc.declared})
			w, err := NewWAVReader(bytes.NewReader(file), int64(len(file)))
			if err != nil {
				t.Fatal(err)
			}
			if w.UntilEnd() != tc.untilEnd {
				t.Errorf("UntilEnd() = %v; want %v", w.UntilEnd(), tc.untilEnd)
			}
			_, got, err := decodeWAV(file, 64)
			n := len(want)
			if !tc.untilEnd {
				n = int(tc.declared / 2)
			}
			if err != nil || !slices.Equal(got, want[:n]) {
				t.Errorf("read %v, %v; want %v", got, err, want[:n])
			}
			ws, got, err := decodeWAVStream(file, 64, 3)
			if err != nil || !slices.Equal(got, want[:n]) || ws.UntilEnd() != tc.untilEnd {
				t.Errorf("as a stream: read %v, %v, UntilEnd %v; want %v, %v", got, err, ws.UntilEnd(), want[:n], tc.untilEnd)
			}
		})
	}
}

func TestWAVReadShortBuffer(t *testing.T) {
	f := riffFile(-1, chunk("fmt ", fmtBody(1, 2, 16000, 16, 0)), chunk("data", le16(1, 2, 3, 4)))
	w, err := NewWAVReader(bytes.NewReader(f), int64(len(f)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Read(make([]float32, 1)); err != io.ErrShortBuffer {
		t.Errorf("Read into 1 sample of a stereo file: %v; want io.ErrShortBuffer", err)
	}
	buf := make([]float32, 3) // room for one frame and a half: only whole frames come back
	if n, err := w.Read(buf); n != 2 || err != nil {
		t.Errorf("Read = %d, %v; want 2 samples", n, err)
	}
	if w.Frames() != 2 {
		t.Errorf("Frames() = %d; want 2", w.Frames())
	}
}

// shrinkingReader serves a file whose tail disappears after the header was parsed.
type shrinkingReader struct {
	b     []byte
	limit int64
}

func (r *shrinkingReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.limit {
		return 0, io.EOF
	}
	n := copy(p[:min(int64(len(p)), r.limit-off)], r.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func TestWAVFileShrank(t *testing.T) {
	f := riffFile(-1, chunk("fmt ", fmtBody(1, 1, 16000, 16, 0)), chunk("data", le16(seqInt16(1000)...)))
	r := &shrinkingReader{b: f, limit: int64(len(f))}
	w, err := NewWAVReader(r, int64(len(f)))
	if err != nil {
		t.Fatal(err)
	}
	r.limit = 100
	if _, err := w.Read(make([]float32, 2000)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading a file that shrank: %v; want io.ErrUnexpectedEOF", err)
	}
}

func seqInt16(n int) []int16 {
	x := make([]int16, n)
	for i := range x {
		x[i] = int16(i*37 - 16000)
	}
	return x
}

func TestWriteWAVRoundTrip(t *testing.T) {
	// Random-ish stereo signal, including full scale and beyond.
	x := make([]float32, 2*1001)
	for i := range x {
		x[i] = float32(math.Sin(float64(i) * 0.37))
	}
	x[0], x[1], x[2], x[3] = 1, -1, 1.5, -1.5
	for _, tc := range []struct {
		bits  int
		float bool
		tol   float64
	}{
		{8, false, 1.0 / 128}, {16, false, 1.0 / 32768}, {24, false, 1.0 / (1 << 23)}, {32, false, 1.0 / (1 << 30)},
		{32, true, 0}, {64, true, 0},
	} {
		var buf bytes.Buffer
		if err := WriteWAV(&buf, 44100, 2, tc.bits, tc.float, x); err != nil {
			t.Fatal(err)
		}
		format, y, err := decodeWAV(buf.Bytes(), 1000)
		if err != nil {
			t.Fatalf("%d-bit float=%v: %v", tc.bits, tc.float, err)
		}
		if format != (WAVFormat{44100, 2, tc.bits, tc.float, 2 * tc.bits / 8}) {
			t.Errorf("format %+v", format)
		}
		if len(y) != len(x) {
			t.Fatalf("%d-bit: %d samples back; want %d", tc.bits, len(y), len(x))
		}
		for i := range x {
			want := math.Max(-1, math.Min(float64(x[i]), float64(top)))
			if d := math.Abs(float64(y[i]) - want); d > tc.tol {
				t.Fatalf("%d-bit float=%v: sample %d = %v; want %v (±%g)", tc.bits, tc.float, i, y[i], want, tc.tol)
			}
		}
		if riff := binary.LittleEndian.Uint32(buf.Bytes()[4:]); int(riff)+8 != buf.Len() {
			t.Errorf("%d-bit: RIFF size %d for a %d-byte file", tc.bits, riff, buf.Len())
		}
	}

	// An odd number of 8-bit samples is padded to keep the RIFF structure valid.
	var buf bytes.Buffer
	if err := WriteWAV(&buf, 8000, 1, 8, false, []float32{0, 0.5, -0.5}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 44+4 {
		t.Errorf("3 8-bit samples make a %d-byte file; want 48 with the pad byte", buf.Len())
	}
	_, y, err := decodeWAV(buf.Bytes(), 10)
	if err != nil || !slices.Equal(y, []float32{0, 0.5, -0.5}) {
		t.Errorf("odd 8-bit file reads back %v, %v", y, err)
	}
}

func TestWriteWAVErrors(t *testing.T) {
	for _, tc := range []struct {
		rate, channels, bits int
		float                bool
		n                    int
	}{
		{0, 1, 16, false, 2}, {16000, 0, 16, false, 2}, {16000, 33, 16, false, 33},
		{16000, 1, 12, false, 2}, {16000, 1, 16, true, 2}, {16000, 2, 16, false, 3},
	} {
		if err := WriteWAV(io.Discard, tc.rate, tc.channels, tc.bits, tc.float, make([]float32, tc.n)); err == nil {
			t.Errorf("WriteWAV(%+v) succeeded", tc)
		}
	}
}

// TestWAVReadNoAlloc shows the data chunk is decoded in place, in blocks.
func TestWAVReadNoAlloc(t *testing.T) {
	var buf bytes.Buffer
	WriteWAV(&buf, 48000, 2, 24, false, make([]float32, 2*48000))
	w, err := NewWAVReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, 512)
	if a := testing.AllocsPerRun(50, func() { w.Read(dst) }); a != 0 {
		t.Errorf("WAVReader.Read allocates %.1f times per call", a)
	}
}

// A stream's Read hands out the frames that have arrived, not a block: a live pipe
// (arecord | wakewordd) must not wait for 16 KiB of audio.
func TestWAVStreamReadsWhatHasArrived(t *testing.T) {
	pr, pw := io.Pipe()
	defer pr.Close()
	hdr := riffFile(0x80000024, chunk("fmt ", fmtBody(1, 2, 16000, 16, 0)), wavChunk{"data", nil, 0x80000000})
	go pw.Write(append(hdr, le16(16384, -16384, 8192)...)) // one frame and a half
	w, err := NewWAVStream(pr)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]float32, 100)
	if n, err := w.Read(buf); n != 2 || err != nil || buf[0] != 0.5 || buf[1] != -0.5 {
		t.Fatalf("Read = %d, %v, %v; want the first frame", n, err, buf[:n])
	}
	go func() { pw.Write(le16(0)); pw.Write([]byte{1}); pw.Close() }() // the rest of the frame, then a stray byte
	if n, err := w.Read(buf); n != 2 || err != nil || buf[0] != 0.25 || buf[1] != 0 {
		t.Fatalf("second Read = %d, %v, %v; want the second frame", n, err, buf[:n])
	}
	if n, err := w.Read(buf); n != 0 || err != io.EOF || !w.UntilEnd() {
		t.Fatalf("third Read = %d, %v, UntilEnd %v; want io.EOF after the partial frame, until the end", n, err, w.UntilEnd())
	}

	// A read error comes after the frames before it, and stays.
	w, _ = NewWAVStream(io.MultiReader(bytes.NewReader(append(hdr, le16(1, 2)...)), iotest.ErrReader(errBoom)))
	if n, err := w.Read(buf); n != 2 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	for range 2 {
		if _, err := w.Read(buf); !errors.Is(err, errBoom) {
			t.Fatalf("Read: %v; want the reader's error", err)
		}
	}
}

func TestWAVStreamReadNoAlloc(t *testing.T) {
	hdr := riffFile(-1, chunk("fmt ", fmtBody(1, 2, 48000, 24, 0)), wavChunk{"data", nil, 0xFFFFFFFF})
	w, err := NewWAVStream(io.MultiReader(bytes.NewReader(hdr), zeros{}))
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, 512)
	if a := testing.AllocsPerRun(50, func() { w.Read(dst) }); a != 0 {
		t.Errorf("WAVReader.Read of a stream allocates %.1f times per call", a)
	}
}

// zeros is an endless stream of zero bytes, 1001 at a time.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { return copy(p, make([]byte, 1001)), nil }

// wavSeeds are valid files of every variant and a few broken ones.
func wavSeeds() [][]byte {
	var seeds [][]byte
	x := []float32{0, 0.5, -0.5, 1, -1, 0.25}
	for _, v := range []struct {
		bits  int
		float bool
	}{{8, false}, {16, false}, {24, false}, {32, false}, {32, true}, {64, true}} {
		var b bytes.Buffer
		WriteWAV(&b, 16000, 2, v.bits, v.float, x)
		seeds = append(seeds, b.Bytes())
	}
	pcm := chunk("fmt ", fmtBody(1, 1, 16000, 16, 0))
	seeds = append(seeds,
		riffFile(-1, chunk("fmt ", extBody(2, 48000, 24, 24, 1)), chunk("data", le24(1, 2, 3, 4))),
		riffFile(-1, chunk("fmt ", extBody(1, 16000, 32, 32, 3)), chunk("data", f32(0.5, float32(math.NaN())))),
		riffFile(0xFFFFFFFF, pcm, wavChunk{"data", le16(1, 2, 3), 0xFFFFFFFF}),
		riffFile(-1, chunk("junk", []byte{1, 2, 3}), chunk("data", le16(1, 2)), pcm),
		riffFile(-1, pcm, wavChunk{"data", le16(1, 2), 1000}),
		riffFile(-1, chunk("fmt ", fmtBody(2, 1, 16000, 4, 256)), chunk("data", le16(1))),
		[]byte("RIFF\x00\x00\x00\x00WAVE"),
	)
	return seeds
}

// FuzzParseWAV: whatever the bytes, parsing neither panics nor allocates from a declared
// size, and a file that parses yields whole frames of finite samples in [-1, 1), no more
// than the file can hold, the same however it is read.
func FuzzParseWAV(f *testing.F) {
	for _, s := range wavSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := NewWAVReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
			// What a file's header refuses, a stream's does too.
			if _, _, serr := decodeWAVStream(data, 64, 7); serr == nil {
				t.Fatalf("a stream parses what a file does not (%v)", err)
			}
			return
		}
		format := w.Format()
		if format.Channels < 1 || format.Channels > MaxChannels || format.Rate < 1 ||
			format.BlockAlign != format.Channels*format.Bits/8 {
			t.Fatalf("accepted format %+v", format)
		}
		if w.Frames()*int64(format.BlockAlign) > int64(len(data)) {
			t.Fatalf("%d frames of %d bytes in a %d-byte file", w.Frames(), format.BlockAlign, len(data))
		}
		var all []float32
		buf := make([]float32, 3*format.Channels+1)
		for {
			n, err := w.Read(buf)
			if n%format.Channels != 0 {
				t.Fatalf("Read returned %d samples of %d channels", n, format.Channels)
			}
			for _, v := range buf[:n] {
				if !(v >= -1 && v < 1) {
					t.Fatalf("sample %v out of [-1, 1)", v)
				}
			}
			all = append(all, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if int64(len(all)) != w.Frames()*int64(format.Channels) {
			t.Fatalf("read %d samples; Frames() says %d", len(all), w.Frames())
		}
		_, again, err := decodeWAV(data, 4096)
		if err != nil || !slices.Equal(again, all) {
			t.Fatalf("reading in bigger blocks differs (%v)", err)
		}

		// As a stream, arriving in pieces, the same samples come out, except that a
		// stream takes a data size of 0 by the RIFF size alone (it has no file size).
		ws, streamed, err := decodeWAVStream(data, 3*format.Channels+1, 7)
		switch {
		case err != nil && strings.Contains(err.Error(), "\n"):
			t.Fatalf("multi-line error %q", err)
		case err != nil:
			// Only data before fmt parses as a file but not as a stream.
			if !strings.Contains(err.Error(), "a stream cannot go back") {
				t.Fatalf("parses as a file but not as a stream: %v", err)
			}
		case ws.Format() != format:
			t.Fatalf("stream format %+v; file %+v", ws.Format(), format)
		case w.declared != 0 && !slices.Equal(streamed, all):
			t.Fatalf("stream gives %d samples, file %d", len(streamed), len(all))
		}
	})
}
