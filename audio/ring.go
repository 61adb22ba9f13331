package audio

import (
	"io"
	"sync"
)

// Ring is a fixed-size FIFO of samples between a capture thread and the processing loop.
// It never grows: when the consumer falls behind, Write drops the oldest samples and counts
// them as overruns, because for a wake-word detector fresh audio is worth more than old.
// WriteWait instead blocks, for producers that are not paced in real time (virtual devices,
// files) where every sample must arrive.
type Ring struct {
	mu       sync.Mutex
	notEmpty sync.Cond
	notFull  sync.Cond
	buf      []float32
	head     int // index of the oldest sample
	n        int // samples held
	closed   bool
	written  uint64
	overruns uint64
}

// NewRing returns a ring that holds up to capacity samples.
func NewRing(capacity int) *Ring {
	if capacity < 1 {
		capacity = 1
	}
	r := &Ring{buf: make([]float32, capacity)}
	r.notEmpty.L = &r.mu
	r.notFull.L = &r.mu
	return r
}

// Cap is the number of samples the ring can hold.
func (r *Ring) Cap() int { return len(r.buf) }

// Len is the number of samples waiting to be read.
func (r *Ring) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// Write appends p, dropping the oldest samples if it does not fit. It never blocks for
// longer than a copy and never allocates, so it is safe to call from an audio callback.
func (r *Ring) Write(p []float32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.written += uint64(len(p))
	if len(p) > len(r.buf) {
		// Only the newest Cap samples can survive.
		r.overruns += uint64(len(p) - len(r.buf))
		p = p[len(p)-len(r.buf):]
	}
	if free := len(r.buf) - r.n; len(p) > free {
		drop := len(p) - free
		r.overruns += uint64(drop)
		r.head = (r.head + drop) % len(r.buf)
		r.n -= drop
	}
	r.put(p)
	r.notEmpty.Signal()
}

// WriteWait appends all of p, blocking while the ring is full. It returns io.ErrClosedPipe
// if the ring is closed before everything was written.
func (r *Ring) WriteWait(p []float32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(p) > 0 {
		for !r.closed && r.n == len(r.buf) {
			r.notFull.Wait()
		}
		if r.closed {
			return io.ErrClosedPipe
		}
		m := min(len(p), len(r.buf)-r.n)
		r.put(p[:m])
		r.written += uint64(m)
		p = p[m:]
		r.notEmpty.Signal()
	}
	return nil
}

// put copies p (which fits) behind the newest sample. The caller holds mu.
func (r *Ring) put(p []float32) {
	tail := (r.head + r.n) % len(r.buf)
	c := copy(r.buf[tail:], p)
	copy(r.buf, p[c:])
	r.n += len(p)
}

// Read blocks until samples are available, then moves up to len(p) of them into p.
// After Close it drains what is left and then returns io.EOF.
func (r *Ring) Read(p []float32) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.n == 0 && !r.closed {
		r.notEmpty.Wait()
	}
	if r.n == 0 {
		return 0, io.EOF
	}
	m := min(len(p), r.n)
	c := copy(p[:m], r.buf[r.head:min(r.head+m, len(r.buf))])
	copy(p[c:m], r.buf)
	r.head = (r.head + m) % len(r.buf)
	r.n -= m
	r.notFull.Signal()
	return m, nil
}

// Close wakes every waiter; Read returns io.EOF once the ring is drained.
func (r *Ring) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.notEmpty.Broadcast()
	r.notFull.Broadcast()
}

// Stats reports the samples written and the samples dropped so far.
func (r *Ring) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Stats{Captured: r.written, Overruns: r.overruns}
}
