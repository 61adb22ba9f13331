package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/detect"
	"github.com/wakewordd/wakewordd/engine"
	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/npy"
	"github.com/wakewordd/wakewordd/pipeline"
)

// shippedRules is the detection policy `wakewordd run` and `wakewordd detect` use when no
// configuration overrides it (cmd/wakewordd detectorFor with an empty config): the model's
// defaults for every keyword, then the model's per-keyword thresholds. The end-to-end test
// checks that the detections agree with `wakewordd detect`.
func shippedRules(m *infer.Model) (detect.Rule, map[string]detect.Rule) {
	md := m.Detection
	def := detect.Rule{
		Enabled: true, Threshold: md.Threshold, Smoothing: md.Smoothing, Patience: md.Patience,
		Refractory: time.Duration(md.RefractoryS * float64(time.Second)),
	}
	rules := map[string]detect.Rule{}
	for kw, th := range md.Thresholds {
		r := def
		r.Threshold = th
		rules[kw] = r
	}
	return def, rules
}

// shippedScorer is the forward pass `run` picks with no configuration (cmd/wakewordd
// scorerFor): delta-pruned with the model's thresholds when it carries any, else dense.
func shippedScorer(m *infer.Model) (engine.Scorer, string) {
	if m.Delta != nil && m.Delta.Any() {
		return m.NewDelta(m.Delta.Clone()), "delta " + m.Delta.String()
	}
	return m.NewDense(), "dense (the model carries no delta thresholds)"
}

func hopOf(m *infer.Model) time.Duration { return time.Duration(m.Detection.HopMS) * time.Millisecond }

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
	FirstAtNS     int64       `json:"first_at_ns"`
	HopNS         int64       `json:"hop_ns"`
	Live          []liveDet   `json:"detections_at_model_settings"`
	Seconds       float64     `json:"wall_seconds"`

	probs  []float32 // Hops x classes
	cached bool
}

// scoreAudio streams 16-bit samples through the same chain as `run` reading raw audio
// from stdin (audio.NewRawS16LE, pipeline, engine with the model's window and hop, the
// shipped scorer and detector) and keeps every hop's posteriors. progress is called with
// the number of samples consumed as they are.
func scoreAudio(m *infer.Model, pcm []int16, progress func(samples int)) (r segResult, err error) {
	def, rules := shippedRules(m)
	det, err := detect.New(m.Classes, def, rules)
	if err != nil {
		return r, err
	}
	scorer, _ := shippedScorer(m)
	hop := hopOf(m)
	r.HopNS = int64(hop)
	var bad error
	e, err := engine.New(engine.Config{
		Frames: m.Arch.Frames, Classes: len(m.Classes), Hop: hop, Frontend: m.Frontend,
		OnPosteriors: func(at time.Duration, p []float32) {
			if r.Hops == 0 {
				r.FirstAtNS = int64(at)
			} else if want := time.Duration(r.FirstAtNS + int64(r.Hops)*r.HopNS); at != want && bad == nil {
				bad = fmt.Errorf("engine: hop %d at %v, want %v", r.Hops, at, want)
			}
			r.probs = append(r.probs, p...)
			r.Hops++
		},
		OnDetect: func(d detect.Detection) {
			r.Live = append(r.Live, liveDet{d.Keyword, int64(d.At), d.Score})
		},
	}, scorer, det)
	if err != nil {
		return r, err
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
		e.PushFrame(i, f)
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
