package publish

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wakewordd/wakewordd/internal/mqtttest"
	"github.com/wakewordd/wakewordd/internal/syncbuf"
)

// logBuf captures a sink's log, shown when the test fails.
type logBuf struct{ syncbuf.Buffer }

// count counts the log lines that contain every one of parts.
func (l *logBuf) count(parts ...string) int {
	n := 0
	for line := range strings.Lines(l.String()) {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

func testConfig(t *testing.T, b *mqtttest.Broker) (MQTTConfig, *logBuf) {
	lb := &logBuf{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sink log:\n%s", lb)
		}
	})
	return MQTTConfig{
		Broker: b.URL(), SiteID: "kitchen", Keywords: []string{"alexa", "marvin"}, Model: "kwt-1", Version: "0.0-test",
		Discovery: true, Hermes: true, CAFile: b.CAFile, CertFile: b.CertFile, KeyFile: b.KeyFile,
		Logger:   slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})),
		retryMin: 20 * time.Millisecond, retryMax: 200 * time.Millisecond, connectTimeout: 2 * time.Second,
	}, lb
}

func start(t *testing.T, cfg MQTTConfig) *MQTT {
	t.Helper()
	m, err := NewMQTT(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		m.Close(ctx)
	})
	return m
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 10s", what)
		}
	}
}

func waitConnected(t *testing.T, m *MQTT) {
	t.Helper()
	waitFor(t, "connection", func() bool { return m.Stats().Connected })
}

func flush(t *testing.T, s Sink) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func event(i int) Event {
	return Event{
		ID: fmt.Sprintf("id-%03d", i), Keyword: "alexa", Score: 0.9, Time: testTime.Add(time.Duration(i) * time.Second),
		StreamS: float64(i), Model: "kwt-1", Threshold: 0.6,
	}
}

// expectNothing fails if s receives anything within d.
func expectNothing(t *testing.T, s *mqtttest.Sub, d time.Duration) {
	t.Helper()
	if m, ok := s.Next(d); ok {
		t.Fatalf("unexpected message %v", m)
	}
}

func TestEventsArriveWithQoS1(t *testing.T) {
	b := mqtttest.Start(t)
	events := mqtttest.Subscribe(t, b, "wakewordd/kitchen/detected")
	hermes := mqtttest.Subscribe(t, b, "hermes/hotword/+/detected")
	cfg, _ := testConfig(t, b)
	m := start(t, cfg)
	// Published before the connection is up: queued, then delivered.
	m.Publish(testEvent())
	e := testEvent()
	e.ID, e.Keyword, e.SiteID = "", "marvin", ""
	m.Publish(e)
	flush(t, m)

	got := events.Wait(t, 2, 5*time.Second)
	for _, msg := range got {
		if msg.QoS != 1 || msg.Retained {
			t.Errorf("%v: want QoS 1, not retained", msg)
		}
	}
	if string(got[0].Payload) != string(eventPayload(testEvent(), "")) {
		t.Errorf("payload %s", got[0].Payload)
	}
	var second map[string]any
	if err := json.Unmarshal(got[1].Payload, &second); err != nil {
		t.Fatal(err)
	}
	if second["event_type"] != "marvin" || second["site_id"] != "kitchen" || len(second["id"].(string)) != 36 {
		t.Errorf("second event %v: want marvin, the sink's site and a fresh id", second)
	}
	h := hermes.Wait(t, 2, 5*time.Second)
	if h[0].Topic != "hermes/hotword/alexa/detected" || h[1].Topic != "hermes/hotword/marvin/detected" || h[0].QoS != 1 {
		t.Errorf("hermes messages %v", h)
	}
	if string(h[0].Payload) != string(hermesPayload(testEvent(), "")) {
		t.Errorf("hermes payload %s", h[0].Payload)
	}
	if st := m.Stats(); !st.Connected || st.Published != 2 || st.Queued != 0 || st.Dropped != 0 || st.Reconnects != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestNoHermesWhenOff(t *testing.T) {
	b := mqtttest.Start(t)
	hermes := mqtttest.Subscribe(t, b, "hermes/#")
	cfg, _ := testConfig(t, b)
	cfg.Hermes = false
	m := start(t, cfg)
	m.Publish(testEvent())
	flush(t, m)
	expectNothing(t, hermes, 100*time.Millisecond)
}

func TestRetainedStatusAndDiscovery(t *testing.T) {
	b := mqtttest.Start(t)
	cfg, _ := testConfig(t, b)
	m := start(t, cfg)
	waitConnected(t, m)
	flush(t, m)

	// A late subscriber, like Home Assistant starting after wakewordd.
	status := mqtttest.Subscribe(t, b, "wakewordd/kitchen/status")
	if msg := status.Wait(t, 1, 5*time.Second)[0]; string(msg.Payload) != "online" || !msg.Retained || msg.QoS != 1 {
		t.Fatalf("status %v, want retained online", msg)
	}
	disc := mqtttest.Subscribe(t, b, "homeassistant/event/wakewordd_kitchen/wakeword/config")
	msg := disc.Wait(t, 1, 5*time.Second)[0]
	if !msg.Retained || string(msg.Payload) != string(discoveryPayload(m.topics, "kitchen", "kwt-1", "0.0-test", cfg.Keywords)) {
		t.Fatalf("discovery %v", msg)
	}

	m.SetKeywords([]string{"marvin"})
	msg = disc.Wait(t, 1, 5*time.Second)[0]
	var d struct {
		EventTypes []string `json:"event_types"`
	}
	if err := json.Unmarshal(msg.Payload, &d); err != nil || len(d.EventTypes) != 1 || d.EventTypes[0] != "marvin" {
		t.Fatalf("after SetKeywords: %s (%v)", msg.Payload, err)
	}
}

func TestDiscoveryAgainWhenHomeAssistantComesOnline(t *testing.T) {
	b := mqtttest.Start(t)
	cfg, lb := testConfig(t, b)
	m := start(t, cfg)
	waitConnected(t, m)
	disc := mqtttest.Subscribe(t, b, "homeassistant/event/+/+/config")
	disc.Wait(t, 1, 5*time.Second) // the retained one

	b.Publish(t, "homeassistant/status", []byte("offline"), false)
	b.Publish(t, "homeassistant/status", []byte("starting"), false)
	expectNothing(t, disc, 100*time.Millisecond)
	b.Publish(t, "homeassistant/status", []byte("online"), false)
	if msg := disc.Wait(t, 1, 5*time.Second)[0]; !strings.Contains(string(msg.Payload), `"event_types":["alexa","marvin"]`) {
		t.Fatalf("re-published discovery %v", msg)
	}
	if lb.count("level=WARN", "malformed", "topic=homeassistant/status", "starting") != 1 {
		t.Error("no warning about the unknown status")
	}
}

func TestNoDiscoveryWhenOff(t *testing.T) {
	b := mqtttest.Start(t)
	disc := mqtttest.Subscribe(t, b, "homeassistant/#")
	cfg, _ := testConfig(t, b)
	cfg.Discovery = false
	m := start(t, cfg)
	waitConnected(t, m)
	b.Publish(t, "homeassistant/status", []byte("online"), false)
	disc.Wait(t, 1, 5*time.Second) // our own status message
	expectNothing(t, disc, 100*time.Millisecond)
}

// Detections made while the broker is away are all delivered, in order, once it is back.
func TestBrokerRestartLosesNothing(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.WithPersistence())
	events := mqtttest.Subscribe(t, b, "wakewordd/kitchen/detected")
	cfg, lb := testConfig(t, b)
	m := start(t, cfg)
	m.Publish(event(0))
	flush(t, m)

	b.Stop()
	waitFor(t, "disconnection", func() bool { return !m.Stats().Connected })
	const n = 30
	for i := 1; i <= n; i++ {
		m.Publish(event(i))
	}
	time.Sleep(300 * time.Millisecond) // a few failed reconnects
	if st := m.Stats(); st.Queued != n || st.Connected {
		t.Fatalf("stats during the outage %+v", st)
	}
	b.Restart()
	flush(t, m)

	// At least once: a duplicate is allowed, but the first copies are in order.
	var ids []string
	seen := map[string]bool{}
	for len(seen) < n+1 {
		msg, ok := events.Next(5 * time.Second)
		if !ok {
			t.Fatalf("got %d of %d events: %v", len(seen), n+1, ids)
		}
		var e struct{ ID string }
		json.Unmarshal(msg.Payload, &e)
		if !seen[e.ID] {
			seen[e.ID] = true
			ids = append(ids, e.ID)
		}
	}
	for i, id := range ids {
		if id != event(i).ID {
			t.Fatalf("order %v", ids)
		}
	}
	st := m.Stats()
	if st.Reconnects != 1 || st.Published < n+1 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
	// Once per change of reason, not once per attempt.
	if w, d := lb.count("level=WARN", "cannot connect"), lb.count("cannot connect"); w < 1 || w > 2 || d < 3 {
		t.Errorf("%d warnings in %d failed attempts", w, d)
	}
	if lb.count("connection lost") != 1 {
		t.Error("connection loss not logged once")
	}
	// And the retained online status came back.
	late := mqtttest.Subscribe(t, b, "wakewordd/kitchen/status")
	if msg := late.Wait(t, 1, 5*time.Second)[0]; string(msg.Payload) != "online" {
		t.Errorf("status after restart %v", msg)
	}
}

// Two satellites given the same client id take turns throwing each other off the broker:
// each connection drops at once, and that must back off rather than loop.
func TestDuplicateClientIDBacksOff(t *testing.T) {
	b := mqtttest.Start(t)
	var sinks []*MQTT
	var logs []*logBuf
	for range 2 {
		cfg, lb := testConfig(t, b)
		cfg.ClientID = "wakewordd-twin"
		sinks = append(sinks, start(t, cfg))
		logs = append(logs, lb)
	}
	time.Sleep(time.Second)
	for i, m := range sinks {
		// Backing off 20ms, 40ms, ... 200ms allows about 10 connections a second; without
		// it, hundreds.
		if n := m.Stats().Reconnects; n > 15 {
			t.Errorf("sink %d reconnected %d times in 1s", i, n)
		}
		if w := logs[i].count("level=WARN", "lost"); w > 2 {
			t.Errorf("sink %d: %d warnings", i, w)
		}
	}
}

func TestQueueDropsOldest(t *testing.T) {
	b := mqtttest.Start(t)
	b.Stop() // the broker is down when wakewordd starts
	cfg, lb := testConfig(t, b)
	cfg.QueueSize = 5
	m := start(t, cfg)
	for i := range 8 {
		m.Publish(event(i))
	}
	if st := m.Stats(); st.Queued != 5 || st.Dropped != 3 {
		t.Fatalf("stats %+v, want 5 queued and 3 dropped", st)
	}
	if lb.count("level=WARN", "queue full") != 1 {
		t.Error("queue full not warned once")
	}
	b.Restart()
	events := mqtttest.Subscribe(t, b, "wakewordd/kitchen/detected")
	// Subscribed after the restart: the sink may have delivered some already, so flush,
	// then check the last ones are the newest.
	flush(t, m)
	m.Publish(event(8))
	flush(t, m)
	var last string
	for {
		msg, ok := events.Next(time.Second)
		if !ok {
			break
		}
		var e struct{ ID string }
		json.Unmarshal(msg.Payload, &e)
		for i := range 3 {
			if e.ID == event(i).ID {
				t.Fatalf("dropped event %s delivered", e.ID)
			}
		}
		last = e.ID
	}
	if last != event(8).ID {
		t.Fatalf("last event %q", last)
	}
	if st := m.Stats(); st.Published != 6 || st.Dropped != 3 || st.Queued != 0 {
		t.Errorf("stats %+v", st)
	}
	if lb.count("level=WARN", "dropped=3") != 1 {
		t.Error("the number dropped not reported")
	}
}

func TestCloseMarksOffline(t *testing.T) {
	b := mqtttest.Start(t)
	cfg, _ := testConfig(t, b)
	m, err := NewMQTT(cfg)
	if err != nil {
		t.Fatal(err)
	}
	status := mqtttest.Subscribe(t, b, "wakewordd/kitchen/status")
	waitConnected(t, m)
	if msg := status.Wait(t, 1, 5*time.Second)[0]; string(msg.Payload) != "online" {
		t.Fatalf("status %v", msg)
	}
	events := mqtttest.Subscribe(t, b, "wakewordd/kitchen/detected")
	for i := range 10 {
		m.Publish(event(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	events.Wait(t, 10, 5*time.Second) // Close flushed them
	if msg := status.Wait(t, 1, 5*time.Second)[0]; string(msg.Payload) != "offline" {
		t.Fatalf("status after Close %v", msg)
	}
	late := mqtttest.Subscribe(t, b, "wakewordd/kitchen/status")
	if msg := late.Wait(t, 1, 5*time.Second)[0]; string(msg.Payload) != "offline" || !msg.Retained {
		t.Fatalf("late subscriber got %v, want retained offline", msg)
	}
	m.Publish(event(11))
	if st := m.Stats(); st.Dropped != 1 || st.Connected {
		t.Errorf("after Close: %+v", st)
	}
	if err := m.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCloseWithBrokerDownIsBounded(t *testing.T) {
	b := mqtttest.Start(t)
	b.Stop()
	cfg, _ := testConfig(t, b)
	m, err := NewMQTT(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Publish(event(0))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err = m.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "1 detections not delivered") {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("Close took %s", d)
	}
}

// The Last Will: a wakewordd that dies without closing is marked offline by the broker.
// The test binary itself plays the daemon, so that it can be SIGKILLed.
func TestWillMarksKilledDaemonOffline(t *testing.T) {
	if url := os.Getenv("PUBLISH_TEST_WILL_BROKER"); url != "" {
		m, err := NewMQTT(MQTTConfig{Broker: url, SiteID: "doomed", retryMin: 20 * time.Millisecond})
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		for !m.Stats().Connected {
			time.Sleep(5 * time.Millisecond)
		}
		fmt.Println("connected")
		time.Sleep(30 * time.Second) // until killed
		os.Exit(1)
	}
	b := mqtttest.Start(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestWillMarksKilledDaemonOffline$")
	cmd.Env = append(os.Environ(), "PUBLISH_TEST_WILL_BROKER="+b.URL())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l := <-lines:
		if l != "connected" {
			t.Fatalf("child said %q", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("child did not connect")
	}
	status := mqtttest.Subscribe(t, b, "wakewordd/doomed/status")
	if msg := status.Wait(t, 1, 5*time.Second)[0]; string(msg.Payload) != "online" {
		t.Fatalf("status %v", msg)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if msg := status.Wait(t, 1, 5*time.Second)[0]; string(msg.Payload) != "offline" {
		t.Fatalf("status after kill %v, want the will", msg)
	}
	late := mqtttest.Subscribe(t, b, "wakewordd/doomed/status")
	if msg := late.Wait(t, 1, 5*time.Second)[0]; string(msg.Payload) != "offline" || !msg.Retained {
		t.Fatalf("late subscriber got %v, want retained offline", msg)
	}
}

type toggle struct {
	kw string
	on bool
}

func toggleRecorder(cfg *MQTTConfig) chan toggle {
	ch := make(chan toggle, 100)
	cfg.OnToggle = func(kw string, on bool) { ch <- toggle{kw, on} }
	return ch
}

func nextToggle(t *testing.T, ch chan toggle) toggle {
	t.Helper()
	select {
	case tg := <-ch:
		return tg
	case <-time.After(5 * time.Second):
		t.Fatal("no toggle")
		return toggle{}
	}
}

func TestHermesToggles(t *testing.T) {
	b := mqtttest.Start(t)
	cfg, _ := testConfig(t, b)
	toggles := toggleRecorder(&cfg)
	m := start(t, cfg)
	waitConnected(t, m)

	b.Publish(t, "hermes/hotword/toggleOff", []byte(`{"siteId":"living_room","reason":"dialogueSession"}`), false)
	b.Publish(t, "hermes/hotword/toggleOff", []byte(`{"reason":"dialogueSession"}`), false) // site "default"
	b.Publish(t, "hermes/hotword/toggleOff", []byte(`{"siteId":"kitchen","reason":"dialogueSession"}`), false)
	if tg := nextToggle(t, toggles); tg != (toggle{"", false}) {
		t.Fatalf("got %+v, want all keywords off (and nothing for other sites)", tg)
	}
	b.Publish(t, "hermes/hotword/toggleOn", []byte(`{"siteId":"kitchen","reason":"dialogueSession"}`), false)
	if tg := nextToggle(t, toggles); tg != (toggle{"", true}) {
		t.Fatalf("got %+v, want all keywords on", tg)
	}

	// Without Hermes, nobody listens there.
	cfg2, _ := testConfig(t, b)
	cfg2.Hermes, cfg2.SiteID = false, "default"
	toggles2 := toggleRecorder(&cfg2)
	m2 := start(t, cfg2)
	waitConnected(t, m2)
	flush(t, m2)
	b.Publish(t, "hermes/hotword/toggleOff", []byte(`{}`), false)
	b.Publish(t, "wakewordd/default/keyword/alexa/set", []byte(`OFF`), false)
	if tg := nextToggle(t, toggles2); tg != (toggle{"alexa", false}) {
		t.Fatalf("got %+v with hermes off", tg)
	}
}

func TestKeywordToggles(t *testing.T) {
	b := mqtttest.Start(t)
	cfg, _ := testConfig(t, b)
	toggles := toggleRecorder(&cfg)
	m := start(t, cfg)
	waitConnected(t, m)
	for _, tc := range []struct {
		kw, payload string
		on          bool
	}{{"alexa", "OFF", false}, {"alexa", "on", true}, {"marvin", "false", false}, {"marvin", "1", true}} {
		b.Publish(t, "wakewordd/kitchen/keyword/"+tc.kw+"/set", []byte(tc.payload), false)
		if tg := nextToggle(t, toggles); tg != (toggle{tc.kw, tc.on}) {
			t.Fatalf("%s %s: got %+v", tc.kw, tc.payload, tg)
		}
	}
	b.Publish(t, "wakewordd/other/keyword/alexa/set", []byte("OFF"), false)
	b.Publish(t, "wakewordd/kitchen/keyword/alexa/set", []byte("OFF"), false)
	if tg := nextToggle(t, toggles); tg != (toggle{"alexa", false}) {
		t.Fatalf("got %+v: another site's switch acted", tg)
	}
}

// Malformed commands are logged with their topic and ignored; the client keeps working.
func TestMalformedPayloadsIgnored(t *testing.T) {
	b := mqtttest.Start(t)
	cfg, lb := testConfig(t, b)
	toggles := toggleRecorder(&cfg)
	m := start(t, cfg)
	waitConnected(t, m)
	bad := []struct{ topic, payload, reason string }{
		{"wakewordd/kitchen/keyword/alexa/set", "maybe", "want ON or OFF"},
		{"wakewordd/kitchen/keyword/alexa/set", "", "want ON or OFF"},
		{"wakewordd/kitchen/keyword//set", "ON", "no keyword"},
		{"wakewordd/kitchen/keyword/alexa/set", strings.Repeat("O", MaxPayload+1), "limit"},
		{"hermes/hotword/toggleOff", `{"siteId":`, "bad JSON"},
		{"hermes/hotword/toggleOff", `{"siteId":42}`, "siteId must be a string"},
		{"hermes/hotword/toggleOn", `"kitchen"`, "want a JSON object"},
		{"hermes/hotword/toggleOn", "\xff\xfe", "want a JSON object"},
		{"hermes/hotword/toggleOn", `{"siteId":"kitchen","pad":"` + strings.Repeat("x", MaxPayload) + `"}`, "limit"},
		{"homeassistant/status", "{}", "want online or offline"},
	}
	for _, tc := range bad {
		b.Publish(t, tc.topic, []byte(tc.payload), false)
	}
	b.Publish(t, "wakewordd/kitchen/keyword/alexa/set", []byte("OFF"), false)
	if tg := nextToggle(t, toggles); tg != (toggle{"alexa", false}) {
		t.Fatalf("got %+v", tg)
	}
	for _, tc := range bad {
		if lb.count("level=WARN", "malformed", "topic="+tc.topic, tc.reason) == 0 {
			t.Errorf("no warning for %s %.20q (%s)", tc.topic, tc.payload, tc.reason)
		}
	}
	events := mqtttest.Subscribe(t, b, "wakewordd/kitchen/detected")
	m.Publish(event(1))
	flush(t, m)
	events.Wait(t, 1, 5*time.Second)
	if st := m.Stats(); !st.Connected || st.Reconnects != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestTLSWithClientCertificate(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.WithTLS())
	events := mqtttest.Subscribe(t, b, "wakewordd/kitchen/detected")
	cfg, _ := testConfig(t, b)
	m := start(t, cfg)
	m.Publish(event(1))
	flush(t, m)
	events.Wait(t, 1, 5*time.Second)

	// A CA that did not sign the broker's certificate: no connection, and the log says why.
	wrong, lb := testConfig(t, b)
	wrong.CAFile = writeCA(t)
	w := start(t, wrong)
	waitFor(t, "certificate error", func() bool { return lb.count("level=WARN", "cannot connect", "certificate") > 0 })
	if w.Stats().Connected {
		t.Fatal("connected with the wrong CA")
	}
	// The broker requires a client certificate.
	nocert, lb2 := testConfig(t, b)
	nocert.CertFile, nocert.KeyFile = "", ""
	n := start(t, nocert)
	waitFor(t, "refusal", func() bool { return lb2.count("level=WARN", "cannot connect") > 0 })
	if n.Stats().Connected {
		t.Fatal("connected without a client certificate")
	}
}

// writeCA writes a self-signed CA certificate that signed nothing.
func writeCA(t *testing.T) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUsernameAndPasswordFile(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.WithPassword("satellite", "correct horse"))
	events := mqtttest.Subscribe(t, b, "wakewordd/kitchen/detected")
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	os.WriteFile(good, []byte("correct horse\n"), 0o600)
	os.WriteFile(bad, []byte("battery staple\n"), 0o600)

	cfg, _ := testConfig(t, b)
	cfg.Username, cfg.PasswordFile = "satellite", good
	m := start(t, cfg)
	m.Publish(event(1))
	flush(t, m)
	events.Wait(t, 1, 5*time.Second)

	wrong, lb := testConfig(t, b)
	wrong.Username, wrong.PasswordFile = "satellite", bad
	w := start(t, wrong)
	waitFor(t, "refusal", func() bool { return lb.count("level=WARN", "cannot connect", "not Authorized") > 0 })
	if w.Stats().Connected {
		t.Fatal("connected with a wrong password")
	}
}

func TestRemoveDiscovery(t *testing.T) {
	b := mqtttest.Start(t)
	cfg, _ := testConfig(t, b)
	m := start(t, cfg)
	waitConnected(t, m)
	flush(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	disc := mqtttest.Subscribe(t, b, "homeassistant/#")
	disc.Wait(t, 1, 5*time.Second) // retained config
	status := mqtttest.Subscribe(t, b, "wakewordd/kitchen/status")
	status.Wait(t, 1, 5*time.Second) // retained offline

	if err := RemoveDiscovery(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	// Subscribers see the empty payloads; new ones see nothing retained.
	if msg := disc.Wait(t, 1, 5*time.Second)[0]; len(msg.Payload) != 0 {
		t.Fatalf("got %v, want the empty payload", msg)
	}
	status.Wait(t, 1, 5*time.Second)
	for _, topic := range []string{"homeassistant/#", "wakewordd/#"} {
		expectNothing(t, mqtttest.Subscribe(t, b, topic), 100*time.Millisecond)
	}

	b.Stop()
	short, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	err := RemoveDiscovery(short, cfg)
	if err == nil || !strings.Contains(err.Error(), b.URL()) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("with the broker down: %v", err)
	}
}

func TestNewMQTTConfigErrors(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := file("empty", "\n")
	notPEM := file("notpem", "hello\n")
	ca := writeCA(t)
	tb := mqtttest.Start(t, mqtttest.WithTLS())
	tb.Stop()
	base := MQTTConfig{Broker: "tcp://127.0.0.1:1", SiteID: "kitchen"}
	tlsBase := MQTTConfig{Broker: "ssl://127.0.0.1:1", SiteID: "kitchen"}
	for _, tc := range []struct {
		name string
		edit func(*MQTTConfig)
		want string
	}{
		{"no broker", func(c *MQTTConfig) { c.Broker = "" }, "mqtt: no broker URL"},
		{"scheme", func(c *MQTTConfig) { c.Broker = "http://h" }, `mqtt: broker "http://h": scheme must be tcp, ssl, mqtt, mqtts, ws or wss`},
		{"no scheme", func(c *MQTTConfig) { c.Broker = "broker.lan:1883" }, `mqtt: broker "broker.lan:1883": scheme must be`},
		{"no host", func(c *MQTTConfig) { c.Broker = "tcp://:1883" }, `mqtt: broker "tcp://:1883": no host`},
		{"bad URL", func(c *MQTTConfig) { c.Broker = "tcp://[::1" }, `mqtt: broker "tcp://[::1": missing ']' in host`},
		{"site", func(c *MQTTConfig) { c.SiteID = "a/b" }, `mqtt: site id "a/b"`},
		{"no site", func(c *MQTTConfig) { c.SiteID = "" }, `mqtt: site id ""`},
		{"prefix", func(c *MQTTConfig) { c.TopicPrefix = "a/#" }, "mqtt: topic_prefix \"a/#\" must not contain the MQTT wildcards"},
		{"discovery prefix", func(c *MQTTConfig) { c.DiscoveryPrefix = "ha/" }, "mqtt: discovery_prefix \"ha/\" must not start or end with '/'"},
		{"queue", func(c *MQTTConfig) { c.QueueSize = -1 }, "mqtt: queue size -1 is negative"},
		{"keepalive", func(c *MQTTConfig) { c.KeepAlive = time.Millisecond }, "mqtt: keepalive 1ms outside"},
		{"password without user", func(c *MQTTConfig) { c.PasswordFile = empty }, "mqtt: password_file needs a username"},
		{"missing password file", func(c *MQTTConfig) { c.Username, c.PasswordFile = "u", filepath.Join(dir, "nope") }, "mqtt: password_file: open " + filepath.Join(dir, "nope") + ": no such file"},
		{"empty password", func(c *MQTTConfig) { c.Username, c.PasswordFile = "u", empty }, "mqtt: password_file " + empty + " is empty"},
		{"TLS file on tcp", func(c *MQTTConfig) { c.CAFile = ca }, "mqtt: TLS files given, but broker tcp://127.0.0.1:1 is not a TLS URL"},
	} {
		cfg := base
		tc.edit(&cfg)
		_, err := NewMQTT(cfg)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		edit func(*MQTTConfig)
		want string
	}{
		{"missing CA", func(c *MQTTConfig) { c.CAFile = filepath.Join(dir, "ca.pem") }, "mqtt: tls ca_file: open " + filepath.Join(dir, "ca.pem")},
		{"CA not PEM", func(c *MQTTConfig) { c.CAFile = notPEM }, "mqtt: tls ca_file " + notPEM + ": no PEM certificate in it"},
		{"cert without key", func(c *MQTTConfig) { c.CertFile = tb.CertFile }, "mqtt: tls cert_file and key_file go together"},
		{"cert not PEM", func(c *MQTTConfig) { c.CertFile, c.KeyFile = notPEM, tb.KeyFile }, "mqtt: tls cert_file " + notPEM + ": no PEM certificate"},
		{"key is a cert", func(c *MQTTConfig) { c.CertFile, c.KeyFile = tb.CertFile, tb.CertFile }, "mqtt: tls key_file " + tb.CertFile + ": no PEM private key"},
		{"key of another cert", func(c *MQTTConfig) { c.CertFile, c.KeyFile = tb.CAFile, tb.KeyFile }, "mqtt: tls cert_file " + tb.CAFile + " with key_file " + tb.KeyFile + ": "},
		{"missing key", func(c *MQTTConfig) { c.CertFile, c.KeyFile = tb.CertFile, filepath.Join(dir, "k") }, "mqtt: tls key_file: open " + filepath.Join(dir, "k")},
	} {
		cfg := tlsBase
		tc.edit(&cfg)
		_, err := NewMQTT(cfg)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	// Valid, with the broker down: no error, it keeps trying.
	for _, u := range []string{"tcp://127.0.0.1:1", "mqtt://127.0.0.1", "mqtts://localhost", "ws://127.0.0.1:1/mqtt", "wss://127.0.0.1:1/mqtt"} {
		cfg := base
		cfg.Broker = u
		m, err := NewMQTT(cfg)
		if err != nil {
			t.Errorf("%s: %v", u, err)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := m.Close(ctx); err != nil {
			t.Errorf("%s: Close with nothing queued: %v", u, err)
		}
		cancel()
	}
}
