package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/internal/mqtttest"
)

// The service tests run the daemon as a satellite runs it: the real binary and the shipped
// model, a real mosquitto (internal/mqtttest), audio from a file, a pipe, or a virtual
// PortAudio microphone. What should be detected comes from `wakewordd detect --json` on
// the same audio, never from constants, so that a re-tuned model does not break them.
// Without mosquitto they are skipped, except under CI.

const kitchenPath = "../../examples/kitchen.wav"

// kitchen is the example recording in the forms the service tests feed, and what detect
// reports on it.
type kitchen struct {
	model    string    // a private copy of the shipped model, named kwt.safetensors
	name     string    // the model as events name it
	keywords []string  // the model's keywords, sorted
	samples  []float32 // kitchen.wav at 16 kHz mono, quantized to 16 bits
	raw      []byte    // samples as s16le: what --input - reads
	seconds  float64   // duration
	wav16k   string    // raw as a WAV file
	fileDets []detectLine
	rawDets  []detectLine // detect on wav16k: what a stream of raw gives
}

var (
	kitchenOnce sync.Once
	kitchenData *kitchen
	kitchenErr  error
)

// kitchenFixture prepares the kitchen once per test binary. The model is copied first:
// it is replaced now and then, and every test of a run must see the one detect saw.
func kitchenFixture(t *testing.T) *kitchen {
	t.Helper()
	if _, err := os.Stat(shippedModel); err != nil {
		t.Skip("no trained model at models/kwt.safetensors")
	}
	kitchenOnce.Do(func() { kitchenData, kitchenErr = loadKitchen() })
	if kitchenErr != nil {
		t.Fatal(kitchenErr)
	}
	return kitchenData
}

func loadKitchen() (*kitchen, error) {
	dir, err := os.MkdirTemp(filepath.Dir(binPath), "kitchen") // TestMain removes it
	if err != nil {
		return nil, err
	}
	k := &kitchen{model: filepath.Join(dir, "kwt.safetensors"), name: "kwt", wav16k: filepath.Join(dir, "kitchen16k.wav")}
	data, err := os.ReadFile(shippedModel)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(k.model, data, 0o644); err != nil {
		return nil, err
	}
	m, err := infer.Load(k.model)
	if err != nil {
		return nil, err
	}
	k.keywords = slices.Sorted(slices.Values(m.Keywords()))
	decoded, err := audio.DecodeFile(kitchenPath)
	if err != nil {
		return nil, err
	}
	k.raw = s16le(decoded, 1)
	k.samples = make([]float32, len(decoded))
	for i := range k.samples {
		k.samples[i] = float32(int16(binary.LittleEndian.Uint16(k.raw[2*i:]))) / 32768
	}
	k.seconds = float64(len(decoded)) / audio.TargetRate
	if err := os.WriteFile(k.wav16k, append(wavHeader16k(len(k.raw)), k.raw...), 0o644); err != nil {
		return nil, err
	}
	if k.fileDets, err = detectJSON(k.model, kitchenPath); err != nil {
		return nil, err
	}
	if k.rawDets, err = detectJSON(k.model, k.wav16k); err != nil {
		return nil, err
	}
	if len(k.fileDets) == 0 || len(k.rawDets) == 0 {
		return nil, fmt.Errorf("the shipped model detects nothing in %s", kitchenPath)
	}
	return k, nil
}

// s16le quantizes samples times gain to signed 16-bit little-endian.
func s16le(samples []float32, gain float64) []byte {
	b := make([]byte, 2*len(samples))
	for i, x := range samples {
		v := math.Round(float64(x) * gain * 32768)
		binary.LittleEndian.PutUint16(b[2*i:], uint16(int16(max(-32768, min(32767, v)))))
	}
	return b
}

// wavHeader16k is the header of a 16 kHz mono 16-bit PCM WAV file with n bytes of data.
func wavHeader16k(n int) []byte {
	var h bytes.Buffer
	le := func(v any) { binary.Write(&h, binary.LittleEndian, v) }
	h.WriteString("RIFF")
	le(uint32(36 + n))
	h.WriteString("WAVEfmt ")
	le(uint32(16))
	le(uint16(1)) // PCM
	le(uint16(1)) // mono
	le(uint32(16000))
	le(uint32(32000))
	le(uint16(2))
	le(uint16(16))
	h.WriteString("data")
	le(uint32(n))
	return h.Bytes()
}

func detectJSON(model, file string) ([]detectLine, error) {
	home, err := os.MkdirTemp("", "wwhome")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(home)
	cmd := exec.Command(binPath, "detect", "--json", "--model", model, file)
	cmd.Env = append(os.Environ(), "HOME="+home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("detect %s: %v: %s", file, err, stderr.String())
	}
	var dets []detectLine
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		var d detectLine
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			return nil, fmt.Errorf("detect %s: %q: %v", file, line, err)
		}
		dets = append(dets, d)
	}
	return dets, nil
}

// distinct is the sorted set of keywords among dets.
func distinct(dets []detectLine) []string {
	var kws []string
	for _, d := range dets {
		kws = append(kws, d.Keyword)
	}
	slices.Sort(kws)
	return slices.Compact(kws)
}

// twoKeywords returns the keywords detected, failing (not skipping) when there are fewer
// than two: the example says two wake words, and a model that hears only one of them
// cannot show one keyword switched off while another is not.
func twoKeywords(t *testing.T, dets []detectLine) []string {
	t.Helper()
	kws := distinct(dets)
	if len(kws) < 2 {
		t.Fatalf("detect finds only %v in the example; these tests need two different keywords: %+v", kws, dets)
	}
	return kws
}

// needOrCI skips the test for a missing host facility, but fails it under CI.
func needOrCI(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// daemon is a running `wakewordd run --log-format json`, its log parsed as it comes.
type daemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser // nil unless started with one
	exited chan struct{}
	code   int

	mu      sync.Mutex
	log     []logEntry
	changed chan struct{}
}

// logEntry is one line of the daemon's stderr; f is nil for a line that is not JSON.
type logEntry struct {
	line string
	f    map[string]any
}

func (e logEntry) msg() string { return e.str("msg") }

func (e logEntry) str(k string) string {
	s, _ := e.f[k].(string)
	return s
}

func (e logEntry) num(k string) float64 {
	v, _ := e.f[k].(float64)
	return v
}

// delivered is the count of detections the MQTT sink says it delivered, from the
// "published" attribute of a stats or stop line ("N delivered, ..."), or -1.
func (e logEntry) delivered() int {
	s, _, ok := strings.Cut(e.str("published"), " delivered")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// isMuted matches a detection made while Hermes has the site toggled off.
func isMuted(e logEntry) bool {
	return strings.HasPrefix(e.msg(), "detected while hotword detection is off")
}

func isMsg(msg string) func(logEntry) bool {
	return func(e logEntry) bool { return e.msg() == msg }
}

// startDaemon runs `wakewordd run --log-format json ARGS` with a clean HOME (env can
// replace it); withStdin gives it a pipe as stdin.
func startDaemon(t *testing.T, withStdin bool, env []string, args ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, exited: make(chan struct{}), changed: make(chan struct{})}
	d.cmd = exec.Command(binPath, append([]string{"run", "--log-format", "json"}, args...)...)
	d.cmd.Env = append(os.Environ(), append([]string{"HOME=" + t.TempDir(), "JACK_NO_START_SERVER=1"}, env...)...)
	var err error
	if withStdin {
		if d.stdin, err = d.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
	}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			e := logEntry{line: sc.Text()}
			var f map[string]any
			if json.Unmarshal(sc.Bytes(), &f) == nil {
				e.f = f
			}
			d.mu.Lock()
			d.log = append(d.log, e)
			close(d.changed)
			d.changed = make(chan struct{})
			d.mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
		d.cmd.Wait()
		d.code = d.cmd.ProcessState.ExitCode()
		close(d.exited)
		d.mu.Lock()
		close(d.changed)
		d.changed = make(chan struct{})
		d.mu.Unlock()
	}()
	t.Cleanup(func() {
		if d.stdin != nil {
			d.stdin.Close()
		}
		select {
		case <-d.exited:
		default:
			d.cmd.Process.Kill()
			<-d.exited
		}
		if t.Failed() {
			t.Logf("daemon log (last lines):\n%s", d.tail(80))
		}
	})
	return d
}

func (d *daemon) tail(n int) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var b strings.Builder
	for _, e := range d.log[max(0, len(d.log)-n):] {
		b.WriteString(e.line + "\n")
	}
	return b.String()
}

func (d *daemon) matching(pred func(logEntry) bool) []logEntry {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []logEntry
	for _, e := range d.log {
		if pred(e) {
			out = append(out, e)
		}
	}
	return out
}

// waitLog waits until n lines match pred and returns them; the test fails when they do
// not come within timeout or the daemon exits first.
func (d *daemon) waitLog(timeout time.Duration, what string, n int, pred func(logEntry) bool) []logEntry {
	d.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		d.mu.Lock()
		ch := d.changed
		d.mu.Unlock()
		if got := d.matching(pred); len(got) >= n {
			return got
		}
		select {
		case <-d.exited:
			if got := d.matching(pred); len(got) >= n {
				return got
			}
			d.t.Fatalf("the daemon exited (status %d) before logging %s", d.code, what)
		default:
		}
		select {
		case <-ch:
		case <-deadline.C:
			d.t.Fatalf("%d of %d log lines for %s within %s", len(d.matching(pred)), n, what, timeout)
		}
	}
}

// waitAudio waits for a stats line saying that the first s seconds of audio are processed
// (the pipeline counts samples after their frames have run, detections included); it
// needs --stats-interval.
func (d *daemon) waitAudio(s float64, timeout time.Duration) logEntry {
	d.t.Helper()
	return d.waitLog(timeout, fmt.Sprintf("%.2f s of audio processed", s), 1, func(e logEntry) bool {
		return e.msg() == "stats" && e.num("audio_s") >= s-0.01
	})[0]
}

// waitSettled waits until s seconds of audio are processed and the broker has taken
// every detection published so far, and returns that count.
func (d *daemon) waitSettled(s float64, timeout time.Duration) int {
	d.t.Helper()
	e := d.waitLog(timeout, fmt.Sprintf("%.2f s processed and every detection delivered", s), 1, func(e logEntry) bool {
		return e.msg() == "stats" && e.num("audio_s") >= s-0.01 && e.delivered() == int(e.num("detections"))
	})
	return e[len(e)-1].delivered()
}

func (d *daemon) feed(b []byte) {
	d.t.Helper()
	if _, err := d.stdin.Write(b); err != nil {
		d.t.Fatalf("feeding the daemon: %v", err)
	}
}

// wait waits for the daemon to exit and returns its status.
func (d *daemon) wait(timeout time.Duration) int {
	d.t.Helper()
	select {
	case <-d.exited:
		return d.code
	case <-time.After(timeout):
		d.t.Fatalf("the daemon did not exit within %s", timeout)
		return -1
	}
}

func (d *daemon) signal(sig syscall.Signal) {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatal(err)
	}
}

// detections are the daemon's "detected" log lines: what it published.
func (d *daemon) detections() []logEntry { return d.matching(isMsg("detected")) }

// inbox collects what one subscription receives.
type inbox struct {
	t    *testing.T
	sub  *mqtttest.Sub
	msgs []mqtttest.Msg
}

func listen(t *testing.T, b *mqtttest.Broker, filter string) *inbox {
	t.Helper()
	return &inbox{t: t, sub: mqtttest.Subscribe(t, b, filter)}
}

// waitFor takes messages until done says so; the test fails after timeout.
func (in *inbox) waitFor(timeout time.Duration, what string, done func([]mqtttest.Msg) bool) {
	in.t.Helper()
	deadline := time.Now().Add(timeout)
	for !done(in.msgs) {
		m, ok := in.sub.Next(time.Until(deadline))
		if !ok {
			in.t.Fatalf("no %s within %s; received:\n%s", what, timeout, in.dump())
		}
		in.msgs = append(in.msgs, m)
	}
}

// settle takes messages until none comes for quiet.
func (in *inbox) settle(quiet time.Duration) {
	for {
		m, ok := in.sub.Next(quiet)
		if !ok {
			return
		}
		in.msgs = append(in.msgs, m)
	}
}

func (in *inbox) dump() string {
	var b strings.Builder
	for _, m := range in.msgs {
		s := m.String()
		if len(s) > 300 {
			s = s[:300] + "..."
		}
		b.WriteString(s + "\n")
	}
	return b.String()
}

func onTopic(msgs []mqtttest.Msg, topic string) []mqtttest.Msg {
	var out []mqtttest.Msg
	for _, m := range msgs {
		if m.Topic == topic {
			out = append(out, m)
		}
	}
	return out
}

func payloads(msgs []mqtttest.Msg) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, string(m.Payload))
	}
	return out
}

// lastIs reports whether the last message on topic has this payload.
func lastIs(topic, payload string) func([]mqtttest.Msg) bool {
	return func(msgs []mqtttest.Msg) bool {
		on := onTopic(msgs, topic)
		return len(on) > 0 && string(on[len(on)-1].Payload) == payload
	}
}

// countOn reports whether at least n messages arrived on topic.
func countOn(topic string, n int) func([]mqtttest.Msg) bool {
	return func(msgs []mqtttest.Msg) bool { return len(onTopic(msgs, topic)) >= n }
}

// event is a wakewordd/<site>/detected payload.
type event struct {
	ID        string  `json:"id"`
	EventType string  `json:"event_type"`
	Keyword   string  `json:"keyword"`
	Score     float64 `json:"score"`
	SiteID    string  `json:"site_id"`
	Timestamp string  `json:"timestamp"`
	StreamS   float64 `json:"stream_s"`
	Model     string  `json:"model"`
}

var (
	uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	msRE   = regexp.MustCompile(`T\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$`) // RFC 3339 with milliseconds
)

// events decodes the detection events on topic and checks each one's form: a UUID, an
// RFC 3339 timestamp with milliseconds from this run, event_type = keyword, the site and the model.
func events(t *testing.T, msgs []mqtttest.Msg, topic, site, model string) []event {
	t.Helper()
	var out []event
	for _, m := range onTopic(msgs, topic) {
		var e event
		if err := json.Unmarshal(m.Payload, &e); err != nil {
			t.Fatalf("event %q: %v", m.Payload, err)
		}
		ts, err := time.Parse(time.RFC3339, e.Timestamp)
		switch {
		case m.QoS != 1 || m.Retained:
			t.Errorf("event delivered with QoS %d, retained %v: %s", m.QoS, m.Retained, m.Payload)
		case !uuidRE.MatchString(e.ID):
			t.Errorf("event id %q is not a UUID: %s", e.ID, m.Payload)
		case err != nil || !msRE.MatchString(e.Timestamp) || time.Since(ts).Abs() > time.Hour:
			t.Errorf("event timestamp %q is not RFC 3339 near now (%v): %s", e.Timestamp, err, m.Payload)
		case e.EventType != e.Keyword || e.SiteID != site || e.Model != model:
			t.Errorf("event %s: want event_type = keyword, site_id %q, model %q", m.Payload, site, model)
		case e.Score <= 0 || e.Score > 1:
			t.Errorf("event score out of range: %s", m.Payload)
		}
		out = append(out, e)
	}
	return out
}

// matchDetections checks that the events are, in order, the detections detect reported:
// same keyword, stream time within tol, score within 0.01.
func matchDetections(t *testing.T, got []event, want []detectLine, tol float64) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i].Keyword == want[i].Keyword && math.Abs(got[i].StreamS-want[i].TimeS) <= tol &&
			math.Abs(got[i].Score-want[i].Score) <= 0.01
	}
	if !ok {
		t.Errorf("events %+v\ndo not match what detect reports on the same audio (stream_s within %g s, score within 0.01):\n%+v", got, tol, want)
	}
}

func keywordsOf(evs []event) []string {
	var kws []string
	for _, e := range evs {
		kws = append(kws, e.Keyword)
	}
	return kws
}

func detKeywords(dets []detectLine) []string {
	var kws []string
	for _, d := range dets {
		kws = append(kws, d.Keyword)
	}
	return kws
}

// A file run publishes what detect finds in the same file, with the availability, Home
// Assistant discovery and Hermes messages around it, and exits 0 once all is delivered.
func TestServiceFileToBroker(t *testing.T) {
	k := kitchenFixture(t)
	b := mqtttest.Start(t)
	const site = "kitchen"
	status, detected := "wakewordd/"+site+"/status", "wakewordd/"+site+"/detected"
	all := listen(t, b, "#")
	d := startDaemon(t, false, nil, "--model", k.model, "--input", kitchenPath, "--mqtt-broker", b.URL(), "--site-id", site)
	if code := d.wait(60 * time.Second); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	// Exiting 0 means delivered: the events are at the broker before the offline status.
	all.waitFor(10*time.Second, "offline status", lastIs(status, "offline"))
	all.settle(200 * time.Millisecond)
	if got := payloads(onTopic(all.msgs, status)); !slices.Equal(got, []string{"online", "offline"}) {
		t.Errorf("status sequence %q, want online then offline", got)
	}
	evs := events(t, all.msgs, detected, site, k.name)
	matchDetections(t, evs, k.fileDets, 0.05)
	ids := map[string]bool{}
	for _, e := range evs {
		if ids[e.ID] {
			t.Errorf("event id %s repeated", e.ID)
		}
		ids[e.ID] = true
	}
	var hermes []string
	for _, m := range all.msgs {
		kw, ok := strings.CutPrefix(m.Topic, "hermes/hotword/")
		if !ok {
			continue
		}
		if kw, ok = strings.CutSuffix(kw, "/detected"); !ok {
			continue
		}
		var h struct {
			ModelID string `json:"modelId"`
			SiteID  string `json:"siteId"`
		}
		if err := json.Unmarshal(m.Payload, &h); err != nil || h.ModelID != kw || h.SiteID != site {
			t.Errorf("Hermes message %v: want modelId %q and siteId %q (%v)", m, kw, site, err)
		}
		hermes = append(hermes, kw)
	}
	if want := detKeywords(k.fileDets); !slices.Equal(hermes, want) {
		t.Errorf("Hermes detections %v, want %v", hermes, want)
	}
	if got := d.waitLog(time.Second, "stop line", 1, isMsg("wakewordd stopped"))[0].delivered(); got != len(k.fileDets) {
		t.Errorf("the daemon counts %d detections delivered, want %d", got, len(k.fileDets))
	}

	// What a Home Assistant starting later sees: offline, and the entity with every keyword.
	late := listen(t, b, status)
	if m := late.sub.Wait(t, 1, 5*time.Second)[0]; !m.Retained || string(m.Payload) != "offline" {
		t.Errorf("status after exit: %v, want retained offline", m)
	}
	conf := listen(t, b, "homeassistant/event/wakewordd_"+site+"/wakeword/config")
	m := conf.sub.Wait(t, 1, 5*time.Second)[0]
	var disc struct {
		EventTypes        []string `json:"event_types"`
		StateTopic        string   `json:"state_topic"`
		AvailabilityTopic string   `json:"availability_topic"`
		Device            struct {
			Identifiers []string `json:"identifiers"`
		} `json:"device"`
	}
	if err := json.Unmarshal(m.Payload, &disc); err != nil || !m.Retained {
		t.Fatalf("discovery %v: %v", m, err)
	}
	slices.Sort(disc.EventTypes)
	if !slices.Equal(disc.EventTypes, k.keywords) || disc.StateTopic != detected || disc.AvailabilityTopic != status ||
		len(disc.Device.Identifiers) == 0 {
		t.Errorf("discovery %s: want event_types %v, state_topic %s, availability_topic %s and a device", m.Payload, k.keywords, detected, status)
	}
}

// A virtual PortAudio microphone (an ALSA file PCM playing the example) is heard like the
// file, and SIGTERM stops the daemon cleanly, marking the site offline.
func TestServiceVirtualMicrophone(t *testing.T) {
	if _, err := os.Stat("/usr/share/alsa/alsa.conf"); err != nil {
		needOrCI(t, "ALSA configuration not installed (scripts/setup.sh test installs it)")
	}
	k := kitchenFixture(t)
	twoKeywords(t, k.rawDets)
	home := t.TempDir()
	// Silence after the recording: the file PCM repeats stale data once the file ends.
	rawPath := filepath.Join(home, "mic.raw")
	if err := os.WriteFile(rawPath, append(slices.Clone(k.raw), make([]byte, 2*3*16000)...), 0o644); err != nil {
		t.Fatal(err)
	}
	rc := fmt.Sprintf(`pcm.wakewordd_vmic {
	type plug
	slave { pcm "wakewordd_vmic_raw"; format S16_LE; rate 16000; channels 1 }
}
pcm.wakewordd_vmic_raw {
	type file
	slave.pcm "null"
	file "/dev/null"
	infile %q
	format "raw"
}
`, rawPath)
	if err := os.WriteFile(filepath.Join(home, ".asoundrc"), []byte(rc), 0o644); err != nil {
		t.Fatal(err)
	}
	b := mqtttest.Start(t)
	const site = "mic"
	status, detected := "wakewordd/"+site+"/status", "wakewordd/"+site+"/detected"
	all := listen(t, b, "wakewordd/"+site+"/#")
	d := startDaemon(t, false, []string{"HOME=" + home}, "--model", k.model, "--device", "wakewordd_vmic", "--channel", "0",
		"--lossless", "--mqtt-broker", b.URL(), "--site-id", site)
	all.waitFor(60*time.Second, "events for every detection", countOn(detected, len(k.rawDets)))
	if in := d.waitLog(time.Second, "audio flowing", 1, isMsg("audio flowing"))[0].str("input"); !strings.Contains(in, "wakewordd_vmic") {
		t.Errorf("input %q, want the virtual microphone", in)
	}
	// While it runs, a newcomer finds the site online.
	late := listen(t, b, status)
	if m := late.sub.Wait(t, 1, 5*time.Second)[0]; !m.Retained || string(m.Payload) != "online" {
		t.Errorf("status while running: %v, want retained online", m)
	}
	d.signal(syscall.SIGTERM)
	if code := d.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGTERM", code)
	}
	all.waitFor(5*time.Second, "offline status", lastIs(status, "offline"))
	all.settle(100 * time.Millisecond)
	matchDetections(t, events(t, all.msgs, detected, site, k.name), k.rawDets, 0.05)
	if st := d.matching(isMsg("wakewordd stopped")); len(st) != 1 || st[0].num("overruns") != 0 {
		t.Errorf("stop lines %v: want one, with no overruns", st)
	}
}

// The broker goes away mid-stream and comes back on the same port: every detection made
// meanwhile is delivered after it returns, before a stdin run exits.
func TestServiceBrokerRestart(t *testing.T) {
	k := kitchenFixture(t)
	b := mqtttest.Start(t, mqtttest.WithPersistence()) // the subscriber's session survives the restart
	const site = "restart"
	detected := "wakewordd/" + site + "/detected"
	ev := listen(t, b, detected)
	d := startDaemon(t, true, nil, "--model", k.model, "--input", "-", "--mqtt-broker", b.URL(), "--site-id", site,
		"--stats-interval", "250ms")
	d.feed(k.raw)
	ev.waitFor(30*time.Second, "events of the first pass", countOn(detected, len(k.rawDets)))
	d.waitAudio(k.seconds, 30*time.Second)
	before := len(d.detections())

	b.Stop()
	down := time.Now()
	d.waitLog(10*time.Second, "the lost connection", 1, func(e logEntry) bool { return strings.Contains(e.msg(), "connection lost") })
	d.feed(k.raw)
	d.feed(k.raw)
	d.waitAudio(3*k.seconds, 60*time.Second)
	logged := d.detections()
	if len(logged) == before {
		t.Fatal("nothing was detected while the broker was away")
	}
	b.Restart()
	outage := time.Since(down)
	d.stdin.Close()
	if code := d.wait(60 * time.Second); code != 0 {
		t.Fatalf("exit status %d", code)
	}

	unique := func(msgs []mqtttest.Msg) map[string]event {
		u := map[string]event{}
		for _, m := range onTopic(msgs, detected) {
			var e event
			if json.Unmarshal(m.Payload, &e) == nil {
				u[e.ID] = e
			}
		}
		return u
	}
	ev.waitFor(30*time.Second, "every logged detection", func(msgs []mqtttest.Msg) bool { return len(unique(msgs)) >= len(logged) })
	ev.settle(300 * time.Millisecond)
	evs := events(t, ev.msgs, detected, site, k.name)
	u := unique(ev.msgs)
	got := slices.SortedFunc(func(yield func(event) bool) {
		for _, e := range u {
			if !yield(e) {
				return
			}
		}
	}, func(a, b event) int {
		return strings.Compare(fmt.Sprintf("%012.3f", a.StreamS), fmt.Sprintf("%012.3f", b.StreamS))
	})
	if len(got) != len(logged) {
		t.Errorf("%d distinct events for %d logged detections", len(got), len(logged))
	} else {
		for i, l := range logged {
			if got[i].Keyword != l.str("keyword") || math.Abs(got[i].StreamS-l.num("stream_s")) > 0.006 {
				t.Errorf("detection %d: logged %s, event %+v", i, l.line, got[i])
			}
		}
	}
	published := d.waitLog(time.Second, "stop line", 1, isMsg("wakewordd stopped"))[0].delivered()
	if published != len(logged) {
		t.Errorf("the daemon counts %d delivered of %d detections", published, len(logged))
	}
	t.Logf("broker restart: %d detections logged by the daemon (%d while the broker was down for %s), %d published by its count, %d received, %d distinct, %d duplicates",
		len(logged), len(logged)-before, outage.Round(time.Millisecond), published, len(evs), len(u), len(evs)-len(u))
}

// kill -9 leaves the broker to say the site is offline: the Last Will, retained.
func TestServiceLastWillOnKill(t *testing.T) {
	b := mqtttest.Start(t)
	const site = "lwt"
	status := "wakewordd/" + site + "/status"
	st := listen(t, b, status)
	const keepalive = 2 * time.Second
	cfg := writeFile(t, "lwt.yaml", fmt.Appendf(nil, "site_id: %s\nmqtt:\n  broker: %s\n  keepalive: %s\n", site, b.URL(), keepalive))
	d := startDaemon(t, true, nil, "--config", cfg, "--model", randomModel, "--input", "-")
	st.waitFor(10*time.Second, "online status", lastIs(status, "online"))
	d.waitLog(5*time.Second, "the connection", 1, isMsg("mqtt: connected"))
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	limit := keepalive * 3 / 2
	st.waitFor(limit, "offline (Last Will) within keepalive x 1.5", lastIs(status, "offline"))
	took := time.Since(killed)
	d.wait(5 * time.Second)
	late := listen(t, b, status)
	if m := late.sub.Wait(t, 1, 5*time.Second)[0]; !m.Retained || string(m.Payload) != "offline" {
		t.Errorf("status after kill: %v, want retained offline", m)
	}
	t.Logf("Last Will published %s after kill -9 (limit %s)", took.Round(time.Millisecond), limit)
}

// Hermes toggleOff for this site mutes detections (logged, not published) until toggleOn;
// a toggle for another site changes nothing; a keyword switched OFF is not detected and
// leaves the Home Assistant entity until switched ON.
func TestServiceToggles(t *testing.T) {
	k := kitchenFixture(t)
	kws := twoKeywords(t, k.rawDets)
	off := kws[0]
	b := mqtttest.Start(t)
	const site = "toggle"
	detected := "wakewordd/" + site + "/detected"
	discovery := "homeassistant/event/wakewordd_" + site + "/wakeword/config"
	ev := listen(t, b, detected)
	disc := listen(t, b, discovery)
	d := startDaemon(t, true, nil, "--model", k.model, "--input", "-", "--mqtt-broker", b.URL(), "--site-id", site,
		"--stats-interval", "250ms", "--log-level", "debug")
	d.waitLog(10*time.Second, "the connection", 1, isMsg("mqtt: connected"))

	passes := 0
	// pass feeds the example once more and returns the events and the muted detections
	// it brought.
	pass := func() (published []event, muted []string) {
		t.Helper()
		passes++
		mutedBefore := len(d.matching(isMuted))
		seen := len(onTopic(ev.msgs, detected))
		d.feed(k.raw)
		n := d.waitSettled(float64(passes)*k.seconds, 60*time.Second)
		ev.waitFor(10*time.Second, "delivered events", countOn(detected, n))
		ev.settle(100 * time.Millisecond)
		for _, e := range d.matching(isMuted)[mutedBefore:] {
			muted = append(muted, e.str("keyword"))
		}
		return events(t, ev.msgs, detected, site, k.name)[seen:], muted
	}
	toggle := func(topic, payload string, what string, pred func(logEntry) bool) {
		t.Helper()
		n := len(d.matching(pred))
		b.Publish(t, topic, []byte(payload), false)
		d.waitLog(10*time.Second, what, n+1, pred)
	}
	hermes := func(on bool) func(logEntry) bool {
		return func(e logEntry) bool { return e.msg() == "hotword detection switched by Hermes" && e.f["on"] == on }
	}
	keyword := func(on bool) func(logEntry) bool {
		return func(e logEntry) bool {
			return e.msg() == "keyword switched" && e.str("keyword") == off && e.f["on"] == on
		}
	}
	check := func(name string, published []event, muted []string, wantPub, wantMuted []string) {
		t.Helper()
		slices.Sort(muted)
		if got := distinctStrings(keywordsOf(published)); !slices.Equal(got, wantPub) || !slices.Equal(slices.Compact(muted), wantMuted) {
			t.Errorf("%s: published %v and muted %v; want %v published and %v muted", name, keywordsOf(published), muted, wantPub, wantMuted)
		}
	}
	others := slices.DeleteFunc(slices.Clone(kws), func(s string) bool { return s == off })

	toggle("hermes/hotword/toggleOff", `{"siteId":"elsewhere","reason":"dialogueSession"}`, "the other site's toggle",
		func(e logEntry) bool { return e.msg() == "mqtt: hermes toggle for another site" })
	pub, muted := pass()
	check("toggleOff for another site", pub, muted, kws, nil)

	toggle("hermes/hotword/toggleOff", `{"siteId":"toggle","reason":"dialogueSession"}`, "toggleOff", hermes(false))
	pub, muted = pass()
	check("toggleOff", pub, muted, nil, kws)

	toggle("hermes/hotword/toggleOn", `{"siteId":"toggle"}`, "toggleOn", hermes(true))
	pub, muted = pass()
	check("toggleOn", pub, muted, kws, nil)

	eventTypes := func(m mqtttest.Msg) []string {
		var c struct {
			EventTypes []string `json:"event_types"`
		}
		json.Unmarshal(m.Payload, &c)
		slices.Sort(c.EventTypes)
		return c.EventTypes
	}
	lastTypes := func(want []string) func([]mqtttest.Msg) bool {
		return func(msgs []mqtttest.Msg) bool {
			return len(msgs) > 0 && slices.Equal(eventTypes(msgs[len(msgs)-1]), want)
		}
	}
	setTopic := "wakewordd/" + site + "/keyword/" + off + "/set"
	toggle(setTopic, "OFF", off+" OFF", keyword(false))
	disc.waitFor(5*time.Second, "discovery without "+off, lastTypes(slices.DeleteFunc(slices.Clone(k.keywords), func(s string) bool { return s == off })))
	pub, muted = pass()
	check(off+" OFF", pub, muted, others, nil)

	toggle(setTopic, "ON", off+" ON", keyword(true))
	disc.waitFor(5*time.Second, "discovery with every keyword", lastTypes(k.keywords))
	pub, muted = pass()
	check(off+" ON", pub, muted, kws, nil)

	d.stdin.Close()
	if code := d.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit status %d", code)
	}
}

func distinctStrings(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// TLS with a client certificate and a password: events arrive. With the wrong CA nothing
// reaches the broker, and the log says why.
func TestServiceTLS(t *testing.T) {
	k := kitchenFixture(t)
	b := mqtttest.Start(t, mqtttest.WithTLS(), mqtttest.WithPassword("satellite", "pa55 word"))
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte(b.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := func(site, ca string) string {
		return writeFile(t, site+".yaml", fmt.Appendf(nil,
			"site_id: %s\nmqtt:\n  broker: %s\n  username: %s\n  password_file: %s\n  tls:\n    ca_file: %s\n    cert_file: %s\n    key_file: %s\n",
			site, b.URL(), b.Username, pw, ca, b.CertFile, b.KeyFile))
	}
	ev := listen(t, b, "wakewordd/#")
	d := startDaemon(t, false, nil, "--config", config("tls", b.CAFile), "--model", k.model, "--input", kitchenPath)
	if code := d.wait(60 * time.Second); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	ev.waitFor(10*time.Second, "offline status", lastIs("wakewordd/tls/status", "offline"))
	matchDetections(t, events(t, ev.msgs, "wakewordd/tls/detected", "tls", k.name), k.fileDets, 0.05)

	// A CA that did not sign the broker's certificate.
	wrong := otherCA(t)
	d = startDaemon(t, true, nil, "--config", config("wrongca", wrong), "--model", k.model, "--input", "-")
	tlsErr := d.waitLog(20*time.Second, "the TLS failure", 1, func(e logEntry) bool {
		return e.msg() == "mqtt: cannot connect, retrying" && strings.Contains(e.str("err"), "certificate")
	})[0]
	d.feed(k.raw)
	d.waitLog(30*time.Second, "detections", len(k.rawDets), isMsg("detected"))
	d.signal(syscall.SIGTERM)
	if code := d.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGTERM", code)
	}
	if w := d.matching(isMsg("detections not delivered to the broker")); len(w) != 1 || int(w[0].num("queued")) != len(k.rawDets) {
		t.Errorf("want one warning that %d detections were not delivered, got %v", len(k.rawDets), w)
	}
	ev.settle(200 * time.Millisecond)
	for _, m := range ev.msgs {
		if strings.HasPrefix(m.Topic, "wakewordd/wrongca/") {
			t.Errorf("the daemon with the wrong CA got through: %v", m)
		}
	}
	t.Logf("wrong CA: %s", tlsErr.str("err"))
}

// otherCA writes a self-signed CA certificate that signed nothing.
func otherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not the mqtttest CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "other-ca.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// Junk on the command topics is logged and ignored: the daemon keeps running, nothing gets
// muted or switched off, and the next detections are published.
func TestServiceMalformedCommands(t *testing.T) {
	k := kitchenFixture(t)
	b := mqtttest.Start(t)
	const site = "junk"
	detected := "wakewordd/" + site + "/detected"
	ev := listen(t, b, detected)
	d := startDaemon(t, true, nil, "--model", k.model, "--input", "-", "--mqtt-broker", b.URL(), "--site-id", site,
		"--stats-interval", "250ms")
	d.waitLog(10*time.Second, "the connection", 1, isMsg("mqtt: connected"))
	kw := k.rawDets[0].Keyword
	set := "wakewordd/" + site + "/keyword/" + kw + "/set"
	// Payloads that would be valid commands but for their size.
	hugeToggle := fmt.Appendf(nil, `{"siteId":%q,"reason":"%s"}`, site, strings.Repeat("x", 200<<10))
	hugeSwitch := append([]byte("OFF"), bytes.Repeat([]byte(" "), 100<<10)...)
	junk := []struct{ topic, payload string }{
		{"hermes/hotword/toggleOff", "not json"},
		{"hermes/hotword/toggleOff", "{"},
		{"hermes/hotword/toggleOff", `{"siteId": 5}`},
		{"hermes/hotword/toggleOff", `{"siteId": ["junk"]}`},
		{"hermes/hotword/toggleOff", `["junk"]`},
		{"hermes/hotword/toggleOff", `null`},
		{"hermes/hotword/toggleOff", `{"siteId":"junk"} trailing`},
		{"hermes/hotword/toggleOff", "\xff\xfe\x00\x01"},
		{"hermes/hotword/toggleOff", string(hugeToggle)},
		{"hermes/hotword/toggleOn", `{"siteId": {"id": "junk"}}`},
		{set, "MAYBE"},
		{set, ""},
		{set, `{"state":"OFF"}`},
		{set, string(hugeSwitch)},
		{"homeassistant/status", "sleepy"},
	}
	for _, j := range junk {
		b.Publish(t, j.topic, []byte(j.payload), false)
	}
	b.Publish(t, "wakewordd/"+site+"/keyword/no_such_keyword/set", []byte("OFF"), false)
	d.waitLog(10*time.Second, "every malformed message", len(junk), isMsg("mqtt: ignoring malformed message"))
	d.waitLog(10*time.Second, "the unknown keyword", 1, isMsg("ignoring a switch for an unknown keyword"))

	d.feed(k.raw)
	n := d.waitSettled(k.seconds, 60*time.Second)
	ev.waitFor(10*time.Second, "events", countOn(detected, n))
	ev.settle(100 * time.Millisecond)
	matchDetections(t, events(t, ev.msgs, detected, site, k.name), k.rawDets, 0.05)
	if muted := d.matching(isMuted); len(muted) > 0 {
		t.Errorf("detections muted by junk: %v", muted)
	}
	d.stdin.Close()
	if code := d.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	if p := d.matching(func(e logEntry) bool { return strings.Contains(e.line, "panic") }); len(p) > 0 {
		t.Errorf("panic in the log: %v", p)
	}
}
