package main

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// restart is one stop and start of the broker.
type restart struct {
	WallS  float64 // when the broker was stopped, from the daemon's start
	AudioS float64 // the daemon's audio at its last stats line before
	DownS  float64 // from the stop until the new broker accepted connections
}

// run is everything one soak observed.
type run struct {
	FedS     float64       // audio written to the daemon's stdin
	Wall     time.Duration // from the daemon's start to its exit
	ExitCode int           // the daemon's exit status (-1: killed or not started)
	Samples  []sample      // its stats lines, in order
	Detected map[string]int
	Stop     *stopLine // its "wakewordd stopped" line; nil if it never came
	// Received counts the distinct events (by id) the subscriber got, per keyword;
	// ReceivedMsgs every message, duplicates included; BadPayloads those it could not read.
	Received     map[string]int
	ReceivedMsgs int
	BadPayloads  int
	Restarts     []restart
	Warnings     map[string]int // the daemon's WARN and ERROR messages, counted
	// FlushS is how long the daemon waited, after its input ended, for the broker to take
	// the detections still queued (0 when none were).
	FlushS float64
}

// stopLine is the daemon's last line.
type stopLine struct {
	AudioS     float64
	Detections int
	Pub        published
}

// bounds are what the soak fails on besides lost detections.
type bounds struct {
	// RSS may grow from the second quarter's maximum to the last quarter's by less than
	// max(RSSGrowthMiB, RSSGrowthFrac of the second quarter's maximum).
	RSSGrowthMiB, RSSGrowthFrac float64
}

var defaultBounds = bounds{RSSGrowthMiB: 5, RSSGrowthFrac: 0.1}

// summary is the soak's figures and verdict.
type summary struct {
	AudioH, FedH float64
	Wall         time.Duration
	Speed        float64 // audio seconds per wall second
	ExitCode     int

	Detected       int            // "detected" lines in the daemon's log
	DetectedBy     map[string]int // per keyword
	StopDetections int            // the stop line's count
	Delivered      int            // the MQTT sink's count at the stop
	Queued         int
	Dropped        int
	Reconnects     int
	Received       int // distinct events the subscriber got
	ReceivedBy     map[string]int
	ReceivedMsgs   int // with duplicates
	BrokerRestarts int
	MaxDownS       float64
	FlushS         float64

	StatsLines                   int
	RSSFirst, RSSMax, RSSLast    float64
	RSSSecondQ, RSSLastQ         float64 // the maxima of the second and last quarters
	RSSAllowed                   float64 // the growth allowed between them
	GoroutinesMin, GoroutinesMax int
	GoroutinesModeSecondQ        int // the most frequent count in the second quarter
	GoroutinesModeLastQ          int
	GoroutinesLast               int
	Warnings                     map[string]int

	Failures []string
}

func (s summary) OK() bool { return len(s.Failures) == 0 }

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// mode is the most frequent value, the smaller one on a tie.
func mode(xs []int) int {
	count := map[int]int{}
	best, bestN := 0, 0
	for _, x := range xs {
		count[x]++
	}
	for _, x := range slices.Sorted(maps.Keys(count)) {
		if count[x] > bestN {
			best, bestN = x, count[x]
		}
	}
	return best
}

// summarize computes the figures of a soak and lists every reason to call it failed:
// the daemon did not exit 0, processed other than the audio fed, detected nothing, lost a
// detection between its detector, the broker and the subscriber (per keyword), or grew in
// memory (RSS, against b) or goroutines (the most frequent count of the last quarter above
// that of the second: a leak raises the steady state, while the broker's restarts only
// add short spikes).
func summarize(r run, b bounds) summary {
	s := summary{
		FedH: r.FedS / 3600, Wall: r.Wall, ExitCode: r.ExitCode,
		Detected: sum(r.Detected), DetectedBy: r.Detected,
		Received: sum(r.Received), ReceivedBy: r.Received, ReceivedMsgs: r.ReceivedMsgs,
		BrokerRestarts: len(r.Restarts), StatsLines: len(r.Samples), Warnings: r.Warnings, FlushS: r.FlushS,
	}
	fail := func(format string, args ...any) { s.Failures = append(s.Failures, fmt.Sprintf(format, args...)) }
	for _, x := range r.Restarts {
		s.MaxDownS = max(s.MaxDownS, x.DownS)
	}
	if r.ExitCode != 0 {
		fail("the daemon exited with status %d", r.ExitCode)
	}
	if r.Stop == nil {
		fail("no \"wakewordd stopped\" line in the daemon's log")
	} else {
		s.AudioH = r.Stop.AudioS / 3600
		s.StopDetections = r.Stop.Detections
		s.Delivered, s.Queued, s.Dropped, s.Reconnects = r.Stop.Pub.Delivered, r.Stop.Pub.Queued, r.Stop.Pub.Dropped, r.Stop.Pub.Reconnects
		if math.Abs(r.Stop.AudioS-r.FedS) > 0.02 {
			fail("processed %.2f s of audio, fed %.2f s", r.Stop.AudioS, r.FedS)
		}
		if s.StopDetections != s.Detected {
			fail("the stop line counts %d detections, the log has %d", s.StopDetections, s.Detected)
		}
		if s.Delivered != s.Detected {
			fail("the daemon delivered %d of %d detections", s.Delivered, s.Detected)
		}
		if s.Queued != 0 || s.Dropped != 0 {
			fail("the daemon stopped with %d detections queued and %d dropped", s.Queued, s.Dropped)
		}
	}
	if r.Wall > 0 && r.Stop != nil {
		s.Speed = r.Stop.AudioS / r.Wall.Seconds()
	}
	if s.Detected == 0 {
		fail("nothing detected")
	}
	for _, kw := range slices.Sorted(maps.Keys(mergeKeys(r.Detected, r.Received))) {
		if r.Detected[kw] != r.Received[kw] {
			fail("%s: %d detected, %d distinct events received", kw, r.Detected[kw], r.Received[kw])
		}
	}
	if r.BadPayloads > 0 {
		fail("%d received payloads were not events", r.BadPayloads)
	}

	if len(r.Samples) < 8 {
		fail("%d stats lines; at least 8 are needed to compare quarters", len(r.Samples))
		if len(r.Samples) == 0 {
			return s
		}
	}
	ss := r.Samples
	s.RSSFirst, s.RSSLast = ss[0].RSSMiB, ss[len(ss)-1].RSSMiB
	s.GoroutinesMin, s.GoroutinesMax, s.GoroutinesLast = ss[0].Goroutines, ss[0].Goroutines, ss[len(ss)-1].Goroutines
	for _, x := range ss {
		s.RSSMax = max(s.RSSMax, x.RSSMiB)
		s.GoroutinesMin = min(s.GoroutinesMin, x.Goroutines)
		s.GoroutinesMax = max(s.GoroutinesMax, x.Goroutines)
	}
	if len(ss) >= 8 {
		q := len(ss) / 4
		second, last := ss[q:2*q], ss[3*q:]
		var g2, g4 []int
		for _, x := range second {
			s.RSSSecondQ = max(s.RSSSecondQ, x.RSSMiB)
			g2 = append(g2, x.Goroutines)
		}
		for _, x := range last {
			s.RSSLastQ = max(s.RSSLastQ, x.RSSMiB)
			g4 = append(g4, x.Goroutines)
		}
		s.RSSAllowed = max(b.RSSGrowthMiB, b.RSSGrowthFrac*s.RSSSecondQ)
		if s.RSSLastQ-s.RSSSecondQ >= s.RSSAllowed {
			fail("RSS grew from %.1f MiB (maximum of the second quarter) to %.1f MiB (of the last), %.1f MiB or more", s.RSSSecondQ, s.RSSLastQ, s.RSSAllowed)
		}
		s.GoroutinesModeSecondQ, s.GoroutinesModeLastQ = mode(g2), mode(g4)
		if s.GoroutinesModeLastQ > s.GoroutinesModeSecondQ {
			fail("goroutines grew: %d most often in the last quarter, %d in the second", s.GoroutinesModeLastQ, s.GoroutinesModeSecondQ)
		}
	}
	return s
}

func mergeKeys(ms ...map[string]int) map[string]bool {
	keys := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			keys[k] = true
		}
	}
	return keys
}

func perKeyword(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// text is the summary as the soak prints it and writes it to summary.txt.
func (s summary) text(b bounds) string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format+"\n", args...) }
	p("audio:       %.2f h processed (%.2f h fed) in %s wall, %.0fx real time; exit status %d",
		s.AudioH, s.FedH, s.Wall.Round(time.Second), s.Speed, s.ExitCode)
	p("detections:  %d made (daemon log; stop line %d), %d delivered (daemon's count), %d received (distinct event ids; %d messages with duplicates)",
		s.Detected, s.StopDetections, s.Delivered, s.Received, s.ReceivedMsgs)
	p("  made:      %s", perKeyword(s.DetectedBy))
	p("  received:  %s", perKeyword(s.ReceivedBy))
	p("mqtt:        %d queued and %d dropped at the stop, %d reconnects; %d broker restarts (longest outage %.1f s); waited %.1f s at the end of the input for the broker",
		s.Queued, s.Dropped, s.Reconnects, s.BrokerRestarts, s.MaxDownS, s.FlushS)
	p("RSS:         first %.1f, max %.1f, last %.1f MiB; quarter maxima second %.1f, last %.1f (bound: growth under %.1f MiB = max(%g MiB, %g%%))",
		s.RSSFirst, s.RSSMax, s.RSSLast, s.RSSSecondQ, s.RSSLastQ, s.RSSAllowed, b.RSSGrowthMiB, 100*b.RSSGrowthFrac)
	p("goroutines:  %d-%d, last %d; most frequent in the second quarter %d, in the last %d (bound: not above the second's)",
		s.GoroutinesMin, s.GoroutinesMax, s.GoroutinesLast, s.GoroutinesModeSecondQ, s.GoroutinesModeLastQ)
	p("stats lines: %d", s.StatsLines)
	if len(s.Warnings) > 0 {
		p("daemon warnings and errors: %s", perKeyword(s.Warnings))
	}
	if s.OK() {
		p("PASS: nothing lost, memory and goroutines flat")
	} else {
		for _, f := range s.Failures {
			p("FAIL: %s", f)
		}
	}
	return w.String()
}
