package infer

import "fmt"

// Streaming reuse: a frame's input projection (embed) does not depend on
// where the frame sits in the window (the positional embedding is added
// afterwards), so a stream can project each frame once, when it arrives, and
// hand every window that contains it the projected tokens. Every Pass offers
// the pair EmbedFrame / ForwardEmbedded for this (see engine.FrameScorer);
// ForwardEmbedded on the tokens of a window gives bit-for-bit the logits of
// Forward on its frames. (A streaming KWT goes further: StreamDense and
// StreamDelta take each frame through the layers once, PushFrame.)

// TokenDim is the width of a token, the model's Dim.
func (s *Dense) TokenDim() int { return s.m.Arch.Dim }

// EmbedFrame projects one MFCC frame (Coeffs values) into token (Dim
// values): embed.weight · frame + embed.bias, without the positional
// embedding.
func (s *Dense) EmbedFrame(frame, token []float32) {
	embedFrame(s.m, s.embedT, &s.c, frame, token)
}

// ForwardEmbedded computes the logits of one window from its frames'
// tokens (Frames tokens of Dim values, oldest first, as EmbedFrame made
// them). The result is bit-for-bit that of Forward on the frames.
func (s *Dense) ForwardEmbedded(tokens, logits []float32) {
	a := s.m.Arch
	checkEmbedded(a, tokens, logits)
	t0 := s.c.now()
	d := a.Dim
	copy(s.x[:d], s.m.Weights.Cls)
	copy(s.x[d:], tokens)
	add(s.x, s.m.Weights.Pos)
	s.encode(logits, t0)
}

// Ops returns the MACs executed since NewDense or Reset: the dense count of
// every layer and, for the embedding, one projection per frame embedded
// (Frames per Forward, one per EmbedFrame).
func (s *Dense) Ops() OpCounts { return s.c.counts() }

// SetTiming turns wall-time measurement of the stages on or off (it reads
// the clock a few times per layer).
func (s *Dense) SetTiming(on bool) { s.c.timing = on }

// Times returns the wall time measured since Reset while timing was on.
func (s *Dense) Times() Times { return s.c.times }

// Reset zeroes the op counts and times.
func (s *Dense) Reset() { s.c.reset() }

func checkForward(a Arch, features, logits []float32) {
	if len(features) != a.Frames*a.Coeffs || len(logits) != a.NumClasses {
		panic(fmt.Sprintf("infer: Forward: %d features and %d logits, want %d (%d frames x %d) and %d",
			len(features), len(logits), a.Frames*a.Coeffs, a.Frames, a.Coeffs, a.NumClasses))
	}
}

func checkEmbed(a Arch, frame, token []float32) {
	if len(frame) != a.Coeffs || len(token) != a.Dim {
		panic(fmt.Sprintf("infer: EmbedFrame: frame of %d and token of %d values, want %d and %d",
			len(frame), len(token), a.Coeffs, a.Dim))
	}
}

func checkEmbedded(a Arch, tokens, logits []float32) {
	if len(tokens) != a.Frames*a.Dim || len(logits) != a.NumClasses {
		panic(fmt.Sprintf("infer: ForwardEmbedded: %d token values and %d logits, want %d (%d frames x %d) and %d",
			len(tokens), len(logits), a.Frames*a.Dim, a.Frames, a.Dim, a.NumClasses))
	}
}

// embedFrame is EmbedFrame for both passes: the projection, counted and timed in c.
func embedFrame(m *Model, embedT []float32, c *counter, frame, token []float32) {
	checkEmbed(m.Arch, frame, token)
	t0 := c.now()
	linear(token, frame, embedT, m.Weights.EmbedB)
	c.frames++
	dt, _ := c.since(t0)
	c.times.Embed += dt
}
