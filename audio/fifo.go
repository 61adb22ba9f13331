package audio

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// openPath opens an input file for reading. A FIFO is opened without waiting for a writer:
// open(2) of a FIFO blocks until one comes, in the kernel, where neither a signal handler
// nor ctx can reach it. Opened non-blocking it returns at once, Go's poller manages the
// descriptor, and openPath waits there, until ctx is done, for the writer's first bytes
// (or for a writer that came and left). Reads that follow wait in the poller as well, so
// Close interrupts them.
func openPath(ctx context.Context, path string) (*os.File, error) {
	if st, err := os.Stat(path); err != nil || st.Mode()&fs.ModeNamedPipe == 0 {
		return os.Open(path)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if err := waitWriter(ctx, f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: waiting for a writer: %w", path, err)
	}
	return f, nil
}

// waitWriter waits until f, a FIFO opened non-blocking, has data to read or has had a
// writer that left. Until then a read would return 0 bytes, which is no end of file: the
// writer has not come yet.
func waitWriter(ctx context.Context, f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, 0)
			switch {
			case err == unix.EINTR:
				continue
			case err != nil:
				perr = err
				return true
			}
			// POLLIN: data; POLLHUP: a writer came and went (the kernel does not report a
			// writer that never came). false waits in the poller for the next event.
			return n > 0
		}
	})
	if ctx.Err() != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	return perr
}
