// Command gocost is the Go side of bench/cost/run.sh. It holds the MFCC frames of a
// features file (`wakewordd features`) and, on request, moves the daemon's engine
// (engine.Engine: ring of frames or tokens, one inference per hop, softmax, posteriors) on to
// the next window, timing it, for three ways of running this project's forward pass:
//
//   - go-dense-window: infer.Dense on the whole window of frames each hop (engine NoReuse),
//     fed exactly as ONNX Runtime and PyTorch are;
//   - go-dense: infer.Dense with per-frame embedding reuse (each frame projected once), or,
//     for a streaming model, each frame run through the layers once (engine.StreamScorer);
//   - go-delta: infer.Delta with the model's delta thresholds and the same reuse: the
//     daemon's default path.
//
// Protocol (cost.py drives it in lockstep with ONNX Runtime and PyTorch): each line on
// stdin is a window index k; windows are streamed in order, k = 0 starts the stream again
// (the ring fills, untimed). For each line it writes one JSON line on stdout:
//
//	{"go-dense-window": {"s": SECONDS, "logits": [...]}, "go-dense": {...}, "go-delta": {...}}
//
// SECONDS is the time of all PushFrame calls of window k's hop: its frames' embeddings and
// the one forward pass, softmax and detector step (-1 for k = 0). The variants run one after
// the other, in an order that rotates with k. The last line it writes, on EOF, is
// {"info": {...}}: kernels, thresholds and MACs per inference.
//
//	GOMAXPROCS=1 gocost -model M -features F.npy
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/engine"
	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/kernels"
	"github.com/wakewordd/wakewordd/listener"
	"github.com/wakewordd/wakewordd/npy"
)

func main() {
	modelPath := flag.String("model", "models/kwt.safetensors", "model file (it must carry delta thresholds)")
	features := flag.String("features", "", "MFCC frames [frames, coeffs] as `wakewordd features` writes them")
	hop := flag.Duration("hop", 0, "time between inferences (0: the model's)")
	flag.Parse()
	if err := run(*modelPath, *features, *hop); err != nil {
		fmt.Fprintln(os.Stderr, "gocost:", err)
		os.Exit(1)
	}
}

// recorder passes a FrameScorer (and a StreamScorer's stream) through and keeps the last
// window's logits.
type recorder struct {
	engine.FrameScorer
	stream engine.StreamScorer // the scorer, when it is one; else nil
	logits []float32
}

func (r *recorder) Streaming() bool           { return r.stream != nil && r.stream.Streaming() }
func (r *recorder) PushFrame(frame []float32) { r.stream.PushFrame(frame) }
func (r *recorder) ResetStream()              { r.stream.ResetStream() }

func (r *recorder) StreamLogits(logits []float32) {
	r.stream.StreamLogits(logits)
	copy(r.logits, logits)
}

func (r *recorder) Forward(window, logits []float32) {
	r.FrameScorer.Forward(window, logits)
	copy(r.logits, logits)
}

func (r *recorder) ForwardEmbedded(tokens, logits []float32) {
	r.FrameScorer.ForwardEmbedded(tokens, logits)
	copy(r.logits, logits)
}

type variant struct {
	name    string
	noReuse bool
	scorer  interface {
		engine.FrameScorer
		Ops() infer.OpCounts
	}
	rec *recorder
	e   *engine.Engine
}

type result struct {
	S      float64   `json:"s"`
	Logits []float32 `json:"logits"`
}

func run(modelPath, features string, hop time.Duration) error {
	if features == "" {
		return errors.New("-features is required")
	}
	m, err := infer.Load(modelPath)
	if err != nil {
		return err
	}
	if m.Delta == nil || !m.Delta.Any() {
		return fmt.Errorf("%s has no delta thresholds (run.sh writes a copy with them)", modelPath)
	}
	data, shape, err := npy.ReadFile(features)
	if err != nil {
		return err
	}
	a := m.Arch
	if len(shape) != 2 || shape[1] != a.Coeffs {
		return fmt.Errorf("%s: shape %v, want [frames, %d]", features, shape, a.Coeffs)
	}
	frames := make([][]float32, shape[0])
	for i := range frames {
		frames[i] = make([]float32, a.Coeffs)
		for j := range frames[i] {
			frames[i][j] = float32(data[i*a.Coeffs+j])
		}
	}
	c := config.Default()
	if hop != 0 {
		c.Model.Hop = &hop
	}
	// The delta thresholds and hop `wakewordd run` would use (package listener); the
	// variants below are the passes compared, each scoring every hop (no gate).
	spec, err := listener.Resolve(c, nil, m, nil)
	if err != nil {
		return err
	}
	hop = spec.Hop
	hopFrames := int(hop / m.Frontend.FrameHop())
	// ONNX Runtime and PyTorch compute the MLPs in float32; go-dense-f32 does too, so
	// that the logits can be compared, whatever the model's own MLP arithmetic.
	f32 := *m
	f32.MLP = infer.MLPFloat32
	vs := []*variant{
		{name: "go-dense-f32", scorer: f32.NewDense()},
		{name: "go-dense-window", noReuse: true, scorer: m.NewDense()},
		{name: "go-dense", scorer: m.NewDense()},
		{name: "go-delta", scorer: m.NewDelta(spec.Delta.Clone())},
	}
	for _, v := range vs {
		v.rec = &recorder{FrameScorer: v.scorer, logits: make([]float32, a.NumClasses)}
		v.rec.stream, _ = v.scorer.(engine.StreamScorer)
		if v.e, err = engine.New(engine.Config{Frames: a.Frames, Classes: a.NumClasses, Hop: hop, Frontend: m.Frontend, NoReuse: v.noReuse}, v.rec); err != nil {
			return err
		}
	}

	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	next := 0 // the window the stream is at
	for in.Scan() {
		k, err := strconv.Atoi(strings.TrimSpace(in.Text()))
		if err != nil || k < 0 || (k != 0 && k != next) {
			return fmt.Errorf("request %q: want 0 or the next window, %d", in.Text(), next)
		}
		first, last := k*hopFrames+a.Frames-hopFrames, k*hopFrames+a.Frames // frames of this hop
		if k == 0 {
			first = 0
		}
		if last > len(frames) {
			return fmt.Errorf("window %d needs frames up to %d, the features have %d", k, last, len(frames))
		}
		reply := map[string]result{}
		for j := range vs {
			v := vs[(j+k)%len(vs)]
			if k == 0 {
				v.e.Reset()
			}
			before := v.e.Inferences()
			t0 := time.Now()
			for i := first; i < last; i++ {
				v.e.PushFrame(uint64(i), frames[i])
			}
			s := time.Since(t0).Seconds()
			if v.e.Inferences() != before+1 {
				return fmt.Errorf("%s: window %d made %d inferences", v.name, k, v.e.Inferences()-before)
			}
			if k == 0 {
				s = -1 // the ring's fill, not a hop
			}
			reply[v.name] = result{S: s, Logits: append([]float32(nil), v.rec.logits...)}
		}
		next = k + 1
		if err := enc.Encode(reply); err != nil {
			return err
		}
		if err := out.Flush(); err != nil {
			return err
		}
	}
	if err := in.Err(); err != nil {
		return err
	}
	macs := map[string]float64{}
	for _, v := range vs {
		ops := v.scorer.Ops()
		macs[v.name] = float64(ops.Total().Executed) / float64(max(ops.Windows, 1))
	}
	if err := enc.Encode(map[string]any{"info": map[string]any{
		"kernels":            kernels.Impl(),
		"delta_thresholds":   m.Delta.String(),
		"macs_per_inference": macs,
		"hop_ms":             hop.Milliseconds(),
	}}); err != nil {
		return err
	}
	return out.Flush()
}
