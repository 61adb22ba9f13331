//go:build cgo

package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The capture tests use real PortAudio over ALSA. An ALSA "file" PCM declared in an
// asoundrc under a temporary HOME plays a raw s16le file as if it were a microphone.
// It is not paced in real time and repeats stale data after the end of the file, so the
// file is padded and only its known prefix is compared.

// alsaFixture writes the raw file and the asoundrc, and points HOME at them. It must run
// before PortAudio is first initialised in this process, because ALSA caches its config.
func alsaFixture(t testing.TB, samples []int16, channels int) {
	t.Helper()
	dir := t.TempDir()
	raw := make([]byte, 2*len(samples))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(raw[2*i:], uint16(s))
	}
	// A second of silence after the data, so stale repeats never reach the compared prefix.
	raw = append(raw, make([]byte, 2*16000*channels)...)
	rawPath := filepath.Join(dir, "in.raw")
	if err := os.WriteFile(rawPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	// The plug fixes what the raw file holds (s16le, 16 kHz, `channels` channels); the
	// file PCM alone would read the file as whatever layout the client asked for.
	rc := fmt.Sprintf(`pcm.wakewordd_test {
	type plug
	slave { pcm "wakewordd_test_raw"; format S16_LE; rate 16000; channels %d }
}
pcm.wakewordd_test_raw {
	type file
	slave.pcm "null"
	file "/dev/null"
	infile %q
	format "raw"
}
`, channels, rawPath)
	if err := os.WriteFile(filepath.Join(dir, ".asoundrc"), []byte(rc), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", dir)
}

func requireALSA(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/share/alsa/alsa.conf"); err != nil {
		t.Skip("ALSA configuration not installed (run scripts/setup.sh test)")
	}
}

// The ALSA plug only converts reliably when the client opens as many channels as the
// file holds, so each case opens the layout its file has: mono for a chosen channel of a
// mono file, stereo for mixing or picking from a stereo file.
func TestCaptureFromVirtualALSADeviceIsBitExact(t *testing.T) {
	requireALSA(t)
	cases := []struct {
		name     string
		channels int // in the file
		channel  int // requested
	}{
		{"mono", 1, 0},
		{"stereo mixed down", 2, MixAll},
		{"stereo right channel", 2, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.channels)))
			const n = 16000 // 1 s
			file := make([]int16, n*tc.channels)
			for i := range file {
				// A tone plus noise over the whole int16 range, both extremes included.
				v := 20000*math.Sin(2*math.Pi*440*float64(i/tc.channels)/16000) + 8000*rng.NormFloat64()
				file[i] = int16(max(-32768, min(32767, v)))
			}
			file[10], file[11] = -32768, 32767
			want := make([]float32, n)
			for i := range want {
				switch tc.channel {
				case MixAll:
					want[i] = float32(int32(file[2*i])+int32(file[2*i+1])) / 65536
				default:
					want[i] = float32(file[i*tc.channels+tc.channel]) / 32768
				}
			}
			alsaFixture(t, file, tc.channels)

			devs, err := Devices()
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, d := range devs {
				found = found || d.Name == "wakewordd_test"
			}
			if !found {
				t.Fatalf("virtual device not listed among %d input devices: %+v", len(devs), devs)
			}

			c, err := OpenCapture(CaptureOptions{Device: "wakewordd_test", Channel: tc.channel, Buffer: time.Second, Lossless: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Rate() != TargetRate {
				t.Fatalf("opened at %d Hz, want %d", c.Rate(), TargetRate)
			}
			got := make([]float32, n)
			if _, err := ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("sample %d: captured %v, file gives %v", i, got[i], want[i])
				}
			}
			if s := c.Stats(); s.Overruns != 0 {
				t.Fatalf("lossless capture dropped %d samples", s.Overruns)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			if _, err := c.Read(got); err == nil {
				t.Fatal("Read after Close succeeded")
			}
		})
	}
}

func TestCaptureErrors(t *testing.T) {
	requireALSA(t)
	alsaFixture(t, make([]int16, 160), 1)
	cases := []struct {
		opt  CaptureOptions
		want string
	}{
		{CaptureOptions{Device: "no-such-microphone", Buffer: time.Second}, `no input device name contains "no-such-microphone"`},
		{CaptureOptions{Device: "99999", Buffer: time.Second}, "no device with index 99999"},
		{CaptureOptions{Device: "wakewordd_test", Channel: 200, Buffer: time.Second}, "channel 200 requested"},
		{CaptureOptions{Device: "wakewordd_test", Channel: 40, Buffer: time.Second}, "channel 40 is beyond the 32 channels"},
	}
	for _, tc := range cases {
		c, err := OpenCapture(tc.opt)
		if err == nil {
			c.Close()
			t.Errorf("%+v: opened", tc.opt)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: error %q, want one line containing %q", tc.opt, err, tc.want)
		}
		if strings.HasPrefix(tc.want, "no ") && !errors.Is(err, ErrNoDevice) {
			t.Errorf("%+v: error %v does not wrap ErrNoDevice", tc.opt, err)
		}
	}
}

// jackServer is a JACK server with a dummy backend at 16 kHz, run by a test.
type jackServer struct {
	dir   string
	start func(name string, args ...string) *exec.Cmd // runs a tool, logging to the server's log
	log   func() string
	run   func() // (re)starts jackd and waits until it is up
	jackd *exec.Cmd
}

func startJACK(t *testing.T) *jackServer {
	if testing.Short() {
		t.Skip("real-time JACK capture takes seconds")
	}
	for _, tool := range []string{"jackd", "jack_wait", "jack_lsp", "jack_connect", "jack-play"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (run scripts/setup.sh test)", tool)
		}
	}
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("JACK_DEFAULT_SERVER", "wakewordd-test")
	t.Setenv("JACK_NO_START_SERVER", "1")
	t.Setenv("JACK_NO_AUDIO_RESERVATION", "1")
	logf, err := os.Create(filepath.Join(dir, "jack.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	j := &jackServer{dir: dir}
	j.log = func() string { b, _ := os.ReadFile(logf.Name()); return strings.TrimSpace(string(b)) }
	j.start = func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(name, args...)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	j.run = func() {
		j.jackd = j.start("jackd", "--no-realtime", "-n", "wakewordd-test", "-d", "dummy", "-r", "16000", "-p", "320")
		if out, err := exec.Command("jack_wait", "-w", "-t", "10").CombinedOutput(); err != nil {
			t.Fatalf("jackd did not come up: %v %s\n%s", err, out, j.log())
		}
	}
	j.run()
	return j
}

// jackInput is the PortAudio index of the JACK input device.
func jackInput(t *testing.T, j *jackServer) string {
	devs, err := Devices()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if strings.Contains(d.HostAPI, "JACK") {
			return strconv.Itoa(d.Index)
		}
	}
	t.Fatalf("PortAudio lists no JACK input among %+v\n%s", devs, j.log())
	return ""
}

// TestCaptureJACKRealtime captures through a JACK server with a dummy backend, which runs
// in real time like a sound card. jack-play feeds a 1 kHz tone into the capture port: the
// tone must arrive, the stream must be paced, and Close must be prompt.
func TestCaptureJACKRealtime(t *testing.T) {
	j := startJACK(t)
	dir, start, jackLog := j.dir, j.start, j.log

	sel := jackInput(t, j)
	c, err := OpenCapture(CaptureOptions{Device: sel, Channel: 0, Buffer: 4 * time.Second})
	if err != nil {
		t.Fatalf("opening the JACK device: %v\n%s", err, jackLog())
	}
	defer c.Close()
	if c.Rate() != 16000 {
		t.Fatalf("rate %d, want 16000 from the JACK server", c.Rate())
	}

	// Three seconds of a 1 kHz tone at amplitude 0.5, played into our first input port.
	tone := make([]float32, 3*16000)
	for i := range tone {
		tone[i] = float32(0.5 * math.Sin(2*math.Pi*1000*float64(i)/16000))
	}
	wav, err := os.Create(filepath.Join(dir, "tone.wav"))
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteWAV(wav, 16000, 1, 16, false, tone); err != nil {
		t.Fatal(err)
	}
	wav.Close()
	start("jack-play", wav.Name())
	connected := false
	for try := 0; try < 50 && !connected; try++ {
		out, _ := exec.Command("jack_lsp").Output()
		var from, to string
		for _, port := range strings.Fields(string(out)) {
			switch {
			case strings.HasPrefix(port, "jack-play") && from == "":
				from = port
			case strings.HasPrefix(port, "PortAudio") && strings.Contains(port, "in") && to == "":
				to = port
			}
		}
		connected = from != "" && to != "" && exec.Command("jack_connect", from, to).Run() == nil
		if !connected {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !connected {
		t.Fatalf("could not connect jack-play to the capture port\n%s", jackLog())
	}

	buf := make([]float32, 16000)
	t0 := time.Now()
	if _, err := ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	// From connecting, a second of audio cannot arrive much faster than a second from a
	// paced device (the ring may hold what came before): a lower bound only.
	if el := time.Since(t0); el < 300*time.Millisecond {
		t.Fatalf("1 s of audio arrived in %v: the stream is not paced", el)
	}
	// The newest 100 ms must be the tone: RMS 0.5/sqrt(2), nearly all of it at 1 kHz.
	last := buf[len(buf)-1600:]
	var energy, re, im float64
	for i, v := range last {
		energy += float64(v) * float64(v)
		re += float64(v) * math.Cos(2*math.Pi*1000*float64(i)/16000)
		im += float64(v) * math.Sin(2*math.Pi*1000*float64(i)/16000)
	}
	rms := math.Sqrt(energy / float64(len(last)))
	amp := 2 * math.Hypot(re, im) / float64(len(last))
	if math.Abs(rms-0.5/math.Sqrt2) > 0.02 || math.Abs(amp-0.5) > 0.02 {
		t.Fatalf("captured RMS %.3f, 1 kHz amplitude %.3f; want 0.354 and 0.5", rms, amp)
	}
	t1 := time.Now()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t1); el > 5*time.Second { // a hang, not a speed target
		t.Errorf("Close took %v", el)
	}
}

// TestCaptureNoticesJACKServerDeath kills the JACK server under a live capture, the way
// unplugging a USB microphone takes a device away. The capture must notice (JACK reports
// nothing: the stall timeout does), and must not hang: PortAudio's JACK host blocks for
// good releasing a stream whose server is gone, so Close gives up after a bound and further
// opens fail with ErrAudioWedged, which makes the daemon exit for its service manager to
// restart it. (A lost ALSA device is released normally and reopened in-process; the
// reopening itself is tested in reopen_test.go.)
//
// A wedged PortAudio stays wedged for the process, so the test runs in a child process.
func TestCaptureNoticesJACKServerDeath(t *testing.T) {
	if os.Getenv("WAKEWORDD_TEST_CHILD") == "" {
		if testing.Short() {
			t.Skip("real-time JACK capture takes seconds")
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestCaptureNoticesJACKServerDeath$", "-test.v")
		cmd.Env = append(os.Environ(), "WAKEWORDD_TEST_CHILD=1")
		out, err := cmd.CombinedOutput()
		if strings.Contains(string(out), "--- SKIP") {
			t.Skipf("%s", out)
		}
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return
	}
	j := startJACK(t)
	sel := jackInput(t, j)
	opts := CaptureOptions{Device: sel, Channel: 0, Buffer: 2 * time.Second, StallTimeout: 500 * time.Millisecond}
	first, err := OpenCapture(opts)
	if err != nil {
		t.Fatalf("opening the JACK device: %v\n%s", err, j.log())
	}
	var mu sync.Mutex
	var lost []error
	r := NewReopening(first, ReopenOptions{
		Open:       func() (Source, error) { return OpenCapture(opts) },
		MinBackoff: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond,
		OnLost: func(err error) { mu.Lock(); lost = append(lost, err); mu.Unlock() },
	})
	defer r.Close()
	buf := make([]float32, 1600)
	if _, err := ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	j.jackd.Process.Kill()
	j.jackd.Wait()
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := r.Read(buf); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrAudioWedged) {
			t.Fatalf("read after the server died: %v, want ErrAudioWedged", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("reads still block 20 s after the server died\n%s", j.log())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lost) != 1 || !errors.Is(lost[0], ErrDeviceStalled) {
		t.Fatalf("lost reported %v, want one ErrDeviceStalled", lost)
	}
}
