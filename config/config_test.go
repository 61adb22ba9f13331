package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEmptyFileGivesDefaults(t *testing.T) {
	c, _, err := Parse("x.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("got %+v, want defaults %+v", c, Default())
	}
}

func TestParseOverridesOnlyGivenKeys(t *testing.T) {
	c, _, err := Parse("x.yaml", []byte("audio:\n  channel: 1\n  buffer: 500ms\nlog:\n  level: debug\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Audio.Channel = 1
	want.Audio.Buffer = 500 * time.Millisecond
	want.Log.Level = "debug"
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v, want %+v", c, want)
	}
}

// Every error names the file, the key with its line, and the problem, on one line.
func TestErrorsNameFileKeyAndLine(t *testing.T) {
	cases := []struct {
		yaml string
		want string
	}{
		{"audio:\n  chanel: 1\n", `config c.yaml:2: audio.chanel: unknown key "chanel"`},
		{"audio:\n  channel: left\n", "config c.yaml:2: audio.channel: cannot unmarshal !!str `left` into int"},
		{"audio:\n  channel: -3\n", "config c.yaml:2: audio.channel: must be -1"},
		{"site_id: kitchen\naudio:\n  buffer: 10ms\n", "config c.yaml:3: audio.buffer: must be between 100ms and 60s, got 10ms"},
		{"log:\n  level: loud\n", `config c.yaml:2: log.level: must be debug, info, warn or error, got "loud"`},
		{"site_id: \"a/b\"\n", `config c.yaml:1: site_id: must be 1-64 letters`},
		{"audio: [1, 2\n", "config c.yaml: "},
		{"- a\n- b\n", "config c.yaml:1: top level must be a mapping"},
		{"model:\n  dense: maybe\n", "config c.yaml:2: model.dense: cannot unmarshal"},
		{"model:\n  mlp: int4\n", `config c.yaml:2: model.mlp: must be float32 or int8, got "int4"`},
		{"model:\n  gate_threshold: 0\n", `config c.yaml:2: model.gate_threshold: must be above 0 and at most 1, got 0`},
		{"model:\n  gate_threshold: 1.5\n", `config c.yaml:2: model.gate_threshold: must be above 0 and at most 1, got 1.5`},
		{"model:\n  gate_hold: -1\n", `config c.yaml:2: model.gate_hold: must be 0-1000 hops, got -1`},
		{"model:\n  gate_fuse: 1\n", `config c.yaml:2: model.gate_fuse: must be at least 0 and below 1, got 1`},
		{"model:\n  gate_fuse: -0.5\n", `config c.yaml:2: model.gate_fuse: must be at least 0 and below 1, got -0.5`},
		{"model:\n  delta_scale: -1\n", "config c.yaml:2: model.delta_scale: must be between 0 and 1000, got -1"},
		{"model:\n  delta_scale: .nan\n", "config c.yaml:2: model.delta_scale: must be between 0 and 1000, got NaN"},
		{"model:\n  delta:\n    values: -0.002\n", "config c.yaml:3: model.delta.values: threshold must be between 0 and 1e+06, got -0.002"},
		{"model:\n  delta: 0.5\n", "config c.yaml:2: model.delta: cannot unmarshal"},
		{"detect:\n  threshold: 1.5\n", "config c.yaml:2: detect.threshold: must be in (0, 1]"},
		{"detect:\n  keywords:\n    alexa:\n      patience: 0\n", "config c.yaml:4: detect.keywords.alexa.patience: must be 1-100"},
		{"detect:\n  keywords:\n    alexa:\n      gain: 0.5\n", `config c.yaml:4: detect.keywords.alexa.gain: unknown key "gain"`},
		{"detect:\n  keywords:\n    alexa:\n      sensitivity: 1.5\n", `config c.yaml:4: detect.keywords.alexa.sensitivity: must be between 0 and 1, got 1.5`},
		{"detect:\n  threshold: 0.5\n  sensitivity: 0.5\n", `config c.yaml:3: detect.sensitivity: set either threshold or sensitivity, not both`},
		{"mqtt:\n  broker: http://example.com\n", `config c.yaml:2: mqtt.broker: scheme must be one of tcp, ssl, mqtt, mqtts, ws, wss (as in tcp://host:1883), got "http://example.com"`},
		{"mqtt:\n  broker: localhost:1883\n", `config c.yaml:2: mqtt.broker: scheme must be one of`},
		{"mqtt:\n  broker: tcp://\n", `config c.yaml:2: mqtt.broker: no host in "tcp://"`},
		{"mqtt:\n  broker: \"tcp://[::1\"\n", `config c.yaml:2: mqtt.broker: not a URL: missing ']' in host`},
		{"mqtt:\n  broker: tcp://h:99999\n", `config c.yaml:2: mqtt.broker: port must be 1-65535, got "99999"`},
		{"mqtt:\n  broker: tcp://h\n  tls:\n    ca_file: /ca.pem\n", `config c.yaml:4: mqtt.tls.ca_file: needs a TLS broker (ssl://, mqtts:// or wss://), but mqtt.broker is "tcp://h"`},
		{"mqtt:\n  broker: ssl://h\n  tls:\n    cert_file: /c.pem\n", "config c.yaml:4: mqtt.tls.cert_file: needs mqtt.tls.key_file too"},
		{"mqtt:\n  tls:\n    key_file: /k.pem\n", "config c.yaml:3: mqtt.tls.key_file: needs mqtt.tls.cert_file too"},
		{"mqtt:\n  password_file: /p\n", "config c.yaml:2: mqtt.password_file: needs mqtt.username"},
		{"mqtt:\n  client_id: a b\n", `config c.yaml:2: mqtt.client_id: must be 1-128 printable ASCII characters without spaces, got "a b"`},
		{"mqtt:\n  topic_prefix: \"\"\n", `config c.yaml:2: mqtt.topic_prefix: must not be empty, got ""`},
		{"mqtt:\n  topic_prefix: a/+/b\n", `config c.yaml:2: mqtt.topic_prefix: must not contain the MQTT wildcards + or #, got "a/+/b"`},
		{"mqtt:\n  discovery_prefix: \"ha/#\"\n", `config c.yaml:2: mqtt.discovery_prefix: must not contain the MQTT wildcards`},
		{"mqtt:\n  topic_prefix: home/\n", `config c.yaml:2: mqtt.topic_prefix: must not start or end with '/'`},
		{"mqtt:\n  queue: 0\n", "config c.yaml:2: mqtt.queue: must be 1-1000000 detections, got 0"},
		{"mqtt:\n  queue: 2000000\n", "config c.yaml:2: mqtt.queue: must be 1-1000000 detections, got 2000000"},
		{"mqtt:\n  keepalive: 0s\n", "config c.yaml:2: mqtt.keepalive: must be whole seconds between 1s and 65535s, got 0s"},
		{"mqtt:\n  keepalive: 1500ms\n", "config c.yaml:2: mqtt.keepalive: must be whole seconds"},
		{"mqtt:\n  discovery: sometimes\n", "config c.yaml:2: mqtt.discovery: cannot unmarshal"},
		{"mqtt:\n  password: secret\n", `config c.yaml:2: mqtt.password: unknown key "password"`},
		{"output:\n  json: yes please\n", "config c.yaml:2: output.json: cannot unmarshal"},
		// Issue 18: values that were silently truncated or ignored.
		{"audio:\n  channel: 1.5\n", "config c.yaml:2: audio.channel: must be a whole number, got 1.5"},
		{"detect:\n  smoothing: 2.5\n", "config c.yaml:2: detect.smoothing: must be a whole number, got 2.5"},
		{"detect:\n  keywords:\n    alexa:\n      patience: 3.0\n", "config c.yaml:4: detect.keywords.alexa.patience: must be a whole number, got 3.0"},
		{"mqtt:\n  queue: 10.7\n", "config c.yaml:2: mqtt.queue: must be a whole number, got 10.7"},
		{"mqtt:\n  queue: 1e3\n", "config c.yaml:2: mqtt.queue: must be a whole number, got 1e3"},
		{"model:\n  gate_hold: 0.5\n", "config c.yaml:2: model.gate_hold: must be a whole number, got 0.5"},
		{"model:\n  delta: &m {rate: 16000.5}\naudio:\n  <<: *m\n", "config c.yaml:2: audio.rate: must be a whole number, got 16000.5"},
		{"model:\n  delta_scale: &f 1.5\naudio:\n  channel: *f\n", "config c.yaml:4: audio.channel: must be a whole number, got 1.5"},
		{"site_id: a\n---\nsite_id: b\n", "config c.yaml:2: holds more than one YAML document (the second starts here)"},
		{"site_id: a\n...\n---\nmqtt: {queue: 5}\n", "config c.yaml:3: holds more than one YAML document"},
		{"mqtt:\n  username: " + strings.Repeat("u", 70000) + "\n", "config c.yaml:2: mqtt.username: must be at most 65535 bytes (the longest MQTT string), got 70000 bytes"},
		{"mqtt:\n  broker: \"tcp://127.0.0.1:\"\n", `config c.yaml:2: mqtt.broker: empty port in "tcp://127.0.0.1:"`},
		{"mqtt:\n  broker: \"ws://[::1]:/mqtt\"\n", `config c.yaml:2: mqtt.broker: empty port in "ws://[::1]:/mqtt"`},
		{"mqtt:\n  broker: tcp://alice:S3cretPW@host\n", `config c.yaml:2: mqtt.broker: must not hold a user name or password ("tcp://xxxxx@host"): set mqtt.username, and put the password in the file named by mqtt.password_file`},
		{"mqtt:\n  broker: tcp://alice@host\n", `config c.yaml:2: mqtt.broker: must not hold a user name or password ("tcp://xxxxx@host")`},
		{"mqtt:\n  broker: http://alice:S3cretPW@host\n", `config c.yaml:2: mqtt.broker: scheme must be one of tcp, ssl, mqtt, mqtts, ws, wss (as in tcp://host:1883), got "http://xxxxx@host"`},
		{"mqtt:\n  broker: tcp://alice:S3c/retPW@host\n", `config c.yaml:2: mqtt.broker: not a URL: "tcp://xxxxx@host"`},
		{"mqtt:\n  topic_prefix: $SYS\n", `config c.yaml:2: mqtt.topic_prefix: must not start with '$'`},
		{"mqtt:\n  topic_prefix: $share/g/x\n", `config c.yaml:2: mqtt.topic_prefix: must not start with '$'`},
		{"mqtt:\n  discovery_prefix: $SYS/ha\n", `config c.yaml:2: mqtt.discovery_prefix: must not start with '$'`},
		{"mqtt:\n  topic_prefix: " + strings.Repeat("p", 2000) + "\n", `config c.yaml:2: mqtt.topic_prefix: must be at most 1024 bytes`},
	}
	for _, tc := range cases {
		c, src, err := Parse("c.yaml", []byte(tc.yaml))
		if err == nil {
			err = c.Validate(src)
		}
		if err == nil {
			t.Errorf("%q: no error, want %q", tc.yaml, tc.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%.300q:\n got %.300q\nwant prefix %q on one line", tc.yaml, err, tc.want)
		}
		if strings.Contains(err.Error(), "S3c") || len(err.Error()) > 500 {
			t.Errorf("%.300q: the error quotes a password or too much: %.600q", tc.yaml, err)
		}
	}
}

// Whole numbers written as such, and a trailing empty document, are fine.
func TestWholeNumbersAndOneDocument(t *testing.T) {
	c, src, err := Parse("c.yaml", []byte("audio:\n  channel: 1\n  rate: 0x3e80\ndetect:\n  threshold: 1\n  smoothing: 3\nmqtt:\n  queue: 10\n---\n"))
	if err == nil {
		err = c.Validate(src)
	}
	if err != nil {
		t.Fatal(err)
	}
	if c.Audio.Channel != 1 || c.Audio.Rate != 16000 || *c.Detect.Threshold != 1 || *c.Detect.Smoothing != 3 || c.MQTT.Queue != 10 {
		t.Fatalf("got %+v %+v %+v", c.Audio, c.Detect, c.MQTT)
	}
}

func TestMQTTKeys(t *testing.T) {
	c, src, err := Parse("c.yaml", []byte(`mqtt:
  broker: mqtts://broker.lan
  client_id: kitchen-satellite
  username: wakewordd
  password_file: /etc/wakewordd/mqtt.pass
  tls: {ca_file: /ca.pem, cert_file: /c.pem, key_file: /k.pem}
  topic_prefix: home/wake
  discovery: false
  discovery_prefix: ha
  hermes: false
  queue: 50
  keepalive: 1m
output:
  json: true
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(src); err != nil {
		t.Fatal(err)
	}
	want := MQTT{
		Broker: "mqtts://broker.lan", ClientID: "kitchen-satellite", Username: "wakewordd",
		PasswordFile: "/etc/wakewordd/mqtt.pass", TLS: TLS{CAFile: "/ca.pem", CertFile: "/c.pem", KeyFile: "/k.pem"},
		TopicPrefix: "home/wake", DiscoveryPrefix: "ha", Queue: 50, KeepAlive: time.Minute,
	}
	if !reflect.DeepEqual(c.MQTT, want) || !c.Output.JSON || !c.MQTT.Enabled() {
		t.Fatalf("mqtt %+v output %+v, want %+v", c.MQTT, c.Output, want)
	}
	if Default().MQTT.Enabled() {
		t.Fatal("MQTT enabled by default")
	}
	for _, b := range []string{"tcp://h:1883", "mqtt://h", "ssl://h:8883", "ws://h:9001/mqtt", "wss://[::1]:443/mqtt"} {
		c := Default()
		c.MQTT.Broker = b
		if err := c.Validate(nil); err != nil {
			t.Errorf("%s: %v", b, err)
		}
	}
}

func TestFlagTakesTheBlame(t *testing.T) {
	c, src, err := Parse("c.yaml", []byte("audio:\n  channel: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	c.Audio.Channel = -7
	src.Overridden("audio.channel", "channel")
	err = c.Validate(src)
	if err == nil || !strings.HasPrefix(err.Error(), "config flag --channel: audio.channel: must be") {
		t.Fatalf("got %v", err)
	}
}

func TestLoadMissingAndHugeFiles(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Load(filepath.Join(dir, "nope.yaml")); err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte(strings.Repeat("#", MaxSize+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("huge file: %v", err)
	}
}

// The shipped, documented config must parse to exactly the defaults: it is their documentation.
func TestShippedConfigIsTheDefaults(t *testing.T) {
	c, _, err := Load("../configs/wakewordd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("configs/wakewordd.yaml = %+v, differs from Default() = %+v", c, Default())
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "site_id: x\n", "audio:\n  device: '3'\n  rate: 48000\n", "log: {level: warn, stats_interval: 1m}\n",
		"audio:\n  buffer: 1h\n", "[", "a: &a [*a]\n", "audio: !!binary aGVsbG8=\n", "\x00\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, src, err := Parse("f.yaml", data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "config f.yaml") {
				t.Fatalf("error not one line naming the file: %q", err)
			}
			return
		}
		if err := c.Validate(src); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("validation error spans lines: %q", err)
		}
	})
}

func TestDeltaKeys(t *testing.T) {
	c, src, err := Parse("c.yaml", []byte("model:\n  dense: true\n  delta_scale: 0.5\n  delta:\n    qkv: 0.7\n    values: 0.002\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(src); err != nil {
		t.Fatal(err)
	}
	if !c.Model.Dense || c.Model.DeltaScale == nil || *c.Model.DeltaScale != 0.5 ||
		!reflect.DeepEqual(c.Model.Delta, map[string]float64{"qkv": 0.7, "values": 0.002}) {
		t.Fatalf("model %+v", c.Model)
	}
}

// The config's site names are the model format's.

func TestWyomingKeys(t *testing.T) {
	c, src, err := Parse("c.yaml", []byte("audio:\n  device: none\nwyoming:\n  listen: tcp://0.0.0.0:10400\n  max_clients: 3\n  zeroconf: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(src); err != nil {
		t.Fatal(err)
	}
	if !c.Audio.NoMicrophone() || c.Wyoming.Listen != "tcp://0.0.0.0:10400" || c.Wyoming.MaxClients != 3 || c.Wyoming.Zeroconf == nil || *c.Wyoming.Zeroconf {
		t.Fatalf("wyoming %+v", c.Wyoming)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"wyoming:\n  listen: http://x:1\n", `config c.yaml:2: wyoming.listen: scheme must be tcp:// or unix://, got "http://x:1"`},
		{"wyoming:\n  listen: tcp://localhost\n", `config c.yaml:2: wyoming.listen: want tcp://HOST:PORT, e.g. tcp://0.0.0.0:10400, got "tcp://localhost"`},
		{"wyoming:\n  listen: tcp://:70000\n", `config c.yaml:2: wyoming.listen: port must be 1-65535, got "70000"`},
		{"wyoming:\n  listen: unix://\n", `config c.yaml:2: wyoming.listen: want unix://PATH`},
		{"wyoming:\n  listen: tcp://:10400\n  max_clients: 0\n", `config c.yaml:3: wyoming.max_clients: must be 1-1024 connections, got 0`},
		{"wyoming:\n  listen: unix:///run/w.sock\n  zeroconf: true\n", `config c.yaml:3: wyoming.zeroconf: advertises a TCP port, but wyoming.listen is "unix:///run/w.sock"`},
		{"audio:\n  device: none\n", `config c.yaml:2: audio.device: none (no microphone) needs wyoming.listen`},
	} {
		c, src, err := Parse("c.yaml", []byte(tc.yaml))
		if err == nil {
			err = c.Validate(src)
		}
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.yaml, err, tc.want)
		}
	}
	for uri, want := range map[string][2]string{
		"tcp://127.0.0.1:10400":        {"tcp", "127.0.0.1:10400"},
		"tcp://[::]:10400":             {"tcp", "[::]:10400"},
		"tcp://:10400":                 {"tcp", ":10400"},
		"unix:///run/wakewordd/w.sock": {"unix", "/run/wakewordd/w.sock"},
		"unix://relative.sock":         {"unix", "relative.sock"},
	} {
		n, a, err := ParseListen(uri)
		if err != nil || n != want[0] || a != want[1] {
			t.Errorf("ParseListen(%q) = %q, %q, %v; want %v", uri, n, a, err, want)
		}
	}
}
