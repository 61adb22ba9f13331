package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/detect"
	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/listener"
	"github.com/wakewordd/wakewordd/npy"
	"github.com/wakewordd/wakewordd/pipeline"
)

// shipped is the pipeline `wakewordd run` builds for m with no configuration, behind g
// (nil: no gate), put together by the daemon's own package listener: the model's delta
// thresholds (dense without any), its detection policy, its hop.
func shipped(m *infer.Model, g *gate) (*listener.Spec, error) {
	c := config.Default()
	var gm *infer.Model
	if g != nil {
		gm = g.model
		c.Model.GateThreshold, c.Model.GateHold = &g.threshold, &g.hold
		if g.fuse >= 0 {
			c.Model.GateFuse = &g.fuse
		}
	}
	s, err := listener.Resolve(c, nil, m, gm)
	if err != nil && g != nil {
		return nil, fmt.Errorf("-gate: %w", err)
	}
	return s, err
}

// shippedRules is the detection policy `wakewordd run` uses for m with no configuration
// (shipped): the model's defaults for every keyword, then its per-keyword thresholds.
func shippedRules(m *infer.Model) (detect.Rule, map[string]detect.Rule, error) {
	return listener.Rules(config.Default(), nil, m)
}

// gate is the streaming model that wakes the measured model, as `run` puts one in front of
// it (cmd/wakewordd gateFor: engine.Gate, an engine.Cascade); nil scores every hop with the
// model.
type gate struct {
	model     *infer.Model
	path      string
	sha256    string
	bytes     []byte // the file as read at the start
	threshold float64
	hold      int
	fuse      float64 // weight of its logits blended into the model's (-gate-fuse; < 0: the model's until loadGate resolves it)
}

// loadGate reads the gate o.gate names for m and checks that it can wake m at o's settings;
// it returns nil without one, or when m is itself a streaming model (`run` puts no gate in
// front of one: it is as cheap as its gate would be).
func loadGate(o options, m *infer.Model) (*gate, error) {
	path := listener.GatePath(o.gate, o.model)
	if path == "" || m.Arch.Streaming() {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-gate: %w", err)
	}
	gm, err := infer.Parse(b, path)
	if err != nil {
		return nil, fmt.Errorf("-gate: %w", err)
	}
	sum := sha256.Sum256(b)
	g := &gate{model: gm, path: path, sha256: hex.EncodeToString(sum[:]), bytes: b, threshold: o.gateThreshold, hold: o.gateHold, fuse: o.gateFuse}
	s, err := shipped(m, g)
	if err != nil {
		return nil, err
	}
	g.fuse = s.GateFuse // as `run` resolves it: the flag's, else the model's
	return g, nil
}

// liveDet is a detection made while scoring, by the detector `run` would use.
type liveDet struct {
	Keyword string  `json:"keyword"`
	AtNS    int64   `json:"at_ns"` // from the start of the segment
	Score   float64 `json:"score"`
}

// segResult is what is kept of a scored segment: its metadata (JSON) and its posteriors
// (.npy, one row of class posteriors per hop).
type segResult struct {
	Index         int         `json:"index"`
	Start         int         `json:"start_sample"`
	Samples       int         `json:"samples"`
	Placements    []placement `json:"placements"`
	Events        []event     `json:"events"`
	SHA256        string      `json:"pcm_sha256"`
	SpeechSamples int         `json:"speech_samples"`
	Sentences     int         `json:"sentences"`
	Utterances    int         `json:"utterances,omitempty"`  // real background
	NoiseFiles    []int       `json:"noise_files,omitempty"` // real background: the noise recordings used, by index
	Hops          int         `json:"hops"`
	JudgedHops    int         `json:"window_model_hops"` // hops the model scored (all of them without a gate)
	FirstAtNS     int64       `json:"first_at_ns"`
	HopNS         int64       `json:"hop_ns"`
	Live          []liveDet   `json:"detections_at_model_settings"`
	Seconds       float64     `json:"wall_seconds"`

	probs  []float32 // Hops x classes
	cached bool
}

// recorder is an OnPosteriors that keeps every hop's posteriors in r, whose HopNS is set;
// *bad gets the first hop that does not come HopNS after the one before.
func (r *segResult) recorder(bad *error) func(time.Duration, []float32) {
	return func(at time.Duration, p []float32) {
		if r.Hops == 0 {
			r.FirstAtNS = int64(at)
		} else if want := time.Duration(r.FirstAtNS + int64(r.Hops)*r.HopNS); at != want && *bad == nil {
			*bad = fmt.Errorf("engine: hop %d at %v, want %v", r.Hops, at, want)
		}
		r.probs = append(r.probs, p...)
		r.Hops++
	}
}

// scoreAudio streams 16-bit samples through the same chain as `run` reading raw audio
// from stdin (audio.NewRawS16LE, pipeline, engine with the model's window and hop, the
// shipped scorer behind gate g, if any, and the shipped detector) and keeps every hop's
// posteriors. progress is called with the number of samples consumed as they are.
func scoreAudio(m *infer.Model, g *gate, pcm []int16, progress func(samples int)) (r segResult, err error) {
	spec, err := shipped(m, g)
	if err != nil {
		return r, err
	}
	l, err := spec.New()
	if err != nil {
		return r, err
	}
	r.HopNS = int64(spec.Hop)
	var bad error
	l.OnPosteriors = r.recorder(&bad)
	l.OnDetect = func(d detect.Detection) {
		r.Live = append(r.Live, liveDet{d.Keyword, int64(d.At), d.Score})
	}
	raw := make([]byte, 2*len(pcm))
	for i, v := range pcm {
		binary.LittleEndian.PutUint16(raw[2*i:], uint16(v))
	}
	src, err := audio.NewRawS16LE(bytes.NewReader(raw), audio.TargetRate, 1, 0)
	if err != nil {
		return r, err
	}
	const report = 100 // frames between progress reports
	hopSamples := m.Frontend.Hop
	p, err := pipeline.New(src, m.Frontend, func(i uint64, f []float32) {
		l.PushFrame(i, f)
		if progress != nil && (i+1)%report == 0 {
			progress(report * hopSamples)
		}
	})
	if err != nil {
		return r, err
	}
	if err := p.Run(context.Background()); err != nil {
		return r, err
	}
	if progress != nil {
		progress(len(pcm) - int(p.Stats().Frames/report)*report*hopSamples)
	}
	r.JudgedHops = r.Hops
	if l.Cascade != nil {
		hops, judged := l.Cascade.Judged()
		if int(hops) != r.Hops && bad == nil {
			bad = fmt.Errorf("engine: %d hops, the gate %d", r.Hops, hops)
		}
		r.JudgedHops = int(judged)
	}
	return r, bad
}

func segPath(dir string, i int, ext string) string {
	return filepath.Join(dir, fmt.Sprintf("seg-%05d%s", i, ext))
}

// saveSeg writes the posteriors, then the metadata: a segment counts as cached once its
// JSON exists.
func saveSeg(dir string, r segResult, classes int) error {
	var b bytes.Buffer
	if err := npy.WriteFloat32(&b, []int{r.Hops, classes}, r.probs); err != nil {
		return err
	}
	if err := writeAtomic(segPath(dir, r.Index, ".npy"), b.Bytes()); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	return writeAtomic(segPath(dir, r.Index, ".json"), append(js, '\n'))
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// loadSeg reads a cached segment; ok is false when there is none or it was made for
// another layout of the stream.
func loadSeg(dir string, s segment, classes int) (r segResult, ok bool, err error) {
	js, err := os.ReadFile(segPath(dir, s.Index, ".json"))
	if os.IsNotExist(err) {
		return r, false, nil
	} else if err != nil {
		return r, false, err
	}
	if err := json.Unmarshal(js, &r); err != nil {
		return r, false, nil
	}
	if r.Index != s.Index || r.Start != s.Start || r.Samples != s.Samples || !slices.Equal(r.Placements, s.Placements) {
		return r, false, nil
	}
	data, shape, err := npy.ReadFile(segPath(dir, s.Index, ".npy"))
	if err != nil || len(shape) != 2 || shape[0] != r.Hops || shape[1] != classes {
		return r, false, nil
	}
	r.probs = make([]float32, len(data))
	for i, v := range data {
		r.probs[i] = float32(v)
	}
	r.cached = true
	return r, true, nil
}
