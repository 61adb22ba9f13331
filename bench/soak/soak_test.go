package main

import (
	"encoding/csv"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Lines as `wakewordd run --log-format json` writes them.
const (
	statsJSON = `{"time":"2026-12-05T02:53:21.001557614Z","level":"INFO","msg":"stats","audio_s":195.84,"frames":19581,"load":0.00419,"rms_dbfs":-23.4,"peak_dbfs":-0.9,"detections":21,"overruns":0,"device_overflows":0,"published":"21 delivered, 3 queued, 1 dropped, 2 reconnects","wyoming":"-","rss_mib":26,"goroutines":18}`
	stopJSON  = `{"time":"2026-12-05T02:54:02.255471022Z","level":"INFO","msg":"wakewordd stopped","audio_s":1806.61,"frames":180659,"detections":192,"load":0.00508,"overruns":0,"published":"192 delivered, 0 queued, 0 dropped, 4 reconnects"}`
	flushJSON = `{"time":"2026-12-05T02:53:30.255471022Z","level":"INFO","msg":"input ended; waiting for the broker to take the queued detections","queued":49,"connected":false}`
	detJSON   = `{"time":"2026-12-05T02:53:20.898827337Z","level":"INFO","msg":"detected","keyword":"alexa","score":0.987,"stream_s":7.5}`
	warnJSON  = `{"time":"2026-12-05T02:53:24.807030556Z","level":"WARN","msg":"mqtt: connection lost soon after connecting, reconnecting","component":"mqtt","retry_in":1000000000}`
)

func TestParsePublished(t *testing.T) {
	p, err := parsePublished("21 delivered, 3 queued, 1 dropped, 2 reconnects")
	if err != nil || p != (published{Delivered: 21, Queued: 3, Dropped: 1, Reconnects: 2}) {
		t.Fatalf("got %+v, %v", p, err)
	}
	for _, bad := range []string{"", "-", "21 delivered", "21 delivered, 3 queued, 1 dropped", "x delivered, 0 queued, 0 dropped, 0 reconnects",
		"1 delivered, 0 queued, 0 dropped, 0 reconnects, 5 more"} {
		if _, err := parsePublished(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseStats(t *testing.T) {
	l, ok := parseLogLine([]byte(statsJSON))
	if !ok || l.Msg != "stats" || l.Level != "INFO" {
		t.Fatalf("parseLogLine: %+v %v", l, ok)
	}
	start := time.Date(2026, 12, 5, 2, 53, 20, 0, time.UTC)
	s, err := parseStats(l, start)
	if err != nil {
		t.Fatal(err)
	}
	want := sample{WallS: 1.001557614, AudioS: 195.84, RSSMiB: 26, Goroutines: 18, Detections: 21,
		Pub: published{Delivered: 21, Queued: 3, Dropped: 1, Reconnects: 2}}
	if d := s.WallS - want.WallS; d < -1e-6 || d > 1e-6 {
		t.Errorf("WallS %v, want %v", s.WallS, want.WallS)
	}
	s.WallS = want.WallS
	if s != want {
		t.Errorf("got %+v\nwant %+v", s, want)
	}
	for _, bad := range []string{detJSON, strings.Replace(statsJSON, `"rss_mib":26,`, "", 1),
		strings.Replace(statsJSON, `21 delivered`, `lots delivered`, 1)} {
		l, _ := parseLogLine([]byte(bad))
		if _, err := parseStats(l, start); err == nil {
			t.Errorf("no error for %s", bad)
		}
	}
	for _, junk := range []string{"", "panic: oops", `{"level":"INFO"}`, `[1,2]`, `{"msg":3}`} {
		if _, ok := parseLogLine([]byte(junk)); ok {
			t.Errorf("%q parsed as a log line", junk)
		}
	}
}

// The log reader counts detections per keyword, takes the stats, the stop line and the
// wait at the end, and counts warnings by message.
func TestRecord(t *testing.T) {
	s := &soaker{detected: map[string]int{}, warnings: map[string]int{}, ev: newEvents(),
		start: time.Date(2026, 12, 5, 2, 53, 20, 0, time.UTC)}
	s.ev.add([]byte(`{"id":"a","keyword":"alexa"}`))
	s.nRestarts.Add(2)
	log := strings.Join([]string{detJSON, "not json", statsJSON, warnJSON, warnJSON, detJSON,
		strings.Replace(detJSON, "alexa", "jarvis", 1), flushJSON, stopJSON}, "\n") + "\n"
	var copied strings.Builder
	if err := s.readLog(strings.NewReader(log), &copied); err != nil {
		t.Fatal(err)
	}
	if copied.String() != log {
		t.Errorf("the log copy differs:\n%s", copied.String())
	}
	if s.detected["alexa"] != 2 || s.detected["jarvis"] != 1 || len(s.detected) != 2 {
		t.Errorf("detected %v", s.detected)
	}
	if len(s.samples) != 1 || s.samples[0].Received != 1 || s.samples[0].Restarts != 2 || s.lastAudio != 195.84 {
		t.Errorf("samples %+v, last audio %v", s.samples, s.lastAudio)
	}
	if s.stop == nil || *s.stop != (stopLine{AudioS: 1806.61, Detections: 192, Pub: published{Delivered: 192, Reconnects: 4}}) {
		t.Errorf("stop %+v", s.stop)
	}
	if d := s.flushS - 32; d < -1e-6 || d > 1e-6 {
		t.Errorf("flush %v s, want 32", s.flushS)
	}
	if len(s.warnings) != 1 || s.warnings["mqtt: connection lost soon after connecting, reconnecting"] != 2 {
		t.Errorf("warnings %v", s.warnings)
	}
}

func TestEventsDeduplicate(t *testing.T) {
	e := newEvents()
	for _, p := range []string{`{"id":"1","keyword":"alexa"}`, `{"id":"2","keyword":"jarvis"}`, `{"id":"1","keyword":"alexa"}`,
		`{"id":"3","keyword":"alexa"}`, `not json`, `{"keyword":"alexa"}`} {
		e.add([]byte(p))
	}
	by, msgs, bad := e.snapshot()
	if e.distinct() != 3 || msgs != 6 || bad != 2 || by["alexa"] != 2 || by["jarvis"] != 1 {
		t.Errorf("distinct %d, messages %d, bad %d, by keyword %v", e.distinct(), msgs, bad, by)
	}
}

// flat is a soak in which nothing went wrong: 40 stats lines, RSS and goroutines steady
// (with a dip while the broker restarts), every detection delivered and received.
func flat() run {
	r := run{FedS: 3600, Wall: time.Minute, Detected: map[string]int{"alexa": 190, "jarvis": 191},
		Received: map[string]int{"alexa": 190, "jarvis": 191}, ReceivedMsgs: 390,
		Stop:     &stopLine{AudioS: 3600.01, Detections: 381, Pub: published{Delivered: 381, Reconnects: 3}},
		Restarts: []restart{{WallS: 20, AudioS: 1200, DownS: 1.1}, {WallS: 40, AudioS: 2400, DownS: 1.3}}}
	for i := range 40 {
		g := 18
		if i%10 == 5 {
			g = 8
		}
		r.Samples = append(r.Samples, sample{WallS: float64(i), AudioS: 90 * float64(i+1), RSSMiB: 26 + 0.01*float64(i%3), Goroutines: g})
	}
	return r
}

func TestSummarizePasses(t *testing.T) {
	s := summarize(flat(), defaultBounds)
	if !s.OK() {
		t.Fatalf("failures: %v", s.Failures)
	}
	if s.Detected != 381 || s.Delivered != 381 || s.Received != 381 || s.ReceivedMsgs != 390 || s.BrokerRestarts != 2 || s.MaxDownS != 1.3 {
		t.Errorf("%+v", s)
	}
	if s.RSSFirst != 26 || s.RSSMax < 26.019 || s.RSSMax > 26.021 || s.GoroutinesMin != 8 || s.GoroutinesMax != 18 ||
		s.GoroutinesModeSecondQ != 18 || s.GoroutinesModeLastQ != 18 || s.RSSAllowed != 5 || s.Speed < 60 || s.Speed > 60.001 {
		t.Errorf("%+v", s)
	}
	text := s.text(defaultBounds)
	for _, want := range []string{"381 made", "381 delivered", "381 received", "2 broker restarts", "PASS"} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
}

func TestSummarizeFails(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(*run)
		want   string
	}{
		{"exit status", func(r *run) { r.ExitCode = 1 }, "exited with status 1"},
		{"no stop line", func(r *run) { r.Stop = nil }, `no "wakewordd stopped" line`},
		{"audio short", func(r *run) { r.Stop.AudioS = 3500 }, "processed 3500.00 s of audio, fed 3600.00 s"},
		{"undelivered", func(r *run) { r.Stop.Pub.Delivered = 380 }, "delivered 380 of 381"},
		{"dropped", func(r *run) { r.Stop.Pub.Dropped = 2 }, "2 dropped"},
		{"stop count", func(r *run) { r.Stop.Detections = 382 }, "stop line counts 382"},
		{"not received", func(r *run) { r.Received["jarvis"] = 190 }, "jarvis: 191 detected, 190 distinct events received"},
		{"received unknown", func(r *run) { r.Received["snowboy"] = 1 }, "snowboy: 0 detected, 1 distinct"},
		{"bad payloads", func(r *run) { r.BadPayloads = 1 }, "1 received payloads were not events"},
		{"nothing", func(r *run) {
			r.Detected, r.Received, r.Stop.Detections, r.Stop.Pub.Delivered = map[string]int{}, map[string]int{}, 0, 0
		}, "nothing detected"},
		{"few stats", func(r *run) { r.Samples = r.Samples[:5] }, "5 stats lines"},
		{"rss grows", func(r *run) {
			for i := 30; i < 40; i++ {
				r.Samples[i].RSSMiB = 31.1
			}
		}, "RSS grew from 26.0 MiB"},
		{"goroutines grow", func(r *run) {
			for i := 30; i < 40; i++ {
				r.Samples[i].Goroutines = 19
			}
		}, "goroutines grew: 19 most often in the last quarter, 18 in the second"},
	} {
		r := flat()
		c.change(&r)
		s := summarize(r, defaultBounds)
		if s.OK() || !slices.ContainsFunc(s.Failures, func(f string) bool { return strings.Contains(f, c.want) }) {
			t.Errorf("%s: failures %q, want one with %q", c.name, s.Failures, c.want)
		}
		if !strings.Contains(s.text(defaultBounds), "FAIL: ") {
			t.Errorf("%s: the summary says no FAIL", c.name)
		}
	}
	// Growth under the bound passes; 10 % of a large RSS is the bound when above 5 MiB.
	r := flat()
	for i := range r.Samples {
		r.Samples[i].RSSMiB += 100
	}
	for i := 30; i < 40; i++ {
		r.Samples[i].RSSMiB = 135
	}
	if s := summarize(r, defaultBounds); !s.OK() || s.RSSAllowed < 12.6 || s.RSSAllowed > 12.61 {
		t.Errorf("9 MiB on 126 MiB: %v, allowed %v", s.Failures, s.RSSAllowed)
	}
}

func TestMode(t *testing.T) {
	for _, c := range []struct {
		xs   []int
		want int
	}{{nil, 0}, {[]int{5}, 5}, {[]int{18, 8, 18, 9}, 18}, {[]int{9, 8, 9, 8}, 8}} {
		if got := mode(c.xs); got != c.want {
			t.Errorf("mode(%v) = %d, want %d", c.xs, got, c.want)
		}
	}
}

func TestOutputs(t *testing.T) {
	dir := t.TempDir()
	r := flat()
	if err := writeSamplesCSV(filepath.Join(dir, "soak.csv"), r.Samples); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(filepath.Join(dir, "soak.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(fh).ReadAll()
	fh.Close()
	if err != nil || len(rows) != 41 || rows[0][3] != "rss_mib" || rows[0][4] != "goroutines" || rows[6][4] != "8" || rows[1][1] != "90.00" {
		t.Errorf("csv: %v %v", err, rows[:min(len(rows), 7)])
	}
	if err := writeRestartsCSV(filepath.Join(dir, "restarts.csv"), r.Restarts); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "restarts.csv")); string(b) != "restart,wall_s,audio_s,down_s\n1,20.000,1200.00,1.100\n2,40.000,2400.00,1.300\n" {
		t.Errorf("restarts.csv:\n%s", b)
	}
	for _, ss := range [][]sample{r.Samples, r.Samples[:1], nil} {
		path := filepath.Join(dir, "soak.png")
		if err := writePlot(path, "TEST", ss, r.Restarts); err != nil {
			t.Fatal(err)
		}
		fh, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(fh)
		fh.Close()
		if err != nil || img.Bounds().Dx() != 1300 {
			t.Errorf("%d samples: png %v", len(ss), err)
		}
	}
}

func TestBrokerConfig(t *testing.T) {
	c := brokerConfig(1883, "/x/broker", false)
	for _, want := range []string{"persistence true\n", "persistence_location /x/broker/\n", "listener 1883 127.0.0.1\n", "allow_anonymous true\n"} {
		if !strings.Contains(c, want) {
			t.Errorf("config lacks %q:\n%s", want, c)
		}
	}
	if strings.Contains(c, "user root") || !strings.Contains(brokerConfig(1883, "/x", true), "user root\n") {
		t.Errorf("user root only as root")
	}
}

func TestS16le(t *testing.T) {
	b := s16le([]float32{0, 0.5, -1, 1}, 2)
	want := []byte{0, 0, 0xff, 0x7f, 0, 0x80, 0xff, 0x7f} // 0, clipped 32767, clipped -32768, 32767
	if string(b) != string(want) {
		t.Errorf("% x, want % x", b, want)
	}
}
