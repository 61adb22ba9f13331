// Package engine runs a keyword model over the stream of MFCC frames: it keeps the last
// window of frames, scores it every hop, and yields the class posteriors. What to make of
// them (package detect) is the caller's business.
package engine

import (
	"fmt"
	"time"

	"github.com/wakewordd/wakewordd/frontend"
	"github.com/wakewordd/wakewordd/infer"
)

// Scorer computes class logits for one window of frames (frames*coeffs values, oldest
// frame first). Implementations keep their own scratch space and do not allocate.
type Scorer interface {
	Forward(window, logits []float32)
}

// FrameScorer is a Scorer that can project each frame into a token once, when the frame
// arrives, and score a window from the tokens of its frames: each 10 ms frame's input
// projection is then computed once and reused by every window that contains it.
// ForwardEmbedded(tokens) must give the logits Forward gives on the frames the tokens were
// made from. The passes of package infer implement it (infer.Pass).
type FrameScorer interface {
	Scorer
	TokenDim() int                            // values per token
	EmbedFrame(frame, token []float32)        // one frame (coeffs values) into one token
	ForwardEmbedded(tokens, logits []float32) // frames*TokenDim values, oldest token first
}

// StreamScorer is a Scorer whose model is a streaming KWT (infer.Arch.Context > 0) when
// Streaming says so: each frame then goes through the network once, when it arrives
// (PushFrame), and a hop only finishes the newest token (StreamLogits). Without delta
// pruning, StreamLogits after a frame gives the logits Forward gives on the window that
// ends with it; with delta pruning the references run on across windows instead of
// starting afresh in each. infer.StreamDense and infer.StreamDelta, the passes of a
// streaming KWT, implement it with Streaming always true; Streaming lets a wrapper
// around any scorer pass the choice on.
type StreamScorer interface {
	Scorer
	Streaming() bool
	PushFrame(frame []float32)
	StreamLogits(logits []float32)
	ResetStream()
}

// PosteriorFunc receives the class posteriors of the window that ends at stream time at.
// probs is reused for the next hop.
type PosteriorFunc func(at time.Duration, probs []float32)

// Config describes the model's window and how often to score it.
type Config struct {
	Frames       int             // frames per window
	Classes      int             // logits per window
	Hop          time.Duration   // time between inferences, a multiple of the frame hop
	Frontend     frontend.Params // frame timing
	OnPosteriors PosteriorFunc   // every hop's posteriors
	// NoReuse makes the engine pass whole windows of frames to Forward even when the
	// scorer is a FrameScorer or StreamScorer (for comparisons; the results are the same,
	// except for a streaming model's delta references, which then restart in each window).
	NoReuse bool
}

// Engine is the per-stream state. It is not safe for concurrent use.
type Engine struct {
	cfg       Config
	scorer    Scorer
	frames    FrameScorer  // scorer, when its tokens are reused; else nil
	stream    StreamScorer // scorer, when it takes frames one by one; else nil
	coeffs    int          // values per ring slot: frame coefficients, or the token width with reuse
	hopFrames uint64
	ring      ring // the last Frames frames (or their tokens)
	logits    []float32
	probs     []float32
	seen      uint64 // frames pushed
	runs      uint64 // inferences made
}

// New returns an engine over scorer.
func New(cfg Config, scorer Scorer) (*Engine, error) {
	if cfg.Frames < 1 || cfg.Classes < 1 {
		return nil, fmt.Errorf("engine: window of %d frames and %d classes", cfg.Frames, cfg.Classes)
	}
	if err := cfg.Frontend.CheckHop(cfg.Hop); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	if cfg.OnPosteriors == nil {
		cfg.OnPosteriors = func(time.Duration, []float32) {}
	}
	e := &Engine{
		cfg: cfg, scorer: scorer, coeffs: cfg.Frontend.NumCoeffs,
		hopFrames: uint64(cfg.Hop / cfg.Frontend.FrameHop()),
		logits:    make([]float32, cfg.Classes),
		probs:     make([]float32, cfg.Classes),
	}
	if ss, ok := scorer.(StreamScorer); ok && ss.Streaming() && !cfg.NoReuse {
		e.stream = ss // frames go straight into the model: no ring
		return e, nil
	}
	if fs, ok := scorer.(FrameScorer); ok && !cfg.NoReuse {
		if e.coeffs = fs.TokenDim(); e.coeffs < 1 {
			return nil, fmt.Errorf("engine: scorer has tokens of %d values", e.coeffs)
		}
		e.frames = fs
	}
	e.ring = newRing(cfg.Frames, e.coeffs)
	return e, nil
}

// PushFrame adds the next MFCC frame; index is its position in the stream (0, 1, ...).
// When a hop is complete it scores the window and yields the posteriors. Its signature
// matches pipeline.FrameFunc.
func (e *Engine) PushFrame(index uint64, frame []float32) {
	if e.stream != nil {
		e.stream.PushFrame(frame[:e.coeffs])
		e.seen++
		if !e.hopDone() {
			return
		}
		e.stream.StreamLogits(e.logits)
		e.score(index)
		return
	}
	dst := e.ring.row(e.seen)
	if e.frames != nil {
		e.frames.EmbedFrame(frame[:e.cfg.Frontend.NumCoeffs], dst)
	} else {
		copy(dst, frame[:e.coeffs])
	}
	e.seen++
	if !e.hopDone() {
		return
	}
	window := e.ring.unroll(e.seen - 1)
	if e.frames != nil {
		e.frames.ForwardEmbedded(window, e.logits)
	} else {
		e.scorer.Forward(window, e.logits)
	}
	e.score(index)
}

// hopDone reports whether the frames seen complete a window and a hop.
func (e *Engine) hopDone() bool {
	return e.seen >= uint64(e.cfg.Frames) && (e.seen-uint64(e.cfg.Frames))%e.hopFrames == 0
}

// score turns the logits of the window that ends with frame index into posteriors and
// yields them.
func (e *Engine) score(index uint64) {
	infer.Softmax(e.logits, e.probs)
	e.runs++
	e.cfg.OnPosteriors(e.frameEnd(index), e.probs)
}

// frameEnd is the stream time at which frame index ends.
func (e *Engine) frameEnd(index uint64) time.Duration {
	p := e.cfg.Frontend
	end := index*uint64(p.Hop) + uint64(p.WindowLen)
	return time.Duration(end) * time.Second / time.Duration(p.SampleRate)
}

// Inferences is how many windows have been scored.
func (e *Engine) Inferences() uint64 { return e.runs }

// Reset starts a new stream: the window empties.
func (e *Engine) Reset() {
	e.ring.reset()
	if e.stream != nil {
		e.stream.ResetStream()
	}
	e.seen, e.runs = 0, 0
}
