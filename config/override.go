package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// override is one key that can be set from text (a command-line flag) and where it lives
// in Config; the field's type says how the text is parsed.
type override struct {
	key string
	ptr func(c *Config) any // *string, *bool, *int, *float64 or *time.Duration
}

// overrides are the keys Set accepts. Keys whose Config field is a pointer (nil = the
// model's default) get a fresh value.
var overrides = []override{
	{"site_id", func(c *Config) any { return &c.SiteID }},
	{"audio.device", func(c *Config) any { return &c.Audio.Device }},
	{"audio.rate", func(c *Config) any { return &c.Audio.Rate }},
	{"audio.channel", func(c *Config) any { return &c.Audio.Channel }},
	{"audio.buffer", func(c *Config) any { return &c.Audio.Buffer }},
	{"audio.lossless", func(c *Config) any { return &c.Audio.Lossless }},
	{"audio.input", func(c *Config) any { return &c.Audio.Input }},
	{"audio.realtime", func(c *Config) any { return &c.Audio.Realtime }},
	{"model.path", func(c *Config) any { return &c.Model.Path }},
	{"model.hop", func(c *Config) any { c.Model.Hop = new(time.Duration); return c.Model.Hop }},
	{"model.dense", func(c *Config) any { return &c.Model.Dense }},
	{"model.mlp", func(c *Config) any { return &c.Model.MLP }},
	{"model.gate", func(c *Config) any { return &c.Model.Gate }},
	{"model.gate_threshold", func(c *Config) any { c.Model.GateThreshold = new(float64); return c.Model.GateThreshold }},
	{"model.gate_hold", func(c *Config) any { c.Model.GateHold = new(int); return c.Model.GateHold }},
	{"model.gate_fuse", func(c *Config) any { c.Model.GateFuse = new(float64); return c.Model.GateFuse }},
	{"model.delta_scale", func(c *Config) any { c.Model.DeltaScale = new(float64); return c.Model.DeltaScale }},
	{"detect.threshold", func(c *Config) any { c.Detect.Threshold = new(float64); return c.Detect.Threshold }},
	{"detect.sensitivity", func(c *Config) any { c.Detect.Sensitivity = new(float64); return c.Detect.Sensitivity }},
	{"log.level", func(c *Config) any { return &c.Log.Level }},
	{"log.format", func(c *Config) any { return &c.Log.Format }},
	{"log.stats_interval", func(c *Config) any { return &c.Log.Stats }},
	{"mqtt.broker", func(c *Config) any { return &c.MQTT.Broker }},
	{"mqtt.username", func(c *Config) any { return &c.MQTT.Username }},
	{"mqtt.password_file", func(c *Config) any { return &c.MQTT.PasswordFile }},
	{"output.json", func(c *Config) any { return &c.Output.JSON }},
	{"wyoming.listen", func(c *Config) any { return &c.Wyoming.Listen }},
	{"wyoming.max_clients", func(c *Config) any { return &c.Wyoming.MaxClients }},
	{"wyoming.zeroconf", func(c *Config) any { c.Wyoming.Zeroconf = new(bool); return c.Wyoming.Zeroconf }},
}

// OverrideKeys lists the keys Set accepts.
func OverrideKeys() []string {
	keys := make([]string, len(overrides))
	for i, o := range overrides {
		keys[i] = o.key
	}
	return keys
}

// IsBool reports whether key takes true or false (so that a bare --flag can set it).
func IsBool(key string) bool {
	i := slices.IndexFunc(overrides, func(o override) bool { return o.key == key })
	if i < 0 {
		return false
	}
	_, ok := overrides[i].ptr(&Config{}).(*bool)
	return ok
}

// Set parses value as the key's type and stores it in c. It does not validate the result;
// call Validate once every override is in.
func Set(c *Config, key, value string) error {
	i := slices.IndexFunc(overrides, func(o override) bool { return o.key == key })
	if i < 0 {
		return fmt.Errorf("%s cannot be set from the command line", key)
	}
	// Parse into a scratch Config first, so that a bad value leaves c as it was.
	parsed := overrides[i].ptr(&Config{})
	var err error
	var want string
	switch p := parsed.(type) {
	case *string:
		*p = value
	case *bool:
		*p, err = strconv.ParseBool(value)
		want = "true or false"
	case *int:
		*p, err = strconv.Atoi(value)
		want = "a whole number"
	case *float64:
		*p, err = strconv.ParseFloat(value, 64)
		want = "a number"
	case *time.Duration:
		*p, err = time.ParseDuration(value)
		want = "a duration such as 100ms"
	}
	if err != nil {
		return fmt.Errorf("cannot parse %q as %s", value, want)
	}
	reflect.ValueOf(overrides[i].ptr(c)).Elem().Set(reflect.ValueOf(parsed).Elem())
	return nil
}

// Changed lists the keys whose values differ between a and b: each top-level section, or
// the key within it when the section is listed by key in except. Keys in except (e.g.
// "detect", "log.level") are left out.
func Changed(a, b Config, except ...string) []string {
	var keys []string
	diff(reflect.ValueOf(a), reflect.ValueOf(b), "", except, &keys)
	return keys
}

// diff compares struct values field by field, descending into a section only when some
// key of except lies inside it.
func diff(a, b reflect.Value, prefix string, except []string, keys *[]string) {
	t := a.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		key := prefix + name
		if name == "" { // an inlined struct: its keys belong to the parent
			key = strings.TrimSuffix(prefix, ".")
		}
		fa, fb := a.Field(i), b.Field(i)
		switch {
		case slices.Contains(except, key):
		case reflect.DeepEqual(fa.Interface(), fb.Interface()):
		case fa.Kind() == reflect.Struct && slices.ContainsFunc(except, func(e string) bool { return strings.HasPrefix(e, key+".") }):
			diff(fa, fb, key+".", except, keys)
		default:
			*keys = append(*keys, key)
		}
	}
}
