package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// WAV parsing follows the RIFF layout: "RIFF" size "WAVE", then chunks of a 4-byte id, a
// 32-bit little-endian size and the body, padded to an even length. Every size read from
// a file is checked against the file's real size before anything is read or allocated,
// so a hostile header can make parsing fail but never allocate or read much; a stream,
// whose size is unknown, skips what it does not need without holding it.

// WAV format tags, from the fmt chunk.
const (
	wavFormatPCM        = 0x0001
	wavFormatFloat      = 0x0003
	wavFormatExtensible = 0xFFFE
)

// maxWAVRate rejects sample rates no audio device produces; a garbage header lands here.
const maxWAVRate = 1_000_000

// wavSubformatTail is bytes 2..15 of the KSDATAFORMAT_SUBTYPE GUIDs used by
// WAVE_FORMAT_EXTENSIBLE; bytes 0..1 hold the plain format tag.
var wavSubformatTail = [14]byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}

// wavTagNames names the tags people actually run into, so the error says what the file is.
var wavTagNames = map[uint16]string{
	0x0002: "ADPCM",
	0x0006: "A-law",
	0x0007: "mu-law",
	0x0011: "IMA ADPCM",
	0x0031: "GSM 6.10",
	0x0050: "MPEG",
	0x0055: "MPEG Layer 3",
	0x0161: "WMA",
	0x2000: "AC-3",
}

// WAVFormat describes the samples in a WAV file's data chunk.
type WAVFormat struct {
	Rate       int  // frames per second
	Channels   int  // samples per frame, interleaved
	Bits       int  // bits per sample as stored: 8, 16, 24, 32, or 64 for float
	Float      bool // IEEE float samples rather than integer PCM
	BlockAlign int  // bytes per frame
}

// WAVReader decodes the data chunk of a WAV file in blocks, so a long file is never held
// in memory. Samples come out interleaved, scaled to [-1, 1): 8-bit PCM is unsigned,
// wider PCM is signed and left-justified (12-bit or 20-bit audio in a 16- or 24-bit
// container decodes by its container), and float samples outside [-1, 1) are clamped,
// NaN becoming 0.
type WAVReader struct {
	r      io.ReaderAt // the file; nil for a stream
	format WAVFormat
	off    int64 // next byte of the data chunk to read
	end    int64 // end of the sample data, a whole number of frames past the start
	frames int64 // -1 for a stream
	buf    []byte
	// untilEnd: the declared data size was not what bounded the samples (see UntilEnd).
	untilEnd bool
	declared int64 // the data chunk's declared size

	// A stream (NewWAVStream) is read as it comes: s is positioned at the next byte of
	// sample data, left bytes of the data chunk are still to come (math.MaxInt64: until the
	// end), buf[:have] holds bytes read but not decoded (less than a frame between calls),
	// and err is a read error to return once the samples before it are out.
	s    io.Reader
	left int64
	have int
	err  error
}

// wavBlockBytes is roughly how much sample data one ReaderAt call fetches.
const wavBlockBytes = 16 << 10

// NewWAVReader parses the header of the WAV file in r, which is size bytes long, and
// returns a reader positioned at the first sample.
//
// Chunks may come in any order and unknown ones are skipped. A data chunk that declares
// more bytes than the file holds runs to the end of the file, as in other decoders: writers
// that stream to a pipe cannot seek back to fill in the size, so they declare a huge one
// (arecord 0x80000000, sox 0x7FFFF000, others 0xFFFFFFFF), and a recording cut short
// still holds its samples. A data size of 0 means the same when the RIFF size is not
// consistent with the file, since a finished file may legitimately hold no samples.
// UntilEnd reports either case. Trailing bytes that do not fill a frame are ignored.
func NewWAVReader(r io.ReaderAt, size int64) (*WAVReader, error) {
	if size < 12 {
		return nil, fmt.Errorf("wav: file too short for a RIFF header (%d bytes)", size)
	}
	return parseWAV(r, size, nil)
}

// NewWAVStream parses the header of a WAV stream that cannot seek, such as a pipe or a
// FIFO, reading no further than the first sample, and returns a reader of its samples as
// they arrive: Read waits for a whole frame, not for a whole block.
//
// The fmt chunk must come before the data chunk, since a stream cannot go back to it. The
// data chunk runs for its declared size or to the end of the stream, whichever comes
// first, so the placeholder sizes of writers to pipes (see NewWAVReader) need no special
// case; a size of 0 is such a placeholder unless the RIFF size says that more chunks
// follow an empty data chunk. Frames is unknown (-1), and UntilEnd is known at the end.
func NewWAVStream(r io.Reader) (*WAVReader, error) {
	fr := &forwardReader{r: r}
	return parseWAV(fr, -1, fr)
}

// parseWAV parses the header of a file of size bytes (r its contents), or of a stream
// (size -1, r == stream).
func parseWAV(r io.ReaderAt, size int64, stream *forwardReader) (*WAVReader, error) {
	var hdr [12]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return nil, fmt.Errorf("wav: reading RIFF header: %w", err)
	}
	switch id := string(hdr[0:4]); {
	case id == "RF64":
		return nil, errors.New("wav: RF64 (64-bit WAV) is not supported")
	case id == "RIFX":
		return nil, errors.New("wav: RIFX (big-endian WAV) is not supported")
	case id != "RIFF" || string(hdr[8:12]) != "WAVE":
		return nil, fmt.Errorf("wav: not a RIFF/WAVE file (starts with %q)", hdr[:])
	}
	riffSize := int64(binary.LittleEndian.Uint32(hdr[4:8]))
	// A writer that finished cleanly records the file length in the RIFF header; one
	// that streamed to a pipe could not. Allow one pad byte either way.
	finished := riffSize+8 == size || riffSize+9 == size

	var (
		format             WAVFormat
		haveFmt, haveData  bool
		untilEnd           bool
		declared           int64
		dataOff, dataBytes int64
		off                = int64(len(hdr))
	)
	for !(haveFmt && haveData) {
		if stream == nil && size-off < 8 {
			break
		}
		var ch [8]byte
		if k, err := r.ReadAt(ch[:], off); err != nil {
			if stream != nil && err == io.EOF && k < len(ch) {
				break // the stream ended between chunks, or in trailing bytes
			}
			return nil, fmt.Errorf("wav: reading chunk header at offset %d: %w", off, err)
		}
		id := string(ch[0:4])
		n := int64(binary.LittleEndian.Uint32(ch[4:8]))
		body := off + 8
		remain := size - body
		if stream != nil {
			remain = math.MaxInt64 // unknown until the stream ends
		}
		if id == "data" {
			if haveData {
				return nil, errors.New("wav: more than one data chunk")
			}
			haveData, dataOff, declared = true, body, n
			if stream != nil {
				if !haveFmt {
					return nil, errors.New("wav: no fmt chunk before the sample data (a stream cannot go back to it)")
				}
				// Placeholders run to the end of the stream; any other size to the end too
				// when the stream ends first (readStream notes it then).
				dataBytes = n
				if n == 0 && (riffSize+8 <= body || riffSize >= 0x7FFFF000) {
					dataBytes, untilEnd = math.MaxInt64, true
				}
				break
			}
			if n > remain || (n == 0 && !finished) {
				// Streamed (or cut short): the data runs to the end, so nothing after it
				// is a chunk. UntilEnd reports it, for a caller that logs such things.
				dataBytes, untilEnd = remain, true
				break
			}
			dataBytes = n
		} else {
			if n > remain {
				return nil, fmt.Errorf("wav: truncated %q chunk at offset %d: it declares %d bytes, the file has %d", id, off, n, remain)
			}
			if id == "fmt " {
				if haveFmt {
					return nil, errors.New("wav: more than one fmt chunk")
				}
				var err error
				if format, err = parseWAVFmt(r, body, n); err != nil {
					return nil, err
				}
				haveFmt = true
			}
			if stream != nil {
				if err := stream.skipTo(body + n); err != nil {
					return nil, fmt.Errorf("wav: truncated %q chunk at offset %d: it declares %d bytes, the stream ended before", id, off, n)
				}
			}
		}
		off = body + n + n&1 // the pad byte after an odd-sized chunk
	}
	switch {
	case !haveFmt:
		return nil, errors.New("wav: no fmt chunk before the sample data")
	case !haveData:
		return nil, errors.New("wav: no data chunk")
	}
	block := max(wavBlockBytes/format.BlockAlign, 1) * format.BlockAlign
	w := &WAVReader{format: format, buf: make([]byte, block), untilEnd: untilEnd, declared: declared}
	if stream != nil {
		w.s, w.left, w.frames = stream.r, dataBytes, -1
		return w, nil
	}
	frames := dataBytes / int64(format.BlockAlign)
	w.r, w.off, w.end, w.frames = r, dataOff, dataOff+frames*int64(format.BlockAlign), frames
	return w, nil
}

// forwardReader serves ReadAt calls at offsets that never go back from a stream, such as
// a pipe, discarding whatever lies between one read and the next.
type forwardReader struct {
	r   io.Reader
	pos int64 // offset of the next byte of r
}

func (f *forwardReader) ReadAt(p []byte, off int64) (int, error) {
	if err := f.skipTo(off); err != nil {
		return 0, err
	}
	n, err := io.ReadFull(f.r, p)
	f.pos += int64(n)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF // ReaderAt's way of saying the data ended
	}
	return n, err
}

// skipTo discards the stream up to offset off; io.EOF if it ends first.
func (f *forwardReader) skipTo(off int64) error {
	if off < f.pos {
		return fmt.Errorf("wav: a stream cannot go back from offset %d to %d", f.pos, off)
	}
	n, err := io.CopyN(io.Discard, f.r, off-f.pos)
	f.pos += n
	return err
}

// parseWAVFmt reads and validates the n-byte fmt chunk body at off.
func parseWAVFmt(r io.ReaderAt, off, n int64) (WAVFormat, error) {
	// 40 bytes cover WAVE_FORMAT_EXTENSIBLE; anything beyond is ignored.
	var b [40]byte
	if n < 16 {
		return WAVFormat{}, fmt.Errorf("wav: fmt chunk is %d bytes; want at least 16", n)
	}
	fb := b[:min(n, int64(len(b)))]
	if _, err := r.ReadAt(fb, off); err != nil {
		return WAVFormat{}, fmt.Errorf("wav: reading fmt chunk: %w", err)
	}
	le := binary.LittleEndian
	tag := le.Uint16(fb[0:2])
	channels := int(le.Uint16(fb[2:4]))
	rate := int64(le.Uint32(fb[4:8]))
	blockAlign := int(le.Uint16(fb[12:14]))
	bits := int(le.Uint16(fb[14:16]))

	if tag == wavFormatExtensible {
		if len(fb) < 40 || le.Uint16(fb[16:18]) < 22 {
			return WAVFormat{}, fmt.Errorf("wav: WAVE_FORMAT_EXTENSIBLE fmt chunk is %d bytes; want 40", n)
		}
		if valid := int(le.Uint16(fb[18:20])); valid > bits {
			return WAVFormat{}, fmt.Errorf("wav: %d valid bits in a %d-bit container", valid, bits)
		}
		if [14]byte(fb[26:40]) != wavSubformatTail {
			return WAVFormat{}, fmt.Errorf("wav: unsupported WAVE_FORMAT_EXTENSIBLE subformat %x; want PCM or IEEE float", fb[24:40])
		}
		tag = le.Uint16(fb[24:26])
	}

	f := WAVFormat{Rate: int(rate), Channels: channels, BlockAlign: blockAlign}
	switch tag {
	case wavFormatPCM:
		if bits < 1 || bits > 32 {
			return WAVFormat{}, fmt.Errorf("wav: %d-bit PCM; want 8, 16, 24 or 32", bits)
		}
		f.Bits = (bits + 7) / 8 * 8
	case wavFormatFloat:
		if bits != 32 && bits != 64 {
			return WAVFormat{}, fmt.Errorf("wav: %d-bit IEEE float; want 32 or 64", bits)
		}
		f.Bits, f.Float = bits, true
	default:
		name := wavTagNames[tag]
		if name == "" {
			name = "unknown"
		}
		return WAVFormat{}, fmt.Errorf("wav: unsupported format tag 0x%04X (%s); want PCM or IEEE float", tag, name)
	}
	switch {
	case channels == 0:
		return WAVFormat{}, errors.New("wav: fmt chunk declares 0 channels")
	case channels > MaxChannels:
		return WAVFormat{}, fmt.Errorf("wav: %d channels; at most %d are supported", channels, MaxChannels)
	case rate < MinRate || rate > MaxRate:
		return WAVFormat{}, fmt.Errorf("wav: fmt chunk: %w", CheckRate(int(rate)))
	case blockAlign != channels*f.Bits/8:
		return WAVFormat{}, fmt.Errorf("wav: block align %d does not match %d channel(s) of %d-bit samples (want %d)",
			blockAlign, channels, f.Bits, channels*f.Bits/8)
	}
	return f, nil
}

// Format describes the samples.
func (w *WAVReader) Format() WAVFormat { return w.format }

// Frames is the number of whole frames in the data chunk, or -1 for a stream (whose
// length is known only at its end).
func (w *WAVReader) Frames() int64 { return w.frames }

// UntilEnd reports that the data chunk's declared size was no bound: a streaming marker
// or a size beyond the end of the file, so that the samples run to the end of the file.
// For a stream it may turn true only when the stream ends. The audio package has no
// logger; a caller may log it at debug level.
func (w *WAVReader) UntilEnd() bool { return w.untilEnd }

// Read decodes up to len(dst)/Channels whole frames into dst, interleaved, and returns
// the number of samples written (a multiple of Channels). It returns io.EOF after the last
// frame, and io.ErrShortBuffer if dst cannot hold a single frame.
func (w *WAVReader) Read(dst []float32) (int, error) {
	if w.s != nil {
		return w.readStream(dst)
	}
	if w.off >= w.end {
		return 0, io.EOF
	}
	ch := w.format.Channels
	if len(dst) < ch {
		return 0, io.ErrShortBuffer
	}
	frames := min(int64(len(dst)/ch), int64(len(w.buf)/w.format.BlockAlign), (w.end-w.off)/int64(w.format.BlockAlign))
	raw := w.buf[:frames*int64(w.format.BlockAlign)]
	got, err := w.r.ReadAt(raw, w.off)
	if got < len(raw) {
		// The size was checked when the header was parsed, so the file shrank under us.
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, fmt.Errorf("wav: reading samples at offset %d: %w", w.off, err)
	}
	w.off += int64(len(raw))
	n := int(frames) * ch
	decodeWAVSamples(dst[:n], raw, w.format)
	return n, nil
}

// readStream is Read for a stream: it returns the whole frames that have arrived, waiting
// only until there is one.
func (w *WAVReader) readStream(dst []float32) (int, error) {
	ba, ch := w.format.BlockAlign, w.format.Channels
	if len(dst) < ch {
		return 0, io.ErrShortBuffer
	}
	most := min(len(dst)/ch, len(w.buf)/ba) * ba // bytes of whole frames dst and buf can take
	for w.have < ba {
		if w.err != nil {
			return 0, w.err
		}
		if w.left == 0 {
			w.have = 0 // a partial frame at the end
			return 0, io.EOF
		}
		m, err := w.s.Read(w.buf[w.have : w.have+int(min(int64(most-w.have), w.left))])
		w.have += m
		w.left -= int64(m)
		switch {
		case err == io.EOF:
			if w.left > 0 {
				w.untilEnd = true // the stream ended before its declared size
			}
			w.left = 0
		case err != nil:
			w.err = fmt.Errorf("wav: reading samples: %w", err)
		}
	}
	frames := w.have / ba
	n := frames * ch
	decodeWAVSamples(dst[:n], w.buf[:frames*ba], w.format)
	w.have = copy(w.buf, w.buf[frames*ba:w.have])
	return n, nil
}

// decodeWAVSamples converts len(dst) samples of raw bytes in format f to floats.
func decodeWAVSamples(dst []float32, raw []byte, f WAVFormat) {
	le := binary.LittleEndian
	switch {
	case f.Float && f.Bits == 32:
		for i := range dst {
			dst[i] = clampSample(float64(math.Float32frombits(le.Uint32(raw[4*i:]))))
		}
	case f.Float:
		for i := range dst {
			dst[i] = clampSample(math.Float64frombits(le.Uint64(raw[8*i:])))
		}
	case f.Bits == 8:
		for i := range dst {
			dst[i] = float32(int(raw[i])-128) * (1.0 / 128)
		}
	case f.Bits == 16:
		for i := range dst {
			dst[i] = float32(int16(le.Uint16(raw[2*i:]))) * (1.0 / 32768)
		}
	case f.Bits == 24:
		for i := range dst {
			b := raw[3*i : 3*i+3]
			v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
			dst[i] = float32(v) * (1.0 / (1 << 23))
		}
	default: // 32-bit integer: float32 cannot hold it exactly, and near full scale rounds up to 1
		for i := range dst {
			dst[i] = min(float32(int32(le.Uint32(raw[4*i:])))*(1.0/(1<<31)), maxSample)
		}
	}
}

// WriteWAV writes interleaved samples as a complete WAV file: integer PCM when float is
// false (bits 8, 16, 24 or 32; rounded and clipped to the integer range), IEEE float
// when it is true (bits 32 or 64). It uses the plain PCM or float format tag, which every
// reader understands.
func WriteWAV(w io.Writer, rate, channels, bits int, float bool, interleaved []float32) error {
	switch {
	case rate < 1 || rate > maxWAVRate:
		return fmt.Errorf("wav: sample rate %d out of range", rate)
	case channels < 1 || channels > MaxChannels:
		return fmt.Errorf("wav: %d channels; want 1 to %d", channels, MaxChannels)
	case len(interleaved)%channels != 0:
		return fmt.Errorf("wav: %d samples is not a whole number of %d-channel frames", len(interleaved), channels)
	case float && bits != 32 && bits != 64:
		return fmt.Errorf("wav: %d-bit float; want 32 or 64", bits)
	case !float && bits != 8 && bits != 16 && bits != 24 && bits != 32:
		return fmt.Errorf("wav: %d-bit PCM; want 8, 16, 24 or 32", bits)
	}
	bytesPer := bits / 8
	dataBytes := int64(len(interleaved)) * int64(bytesPer)
	if dataBytes+36 > math.MaxUint32-1 {
		return fmt.Errorf("wav: %d bytes of samples do not fit a RIFF file", dataBytes)
	}
	tag := uint16(wavFormatPCM)
	if float {
		tag = wavFormatFloat
	}
	le := binary.LittleEndian
	hdr := make([]byte, 0, 44)
	hdr = append(hdr, "RIFF"...)
	hdr = le.AppendUint32(hdr, uint32(36+dataBytes+dataBytes&1))
	hdr = append(hdr, "WAVEfmt "...)
	hdr = le.AppendUint32(hdr, 16)
	hdr = le.AppendUint16(hdr, tag)
	hdr = le.AppendUint16(hdr, uint16(channels))
	hdr = le.AppendUint32(hdr, uint32(rate))
	hdr = le.AppendUint32(hdr, uint32(rate*channels*bytesPer))
	hdr = le.AppendUint16(hdr, uint16(channels*bytesPer))
	hdr = le.AppendUint16(hdr, uint16(bits))
	hdr = append(hdr, "data"...)
	hdr = le.AppendUint32(hdr, uint32(dataBytes))
	if _, err := w.Write(hdr); err != nil {
		return err
	}

	buf := make([]byte, 0, 4096*bytesPer)
	for i, v := range interleaved {
		x := float64(v)
		switch {
		case float && bits == 32:
			buf = le.AppendUint32(buf, math.Float32bits(v))
		case float:
			buf = le.AppendUint64(buf, math.Float64bits(x))
		case bits == 8:
			buf = append(buf, byte(quantize(x, 8)+128))
		case bits == 16:
			buf = le.AppendUint16(buf, uint16(quantize(x, 16)))
		case bits == 24:
			q := uint32(quantize(x, 24))
			buf = append(buf, byte(q), byte(q>>8), byte(q>>16))
		default:
			buf = le.AppendUint32(buf, uint32(quantize(x, 32)))
		}
		if len(buf) >= cap(buf)-8 || i == len(interleaved)-1 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if dataBytes&1 == 1 {
		_, err := w.Write([]byte{0})
		return err
	}
	return nil
}

// quantize rounds x, full scale 1, to a signed bits-wide integer, clipping at the ends.
func quantize(x float64, bits int) int32 {
	full := float64(int64(1) << (bits - 1))
	q := math.Round(x * full)
	switch {
	case q >= full:
		q = full - 1
	case q < -full:
		q = -full
	case q != q:
		q = 0
	}
	return int32(q)
}
