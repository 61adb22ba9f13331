package main

import (
	"bytes"
	"math"
	"testing"

	"github.com/wakewordd/wakewordd/infer"
)

// -pick-miss takes each keyword's highest threshold that misses at most the share asked
// alone, and the ladder -calibrate stores is the keyword's measured curve: monotone
// thresholds, the shipped one on it, and the figures the sweep measured there.
func TestPickByMissAndCalibration(t *testing.T) {
	st, m := interacting()
	h := st.hours()
	def, rules, err := shippedRules(m)
	if err != nil {
		t.Fatal(err)
	}
	curves, err := st.sweepAll([]string{"a", "b"}, def, rules, sensitivityGrid(), refineBudgets(1/h, h), tol, 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.pickByMiss(m, []string{"a", "b"}, curves, 0.5, tol)
	if err != nil {
		t.Fatal(err)
	}
	// a's clips score 0.625 and 0.9375: missing at most half allows up to 0.9375.
	if th := p.Thresholds["a"]; !(th > 0.625 && th <= 0.9375) {
		t.Errorf("a's threshold %v, want above 0.625 and at most 0.9375", th)
	}
	for kw, th := range p.Thresholds {
		alone, ok := highestWithMiss(curves[kw], 0.5)
		if !ok || alone.Threshold != th || alone.MissRate > 0.5 {
			t.Errorf("%s: %v, the curve's highest within a miss of 0.5 is %+v", kw, th, alone)
		}
	}
	if fa, miss := direct(t, st, p.Thresholds); fa != p.AllOn.FalseAlarms || math.Abs(miss-p.AllOn.MissRate) > 1e-12 {
		t.Errorf("verification %d FA, %v miss; replayed directly %d, %v", p.AllOn.FalseAlarms, p.AllOn.MissRate, fa, miss)
	}
	if _, err := st.pickByMiss(m, []string{"a", "b"}, curves, 1e-9, tol); err != nil {
		t.Logf("no threshold misses nothing: %v", err) // a is missed at 0.9375 and above
	}

	cm, err := calibrated(withThresholds(m, p.Thresholds), []string{"a", "b"}, curves, h)
	if err != nil {
		t.Fatal(err)
	}
	for kw, cal := range cm.Detection.Calibration {
		if err := cal.Validate(); err != nil {
			t.Fatalf("%s: %v", kw, err)
		}
		found := false
		for _, pt := range cal.Points {
			found = found || pt.Threshold == p.Thresholds[kw]
			for _, sw := range curves[kw] {
				if sw.Threshold == pt.Threshold && (sw.FAPerHour != pt.FAPerHour || sw.MissRate != pt.MissRate) {
					t.Errorf("%s at %v: ladder %+v, sweep %+v", kw, pt.Threshold, pt, sw)
				}
			}
		}
		if !found {
			t.Errorf("%s: the shipped threshold %v is not on the ladder %+v", kw, p.Thresholds[kw], cal.Points)
		}
		if got := cal.Threshold(0.5, p.Thresholds[kw]); math.Abs(got-p.Thresholds[kw]) > 1e-9 {
			t.Errorf("%s: sensitivity 0.5 gives %v, the shipped threshold is %v", kw, got, p.Thresholds[kw])
		}
	}
	// The ceiling is the highest swept threshold at which a clip fired: within one step of
	// the sweep's grid below a's best clip (0.9375).
	if c := cm.Detection.Calibration["a"].Ceiling; !(c > 0.92 && c <= 0.9375) {
		t.Errorf("a's ceiling %v, want just below its best clip's 0.9375", c)
	}
	// The model file keeps it.
	var b bytes.Buffer
	if err := infer.Write(&b, cm); err == nil {
		if _, err := infer.Parse(b.Bytes(), "c.safetensors"); err != nil {
			t.Errorf("the calibrated model does not read back: %v", err)
		}
	}
}

// -sensitivity measures the model with the thresholds `run --sensitivity` would use.
func TestAtSensitivity(t *testing.T) {
	m, err := infer.Load("../../models/kwt.safetensors")
	if err != nil {
		t.Skip(err)
	}
	m.Detection.Calibration = nil
	if _, _, err := atSensitivity(m, 0.7); err == nil {
		t.Error("a model without calibration took a sensitivity")
	}
	cm := *m
	cm.Detection.Calibration = map[string]infer.Calibration{}
	for _, kw := range m.Keywords() {
		cm.Detection.Calibration[kw] = infer.Calibration{Ceiling: 0.999, Points: []infer.CalibrationPoint{
			{Threshold: 0.3, FAPerHour: 20, MissRate: 0}, {Threshold: 0.9, FAPerHour: 1, MissRate: 0.1}, {Threshold: 0.999, FAPerHour: 0, MissRate: 0.5}}}
	}
	mid, _, err := atSensitivity(&cm, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	high, b, err := atSensitivity(&cm, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	for _, kw := range m.Keywords() {
		if got, want := mid.Detection.ThresholdFor(kw), cm.Detection.ThresholdFor(kw); math.Abs(got-want) > 1e-9 {
			t.Errorf("%s at 0.5: %v, the model's %v", kw, got, want)
		}
		if !(high.Detection.ThresholdFor(kw) < mid.Detection.ThresholdFor(kw)) {
			t.Errorf("%s: 0.9 gives %v, not below 0.5's %v", kw, high.Detection.ThresholdFor(kw), mid.Detection.ThresholdFor(kw))
		}
	}
	if back, err := infer.Parse(b, "s.safetensors"); err != nil || back.Detection.ThresholdFor("alexa") != high.Detection.ThresholdFor("alexa") {
		t.Errorf("the written model: %v", err)
	}
}
