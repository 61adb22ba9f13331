package audio

import (
	"io"
	"slices"
	"sync"
	"testing"
	"time"
)

// seq returns the floats from, from+1, ..., from+n-1.
func seq(from, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(from + i)
	}
	return x
}

func TestRingFIFOAcrossWrap(t *testing.T) {
	r := NewRing(7)
	next, want := 0, 0
	buf := make([]float32, 5)
	// Writes and reads of coprime sizes walk head and tail around the buffer many times.
	for range 50 {
		r.Write(seq(next, 3))
		next += 3
		for r.Len() > 2 {
			n, err := r.Read(buf[:min(5, r.Len()-2)])
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(buf[:n], seq(want, n)) {
				t.Fatalf("read %v; want %v", buf[:n], seq(want, n))
			}
			want += n
		}
	}
	if st := r.Stats(); st.Overruns != 0 || st.Captured != uint64(next) {
		t.Errorf("stats %+v; want %d captured, no overruns", st, next)
	}
}

func TestRingOverrunDropsOldest(t *testing.T) {
	r := NewRing(8)
	r.Write(seq(0, 5))
	r.Write(seq(5, 6)) // 11 into 8: 0, 1, 2 go
	if st := r.Stats(); st.Overruns != 3 || st.Captured != 11 {
		t.Fatalf("stats %+v; want 3 overruns of 11", st)
	}
	got := make([]float32, 10)
	n, _ := r.Read(got)
	if !slices.Equal(got[:n], seq(3, 8)) {
		t.Fatalf("read %v; want 3..10", got[:n])
	}

	// A single write larger than the ring keeps only its newest Cap samples.
	r.Write(seq(100, 20))
	if st := r.Stats(); st.Overruns != 3+12 || st.Captured != 31 {
		t.Fatalf("stats %+v; want 15 overruns of 31", st)
	}
	n, _ = r.Read(got)
	if !slices.Equal(got[:n], seq(112, 8)) {
		t.Fatalf("read %v; want 112..119", got[:n])
	}

	// Overrun with the ring wrapped: head in the middle.
	r.Write(seq(0, 6))
	r.Read(got[:4]) // head at 2 of 8... wrapped state
	r.Write(seq(6, 9))
	if st := r.Stats(); st.Overruns != 15+3 {
		t.Fatalf("overruns %d; want 18", st.Overruns)
	}
	n, _ = r.Read(got)
	if !slices.Equal(got[:n], seq(7, 8)) {
		t.Fatalf("read %v; want 7..14", got[:n])
	}
}

func TestRingWriteWaitBlocksUntilRead(t *testing.T) {
	r := NewRing(4)
	r.Write(seq(0, 4))
	done := make(chan error)
	go func() { done <- r.WriteWait(seq(4, 3)) }()
	select {
	case <-done:
		t.Fatal("WriteWait returned while the ring was full")
	case <-time.After(50 * time.Millisecond):
	}
	got := make([]float32, 2)
	r.Read(got)
	// Two slots freed: two samples go in, the third still waits.
	select {
	case <-done:
		t.Fatal("WriteWait returned with a sample still unwritten")
	case <-time.After(50 * time.Millisecond):
	}
	r.Read(got[:1])
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	all := make([]float32, 10)
	n, _ := r.Read(all)
	if !slices.Equal(all[:n], seq(3, 4)) {
		t.Errorf("read %v; want 3..6", all[:n])
	}
	if st := r.Stats(); st.Overruns != 0 || st.Captured != 7 {
		t.Errorf("stats %+v", st)
	}
}

func TestRingWriteWaitClosed(t *testing.T) {
	r := NewRing(2)
	r.Write(seq(0, 2))
	done := make(chan error)
	go func() { done <- r.WriteWait(seq(2, 5)) }()
	time.Sleep(20 * time.Millisecond)
	r.Close()
	if err := <-done; err != io.ErrClosedPipe {
		t.Errorf("WriteWait on a closed ring: %v; want io.ErrClosedPipe", err)
	}
}

func TestRingCloseDrainsThenEOF(t *testing.T) {
	r := NewRing(8)
	r.Write(seq(0, 5))
	r.Close()
	r.Write(seq(5, 3)) // ignored after Close
	got := make([]float32, 3)
	n, err := r.Read(got)
	if n != 3 || err != nil || !slices.Equal(got, seq(0, 3)) {
		t.Fatalf("Read = %v, %d, %v", got[:n], n, err)
	}
	n, err = r.Read(got)
	if n != 2 || err != nil || !slices.Equal(got[:2], seq(3, 2)) {
		t.Fatalf("Read = %v, %d, %v", got[:n], n, err)
	}
	if n, err = r.Read(got); n != 0 || err != io.EOF {
		t.Fatalf("Read after drain = %d, %v; want 0, io.EOF", n, err)
	}

	// A reader blocked on an empty ring wakes up with io.EOF.
	r2 := NewRing(4)
	done := make(chan error)
	go func() {
		_, err := r2.Read(got)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	r2.Close()
	if err := <-done; err != io.EOF {
		t.Errorf("blocked Read after Close: %v; want io.EOF", err)
	}
}

func TestRingReadEmptyBuffer(t *testing.T) {
	r := NewRing(4)
	if n, err := r.Read(nil); n != 0 || err != nil {
		t.Errorf("Read(nil) = %d, %v", n, err)
	}
	if NewRing(0).Cap() != 1 {
		t.Error("NewRing(0) should hold one sample")
	}
}

// TestRingConcurrentLossless runs a producer with WriteWait against a consumer that reads
// in different sizes: every sample arrives, in order, and nothing counts as an overrun.
// Run with -race.
func TestRingConcurrentLossless(t *testing.T) {
	const total = 200_000
	r := NewRing(333)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; i < total; {
			n := min(1+i%97, total-i)
			if err := r.WriteWait(seq(i, n)); err != nil {
				t.Error(err)
				return
			}
			i += n
		}
		r.Close()
	})
	next := 0
	buf := make([]float32, 256)
	for k := 0; ; k++ {
		n, err := r.Read(buf[:1+k%256])
		for _, v := range buf[:n] {
			if v != float32(next) {
				t.Fatalf("got %v; want %d", v, next)
			}
			next++
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if next != total {
		t.Errorf("received %d samples; want %d", next, total)
	}
	if st := r.Stats(); st.Overruns != 0 || st.Captured != total {
		t.Errorf("stats %+v", st)
	}
}

func TestPadded(t *testing.T) {
	src := &sliceSource{x: []float32{1, 2, 3}, rate: 16000, step: 2}
	got, err := ReadAll(Padded(src, 2))
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 0, 1, 2, 3, 0, 0}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
