package wyoming

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/internal/syncbuf"
	"github.com/wakewordd/wakewordd/listener"
)

// These tests drive the server with the upstream Python client (../shared/clients), as
// Home Assistant and wyoming-satellite would, and with raw sockets for what no real client
// sends.

const (
	upstreamClient = "../../shared/clients/wyoming-1.7.0"
	python         = "/usr/bin/python3"
	shippedModel   = "../models/kwt.safetensors"
	shippedGate    = "../models/kwt-stream.safetensors"
	kitchen        = "../examples/kitchen.wav" // says "Alexa" at 7.5 s and "Jarvis" at 15.2 s
)

func requireClient(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(upstreamClient, "wyoming", "event.py")); err != nil {
		t.Skip("upstream Wyoming client not found at ../shared/clients/wyoming-1.7.0 (the shared folder beside the repository)")
	}
	if _, err := os.Stat(python); err != nil {
		t.Skip("no /usr/bin/python3 to run the upstream Wyoming client")
	}
}

// shippedSpec is the shipped model behind its gate, as `wakewordd run` runs it.
func shippedSpec(t *testing.T) *listener.Spec {
	t.Helper()
	if _, err := os.Stat(shippedModel); err != nil {
		t.Skip("no trained model at models/kwt.safetensors")
	}
	c := config.Default()
	c.Model.Path, c.Model.Gate = shippedModel, shippedGate
	spec, err := listener.Load(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// logBuf collects a server's log.
type logBuf struct{ syncbuf.Buffer }

// waitLog waits until the log holds want.
func (l *logBuf) waitLog(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if strings.Contains(l.String(), want) {
			return
		}
	}
	t.Fatalf("log never said %q:\n%s", want, l.String())
}

// startServer serves cfg (Spec defaulting to the shipped model) on a free loopback port
// and returns its tcp:// URI.
func startServer(t *testing.T, cfg Config) (*Server, string, *logBuf) {
	t.Helper()
	if cfg.Spec == nil {
		cfg.Spec = shippedSpec(t)
	}
	lb := &logBuf{}
	cfg.Logger = slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Serve(ln, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, "tcp://" + ln.Addr().String(), lb
}

type clientEvent struct {
	Cycle  int            `json:"cycle"`
	Type   string         `json:"type"`
	Data   map[string]any `json:"data"`
	Models []string       `json:"models"`
}

// pyClient runs testdata/client.py and returns the events it received.
func pyClient(t *testing.T, uri string, args ...string) []clientEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, append([]string{"testdata/client.py", uri}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+upstreamClient)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("client %v: %v\n%s", args, err, stderr.String())
	}
	var evs []clientEvent
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var e clientEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("client printed %q: %v", line, err)
		}
		evs = append(evs, e)
	}
	return evs
}

// answers lists what each cycle got back, detections as name@ms, pongs left out.
func answers(evs []clientEvent) map[int][]string {
	out := map[int][]string{}
	for _, e := range evs {
		switch e.Type {
		case "pong":
			out[e.Cycle] = append(out[e.Cycle], []string(nil)...)
		case "detection":
			out[e.Cycle] = append(out[e.Cycle], fmt.Sprintf("%v@%v", e.Data["name"], e.Data["timestamp"]))
		default:
			out[e.Cycle] = append(out[e.Cycle], e.Type)
		}
	}
	return out
}

// expected is what `wakewordd detect` reports for path, as name@ms, keeping only names.
func expected(t *testing.T, spec *listener.Spec, path string, names ...string) []string {
	t.Helper()
	l, err := spec.New()
	if err != nil {
		t.Fatal(err)
	}
	dets, _, err := l.ScanFile(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range dets {
		if len(names) == 0 || strings.Contains(","+strings.Join(names, ",")+",", ","+d.Keyword+",") {
			out = append(out, fmt.Sprintf("%s@%d", d.Keyword, d.At.Milliseconds()))
		}
	}
	return out
}

func same(a, b []string) bool { return strings.Join(a, " ") == strings.Join(b, " ") }

func TestDescribe(t *testing.T) {
	requireClient(t)
	_, uri, _ := startServer(t, Config{Version: "1.2.3"})
	evs := pyClient(t, uri, "describe")
	if len(evs) != 1 || evs[0].Type != "info" {
		t.Fatalf("got %+v", evs)
	}
	if got := strings.Join(evs[0].Models, ","); got != "alexa,computer,jarvis,smart_mirror,snowboy,view_glass" {
		t.Fatalf("models %s", got)
	}
	wake := evs[0].Data["wake"].([]any)[0].(map[string]any)
	if wake["name"] != "wakewordd" || wake["version"] != "1.2.3" || wake["installed"] != true || wake["attribution"].(map[string]any)["name"] != "wakewordd" {
		t.Fatalf("wake program %v", wake)
	}
	m := wake["models"].([]any)[3].(map[string]any)
	if m["name"] != "smart_mirror" || m["description"] != "Smart mirror" || m["phrase"] != "smart mirror" || fmt.Sprint(m["languages"]) != "[en]" {
		t.Fatalf("model %v", m)
	}

	// A keyword switched off in the config is not offered.
	c := config.Default()
	c.Model.Path, c.Model.Gate = shippedModel, shippedGate
	off := false
	c.Detect.Keywords = map[string]config.Rule{"snowboy": {Enabled: &off}}
	spec, err := listener.Load(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, uri, _ = startServer(t, Config{Spec: spec})
	if got := strings.Join(pyClient(t, uri, "describe")[0].Models, ","); got != "alexa,computer,jarvis,smart_mirror,view_glass" {
		t.Fatalf("with snowboy off: models %s", got)
	}
}

// Home Assistant: detect naming one wake word, then a recording that holds two: only the
// named one comes back, at the time `wakewordd detect` reports it.
func TestHomeAssistantFlow(t *testing.T) {
	requireClient(t)
	s, uri, lb := startServer(t, Config{})
	all := expected(t, s.cfg.Spec, kitchen)
	if len(all) != 2 {
		t.Fatalf("detect on the example: %v, want alexa and jarvis", all)
	}
	for _, kw := range []string{"jarvis", "alexa"} {
		got := answers(pyClient(t, uri, "stream", kitchen, "--names", kw))[0]
		if want := expected(t, s.cfg.Spec, kitchen, kw); len(want) != 1 || !same(got, want) {
			t.Errorf("detect %s: got %v, want %v (of %v)", kw, got, want, all)
		}
	}
	if st := s.Stats(); st.Detections != 2 || st.Audio < 37*time.Second {
		t.Errorf("stats %+v", st)
	}
	lb.waitLog(t, `msg="detected over Wyoming"`)
	// As Home Assistant does it: reading while streaming, closing at the detection. The
	// server sees a client that went away, not a failure.
	got := answers(pyClient(t, uri, "stream", kitchen, "--names", "jarvis", "--home-assistant"))[0]
	if !same(got, expected(t, s.cfg.Spec, kitchen, "jarvis")) {
		t.Errorf("Home Assistant's way: got %v", got)
	}
	for deadline := time.Now().Add(5 * time.Second); s.Stats().Clients > 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
	}
	if strings.Contains(lb.String(), "level=WARN") {
		t.Errorf("warnings for clients that did nothing wrong:\n%s", lb.String())
	}
}

// wyoming-satellite keeps one connection: detect, then audio chunks (no audio-start),
// again after each detection. The Wyoming README's flow, with audio-start and audio-stop,
// also runs several cycles on one connection; a cycle without a detection ends in
// not-detected.
func TestSatelliteFlow(t *testing.T) {
	requireClient(t)
	s, uri, lb := startServer(t, Config{})
	want := expected(t, s.cfg.Spec, kitchen)
	got := answers(pyClient(t, uri, "stream", kitchen, "--satellite", "--cycles", "2", "--chunk", "512"))
	if !same(got[0], want) || !same(got[1], want) {
		t.Errorf("satellite: got %v, want %v in each cycle", got, want)
	}
	if n := strings.Count(lb.String(), "audio-chunk without audio-start"); n != 1 {
		t.Errorf("%d log lines about chunks without audio-start, want 1:\n%s", n, lb.String())
	}
	got = answers(pyClient(t, uri, "stream", kitchen, "--cycles", "3", "--chunk", "333"))
	for c := range 3 {
		if !same(got[c], want) {
			t.Errorf("cycle %d: got %v, want %v", c, got[c], want)
		}
	}
	silence := writeWAV(t, 16000, 1, 16, make([]float32, 3*16000))
	got = answers(pyClient(t, uri, "stream", silence, "--cycles", "2"))
	if !same(got[0], []string{"not-detected"}) || !same(got[1], []string{"not-detected"}) {
		t.Errorf("silence: got %v, want not-detected twice", got)
	}
}

func writeWAV(t *testing.T, rate, channels, bits int, samples []float32) string {
	t.Helper()
	var b bytes.Buffer
	if err := audio.WriteWAV(&b, rate, channels, bits, false, samples); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), fmt.Sprintf("%d-%d-%d.wav", rate, channels, bits))
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Any rate, 16- or 32-bit, any channel count; anything else is an error event and the
// connection goes on.
func TestAudioFormats(t *testing.T) {
	requireClient(t)
	s, uri, _ := startServer(t, Config{})
	want := expected(t, s.cfg.Spec, kitchen)
	src, err := audio.OpenFile(kitchen, audio.FileOptions{Channel: audio.MixAll})
	if err != nil {
		t.Fatal(err)
	}
	mono, err := audio.ReadAll(src)
	if err != nil {
		t.Fatal(err)
	}
	// The same samples as 32-bit stereo: converted back to exactly the same mono audio.
	stereo := make([]float32, 2*len(mono))
	for i, v := range mono {
		stereo[2*i], stereo[2*i+1] = v, v
	}
	if got := answers(pyClient(t, uri, "stream", writeWAV(t, 22050, 2, 32, stereo)))[0]; !same(got, want) {
		t.Errorf("32-bit stereo: got %v, want %v", got, want)
	}
	// 48 kHz, three channels: the same keywords within 100 ms (another resampling path).
	r, err := audio.Resample(&sliceSource{x: mono, rate: 22050}, 48000)
	if err != nil {
		t.Fatal(err)
	}
	m48, _ := audio.ReadAll(r)
	three := make([]float32, 3*len(m48))
	for i, v := range m48 {
		three[3*i], three[3*i+1], three[3*i+2] = v, v*0.5, v
	}
	got := answers(pyClient(t, uri, "stream", writeWAV(t, 48000, 3, 16, three)))[0]
	if len(got) != len(want) {
		t.Errorf("48 kHz, 3 channels: got %v, want about %v", got, want)
	}
	for i := range min(len(got), len(want)) {
		var gk, wk string
		var gms, wms int
		fmt.Sscanf(strings.Replace(got[i], "@", " ", 1), "%s %d", &gk, &gms)
		fmt.Sscanf(strings.Replace(want[i], "@", " ", 1), "%s %d", &wk, &wms)
		if gk != wk || gms-wms > 100 || wms-gms > 100 {
			t.Errorf("48 kHz, 3 channels: got %v, want about %v", got, want)
		}
	}
	// 24-bit samples are refused with an error event; the connection goes on (the pong)
	// and the stream's chunks are dropped without another word.
	evs := pyClient(t, uri, "stream", kitchen, "--width", "3", "--cycles", "2")
	got = answers(evs)[0]
	if len(got) != 2 || got[0] != "error" || got[1] != "not-detected" || !strings.Contains(fmt.Sprint(evs[0].Data["text"]), "3-byte samples; want 2 (16-bit) or 4 (32-bit)") {
		t.Errorf("width 3: got %v (%v)", got, evs)
	}
	if c1 := answers(evs)[1]; len(c1) != 2 || c1[0] != "error" {
		t.Errorf("width 3, second cycle: got %v", c1)
	}
	// A name the service does not have.
	evs = pyClient(t, uri, "stream", kitchen, "--names", "ok_nabu,Jarvis")
	got = answers(evs)[0]
	if len(got) != 2 || got[0] != "error" || !strings.Contains(fmt.Sprint(evs[0].Data["text"]), `unknown wake word "ok_nabu": this service has alexa, computer`) || got[1] != strings.Replace(want[1], "jarvis", "Jarvis", 1) {
		t.Errorf("unknown name: got %v (%v)", got, evs)
	}
}

type sliceSource struct {
	x    []float32
	rate int
}

func (s *sliceSource) Read(p []float32) (int, error) {
	if len(s.x) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.x)
	s.x = s.x[n:]
	return n, nil
}
func (s *sliceSource) Rate() int    { return s.rate }
func (s *sliceSource) Close() error { return nil }

// rawConn is a client that sends whatever bytes a test wants.
func rawConn(t *testing.T, uri string) (net.Conn, *Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(uri, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, NewReader(c, DefaultLimits)
}

// expectError reads an error event whose text holds want, then the end of the connection
// when closed is set.
func expectError(t *testing.T, c net.Conn, r *Reader, want string, closed bool) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	e, err := r.Read()
	if err != nil || e.Type != "error" {
		t.Fatalf("%s: got %+v, %v; want an error event", want, e, err)
	}
	var d errorData
	e.Decode(&d)
	if !strings.Contains(d.Text, want) {
		t.Fatalf("error %q, want %q", d.Text, want)
	}
	if closed {
		if e, err := r.Read(); err != io.EOF {
			t.Fatalf("%s: after the error %+v, %v; want the connection closed", want, e, err)
		}
	}
}

// Bad input and misbehaving clients: each gets a log line and at most its own connection
// closed, while a good client streaming at the same time gets every detection.
func TestBadInputDisturbsNoOne(t *testing.T) {
	requireClient(t)
	s, uri, lb := startServer(t, Config{IdleTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond, Limits: Limits{Header: 4096, Data: 4096, Payload: 1 << 20}})
	want := expected(t, s.cfg.Spec, kitchen)
	good := make(chan map[int][]string)
	go func() { good <- answers(pyClient(t, uri, "stream", kitchen, "--cycles", "6", "--chunk", "256")) }()

	c, r := rawConn(t, uri)
	fmt.Fprint(c, "{\"type\": \"describe\"\n")
	expectError(t, c, r, "malformed event: header line is not a JSON object", true)

	c, r = rawConn(t, uri)
	fmt.Fprint(c, `{"type":"audio-chunk","data":{"rate":16000,"width":2,"channels":1},"payload_length":1000000000}`+"\n")
	expectError(t, c, r, "payload_length 1000000000 is beyond the limit of 1048576 bytes", true)

	c, r = rawConn(t, uri)
	fmt.Fprint(c, `{"type":"detect","data_length":99999999}`+"\n")
	expectError(t, c, r, "data_length 99999999 is beyond the limit", true)

	c, r = rawConn(t, uri)
	fmt.Fprint(c, `{"type":"x","data":{"y":"`+strings.Repeat("z", 5000)+`"}}`+"\n")
	expectError(t, c, r, "header line longer than 4096 bytes", true)

	// A chunk without a format, then one before any audio-start (it starts a stream), a
	// ping: the connection goes on.
	c, r = rawConn(t, uri)
	fmt.Fprint(c, `{"type":"audio-chunk","payload_length":2}`+"\n\x00\x00")
	expectError(t, c, r, "audio-chunk: needs rate, width and channels", false)
	Write(c, "audio-stop", nil, nil)
	Write(c, "audio-chunk", Format{16000, 2, 1}, make([]byte, 3200))
	Write(c, "ping", map[string]string{"text": "hi"}, nil)
	for _, typ := range []string{"not-detected", "pong"} {
		if e, err := r.Read(); err != nil || e.Type != typ {
			t.Fatalf("after the bad chunk: %+v, %v; want %s", e, err, typ)
		}
	}

	// Idle: nothing sent.
	c, r = rawConn(t, uri)
	expectError(t, c, r, "no event for 500ms; closing the idle connection", true)

	// Disconnecting in the middle of a chunk.
	c, _ = rawConn(t, uri)
	fmt.Fprint(c, `{"type":"audio-chunk","data":{"rate":16000,"width":2,"channels":1},"payload_length":1000}`+"\n"+strings.Repeat("\x00", 10))
	c.Close()
	lb.waitLog(t, "the client disconnected in the middle of an event")

	// A client that never reads what it asked for.
	c, _ = rawConn(t, uri)
	go func() {
		for range 50000 {
			if Write(c, "describe", nil, nil) != nil {
				return
			}
		}
	}()
	lb.waitLog(t, "writing to the client failed; closing the connection")

	if got := <-good; len(got) != 6 {
		t.Fatalf("good client: %v", got)
	} else {
		for cycle, g := range got {
			if !same(g, want) {
				t.Errorf("good client, cycle %d: %v, want %v", cycle, g, want)
			}
		}
	}
	if evs := pyClient(t, uri, "describe"); len(evs) != 1 || evs[0].Type != "info" {
		t.Fatalf("describe after it all: %v", evs)
	}
}

func TestMaxClients(t *testing.T) {
	s, uri, lb := startServer(t, Config{MaxClients: 2})
	var conns []net.Conn
	for range 2 {
		c, r := rawConn(t, uri)
		Write(c, "ping", nil, nil)
		if e, err := r.Read(); err != nil || e.Type != "pong" {
			t.Fatalf("ping: %+v, %v", e, err)
		}
		conns = append(conns, c)
	}
	c, r := rawConn(t, uri)
	expectError(t, c, r, "too many clients: this wakewordd serves at most 2 at once (wyoming.max_clients)", true)
	lb.waitLog(t, "too many clients; connection refused")
	conns[0].Close()
	for deadline := time.Now().Add(5 * time.Second); s.Stats().Clients != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v after a client left", s.Stats())
		}
	}
	c, r = rawConn(t, uri)
	Write(c, "ping", nil, nil)
	if e, err := r.Read(); err != nil || e.Type != "pong" {
		t.Fatalf("a client after one left: %+v, %v", e, err)
	}
	if st := s.Stats(); st.Rejected != 1 || st.Connections != 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestUnixSocket(t *testing.T) {
	requireClient(t)
	dir, err := os.MkdirTemp("", "wy") // short: socket paths are limited to 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "w.sock")
	// A stale socket file, as a killed daemon leaves it, is replaced.
	old, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	old.(*net.UnixListener).SetUnlinkOnClose(false)
	old.Close()
	s, err := Listen(Config{Listen: "unix://" + sock, Spec: shippedSpec(t), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Addr() != "unix://"+sock {
		t.Fatalf("addr %s", s.Addr())
	}
	if evs := pyClient(t, "unix://"+sock, "describe"); len(evs) != 1 || len(evs[0].Models) != 6 {
		t.Fatalf("describe over the Unix socket: %v", evs)
	}
}

func TestZeroconfDefault(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:10400": false, "[::1]:10400": false, "localhost:10400": false,
		"0.0.0.0:10400": true, ":10400": true, "[::]:10400": true, "192.0.2.7:10400": true, "pi.local:10400": true,
	} {
		if ZeroconfDefault(addr) != want {
			t.Errorf("ZeroconfDefault(%s) = %v", addr, !want)
		}
	}
}

// The advertisement, seen by an mDNS browser (hashicorp/mdns's client). mDNS must never
// leave this machine, so the test runs in a network namespace of its own (unshare -rn)
// whose only interface is lo, with multicast routed there.
func TestZeroconf(t *testing.T) {
	if os.Getenv("WAKEWORDD_TEST_NETNS") == "" {
		if _, err := exec.LookPath("unshare"); err != nil {
			t.Skip("unshare not found: no network namespace to advertise in without reaching the real network")
		}
		script := `ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo && exec "$0" -test.run '^TestZeroconf$' -test.v`
		cmd := exec.Command("unshare", "-rn", "sh", "-c", script, os.Args[0])
		cmd.Env = append(os.Environ(), "WAKEWORDD_TEST_NETNS=1")
		out, err := cmd.CombinedOutput()
		if err != nil && !bytes.Contains(out, []byte("--- FAIL")) {
			t.Skipf("cannot make a network namespace with multicast on lo (unshare -rn, ip): %v\n%s", err, out)
		}
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestZeroconf")) {
			t.Fatalf("in the network namespace: %v\n%s", err, out)
		}
		t.Logf("in a network namespace:\n%s", out)
		return
	}
	spec := shippedSpec(t)
	on := true
	lb := &logBuf{}
	s, err := Listen(Config{Listen: "tcp://127.0.0.1:10400", Zeroconf: &on, Name: "wakewordd-test", Spec: spec,
		Logger: slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	entries := make(chan *mdnsEntry, 16)
	found := browse(t, entries)
	if found.name != "wakewordd-test._wyoming._tcp.local." || found.port != 10400 || found.addr != "127.0.0.1" {
		t.Fatalf("browser found %+v", found)
	}
	t.Logf("browser found %+v; server log:\n%s", found, lb.String())
	// A browser that starts listening first hears the announcement without asking.
	s.Close()
	ann := listenAnnouncements(t)
	s, err = Listen(Config{Listen: "tcp://127.0.0.1:10401", Zeroconf: &on, Name: "wakewordd-again", Spec: spec, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	select {
	case name := <-ann:
		if !strings.Contains(name, "wakewordd-again._wyoming._tcp.local.") {
			t.Fatalf("announcement %q", name)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no announcement heard")
	}
}

// listenAnnouncements joins the mDNS group and reports the answers it hears.
func listenAnnouncements(t *testing.T) <-chan string {
	c, err := net.ListenMulticastUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	out := make(chan string, 16)
	go func() {
		buf := make([]byte, 9000)
		for {
			n, _, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if s := answerNames(buf[:n]); s != "" {
				out <- s
			}
		}
	}()
	return out
}
