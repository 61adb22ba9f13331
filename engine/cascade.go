package engine

import (
	"fmt"
	"slices"

	"github.com/wakewordd/wakewordd/infer"
)

// Cascade scores in two stages. A cheap streaming model (the gate) runs every frame
// through its network once and scores every hop; the window model (the judge), whose
// posteriors the detector trusts, scores the window only while the gate is open: from a
// hop at which the gate's best keyword posterior reaches Threshold until Hold hops after
// the last such hop. Audio without anything like a wake word, most of the day, costs the
// gate's work only. While the gate is closed the detector gets the gate's posteriors, all
// of whose keywords are below Threshold, so a detection always rests on the judge.
//
// With Fuse above 0 a judged hop reports a blend of both models' logits, weighted
// (1-Fuse, Fuse): the softmax of the blend is the normalised product of the two posteriors,
// each raised to its weight. Two models that err on different stretches of real speech
// then have to agree before a keyword scores high: on the selection share of real
// conversation, an equal blend (0.5) of the shipped models halved what the judge alone
// misses at half a false alarm per hour (models/MODEL.md, "Fusing the gate").
//
// Cascade is a StreamScorer: the engine pushes every frame and asks for logits per hop.
// The judge projects each frame into a token as it arrives (FrameScorer), so that an
// opening gate finds the window's tokens ready.
type Cascade struct {
	gate      StreamScorer
	judge     FrameScorer
	keywords  []int     // class indices the gate watches (not silence or unknown)
	threshold float32   // gate posterior that opens the gate
	hold      int       // hops the gate stays open after the last opening hop
	fuse      float32   // weight of the gate's logits in what a judged hop reports
	gateOut   []float32 // the gate's logits of the hop being judged

	frames       int
	ring         ring      // the judge's tokens of the last frames
	probs        []float32 // the gate's posteriors
	seen         uint64    // frames pushed
	open         int       // hops left open
	hops, judged uint64    // hops scored; hops the judge scored
}

// CascadeConfig sets up a Cascade. Classes is the number of classes (the same for both
// models), Keywords the indices of those the gate watches; Frames the window length in
// frames.
type CascadeConfig struct {
	Classes   int
	Keywords  []int
	Frames    int
	Threshold float64 // 0 < Threshold <= 1
	Hold      int     // >= 0
	// Fuse is the weight of the gate's logits in a judged hop's: (1-Fuse)*judge + Fuse*gate,
	// 0 <= Fuse < 1 (0: the judge's alone).
	Fuse float64
}

// NewCascade returns the two-stage scorer over gate (which must be Streaming) and judge.
func NewCascade(cfg CascadeConfig, gate StreamScorer, judge FrameScorer) (*Cascade, error) {
	switch {
	case !gate.Streaming():
		return nil, fmt.Errorf("cascade: the gate model is not a streaming model")
	case !(cfg.Threshold > 0 && cfg.Threshold <= 1):
		return nil, fmt.Errorf("cascade: gate threshold %v, want 0 < threshold <= 1", cfg.Threshold)
	case cfg.Hold < 0:
		return nil, fmt.Errorf("cascade: gate hold %d hops, want >= 0", cfg.Hold)
	case !(cfg.Fuse >= 0 && cfg.Fuse < 1):
		return nil, fmt.Errorf("cascade: gate fuse %v, want 0 <= fuse < 1", cfg.Fuse)
	case cfg.Frames < 1 || judge.TokenDim() < 1:
		return nil, fmt.Errorf("cascade: window of %d frames of %d values", cfg.Frames, judge.TokenDim())
	}
	c := &Cascade{
		gate: gate, judge: judge, threshold: float32(cfg.Threshold), hold: cfg.Hold,
		frames:   cfg.Frames,
		ring:     newRing(cfg.Frames, judge.TokenDim()),
		probs:    make([]float32, cfg.Classes),
		gateOut:  make([]float32, cfg.Classes),
		fuse:     float32(cfg.Fuse),
		keywords: slices.Clone(cfg.Keywords),
	}
	for _, k := range c.keywords {
		if k < 0 || k >= cfg.Classes {
			return nil, fmt.Errorf("cascade: keyword class %d of %d classes", k, cfg.Classes)
		}
	}
	return c, nil
}

// Gate returns a Cascade that wakes judge, the forward pass of model m, with the streaming
// model g as the gate (its delta pass when it carries delta thresholds, else its dense
// pass). g must be a streaming model with the classes, window and frontend of m.
func Gate(g, m *infer.Model, judge FrameScorer, threshold float64, hold int, fuse float64) (*Cascade, error) {
	switch {
	case !g.Arch.Streaming():
		return nil, fmt.Errorf("gate %s is not a streaming model (no architecture context)", g.Path)
	case !slices.Equal(g.Classes, m.Classes):
		return nil, fmt.Errorf("gate %s has classes %v, the model %v", g.Path, g.Classes, m.Classes)
	case g.Arch.Frames != m.Arch.Frames || g.Frontend != m.Frontend:
		return nil, fmt.Errorf("gate %s has a window of %d frames and frontend %+v, the model %d and %+v",
			g.Path, g.Arch.Frames, g.Frontend, m.Arch.Frames, m.Frontend)
	}
	var gate StreamScorer = g.NewStreamDense()
	if g.Delta != nil && g.Delta.Any() {
		gate = g.NewStreamDelta(*g.Delta)
	}
	var keywords []int
	for i, c := range m.Classes {
		if slices.Contains(m.Keywords(), c) {
			keywords = append(keywords, i)
		}
	}
	cfg := CascadeConfig{Classes: len(m.Classes), Keywords: keywords, Frames: m.Arch.Frames, Threshold: threshold, Hold: hold, Fuse: fuse}
	return NewCascade(cfg, gate, judge)
}

// Streaming reports true: the engine pushes frames one by one.
func (c *Cascade) Streaming() bool { return true }

// PushFrame runs the frame through the gate and stores the judge's token of it.
func (c *Cascade) PushFrame(frame []float32) {
	c.gate.PushFrame(frame)
	c.judge.EmbedFrame(frame, c.ring.row(c.seen))
	c.seen++
}

// StreamLogits scores the window that ends with the newest frame: the gate's logits, or
// the judge's while the gate is open.
func (c *Cascade) StreamLogits(logits []float32) {
	c.gate.StreamLogits(logits)
	c.hops++
	infer.Softmax(logits, c.probs)
	for _, k := range c.keywords {
		if c.probs[k] >= c.threshold {
			c.open = c.hold + 1
			break
		}
	}
	if c.open == 0 || c.seen < uint64(c.frames) {
		return
	}
	c.open--
	c.keepGate(logits)
	c.judge.ForwardEmbedded(c.ring.unroll(c.seen-1), logits)
	c.judged++
	c.blend(logits)
}

// Forward scores one window of frames whole, as StreamLogits would after it: the gate on
// the window, then the judge if the gate opens. It keeps no stream state.
func (c *Cascade) Forward(window, logits []float32) {
	c.gate.Forward(window, logits)
	infer.Softmax(logits, c.probs)
	for _, k := range c.keywords {
		if c.probs[k] >= c.threshold {
			c.keepGate(logits)
			c.judge.Forward(window, logits)
			c.blend(logits)
			return
		}
	}
}

// keepGate keeps the gate's logits of a hop the judge is about to score, for blend.
func (c *Cascade) keepGate(logits []float32) {
	if c.fuse > 0 {
		copy(c.gateOut, logits)
	}
}

// blend mixes the gate's logits kept of the hop into the judge's by Fuse.
func (c *Cascade) blend(logits []float32) {
	if c.fuse == 0 {
		return
	}
	for i, g := range c.gateOut {
		logits[i] = (1-c.fuse)*logits[i] + c.fuse*g
	}
}

// ResetStream starts a new stream: both models forget it, and the gate closes.
func (c *Cascade) ResetStream() {
	c.gate.ResetStream()
	c.ring.reset()
	c.seen, c.open = 0, 0
}

// Judged returns how many hops were scored and how many of them by the judge.
func (c *Cascade) Judged() (hops, judged uint64) { return c.hops, c.judged }
