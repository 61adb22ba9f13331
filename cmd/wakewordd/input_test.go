package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wakewordd/wakewordd/audio"
)

// Tests of the inputs the daemon reads: rates, FIFOs, WAVs from pipes, streamed .npy
// output and files that break part-way.

// A file or stream declaring a rate below 4 kHz or above 384 kHz is one clear line and
// exit 1 for every command, instead of gigabytes of upsampled audio.
func TestRatesOutOfRangeAreRefused(t *testing.T) {
	var b bytes.Buffer
	if err := audio.WriteWAV(&b, 1, 1, 16, false, make([]float32, 2000)); err != nil {
		t.Fatal(err)
	}
	slow := writeFile(t, "slow.wav", b.Bytes())
	const want = "sample rate 1 Hz is out of range: wakewordd reads 4000 to 384000 Hz"
	for _, args := range [][]string{
		{"features", "-o", filepath.Join(t.TempDir(), "x.npy"), slow},
		{"detect", "--model", randomModel, slow},
		{"run", "--model", randomModel, "--input", slow},
	} {
		_, stderr, code := wakewordd(t, nil, args...)
		if code != 1 || !strings.Contains(stderr, slow+": wav: fmt chunk: "+want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q; want one line naming the file with %q", args[0], code, stderr, want)
		}
	}
	_, stderr, code := wakewordd(t, nil, "run", "--model", randomModel, "--input", "-", "--input-rate", "1")
	if code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("raw stdin at 1 Hz: exit %d, stderr %q", code, stderr)
	}
}
