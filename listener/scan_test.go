package listener

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mewkiz/flac"
	"github.com/mewkiz/flac/frame"
	"github.com/mewkiz/flac/meta"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/config"
)

// encodeFLAC encodes 16 kHz mono samples as verbatim 16-bit FLAC in blocks of 4096, and
// returns the offset of each frame in the file.
func encodeFLAC(t *testing.T, x []float32) ([]byte, []int) {
	t.Helper()
	const block = 4096
	var buf bytes.Buffer
	enc, err := flac.NewEncoder(&buf, &meta.StreamInfo{
		BlockSizeMin: 16, BlockSizeMax: block, SampleRate: 16000, NChannels: 1, BitsPerSample: 16, NSamples: uint64(len(x)),
	})
	if err != nil {
		t.Fatal(err)
	}
	var offsets []int
	for off := 0; off < len(x); off += block {
		s := make([]int32, min(block, len(x)-off))
		for i := range s {
			s[i] = int32(max(-32768, min(32767, math.Round(float64(x[off+i])*32768))))
		}
		offsets = append(offsets, buf.Len())
		f := &frame.Frame{Header: frame.Header{HasFixedBlockSize: true, BlockSize: uint16(len(s)), SampleRate: 16000, Channels: frame.ChannelsMono, BitsPerSample: 16},
			Subframes: []*frame.Subframe{{SubHeader: frame.SubHeader{Pred: frame.PredVerbatim}, Samples: s, NSamples: len(s)}}}
		if err := enc.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), offsets
}

// A file that breaks part-way still yields what was detected before the break: the example
// says "Alexa" at 7.5 s and "Jarvis" at 15.2 s; with a corrupt frame at 12 s, ScanFile
// returns the alexa with the error, which names the file.
func TestScanFileBrokenPartWay(t *testing.T) {
	c := config.Default()
	c.Model.Path = shippedModel
	c.Model.Gate = shippedGate
	s, err := Load(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.New()
	if err != nil {
		t.Fatal(err)
	}
	x, err := audio.DecodeFile(example)
	if err != nil {
		t.Fatal(err)
	}
	data, offsets := encodeFLAC(t, x)
	whole := filepath.Join(t.TempDir(), "kitchen.flac")
	os.WriteFile(whole, data, 0o644)
	all, _, err := l.ScanFile(context.Background(), whole, 0)
	if err != nil || len(all) != 2 || all[0].Keyword != "alexa" || all[1].Keyword != "jarvis" {
		t.Fatalf("the whole file: %+v, %v; want alexa, then jarvis", all, err)
	}

	frame := 12 * 16000 / 4096 // the frame at 12 s
	data[offsets[frame]+100] ^= 0x55
	broken := filepath.Join(t.TempDir(), "broken.flac")
	os.WriteFile(broken, data, 0o644)
	for _, pad := range []time.Duration{0, time.Second} {
		dets, length, err := l.ScanFile(context.Background(), broken, pad)
		if err == nil || !strings.HasPrefix(err.Error(), broken+": flac: corrupt frame after") {
			t.Errorf("pad %v: error %v; want a corrupt frame in %s", pad, err, broken)
		}
		// The same detection; its score may differ in the last digits, as the gate's delta
		// pass (whose logits are blended in) carries the padding in its history.
		if len(dets) != 1 || dets[0].Keyword != all[0].Keyword || dets[0].At != all[0].At || math.Abs(dets[0].Score-all[0].Score) > 1e-3 {
			t.Errorf("pad %v: detections %+v; want the alexa %+v", pad, dets, all[0])
		}
		if want := time.Duration(frame*4096) * time.Second / 16000; length != want {
			t.Errorf("pad %v: length %v; want %v, up to the corrupt frame", pad, length, want)
		}
	}
}
