package engine

// ring keeps the last rows rows of a stream (frames, or their tokens), width values each,
// circularly, and unrolls them oldest first into the window a hop scores.
type ring struct {
	rows, width int
	buf         []float32 // row i of the stream in slot i mod rows
	window      []float32 // the rows unrolled, oldest first
}

func newRing(rows, width int) ring {
	return ring{rows: rows, width: width, buf: make([]float32, rows*width), window: make([]float32, rows*width)}
}

// row returns the slot of row i of the stream (i = 0, 1, ...), to be written.
func (r *ring) row(i uint64) []float32 {
	slot := int(i % uint64(r.rows))
	return r.buf[slot*r.width : (slot+1)*r.width]
}

// unroll returns the window of the rows up to row i, oldest first; it is valid until the
// next call.
func (r *ring) unroll(i uint64) []float32 {
	// The oldest row sits just after the newest one.
	split := (int(i%uint64(r.rows)) + 1) * r.width
	n := copy(r.window, r.buf[split:])
	copy(r.window[n:], r.buf[:split])
	return r.window
}

func (r *ring) reset() { clear(r.buf) }
