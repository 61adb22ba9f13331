// Package publish delivers detections: to an MQTT broker (a wakewordd event, Home
// Assistant discovery and availability, Rhasspy/Hermes hotword messages) and as JSON lines,
// behind one Sink interface.
//
// Sinks never block the audio path: Publish queues, and Flush and Close are where callers
// wait.
package publish

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"syscall"
	"time"
)

// Event is one detection as published.
type Event struct {
	ID        string    // unique event id (NewID); "" gets one when published
	Keyword   string    // the keyword that fired
	Score     float64   // smoothed posterior that fired
	SiteID    string    // "" = the sink's site
	Time      time.Time // wall clock of the detection; zero = when published
	StreamS   float64   // seconds from the start of the audio stream
	Model     string    // model name
	Threshold float64   // the keyword's threshold (Hermes currentSensitivity)
}

// NewID returns a random UUID (version 4), so that consumers can drop the duplicates an
// at-least-once delivery may bring.
func NewID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// filled gives e an id and a time if it has none, once, so that retries carry the same.
func (e Event) filled() Event {
	if e.ID == "" {
		e.ID = NewID()
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	return e
}

// Sink receives detections. Publish never blocks for long: it queues.
type Sink interface {
	Publish(Event)
	// Flush returns once every event published so far is delivered (for MQTT: acknowledged
	// by the broker) or ctx ends.
	Flush(ctx context.Context) error
	// Close flushes, bounded by ctx, then shuts down cleanly.
	Close(ctx context.Context) error
}

// Multi fans events out to several sinks.
type Multi []Sink

// Publish hands e to every sink.
func (m Multi) Publish(e Event) {
	for _, s := range m {
		s.Publish(e)
	}
}

// Flush flushes every sink, joining their errors.
func (m Multi) Flush(ctx context.Context) error {
	var errs []error
	for _, s := range m {
		errs = append(errs, s.Flush(ctx))
	}
	return errors.Join(errs...)
}

// Close closes every sink, joining their errors.
func (m Multi) Close(ctx context.Context) error {
	var errs []error
	for _, s := range m {
		errs = append(errs, s.Close(ctx))
	}
	return errors.Join(errs...)
}

// TimeLayout is RFC 3339 with milliseconds, as event timestamps are written.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// eventJSON is the wakewordd event payload. event_type is what a Home Assistant event
// entity keys on; the other keys become its attributes.
type eventJSON struct {
	ID        string  `json:"id"`
	EventType string  `json:"event_type"`
	Keyword   string  `json:"keyword"`
	Score     float64 `json:"score"`
	SiteID    string  `json:"site_id"`
	Timestamp string  `json:"timestamp"`
	StreamS   float64 `json:"stream_s"`
	Model     string  `json:"model"`
}

// eventPayload encodes e; site is used when e has none.
func eventPayload(e Event, site string) []byte {
	if e.SiteID != "" {
		site = e.SiteID
	}
	b, _ := json.Marshal(eventJSON{
		ID: e.ID, EventType: e.Keyword, Keyword: e.Keyword, Score: round(e.Score, 4), SiteID: site,
		Timestamp: e.Time.Format(TimeLayout), StreamS: round(e.StreamS, 3), Model: e.Model,
	})
	return b
}

// hermesJSON is Rhasspy's hermes/hotword/<keyword>/detected payload.
type hermesJSON struct {
	ModelID            string  `json:"modelId"`
	ModelVersion       string  `json:"modelVersion"`
	ModelType          string  `json:"modelType"`
	CurrentSensitivity float64 `json:"currentSensitivity"`
	SiteID             string  `json:"siteId"`
	SessionID          *string `json:"sessionId"`
	SendAudioCaptured  *bool   `json:"sendAudioCaptured"`
	Lang               *string `json:"lang"`
}

func hermesPayload(e Event, site string) []byte {
	if e.SiteID != "" {
		site = e.SiteID
	}
	b, _ := json.Marshal(hermesJSON{
		ModelID: e.Keyword, ModelType: "personal", CurrentSensitivity: round(e.Threshold, 4), SiteID: site,
	})
	return b
}

// round keeps payloads readable; non-finite values (which JSON cannot carry) become 0.
func round(v float64, digits int) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	s := math.Pow(10, float64(digits))
	return math.Round(v*s) / s
}

// JSONLines writes each event as one JSON object per line, with the keys of the MQTT
// event payload.
type JSONLines struct {
	// OnError, when set, hears the first write error, once: after it nothing more is
	// written (a reader that went away, as `| head -1` does, stays gone).
	OnError func(error)

	mu  sync.Mutex
	w   io.Writer
	err error // first write error, reported by Flush and Close unless the reader left
}

// NewJSONLines writes events to w, typically os.Stdout.
func NewJSONLines(w io.Writer) *JSONLines { return &JSONLines{w: w} }

// Publish writes e at once: a line on stdout is as cheap as queueing it.
func (j *JSONLines) Publish(e Event) {
	line := append(eventPayload(e.filled(), ""), '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return
	}
	if _, err := j.w.Write(line); err != nil {
		j.err = err
		if j.OnError != nil {
			j.OnError(err)
		}
	}
}

// Flush flushes a buffered writer and reports the first write error.
func (j *JSONLines) Flush(context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if f, ok := j.w.(interface{ Flush() error }); ok && j.err == nil {
		j.err = f.Flush()
	}
	if j.err != nil && !errors.Is(j.err, syscall.EPIPE) && !errors.Is(j.err, os.ErrClosed) {
		return fmt.Errorf("json lines: %w", j.err)
	}
	return nil // nobody reads any more: not a failure of the daemon
}

// Close flushes; the writer stays open (it is usually stdout).
func (j *JSONLines) Close(ctx context.Context) error { return j.Flush(ctx) }
