package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSetEveryKey(t *testing.T) {
	values := map[string]string{} // a value of each key's type that differs from the default
	for _, key := range OverrideKeys() {
		c := Default()
		var v string
		switch reflect.TypeOf(mustPtr(t, key)).Elem().Kind() {
		case reflect.String:
			v = "x"
		case reflect.Bool:
			v = "true"
		case reflect.Int:
			v = "7"
		case reflect.Float64:
			v = "0.25"
		case reflect.Int64: // time.Duration
			v = "150ms"
		default:
			t.Fatalf("%s: no test value for its type", key)
		}
		values[key] = v
		before := Default()
		if err := Set(&c, key, v); err != nil {
			t.Fatalf("Set(%s, %q): %v", key, v, err)
		}
		if reflect.DeepEqual(c, before) {
			t.Errorf("Set(%s, %q) changed nothing", key, v)
		}
		if IsBool(key) != (v == "true") {
			t.Errorf("IsBool(%s) = %v", key, IsBool(key))
		}
	}
	c := Default()
	for key, v := range values {
		if err := Set(&c, key, v); err != nil {
			t.Fatal(err)
		}
	}
	if c.Model.Hop == nil || *c.Model.Hop != 150*time.Millisecond || *c.Detect.Threshold != 0.25 || c.Audio.Rate != 7 || !c.Output.JSON || c.MQTT.Broker != "x" {
		t.Fatalf("after setting every key: %+v", c)
	}
}

// mustPtr returns the pointer a key's table entry gives into a fresh Config.
func mustPtr(t *testing.T, key string) any {
	for _, o := range overrides {
		if o.key == key {
			return o.ptr(&Config{})
		}
	}
	t.Fatalf("no override %s", key)
	return nil
}

func TestSetRejects(t *testing.T) {
	c := Default()
	for _, tc := range []struct{ key, value, want string }{
		{"audio.rate", "fast", `cannot parse "fast" as a whole number`},
		{"audio.lossless", "maybe", `as true or false`},
		{"model.hop", "100", `as a duration`},
		{"detect.threshold", "high", `as a number`},
		{"mqtt.password", "x", "cannot be set from the command line"},
	} {
		if err := Set(&c, tc.key, tc.value); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Set(%s, %q) = %v, want %q", tc.key, tc.value, err, tc.want)
		}
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("failed Sets changed the config: %+v", c)
	}
}

func TestChanged(t *testing.T) {
	a, b := Default(), Default()
	if got := Changed(a, b); len(got) != 0 {
		t.Fatalf("equal configs: %v", got)
	}
	th := 0.9
	b.Detect.Threshold = &th
	b.Log.Level = "debug"
	b.Log.Format = "json"
	b.MQTT.Broker = "tcp://h:1883"
	b.Model.Path = "x"
	want := []string{"model", "detect", "mqtt", "log"}
	if got := Changed(a, b); !reflect.DeepEqual(got, want) {
		t.Errorf("Changed = %v, want %v", got, want)
	}
	if got := Changed(a, b, "detect", "log.level"); !reflect.DeepEqual(got, []string{"model", "mqtt", "log.format"}) {
		t.Errorf("Changed except detect, log.level = %v", got)
	}
}
