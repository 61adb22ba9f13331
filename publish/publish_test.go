package publish

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

var testTime = time.Date(2026, 11, 3, 7, 15, 42, 123456789, time.UTC)

func testEvent() Event {
	return Event{
		ID: "0b6f1a52-3c1d-4c84-9a53-5e1f0d1c2b3a", Keyword: "alexa", Score: 0.912345, SiteID: "kitchen",
		Time: testTime, StreamS: 12.3456, Model: "kwt-1", Threshold: 0.5,
	}
}

func TestNewID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !re.MatchString(id) {
			t.Fatalf("%q is not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("%q twice", id)
		}
		seen[id] = true
	}
}

func TestEventPayload(t *testing.T) {
	got := string(eventPayload(testEvent(), "other"))
	want := `{"id":"0b6f1a52-3c1d-4c84-9a53-5e1f0d1c2b3a","event_type":"alexa","keyword":"alexa","score":0.9123,` +
		`"site_id":"kitchen","timestamp":"2026-11-03T07:15:42.123Z","stream_s":12.346,"model":"kwt-1"}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	e := testEvent()
	e.SiteID, e.Score = "", math.NaN()
	e.Time = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))
	var m map[string]any
	if err := json.Unmarshal(eventPayload(e, "other"), &m); err != nil {
		t.Fatal(err)
	}
	if m["site_id"] != "other" || m["score"] != 0.0 || m["timestamp"] != "2026-01-02T03:04:05.000+01:00" {
		t.Fatalf("site from the sink, NaN as 0, zone kept: %v", m)
	}
}

func TestHermesPayload(t *testing.T) {
	got := string(hermesPayload(testEvent(), "other"))
	want := `{"modelId":"alexa","modelVersion":"","modelType":"personal","currentSensitivity":0.5,"siteId":"kitchen",` +
		`"sessionId":null,"sendAudioCaptured":null,"lang":null}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestDiscoveryPayload(t *testing.T) {
	tp := newTopics("wakewordd", "homeassistant", "kitchen")
	if tp.discovery != "homeassistant/event/wakewordd_kitchen/wakeword/config" {
		t.Fatalf("discovery topic %s", tp.discovery)
	}
	var d map[string]any
	if err := json.Unmarshal(discoveryPayload(tp, "kitchen", "kwt-1", "1.2.3", nil), &d); err != nil {
		t.Fatal(err)
	}
	if types, ok := d["event_types"].([]any); !ok || len(types) != 0 {
		t.Fatalf("event_types %v, want []", d["event_types"])
	}
	if err := json.Unmarshal(discoveryPayload(tp, "kitchen", "kwt-1", "1.2.3", []string{"alexa", "marvin"}), &d); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"name": "Wake word", "unique_id": "wakewordd_kitchen_wakeword", "event_types": []any{"alexa", "marvin"},
		"state_topic": "wakewordd/kitchen/detected", "availability_topic": "wakewordd/kitchen/status",
		"device": map[string]any{
			"identifiers": []any{"wakewordd_kitchen"}, "name": "wakewordd kitchen",
			"manufacturer": "wakewordd", "model": "kwt-1", "sw_version": "1.2.3",
		},
	}
	for k, v := range want {
		if g, _ := json.Marshal(d[k]); string(g) != mustJSON(v) {
			t.Errorf("%s = %s, want %s", k, g, mustJSON(v))
		}
	}
	if strings.Contains(string(discoveryPayload(tp, "kitchen", "", "", nil)), "~") {
		t.Error("abbreviated topics")
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestJSONLines(t *testing.T) {
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	j := NewJSONLines(bw)
	j.Publish(testEvent())
	e := testEvent()
	e.ID, e.Keyword = "", "marvin"
	j.Publish(e)
	if buf.Len() != 0 {
		t.Fatal("wrote through the buffer before Flush")
	}
	if err := j.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 || lines[0] != string(eventPayload(testEvent(), "")) {
		t.Fatalf("lines %q", lines)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &m); err != nil || m["event_type"] != "marvin" || len(m["id"].(string)) != 36 {
		t.Fatalf("second line %s (%v): want an id given", lines[1], err)
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, errors.New("broken pipe")
}

func TestJSONLinesReportsWriteErrors(t *testing.T) {
	w := &failWriter{}
	j := NewJSONLines(w)
	j.Publish(testEvent())
	j.Publish(testEvent())
	err := j.Flush(context.Background())
	if err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("Flush: %v", err)
	}
	if w.n != 1 {
		t.Fatalf("%d writes after the first failed, want none", w.n-1)
	}
}

type recordSink struct {
	events []Event
	err    error
}

func (r *recordSink) Publish(e Event)             { r.events = append(r.events, e) }
func (r *recordSink) Flush(context.Context) error { return r.err }
func (r *recordSink) Close(context.Context) error { return r.err }

func TestMulti(t *testing.T) {
	a, b := &recordSink{}, &recordSink{err: errors.New("b failed")}
	c := &recordSink{err: errors.New("c failed")}
	var s Sink = Multi{a, b, c}
	s.Publish(testEvent())
	if len(a.events) != 1 || len(b.events) != 1 || len(c.events) != 1 {
		t.Fatal("not every sink got the event")
	}
	for _, err := range []error{s.Flush(context.Background()), s.Close(context.Background())} {
		if err == nil || !strings.Contains(err.Error(), "b failed") || !strings.Contains(err.Error(), "c failed") {
			t.Fatalf("errors not joined: %v", err)
		}
	}
	if err := (Multi{a}).Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
