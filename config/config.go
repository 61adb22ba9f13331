// Package config loads, overrides and validates the daemon's YAML configuration.
//
// Everything is checked before anything starts, and every error is a single line that names
// the file, the key (with its line when known) and the problem.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/wakewordd/wakewordd/internal/limited"
	"github.com/wakewordd/wakewordd/internal/logsafe"
)

// DefaultPath is read when no --config flag is given and the file exists.
const DefaultPath = "/etc/wakewordd/config.yaml"

// MaxSize bounds the config file; anything larger is not a hand-written config.
const MaxSize = 1 << 20

// Config is the whole configuration. Field comments are the documentation of record and
// are mirrored in configs/wakewordd.yaml.
type Config struct {
	SiteID  string  `yaml:"site_id"`
	Audio   Audio   `yaml:"audio"`
	Model   Model   `yaml:"model"`
	Detect  Detect  `yaml:"detect"`
	MQTT    MQTT    `yaml:"mqtt"`
	Output  Output  `yaml:"output"`
	Log     Log     `yaml:"log"`
	Wyoming Wyoming `yaml:"wyoming"`
}

// Model selects the keyword model and how often it runs.
type Model struct {
	// Path is the model file; "" searches DefaultModelPaths.
	Path string `yaml:"path"`
	// Hop is the time between inferences, a whole number of the model's frames up to 2s
	// (checked against the model: frontend.Params.CheckHop); nil uses the model's default.
	Hop *time.Duration `yaml:"hop"`
	// Dense runs the dense reference forward pass instead of the delta-pruned one.
	Dense bool `yaml:"dense"`
	// DeltaScale multiplies every delta threshold stored in the model (0 = exact, slower;
	// larger = fewer operations, less accuracy); nil = 1.
	DeltaScale *float64 `yaml:"delta_scale"`
	// Delta gives named sites (infer.DeltaSiteNames: qkv, scores, values, out, fc1, fc2;
	// checked against the model) one threshold for every layer, switching them on; it
	// replaces the model's thresholds of those sites (DeltaScale does not apply).
	Delta map[string]float64 `yaml:"delta"`
	// MLP is the arithmetic of the model's MLPs, "float32" or "int8"; "" = the model's
	// (its "mlp" metadata).
	MLP string `yaml:"mlp"`
	// Gate is a streaming model (Arch.Context > 0) that runs every frame once and wakes the
	// model above only while a keyword's posterior reaches GateThreshold (engine.Cascade).
	// "" = a default model (one of DefaultModelPaths) gets the default gate beside it (the
	// DefaultGatePaths entry of the same index) when that file exists, any other model
	// none; "none" = no gate: the model scores every hop.
	Gate string `yaml:"gate"`
	// GateThreshold is the gate's keyword posterior that wakes the model; nil = 0.1.
	GateThreshold *float64 `yaml:"gate_threshold"`
	// GateHold is how many hops the model keeps scoring after the gate's last waking hop;
	// nil = 1.
	GateHold *int `yaml:"gate_hold"`
	// GateFuse (0 to below 1) blends the gate's logits into the model's on the hops the
	// model scores, by this weight (engine.Cascade); nil = the model's ("detection"
	// metadata gate_fuse; its thresholds are chosen with it), 0 = the model's alone.
	GateFuse *float64 `yaml:"gate_fuse"`
}

// DefaultGatePaths are tried in order for the default model's gate.
var DefaultGatePaths = []string{"/usr/share/wakewordd/models/kwt-stream.safetensors", "models/kwt-stream.safetensors"}

// Defaults of model.gate_threshold and model.gate_hold.
const (
	DefaultGateThreshold = 0.1
	DefaultGateHold      = 1
)

// MaxDeltaScale and MaxDeltaTheta bound model.delta_scale and the values of model.delta.
const (
	MaxDeltaScale = 1000
	MaxDeltaTheta = 1e6
)

// DefaultModelPaths are tried in order when model.path is empty: the packaged model,
// then the one in a source checkout.
var DefaultModelPaths = []string{"/usr/share/wakewordd/models/kwt.safetensors", "models/kwt.safetensors"}

// Rule overrides a keyword's detection policy; nil fields keep the model's defaults.
type Rule struct {
	Enabled   *bool    `yaml:"enabled"`
	Threshold *float64 `yaml:"threshold"`
	// Sensitivity (0-1) sets the threshold through the model's calibration instead: 0.5 is
	// the model's own threshold, higher misses fewer wake words and fires more often.
	Sensitivity *float64       `yaml:"sensitivity"`
	Smoothing   *int           `yaml:"smoothing"`
	Patience    *int           `yaml:"patience"`
	Refractory  *time.Duration `yaml:"refractory"`
}

// Detect overrides the model's detection defaults, for every keyword and per keyword.
type Detect struct {
	Rule     `yaml:",inline"`
	Keywords map[string]Rule `yaml:"keywords"`
}

// Audio selects and opens the capture device.
type Audio struct {
	// Device is "" for the system default input, a number for a PortAudio device index, or a
	// case-insensitive substring of the device name.
	Device string `yaml:"device"`
	// Rate is the capture rate in Hz; 0 opens at 16000 when the device supports it and at the
	// device's default rate otherwise (then resampled to 16 kHz).
	Rate int `yaml:"rate"`
	// Channel is -1 to mix the first two channels down, or the 0-based channel to use.
	Channel int `yaml:"channel"`
	// Buffer is how much audio the ring between capture and processing holds; when
	// processing falls behind by more, the oldest audio is dropped and counted.
	Buffer time.Duration `yaml:"buffer"`
	// Lossless makes capture wait for processing instead of dropping audio. Only for
	// virtual devices that are not paced in real time.
	Lossless bool `yaml:"lossless"`
	// Input replaces the device with a WAV or FLAC file ("-": raw s16le on stdin), for
	// tests, demos and benchmarks; `run` exits once it has ended.
	Input string `yaml:"input"`
	// Realtime paces Input like a microphone instead of reading it as fast as possible.
	Realtime bool `yaml:"realtime"`
}

// DeviceNone as Audio.Device runs without a microphone: the daemon only serves Wyoming
// clients.
const DeviceNone = "none"

// NoMicrophone reports whether the daemon runs without any audio input of its own
// (audio.device none and no audio.input).
func (a Audio) NoMicrophone() bool { return a.Device == DeviceNone && a.Input == "" }

// Wyoming serves the Wyoming wake-word protocol (Home Assistant Assist, wyoming-satellite):
// network clients stream audio and get detections back, each stream with its own detector
// over the shared model.
type Wyoming struct {
	// Listen is where to serve: tcp://HOST:PORT (10400 by convention; HOST empty, 0.0.0.0
	// or [::] = every interface) or unix://PATH; "" = no Wyoming server.
	Listen string `yaml:"listen"`
	// MaxClients bounds the connections served at once; one more gets an error event and
	// is closed.
	MaxClients int `yaml:"max_clients"`
	// Zeroconf advertises the service as _wyoming._tcp over mDNS, so that Home Assistant
	// discovers it; nil = on for a tcp:// address that is not loopback.
	Zeroconf *bool `yaml:"zeroconf"`
}

// MaxWyomingClients bounds wyoming.max_clients.
const MaxWyomingClients = 1024

// ParseListen splits a Wyoming listen URI into the network and address of net.Listen:
// tcp://HOST:PORT gives ("tcp", "HOST:PORT"), unix://PATH ("unix", PATH).
func ParseListen(uri string) (network, address string, err error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", "", fmt.Errorf("not a URI: %v", errors.Unwrap(err))
	}
	switch u.Scheme {
	case "tcp":
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return "", "", fmt.Errorf("want tcp://HOST:PORT, e.g. tcp://0.0.0.0:10400, got %q", uri)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", "", fmt.Errorf("port must be 1-65535, got %q", port)
		}
		return "tcp", net.JoinHostPort(host, port), nil
	case "unix":
		path := u.Host + u.Path
		if path == "" || len(path) > 107 || u.RawQuery != "" {
			return "", "", fmt.Errorf("want unix://PATH with a socket path of 1-107 bytes, e.g. unix:///run/wakewordd/wyoming.sock, got %q", uri)
		}
		return "unix", path, nil
	}
	return "", "", fmt.Errorf("scheme must be tcp:// or unix://, got %q", uri)
}

// MQTT configures publishing to a broker (publish.MQTTConfig); the site id comes from
// Config.SiteID.
type MQTT struct {
	// Broker is the broker URL; "" = no MQTT.
	Broker   string `yaml:"broker"`
	ClientID string `yaml:"client_id"` // "" = wakewordd-<site>-<random>
	Username string `yaml:"username"`
	// PasswordFile holds the password, so that it never sits in the config.
	PasswordFile    string        `yaml:"password_file"`
	TLS             TLS           `yaml:"tls"`
	TopicPrefix     string        `yaml:"topic_prefix"`
	Discovery       bool          `yaml:"discovery"` // Home Assistant discovery
	DiscoveryPrefix string        `yaml:"discovery_prefix"`
	Hermes          bool          `yaml:"hermes"` // Rhasspy/Hermes hotword topics
	Queue           int           `yaml:"queue"`  // detections held while the broker is away
	KeepAlive       time.Duration `yaml:"keepalive"`
}

// TLS holds the PEM files for a TLS broker connection.
type TLS struct {
	CAFile   string `yaml:"ca_file"`   // "" = the system roots
	CertFile string `yaml:"cert_file"` // client certificate; needs KeyFile
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether detections go to a broker.
func (m MQTT) Enabled() bool { return m.Broker != "" }

// BrokerSchemes are the broker URL schemes MQTT.Broker accepts.
var BrokerSchemes = []string{"tcp", "ssl", "mqtt", "mqtts", "ws", "wss"}

// MaxQueue bounds mqtt.queue: a million detections is far beyond any outage.
const MaxQueue = 1000000

// MaxMQTTString is the longest string MQTT carries (a user name, a topic): its length is
// a 16-bit number.
const MaxMQTTString = 65535

// MaxTopicPrefix bounds mqtt.topic_prefix and mqtt.discovery_prefix, leaving room in a
// topic for the site and the rest.
const MaxTopicPrefix = 1024

// Output selects extra detection outputs.
type Output struct {
	// JSON writes every detection to stdout as one JSON object per line.
	JSON bool `yaml:"json"`
}

// Log configures the daemon's log output on stderr.
type Log struct {
	Level  string        `yaml:"level"`  // debug, info, warn or error
	Format string        `yaml:"format"` // text or json
	Stats  time.Duration `yaml:"stats_interval"`
}

// Default returns the configuration used for every key the file leaves out.
func Default() Config {
	return Config{
		SiteID: "default",
		Audio:  Audio{Channel: -1, Buffer: 2 * time.Second},
		MQTT: MQTT{
			TopicPrefix: "wakewordd", Discovery: true, DiscoveryPrefix: "homeassistant", Hermes: true,
			Queue: 1000, KeepAlive: 30 * time.Second,
		},
		Log:     Log{Level: "info", Format: "text", Stats: 10 * time.Second},
		Wyoming: Wyoming{MaxClients: 8},
	}
}

// Error is a configuration problem tied to a key.
type Error struct {
	File string // "" for built-in defaults or flags
	Line int    // 0 when unknown
	Key  string // dotted path, e.g. audio.channel
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.File != "" {
		b.WriteString(" " + e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
	}
	if e.Key != "" {
		b.WriteString(": " + e.Key)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// Load reads path over the defaults and validates the result. An empty path means
// DefaultPath if it exists, else the defaults alone.
func Load(path string) (Config, *Source, error) {
	src := &Source{}
	if path == "" {
		if _, err := os.Stat(DefaultPath); err != nil {
			c := Default()
			return c, src, c.Validate(src)
		}
		path = DefaultPath
	}
	data, err := limited.ReadFile(path, MaxSize)
	if err != nil {
		return Config{}, nil, fmt.Errorf("config %s: %w", path, err)
	}
	c, src, err := Parse(path, data)
	if err != nil {
		return Config{}, nil, err
	}
	return c, src, c.Validate(src)
}

// Source remembers where each key came from, so later errors can point at it.
type Source struct {
	File  string
	lines map[string]int // dotted key -> line in File
	flags map[string]string
}

// Where returns the file and line of key, or "" and 0 when it was not in the file.
func (s *Source) Where(key string) (string, int) {
	if s == nil {
		return "", 0
	}
	if f, ok := s.flags[key]; ok {
		return "flag --" + f, 0
	}
	if l, ok := s.lines[key]; ok {
		return s.File, l
	}
	return s.File, 0
}

// Errorf builds an Error for key at the place it came from.
func (s *Source) Errorf(key, format string, args ...any) error {
	file, line := s.Where(key)
	return &Error{File: file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Overridden records that key was set by the command-line flag name, which then takes the
// blame in error messages.
func (s *Source) Overridden(key, flag string) {
	if s.flags == nil {
		s.flags = map[string]string{}
	}
	s.flags[key] = flag
}

var lineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// Parse decodes YAML data over the defaults. It rejects unknown keys and wrong types, and
// does not validate values; call Validate for that.
func Parse(file string, data []byte) (Config, *Source, error) {
	c := Default()
	src := &Source{File: file, lines: map[string]int{}}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return Config{}, nil, &Error{File: file, Msg: strings.TrimPrefix(oneLine(err.Error()), "yaml: ")}
	}
	if len(root.Content) == 0 {
		return c, src, nil // an empty file means all defaults
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return Config{}, nil, &Error{File: file, Line: doc.Line, Msg: "top level must be a mapping of keys to values"}
	}
	byLine := map[int]string{}
	collectKeys(doc, "", src.lines, byLine)

	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			m := lineRE.FindStringSubmatch(te.Errors[0])
			if m != nil {
				line, _ := strconv.Atoi(m[1])
				msg := m[2]
				if f := unknownFieldRE.FindStringSubmatch(msg); f != nil {
					msg = fmt.Sprintf("unknown key %q", f[1])
				}
				return Config{}, nil, &Error{File: file, Line: line, Key: byLine[line], Msg: msg}
			}
		}
		return Config{}, nil, &Error{File: file, Msg: strings.TrimPrefix(oneLine(err.Error()), "yaml: ")}
	}
	// A second document would be ignored silently; an empty one (a trailing "---") holds
	// nothing to ignore.
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == io.EOF:
	case err != nil:
		return Config{}, nil, &Error{File: file, Msg: strings.TrimPrefix(oneLine(err.Error()), "yaml: ")}
	case len(next.Content) > 0 && !(next.Content[0].Tag == "!!null" && next.Content[0].Value == ""):
		return Config{}, nil, &Error{File: file, Line: next.Line, Msg: "holds more than one YAML document (the second starts here); a config is one document"}
	}
	if err := checkWholeNumbers(doc, reflect.TypeFor[Config](), ""); err != nil {
		err.File = file
		return Config{}, nil, err
	}
	return c, src, nil
}

// checkWholeNumbers rejects a YAML float (1.5, 10.0, 1e3) given for an integer key, which
// the YAML decoder would silently truncate: n is the value of key (dotted path) and t the
// Go type it decodes into.
func checkWholeNumbers(n *yaml.Node, t reflect.Type, key string) *Error {
	line := n.Line
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		// time.Duration refuses floats itself.
		if t != reflect.TypeFor[time.Duration]() && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" {
			return &Error{Line: line, Key: key, Msg: fmt.Sprintf("must be a whole number, got %s", n.Value)}
		}
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.ShortTag() == "!!merge" { // <<: *defaults
				vs := []*yaml.Node{v}
				if v.Kind == yaml.SequenceNode {
					vs = v.Content
				}
				for _, m := range vs {
					if err := checkWholeNumbers(m, t, key); err != nil {
						return err
					}
				}
				continue
			}
			if f, ok := yamlField(t, k.Value); ok {
				if err := checkWholeNumbers(v, f, joinKey(key, k.Value)); err != nil {
					return err
				}
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkWholeNumbers(n.Content[i+1], t.Elem(), joinKey(key, n.Content[i].Value)); err != nil {
				return err
			}
		}
	}
	return nil
}

// yamlField returns the type of struct t's field named name in YAML, looking into inlined
// structs.
func yamlField(t reflect.Type, name string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if opts == "inline" {
			if ft, ok := yamlField(f.Type, name); ok {
				return ft, true
			}
			continue
		}
		if tag == name {
			return f.Type, true
		}
	}
	return nil, false
}

func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

var unknownFieldRE = regexp.MustCompile(`^field (\S+) not found in type`)

// collectKeys records the line of every key under n, by dotted path and by line.
func collectKeys(n *yaml.Node, prefix string, lines map[string]int, byLine map[int]string) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := k.Value
		if prefix != "" {
			path = prefix + "." + k.Value
		}
		lines[path] = k.Line
		byLine[k.Line] = path
		if v.Line != k.Line {
			byLine[v.Line] = path
		}
		collectKeys(v, path, lines, byLine)
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

var siteRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate checks every value and returns the first problem as an *Error.
func (c *Config) Validate(src *Source) error {
	if !siteRE.MatchString(c.SiteID) {
		return src.Errorf("site_id", "must be 1-64 letters, digits, '-' or '_' (it becomes part of MQTT topics), got %q", c.SiteID)
	}
	a := c.Audio
	if a.Rate != 0 && (a.Rate < 4000 || a.Rate > 384000) {
		return src.Errorf("audio.rate", "must be 0 (automatic) or between 4000 and 384000 Hz, got %d", a.Rate)
	}
	if a.Channel < -1 || a.Channel > 31 { // audio.MaxChannels
		return src.Errorf("audio.channel", "must be -1 (mix channels down) or a channel number 0-31, got %d", a.Channel)
	}
	if a.Buffer < 100*time.Millisecond || a.Buffer > 60*time.Second {
		return src.Errorf("audio.buffer", "must be between 100ms and 60s, got %s", a.Buffer)
	}
	if p := c.Model.MLP; p != "" && p != "float32" && p != "int8" {
		return src.Errorf("model.mlp", "must be float32 or int8, got %q", p)
	}
	if g := c.Model.GateThreshold; g != nil && !(*g > 0 && *g <= 1) {
		return src.Errorf("model.gate_threshold", "must be above 0 and at most 1, got %v", *g)
	}
	if h := c.Model.GateHold; h != nil && (*h < 0 || *h > 1000) {
		return src.Errorf("model.gate_hold", "must be 0-1000 hops, got %d", *h)
	}
	if f := c.Model.GateFuse; f != nil && !(*f >= 0 && *f < 1) {
		return src.Errorf("model.gate_fuse", "must be at least 0 and below 1, got %v", *f)
	}
	if f := c.Model.DeltaScale; f != nil && !(*f >= 0 && *f <= MaxDeltaScale) {
		return src.Errorf("model.delta_scale", "must be between 0 and %d, got %v", MaxDeltaScale, *f)
	}
	for _, site := range slices.Sorted(maps.Keys(c.Model.Delta)) {
		key := "model.delta." + site
		if th := c.Model.Delta[site]; !(th >= 0 && th <= MaxDeltaTheta) {
			return src.Errorf(key, "threshold must be between 0 and %g, got %v", float64(MaxDeltaTheta), th)
		}
	}
	if err := c.Detect.Rule.validate(src, "detect"); err != nil {
		return err
	}
	for name, r := range c.Detect.Keywords {
		if err := r.validate(src, "detect.keywords."+name); err != nil {
			return err
		}
	}
	if err := c.MQTT.validate(src); err != nil {
		return err
	}
	if err := c.validateWyoming(src); err != nil {
		return err
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return src.Errorf("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return src.Errorf("log.format", "must be text or json, got %q", c.Log.Format)
	}
	if c.Log.Stats < 0 {
		return src.Errorf("log.stats_interval", "must be 0 (off) or positive, got %s", c.Log.Stats)
	}
	return nil
}

func (c *Config) validateWyoming(src *Source) error {
	w := c.Wyoming
	network := ""
	if w.Listen != "" {
		var err error
		if network, _, err = ParseListen(w.Listen); err != nil {
			return src.Errorf("wyoming.listen", "%v", err)
		}
	}
	if w.MaxClients < 1 || w.MaxClients > MaxWyomingClients {
		return src.Errorf("wyoming.max_clients", "must be 1-%d connections, got %d", MaxWyomingClients, w.MaxClients)
	}
	if w.Zeroconf != nil && *w.Zeroconf && network != "tcp" {
		return src.Errorf("wyoming.zeroconf", "advertises a TCP port, but wyoming.listen is %q (want tcp://HOST:PORT)", w.Listen)
	}
	if c.Audio.NoMicrophone() && w.Listen == "" {
		return src.Errorf("audio.device", "none (no microphone) needs wyoming.listen: without a microphone or a Wyoming server there is nothing to listen to")
	}
	return nil
}

func (r Rule) validate(src *Source, prefix string) error {
	if t := r.Threshold; t != nil && !(*t > 0 && *t <= 1) {
		return src.Errorf(prefix+".threshold", "must be in (0, 1], got %v", *t)
	}
	if s := r.Sensitivity; s != nil && !(*s >= 0 && *s <= 1) {
		return src.Errorf(prefix+".sensitivity", "must be between 0 and 1, got %v", *s)
	}
	if r.Threshold != nil && r.Sensitivity != nil {
		return src.Errorf(prefix+".sensitivity", "set either threshold or sensitivity, not both")
	}
	if n := r.Smoothing; n != nil && (*n < 1 || *n > 100) {
		return src.Errorf(prefix+".smoothing", "must be 1-100 hops, got %d", *n)
	}
	if n := r.Patience; n != nil && (*n < 1 || *n > 100) {
		return src.Errorf(prefix+".patience", "must be 1-100 hops, got %d", *n)
	}
	if d := r.Refractory; d != nil && (*d < 0 || *d > time.Hour) {
		return src.Errorf(prefix+".refractory", "must be between 0s and 1h, got %s", *d)
	}
	return nil
}

var clientIDRE = regexp.MustCompile(`^[\x21-\x7e]{1,128}$`)

func (m MQTT) validate(src *Source) error {
	if m.Broker != "" {
		// Credentials in the URL would be in every log line and error that shows the
		// broker, and in process listings: never quote them.
		broker := logsafe.RedactURL(m.Broker)
		u, err := url.Parse(m.Broker)
		if err != nil {
			if broker != m.Broker { // the parser's message may quote a piece of the password
				return src.Errorf("mqtt.broker", "not a URL: %q", broker)
			}
			return src.Errorf("mqtt.broker", "not a URL: %v", errors.Unwrap(err))
		}
		if !slices.Contains(BrokerSchemes, u.Scheme) {
			return src.Errorf("mqtt.broker", "scheme must be one of %s (as in tcp://host:1883), got %q", strings.Join(BrokerSchemes, ", "), broker)
		}
		if u.User != nil || broker != m.Broker {
			return src.Errorf("mqtt.broker", "must not hold a user name or password (%q): set mqtt.username, and put the password in the file named by mqtt.password_file", broker)
		}
		if u.Hostname() == "" {
			return src.Errorf("mqtt.broker", "no host in %q (want e.g. %s://host:1883)", broker, u.Scheme)
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				return src.Errorf("mqtt.broker", "port must be 1-65535, got %q", p)
			}
		} else if strings.HasSuffix(u.Host, ":") {
			return src.Errorf("mqtt.broker", "empty port in %q: give one, or leave out the ':' for the scheme's default", broker)
		}
		tlsScheme := u.Scheme == "ssl" || u.Scheme == "mqtts" || u.Scheme == "wss"
		for _, f := range []struct{ key, val string }{{"ca_file", m.TLS.CAFile}, {"cert_file", m.TLS.CertFile}, {"key_file", m.TLS.KeyFile}} {
			if f.val != "" && !tlsScheme {
				return src.Errorf("mqtt.tls."+f.key, "needs a TLS broker (ssl://, mqtts:// or wss://), but mqtt.broker is %q", broker)
			}
		}
	}
	if m.ClientID != "" && !clientIDRE.MatchString(m.ClientID) {
		return src.Errorf("mqtt.client_id", "must be 1-128 printable ASCII characters without spaces, got %q", m.ClientID)
	}
	if len(m.Username) > MaxMQTTString {
		return src.Errorf("mqtt.username", "must be at most %d bytes (the longest MQTT string), got %d bytes", MaxMQTTString, len(m.Username))
	}
	if m.PasswordFile != "" && m.Username == "" {
		return src.Errorf("mqtt.password_file", "needs mqtt.username (MQTT sends no password without a user name)")
	}
	// Blame the one that is there: it has a line.
	if m.TLS.CertFile != "" && m.TLS.KeyFile == "" {
		return src.Errorf("mqtt.tls.cert_file", "needs mqtt.tls.key_file too (the client certificate's private key)")
	}
	if m.TLS.KeyFile != "" && m.TLS.CertFile == "" {
		return src.Errorf("mqtt.tls.key_file", "needs mqtt.tls.cert_file too (the client certificate)")
	}
	for _, p := range []struct{ key, val string }{{"mqtt.topic_prefix", m.TopicPrefix}, {"mqtt.discovery_prefix", m.DiscoveryPrefix}} {
		if err := checkTopicPrefix(p.val); err != "" {
			return src.Errorf(p.key, "%s, got %q", err, logsafe.Clip(p.val))
		}
	}
	if m.Queue < 1 || m.Queue > MaxQueue {
		return src.Errorf("mqtt.queue", "must be 1-%d detections, got %d", MaxQueue, m.Queue)
	}
	// MQTT carries the keep-alive as 16-bit seconds; 0 would switch it off and hide a dead
	// connection.
	if m.KeepAlive < time.Second || m.KeepAlive > 65535*time.Second || m.KeepAlive%time.Second != 0 {
		return src.Errorf("mqtt.keepalive", "must be whole seconds between 1s and 65535s, got %s", m.KeepAlive)
	}
	return nil
}

// checkTopicPrefix returns what is wrong with an MQTT topic prefix, or "".
func checkTopicPrefix(p string) string {
	switch {
	case p == "":
		return "must not be empty"
	case strings.ContainsAny(p, "+#"):
		return "must not contain the MQTT wildcards + or #"
	case strings.HasPrefix(p, "$"):
		return "must not start with '$' (topics like $SYS/... are the broker's own: it refuses clients' messages there)"
	case strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//"):
		return "must not start or end with '/' or contain an empty level"
	case strings.ContainsRune(p, 0) || !utf8.ValidString(p):
		return "must be UTF-8 text without NUL"
	case len(p) > MaxTopicPrefix:
		return fmt.Sprintf("must be at most %d bytes (MQTT topics stop at %d)", MaxTopicPrefix, MaxMQTTString)
	}
	return ""
}
