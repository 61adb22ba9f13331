// Package listener turns a configuration and a model file into a ready detector: the MFCC
// frontend's parameters, the forward pass (dense or delta-pruned, behind its gate), the
// engine that scores each hop and the detector that decides. Everything that runs a model
// the way `wakewordd run` does builds it here (`run`, `detect`, `eval`, the Wyoming server
// and the benchmarks), so that what a benchmark measures is what the daemon runs.
//
// A Spec is resolved once per configuration; it makes any number of Listeners, one per
// audio stream, which share the model's weights and nothing else.
package listener

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/detect"
	"github.com/wakewordd/wakewordd/engine"
	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/pipeline"
)

// Spec is a configuration resolved against its model: every choice made, every value
// checked. It is read-only once made.
type Spec struct {
	Model *infer.Model
	// Gate is the streaming model that wakes Model (engine.Cascade), or nil.
	Gate          *infer.Model
	GateThreshold float64
	GateHold      int
	GateFuse      float64 // weight of the gate's logits blended into the model's
	// Delta holds the delta thresholds of the forward pass; Dense runs the dense pass.
	Delta infer.Thresholds
	Dense bool
	// Hop is the time between inferences.
	Hop time.Duration
	// Policy holds the detection rules, and where each threshold came from.
	Policy

	why string // why the pass is dense, for Pass
}

// Load reads the configured model (model.path, or the first of config.DefaultModelPaths
// that exists) and its gate, and resolves c against them. src, when not nil, lets errors
// name the file and line of the key at fault.
func Load(c config.Config, src *config.Source) (*Spec, error) {
	path := c.Model.Path
	if path == "" {
		path = firstExisting(config.DefaultModelPaths)
	}
	if path == "" {
		return nil, fmt.Errorf("no model: model.path is not set and none of %v exists", config.DefaultModelPaths)
	}
	m, err := infer.Load(path)
	if err != nil {
		return nil, err
	}
	var gate *infer.Model
	if gp := GatePath(c.Model.Gate, path); gp != "" && !m.Arch.Streaming() {
		if gate, err = infer.Load(gp); err != nil {
			return nil, fmt.Errorf("model.gate: %w", err)
		}
	}
	return Resolve(c, src, m, gate)
}

// GatePath is the gate model.gate names for the model file at modelPath: "" for none.
// model.gate "none" is no gate; "" gives a default model (one of config.DefaultModelPaths)
// the default gate beside it (config.DefaultGatePaths), when that file exists, and any other
// model none.
func GatePath(gate, modelPath string) string {
	switch gate {
	case "none":
		return ""
	case "":
		for i, p := range config.DefaultModelPaths {
			if filepath.Clean(modelPath) == p && i < len(config.DefaultGatePaths) {
				return firstExisting(config.DefaultGatePaths[i : i+1])
			}
		}
		return ""
	}
	return gate
}

// Resolve checks c against the loaded model m and its gate (nil: none; a streaming model
// needs none and ignores it) and merges the two: the detection policy, the delta
// thresholds, model.mlp and the hop. m is changed only by model.mlp.
func Resolve(c config.Config, src *config.Source, m, gate *infer.Model) (*Spec, error) {
	if c.Model.MLP != "" {
		m.MLP = c.Model.MLP
	}
	var err error
	s := &Spec{Model: m, Hop: m.Hop()}
	if c.Model.Hop != nil {
		s.Hop = *c.Model.Hop
	}
	if err := m.Frontend.CheckHop(s.Hop); err != nil {
		return nil, src.Errorf("model.hop", "%v for model %s", err, m.Path)
	}
	if s.Policy, err = MergePolicy(c, src, m); err != nil {
		return nil, err
	}
	if err := s.mergeDelta(c, src); err != nil {
		return nil, err
	}
	if gate != nil && !m.Arch.Streaming() {
		s.Gate = gate
		s.GateThreshold, s.GateHold = config.DefaultGateThreshold, config.DefaultGateHold
		if c.Model.GateThreshold != nil {
			s.GateThreshold = *c.Model.GateThreshold
		}
		if c.Model.GateHold != nil {
			s.GateHold = *c.Model.GateHold
		}
		s.GateFuse = m.Detection.GateFuse
		if c.Model.GateFuse != nil {
			s.GateFuse = *c.Model.GateFuse
		}
		// Try it once, so that a gate that cannot wake the model fails here, not per stream.
		if _, _, err := s.Scorer(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Policy is a model's detection policy merged with a configuration.
type Policy struct {
	Default detect.Rule            // the rule of a keyword nobody configured
	Rules   map[string]detect.Rule // every keyword of the model
	// From says where each keyword's threshold came from, e.g. "model",
	// "detect.threshold", "detect.keywords.alexa.sensitivity 0.7".
	From map[string]string
	// Warnings name thresholds above a keyword's ceiling (infer.Calibration): set so high
	// that the keyword will hardly ever fire.
	Warnings []string
}

// Rules merges the detection policy of model m with c, as Policy does.
func Rules(c config.Config, src *config.Source, m *infer.Model) (def detect.Rule, rules map[string]detect.Rule, err error) {
	p, err := MergePolicy(c, src, m)
	return p.Default, p.Rules, err
}

// MergePolicy merges the detection policy, each layer over the one before: the model's
// defaults and per-keyword thresholds, then the config's values for every keyword
// (detect.*: an explicit detect.threshold or detect.sensitivity overrides the model's
// per-keyword thresholds), then the config's per-keyword values (detect.keywords.<kw>.*).
// A sensitivity becomes a threshold through the model's calibration of the keyword.
func MergePolicy(c config.Config, src *config.Source, m *infer.Model) (Policy, error) {
	md := m.Detection
	p := Policy{Rules: map[string]detect.Rule{}, From: map[string]string{}}
	model := detect.Rule{
		Enabled: true, Threshold: md.Threshold, Smoothing: md.Smoothing, Patience: md.Patience,
		Refractory: time.Duration(md.RefractoryS * float64(time.Second)),
	}
	p.Default = overlay(model, c.Detect.Rule)
	for kw := range c.Detect.Keywords {
		if !slices.Contains(m.Keywords(), kw) {
			return p, src.Errorf("detect.keywords."+kw, "not a keyword of model %s (it has %v)", m.Path, m.Keywords())
		}
	}
	for _, kw := range m.Keywords() {
		shipped, from := md.ThresholdFor(kw), "model"
		r := model
		r.Threshold = shipped
		for _, layer := range []struct {
			key  string
			rule config.Rule
		}{{"detect", c.Detect.Rule}, {"detect.keywords." + kw, c.Detect.Keywords[kw]}} {
			r = overlay(r, layer.rule)
			switch {
			case layer.rule.Threshold != nil:
				from = layer.key + ".threshold"
			case layer.rule.Sensitivity != nil:
				cal, ok := md.Calibration[kw]
				if !ok {
					return p, src.Errorf(layer.key+".sensitivity", "model %s has no calibration for %s: set a threshold instead", m.Path, kw)
				}
				r.Threshold = cal.Threshold(*layer.rule.Sensitivity, shipped)
				from = fmt.Sprintf("%s.sensitivity %g", layer.key, *layer.rule.Sensitivity)
			}
		}
		p.Rules[kw], p.From[kw] = r, from
		if cal, ok := md.Calibration[kw]; ok && r.Enabled && r.Threshold > cal.Ceiling {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: threshold %.4g (%s) is above %.4g, the highest at which any %s clip fired in the model's calibration: it will hardly ever fire",
				kw, r.Threshold, from, cal.Ceiling, kw))
		}
	}
	_, err := detect.New(m.Classes, p.Default, p.Rules) // the rules' own limits
	return p, err
}

// Thresholds describes each keyword's threshold and where it came from, for logs and
// STATUS: "alexa 0.765 (model), jarvis 0.9 (detect.threshold)".
func (p Policy) Thresholds() string {
	var parts []string
	for _, kw := range slices.Sorted(maps.Keys(p.Rules)) {
		r := p.Rules[kw]
		if !r.Enabled {
			parts = append(parts, kw+" off")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.4g (%s)", kw, r.Threshold, p.From[kw]))
	}
	return strings.Join(parts, ", ")
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

// mergeDelta merges the delta thresholds: the model's, scaled by model.delta_scale, then
// model.delta's per-site values; and picks the pass: dense when model.dense is set or no
// site is on.
func (s *Spec) mergeDelta(c config.Config, src *config.Source) error {
	m := s.Model
	var th infer.Thresholds
	if m.Delta != nil {
		th = m.Delta.Clone()
	}
	if c.Model.DeltaScale != nil {
		th = th.Scaled(float32(*c.Model.DeltaScale))
	}
	for _, name := range slices.Sorted(maps.Keys(c.Model.Delta)) {
		site, err := infer.ParseDeltaSite(name)
		if err != nil {
			return src.Errorf("model.delta."+name, "%v", err)
		}
		th.Set(site, m.Arch.Depth, float32(c.Model.Delta[name]))
	}
	if err := th.ValidateFor(m.Arch); err != nil {
		return src.Errorf("model.delta", "%v", err)
	}
	s.Delta = th
	switch {
	case c.Model.Dense:
		s.Dense, s.why = true, "model.dense"
	case !th.Any():
		s.Dense, s.why = true, "no delta thresholds in the model or config"
	}
	return nil
}

// Pass describes the forward pass for logs, e.g. "delta qkv=0.1..0.8 ..., behind the gate
// models/kwt-stream.safetensors (threshold 0.1, hold 1 hops)".
func (s *Spec) Pass() string {
	p := "delta " + s.Delta.String()
	if s.Dense {
		p = "dense (" + s.why + ")"
	}
	if s.Gate != nil {
		p += fmt.Sprintf(", behind the gate %s (threshold %g, hold %d hops", s.Gate.Path, s.GateThreshold, s.GateHold)
		if s.GateFuse > 0 {
			p += fmt.Sprintf(", its logits blended in at %g", s.GateFuse)
		}
		p += ")"
	}
	return p
}

// Scorer returns a new forward pass with its own state, behind the gate when there is one;
// the cascade is returned too (nil without a gate), so that its count of judged hops can
// be read.
func (s *Spec) Scorer() (engine.Scorer, *engine.Cascade, error) {
	var scorer engine.Scorer
	if s.Dense {
		scorer = s.Model.NewDense()
	} else {
		scorer = s.Model.NewDelta(s.Delta.Clone())
	}
	if s.Gate == nil {
		return scorer, nil, nil
	}
	judge, ok := scorer.(engine.FrameScorer)
	if !ok {
		return nil, nil, fmt.Errorf("model.gate: the model's forward pass cannot take frames one by one")
	}
	c, err := engine.Gate(s.Gate, s.Model, judge, s.GateThreshold, s.GateHold, s.GateFuse)
	if err != nil {
		return nil, nil, fmt.Errorf("model.gate: %w", err)
	}
	return c, c, nil
}

// Detector returns a new detector with the merged rules.
func (s *Spec) Detector() (*detect.Detector, error) {
	return detect.New(s.Model.Classes, s.Default, s.Rules)
}

// EngineConfig is the engine's configuration for this model, with onPost receiving every
// hop's posteriors.
func (s *Spec) EngineConfig(onPost engine.PosteriorFunc) engine.Config {
	m := s.Model
	return engine.Config{Frames: m.Arch.Frames, Classes: len(m.Classes), Hop: s.Hop, Frontend: m.Frontend, OnPosteriors: onPost}
}

// Listener is one audio stream's detector: its own forward-pass state, engine and
// detector over the Spec's model. It is not safe for concurrent use, except for the
// detector's SetEnabled.
type Listener struct {
	Spec     *Spec
	Engine   *engine.Engine
	Detector *detect.Detector
	Cascade  *engine.Cascade // the gate's cascade, nil without a gate
	// OnDetect receives each detection; OnPosteriors, when set, every hop's posteriors
	// (before the detector sees them). Either may be changed between streams.
	OnDetect     func(detect.Detection)
	OnPosteriors engine.PosteriorFunc
}

// New returns a Listener for one stream.
func (s *Spec) New() (*Listener, error) {
	scorer, cascade, err := s.Scorer()
	if err != nil {
		return nil, err
	}
	det, err := s.Detector()
	if err != nil {
		return nil, err
	}
	l := &Listener{Spec: s, Detector: det, Cascade: cascade}
	l.Engine, err = engine.New(s.EngineConfig(l.posteriors), scorer)
	if err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Listener) posteriors(at time.Duration, probs []float32) {
	if l.OnPosteriors != nil {
		l.OnPosteriors(at, probs)
	}
	if d, ok := l.Detector.Push(at, probs); ok && l.OnDetect != nil {
		l.OnDetect(d)
	}
}

// PushFrame feeds one MFCC frame (pipeline.FrameFunc).
func (l *Listener) PushFrame(index uint64, frame []float32) { l.Engine.PushFrame(index, frame) }

// Reset starts a new stream: the window empties and the detector forgets its history.
func (l *Listener) Reset() {
	l.Engine.Reset()
	l.Detector.Reset()
}

// Pipeline returns the frontend that feeds src (16 kHz) into l.
func (l *Listener) Pipeline(src audio.Source) (*pipeline.Pipeline, error) {
	return pipeline.New(src, l.Spec.Model.Frontend, l.PushFrame)
}

// ScanFile streams one file through l as `run` would, with pad of silence before and after,
// and returns its detections (times from the start of the file) and the length of the
// audio. It resets l first. When the file breaks part-way (a corrupt FLAC frame) or ctx
// ends, it returns the detections made before that and the length read, with the error.
func (l *Listener) ScanFile(ctx context.Context, path string, pad time.Duration) ([]detect.Detection, time.Duration, error) {
	src, err := audio.OpenFileContext(ctx, path, audio.FileOptions{Channel: audio.MixAll})
	if err != nil {
		return nil, 0, err
	}
	r, err := audio.Resample16k(src)
	if err != nil {
		src.Close()
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if pad > 0 {
		r = audio.Padded(r, int(pad.Seconds()*audio.TargetRate))
	}
	var dets []detect.Detection
	l.Reset()
	onDet := l.OnDetect
	defer func() { l.OnDetect = onDet }()
	l.OnDetect = func(d detect.Detection) {
		d.At -= pad
		dets = append(dets, d)
	}
	p, err := l.Pipeline(r)
	if err != nil {
		r.Close()
		return nil, 0, err
	}
	err = p.Run(ctx) // the source's errors name the file
	if err == nil {
		err = ctx.Err()
	}
	length := time.Duration(p.Stats().Samples)*time.Second/audio.TargetRate - pad
	if err == nil {
		length -= pad // the silence after the file too
	}
	return dets, max(length, 0), err
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
