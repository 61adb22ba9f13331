package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wakewordd/wakewordd/internal/mqtttest"
)

// SIGHUP reloads the configuration: new detection rules and log level apply to the audio
// that follows, a bad file keeps the running configuration, and what needs a restart is
// named. The daemon used to die of it (exit 129), which systemd counts as a clean exit.
func TestSIGHUPReloads(t *testing.T) {
	k := kitchenFixture(t)
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	write := func(s string) {
		if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("log:\n  level: info\n")
	d := startDaemon(t, true, nil, "--config", cfg, "--model", k.model, "--input", "-", "--stats-interval", "100ms")
	d.feed(k.raw)
	d.waitAudio(k.seconds-0.2, 60*time.Second)
	if n := len(d.detections()); n != len(k.rawDets) {
		t.Fatalf("%d detections before the reload, detect gives %d", n, len(k.rawDets))
	}

	// Switch the first keyword off, change a restart-only key, and reload.
	first := k.rawDets[0].Keyword
	write("log:\n  level: debug\nmodel:\n  hop: 200ms\ndetect:\n  keywords:\n    " + first + ":\n      enabled: false\n")
	d.signal(syscall.SIGHUP)
	d.waitLog(10*time.Second, "the reload", 1, isMsg("reloaded the configuration (SIGHUP)"))
	warn := d.waitLog(10*time.Second, "the restart-only keys", 1, func(e logEntry) bool {
		return strings.HasPrefix(e.msg(), "reload (SIGHUP): these settings change only") && strings.Contains(e.line, "model")
	})
	if strings.Contains(warn[0].line, "detect") || strings.Contains(warn[0].line, "log") {
		t.Errorf("reloadable keys reported as needing a restart: %s", warn[0].line)
	}
	before := len(d.detections())
	d.feed(k.raw)
	d.waitAudio(2*k.seconds-0.2, 60*time.Second)
	var after []string
	for _, e := range d.detections()[before:] {
		after = append(after, e.str("keyword"))
	}
	want := 0
	for _, det := range k.rawDets {
		if det.Keyword != first {
			want++
		}
	}
	if len(after) != want || strings.Contains(strings.Join(after, ","), first) {
		t.Errorf("after switching %s off: detections %v, want the other %d", first, after, want)
	}
	if len(d.matching(func(e logEntry) bool { return e.str("level") == "DEBUG" })) == 0 {
		t.Error("no debug line after the reload to log.level debug")
	}

	// A bad file is refused; the daemon goes on with what it has.
	write("detect:\n  threshold: 7\n")
	d.signal(syscall.SIGHUP)
	d.waitLog(10*time.Second, "the refusal", 1, func(e logEntry) bool {
		return strings.HasPrefix(e.msg(), "reload (SIGHUP): configuration rejected") && strings.Contains(e.line, "detect.threshold")
	})
	d.stdin.Close()
	if code := d.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit %d after the input ended", code)
	}
	d.waitLog(time.Second, "the stop line", 1, isMsg("wakewordd stopped"))
}

// A SIGHUP that arrives while the daemon shuts down does not cut the shutdown short.
func TestSIGHUPDuringShutdown(t *testing.T) {
	k := kitchenFixture(t)
	d := startDaemon(t, true, nil, "--model", k.model, "--input", "-", "--stats-interval", "100ms")
	d.feed(k.raw[:len(k.raw)/4])
	d.waitLog(30*time.Second, "audio", 1, isMsg("audio flowing"))
	d.signal(syscall.SIGTERM)
	d.signal(syscall.SIGHUP)
	d.signal(syscall.SIGHUP)
	if code := d.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	d.waitLog(time.Second, "the stop line", 1, isMsg("wakewordd stopped"))
}

// `run --json-events | head -1`: the reader goes away after the first detection. The daemon
// used to die of SIGPIPE (exit 141) at the second, which never reached the broker, and the
// rest of the input was never read. Now it logs once, stops writing to stdout, and every
// detection still reaches MQTT.
func TestClosedStdoutKeepsDetecting(t *testing.T) {
	k := kitchenFixture(t)
	if len(k.fileDets) < 2 {
		t.Skip("the example needs two detections for this test")
	}
	b := mqtttest.Start(t)
	in := listen(t, b, "wakewordd/+/detected")
	cmd := exec.Command(binPath, "run", "--log-format", "json", "--model", k.model, "--input", kitchenPath,
		"--json-events", "--mqtt-broker", b.URL())
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	stdout.Close() // as head -1 does
	if err != nil || !strings.Contains(line, `"keyword"`) {
		t.Fatalf("first line %q, %v", line, err)
	}
	err = cmd.Wait()
	if err != nil {
		t.Fatalf("%v (SIGPIPE is exit 141 / signal: broken pipe)\n%s", err, stderr.String())
	}
	if n := strings.Count(stderr.String(), "stdout cannot be written any more"); n != 1 {
		t.Errorf("%d warnings about stdout, want 1\n%s", n, stderr.String())
	}
	in.waitFor(10*time.Second, "every detection at the broker", func(m []mqtttest.Msg) bool { return len(m) >= len(k.fileDets) })
	if !strings.Contains(stderr.String(), `"msg":"wakewordd stopped"`) {
		t.Errorf("no stop line:\n%s", stderr.String())
	}
}
