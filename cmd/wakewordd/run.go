package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/detect"
	"github.com/wakewordd/wakewordd/notify"
	"github.com/wakewordd/wakewordd/pipeline"
)

// runFlags are the config overrides plus the input selection that only makes sense on
// the command line.
type runFlags struct {
	*configFlags
	input      string
	inputRate  int
	inputChans int
	realtime   bool
}

func addRunFlags(fs *flag.FlagSet) *runFlags {
	f := &runFlags{configFlags: addConfigFlags(fs,
		"site_id", "audio.device", "audio.rate", "audio.channel", "audio.buffer", "audio.lossless",
		"model.path", "model.hop", "model.dense", "detect.threshold", "log.level", "log.format", "log.stats_interval")}
	fs.StringVar(&f.input, "input", "", "read a WAV or FLAC file instead of a device; '-' reads raw s16le from stdin")
	fs.IntVar(&f.inputRate, "input-rate", 16000, "sample rate of raw stdin input")
	fs.IntVar(&f.inputChans, "input-channels", 1, "channels of raw stdin input")
	fs.BoolVar(&f.realtime, "realtime", false, "pace file input like a microphone")
	return f
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(c.Level)) // validated already
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openInput opens the configured device, or the file or stdin given on the command line,
// always delivering 16 kHz mono. It also returns a description for logs and STATUS.
func openInput(c config.Config, f *runFlags, log *slog.Logger) (audio.Source, string, error) {
	var src audio.Source
	var desc string
	switch f.input {
	case "":
		capt, err := audio.OpenCapture(audio.CaptureOptions{
			Device: c.Audio.Device, Rate: c.Audio.Rate, Channel: c.Audio.Channel,
			Buffer: c.Audio.Buffer, Lossless: c.Audio.Lossless,
			Chatter: func(s string) { log.Debug("audio host libraries said", "output", s) },
		})
		if err != nil {
			return nil, "", err
		}
		src, desc = capt, fmt.Sprintf("%q", capt.Device().Name)
	case "-":
		raw, err := audio.NewRawS16LE(os.Stdin, f.inputRate, f.inputChans, c.Audio.Channel)
		if err != nil {
			return nil, "", err
		}
		src, desc = raw, "stdin"
	default:
		file, err := audio.OpenFile(f.input, audio.FileOptions{Channel: c.Audio.Channel, Realtime: f.realtime})
		if err != nil {
			return nil, "", err
		}
		src, desc = file, f.input
	}
	desc = fmt.Sprintf("%s @ %d Hz", desc, src.Rate())
	r, err := audio.Resample16k(src)
	if err != nil {
		src.Close()
		return nil, "", err
	}
	return r, desc, nil
}

func cmdRun(ctx context.Context, args []string, _ io.Writer) error {
	fs := newFlagSet("run", "[flags]")
	f := addRunFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("run: unexpected argument %q (files are given with --input)", fs.Arg(0))
	}
	c, src, err := f.load(fs)
	if err != nil {
		return err
	}
	return run(ctx, c, src, f, newLogger(c.Log, os.Stderr))
}

// run wires the daemon: model, input, frontend, detection, statistics and systemd
// supervision. The model is loaded before the device is opened, so a bad model file never
// holds a microphone. It returns nil when ctx is cancelled (SIGINT/SIGTERM) or a file
// input ends.
func run(ctx context.Context, c config.Config, csrc *config.Source, f *runFlags, log *slog.Logger) error {
	m, err := loadModel(c)
	if err != nil {
		return err
	}
	l, err := newListener(c, csrc, m)
	if err != nil {
		return err
	}
	var detections atomic.Uint64
	l.onDet = func(d detect.Detection) {
		detections.Add(1)
		log.Info("detected", "keyword", d.Keyword, "score", round(d.Score, 3), "stream_s", round(d.At.Seconds(), 2))
	}
	in, desc, err := openInput(c, f, log)
	if err != nil {
		return err
	}
	p, err := pipeline.New(in, m.Frontend, l.engine.PushFrame)
	if err != nil {
		in.Close()
		return err
	}
	log.Info("wakewordd started", "version", version, "site_id", c.SiteID, "input", desc,
		"model", m.Path, "inference", l.pass, "keywords", strings.Join(l.det.Enabled(), ","))

	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	err = supervise(ctx, p, &detections, c, desc, log, done)
	notify.Stopping()
	st := p.Stats()
	log.Info("wakewordd stopped", "audio_s", round(st.AudioSeconds(), 2), "frames", st.Frames,
		"detections", detections.Load(), "load", round(st.Load(), 5), "overruns", st.Audio.Overruns)
	return err
}

// supervise waits for the pipeline, logging statistics, keeping systemd's STATUS current
// and pinging the watchdog only while frames advance, so a hung pipeline gets restarted.
func supervise(ctx context.Context, p *pipeline.Pipeline, detections *atomic.Uint64, c config.Config, desc string, log *slog.Logger, done <-chan error) error {
	tick := 250 * time.Millisecond
	if wd := notify.WatchdogInterval(); wd > 0 && wd < tick {
		tick = wd
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	var ready bool
	var lastFrames, lastSamples uint64
	lastStats := time.Now()
	for {
		select {
		case err := <-done:
			return err
		case <-t.C:
		}
		st := p.Stats()
		if st.Frames > lastFrames {
			if !ready {
				ready = true
				notify.Ready()
				log.Info("audio flowing", "input", desc)
			}
			notify.Watchdog()
			lastFrames = st.Frames
		}
		if c.Log.Stats > 0 && time.Since(lastStats) >= c.Log.Stats {
			rms, peak := p.Level(st.Samples - lastSamples)
			lastSamples, lastStats = st.Samples, time.Now()
			log.Info("stats", "audio_s", round(st.AudioSeconds(), 2), "frames", st.Frames,
				"load", round(st.Load(), 5), "rms_dbfs", round(rms, 1), "peak_dbfs", round(peak, 1),
				"detections", detections.Load(), "overruns", st.Audio.Overruns, "device_overflows", st.Audio.DeviceOverflows)
			notify.Status(fmt.Sprintf("%s; %.0f s of audio; %d detections; load %.2f%%", desc, st.AudioSeconds(), detections.Load(), 100*st.Load()))
		}
		if ctx.Err() != nil {
			return <-done
		}
	}
}

// round keeps logs readable.
func round(v float64, digits int) float64 {
	s := math.Pow(10, float64(digits))
	return math.Round(v*s) / s
}
