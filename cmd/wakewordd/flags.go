package main

import (
	"flag"

	"github.com/wakewordd/wakewordd/config"
)

// configFlag maps a flag to the config key it overrides.
type configFlag struct{ flag, key, usage string }

var configFlagTable = []configFlag{
	{"site-id", "site_id", "name of this satellite (config site_id)"},
	{"device", "audio.device", "input device: index or name substring; none = no microphone, a Wyoming server only (config audio.device)"},
	{"rate", "audio.rate", "capture rate in Hz, 0 = automatic (config audio.rate)"},
	{"channel", "audio.channel", "channel to use, -1 = mix down (config audio.channel)"},
	{"buffer", "audio.buffer", "audio held between capture and processing (config audio.buffer)"},
	{"lossless", "audio.lossless", "capture waits for processing instead of dropping audio (config audio.lossless)"},
	{"input", "audio.input", "read a WAV or FLAC file instead of a device; '-' reads raw s16le from stdin (config audio.input)"},
	{"realtime", "audio.realtime", "pace file input like a microphone (config audio.realtime)"},
	{"model", "model.path", "model file (config model.path)"},
	{"hop", "model.hop", "time between inferences, e.g. 100ms (config model.hop)"},
	{"dense", "model.dense", "run the dense reference forward pass, not the delta-pruned one (config model.dense)"},
	{"mlp", "model.mlp", "arithmetic of the MLPs: float32 or int8; default the model's (config model.mlp)"},
	{"gate", "model.gate", "streaming model that wakes the model, or none (config model.gate)"},
	{"threshold", "detect.threshold", "detection threshold for every keyword, 0-1, over the model's own (config detect.threshold)"},
	{"sensitivity", "detect.sensitivity", "sensitivity of every keyword, 0-1 through the model's calibration: 0.5 = the model's threshold, higher = fewer misses and more false alarms (config detect.sensitivity)"},
	{"log-level", "log.level", "debug, info, warn or error (config log.level)"},
	{"log-format", "log.format", "text or json (config log.format)"},
	{"stats-interval", "log.stats_interval", "how often to log statistics, 0 = never (config log.stats_interval)"},
	{"mqtt-broker", "mqtt.broker", "MQTT broker URL, e.g. tcp://localhost:1883; empty = no MQTT (config mqtt.broker)"},
	{"mqtt-username", "mqtt.username", "MQTT user name (config mqtt.username)"},
	{"mqtt-password-file", "mqtt.password_file", "file holding the MQTT password (config mqtt.password_file)"},
	{"wyoming", "wyoming.listen", "serve the Wyoming wake-word protocol at tcp://HOST:PORT (port 10400 by convention) or unix://PATH (config wyoming.listen)"},
	{"json-events", "output.json", "also write each detection to stdout as a JSON line (config output.json)"},
}

// overrideValue holds a flag's text until the config file has been read; isBool lets
// boolean keys be given as a bare --flag.
type overrideValue struct {
	s      string
	isBool bool
}

func (v *overrideValue) String() string     { return v.s }
func (v *overrideValue) Set(s string) error { v.s = s; return nil }
func (v *overrideValue) IsBoolFlag() bool   { return v.isBool }

// configFlags are --config plus flags that override single config keys.
type configFlags struct {
	path      string
	overrides map[string]*overrideValue // config key -> flag value, applied when the flag is set
	flagOf    map[string]string
}

// addConfigFlags registers --config and the override flags for the given config keys.
func addConfigFlags(fs *flag.FlagSet, keys ...string) *configFlags {
	f := &configFlags{overrides: map[string]*overrideValue{}, flagOf: map[string]string{}}
	fs.StringVar(&f.path, "config", "", "YAML config file (default "+config.DefaultPath+" if it exists)")
	for _, key := range keys {
		for _, cf := range configFlagTable {
			if cf.key == key {
				v := &overrideValue{isBool: config.IsBool(cf.key)}
				f.overrides[cf.key], f.flagOf[cf.key] = v, cf.flag
				fs.Var(v, cf.flag, cf.usage)
			}
		}
	}
	return f
}

// load reads the file, then applies the flags that were given, then validates, so that an
// error names whichever of the two set the bad value.
func (f *configFlags) load(fs *flag.FlagSet) (config.Config, *config.Source, error) {
	c, src, err := config.Load(f.path)
	if err != nil {
		return c, nil, err
	}
	set := flagsGiven(fs)
	for key, v := range f.overrides {
		name := f.flagOf[key]
		if !set[name] {
			continue
		}
		src.Overridden(key, name)
		if err := config.Set(&c, key, v.s); err != nil {
			return c, nil, src.Errorf(key, "%v", err)
		}
	}
	return c, src, c.Validate(src)
}

// flagsGiven is the set of flags given on the command line.
func flagsGiven(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	return set
}
