package audio

import (
	"encoding/binary"
	"fmt"
	"io"
)

// rawFrames is how many frames the raw source reads per underlying Read.
const rawFrames = 1024

// rawSource reads interleaved signed 16-bit little-endian frames from a pipe.
type rawSource struct {
	r        io.Reader
	rate     int
	channels int
	channel  int
	buf      []byte // raw bytes; buf[:have] are read but not yet converted
	have     int
	frames   []int16 // scratch for one conversion step
	err      error
}

// NewRawS16LE returns a Source over headerless interleaved signed 16-bit little-endian
// audio with the given rate and channel count, such as `arecord -t raw -f S16_LE` or
// `sox ... -t raw -` write to a pipe. channel is the 0-based channel to keep or MixAll.
// A partial frame at the end of the stream (a trailing odd byte, or fewer bytes than a
// whole frame) is dropped, because it cannot be a complete sample. Close does not close
// r; the caller owns it.
func NewRawS16LE(r io.Reader, rate, channels, channel int) (Source, error) {
	if err := CheckRate(rate); err != nil {
		return nil, fmt.Errorf("audio: raw input: %w", err)
	}
	if err := CheckChannel(channels, channel); err != nil {
		return nil, err
	}
	return &rawSource{
		r:        r,
		rate:     rate,
		channels: channels,
		channel:  channel,
		buf:      make([]byte, rawFrames*channels*2),
		frames:   make([]int16, rawFrames*channels),
	}, nil
}

func (s *rawSource) Rate() int { return s.rate }

// Read blocks until at least one whole frame is available, like the pipe it reads.
func (s *rawSource) Read(p []float32) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	frameBytes := 2 * s.channels
	for s.have < frameBytes {
		if s.err != nil {
			return 0, s.err
		}
		// Read no more frames than p can take, so nothing waits in buf needlessly.
		want := min(len(s.buf), (len(p)+1)*frameBytes)
		m, err := s.r.Read(s.buf[s.have:want])
		s.have += m
		if err != nil {
			if err == io.EOF {
				s.have -= s.have % frameBytes // the partial frame at the end
			}
			s.err = err
		}
	}
	n := min(len(p), s.have/frameBytes, rawFrames)
	samples := s.frames[:n*s.channels]
	for i := range samples {
		samples[i] = int16(binary.LittleEndian.Uint16(s.buf[2*i:]))
	}
	DownmixS16(p, samples, s.channels, s.channel)
	used := n * frameBytes
	s.have = copy(s.buf, s.buf[used:s.have])
	return n, nil
}

func (s *rawSource) Close() error {
	s.err, s.have = errClosed, 0
	return nil
}
