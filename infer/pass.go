package infer

// The forward passes of a model. A window KWT (Arch.Context 0) runs with
// Dense or Delta, which score one window at a time; a streaming KWT runs
// with StreamDense or StreamDelta, which also take frames one at a time
// (PushFrame, StreamLogits; engine.StreamScorer). NewDense and NewDelta
// choose the type from the architecture, so that a caller that only scores
// windows need not know which kind of model it holds.

// Pass is a forward pass of one model with its own scratch space: Dense,
// Delta, StreamDense or StreamDelta. It implements engine.FrameScorer. A
// Pass is not safe for concurrent use; create one per goroutine.
type Pass interface {
	// Forward computes the logits of one window of Frames MFCC frames.
	Forward(features, logits []float32)
	// TokenDim is the width of a token, the model's Dim.
	TokenDim() int
	// EmbedFrame projects one MFCC frame into a token.
	EmbedFrame(frame, token []float32)
	// ForwardEmbedded computes the logits of one window from its frames'
	// tokens, bit for bit those of Forward on the frames.
	ForwardEmbedded(tokens, logits []float32)
	// Ops returns the MACs executed since the pass was made or Reset.
	Ops() OpCounts
	// SetTiming turns wall-time measurement of the stages on or off.
	SetTiming(on bool)
	// Times returns the wall time measured since Reset while timing was on.
	Times() Times
	// Reset zeroes the op counts and times.
	Reset()
}

// DeltaPass is a delta-pruned Pass: Delta or StreamDelta.
type DeltaPass interface {
	Pass
	// SetThresholds replaces the thresholds; it fails if th is not valid
	// for the model (Thresholds.ValidateFor).
	SetThresholds(th Thresholds) error
	// Thresholds returns a copy of the thresholds in use.
	Thresholds() Thresholds
}

var (
	_ Pass      = (*Dense)(nil)
	_ DeltaPass = (*Delta)(nil)
	_ Pass      = (*StreamDense)(nil)
	_ DeltaPass = (*StreamDelta)(nil)
)

// NewDense allocates the state for running m densely: a *Dense for a window
// KWT, a *StreamDense (NewStreamDense) for a streaming KWT. m must be valid
// (as returned by Load, Parse or a successful Validate) and must not change
// while the pass is in use.
func (m *Model) NewDense() Pass {
	if m.Arch.Streaming() {
		return m.NewStreamDense()
	}
	return newDense(m)
}

// NewDelta allocates the state for running m with delta pruning at the
// thresholds th: a *Delta for a window KWT, a *StreamDelta (NewStreamDelta)
// for a streaming KWT. m must be valid and must not change while the pass
// is in use. It panics if th is not valid for m (Thresholds.ValidateFor);
// thresholds from a loaded model are.
func (m *Model) NewDelta(th Thresholds) DeltaPass {
	if m.Arch.Streaming() {
		return m.NewStreamDelta(th)
	}
	return newDelta(m, th)
}
