package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/frontend"
	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/npy"
)

// These tests run the real binary, as a user or systemd would.

var (
	binPath string
	// randomModel is a small untrained model: the daemon's plumbing runs, nothing useful is
	// detected. alwaysModel is one whose posterior for "kw2" is 0.9995 whatever it hears.
	// streamModel is a random streaming KWT (context 4).
	randomModel, alwaysModel, streamModel string
)

// tinyArch is small enough that tests run fast on any machine.
var tinyArch = infer.Arch{Dim: 16, Depth: 2, Heads: 2, MLPDim: 32, Frames: 20, Coeffs: 40, NumClasses: 4, NormEps: 1e-6, Norm: "post"}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wakewordd-bin")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "wakewordd")
	if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	randomModel = filepath.Join(dir, "random.safetensors")
	alwaysModel = filepath.Join(dir, "always.safetensors")
	streamModel = filepath.Join(dir, "stream.safetensors")
	for _, path := range []string{randomModel, alwaysModel, streamModel} {
		a := tinyArch
		if path == streamModel {
			a.Context = 4
		}
		mdl, err := infer.Random(a, 7)
		if err != nil {
			panic(err)
		}
		if path == alwaysModel {
			clear(mdl.Weights.HeadW)
			copy(mdl.Weights.HeadB, []float32{0, 0, 9, 0})
		}
		var b bytes.Buffer
		if err := infer.Write(&b, mdl); err != nil {
			panic(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			panic(err)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// wakewordd runs the binary with a clean HOME (so no user ALSA config leaks in) and
// returns stdout, stderr and the exit code.
func wakewordd(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), append([]string{"HOME=" + t.TempDir(), "JACK_NO_START_SERVER=1"}, env...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func wavBytes(t *testing.T, samples []float32) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := audio.WriteWAV(&b, 16000, 1, 16, false, samples); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Each kind of bad input ends in exactly one line on stderr that names the problem, a
// non-zero exit status, and no panic.
func TestBadInputGivesOneClearLine(t *testing.T) {
	good := wavBytes(t, make([]float32, 16000))
	truncated := writeFile(t, "cut.wav", good[:30]) // in the fmt chunk (a cut in the samples reads to the end)
	adpcm := append([]byte(nil), good...)
	binary.LittleEndian.PutUint16(adpcm[20:], 2) // format tag 2 = MS ADPCM
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing device", []string{"run", "--model", randomModel, "--device", "no-such-microphone"}, "no-such-microphone"},
		{"truncated file", []string{"run", "--model", randomModel, "--input", truncated}, "truncated"},
		{"unsupported wav format", []string{"run", "--model", randomModel, "--input", writeFile(t, "adpcm.wav", adpcm)}, "ADPCM"},
		{"not audio", []string{"run", "--model", randomModel, "--input", writeFile(t, "notes.txt", []byte("hello, this is text"))}, "unsupported audio file format"},
		{"missing file", []string{"run", "--model", randomModel, "--input", "/nonexistent/x.wav"}, "/nonexistent/x.wav"},
		{"missing model", []string{"run", "--model", "/nonexistent/m.safetensors"}, "/nonexistent/m.safetensors"},
		{"corrupt model", []string{"detect", "--model", writeFile(t, "m.safetensors", []byte("\x10\x00\x00\x00\x00\x00\x00\x00{}")), truncated}, "m.safetensors"},
		{"keyword the model lacks", []string{"detect", "--model", randomModel, "--config", writeFile(t, "k.yaml", []byte("detect:\n  keywords:\n    alexa:\n      threshold: 0.7\n")), truncated}, "k.yaml:3: detect.keywords.alexa: not a keyword"},
		{"detect a bad file", []string{"detect", "--model", randomModel, truncated}, "truncated"},
		{"eval a missing folder", []string{"eval", "--model", randomModel, "/nonexistent/dir"}, "/nonexistent/dir"},
		{"bad config value", []string{"run", "--config", writeFile(t, "c.yaml", []byte("audio:\n  channel: -5\n"))}, "c.yaml:2: audio.channel: must be"},
		{"unknown config key", []string{"run", "--config", writeFile(t, "c.yaml", []byte("log:\n  levle: debug\n"))}, `log.levle: unknown key "levle"`},
		{"bad --mlp", []string{"detect", "--model", randomModel, "--mlp", "int4", truncated}, `model.mlp: must be float32 or int8, got "int4"`},
		{"bad flag value", []string{"run", "--channel", "x"}, `config flag --channel: audio.channel: cannot parse "x"`},
		{"missing config", []string{"run", "--config", "/nonexistent/c.yaml"}, "/nonexistent/c.yaml"},
		{"features of a bad file", []string{"features", "-o", filepath.Join(t.TempDir(), "x.npy"), truncated}, "truncated"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := wakewordd(t, nil, tc.args...)
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "wakewordd: ") ||
				!strings.Contains(lines[0], tc.want) || strings.Contains(stderr, "panic") {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit 1 and one line containing %q", code, stderr, tc.want)
			}
		})
	}
}

// Issue 18: a password in the broker URL is refused with one line naming mqtt.broker, and
// never printed, whether it came from a flag or the config file.
func TestBrokerPasswordRefusedAndNeverShown(t *testing.T) {
	const url = "tcp://alice:S3cretPW@127.0.0.1:1"
	input := writeFile(t, "a.wav", wavBytes(t, make([]float32, 16000)))
	cfg := writeFile(t, "c.yaml", []byte("mqtt:\n  broker: "+url+"\n"))
	for _, args := range [][]string{
		{"run", "--model", randomModel, "--input", input, "--mqtt-broker", url},
		{"run", "--model", randomModel, "--input", input, "--config", cfg, "--log-level", "debug"},
		{"uninstall", "--mqtt-broker", url, "--timeout", "1s"},
	} {
		stdout, stderr, code := wakewordd(t, nil, args...)
		lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
		if code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "mqtt.broker: must not hold a user name or password") ||
			strings.Contains(stdout+stderr, "S3cret") {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s", args, code, stdout, stderr)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	_, stderr, code := wakewordd(t, nil, "frobnicate")
	if code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) || !strings.Contains(stderr, "devices") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = wakewordd(t, nil, "run", "--no-such-flag")
	if code != 2 || !strings.Contains(stderr, "no-such-flag") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		stdout, stderr, code := wakewordd(t, nil, args...)
		if code != 0 || !strings.HasPrefix(stdout, "wakewordd ") || strings.Count(stdout, "\n") != 1 || stderr != "" {
			t.Fatalf("%v: exit %d, %q, stderr %q", args, code, stdout, stderr)
		}
	}
	// --help lists the commands, not only run's flags; help COMMAND gives its flags.
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		stdout, _, code := wakewordd(t, nil, args...)
		if code != 0 || !strings.Contains(stdout, "commands:") || !strings.Contains(stdout, "  detect ") || !strings.Contains(stdout, "'wakewordd run [flags]'") {
			t.Fatalf("%v: exit %d, %q", args, code, stdout)
		}
	}
	_, stderr, code = wakewordd(t, nil, "help", "detect")
	if code != 0 || !strings.Contains(stderr, "usage: wakewordd detect") || !strings.Contains(stderr, "-json") {
		t.Fatalf("help detect: exit %d, %q", code, stderr)
	}
	_, stderr, code = wakewordd(t, nil, "run", "--device", "hw:0", "--input", "../../examples/kitchen.wav")
	if code != 1 || !strings.Contains(stderr, "--device and --input exclude each other") {
		t.Fatalf("--device with --input: exit %d, %q", code, stderr)
	}
}

// A file input runs through the whole pipeline and the summary counts every frame.
func TestRunProcessesAFile(t *testing.T) {
	t.Run("flag", func(t *testing.T) {
		testRunProcessesAFile(t, "run", "--model", randomModel, "--input", "../../examples/kitchen.wav", "--log-format", "json")
	})
	t.Run("config", func(t *testing.T) { // the config file can name the input too
		cfg := filepath.Join(t.TempDir(), "c.yaml")
		os.WriteFile(cfg, []byte("audio:\n  input: ../../examples/kitchen.wav\nlog:\n  format: json\n"), 0o644)
		testRunProcessesAFile(t, "run", "--model", randomModel, "--config", cfg)
	})
}

func testRunProcessesAFile(t *testing.T, args ...string) {
	_, stderr, code := wakewordd(t, nil, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// Every frame of the file, resampled from 22.05 kHz to 16 kHz.
	samples, err := audio.DecodeFile("../../examples/kitchen.wav")
	if err != nil {
		t.Fatal(err)
	}
	want := frontend.DefaultParams().FrameCount(len(samples))
	var got float64
	for _, line := range strings.Split(stderr, "\n") {
		if strings.Contains(line, `"msg":"wakewordd started"`) && !strings.Contains(line, `"mlp":"float32"`) {
			t.Errorf("the random model's MLPs run in float32; the start-up line says:\n%s", line)
		}
		if strings.Contains(line, `"msg":"wakewordd stopped"`) {
			var v struct{ Frames float64 }
			jsonField(t, line, &v)
			got = v.Frames
		}
	}
	if got != float64(want) {
		t.Fatalf("processed %v frames, want %d; log:\n%s", got, want, stderr)
	}
}

func TestDevicesListsTheVirtualDevice(t *testing.T) {
	if _, err := os.Stat("/usr/share/alsa/alsa.conf"); err != nil {
		t.Skip("ALSA configuration not installed")
	}
	home := t.TempDir()
	rc := "pcm.wakewordd_demo_mic {\n type file\n slave.pcm \"null\"\n file \"/dev/null\"\n infile \"/dev/zero\"\n format \"raw\"\n}\n"
	if err := os.WriteFile(filepath.Join(home, ".asoundrc"), []byte(rc), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath, "devices")
	cmd.Env = append(os.Environ(), "HOME="+home)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "wakewordd_demo_mic") || !strings.Contains(string(out), "INDEX") {
		t.Fatalf("devices: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "ALSA lib") {
		t.Fatalf("host library chatter leaked to the output:\n%s", out)
	}
}

// SIGTERM stops a live run cleanly, and systemd hears READY, STATUS, WATCHDOG and STOPPING.
func TestSIGTERMAndSystemdNotify(t *testing.T) {
	dir, err := os.MkdirTemp("", "wwn") // short: unix socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()

	cmd := exec.Command(binPath, "run", "--model", randomModel, "--input", "../../examples/kitchen.wav", "--realtime", "--stats-interval", "300ms")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000", "HOME="+t.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stderr)
	var log strings.Builder
	seen := map[string]bool{}
	deadline := time.After(20 * time.Second)
	for !(seen["READY=1"] && seen["WATCHDOG=1"] && seen["STATUS"]) {
		select {
		case m := <-msgs:
			if strings.HasPrefix(m, "STATUS=") {
				m = "STATUS"
			}
			seen[m] = true
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("notifications seen %v", seen)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
		log.WriteString(lines.Text() + "\n")
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, log.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("did not exit within 10 s of SIGTERM")
	}
	if !strings.Contains(log.String(), "wakewordd stopped") {
		t.Fatalf("no clean-stop log line:\n%s", log.String())
	}
	for m := range drain(msgs) {
		seen[m] = true
	}
	if !seen["STOPPING=1"] {
		t.Fatalf("no STOPPING=1; saw %v", seen)
	}
}

func drain(c chan string) map[string]bool {
	out := map[string]bool{}
	for {
		select {
		case m := <-c:
			out[m] = true
		case <-time.After(200 * time.Millisecond):
			return out
		}
	}
}

func jsonField(t *testing.T, line string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(line), v); err != nil {
		t.Fatalf("log line %q: %v", line, err)
	}
}

// features writes exactly the frames the frontend computes from the decoded, resampled
// audio: training sees what the daemon sees.
// Without -o or --outdir, features writes into the current directory, never beside the
// input (which may be a read-only or version-controlled folder), and says where.
func TestFeaturesDefaultOutput(t *testing.T) {
	in, err := filepath.Abs("../../examples/kitchen.wav")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(binPath, "features", in)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "kitchen.npy")); err != nil || !strings.Contains(string(out), "-> kitchen.npy") {
		t.Fatalf("stdout %q, %v", out, err)
	}
	if _, err := os.Stat(strings.TrimSuffix(in, ".wav") + ".npy"); err == nil {
		t.Fatal("features wrote beside the input")
	}
}

func TestFeaturesMatchTheFrontend(t *testing.T) {
	in := "../../examples/kitchen.wav"
	out := filepath.Join(t.TempDir(), "k.npy")
	stdout, stderr, code := wakewordd(t, nil, "features", "-o", out, in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "frames x 40") {
		t.Fatalf("stdout %q", stdout)
	}
	got, shape, err := npy.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}

	samples, err := audio.DecodeFile(in)
	if err != nil {
		t.Fatal(err)
	}
	frames, err := frontend.Compute(samples, frontend.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	if len(shape) != 2 || shape[0] != len(frames) || shape[1] != 40 {
		t.Fatalf(".npy shape %v, want [%d 40]", shape, len(frames))
	}
	for i, f := range frames {
		for j, v := range f {
			if g := got[40*i+j]; g != float64(v) {
				t.Fatalf("frame %d coeff %d: .npy has %v, frontend gives %v", i, j, g, v)
			}
		}
	}
}

// detect reports what the detector decides, at the times the engine computes: with a
// model certain of kw2, smoothing 3 fires on the second inference (0.32 s: frame 29 ends
// at (29*160+480)/16000 s) and then every 2 s refractory period.
func TestDetectJSON(t *testing.T) {
	silence := writeFile(t, "quiet.wav", wavBytes(t, make([]float32, 5*16000)))
	stdout, stderr, code := wakewordd(t, nil, "detect", "--json", "--model", alwaysModel, silence)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var times []float64
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var d struct {
			File    string  `json:"file"`
			Keyword string  `json:"keyword"`
			TimeS   float64 `json:"time_s"`
			Score   float64 `json:"score"`
		}
		jsonField(t, line, &d)
		if d.File != silence || d.Keyword != "kw2" || d.Score < 0.66 || d.Score > 1 {
			t.Fatalf("line %q", line)
		}
		times = append(times, d.TimeS)
	}
	if want := []float64{0.32, 2.32, 4.32}; fmt.Sprint(times) != fmt.Sprint(want) {
		t.Fatalf("detections at %v s, want %v", times, want)
	}
	// A threshold no smoothed score reaches silences it; the flag overrides the model.
	stdout, _, code = wakewordd(t, nil, "detect", "--model", alwaysModel, "--threshold", "1", silence)
	if code != 0 || stdout != "" {
		t.Fatalf("threshold 1: exit %d, %q", code, stdout)
	}
}

func TestEvalClipsAndStream(t *testing.T) {
	dir := t.TempDir()
	for _, class := range []string{"kw2", "unknown"} {
		os.MkdirAll(filepath.Join(dir, class), 0o755)
		os.WriteFile(filepath.Join(dir, class, "a.wav"), wavBytes(t, make([]float32, 16000)), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not a class"), 0o644)
	stdout, stderr, code := wakewordd(t, nil, "eval", "--json", "--model", alwaysModel, dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep struct {
		Clips, Correct int
		Classes        []struct {
			Class    string
			Accuracy float64
		}
	}
	jsonField(t, stdout, &rep)
	// kw2 fires on both: right for the kw2 clip, wrong for the unknown one.
	if rep.Clips != 2 || rep.Correct != 1 || len(rep.Classes) != 2 {
		t.Fatalf("report %s", stdout)
	}

	stream := writeFile(t, "s.wav", wavBytes(t, make([]float32, 5*16000)))
	truth := strings.TrimSuffix(stream, ".wav") + ".csv"
	os.WriteFile(truth, []byte("keyword,start_s,end_s\nkw2,2.0,2.2\nkw3,3,3.5\n"), 0o644)
	stdout, stderr, code = wakewordd(t, nil, "eval", "--model", alwaysModel, "--stream", stream)
	// Detections at 0.32 (false), 2.32 (kw2 hit), 4.32 (false); kw3 missed.
	if code != 0 || !strings.Contains(stdout, "2 keywords: 1 detected, 1 missed (miss rate 50.00%), 2 false alarms") {
		t.Fatalf("exit %d, %s %s", code, stdout, stderr)
	}
}
