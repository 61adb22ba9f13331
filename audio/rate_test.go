package audio

import (
	"bytes"
	"strings"
	"testing"
)

// TestRatesOutOfRange: every way audio enters the daemon refuses a rate below 4 kHz or
// above 384 kHz with one clear line, before anything is allocated for it. A WAV that
// declares 1 Hz used to be accepted and upsampled 16000-fold.
func TestRatesOutOfRange(t *testing.T) {
	const want = "out of range: wakewordd reads 4000 to 384000 Hz"
	for _, rate := range []int{1, 3999, 384001, 999_999} {
		check := func(what string, err error) {
			t.Helper()
			if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s at %d Hz: %v; want one line with %q", what, rate, err, want)
			}
		}
		var wav bytes.Buffer
		if err := WriteWAV(&wav, rate, 1, 16, false, make([]float32, 100)); err != nil {
			t.Fatal(err)
		}
		_, err := OpenFile(writeTemp(t, "x.wav", wav.Bytes()), FileOptions{})
		check("WAV", err)
		_, err = OpenFile(writeTemp(t, "x.flac", flacAtRate(t, rate)), FileOptions{})
		check("FLAC", err)
		_, err = NewRawS16LE(bytes.NewReader(nil), rate, 1, 0)
		check("raw", err)
		_, err = Resample16k(&sliceSource{rate: rate})
		check("Resample16k", err)
	}
	for _, rate := range []int{MinRate, 8000, 44100, MaxRate} {
		if err := CheckRate(rate); err != nil {
			t.Errorf("CheckRate(%d): %v", rate, err)
		}
		var wav bytes.Buffer
		WriteWAV(&wav, rate, 1, 16, false, make([]float32, 100))
		if _, err := OpenFile(writeTemp(t, "x.wav", wav.Bytes()), FileOptions{}); err != nil {
			t.Errorf("WAV at %d Hz: %v", rate, err)
		}
	}
}

// flacAtRate is a FLAC file whose STREAMINFO declares rate, whatever the encoder allows.
func flacAtRate(t *testing.T, rate int) []byte {
	b := encodeFLAC(t, 16000, 16, [][]int32{ramp(100, 16, 3)}, 100, 100)
	// "fLaC", the block header, then 10 bytes of block and frame sizes: the 20-bit rate.
	b[18], b[19] = byte(rate>>12), byte(rate>>4)
	b[20] = byte(rate<<4) | b[20]&0x0F
	return b
}
