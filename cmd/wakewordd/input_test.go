package main

import (
	"bytes"
	"encoding/binary"
	"os"
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

// pipedWAV is a WAV as a writer to a pipe leaves it: the RIFF and data sizes are
// placeholders (arecord's 0x80000000 by default), not the real length.
func pipedWAV(t *testing.T, samples []float32, dataSize uint32) []byte {
	b := wavBytes(t, samples)
	binary.LittleEndian.PutUint32(b[4:], dataSize+36)
	binary.LittleEndian.PutUint32(b[40:], dataSize)
	return b
}

// WAVs written to a pipe (arecord ... | head -c N > a.wav) declare far more data than
// they hold; they are read to the end, whatever the size, as the exact file is.
func TestPipedWAVReadsToTheEnd(t *testing.T) {
	x := make([]float32, 5*16000)
	dir := t.TempDir()
	path := filepath.Join(dir, "x.wav")
	os.WriteFile(path, wavBytes(t, x), 0o644)
	exact, _, code := wakewordd(t, nil, "detect", "--model", alwaysModel, path)
	if code != 0 || strings.Count(exact, "\n") != 3 {
		t.Fatalf("exact file: exit %d, %q", code, exact)
	}
	for _, size := range []uint32{0x80000000, 0x7FFFF000, 0xFFFFFFFF, 0xFFFFFFDB, uint32(len(x)*2 + 1)} {
		os.WriteFile(path, pipedWAV(t, x, size), 0o644)
		stdout, stderr, code := wakewordd(t, nil, "detect", "--model", alwaysModel, path)
		if code != 0 || stdout != exact {
			t.Errorf("data size %#x: exit %d, stdout %q, stderr %q; want %q", size, code, stdout, stderr, exact)
		}
	}
}
