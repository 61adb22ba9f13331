package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/detect"
	"github.com/wakewordd/wakewordd/engine"
	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/kernels"
	"github.com/wakewordd/wakewordd/pipeline"
)

// loadModel opens the configured model, or the first default path that exists, and
// applies model.mlp.
func loadModel(c config.Config) (*infer.Model, error) {
	path := c.Model.Path
	if path == "" {
		path = firstExisting(config.DefaultModelPaths)
	}
	if path == "" {
		return nil, fmt.Errorf("no model: model.path is not set and none of %v exists", config.DefaultModelPaths)
	}
	m, err := infer.Load(path)
	if err == nil && c.Model.MLP != "" {
		m.MLP = c.Model.MLP
	}
	return m, err
}

// firstExisting returns the first of paths that exists, or "".
func firstExisting(paths []string) string {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// detectorFor merges the detection policy: the model's defaults, then the config's
// defaults, then the model's per-keyword thresholds, then the config's per-keyword rules.
func detectorFor(c config.Config, src *config.Source, m *infer.Model) (*detect.Detector, error) {
	md := m.Detection
	def := detect.Rule{
		Enabled: true, Threshold: md.Threshold, Smoothing: md.Smoothing, Patience: md.Patience,
		Refractory: time.Duration(md.RefractoryS * float64(time.Second)),
	}
	def = overlay(def, c.Detect.Rule)
	rules := map[string]detect.Rule{}
	for kw, th := range md.Thresholds {
		r := def
		r.Threshold = th
		rules[kw] = r
	}
	for kw, over := range c.Detect.Keywords {
		r, ok := rules[kw]
		if !ok {
			r = def
		}
		rules[kw] = overlay(r, over)
	}
	d, err := detect.New(m.Classes, def, rules)
	if err != nil && src != nil {
		for kw := range c.Detect.Keywords {
			if _, e := detect.New(m.Classes, def, map[string]detect.Rule{kw: def}); e != nil {
				return nil, src.Errorf("detect.keywords."+kw, "not a keyword of model %s (it has %v)", m.Path, m.Keywords())
			}
		}
	}
	return d, err
}

func overlay(r detect.Rule, o config.Rule) detect.Rule {
	if o.Enabled != nil {
		r.Enabled = *o.Enabled
	}
	if o.Threshold != nil {
		r.Threshold = *o.Threshold
	}
	if o.Smoothing != nil {
		r.Smoothing = *o.Smoothing
	}
	if o.Patience != nil {
		r.Patience = *o.Patience
	}
	if o.Refractory != nil {
		r.Refractory = *o.Refractory
	}
	return r
}

// deltaThresholds merges the delta thresholds: the model's, scaled by model.delta_scale,
// then model.delta's per-site values.
func deltaThresholds(c config.Config, m *infer.Model) (infer.Thresholds, error) {
	var th infer.Thresholds
	if m.Delta != nil {
		th = m.Delta.Clone()
	}
	if c.Model.DeltaScale != nil {
		th = th.Scaled(float32(*c.Model.DeltaScale))
	}
	for name, theta := range c.Model.Delta {
		site, err := infer.ParseDeltaSite(name)
		if err != nil {
			continue // config validation has rejected it already
		}
		th.Set(site, m.Arch.Depth, float32(theta))
	}
	if err := th.ValidateFor(m.Arch); err != nil {
		return th, fmt.Errorf("config model.delta: %v", err)
	}
	return th, nil
}

// scorerFor picks the forward pass: dense when model.dense is set or no delta site is on,
// else delta-pruned. It also returns a description for logs.
func scorerFor(c config.Config, m *infer.Model) (engine.Scorer, string, error) {
	th, err := deltaThresholds(c, m)
	switch {
	case c.Model.Dense:
		return m.NewDense(), "dense (model.dense)", nil
	case err != nil:
		return nil, "", err
	case !th.Any():
		return m.NewDense(), "dense (no delta thresholds in the model or config)", nil
	}
	return m.NewDelta(th), "delta " + th.String(), nil
}

// listenerFromFlags loads the config (file, then flags), the model and one listener; more
// makes further independent listeners over the same model.
func listenerFromFlags(fs *flag.FlagSet, cf *configFlags) (l *listener, more func() (*listener, error), err error) {
	c, src, err := cf.load(fs)
	if err != nil {
		return nil, nil, err
	}
	m, err := loadModel(c)
	if err != nil {
		return nil, nil, err
	}
	more = func() (*listener, error) { return newListener(c, src, m) }
	l, err = more()
	return l, more, err
}

// listener is a model, its detector and engine for one stream at a time.
type listener struct {
	model  *infer.Model
	det    *detect.Detector
	engine *engine.Engine
	onDet  func(detect.Detection)
	pass   string // the forward pass, for logs
}

func newListener(c config.Config, src *config.Source, m *infer.Model) (*listener, error) {
	det, err := detectorFor(c, src, m)
	if err != nil {
		return nil, err
	}
	hop := time.Duration(m.Detection.HopMS) * time.Millisecond
	if c.Model.Hop != nil {
		hop = *c.Model.Hop
	}
	scorer, pass, err := scorerFor(c, m)
	if err != nil {
		return nil, err
	}
	scorer, gated, err := gateFor(c, m, scorer)
	if err != nil {
		return nil, err
	}
	pass += gated
	l := &listener{model: m, det: det, pass: pass}
	l.engine, err = engine.New(engine.Config{
		Frames: m.Arch.Frames, Classes: len(m.Classes), Hop: hop, Frontend: m.Frontend,
		OnDetect: func(d detect.Detection) {
			if l.onDet != nil {
				l.onDet(d)
			}
		},
	}, scorer, det)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// gateFor puts scorer behind the configured gate (model.gate), a streaming model that wakes
// it (engine.Cascade), and describes the gate for logs; without a gate it returns scorer.
// The default model gets the default gate, when that file exists.
func gateFor(c config.Config, m *infer.Model, scorer engine.Scorer) (engine.Scorer, string, error) {
	path := c.Model.Gate
	if path == "" && c.Model.Path == "" {
		path = firstExisting(config.DefaultGatePaths)
	}
	if path == "" || path == "none" || m.Arch.Streaming() {
		return scorer, "", nil // a streaming model is as cheap as its gate would be
	}
	g, err := infer.Load(path)
	if err != nil {
		return nil, "", fmt.Errorf("model.gate: %w", err)
	}
	judge, ok := scorer.(engine.FrameScorer)
	if !ok {
		return nil, "", fmt.Errorf("model.gate: the model's forward pass cannot take frames one by one")
	}
	threshold, hold := float64(config.DefaultGateThreshold), config.DefaultGateHold
	if c.Model.GateThreshold != nil {
		threshold = *c.Model.GateThreshold
	}
	if c.Model.GateHold != nil {
		hold = *c.Model.GateHold
	}
	cas, err := engine.Gate(g, m, judge, threshold, hold)
	if err != nil {
		return nil, "", fmt.Errorf("model.gate: %w", err)
	}
	return cas, fmt.Sprintf(", behind the gate %s (threshold %g, hold %d hops)", path, threshold, hold), nil
}

// scanFile streams one file through the same pipeline as `run`, with pad of silence
// before and after, and returns its detections (times from the start of the file) and
// the length of the audio.
func (l *listener) scanFile(ctx context.Context, path string, pad time.Duration) ([]detect.Detection, time.Duration, error) {
	r, err := audio.OpenFile16k(path)
	if err != nil {
		return nil, 0, err
	}
	if pad > 0 {
		r = audio.Padded(r, int(pad.Seconds()*audio.TargetRate))
	}
	var dets []detect.Detection
	l.engine.Reset()
	l.onDet = func(d detect.Detection) {
		d.At -= pad
		dets = append(dets, d)
	}
	p, err := pipeline.New(r, l.model.Frontend, l.engine.PushFrame)
	if err != nil {
		r.Close()
		return nil, 0, err
	}
	if err := p.Run(ctx); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if ctx.Err() != nil {
		return nil, 0, ctx.Err()
	}
	length := time.Duration(p.Stats().Samples)*time.Second/audio.TargetRate - 2*pad
	return dets, length, nil
}

// mlpArithmetic describes how the MLPs run, e.g. "int8 (sdot)", for the start-up log.
func mlpArithmetic(m *infer.Model) string {
	if m.MLP == infer.MLPInt8 {
		return "int8 (" + kernels.Int8Impl() + ")"
	}
	return infer.MLPFloat32
}
