package audio

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mewkiz/flac"
	"github.com/mewkiz/flac/frame"
	"github.com/mewkiz/flac/meta"
)

// encodeFLAC encodes per-channel samples with mewkiz/flac in blocks of block samples.
// declared is the STREAMINFO sample count (the encoder cannot seek back to fill it in).
func encodeFLAC(t testing.TB, rate, bits int, chans [][]int32, block int, declared uint64) []byte {
	t.Helper()
	info := &meta.StreamInfo{
		BlockSizeMin:  16,
		BlockSizeMax:  uint16(block),
		SampleRate:    uint32(rate),
		NChannels:     uint8(len(chans)),
		BitsPerSample: uint8(bits),
		NSamples:      declared,
	}
	var buf bytes.Buffer
	enc, err := flac.NewEncoder(&buf, info)
	if err != nil {
		t.Fatal(err)
	}
	n := len(chans[0])
	for off := 0; off < n; off += block {
		bs := min(block, n-off)
		f := &frame.Frame{Header: frame.Header{
			HasFixedBlockSize: true,
			BlockSize:         uint16(bs),
			SampleRate:        uint32(rate),
			Channels:          frame.Channels(len(chans) - 1), // mono, LR, LRC, ...
			BitsPerSample:     uint8(bits),
		}}
		for _, c := range chans {
			f.Subframes = append(f.Subframes, &frame.Subframe{
				SubHeader: frame.SubHeader{Pred: frame.PredVerbatim},
				Samples:   slices.Clone(c[off : off+bs]),
				NSamples:  bs,
			})
		}
		if err := enc.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ramp returns n samples stepping through the signed range of the given width.
func ramp(n, bits int, step int64) []int32 {
	x := make([]int32, n)
	lo, span := -(int64(1) << (bits - 1)), int64(1)<<bits
	for i := range x {
		x[i] = int32(lo + (int64(i)*step)%span)
	}
	return x
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readFile opens path and reads it to the end in reads of chunk samples.
func readFile(t testing.TB, path string, opt FileOptions, chunk int) (int, []float32, error) {
	t.Helper()
	s, err := OpenFile(path, opt)
	if err != nil {
		return 0, nil, err
	}
	defer s.Close()
	var out []float32
	buf := make([]float32, chunk)
	for {
		n, err := s.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return s.Rate(), out, nil
		}
		if err != nil {
			return s.Rate(), out, err
		}
		if n == 0 {
			t.Fatal("Read returned 0 samples and no error")
		}
	}
}

func TestOpenFileFLAC(t *testing.T) {
	const n = 10000
	for _, tc := range []struct {
		rate, bits, channels, block int
	}{
		{44100, 16, 2, 4096}, {16000, 16, 1, 1152}, {48000, 24, 2, 4608}, {8000, 8, 1, 576}, {22050, 16, 3, 16},
	} {
		chans := make([][]int32, tc.channels)
		for c := range chans {
			chans[c] = ramp(n, tc.bits, int64(97+31*c))
		}
		path := writeTemp(t, "x.flac", encodeFLAC(t, tc.rate, tc.bits, chans, tc.block, n))
		scale := float32(1) / float32(int64(1)<<(tc.bits-1))
		for _, channel := range append([]int{MixAll}, seqInts(tc.channels)...) {
			rate, got, err := readFile(t, path, FileOptions{Channel: channel}, 1000)
			if err != nil {
				t.Fatalf("%+v channel %d: %v", tc, channel, err)
			}
			if rate != tc.rate || len(got) != n {
				t.Fatalf("%+v channel %d: %d samples at %d Hz; want %d at %d", tc, channel, len(got), rate, n, tc.rate)
			}
			for i, v := range got {
				var want float32
				if channel == MixAll {
					var sum float32
					for c := range chans {
						sum += float32(chans[c][i]) * scale
					}
					want = sum / float32(tc.channels)
				} else {
					want = float32(chans[channel][i]) * scale
				}
				if d := v - want; d > 1e-6 || d < -1e-6 {
					t.Fatalf("%+v channel %d: sample %d = %v; want %v", tc, channel, i, v, want)
				}
			}
		}
	}
}

func seqInts(n int) []int {
	x := make([]int, n)
	for i := range x {
		x[i] = i
	}
	return x
}

func TestOpenFileFLACBroken(t *testing.T) {
	const n = 5000
	good := encodeFLAC(t, 16000, 16, [][]int32{ramp(n, 16, 101)}, 1024, n)

	corrupt := slices.Clone(good)
	corrupt[len(corrupt)-1500] ^= 0x55

	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"cut mid-frame", good[:len(good)-700], "flac: truncated frame after 4096 samples"},
		{"cut in the metadata", good[:30], "flac: reading metadata"},
		{"STREAMINFO promises more", encodeFLAC(t, 16000, 16, [][]int32{ramp(n, 16, 101)}, 1024, n+1000),
			"flac: truncated: STREAMINFO declares 6000 samples, the file has 5000"},
		{"flipped byte", corrupt, "flac: corrupt frame after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got, err := readFile(t, writeTemp(t, "x.flac", tc.file), FileOptions{}, 999)
			if err == nil {
				t.Fatalf("no error after %d samples; want %q", len(got), tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q; want %q", err, tc.want)
			}
		})
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestFLACStreams checks that decoding starts without reading the whole file.
func TestFLACStreams(t *testing.T) {
	const n = 300_000 // 600 kB of verbatim 16-bit samples
	data := encodeFLAC(t, 16000, 16, [][]int32{ramp(n, 16, 7919)}, 4096, n)
	cr := &countingReader{r: bytes.NewReader(data)}
	d, err := newFLACDecoder(cr)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]float32, 100)
	if _, err := d.Read(buf); err != nil {
		t.Fatal(err)
	}
	if cr.n > 64<<10 {
		t.Errorf("read %d of %d bytes to decode the first samples", cr.n, len(data))
	}
}

func TestOpenFileWAV(t *testing.T) {
	// Stereo: left 0.5, right -0.25 in turns with silence.
	x := []float32{0.5, -0.25, 0, 0, -1, 1, 0.75, 0.25}
	var buf bytes.Buffer
	if err := WriteWAV(&buf, 22050, 2, 16, false, x); err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "stereo.flac", buf.Bytes()) // the name lies; the magic decides
	for _, tc := range []struct {
		channel int
		want    []float32
	}{
		{MixAll, []float32{0.125, 0, (-1 + 32767.0/32768) / 2, 0.5}},
		{0, []float32{0.5, 0, -1, 0.75}},
		{1, []float32{-0.25, 0, 32767.0 / 32768, 0.25}},
	} {
		for _, chunk := range []int{1, 3, 100} {
			rate, got, err := readFile(t, path, FileOptions{Channel: tc.channel}, chunk)
			if err != nil {
				t.Fatal(err)
			}
			if rate != 22050 || !slices.Equal(got, tc.want) {
				t.Errorf("channel %d, chunk %d: %v at %d Hz; want %v at 22050", tc.channel, chunk, got, rate, tc.want)
			}
		}
	}
	_, err := OpenFile(path, FileOptions{Channel: 2})
	if err == nil || !strings.Contains(err.Error(), "channel 2 out of range: the stream has 2 channel(s)") {
		t.Errorf("channel 2 of a stereo file: %v", err)
	}
	if _, err := OpenFile(path, FileOptions{Channel: -2}); err == nil {
		t.Error("channel -2 accepted")
	}

	// Errors from the parser name the file.
	bad := writeTemp(t, "adpcm.wav", riffFile(-1, chunk("fmt ", fmtBody(2, 1, 16000, 4, 256)), chunk("data", le16(1))))
	_, err = OpenFile(bad, FileOptions{})
	if err == nil || err.Error() != bad+": wav: unsupported format tag 0x0002 (ADPCM); want PCM or IEEE float" {
		t.Errorf("ADPCM file: %v", err)
	}
	// A data chunk that declares more than the file holds runs to the end of the file.
	trunc := writeTemp(t, "cut.wav", riffFile(-1, chunk("fmt ", fmtBody(1, 1, 16000, 16, 0)), wavChunk{"data", le16(16384, 8192), 320000}))
	if _, got, err := readFile(t, trunc, FileOptions{}, 10); err != nil || !slices.Equal(got, []float32{0.5, 0.25}) {
		t.Errorf("truncated WAV: %v, %v; want [0.5 0.25]", got, err)
	}
}

func TestOpenFileNotAudio(t *testing.T) {
	for name, data := range map[string][]byte{
		"notes.wav":  []byte("just some text, long enough to sniff\n"),
		"empty.flac": nil,
		"short.wav":  []byte("RIFF"),
		"avi.wav":    []byte("RIFF\x04\x00\x00\x00AVI LIST"),
		"mp3.flac":   append([]byte("ID3\x03\x00\x00\x00\x00\x00\x02\x00\x00"), "\xff\xfbrest"...),
	} {
		p := writeTemp(t, name, data)
		_, err := OpenFile(p, FileOptions{})
		if want := "unsupported audio file format (want WAV or FLAC): " + p; err == nil || err.Error() != want {
			t.Errorf("%s: error %v; want %q", name, err, want)
		}
	}
	if _, err := OpenFile(filepath.Join(t.TempDir(), "missing.wav"), FileOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestOpenFileFLACBehindID3(t *testing.T) {
	body := encodeFLAC(t, 16000, 16, [][]int32{ramp(100, 16, 5)}, 64, 100)
	// An ID3v2.3 header declaring 20 bytes of (zero) tag data.
	tagged := append([]byte("ID3\x03\x00\x00\x00\x00\x00\x14"), make([]byte, 20)...)
	_, got, err := readFile(t, writeTemp(t, "tagged.flac", append(tagged, body...)), FileOptions{}, 64)
	if err != nil || len(got) != 100 {
		t.Errorf("ID3-tagged FLAC: %d samples, %v", len(got), err)
	}
}

func TestFileSourceClose(t *testing.T) {
	var buf bytes.Buffer
	WriteWAV(&buf, 16000, 1, 16, false, make([]float32, 100))
	s, err := OpenFile(writeTemp(t, "x.wav", buf.Bytes()), FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Read(make([]float32, 10)); n != 0 || err == nil {
		t.Errorf("Read after Close = %d, %v", n, err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestFileSourceReadNoAlloc(t *testing.T) {
	var buf bytes.Buffer
	WriteWAV(&buf, 48000, 2, 16, false, make([]float32, 2*48000))
	s, err := OpenFile(writeTemp(t, "x.wav", buf.Bytes()), FileOptions{Channel: MixAll})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := make([]float32, 480)
	if a := testing.AllocsPerRun(50, func() { s.Read(p) }); a != 0 {
		t.Errorf("Read of a WAV file allocates %.1f times per call", a)
	}
}

// fakeClock advances only when slept on.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time        { return c.now }
func (c *fakeClock) Sleep(d time.Duration) { c.now = c.now.Add(d) }

func TestRealtimePacing(t *testing.T) {
	const rate, total = 16000, 16000
	var buf bytes.Buffer
	WriteWAV(&buf, rate, 1, 16, false, make([]float32, total))
	path := writeTemp(t, "x.wav", buf.Bytes())

	for _, chunk := range []int{1, 50, 160, 1000, 100000} {
		s, err := OpenFile(path, FileOptions{Realtime: true})
		if err != nil {
			t.Fatal(err)
		}
		clk := &fakeClock{now: time.Unix(1000, 0)}
		s.(*fileSource).pace.clock = clk
		start := clk.now
		got := 0
		p := make([]float32, chunk)
		for {
			n, err := s.Read(p)
			got += n
			// Sample got-1 must have been captured: (got)/rate seconds have passed.
			if el := clk.now.Sub(start); el < time.Duration(got)*time.Second/rate {
				t.Fatalf("chunk %d: %d samples returned after %v", chunk, got, el)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		// And it does not dawdle: the whole second arrives within a period of its time.
		if el := clk.now.Sub(start); got != total || el > time.Second+15*time.Millisecond {
			t.Errorf("chunk %d: %d samples in %v of fake time", chunk, got, el)
		}
		s.Close()
	}
}

func TestRealtimeWallClock(t *testing.T) {
	var buf bytes.Buffer
	WriteWAV(&buf, 8000, 1, 16, false, make([]float32, 4000)) // 0.5 s
	s, err := OpenFile(writeTemp(t, "x.wav", buf.Bytes()), FileOptions{Realtime: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	p := make([]float32, 4000)
	if _, err := ReadFull(s, p); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 450*time.Millisecond {
		t.Errorf("0.5 s of audio read in %v in real time", el)
	}
}

const sharedData = "../../shared/data"

func TestRealFLAC(t *testing.T) {
	dir := filepath.Join(sharedData, "keywords", "alexa")
	files, _ := filepath.Glob(filepath.Join(dir, "*.flac"))
	if len(files) == 0 {
		t.Skipf("no FLAC recordings in %s (the shared data set is not present)", dir)
	}
	slices.Sort(files)
	for _, f := range files[:min(len(files), 20)] {
		rate, got, err := readFile(t, f, FileOptions{Channel: MixAll}, 4096)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if rate != 16000 || len(got) < 16000 || len(got) > 6*16000 {
			t.Errorf("%s: %d samples at %d Hz; want 1 to 6 s at 16000", f, len(got), rate)
		}
		if r := rms(got); r < 1e-4 || r > 0.7 {
			t.Errorf("%s: RMS %.2g does not look like speech", f, r)
		}
	}
}

func TestRealWAV(t *testing.T) {
	dir := filepath.Join(sharedData, "speech", "sc09")
	files, _ := filepath.Glob(filepath.Join(dir, "*.wav"))
	if len(files) == 0 {
		t.Skipf("no WAV recordings in %s (the shared data set is not present)", dir)
	}
	rate, got, err := readFile(t, files[0], FileOptions{}, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if rate != 16000 || len(got) < 8000 || len(got) > 16000 {
		t.Errorf("%s: %d samples at %d Hz; want up to 1 s at 16000", files[0], len(got), rate)
	}
}

// FuzzFLACDecode: a corrupt FLAC stream is an error, never a crash, and what decodes is
// in range.
func FuzzFLACDecode(f *testing.F) {
	f.Add(encodeFLAC(f, 16000, 16, [][]int32{ramp(300, 16, 101)}, 128, 300))
	f.Add(encodeFLAC(f, 44100, 24, [][]int32{ramp(200, 24, 7), ramp(200, 24, 9)}, 64, 200))
	f.Add(encodeFLAC(f, 8000, 8, [][]int32{ramp(100, 8, 3)}, 100, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := newFLACDecoder(bytes.NewReader(data))
		if err != nil {
			return
		}
		buf := make([]float32, 256*d.channels)
		for total := 0; total < 1<<20; {
			n, err := d.Read(buf)
			for _, v := range buf[:n] {
				if !(v >= -1 && v < 1) {
					t.Fatalf("sample %v out of range", v)
				}
			}
			if err != nil {
				return
			}
			total += n
		}
	})
}
