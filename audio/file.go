package audio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"
)

// FileOptions controls how OpenFile turns a file into a Source.
type FileOptions struct {
	// Channel is the 0-based channel to keep, or MixAll (-1) to average every channel.
	// The zero value keeps the first channel.
	Channel int
	// Realtime paces Read like a microphone: no sample is returned before its own time,
	// measured from the first Read. Without it a file is read as fast as it decodes.
	Realtime bool
}

// frameDecoder is a decoder of interleaved frames that a fileSource turns into mono.
type frameDecoder interface {
	// Read decodes whole frames into dst (interleaved) and returns the samples written;
	// io.EOF after the last frame.
	Read(dst []float32) (int, error)
}

// fileFrames is how many frames a file source decodes per step. It bounds the scratch
// space to fileFrames*MaxChannels floats whatever the file claims.
const fileFrames = 2048

// OpenFile opens a WAV or FLAC file as a Source of its samples at the file's own rate,
// decoding it incrementally, so an hour-long file costs no more memory than a second. The
// container is recognised by its first bytes, not by the file name. It is
// OpenFileContext without a way to give up waiting for a FIFO's writer.
func OpenFile(path string, opt FileOptions) (Source, error) {
	return OpenFileContext(context.Background(), path, opt)
}

// OpenFileContext opens a WAV or FLAC file as OpenFile does, or a FIFO or any other
// input that cannot seek (a pipe named /dev/stdin, a character device) as a stream: the
// header is parsed as it arrives and the samples are returned as they come. A FIFO
// without a writer is waited for, and a stream's header too, until ctx is done; Close
// interrupts a Read that waits on a stream. Errors name the file.
func OpenFileContext(ctx context.Context, path string, opt FileOptions) (Source, error) {
	f, err := openPath(ctx, path)
	if err != nil {
		return nil, err
	}
	// A stream's header may be slow to come: a deadline in the past ends the wait.
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Unix(1, 0)) })
	s, err := openFile(f, path, opt)
	if !stop() || ctx.Err() != nil {
		err = fmt.Errorf("%s: %w", path, ctx.Err())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func openFile(f *os.File, path string, opt FileOptions) (*fileSource, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var magic [12]byte
	n, err := io.ReadFull(f, magic[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var (
		dec      frameDecoder
		rate     int
		channels int
		kind     string
		rest     io.Reader // a stream from its first byte: what sniffing read, then the rest
	)
	if st.Mode().IsRegular() {
		kind = sniff(f, magic[:n])
	} else {
		kind, rest = sniffStream(io.MultiReader(bytes.NewReader(magic[:n]), f), magic[:n])
	}
	switch kind {
	case "wav":
		var w *WAVReader
		if rest != nil {
			w, err = NewWAVStream(rest)
		} else {
			w, err = NewWAVReader(f, st.Size())
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		dec, rate, channels = w, w.Format().Rate, w.Format().Channels
	case "flac":
		if rest == nil {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			rest = f
		}
		d, err := newFLACDecoder(rest) // reads sequentially; it never seeks
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		dec, rate, channels = d, d.rate, d.channels
	default:
		return nil, fmt.Errorf("unsupported audio file format (want WAV or FLAC): %s", path)
	}
	if err := CheckChannel(channels, opt.Channel); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s := &fileSource{
		path:     path,
		closer:   f,
		dec:      dec,
		rate:     rate,
		channels: channels,
		channel:  opt.Channel,
		scratch:  make([]float32, fileFrames*channels),
	}
	if opt.Realtime {
		s.pace = &pacer{rate: rate, clock: wallClock{}}
	}
	return s, nil
}

// sniffStream is sniff for a stream r (which starts with magic): it returns the kind and
// a reader of the stream from its first byte, or from the "fLaC" behind an ID3v2 tag,
// which it has read past.
func sniffStream(r io.Reader, magic []byte) (string, io.Reader) {
	if len(magic) < 10 || string(magic[0:3]) != "ID3" {
		return sniff(nil, magic), r
	}
	size := int64(magic[6]&0x7f)<<21 | int64(magic[7]&0x7f)<<14 | int64(magic[8]&0x7f)<<7 | int64(magic[9]&0x7f)
	var sig [4]byte
	if _, err := io.CopyN(io.Discard, r, 10+size); err != nil {
		return "", nil
	}
	if _, err := io.ReadFull(r, sig[:]); err != nil || string(sig[:]) != "fLaC" {
		return "", nil
	}
	return "flac", io.MultiReader(bytes.NewReader(sig[:]), r)
}

// sniff names the container from the first bytes of f: "wav", "flac" or "". f is only
// read for a FLAC behind an ID3v2 tag.
func sniff(f io.ReaderAt, magic []byte) string {
	switch {
	case len(magic) >= 12 && string(magic[0:4]) == "RIFF" && string(magic[8:12]) == "WAVE":
		return "wav"
	case bytes.HasPrefix(magic, []byte("fLaC")):
		return "flac"
	case len(magic) >= 10 && string(magic[0:3]) == "ID3":
		// Some taggers put an ID3v2 tag in front of FLAC (and of MP3, which must not
		// pass): look behind it. The size is four 7-bit bytes.
		size := int64(magic[6]&0x7f)<<21 | int64(magic[7]&0x7f)<<14 | int64(magic[8]&0x7f)<<7 | int64(magic[9]&0x7f)
		var sig [4]byte
		if f == nil {
			return ""
		}
		if _, err := f.ReadAt(sig[:], 10+size); err == nil && string(sig[:]) == "fLaC" {
			return "flac"
		}
	}
	return ""
}

// fileSource is a Source over a decoder of a file or a stream. Close may come from another
// goroutine while Read waits on a stream; it closes the file, which ends that Read.
type fileSource struct {
	path     string // for errors
	closer   io.Closer
	closed   atomic.Bool
	dec      frameDecoder
	rate     int
	channels int
	channel  int
	scratch  []float32 // decoded, interleaved frames not yet returned: scratch[pos:end]
	pos, end int
	pace     *pacer // nil unless Realtime
	err      error  // sticky: io.EOF, or a decode error naming the file
}

var errClosed = errors.New("audio: read from a closed source")

// UntilEnd reports a WAV whose data chunk declared more than the file holds (as arecord
// and sox write to a pipe), read to its end instead; for a stream it is known once the
// stream has ended.
func (s *fileSource) UntilEnd() bool {
	w, ok := s.dec.(*WAVReader)
	return ok && w.UntilEnd()
}

func (s *fileSource) Rate() int { return s.rate }

func (s *fileSource) Read(p []float32) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.closed.Load() {
		return 0, errClosed
	}
	if s.pos == s.end && s.err != nil {
		return 0, s.err // no need to wait for samples that will never come
	}
	if s.pace != nil {
		p = p[:s.pace.wait(len(p))]
	}
	n := 0
	for n < len(p) {
		if s.pos == s.end {
			if s.err != nil {
				break
			}
			m, err := s.dec.Read(s.scratch)
			s.pos, s.end = 0, m
			switch {
			case err == nil, err == io.EOF:
				s.err = err
			case s.closed.Load():
				s.err = errClosed // the file was closed under a waiting Read
			default:
				s.err = fmt.Errorf("%s: %w", s.path, err)
			}
			continue
		}
		m := Downmix(p[n:], s.scratch[s.pos:s.end], s.channels, s.channel)
		s.pos += m * s.channels
		n += m
	}
	if s.pace != nil {
		s.pace.done(n)
	}
	if n > 0 || s.err == nil {
		return n, nil
	}
	return 0, s.err
}

func (s *fileSource) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.closer.Close()
}

// clock is the time source of a pacer; tests replace it.
type clock interface {
	Now() time.Time
	Sleep(time.Duration)
}

type wallClock struct{}

func (wallClock) Now() time.Time        { return time.Now() }
func (wallClock) Sleep(d time.Duration) { time.Sleep(d) }

// pacer holds a file source to real time: sample i (0-based, counted from the first
// Read) is not handed out before (i+1)/rate seconds have passed, the moment a microphone
// would have finished capturing it.
type pacer struct {
	rate    int
	clock   clock
	start   time.Time
	started bool
	sent    int64 // samples handed out so far
}

// wait blocks until some of the next want samples are due and returns how many are, at
// most want. It waits for a 10 ms period's worth (or want, if smaller) so that a reader
// asking for a lot gets it in device-sized pieces rather than one sample at a time.
func (p *pacer) wait(want int) int {
	if !p.started {
		p.start, p.started = p.clock.Now(), true
	}
	need := int64(min(want, max(p.rate/100, 1)))
	for {
		due := int64(p.clock.Now().Sub(p.start).Seconds()*float64(p.rate)) - p.sent
		if due >= need {
			return int(min(due, int64(want)))
		}
		// Sleep until sample sent+need is due.
		at := time.Duration(float64(p.sent+need) / float64(p.rate) * float64(time.Second))
		p.clock.Sleep(max(at-p.clock.Now().Sub(p.start), 100*time.Microsecond))
	}
}

// done records that n samples were handed out.
func (p *pacer) done(n int) { p.sent += int64(n) }

// OpenFile16k opens a WAV or FLAC file as 16 kHz mono, its channels mixed down: the form
// every tool that reads recordings wants.
func OpenFile16k(path string) (Source, error) {
	src, err := OpenFile(path, FileOptions{Channel: MixAll})
	if err != nil {
		return nil, err
	}
	r, err := Resample16k(src)
	if err != nil {
		src.Close()
		return nil, err
	}
	return r, nil
}

// DecodeFile reads a whole WAV or FLAC file as 16 kHz mono.
func DecodeFile(path string) ([]float32, error) {
	r, err := OpenFile16k(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	x, err := ReadAll(r)
	if err != nil {
		return nil, err // it names the file
	}
	return x, nil
}
