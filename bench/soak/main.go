// Command soak is the long soak as a benchmark: HOURS of audio through `wakewordd run
// --input -` faster than real time, publishing to a real mosquitto that is restarted every
// few minutes, while a subscriber with a persistent session counts what arrives.
//
//	go run ./bench/soak -hours 24 -out DIR      (bench/soak.sh 24 does this)
//
// The daemon is built fresh into DIR from the working tree, and the models are copied there
// first, so a model replaced during the run changes nothing. The audio is
// examples/kitchen.wav (two wake words in 19 s) repeated with a gain of ±2 dB varying from
// one repetition to the next, as the CI soak (cmd/wakewordd TestSoak) makes it, written to
// the daemon's stdin as raw s16le. The broker keeps its state on disk (persistence true)
// and is stopped with SIGTERM and started again on the same port every -restart-every of
// wall time, down for -down each time.
//
// It writes into DIR: daemon.log (the daemon's JSON log), mosquitto.log, soak.csv (every
// stats line: RSS, goroutines, the MQTT counters, what the subscriber had), restarts.csv,
// soak.png (RSS and goroutines against hours of audio), summary.txt and summary.json, and
// prints the summary. It exits 1 when a detection was lost anywhere between the detector
// and the subscriber (or the daemon failed), or when RSS or the goroutine count grew beyond
// the bounds it states; 2 when the soak could not run.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wakewordd/wakewordd/audio"
)

type options struct {
	hours        float64
	out          string
	restartEvery time.Duration
	down         time.Duration
	wav          string
	model, gate  string
	bin          string
	mosquitto    string
	timeout      time.Duration
	progress     time.Duration
	bounds       bounds
	daemonArgs   []string
}

const site = "soak"

func main() {
	o := options{bounds: defaultBounds}
	flag.Float64Var(&o.hours, "hours", 24, "hours of audio to push through the daemon")
	flag.StringVar(&o.out, "out", "", "folder for the binary, logs, CSV, plot and summary (required; created)")
	flag.DurationVar(&o.restartEvery, "restart-every", time.Minute, "restart the broker this often (wall time); 0 = never")
	flag.DurationVar(&o.down, "down", time.Second, "how long the broker stays down at each restart")
	flag.StringVar(&o.wav, "wav", "examples/kitchen.wav", "the recording to repeat")
	flag.StringVar(&o.model, "model", "models/kwt.safetensors", "window model (copied into -out)")
	flag.StringVar(&o.gate, "gate", "models/kwt-stream.safetensors", "gate model (copied into -out); none = no gate")
	flag.StringVar(&o.bin, "bin", "", "wakewordd binary to run instead of building ./cmd/wakewordd into -out")
	flag.StringVar(&o.mosquitto, "mosquitto", "", "mosquitto binary (default: mosquitto on PATH, then /usr/sbin/mosquitto)")
	flag.DurationVar(&o.timeout, "timeout", 4*time.Hour, "kill the daemon and fail after this much wall time")
	flag.DurationVar(&o.progress, "progress", 30*time.Second, "print a progress line this often")
	flag.Float64Var(&o.bounds.RSSGrowthMiB, "rss-growth-mib", defaultBounds.RSSGrowthMiB, "fail when RSS grows this much (MiB) or more from the second quarter's maximum to the last's ...")
	flag.Float64Var(&o.bounds.RSSGrowthFrac, "rss-growth-frac", defaultBounds.RSSGrowthFrac, "... or this fraction of the second quarter's maximum, whichever is larger")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./bench/soak -hours H -out DIR [flags] [-- extra wakewordd run flags]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	o.daemonArgs = flag.Args()
	if o.out == "" || !(o.hours > 0) {
		flag.Usage()
		os.Exit(2)
	}
	s, err := soak(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if !s.OK() {
		os.Exit(1)
	}
}

// soaker is the state of one soak while it runs.
type soaker struct {
	o     options
	start time.Time // the daemon's start

	mu        sync.Mutex
	samples   []sample
	detected  map[string]int
	stop      *stopLine
	warnings  map[string]int
	lastAudio float64
	inputEnd  time.Time // the daemon's "input ended; waiting for the broker" line
	flushS    float64
	restarts  []restart

	nRestarts atomic.Int64
	ev        *events
}

func soak(o options) (summary, error) {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return summary{}, err
	}
	out := func(name string) string { return filepath.Join(o.out, name) }
	var info []string // lines for the top of summary.txt
	note := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		info = append(info, line)
		fmt.Println(line)
	}
	command := os.Getenv("WAKEWORDD_SOAK_COMMAND") // set by bench/soak.sh
	if command == "" {
		command = "go run ./bench/soak " + strings.Join(os.Args[1:], " ")
	}
	note("command:     %s", command)
	note("started:     %s on %s, %d CPUs, load average %s", time.Now().UTC().Format(time.RFC3339), hostname(), runtime.NumCPU(), loadavg())

	bin := o.bin
	if bin == "" {
		bin = out("wakewordd")
		if err := build(bin); err != nil {
			return summary{}, err
		}
	}
	if v, err := exec.Command(bin, "version").Output(); err == nil {
		note("daemon:      %s: %s", bin, strings.TrimSpace(string(v)))
	}
	args := []string{"run", "--input", "-", "--site-id", site, "--stats-interval", "1s", "--log-format", "json"}
	for _, m := range []struct{ flag, path, name string }{{"--model", o.model, "kwt.safetensors"}, {"--gate", o.gate, "kwt-stream.safetensors"}} {
		if m.path == "none" {
			args = append(args, m.flag, "none")
			continue
		}
		sum, err := copyFile(m.path, out(m.name))
		if err != nil {
			return summary{}, err
		}
		note("model:       %s %s (sha256 %s), copied from %s", m.flag, out(m.name), sum[:16], m.path)
		args = append(args, m.flag, out(m.name))
	}
	// No /etc/wakewordd/config.yaml: the built-in defaults and the flags above only.
	if err := os.WriteFile(out("config.yaml"), []byte("# empty: the soak runs on the defaults and its flags\n"), 0o644); err != nil {
		return summary{}, err
	}
	args = append(args, "--config", out("config.yaml"))

	decoded, err := audio.DecodeFile(o.wav)
	if err != nil {
		return summary{}, err
	}
	seconds := float64(len(decoded)) / audio.TargetRate
	reps := int(math.Ceil(o.hours * 3600 / seconds))
	note("audio:       %s (%.2f s) x %d = %.2f h, gain within ±2 dB", o.wav, seconds, reps, float64(reps)*seconds/3600)

	brokerDir := out("broker")
	os.RemoveAll(brokerDir) // no session or message of an earlier soak
	if err := os.MkdirAll(brokerDir, 0o755); err != nil {
		return summary{}, err
	}
	mlog, err := os.Create(out("mosquitto.log"))
	if err != nil {
		return summary{}, err
	}
	defer mlog.Close()
	b, err := startBroker(o.mosquitto, brokerDir, &syncWriter{w: mlog})
	if err != nil {
		return summary{}, err
	}
	defer b.stop()
	note("broker:      %s %s, persistence in %s, restarted every %s (down %s)", b.bin, b.url(), brokerDir, o.restartEvery, o.down)

	s := &soaker{o: o, detected: map[string]int{}, warnings: map[string]int{}, ev: newEvents()}
	sub, err := subscribe(b.url(), "wakewordd/"+site+"/detected", s.ev)
	if err != nil {
		return summary{}, err
	}

	args = append(append(args, "--mqtt-broker", b.url()), o.daemonArgs...)
	home := out("home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return summary{}, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "JACK_NO_START_SERVER=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return summary{}, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return summary{}, err
	}
	dlog, err := os.Create(out("daemon.log"))
	if err != nil {
		return summary{}, err
	}
	defer dlog.Close()
	note("run:         %s %s", bin, strings.Join(args, " "))
	s.start = time.Now()
	if err := cmd.Start(); err != nil {
		return summary{}, err
	}
	var fedSamples atomic.Int64
	fed := make(chan error, 1)
	go func() {
		defer stdin.Close()
		for i := range reps {
			gain := math.Pow(10, 2*math.Sin(0.37*float64(i))/20)
			if _, err := stdin.Write(s16le(decoded, gain)); err != nil {
				fed <- fmt.Errorf("repetition %d: %w", i, err)
				return
			}
			fedSamples.Add(int64(len(decoded)))
		}
		fed <- nil
	}()
	logDone := make(chan error, 1)
	go func() { logDone <- s.readLog(stderr, dlog) }()
	exited := make(chan struct{})
	var waitErr error
	go func() { <-logDone; waitErr = cmd.Wait(); close(exited) }()

	ctx, cancel := context.WithCancel(context.Background())
	var loops sync.WaitGroup
	var restartErr atomic.Value
	if o.restartEvery > 0 {
		loops.Go(func() {
			if err := s.restartLoop(ctx, b); err != nil {
				restartErr.Store(err)
			}
		})
	}
	loops.Go(func() { s.progressLoop(ctx) })

	timedOut := false
	select {
	case <-exited:
	case <-time.After(o.timeout):
		timedOut = true
		cmd.Process.Kill()
		<-exited
	}
	wall := time.Since(s.start)
	cancel()
	loops.Wait() // a restart under way finishes: the broker is up from here on
	if err, _ := restartErr.Load().(error); err != nil {
		return summary{}, err
	}
	exit := 0
	if waitErr != nil {
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) {
			exit = ee.ExitCode()
		} else {
			return summary{}, waitErr
		}
	}
	if ferr := <-fed; ferr != nil {
		note("feeding:     %v", ferr)
	}
	if timedOut {
		note("timeout:     the daemon was killed after %s", o.timeout)
	}

	// Everything the daemon delivered reaches the subscriber within a minute.
	s.mu.Lock()
	want := 0
	for _, n := range s.detected {
		want += n
	}
	s.mu.Unlock()
	for deadline := time.Now().Add(time.Minute); s.ev.distinct() < want && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // duplicates still on their way
	sub.close()
	b.stop()

	s.mu.Lock()
	r := run{FedS: float64(fedSamples.Load()) / audio.TargetRate, Wall: wall, ExitCode: exit,
		Samples: s.samples, Detected: s.detected, Stop: s.stop, Restarts: s.restarts, Warnings: s.warnings, FlushS: s.flushS}
	s.mu.Unlock()
	r.Received, r.ReceivedMsgs, r.BadPayloads = s.ev.snapshot()
	sm := summarize(r, o.bounds)
	note("finished:    %s, load average %s", time.Now().UTC().Format(time.RFC3339), loadavg())

	if err := writeSamplesCSV(out("soak.csv"), r.Samples); err != nil {
		return sm, err
	}
	if err := writeRestartsCSV(out("restarts.csv"), r.Restarts); err != nil {
		return sm, err
	}
	title := fmt.Sprintf("WAKEWORDD SOAK: %.2f H OF AUDIO IN %s, %d BROKER RESTARTS", sm.AudioH, strings.ToUpper(wall.Round(time.Second).String()), sm.BrokerRestarts)
	if err := writePlot(out("soak.png"), title, r.Samples, r.Restarts); err != nil {
		return sm, err
	}
	text := strings.Join(info, "\n") + "\n" + sm.text(o.bounds)
	fmt.Print(sm.text(o.bounds))
	if err := os.WriteFile(out("summary.txt"), []byte(text), 0o644); err != nil {
		return sm, err
	}
	j, _ := json.MarshalIndent(struct {
		Info    []string `json:"info"`
		Summary summary  `json:"summary"`
		Bounds  bounds   `json:"bounds"`
	}{info, sm, o.bounds}, "", "  ")
	if err := os.WriteFile(out("summary.json"), append(j, '\n'), 0o644); err != nil {
		return sm, err
	}
	fmt.Printf("wrote %s: summary.txt, summary.json, soak.csv, soak.png, restarts.csv, daemon.log, mosquitto.log\n", o.out)
	return sm, nil
}

// readLog copies the daemon's log to w and records its stats, detections, warnings and
// stop line.
func (s *soaker) readLog(r io.Reader, w io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	for sc.Scan() {
		line := sc.Bytes()
		bw.Write(line)
		bw.WriteByte('\n')
		l, ok := parseLogLine(line)
		if !ok {
			continue
		}
		s.record(l)
	}
	return sc.Err()
}

func (s *soaker) record(l logLine) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case l.Msg == "detected":
		s.detected[l.str("keyword")]++
	case l.Msg == "stats":
		x, err := parseStats(l, s.start)
		if err != nil {
			s.warnings["soak: unreadable stats line: "+err.Error()]++
			return
		}
		x.Received = s.ev.distinct()
		x.Restarts = int(s.nRestarts.Load())
		s.samples = append(s.samples, x)
		s.lastAudio = x.AudioS
	case l.Msg == "wakewordd stopped":
		p, err := parsePublished(l.str("published"))
		if err != nil {
			s.warnings["soak: unreadable stop line: "+err.Error()]++
		}
		s.stop = &stopLine{AudioS: l.num("audio_s"), Detections: int(l.num("detections")), Pub: p}
		if !s.inputEnd.IsZero() && !l.Time.IsZero() {
			s.flushS = l.Time.Sub(s.inputEnd).Seconds()
		}
	case strings.HasPrefix(l.Msg, "input ended; waiting for the broker"):
		s.inputEnd = l.Time
	}
	if l.Level == "WARN" || l.Level == "ERROR" {
		s.warnings[l.Msg]++
	}
}

// restartLoop restarts the broker every o.restartEvery until ctx ends.
func (s *soaker) restartLoop(ctx context.Context, b *broker) error {
	t := time.NewTicker(s.o.restartEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		s.mu.Lock()
		r := restart{WallS: time.Since(s.start).Seconds(), AudioS: s.lastAudio}
		s.mu.Unlock()
		s.nRestarts.Add(1)
		away, err := b.restart(s.o.down)
		r.DownS = away.Seconds()
		s.mu.Lock()
		s.restarts = append(s.restarts, r)
		s.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

func (s *soaker) progressLoop(ctx context.Context) {
	t := time.NewTicker(s.o.progress)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		var x sample
		if len(s.samples) > 0 {
			x = s.samples[len(s.samples)-1]
		}
		det := 0
		for _, n := range s.detected {
			det += n
		}
		s.mu.Unlock()
		wall := time.Since(s.start)
		fmt.Printf("%s  %.2f h of audio (%.0fx real time), %d detected, %d delivered, %d queued, %d received, RSS %.1f MiB, %d goroutines, %d broker restarts\n",
			wall.Round(time.Second), x.AudioS/3600, x.AudioS/wall.Seconds(), det, x.Pub.Delivered, x.Pub.Queued, s.ev.distinct(), x.RSSMiB, x.Goroutines, s.nRestarts.Load())
	}
}

// s16le quantizes samples times gain to signed 16-bit little-endian, as `--input -` reads.
func s16le(samples []float32, gain float64) []byte {
	b := make([]byte, 2*len(samples))
	for i, x := range samples {
		v := math.Round(float64(x) * gain * 32768)
		binary.LittleEndian.PutUint16(b[2*i:], uint16(int16(max(-32768, min(32767, v)))))
	}
	return b
}

// build compiles ./cmd/wakewordd to bin, with the version scripts/version.sh gives.
func build(bin string) error {
	version := "dev"
	if v, err := exec.Command("scripts/version.sh").Output(); err == nil {
		version = strings.TrimSpace(string(v))
	}
	cmd := exec.Command("go", "build", "-ldflags=-X=main.version="+version, "-o", bin, "./cmd/wakewordd")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building the daemon (run from the repository root): %w", err)
	}
	return nil
}

// copyFile copies src to dst and returns the hex SHA-256 of the contents.
func copyFile(src, dst string) (string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		return "", err
	}
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:]), nil
}

func writeSamplesCSV(path string, ss []sample) error {
	rows := [][]string{{"wall_s", "audio_s", "audio_h", "rss_mib", "goroutines", "detections", "delivered", "queued", "dropped", "reconnects", "received", "broker_restarts"}}
	f := func(x float64, prec int) string { return strconv.FormatFloat(x, 'f', prec, 64) }
	for _, x := range ss {
		rows = append(rows, []string{f(x.WallS, 3), f(x.AudioS, 2), f(x.AudioS/3600, 5), f(x.RSSMiB, 1), strconv.Itoa(x.Goroutines),
			strconv.Itoa(x.Detections), strconv.Itoa(x.Pub.Delivered), strconv.Itoa(x.Pub.Queued), strconv.Itoa(x.Pub.Dropped),
			strconv.Itoa(x.Pub.Reconnects), strconv.Itoa(x.Received), strconv.Itoa(x.Restarts)})
	}
	return writeCSV(path, rows)
}

func writeRestartsCSV(path string, rs []restart) error {
	rows := [][]string{{"restart", "wall_s", "audio_s", "down_s"}}
	for i, r := range rs {
		rows = append(rows, []string{strconv.Itoa(i + 1), strconv.FormatFloat(r.WallS, 'f', 3, 64),
			strconv.FormatFloat(r.AudioS, 'f', 2, 64), strconv.FormatFloat(r.DownS, 'f', 3, 64)})
	}
	return writeCSV(path, rows)
}

func writeCSV(path string, rows [][]string) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(fh)
	w.WriteAll(rows)
	if err := w.Error(); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// syncWriter serializes writes from the broker's successive processes.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
