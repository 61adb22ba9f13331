package audio

import (
	"errors"
	"io"
	"os"
	"syscall"
)

// NewStdinS16LE is NewRawS16LE over the process's standard input, whose Close also
// interrupts a Read that waits on a silent pipe: once the descriptor is non-blocking, Go's
// poller waits on it, so a daemon reading stdin still stops on SIGTERM. (A regular file
// never blocks, so it is read as it is.)
func NewStdinS16LE(rate, channels, channel int) (Source, error) {
	stdin := os.Stdin
	if fd := int(os.Stdin.Fd()); syscall.SetNonblock(fd, true) == nil {
		stdin = os.NewFile(uintptr(fd), "/dev/stdin")
	}
	raw, err := NewRawS16LE(stdin, rate, channels, channel)
	if err != nil {
		return nil, err
	}
	return closing{raw, stdin}, nil
}

// closing closes what it reads from along with the source.
type closing struct {
	Source
	c io.Closer
}

func (s closing) Close() error { return errors.Join(s.Source.Close(), s.c.Close()) }
