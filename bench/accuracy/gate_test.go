package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/npy"
)

// cachedPosteriors reads every segment's posteriors from a run's cache, in order.
func cachedPosteriors(t *testing.T, res *results) []float64 {
	t.Helper()
	var all []float64
	for i := range res.Segments {
		data, _, err := npy.ReadFile(segPath(res.Cache, i, ".npy"))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, data...)
	}
	return all
}

// TestGateIsPartOfTheChain scores one stream three ways with small random models: behind a
// gate that never wakes the model (its silence logit far above the rest, so every keyword
// posterior is ~1e-20, below the gate threshold and any detection threshold), without a
// gate, and behind the same gate at a threshold it always reaches. Ignoring the gate, or
// its settings, would make the three agree; they must not, and the always-open gate must
// give exactly the ungated posteriors.
func TestGateIsPartOfTheChain(t *testing.T) {
	m, err := infer.Random(infer.Arch{Dim: 16, Depth: 2, Heads: 1, MLPDim: 32, Frames: 98, Coeffs: 40, NumClasses: 4, NormEps: 1e-6, Norm: "post"}, 5)
	if err != nil {
		t.Fatal(err)
	}
	m.Detection.Threshold, m.Detection.Thresholds = 0.05, nil // plenty of detections without a gate
	modelPath := writeModel(t, m, "random.safetensors")
	asleep := randomGate(t, m, 6)
	asleep.Weights.HeadB[0] = 50 // silence
	gatePath := writeModel(t, asleep, "asleep.safetensors")
	clipDir := t.TempDir()
	for _, kw := range m.Keywords() {
		toneClip(t, filepath.Join(clipDir, kw, "a.wav"))
	}
	o := options{
		model: modelPath, clips: clipDir, hours: 60.0 / 3600, seed: 4, segment: 30 * time.Second, every: 15 * time.Second,
		snr: 10, gainDB: 3, levelDB: -26, work: t.TempDir(), jobs: 1, tolerance: 500 * time.Millisecond, budgets: []float64{60},
		background: "real", real: realDir(t, 4, 2),
		gate: gatePath, gateThreshold: config.DefaultGateThreshold, gateHold: config.DefaultGateHold,
	}
	measure := func(o options) (*results, []float64, string) {
		t.Helper()
		var log bytes.Buffer
		res, err := run(o, &log)
		if err != nil {
			t.Fatalf("-gate %s: %v\n%s", o.gate, err, log.String())
		}
		if strings.Contains(log.String(), "segments cached") {
			t.Errorf("-gate %s -gate-threshold %g reused another run's posteriors:\n%s", o.gate, o.gateThreshold, log.String())
		}
		md, err := os.ReadFile(filepath.Join(res.Out, "results.md"))
		if err != nil {
			t.Fatal(err)
		}
		o.out = "" // each run its own folder
		return res, cachedPosteriors(t, res), string(md)
	}
	// fired counts the detections at the model's settings, every keyword on.
	fired := func(res *results) int {
		n := 0
		for _, kr := range res.Keywords {
			n += kr.Shipped.Hits + kr.Shipped.FalseAlarms
		}
		return n
	}

	// Behind the sleeping gate: the model never scores, nothing can fire.
	o.out = filepath.Join(o.work, "asleep")
	asleepRes, asleepP, md := measure(o)
	if g := asleepRes.Gate; g == nil || g.Path != gatePath || g.Hops == 0 || g.WindowHops != 0 || g.WindowShare != 0 || *g.Threshold != 0.1 || *g.Hold != 1 {
		t.Fatalf("asleep gate: %+v", asleepRes.Gate)
	}
	if n := fired(asleepRes); n != 0 {
		t.Errorf("behind a gate that never opens, %d detections at the model's settings", n)
	}
	for _, kr := range asleepRes.Keywords {
		if p := kr.Budgets[0]; p.Reached && p.Hits > 0 {
			t.Errorf("%s: %d hits behind a gate that never opens", kr.Keyword, p.Hits)
		}
	}
	for i, v := range asleepP {
		if i%len(m.Classes) >= 2 && v > 1e-6 {
			t.Fatalf("posterior %d is %v behind the sleeping gate", i, v)
		}
	}
	if !strings.Contains(md, "behind the gate "+gatePath) || !strings.Contains(md, "for 0 of ") {
		t.Errorf("results.md does not name the gate and its share:\n%s", md)
	}

	// No gate: the model scores every hop, and fires.
	o.gate, o.out = "none", filepath.Join(o.work, "none")
	noneRes, noneP, md := measure(o)
	if g := noneRes.Gate; g == nil || g.Path != "none" || g.WindowHops != g.Hops || g.WindowShare != 1 || g.Hops != asleepRes.Gate.Hops {
		t.Fatalf("-gate none: %+v", noneRes.Gate)
	}
	if fired(noneRes) == 0 {
		t.Fatal("without the gate the model at threshold 0.05 never fires: the test shows nothing")
	}
	if slices.Equal(noneP, asleepP) {
		t.Error("the gate changed no posterior")
	}
	if !strings.Contains(md, "no gate (-gate none)") {
		t.Errorf("results.md does not say there is no gate:\n%s", md)
	}

	// The same gate at a threshold it always reaches: the model scores every hop, exactly as
	// without the gate. The threshold is part of the cache key (measure checks).
	o.gate, o.gateThreshold, o.out = gatePath, 1e-30, filepath.Join(o.work, "open")
	openRes, openP, _ := measure(o)
	if g := openRes.Gate; g.WindowHops != g.Hops || *g.Threshold != 1e-30 {
		t.Fatalf("always-open gate: %+v", openRes.Gate)
	}
	if !slices.Equal(openP, noneP) || fired(openRes) != fired(noneRes) {
		t.Errorf("behind an always-open gate: %d detections, without a gate %d; posteriors equal: %v", fired(openRes), fired(noneRes), slices.Equal(openP, noneP))
	}

	// A gate that is not a streaming model, or no file, is an error.
	o.gateThreshold = config.DefaultGateThreshold
	for _, bad := range []string{modelPath, filepath.Join(t.TempDir(), "missing.safetensors")} {
		o.gate = bad
		if _, err := run(o, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "-gate") {
			t.Errorf("-gate %s: %v", bad, err)
		}
	}
}
