package publish

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"

	paho "github.com/eclipse/paho.mqtt.golang"
)

func TestParseSwitch(t *testing.T) {
	for _, tc := range []struct {
		in string
		on bool
	}{{"ON", true}, {"on", true}, {" On\n", true}, {"true", true}, {"1", true}, {"OFF", false}, {"off", false}, {"False", false}, {"0", false}} {
		on, err := parseSwitch([]byte(tc.in))
		if err != nil || on != tc.on {
			t.Errorf("%q: %v, %v; want %v", tc.in, on, err, tc.on)
		}
	}
	for _, in := range []string{"", "enable", "ONN", `"ON"`, "2", "o n", strings.Repeat("x", 100)} {
		if _, err := parseSwitch([]byte(in)); err == nil || !strings.Contains(err.Error(), "want ON or OFF") {
			t.Errorf("%q: %v, want an error", in, err)
		}
	}
	if _, err := parseSwitch(bytes.Repeat([]byte(" "), MaxPayload+1)); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("oversized: %v", err)
	}
}

func TestParseHermesToggle(t *testing.T) {
	for _, tc := range []struct{ in, site, reason string }{
		{`{"siteId":"kitchen","reason":"dialogueSession"}`, "kitchen", "dialogueSession"},
		{`{"siteId": "default"}`, "default", ""},
		{`{}`, "default", ""},
		{`{"siteId":null}`, "default", ""},
		{` {"reason": 3, "other": [1]} `, "default", "3"},
		{`{"siteId":""}`, "", ""},
	} {
		site, reason, err := parseHermesToggle([]byte(tc.in))
		if err != nil || site != tc.site || reason != tc.reason {
			t.Errorf("%s: %q, %q, %v; want %q, %q", tc.in, site, reason, err, tc.site, tc.reason)
		}
	}
	for _, tc := range []struct{ in, err string }{
		{``, "want a JSON object"},
		{`null`, "want a JSON object"},
		{`"kitchen"`, "want a JSON object"},
		{`[{"siteId":"kitchen"}]`, "want a JSON object"},
		{`{"siteId":`, "bad JSON"},
		{`{"siteId":"a"} {}`, "bad JSON"},
		{`{"siteId":5}`, "siteId must be a string, got a JSON number"},
		{`{"siteId":{"x":1}}`, "siteId must be a string, got a JSON object"},
		{`{"siteId":"` + strings.Repeat("a", MaxPayload) + `"}`, "limit"},
	} {
		if _, _, err := parseHermesToggle([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%.40s: %v, want %q", tc.in, err, tc.err)
		}
	}
}

func TestParseHAStatus(t *testing.T) {
	if on, err := parseHAStatus([]byte("online")); !on || err != nil {
		t.Errorf("online: %v %v", on, err)
	}
	if on, err := parseHAStatus([]byte("offline")); on || err != nil {
		t.Errorf("offline: %v %v", on, err)
	}
	if _, err := parseHAStatus([]byte("up")); err == nil {
		t.Error("up: no error")
	}
}

func TestKeywordOfTopic(t *testing.T) {
	tp := newTopics("home/wake", "ha", "kitchen")
	if kw, err := tp.keywordOf("home/wake/kitchen/keyword/hey_jarvis/set"); kw != "hey_jarvis" || err != nil {
		t.Errorf("%q %v", kw, err)
	}
	for _, topic := range []string{"home/wake/kitchen/keyword//set", "home/wake/kitchen/keyword/a/b/set", "x/keyword/a/set", "home/wake/kitchen/keyword/a"} {
		if _, err := tp.keywordOf(topic); err == nil {
			t.Errorf("%s: no error", topic)
		}
	}
}

func FuzzParseSwitch(f *testing.F) {
	for _, s := range []string{"ON", "off", " 1\n", "", "ón", "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		on, err := parseSwitch(p)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		w := strings.ToLower(string(bytes.TrimSpace(p)))
		if on != (w == "on" || w == "true" || w == "1") {
			t.Fatalf("%q -> %v", p, on)
		}
	})
}

func FuzzParseHermesToggle(f *testing.F) {
	for _, s := range []string{`{"siteId":"kitchen","reason":"ttsSay"}`, `{}`, `{"siteId":1}`, `[`, `null`, `{"siteId":"\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		site, _, err := parseHermesToggle(p)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		if !json.Valid(p) || !utf8.ValidString(site) {
			t.Fatalf("accepted %q (site %q)", p, site)
		}
	})
}

func FuzzParseHAStatus(f *testing.F) {
	for _, s := range []string{"online", "offline", "ONLINE ", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if _, err := parseHAStatus(p); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("error spans lines: %q", err)
		}
	})
}

// fakeMsg is an incoming message, for the handlers without a broker.
type fakeMsg struct {
	topic   string
	payload []byte
}

func (m fakeMsg) Duplicate() bool   { return false }
func (m fakeMsg) Qos() byte         { return 1 }
func (m fakeMsg) Retained() bool    { return false }
func (m fakeMsg) Topic() string     { return m.topic }
func (m fakeMsg) MessageID() uint16 { return 1 }
func (m fakeMsg) Payload() []byte   { return m.payload }
func (m fakeMsg) Ack()              {}

var _ paho.Message = fakeMsg{}

// Whatever arrives on a subscribed topic, the handlers log or act, never panic, and only a
// well-formed command reaches OnToggle.
func FuzzMessageHandlers(f *testing.F) {
	for _, s := range []struct {
		which          uint8
		topic, payload string
	}{
		{0, "wakewordd/kitchen/keyword/alexa/set", "OFF"},
		{0, "wakewordd/kitchen/keyword//set", "ON"},
		{1, hermesToggleOn, `{"siteId":"kitchen"}`},
		{2, hermesToggleOff, `{"siteId":"kitchen","reason":"dialogueSession"}`},
		{2, hermesToggleOff, `{"siteId":7}`},
		{3, "homeassistant/status", "offline"},
	} {
		f.Add(s.which, s.topic, []byte(s.payload))
	}
	f.Fuzz(func(t *testing.T, which uint8, topic string, p []byte) {
		var calls int
		m := &MQTT{
			cfg: MQTTConfig{SiteID: "kitchen", OnToggle: func(kw string, on bool) {
				calls++
				if kw != "" && !topicLevelOK(kw) {
					t.Fatalf("toggle for keyword %q", kw)
				}
			}},
			log:    slog.New(slog.DiscardHandler),
			topics: newTopics("wakewordd", "homeassistant", "kitchen"),
		}
		var h paho.MessageHandler
		switch which % 4 {
		case 0:
			h = m.handler(m.onKeywordSet)
		case 1:
			h = m.handler(m.onHermesToggle(true))
		case 2:
			h = m.handler(m.onHermesToggle(false))
		default:
			h = m.handler(m.onHAStatus) // "online" only asks the (absent) discoverer
		}
		h(nil, fakeMsg{topic, p})
		if calls > 1 {
			t.Fatalf("%d toggles for one message", calls)
		}
	})
}
