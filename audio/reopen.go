package audio

import (
	"errors"
	"io"
	"sync"
	"time"
)

// Reopen options: how a Reopening source retries a device that has failed.
type ReopenOptions struct {
	// Open opens the device again. It must return a source at the same rate as the first.
	Open func() (Source, error)
	// MinBackoff is the wait before the first retry; it doubles up to MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// OnLost is called once when the device fails, with its error.
	OnLost func(err error)
	// OnRetry is called after each failed attempt, with the wait before the next.
	OnRetry func(attempt int, err error, wait time.Duration)
	// OnReopened is called when the device delivers again, after attempt tries.
	OnReopened func(attempt int)
}

// Reopening is a Source over a live device that survives the device going away: when a
// read fails (a USB microphone pulled out, a sound server restarted), it closes the device
// and opens it again with exponential backoff, until it succeeds or Close is called. The
// consumer sees a gap in the audio, never an error.
type Reopening struct {
	opt  ReopenOptions
	rate int

	mu       sync.Mutex
	cur      Source // nil while reopening
	closed   bool
	done     chan struct{}
	past     Stats // counters of the sources closed so far
	lost     bool
	attempts int
	lastErr  error
}

// NewReopening wraps first, an open device, so that it is reopened with opt.Open when it
// fails.
func NewReopening(first Source, opt ReopenOptions) *Reopening {
	if opt.MinBackoff <= 0 {
		opt.MinBackoff = 500 * time.Millisecond
	}
	opt.MaxBackoff = max(opt.MaxBackoff, opt.MinBackoff)
	return &Reopening{opt: opt, rate: first.Rate(), cur: first, done: make(chan struct{})}
}

// ErrRateChanged is returned when a reopened device delivers at another rate.
var ErrRateChanged = errors.New("audio: the reopened device delivers at another rate")

// Read reads from the current device; when the device fails, it blocks while reopening.
func (r *Reopening) Read(p []float32) (int, error) {
	for {
		r.mu.Lock()
		src, closed := r.cur, r.closed
		r.mu.Unlock()
		if closed {
			return 0, io.EOF
		}
		if src == nil {
			if err := r.reopen(); err != nil {
				return 0, err
			}
			continue
		}
		n, err := src.Read(p)
		if err == nil || n > 0 {
			return n, nil // an error comes back with the next read, once the samples are out
		}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return 0, io.EOF
		}
		r.drop(src, err)
		r.mu.Unlock()
		if r.opt.OnLost != nil {
			r.opt.OnLost(err)
		}
	}
}

// drop closes the failed source and keeps its counters. r.mu is held.
func (r *Reopening) drop(src Source, err error) {
	r.past = addStats(r.past, statsOf(src))
	src.Close()
	r.cur, r.lost, r.attempts, r.lastErr = nil, true, 0, err
}

// reopen tries Open with backoff until it succeeds, Close is called (io.EOF), the device
// comes back at another rate (an error: everything downstream depends on it), or the
// audio library cannot open devices any more (ErrAudioWedged).
func (r *Reopening) reopen() error {
	wait := r.opt.MinBackoff
	for {
		select {
		case <-r.done:
			return io.EOF
		case <-time.After(wait):
		}
		src, err := r.opt.Open()
		if errors.Is(err, ErrAudioWedged) {
			return err // retrying cannot help
		}
		if err == nil && src.Rate() != r.rate {
			src.Close()
			return ErrRateChanged
		}
		r.mu.Lock()
		r.attempts++
		attempt := r.attempts
		switch {
		case err == nil && r.closed:
			r.mu.Unlock()
			src.Close()
			return io.EOF
		case err == nil:
			r.cur, r.lost, r.lastErr = src, false, nil
			r.mu.Unlock()
			if r.opt.OnReopened != nil {
				r.opt.OnReopened(attempt)
			}
			return nil
		}
		r.lastErr = err
		r.mu.Unlock()
		wait = min(2*wait, r.opt.MaxBackoff)
		if r.opt.OnRetry != nil {
			r.opt.OnRetry(attempt, err, wait)
		}
	}
}

// Rate is the rate of the first device; reopened ones must match it.
func (r *Reopening) Rate() int { return r.rate }

// Lost reports whether the device is gone and being reopened, how many attempts have
// failed so far, and the last error.
func (r *Reopening) Lost() (lost bool, attempts int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lost, r.attempts, r.lastErr
}

// Stats sums the counters of every device opened so far.
func (r *Reopening) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.past
	if r.cur != nil {
		s = addStats(s, statsOf(r.cur))
	}
	return s
}

// Close closes the current device and stops any reopening.
func (r *Reopening) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	close(r.done)
	if r.cur != nil {
		return r.cur.Close()
	}
	return nil
}

func statsOf(s Source) Stats {
	if ss, ok := s.(StatSource); ok {
		return ss.Stats()
	}
	return Stats{}
}

func addStats(a, b Stats) Stats {
	return Stats{Captured: a.Captured + b.Captured, Overruns: a.Overruns + b.Overruns, DeviceOverflows: a.DeviceOverflows + b.DeviceOverflows}
}
