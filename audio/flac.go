package audio

import (
	"fmt"
	"io"

	"github.com/mewkiz/flac"
	"github.com/mewkiz/flac/frame"
)

// flacDecoder decodes a FLAC stream one frame (at most 65535 samples per channel) at a
// time with github.com/mewkiz/flac.
type flacDecoder struct {
	stream   *flac.Stream
	rate     int
	channels int
	bits     int
	total    uint64 // samples per channel promised by STREAMINFO; 0 if unknown
	decoded  uint64 // samples per channel decoded so far
	cur      *frame.Frame
	pos      int // next sample index within cur
	scale    float32
}

// newFLACDecoder reads the FLAC signature and metadata from r.
func newFLACDecoder(r io.Reader) (d *flacDecoder, err error) {
	defer recoverDecoder(&err)
	stream, err := flac.New(r)
	if err != nil {
		return nil, fmt.Errorf("flac: reading metadata: %w", err)
	}
	info := stream.Info
	switch rateErr := CheckRate(int(info.SampleRate)); {
	case rateErr != nil:
		return nil, fmt.Errorf("flac: STREAMINFO: %w", rateErr)
	case info.NChannels < 1 || int(info.NChannels) > MaxChannels:
		return nil, fmt.Errorf("flac: STREAMINFO declares %d channels", info.NChannels)
	case info.BitsPerSample < 4 || info.BitsPerSample > 32:
		return nil, fmt.Errorf("flac: STREAMINFO declares %d bits per sample; want 4 to 32", info.BitsPerSample)
	}
	return &flacDecoder{
		stream:   stream,
		rate:     int(info.SampleRate),
		channels: int(info.NChannels),
		bits:     int(info.BitsPerSample),
		total:    info.NSamples,
		scale:    float32(1 / float64(uint64(1)<<(info.BitsPerSample-1))),
	}, nil
}

// recoverDecoder turns a panic inside the third-party decoder into an error: a corrupt
// file must not take the daemon down.
func recoverDecoder(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("flac: corrupt stream (decoder panicked: %v)", r)
	}
}

func (d *flacDecoder) Read(dst []float32) (int, error) {
	if d.cur == nil || d.pos == int(d.cur.BlockSize) {
		if err := d.next(); err != nil {
			return 0, err
		}
	}
	n := min(len(dst)/d.channels, int(d.cur.BlockSize)-d.pos)
	for c, sub := range d.cur.Subframes {
		for i, v := range sub.Samples[d.pos : d.pos+n] {
			dst[i*d.channels+c] = min(float32(v)*d.scale, maxSample)
		}
	}
	d.pos += n
	return n * d.channels, nil
}

// next decodes the following frame into d.cur and checks that it matches STREAMINFO.
func (d *flacDecoder) next() (err error) {
	defer recoverDecoder(&err)
	d.cur, d.pos = nil, 0
	f, err := d.stream.ParseNext()
	switch {
	case err == io.EOF:
		if d.total != 0 && d.decoded < d.total {
			return fmt.Errorf("flac: truncated: STREAMINFO declares %d samples, the file has %d", d.total, d.decoded)
		}
		return io.EOF
	case err == io.ErrUnexpectedEOF:
		return fmt.Errorf("flac: truncated frame after %d samples", d.decoded)
	case err != nil:
		return fmt.Errorf("flac: corrupt frame after %d samples: %w", d.decoded, err)
	}
	switch {
	case len(f.Subframes) != d.channels:
		return fmt.Errorf("flac: frame after %d samples has %d channels; STREAMINFO says %d", d.decoded, len(f.Subframes), d.channels)
	case f.BitsPerSample != 0 && int(f.BitsPerSample) != d.bits:
		return fmt.Errorf("flac: frame after %d samples has %d bits per sample; STREAMINFO says %d", d.decoded, f.BitsPerSample, d.bits)
	case f.SampleRate != 0 && int(f.SampleRate) != d.rate:
		return fmt.Errorf("flac: frame after %d samples has rate %d Hz; STREAMINFO says %d", d.decoded, f.SampleRate, d.rate)
	}
	for _, sub := range f.Subframes {
		if len(sub.Samples) != int(f.BlockSize) {
			return fmt.Errorf("flac: frame after %d samples is inconsistent (%d samples in a block of %d)", d.decoded, len(sub.Samples), f.BlockSize)
		}
	}
	d.cur = f
	d.decoded += uint64(f.BlockSize)
	return nil
}
