package audio

import (
	"errors"
	"io"
	"sync"
	"testing"
	"time"
)

// fakeDevice delivers ones until it has delivered fail samples, then fails.
type fakeDevice struct {
	rate, fail, given int
	closed            bool
	mu                sync.Mutex
}

var errUnplugged = errors.New("device unplugged")

func (d *fakeDevice) Read(p []float32) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0, io.EOF
	}
	if d.given >= d.fail {
		return 0, errUnplugged
	}
	n := min(len(p), d.fail-d.given)
	for i := range n {
		p[i] = 1
	}
	d.given += n
	return n, nil
}
func (d *fakeDevice) Rate() int      { return d.rate }
func (d *fakeDevice) Stats() Stats   { return Stats{Captured: uint64(d.given)} }
func (d *fakeDevice) Close() error   { d.mu.Lock(); d.closed = true; d.mu.Unlock(); return nil }
func (d *fakeDevice) isClosed() bool { d.mu.Lock(); defer d.mu.Unlock(); return d.closed }

// A device that fails is closed and reopened with backoff; the reader sees every sample
// of both devices and no error, and the counters of both add up.
func TestReopeningSurvivesALostDevice(t *testing.T) {
	first := &fakeDevice{rate: 16000, fail: 1000}
	second := &fakeDevice{rate: 16000, fail: 1 << 30}
	opens := 0
	var waits []time.Duration
	var lost []error
	reopened := 0
	r := NewReopening(first, ReopenOptions{
		Open: func() (Source, error) {
			opens++
			if opens < 4 {
				return nil, ErrNoDevice
			}
			return second, nil
		},
		MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
		OnLost:     func(err error) { lost = append(lost, err) },
		OnRetry:    func(_ int, _ error, wait time.Duration) { waits = append(waits, wait) },
		OnReopened: func(attempt int) { reopened = attempt },
	})
	defer r.Close()
	buf := make([]float32, 3000)
	n, err := ReadFull(r, buf)
	if err != nil || n != len(buf) {
		t.Fatalf("read %d, %v", n, err)
	}
	for i, v := range buf {
		if v != 1 {
			t.Fatalf("sample %d is %v", i, v)
		}
	}
	if !first.isClosed() {
		t.Error("the failed device was not closed")
	}
	if len(lost) != 1 || !errors.Is(lost[0], errUnplugged) {
		t.Errorf("OnLost got %v", lost)
	}
	if want := []time.Duration{2 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond}; len(waits) != 3 || waits[0] != want[0] || waits[1] != want[1] || waits[2] != want[2] {
		t.Errorf("backoff waits %v, want %v", waits, want)
	}
	if reopened != 4 {
		t.Errorf("reopened after %d attempts, want 4", reopened)
	}
	if l, _, _ := r.Lost(); l {
		t.Error("still lost")
	}
	if s := r.Stats(); s.Captured != 3000 {
		t.Errorf("captured %d, want 3000 over both devices", s.Captured)
	}
}

// Close while the device is away stops the retries and ends reads.
func TestReopeningCloseWhileLost(t *testing.T) {
	r := NewReopening(&fakeDevice{rate: 16000}, ReopenOptions{
		Open:       func() (Source, error) { return nil, ErrNoDevice },
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	})
	done := make(chan error, 1)
	go func() { _, err := r.Read(make([]float32, 10)); done <- err }()
	for {
		if l, attempts, err := r.Lost(); l && attempts >= 2 {
			if !errors.Is(err, ErrNoDevice) {
				t.Fatalf("last error %v", err)
			}
			break
		}
		time.Sleep(time.Millisecond)
	}
	r.Close()
	select {
	case err := <-done:
		if err != io.EOF {
			t.Fatalf("read after Close: %v, want EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read still blocked after Close")
	}
}

// A device that comes back at another rate, or an audio library that cannot open devices
// any more, ends the stream with an error instead of retrying.
func TestReopeningGivesUp(t *testing.T) {
	for _, tc := range []struct {
		open func() (Source, error)
		want error
	}{
		{func() (Source, error) { return &fakeDevice{rate: 48000, fail: 10}, nil }, ErrRateChanged},
		{func() (Source, error) { return nil, ErrAudioWedged }, ErrAudioWedged},
	} {
		r := NewReopening(&fakeDevice{rate: 16000}, ReopenOptions{Open: tc.open, MinBackoff: time.Millisecond})
		_, err := r.Read(make([]float32, 10))
		if !errors.Is(err, tc.want) {
			t.Errorf("got %v, want %v", err, tc.want)
		}
		r.Close()
	}
}
