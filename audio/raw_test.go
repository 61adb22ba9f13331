package audio

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
	"testing/iotest"
)

func TestRawS16LE(t *testing.T) {
	// Three stereo frames and a trailing odd byte.
	data := append(le16(16384, -16384, 8192, 0, 32767, -32768), 0x7F)
	for _, tc := range []struct {
		channel int
		want    []float32
	}{
		{0, []float32{0.5, 0.25, 32767.0 / 32768}},
		{1, []float32{-0.5, 0, -1}},
		{MixAll, []float32{0, 0.125, -1.0 / 65536}},
	} {
		for _, wrap := range []func(io.Reader) io.Reader{
			func(r io.Reader) io.Reader { return r },
			iotest.OneByteReader,
			iotest.HalfReader,
			iotest.DataErrReader,
		} {
			for _, chunk := range []int{1, 2, 100} {
				s, err := NewRawS16LE(wrap(bytes.NewReader(data)), 44100, 2, tc.channel)
				if err != nil {
					t.Fatal(err)
				}
				if s.Rate() != 44100 {
					t.Fatalf("Rate() = %d", s.Rate())
				}
				got := readAll(t, s, chunk)
				if !slices.Equal(got, tc.want) {
					t.Errorf("channel %d, chunk %d: %v; want %v", tc.channel, chunk, got, tc.want)
				}
			}
		}
	}
}

func TestRawS16LEPartialFrameDropped(t *testing.T) {
	// One whole 3-channel frame and 5 of the next 6 bytes.
	data := append(le16(3, 6, 9), le16(1, 2)...)
	data = append(data, 0xAA)
	s, _ := NewRawS16LE(bytes.NewReader(data), 16000, 3, MixAll)
	if got := readAll(t, s, 10); !slices.Equal(got, []float32{6.0 / 32768}) {
		t.Errorf("got %v; want the one whole frame", got)
	}
	// A lone odd byte is no sample at all.
	s, _ = NewRawS16LE(bytes.NewReader([]byte{1}), 16000, 1, 0)
	if got := readAll(t, s, 10); len(got) != 0 {
		t.Errorf("got %v from a single byte", got)
	}
}

func TestRawS16LEErrors(t *testing.T) {
	r := bytes.NewReader(nil)
	for _, tc := range [][3]int{{0, 1, 0}, {16000, 0, 0}, {16000, 33, 0}, {16000, 2, 2}, {16000, 2, -2}, {-8000, 1, 0}} {
		if _, err := NewRawS16LE(r, tc[0], tc[1], tc[2]); err == nil {
			t.Errorf("NewRawS16LE(rate %d, channels %d, channel %d) succeeded", tc[0], tc[1], tc[2])
		}
	}

	// A read error arrives after the frames that came before it.
	s, _ := NewRawS16LE(io.MultiReader(bytes.NewReader(le16(100, 200)), iotest.ErrReader(errBoom)), 16000, 1, 0)
	p := make([]float32, 10)
	n, err := s.Read(p)
	if n != 2 || err != nil {
		t.Fatalf("first Read = %d, %v", n, err)
	}
	if _, err := s.Read(p); !errors.Is(err, errBoom) {
		t.Errorf("second Read: %v; want the reader's error", err)
	}

	s, _ = NewRawS16LE(bytes.NewReader(le16(1, 2, 3)), 16000, 1, 0)
	s.Close()
	if n, err := s.Read(p); n != 0 || err == nil {
		t.Errorf("Read after Close = %d, %v", n, err)
	}
}
