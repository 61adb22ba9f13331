package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mewkiz/flac"
	"github.com/mewkiz/flac/frame"
	"github.com/mewkiz/flac/meta"

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
	// run says so at debug level.
	_, stderr, code := wakewordd(t, nil, "run", "--model", alwaysModel, "--input", path, "--log-level", "debug")
	if code != 0 || !strings.Contains(stderr, "declares more than the file holds") {
		t.Errorf("run on a piped WAV: exit %d, no debug line\n%s", code, stderr)
	}
}

// flacBytes encodes mono 16 kHz 16-bit samples as FLAC, verbatim, in blocks of 4096.
func flacBytes(t *testing.T, samples []float32) []byte {
	t.Helper()
	const block = 4096
	var buf bytes.Buffer
	enc, err := flac.NewEncoder(&buf, &meta.StreamInfo{
		BlockSizeMin: 16, BlockSizeMax: block, SampleRate: 16000, NChannels: 1, BitsPerSample: 16, NSamples: uint64(len(samples)),
	})
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(samples); off += block {
		x := samples[off:min(off+block, len(samples))]
		s := make([]int32, len(x))
		for i, v := range x {
			s[i] = int32(max(-32768, min(32767, math.Round(float64(v)*32768))))
		}
		f := &frame.Frame{Header: frame.Header{HasFixedBlockSize: true, BlockSize: uint16(len(x)), SampleRate: 16000, Channels: frame.ChannelsMono, BitsPerSample: 16},
			Subframes: []*frame.Subframe{{SubHeader: frame.SubHeader{Pred: frame.PredVerbatim}, Samples: s, NSamples: len(s)}}}
		if err := enc.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mkfifo(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	return p
}

// feedFIFO writes data into the FIFO once a reader has opened it, then closes it.
func feedFIFO(t *testing.T, fifo string, data []byte) {
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		w.Write(data)
		w.Close()
	}()
}

// A FIFO as input: WAV (as a pipe writer leaves it) and FLAC are read as streams, with the
// same detections as the file.
func TestFIFOInput(t *testing.T) {
	x := make([]float32, 5*16000)
	want := []string{"0.32 s\tkw2", "2.32 s\tkw2", "4.32 s\tkw2"}
	for name, data := range map[string][]byte{"wav": pipedWAV(t, x, 0x80000000), "flac": flacBytes(t, x)} {
		fifo := mkfifo(t)
		feedFIFO(t, fifo, data)
		stdout, stderr, code := wakewordd(t, nil, "detect", "--model", alwaysModel, fifo)
		for _, w := range want {
			if !strings.Contains(stdout, fifo+"\t"+w) {
				t.Errorf("%s through a FIFO: exit %d, stdout %q, stderr %q; want %q", name, code, stdout, stderr, w)
			}
		}

		fifo = mkfifo(t)
		feedFIFO(t, fifo, data)
		stdout, stderr, code = wakewordd(t, nil, "run", "--model", alwaysModel, "--input", fifo, "--json-events")
		if code != 0 || strings.Count(stdout, `"keyword":"kw2"`) != 3 {
			t.Errorf("run with a %s FIFO: exit %d, stdout %q, stderr %q; want 3 detections", name, code, stdout, stderr)
		}
	}
}

// `run --input FIFO` with no writer used to hang in open(2), deaf to SIGTERM and SIGINT:
// now either signal stops it at once, cleanly.
func TestFIFOWithoutWriterStopsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		fifo := mkfifo(t)
		cmd := exec.Command(binPath, "run", "--model", randomModel, "--input", fifo)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		time.Sleep(time.Second) // the model loads, then it waits for a writer
		select {
		case err := <-waited:
			t.Fatalf("exited before any writer came: %v\n%s", err, stderr.String())
		default:
		}
		cmd.Process.Signal(sig)
		select {
		case err := <-waited:
			if err != nil {
				t.Errorf("%v: %v\n%s", sig, err, stderr.String())
			}
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-waited
			t.Fatalf("still waiting for a writer 5 s after %v", sig)
		}
	}
}

// A FLAC corrupt part-way: detect used to print nothing, although run reported the
// detections made before the corrupt frame. Now detect prints them and then fails, and
// the errors of detect, run and features name the file.
func TestCorruptFLACPartWay(t *testing.T) {
	data := flacBytes(t, make([]float32, 10*16000))
	// The frame at 7 s (of 4096 samples, verbatim: 8 KiB each), in the middle of its samples.
	data[len(data)*7/10] ^= 0x55
	path := writeFile(t, "broken.flac", data)
	const corrupt = ": flac: corrupt frame after "

	stdout, stderr, code := wakewordd(t, nil, "detect", "--model", alwaysModel, path)
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if f := strings.Split(line, "\t"); len(f) == 4 && f[0] == path {
			got = append(got, f[1])
		}
	}
	want := []string{"0.32 s", "2.32 s", "4.32 s", "6.32 s"}
	if code != 1 || strings.Join(got, ",") != strings.Join(want, ",") || !strings.Contains(stderr, path+corrupt) {
		t.Errorf("detect: exit %d, detections at %v, stderr %q; want %v, then exit 1 naming %s", code, got, stderr, want, path)
	}

	stdout, stderr, code = wakewordd(t, nil, "run", "--model", alwaysModel, "--input", path, "--json-events")
	if code != 1 || strings.Count(stdout, `"keyword":"kw2"`) != len(want) || !strings.Contains(stderr, "wakewordd: "+path+corrupt) {
		t.Errorf("run: exit %d, stdout %q, stderr %q; want %d detections, then exit 1 naming %s", code, stdout, stderr, len(want), path)
	}

	out := filepath.Join(t.TempDir(), "x.npy")
	_, stderr, code = wakewordd(t, nil, "features", "-o", out, path)
	if code != 1 || !strings.Contains(stderr, "wakewordd: "+path+corrupt) {
		t.Errorf("features: exit %d, stderr %q; want exit 1 naming %s", code, stderr, path)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("features left a .npy of a broken file")
	}
}
