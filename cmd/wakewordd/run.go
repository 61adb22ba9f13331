package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/detect"
	"github.com/wakewordd/wakewordd/kernels"
	"github.com/wakewordd/wakewordd/listener"
	"github.com/wakewordd/wakewordd/notify"
	"github.com/wakewordd/wakewordd/pipeline"
	"github.com/wakewordd/wakewordd/wyoming"
)

// runFlags are the config overrides plus the input selection that only makes sense on
// the command line.
type runFlags struct {
	*configFlags
	inputRate  int
	inputChans int
	faultStall time.Duration
	cpuProfile string
	memProfile string
	reload     func() (config.Config, *config.Source, error) // the config again, for SIGHUP
	level      *slog.LevelVar                                // the log level SIGHUP may change
}

func addRunFlags(fs *flag.FlagSet) *runFlags {
	f := &runFlags{configFlags: addConfigFlags(fs,
		"site_id", "audio.device", "audio.rate", "audio.channel", "audio.buffer", "audio.lossless", "audio.input", "audio.realtime",
		"model.path", "model.hop", "model.dense", "model.mlp", "model.gate", "detect.threshold", "detect.sensitivity", "log.level", "log.format", "log.stats_interval",
		"mqtt.broker", "mqtt.username", "mqtt.password_file", "output.json", "wyoming.listen")}
	fs.IntVar(&f.inputRate, "input-rate", 16000, "sample rate of raw stdin input")
	fs.IntVar(&f.inputChans, "input-channels", 1, "channels of raw stdin input")
	fs.DurationVar(&f.faultStall, "fault-stall-after", 0, "testing only: hang the pipeline after this much audio, so that the systemd watchdog fires")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a pprof CPU profile of the run to this file")
	fs.StringVar(&f.memProfile, "memprofile", "", "write a pprof heap profile to this file on exit")
	return f
}

// newLogger logs at c's level, or at level's when given (a SIGHUP reload changes it).
func newLogger(c config.Log, w io.Writer, level *slog.LevelVar) *slog.Logger {
	if level == nil {
		level = new(slog.LevelVar)
	}
	level.Set(logLevel(c))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// deviceStall is how long a device may deliver nothing before it counts as lost: a real
// sound card delivers every few milliseconds, silent or not.
const deviceStall = 3 * time.Second

func openDevice(c config.Config, log *slog.Logger) (*audio.Capture, error) {
	return audio.OpenCapture(audio.CaptureOptions{
		Device: c.Audio.Device, Rate: c.Audio.Rate, Channel: c.Audio.Channel,
		Buffer: c.Audio.Buffer, Lossless: c.Audio.Lossless, StallTimeout: deviceStall,
		Chatter: func(s string) { log.Debug("audio host libraries said", "output", s) },
	})
}

// openInput opens the configured device, or the file or stdin given on the command line,
// always delivering 16 kHz mono. It also returns a description for logs and STATUS.
func openInput(ctx context.Context, c config.Config, f *runFlags, log *slog.Logger) (audio.Source, string, error) {
	var src audio.Source
	var desc string
	if c.Audio.Input != "" && c.Audio.Device != "" {
		log.Info("audio.device is not used while audio.input is set", "device", c.Audio.Device, "input", c.Audio.Input)
	}
	switch c.Audio.Input {
	case "":
		if c.Audio.NoMicrophone() {
			return audio.Idle(), "no microphone", nil
		}
		capt, err := openDevice(c, log)
		if err != nil {
			return nil, "", err
		}
		desc = fmt.Sprintf("%q @ %d Hz", capt.Device().Name, capt.Rate())
		first, err := audio.Resample16k(capt)
		if err != nil {
			capt.Close()
			return nil, "", err
		}
		// A device that goes away (a USB microphone pulled out) is reopened, at the same
		// selection, until it is back; the pipeline sees a gap, not an error.
		return audio.NewReopening(first, audio.ReopenOptions{
			Open: func() (audio.Source, error) {
				capt, err := openDevice(c, log)
				if err != nil {
					return nil, err
				}
				return audio.Resample16k(capt)
			},
			MinBackoff: 500 * time.Millisecond, MaxBackoff: 30 * time.Second,
			OnLost: func(err error) { log.Error("audio device lost; reopening it", "input", desc, "err", err) },
			OnRetry: func(attempt int, err error, wait time.Duration) {
				log.Warn("audio device still missing", "attempt", attempt, "err", err, "retry_in", wait)
			},
			OnReopened: func(attempt int) { log.Info("audio device reopened", "input", desc, "attempts", attempt) },
		}), desc, nil
	case "-":
		raw, err := audio.NewStdinS16LE(f.inputRate, f.inputChans, c.Audio.Channel)
		if err != nil {
			return nil, "", err
		}
		src, desc = raw, "stdin"
	default:
		// A FIFO waits for its writer, until SIGTERM or SIGINT.
		file, err := audio.OpenFileContext(ctx, c.Audio.Input, audio.FileOptions{Channel: c.Audio.Channel, Realtime: c.Audio.Realtime})
		if err != nil {
			return nil, "", err
		}
		if u, ok := file.(interface{ UntilEnd() bool }); ok && u.UntilEnd() {
			log.Debug("the WAV's data chunk declares more than the file holds (written to a pipe); reading it to its end", "input", c.Audio.Input)
		}
		src, desc = file, c.Audio.Input
	}
	desc = fmt.Sprintf("%s @ %d Hz", desc, src.Rate())
	r, err := audio.Resample16k(src)
	if err != nil {
		src.Close()
		return nil, "", err
	}
	return r, desc, nil
}

func cmdRun(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("run", "[flags]")
	f := addRunFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("run: unexpected argument %q (files are given with --input)", fs.Arg(0))
	}
	if given := flagsGiven(fs); given["device"] && given["input"] {
		return fmt.Errorf("run: --device and --input exclude each other: --input reads a file (or stdin, -) instead of a device")
	}
	c, src, err := f.load(fs)
	if err != nil {
		return err
	}
	stopProfiles, err := startProfiles(f.cpuProfile, f.memProfile)
	if err != nil {
		return err
	}
	f.level = new(slog.LevelVar)
	f.reload = func() (config.Config, *config.Source, error) { return f.load(fs) }
	err = run(ctx, c, src, f, newLogger(c.Log, os.Stderr, f.level), stdout)
	if perr := stopProfiles(); err == nil {
		err = perr
	}
	return err
}

// run wires the daemon: model, publishing, input, frontend, detection, statistics and
// systemd supervision. The model is loaded before the device is opened, so a bad model
// file never holds a microphone. It returns nil when ctx is cancelled (SIGINT/SIGTERM) or
// a file input has ended and every detection has been delivered.
func run(ctx context.Context, c config.Config, csrc *config.Source, f *runFlags, log *slog.Logger, stdout io.Writer) error {
	spec, err := listener.Load(c, csrc)
	if err != nil {
		return err
	}
	l, err := spec.New()
	if err != nil {
		return err
	}
	var wy *wyoming.Server // nil: none (its methods do nothing)
	if c.Wyoming.Listen != "" {
		if wy, err = wyoming.Listen(wyoming.FromConfig(c.Wyoming, spec, version, log.With("component", "wyoming"))); err != nil {
			return err
		}
		defer wy.Close()
	}
	m := spec.Model
	out, err := newOutputs(c, m, l.Detector, log, stdout)
	if err != nil {
		return err
	}
	// A closed stdout (`| head -1`) must not end the daemon: writes fail with EPIPE instead,
	// and the JSON lines stop while detection and MQTT go on.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	out.setPolicy(spec.Policy)
	if f.reload != nil {
		watchReload(ctx, f.reload, c, spec, l.Detector, f.level, log, out.reloaded)
	}
	var detections atomic.Uint64
	l.OnDetect = func(d detect.Detection) {
		if out.muted.Load() {
			log.Info("detected while hotword detection is off (Hermes toggleOff); not published", "keyword", d.Keyword, "score", round(d.Score, 3))
			return
		}
		detections.Add(1)
		log.Info("detected", "keyword", d.Keyword, "score", round(d.Score, 3), "stream_s", round(d.At.Seconds(), 2))
		out.publish(d)
	}
	in, desc, err := openInput(ctx, c, f, log)
	if err != nil {
		out.close(0, log)
		if ctx.Err() != nil {
			log.Info("wakewordd stopped before its input opened", "input", c.Audio.Input)
			return nil // SIGTERM or SIGINT while a FIFO had no writer: a clean stop
		}
		return err
	}
	onFrame := pipeline.FrameFunc(l.PushFrame)
	if f.faultStall > 0 {
		onFrame = stallAfter(ctx, f.faultStall, m.Frontend.FrameHop(), onFrame, log)
	}
	p, err := pipeline.New(in, m.Frontend, onFrame)
	if err != nil {
		in.Close()
		out.close(0, log)
		return err
	}
	log.Info("wakewordd started", "version", version, "site_id", c.SiteID, "input", desc,
		"model", m.Path, "inference", spec.Pass(), "mlp", mlpArithmetic(m), "kernels", kernels.Impl(), "keywords", strings.Join(l.Detector.Enabled(), ","), "thresholds", spec.Policy.Thresholds(), "outputs", out.describe())
	if err := kernels.EnvError(); err != nil {
		log.Warn("environment variable ignored", "error", err, "kernels", kernels.Impl())
	}
	for _, w := range spec.Policy.Warnings {
		log.Warn("threshold above the keyword's ceiling", "warning", w)
	}

	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	err = supervise(ctx, p, in, out, wy, &detections, c, desc, log, done)
	notify.Stopping()
	if err == nil && ctx.Err() == nil {
		// A file has ended: deliver everything before exiting (SIGTERM cuts the wait short).
		if ferr := out.flush(ctx, log); ferr != nil && ctx.Err() == nil {
			err = ferr
		}
	}
	out.close(5*time.Second, log)
	st := p.Stats()
	log.Info("wakewordd stopped", "audio_s", round(st.AudioSeconds(), 2), "frames", st.Frames,
		"detections", detections.Load(), "load", round(st.Load(), 5), "overruns", st.Audio.Overruns,
		"published", out.stats())
	return err
}

// stallAfter is the --fault-stall-after fault: after the given audio, the frame callback
// blocks (until shutdown), as a hung inference would, so that the watchdog test can see
// systemd restart the service.
func stallAfter(ctx context.Context, after, hop time.Duration, next pipeline.FrameFunc, log *slog.Logger) pipeline.FrameFunc {
	limit := uint64(after / hop)
	return func(i uint64, frame []float32) {
		if i == limit {
			log.Warn("fault injected: the pipeline stalls now (--fault-stall-after)", "after", after)
			<-ctx.Done()
			return
		}
		next(i, frame)
	}
}

// lostSource is a device input that can be away and being reopened.
type lostSource interface {
	Lost() (lost bool, attempts int, err error)
}

// supervise waits for the pipeline, logging statistics, keeping systemd's STATUS current
// and pinging the watchdog only while frames advance (or a lost device is being reopened,
// which is progress too), so that a hung pipeline gets restarted.
func supervise(ctx context.Context, p *pipeline.Pipeline, in audio.Source, out *outputs, wy *wyoming.Server, detections *atomic.Uint64, c config.Config, desc string, log *slog.Logger, done <-chan error) error {
	tick := 250 * time.Millisecond
	if wd := notify.WatchdogInterval(); wd > 0 && wd < tick {
		tick = wd
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	var ready bool
	var lastFrames, lastSamples uint64
	lastStats, lastStatus, lastStatusAt := time.Now(), "", time.Time{}
	for {
		select {
		case err := <-done:
			return err
		case <-t.C:
		}
		st := p.Stats()
		lost, attempts, lostErr := false, 0, error(nil)
		if ls, ok := in.(lostSource); ok {
			lost, attempts, lostErr = ls.Lost()
		}
		if st.Frames > lastFrames || (ready && lost) || (c.Audio.NoMicrophone() && wy.Alive()) {
			if !ready {
				ready = true
				notify.Ready()
				log.Info("audio flowing", "input", desc)
			}
			notify.Watchdog()
			lastFrames = st.Frames
		}
		status := fmt.Sprintf("%s; %.0f s of audio; %d detections; load %.2f%%%s%s", desc, st.AudioSeconds(), detections.Load(), 100*st.Load(), out.status(), wy.Status())
		if lost {
			status = fmt.Sprintf("audio device lost, reopening (%d attempts): %v; %s", attempts, lostErr, status)
		}
		if status != lastStatus && (lost || time.Since(lastStatusAt) >= time.Second) {
			notify.Status(status)
			lastStatus, lastStatusAt = status, time.Now()
		}
		if c.Log.Stats > 0 && time.Since(lastStats) >= c.Log.Stats {
			rms, peak := p.Level(st.Samples - lastSamples)
			lastSamples, lastStats = st.Samples, time.Now()
			log.Info("stats", "audio_s", round(st.AudioSeconds(), 2), "frames", st.Frames,
				"load", round(st.Load(), 5), "rms_dbfs", round(rms, 1), "peak_dbfs", round(peak, 1),
				"detections", detections.Load(), "overruns", st.Audio.Overruns, "device_overflows", st.Audio.DeviceOverflows,
				"published", out.stats(), "wyoming", wy.Summary(), "rss_mib", round(rssMiB(), 1), "goroutines", runtime.NumGoroutine())
		}
		if ctx.Err() != nil {
			return <-done
		}
	}
}

// rssMiB is the resident set size, for the stats line that long runs are watched by (0
// where /proc is missing).
func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, resident uint64
	if _, err := fmt.Sscan(string(b), &size, &resident); err != nil {
		return 0
	}
	return float64(resident*uint64(os.Getpagesize())) / (1 << 20)
}

// round keeps logs readable.
func round(v float64, digits int) float64 {
	s := math.Pow(10, float64(digits))
	return math.Round(v*s) / s
}
