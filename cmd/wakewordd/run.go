package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/frontend"
	"github.com/wakewordd/wakewordd/notify"
	"github.com/wakewordd/wakewordd/pipeline"
)

// runFlags are the command-line overrides of config keys plus the input selection that
// only makes sense on the command line.
type runFlags struct {
	configPath string
	input      string
	inputRate  int
	inputChans int
	realtime   bool
	overrides  map[string]*overrideValue // config key -> flag value, applied when the flag is set
}

// configFlag maps a flag to the config key it overrides.
type configFlag struct{ flag, key, usage string }

// overrideValue holds a flag's text until the config file has been read; isBool lets
// boolean keys be given as a bare --flag.
type overrideValue struct {
	s      string
	isBool bool
}

func (v *overrideValue) String() string     { return v.s }
func (v *overrideValue) Set(s string) error { v.s = s; return nil }
func (v *overrideValue) IsBoolFlag() bool   { return v.isBool }

var configFlags = []configFlag{
	{"site-id", "site_id", "name of this satellite (config site_id)"},
	{"device", "audio.device", "input device: index or name substring (config audio.device)"},
	{"rate", "audio.rate", "capture rate in Hz, 0 = automatic (config audio.rate)"},
	{"channel", "audio.channel", "channel to use, -1 = mix down (config audio.channel)"},
	{"buffer", "audio.buffer", "audio held between capture and processing (config audio.buffer)"},
	{"lossless", "audio.lossless", "capture waits for processing instead of dropping audio (config audio.lossless)"},
	{"log-level", "log.level", "debug, info, warn or error (config log.level)"},
	{"log-format", "log.format", "text or json (config log.format)"},
	{"stats-interval", "log.stats_interval", "how often to log statistics, 0 = never (config log.stats_interval)"},
}

func addRunFlags(fs *flag.FlagSet) *runFlags {
	f := &runFlags{overrides: map[string]*overrideValue{}}
	fs.StringVar(&f.configPath, "config", "", "YAML config file (default "+config.DefaultPath+" if it exists)")
	fs.StringVar(&f.input, "input", "", "read a WAV or FLAC file instead of a device; '-' reads raw s16le from stdin")
	fs.IntVar(&f.inputRate, "input-rate", 16000, "sample rate of raw stdin input")
	fs.IntVar(&f.inputChans, "input-channels", 1, "channels of raw stdin input")
	fs.BoolVar(&f.realtime, "realtime", false, "pace file input like a microphone")
	for _, cf := range configFlags {
		v := &overrideValue{isBool: cf.key == "audio.lossless"}
		f.overrides[cf.key] = v
		fs.Var(v, cf.flag, cf.usage)
	}
	return f
}

// loadConfig reads the file, then applies the flags that were given, then validates, so
// that an error names whichever of the two set the bad value.
func (f *runFlags) loadConfig(fs *flag.FlagSet) (config.Config, error) {
	c, src, err := config.Load(f.configPath)
	if err != nil {
		return c, err
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	for _, cf := range configFlags {
		if !set[cf.flag] {
			continue
		}
		v := f.overrides[cf.key].s
		src.Overridden(cf.key, cf.flag)
		if err := applyOverride(&c, cf.key, v); err != nil {
			return c, src.Errorf(cf.key, "%v", err)
		}
	}
	return c, c.Validate(src)
}

func applyOverride(c *config.Config, key, v string) error {
	var err error
	switch key {
	case "site_id":
		c.SiteID = v
	case "audio.device":
		c.Audio.Device = v
	case "audio.rate":
		c.Audio.Rate, err = strconv.Atoi(v)
	case "audio.channel":
		c.Audio.Channel, err = strconv.Atoi(v)
	case "audio.buffer":
		c.Audio.Buffer, err = time.ParseDuration(v)
	case "audio.lossless":
		c.Audio.Lossless, err = strconv.ParseBool(v)
	case "log.level":
		c.Log.Level = v
	case "log.format":
		c.Log.Format = v
	case "log.stats_interval":
		c.Log.Stats, err = time.ParseDuration(v)
	default:
		return fmt.Errorf("no flag for this key")
	}
	if err != nil {
		return fmt.Errorf("cannot parse %q", v)
	}
	return nil
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
	c, err := f.loadConfig(fs)
	if err != nil {
		return err
	}
	return run(ctx, c, f, newLogger(c.Log, os.Stderr))
}

// run wires the daemon: input, frontend, statistics and systemd supervision. It returns
// nil when ctx is cancelled (SIGINT/SIGTERM) or a file input ends.
func run(ctx context.Context, c config.Config, f *runFlags, log *slog.Logger) error {
	src, desc, err := openInput(c, f, log)
	if err != nil {
		return err
	}
	p, err := pipeline.New(src, frontend.DefaultParams(), nil)
	if err != nil {
		src.Close()
		return err
	}
	log.Info("wakewordd started", "version", version, "site_id", c.SiteID, "input", desc)

	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	err = supervise(ctx, p, c, desc, log, done)
	notify.Stopping()
	st := p.Stats()
	log.Info("wakewordd stopped", "audio_s", round(st.AudioSeconds(), 2), "frames", st.Frames,
		"load", round(st.Load(), 5), "overruns", st.Audio.Overruns)
	return err
}

// supervise waits for the pipeline, logging statistics, keeping systemd's STATUS current
// and pinging the watchdog only while frames advance, so a hung pipeline gets restarted.
func supervise(ctx context.Context, p *pipeline.Pipeline, c config.Config, desc string, log *slog.Logger, done <-chan error) error {
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
				"overruns", st.Audio.Overruns, "device_overflows", st.Audio.DeviceOverflows)
			notify.Status(fmt.Sprintf("%s; %.0f s of audio; 0 detections; load %.2f%%", desc, st.AudioSeconds(), 100*st.Load()))
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
