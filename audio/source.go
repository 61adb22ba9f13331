// Package audio turns microphones, files and pipes into a stream of mono 16 kHz samples.
//
// Every Source delivers mono float32 samples scaled to [-1, 1) at its own rate; Resample16k
// wraps a Source whose rate is not 16 kHz. Capture sources decouple the device from the
// consumer with a Ring that never grows and counts what it had to drop.
package audio

import "io"

// TargetRate is the sample rate of everything downstream of the audio package.
const TargetRate = 16000

// Source is a stream of mono samples.
type Source interface {
	// Read fills p with up to len(p) mono samples in [-1, 1) and returns how many it wrote.
	// It blocks until at least one sample is available, and returns io.EOF at the end of a
	// finite stream once every sample has been delivered.
	Read(p []float32) (int, error)
	// Rate is the sample rate of the samples Read returns, in Hz.
	Rate() int
	// Close releases the device or file. Read after Close returns io.EOF or an error.
	Close() error
}

// Stats is what a live source knows about its own health.
type Stats struct {
	Captured uint64 // samples delivered by the device, per channel
	Overruns uint64 // samples dropped because the consumer fell behind
	// DeviceOverflows counts blocks after which the driver reported lost input, before
	// the samples ever reached the ring.
	DeviceOverflows uint64
}

// StatSource is a Source that can report capture statistics.
type StatSource interface {
	Source
	Stats() Stats
}

// ReadFull reads exactly len(p) samples from s unless the stream ends first.
// It returns io.ErrUnexpectedEOF when it ends part-way, like io.ReadFull.
func ReadFull(s Source, p []float32) (int, error) {
	n := 0
	for n < len(p) {
		m, err := s.Read(p[n:])
		n += m
		if err != nil {
			if err == io.EOF && n > 0 && n < len(p) {
				return n, io.ErrUnexpectedEOF
			}
			return n, err
		}
	}
	return n, nil
}

// ReadAll reads s to its end. It is for finite sources: files, tests, tools.
func ReadAll(s Source) ([]float32, error) {
	var out []float32
	buf := make([]float32, 4096)
	for {
		n, err := s.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// Padded returns src with n samples of silence before and after it, so that a short clip
// reaches a detector as it would in a live stream.
func Padded(src Source, n int) Source { return &padded{Source: src, pre: n, post: n} }

type padded struct {
	Source
	pre, post int
	ended     bool
}

func (p *padded) Read(buf []float32) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	if p.pre > 0 {
		n := min(p.pre, len(buf))
		clear(buf[:n])
		p.pre -= n
		return n, nil
	}
	if !p.ended {
		n, err := p.Source.Read(buf)
		if err != io.EOF {
			return n, err
		}
		p.ended = true
		if n > 0 {
			return n, nil
		}
	}
	if p.post == 0 {
		return 0, io.EOF
	}
	n := min(p.post, len(buf))
	clear(buf[:n])
	p.post -= n
	return n, nil
}
