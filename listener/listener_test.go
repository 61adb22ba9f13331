package listener

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/detect"
	"github.com/wakewordd/wakewordd/infer"
)

const (
	shippedModel = "../models/kwt.safetensors"
	shippedGate  = "../models/kwt-stream.safetensors"
	example      = "../examples/kitchen.wav"
)

// parse reads a YAML config as the daemon does, so that errors carry file and line.
func parse(t *testing.T, yaml string) (config.Config, *config.Source) {
	t.Helper()
	c, src, err := config.Parse("c.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(src); err != nil {
		t.Fatal(err)
	}
	return c, src
}

func load(t *testing.T, path string) *infer.Model {
	t.Helper()
	m, err := infer.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPolicyMerge(t *testing.T) {
	m := load(t, shippedModel)
	m.Detection.Thresholds = map[string]float64{"alexa": 0.7, "jarvis": 0.6}
	c, src := parse(t, "detect:\n  smoothing: 4\n  patience: 2\n  keywords:\n    jarvis:\n      threshold: 0.8\n    snowboy:\n      enabled: false\n")
	s, err := Resolve(c, src, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Rules) != len(m.Keywords()) {
		t.Fatalf("rules for %d keywords, the model has %d", len(s.Rules), len(m.Keywords()))
	}
	for kw, want := range map[string]detect.Rule{
		"alexa":    {Enabled: true, Threshold: 0.7, Smoothing: 4, Patience: 2},                   // the model's own threshold
		"jarvis":   {Enabled: true, Threshold: 0.8, Smoothing: 4, Patience: 2},                   // the config's, over the model's
		"computer": {Enabled: true, Threshold: m.Detection.Threshold, Smoothing: 4, Patience: 2}, // the model's default
		"snowboy":  {Enabled: false, Threshold: m.Detection.Threshold, Smoothing: 4, Patience: 2},
	} {
		want.Refractory = time.Duration(m.Detection.RefractoryS * float64(time.Second))
		if got := s.Rules[kw]; got != want {
			t.Errorf("%s: rule %+v, want %+v", kw, got, want)
		}
	}
	l, err := s.New()
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := l.Detector.Rule("jarvis"); r.Threshold != 0.8 {
		t.Errorf("the listener's detector has jarvis at %v", r.Threshold)
	}
}

func TestResolveErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"detect:\n  keywords:\n    hey_siri:\n      threshold: 0.5\n", `config c.yaml:3: detect.keywords.hey_siri: not a keyword of model ../models/kwt.safetensors`},
		{"model:\n  delta:\n    qkv: 0.5\n    fc3: 0.5\n", `config c.yaml:4: model.delta.fc3: unknown delta site "fc3" (want one of [qkv scores values out fc1 fc2])`},
		{"model:\n  hop: 15ms\n", `config c.yaml:2: model.hop: hop 15ms must be a multiple of the 10ms frame hop`},
		{"model:\n  hop: 3s\n", `config c.yaml:2: model.hop: hop 3s must be a multiple of the 10ms frame hop, at most 2s`},
	} {
		c, src := parse(t, tc.yaml)
		_, err := Resolve(c, src, load(t, shippedModel), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

func TestPass(t *testing.T) {
	m := load(t, shippedModel)
	gate := load(t, shippedGate)
	for _, tc := range []struct {
		yaml      string
		gate      *infer.Model
		dense     bool
		want      string
		cascade   bool
		threshold float64
	}{
		{"{}", nil, false, "delta qkv=", false, 0},
		{"model:\n  dense: true\n", nil, true, "dense (model.dense)", false, 0},
		{"model:\n  delta_scale: 0\n", nil, false, "delta qkv=0", false, 0}, // exact, but still the delta pass
		{"model:\n  gate_threshold: 0.3\n  gate_fuse: 0\n", gate, false, "behind the gate ../models/kwt-stream.safetensors (threshold 0.3, hold 1 hops)", true, 0.3},
		{"model:\n  gate_fuse: 0.25\n", gate, false, "(threshold 0.1, hold 1 hops, its logits blended in at 0.25)", true, 0.1},
	} {
		c, src := parse(t, tc.yaml)
		s, err := Resolve(c, src, load(t, shippedModel), tc.gate)
		if err != nil {
			t.Fatal(err)
		}
		if s.Dense != tc.dense || !strings.Contains(s.Pass(), tc.want) {
			t.Errorf("%q: dense %v, pass %q, want %v and %q", tc.yaml, s.Dense, s.Pass(), tc.dense, tc.want)
		}
		_, cas, err := s.Scorer()
		if err != nil || (cas != nil) != tc.cascade || (tc.cascade && s.GateThreshold != tc.threshold) {
			t.Errorf("%q: cascade %v, err %v", tc.yaml, cas, err)
		}
	}
	// The blend weight is the model's unless the config sets it.
	fm := load(t, shippedModel)
	fm.Detection.GateFuse = 0.4
	for yaml, want := range map[string]float64{"{}": 0.4, "model:\n  gate_fuse: 0.7\n": 0.7, "model:\n  gate_fuse: 0\n": 0} {
		c, src := parse(t, yaml)
		s, err := Resolve(c, src, fm, gate)
		if err != nil || s.GateFuse != want {
			t.Errorf("%q: gate fuse %v, err %v; want %v", yaml, s.GateFuse, err, want)
		}
	}
	// A model without delta thresholds runs dense, and says why.
	m.Delta = nil
	s, err := Resolve(config.Default(), nil, m, nil)
	if err != nil || !s.Dense || !strings.Contains(s.Pass(), "no delta thresholds") {
		t.Fatalf("no thresholds: %v, %q", err, s.Pass())
	}
	// A streaming model needs no gate, and gets none.
	s, err = Resolve(config.Default(), nil, load(t, shippedGate), gate)
	if err != nil || s.Gate != nil {
		t.Fatalf("streaming model: gate %v, err %v", s.Gate, err)
	}
}

func TestGatePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // the relative default paths, models/..., resolve here
	if err := os.Mkdir("models", 0o755); err != nil {
		t.Fatal(err)
	}
	if got := GatePath("", "models/kwt.safetensors"); got != "" {
		t.Errorf("without the default gate file: %q", got)
	}
	if err := os.WriteFile("models/kwt-stream.safetensors", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ gate, model, want string }{
		{"", "models/kwt.safetensors", "models/kwt-stream.safetensors"},
		{"", "./models/kwt.safetensors", "models/kwt-stream.safetensors"},
		{"", "mine.safetensors", ""},
		{"none", "models/kwt.safetensors", ""},
		{"g.safetensors", "mine.safetensors", "g.safetensors"},
	} {
		if got := GatePath(tc.gate, tc.model); got != tc.want {
			t.Errorf("GatePath(%q, %q) = %q, want %q", tc.gate, tc.model, got, tc.want)
		}
	}
}

// Each Listener of a Spec is its own stream: scanning the same file in two of them, and
// again after other audio, gives the same detections.
func TestListenersAreIndependent(t *testing.T) {
	c := config.Default()
	c.Model.Path = shippedModel
	c.Model.Gate = shippedGate
	s, err := Load(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.New()
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first, length, err := a.ScanFile(ctx, example, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) == 0 || length < 18*time.Second {
		t.Fatalf("%d detections in %v of the example", len(first), length)
	}
	var hops int
	b.OnPosteriors = func(time.Duration, []float32) { hops++ }
	again, _, err := b.ScanFile(ctx, example, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.ScanFile(ctx, example, 0); err != nil {
		t.Fatal(err)
	}
	third, _, err := a.ScanFile(ctx, example, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range [][]detect.Detection{again, third} {
		if len(got) != len(first) {
			t.Fatalf("%v, then %v", first, got)
		}
		for i := range got {
			if got[i] != first[i] {
				t.Fatalf("detection %d: %+v, first time %+v", i, got[i], first[i])
			}
		}
	}
	// 21 s of audio at a 100 ms hop, less the first window.
	if want := int((length+2*time.Second-1480*time.Millisecond)/s.Hop) + 1; hops < want-2 || hops > want+2 {
		t.Errorf("%d hops of posteriors, want about %d", hops, want)
	}
	if hops, judged := a.Cascade.Judged(); judged == 0 || judged >= hops {
		t.Errorf("the gate let the model score %d of %d hops", judged, hops)
	}
}

func TestLoadErrors(t *testing.T) {
	model, err := filepath.Abs(shippedModel)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	if _, err := Load(config.Default(), nil); err == nil || !strings.Contains(err.Error(), "no model: model.path is not set") {
		t.Errorf("no model anywhere: %v", err)
	}
	c := config.Default()
	c.Model.Path = "missing.safetensors"
	if _, err := Load(c, nil); err == nil || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Errorf("missing model: %v", err)
	}
	c.Model.Path, c.Model.Gate = model, "missing-gate.safetensors"
	if _, err := Load(c, nil); err == nil || !strings.Contains(err.Error(), "model.gate: ") || !strings.Contains(err.Error(), "missing-gate.safetensors") {
		t.Errorf("missing gate: %v", err)
	}
}

// The shipped model carries what `detect.sensitivity` needs for every keyword: a valid
// calibration ladder that holds the shipped threshold, so sensitivity 0.5 is the default and
// other values move along the measured curve.
func TestShippedModelIsCalibrated(t *testing.T) {
	m := load(t, shippedModel)
	for _, kw := range m.Keywords() {
		cal, ok := m.Detection.Calibration[kw]
		if !ok {
			t.Errorf("%s: no calibration in %s", kw, shippedModel)
			continue
		}
		if err := cal.Validate(); err != nil {
			t.Errorf("%s: %v", kw, err)
		}
		th := m.Detection.ThresholdFor(kw)
		if got := cal.Threshold(0.5, th); math.Abs(got-th) > 1e-9 {
			t.Errorf("%s: sensitivity 0.5 gives %v, the shipped threshold is %v", kw, got, th)
		}
		if lo, hi := cal.Threshold(0.2, th), cal.Threshold(0.8, th); !(lo >= th && hi <= th && lo > hi) {
			t.Errorf("%s: sensitivity 0.2 gives %v and 0.8 gives %v around %v", kw, lo, hi, th)
		}
	}
}

// Every layer of the precedence a user expects: the model's defaults and per-keyword
// thresholds, then the config's values for every keyword (which override the model's
// per-keyword thresholds), then the config's per-keyword values.
func TestPolicyPrecedence(t *testing.T) {
	cal := infer.Calibration{Ceiling: 0.999, Points: []infer.CalibrationPoint{
		{Threshold: 0.5, FAPerHour: 20, MissRate: 0.01}, {Threshold: 0.9, FAPerHour: 2, MissRate: 0.05},
		{Threshold: 0.99, FAPerHour: 0.2, MissRate: 0.2}, {Threshold: 0.999, FAPerHour: 0, MissRate: 0.5}}}
	model := func() *infer.Model {
		m := load(t, shippedModel)
		m.Detection.Threshold = 0.5
		m.Detection.Thresholds = map[string]float64{"alexa": 0.9, "jarvis": 0.95}
		m.Detection.Calibration = map[string]infer.Calibration{}
		for _, kw := range m.Keywords() {
			m.Detection.Calibration[kw] = cal
		}
		return m
	}
	for _, tc := range []struct {
		yaml   string
		alexa  float64
		from   string
		jarvis float64
		other  float64 // computer: no per-keyword threshold in the model
	}{
		{"{}", 0.9, "model", 0.95, 0.5},
		{"detect:\n  threshold: 0.99\n", 0.99, "detect.threshold", 0.99, 0.99},
		{"detect:\n  threshold: 0.99\n  keywords:\n    alexa:\n      threshold: 0.6\n", 0.6, "detect.keywords.alexa.threshold", 0.99, 0.99},
		{"detect:\n  keywords:\n    alexa:\n      threshold: 0.6\n", 0.6, "detect.keywords.alexa.threshold", 0.95, 0.5},
		{"detect:\n  keywords:\n    alexa:\n      sensitivity: 0.5\n", 0.9, "detect.keywords.alexa.sensitivity 0.5", 0.95, 0.5},
		{"detect:\n  keywords:\n    alexa:\n      sensitivity: 0\n", 0.999, "detect.keywords.alexa.sensitivity 0", 0.95, 0.5},
		{"detect:\n  threshold: 0.99\n  keywords:\n    alexa:\n      sensitivity: 1\n", 0.5, "detect.keywords.alexa.sensitivity 1", 0.99, 0.99},
	} {
		c, src := parse(t, tc.yaml)
		p, err := MergePolicy(c, src, model())
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		if a := p.Rules["alexa"]; math.Abs(a.Threshold-tc.alexa) > 1e-9 || p.From["alexa"] != tc.from {
			t.Errorf("%q: alexa %v from %q, want %v from %q", tc.yaml, a.Threshold, p.From["alexa"], tc.alexa, tc.from)
		}
		if j, o := p.Rules["jarvis"].Threshold, p.Rules["computer"].Threshold; j != tc.jarvis || o != tc.other {
			t.Errorf("%q: jarvis %v, computer %v, want %v and %v", tc.yaml, j, o, tc.jarvis, tc.other)
		}
	}
	// Sensitivity moves the threshold the documented way: higher, lower threshold.
	prev := 2.0
	for _, s := range []string{"0.1", "0.3", "0.5", "0.7", "0.9"} {
		c, src := parse(t, "detect:\n  sensitivity: "+s+"\n")
		p, err := MergePolicy(c, src, model())
		if err != nil {
			t.Fatal(err)
		}
		if th := p.Rules["alexa"].Threshold; !(th < prev) {
			t.Errorf("sensitivity %s: alexa %v, not below %v", s, th, prev)
		} else {
			prev = th
		}
	}
	// A keyword without a calibration cannot take a sensitivity; the error names the key.
	c, src := parse(t, "detect:\n  keywords:\n    computer:\n      sensitivity: 0.7\n")
	uncalibrated := model()
	delete(uncalibrated.Detection.Calibration, "computer")
	if _, err := MergePolicy(c, src, uncalibrated); err == nil || !strings.Contains(err.Error(), "c.yaml:4: detect.keywords.computer.sensitivity: model") || !strings.Contains(err.Error(), "no calibration for computer") {
		t.Errorf("sensitivity without calibration: %v", err)
	}
	// A threshold above the ceiling is named, with the ceiling.
	c, src = parse(t, "detect:\n  threshold: 0.9995\n")
	p, err := MergePolicy(c, src, model())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) != len(p.Rules) || !strings.Contains(p.Warnings[0], "alexa: threshold 0.9995 (detect.threshold) is above 0.999,") {
		t.Errorf("warnings %q", p.Warnings)
	}
	if got := p.Thresholds(); !strings.Contains(got, "alexa 0.9995 (detect.threshold)") {
		t.Errorf("Thresholds() = %q", got)
	}
}
