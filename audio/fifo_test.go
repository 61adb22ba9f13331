package audio

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A FIFO (mkfifo) as input: open(2) used to block until a writer came, out of reach of
// SIGTERM, and with a writer the WAV parser took the stat size (0) for the file's and FLAC
// failed to seek. Now the FIFO is a stream: waited for until ctx is done, parsed as it
// arrives, and interrupted by Close.

func mkfifo(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	return p
}

// within fails the test unless f returns within d, instead of hanging the test binary.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

// writeFIFO opens the FIFO for writing (waiting for the reader), writes data in pieces
// and closes it; errors go to errc.
func writeFIFO(path string, data []byte, errc chan<- error) {
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		errc <- err
		return
	}
	for len(data) > 0 {
		n := min(len(data), 1000)
		if _, err := w.Write(data[:n]); err != nil {
			w.Close()
			errc <- err
			return
		}
		data = data[n:]
	}
	errc <- w.Close()
}

func TestOpenFileFIFO(t *testing.T) {
	x := make([]float32, 2*5000)
	for i := range x {
		x[i] = float32(i%200-100) / 128
	}
	var wav bytes.Buffer
	WriteWAV(&wav, 22050, 2, 16, false, x)
	piped := slices.Clone(wav.Bytes())
	binary.LittleEndian.PutUint32(piped[4:], 0x80000024) // as arecord writes to a pipe
	binary.LittleEndian.PutUint32(piped[40:], 0x80000000)
	flacFile := encodeFLAC(t, 16000, 16, [][]int32{ramp(5000, 16, 101), ramp(5000, 16, 37)}, 1024, 5000)
	id3 := append(append([]byte("ID3\x03\x00\x00\x00\x00\x00\x14"), make([]byte, 20)...), flacFile...)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"wav", wav.Bytes()},
		{"wav from a pipe", piped},
		{"flac", flacFile},
		{"flac behind ID3", id3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, want, err := readFile(t, writeTemp(t, "x", tc.data), FileOptions{Channel: MixAll}, 999)
			if err != nil {
				t.Fatal(err)
			}
			fifo := mkfifo(t)
			errc := make(chan error, 1)
			go writeFIFO(fifo, tc.data, errc)
			within(t, 10*time.Second, "reading the FIFO", func() {
				s, err := OpenFileContext(context.Background(), fifo, FileOptions{Channel: MixAll})
				if err != nil {
					t.Error(err)
					return
				}
				defer s.Close()
				got, err := ReadAll(s)
				if err != nil || !slices.Equal(got, want) {
					t.Errorf("read %d samples, %v; want the file's %d", len(got), err, len(want))
				}
				if err := <-errc; err != nil {
					t.Errorf("writer: %v", err)
				}
			})
		})
	}
}

// With no writer, opening waits until ctx is done, then returns and holds nothing open.
func TestOpenFileFIFONoWriter(t *testing.T) {
	fifo := mkfifo(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	within(t, 5*time.Second, "OpenFileContext of a FIFO without a writer", func() {
		s, err := OpenFileContext(ctx, fifo, FileOptions{})
		if err == nil {
			s.Close()
		}
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), fifo) {
			t.Errorf("error %v; want context.Canceled, naming the FIFO", err)
		}
	})
	// No reader is left: a non-blocking writer finds nobody (ENXIO).
	if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); !errors.Is(err, syscall.ENXIO) {
		if err == nil {
			w.Close()
		}
		t.Errorf("opening the FIFO for writing after the reader gave up: %v; want ENXIO", err)
	}
}

// A writer that connects and sends nothing, or half a header, is waited for until ctx
// is done too.
func TestOpenFileFIFOSilentWriter(t *testing.T) {
	for _, sent := range [][]byte{nil, []byte("RIFF\x24\x00\x00\x80WAVEfmt ")} {
		fifo := mkfifo(t)
		opened := make(chan *os.File, 1)
		go func() {
			w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err != nil {
				opened <- nil
				return
			}
			w.Write(sent)
			opened <- w
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		within(t, 5*time.Second, "OpenFileContext of a FIFO whose writer is silent", func() {
			s, err := OpenFileContext(ctx, fifo, FileOptions{})
			if err == nil {
				s.Close()
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("after %d bytes: error %v; want context.DeadlineExceeded", len(sent), err)
			}
		})
		cancel()
		if w := <-opened; w != nil {
			w.Close()
		}
	}
}

// A writer that comes and goes without a byte ends the wait: the input is empty.
func TestOpenFileFIFOEmptyWriter(t *testing.T) {
	fifo := mkfifo(t)
	errc := make(chan error, 1)
	go writeFIFO(fifo, nil, errc)
	within(t, 5*time.Second, "OpenFileContext of a FIFO whose writer left", func() {
		_, err := OpenFileContext(context.Background(), fifo, FileOptions{})
		if err == nil || !strings.Contains(err.Error(), "unsupported audio file format") {
			t.Errorf("error %v; want an unsupported (empty) file", err)
		}
	})
}

// Once open, a Read that waits for a silent writer ends when the source is closed, as
// the pipeline does on SIGTERM.
func TestFIFOReadEndsOnClose(t *testing.T) {
	fifo := mkfifo(t)
	var wav bytes.Buffer
	WriteWAV(&wav, 16000, 1, 16, false, make([]float32, 100))
	binary.LittleEndian.PutUint32(wav.Bytes()[40:], 0xFFFFFFFF) // more to come
	opened := make(chan *os.File, 1)
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			opened <- nil
			return
		}
		w.Write(wav.Bytes())
		opened <- w // and stay silent
	}()
	s, err := OpenFileContext(context.Background(), fifo, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := <-opened
	if w == nil {
		t.Fatal("writer failed")
	}
	defer w.Close()
	buf := make([]float32, 1000)
	if n, err := ReadFull(s, buf[:100]); n != 100 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	time.AfterFunc(100*time.Millisecond, func() { s.Close() })
	within(t, 5*time.Second, "a Read waiting on a silent writer after Close", func() {
		if n, err := s.Read(buf); n != 0 || !errors.Is(err, errClosed) {
			t.Errorf("Read = %d, %v; want errClosed", n, err)
		}
	})
}
