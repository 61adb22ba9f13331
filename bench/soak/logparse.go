package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// logLine is one line of `wakewordd run --log-format json` (log/slog's JSON handler):
// its time, level and message, and every attribute as decoded JSON.
type logLine struct {
	Time  time.Time
	Level string
	Msg   string
	f     map[string]any
}

// parseLogLine decodes one line of the daemon's log; ok is false for a line that is not
// a JSON object with a "msg" (Go runtime output, a panic).
func parseLogLine(b []byte) (l logLine, ok bool) {
	if err := json.Unmarshal(b, &l.f); err != nil || l.f == nil {
		return logLine{}, false
	}
	if l.Msg, ok = l.f["msg"].(string); !ok {
		return logLine{}, false
	}
	l.Level, _ = l.f["level"].(string)
	if s, _ := l.f["time"].(string); s != "" {
		l.Time, _ = time.Parse(time.RFC3339Nano, s)
	}
	return l, true
}

func (l logLine) str(k string) string {
	s, _ := l.f[k].(string)
	return s
}

func (l logLine) num(k string) float64 {
	v, _ := l.f[k].(float64)
	return v
}

// published is the MQTT sink's counters as the daemon logs them in its "published"
// attribute: "N delivered, N queued, N dropped, N reconnects".
type published struct {
	Delivered, Queued, Dropped, Reconnects int
}

func parsePublished(s string) (published, error) {
	var p published
	fields := map[string]*int{"delivered": &p.Delivered, "queued": &p.Queued, "dropped": &p.Dropped, "reconnects": &p.Reconnects}
	seen := 0
	for part := range strings.SplitSeq(s, ",") {
		num, name, ok := strings.Cut(strings.TrimSpace(part), " ")
		dst := fields[name]
		if !ok || dst == nil {
			return published{}, fmt.Errorf("published %q: unexpected part %q", s, part)
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			return published{}, fmt.Errorf("published %q: %q is not a count", s, num)
		}
		*dst = n
		seen++
	}
	if seen != len(fields) {
		return published{}, fmt.Errorf("published %q: want delivered, queued, dropped and reconnects", s)
	}
	return p, nil
}

// sample is one stats line of the daemon, with what the subscriber had received when
// the line was read.
type sample struct {
	WallS      float64 // seconds from the daemon's start to the line (its own clock)
	AudioS     float64
	RSSMiB     float64
	Goroutines int
	Detections int
	Pub        published
	Received   int // distinct events the subscriber had when the line was read
	Restarts   int // broker restarts begun before the line was read
}

// parseStats reads a "stats" line; start is the daemon's start (for WallS).
func parseStats(l logLine, start time.Time) (sample, error) {
	if l.Msg != "stats" {
		return sample{}, fmt.Errorf("not a stats line: %q", l.Msg)
	}
	for _, k := range []string{"audio_s", "rss_mib", "goroutines", "detections"} {
		if _, ok := l.f[k].(float64); !ok {
			return sample{}, fmt.Errorf("stats line without a number %s", k)
		}
	}
	p, err := parsePublished(l.str("published"))
	if err != nil {
		return sample{}, err
	}
	s := sample{AudioS: l.num("audio_s"), RSSMiB: l.num("rss_mib"), Goroutines: int(l.num("goroutines")),
		Detections: int(l.num("detections")), Pub: p}
	if !l.Time.IsZero() && !start.IsZero() {
		s.WallS = l.Time.Sub(start).Seconds()
	}
	return s, nil
}
