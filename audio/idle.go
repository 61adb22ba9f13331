package audio

import (
	"io"
	"sync"
)

// Idle returns a 16 kHz Source that delivers nothing: Read blocks until Close, then
// returns io.EOF. It is the microphone of a daemon that has none (audio.device none, a
// pure Wyoming server), so that the pipeline, its statistics and shutdown work as ever.
func Idle() Source { return &idle{done: make(chan struct{})} }

type idle struct {
	once sync.Once
	done chan struct{}
}

func (s *idle) Read([]float32) (int, error) {
	<-s.done
	return 0, io.EOF
}

func (s *idle) Rate() int { return TargetRate }

func (s *idle) Close() error {
	s.once.Do(func() { close(s.done) })
	return nil
}
