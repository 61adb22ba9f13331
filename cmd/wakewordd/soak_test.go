package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/wakewordd/wakewordd/internal/mqtttest"
)

// soakHours is how much audio the soak test pushes through: WAKEWORDD_SOAK_HOURS, which
// scripts/test.sh sets to 2 in a step of its own (a plain `go test ./...` skips the soak).
func soakHours(t *testing.T) float64 {
	t.Helper()
	h := 0.0
	if s := os.Getenv("WAKEWORDD_SOAK_HOURS"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v <= 0 {
			t.Fatalf("WAKEWORDD_SOAK_HOURS=%q: want a positive number", s)
		}
		h = v
	}
	return h
}

// Hours of audio through stdin, faster than real time, with MQTT on: memory and goroutines
// stay flat and every detection reaches the broker. The audio is the example repeated with
// small gain changes, made as it is written, so that neither side holds it all.
func TestSoak(t *testing.T) {
	hours := soakHours(t)
	if testing.Short() || hours == 0 {
		t.Skip("pushes hours of audio through the daemon: set WAKEWORDD_SOAK_HOURS (scripts/test.sh runs 2)")
	}
	k := kitchenFixture(t)
	b := mqtttest.Start(t)
	const site = "soak"
	detected := "wakewordd/" + site + "/detected"
	ev := listen(t, b, detected)
	d := startDaemon(t, true, nil, "--model", k.model, "--input", "-", "--mqtt-broker", b.URL(), "--site-id", site,
		"--stats-interval", "1s")
	reps := int(math.Ceil(hours * 3600 / k.seconds))
	start := time.Now()
	fed := make(chan error, 1)
	go func() {
		defer d.stdin.Close()
		for i := range reps {
			// ±2 dB around the recording's level.
			gain := math.Pow(10, 2*math.Sin(0.37*float64(i))/20)
			if _, err := d.stdin.Write(s16le(k.samples, gain)); err != nil {
				fed <- fmt.Errorf("repetition %d: %w", i, err)
				return
			}
		}
		fed <- nil
	}()
	// A slow machine gets a clear message rather than the test binary's timeout panic.
	total := float64(reps) * k.seconds
	if deadline, ok := t.Deadline(); ok {
		e := d.waitAudio(min(60, total), 5*time.Minute)
		elapsed := time.Since(start)
		need := time.Duration(float64(elapsed) * total / e.num("audio_s"))
		if left := time.Until(deadline) + elapsed; need+30*time.Second > left {
			t.Fatalf("at %.1fx real time the soak needs about %s, and the test deadline leaves %s: run it with a longer -timeout (or set WAKEWORDD_SOAK_HOURS)",
				e.num("audio_s")/elapsed.Seconds(), need.Round(time.Second), left.Round(time.Second))
		}
	}
	if code := d.wait(max(10*time.Minute, time.Duration(hours*float64(time.Hour)/2))); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	wall := time.Since(start)
	if err := <-fed; err != nil {
		t.Fatalf("feeding: %v", err)
	}

	logged := d.detections()
	stop := d.waitLog(time.Second, "stop line", 1, isMsg("wakewordd stopped"))[0]
	audioS := stop.num("audio_s")
	if math.Abs(audioS-total) > 0.02 {
		t.Errorf("processed %.2f s of audio, fed %.2f s", audioS, total)
	}
	published := stop.delivered()
	if published != len(logged) {
		t.Errorf("the daemon counts %d delivered of %d detections: %s", published, len(logged), stop.line)
	}
	if len(logged) == 0 {
		t.Errorf("nothing detected in %d repetitions of the example", reps)
	}
	ids := map[string]bool{}
	received := 0
	ev.waitFor(time.Minute, "every detection", func(msgs []mqtttest.Msg) bool {
		for _, m := range msgs[received:] {
			var e event
			if json.Unmarshal(m.Payload, &e) == nil {
				ids[e.ID] = true
			}
		}
		received = len(msgs)
		return len(ids) >= len(logged)
	})
	ev.settle(300 * time.Millisecond)
	evs := events(t, ev.msgs, detected, site, k.name)
	if len(ids) != len(logged) {
		t.Errorf("%d distinct events received for %d detections", len(ids), len(logged))
	}

	stats := d.matching(isMsg("stats"))
	if len(stats) < 8 {
		t.Fatalf("%d stats lines; want at least 8 for quarters", len(stats))
	}
	q := len(stats) / 4
	maxRSS := func(lines []logEntry) float64 {
		m := 0.0
		for _, e := range lines {
			m = max(m, e.num("rss_mib"))
		}
		return m
	}
	second, last := stats[q:2*q], stats[3*q:]
	rss2, rss4 := maxRSS(second), maxRSS(last)
	if allowed := max(5, 0.1*rss2); rss4-rss2 >= allowed {
		t.Errorf("RSS grew from %.1f MiB (max of the second quarter) to %.1f MiB (max of the last), over %.1f MiB", rss2, rss4, allowed)
	}
	var g2 []int
	for _, e := range second {
		g2 = append(g2, int(e.num("goroutines")))
	}
	gEnd := int(stats[len(stats)-1].num("goroutines"))
	if !slices.Contains(g2, gEnd) || gEnd > slices.Max(g2) {
		t.Errorf("%d goroutines at the end; the second quarter had %v", gEnd, g2)
	}
	t.Logf("soak: %.2f h of audio in %s (%.1fx real time), RSS first/max/last %.1f/%.1f/%.1f MiB (second-quarter max %.1f, last-quarter max %.1f), goroutines second quarter %d-%d, end %d, detections %d published %d received %d (%d distinct)",
		audioS/3600, wall.Round(time.Second), audioS/wall.Seconds(),
		stats[0].num("rss_mib"), maxRSS(stats), stats[len(stats)-1].num("rss_mib"), rss2, rss4,
		slices.Min(g2), slices.Max(g2), gEnd, len(logged), published, len(evs), len(ids))
}
