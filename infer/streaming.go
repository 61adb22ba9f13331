package infer

import (
	"fmt"
	"math"
	"time"

	"github.com/wakewordd/wakewordd/kernels"
)

// streamer runs a streaming KWT (Arch.Context > 0) one frame at a time: the
// state and methods that StreamDense and StreamDelta share.
//
// Each frame becomes a token that passes through the layers once, when it
// arrives. Per layer, the keys and values of the last Context tokens sit in
// a ring, and a token's attention reads that ring: Context keys instead of
// a whole window. The head reads only the newest token, so push stops at
// the last layer's keys and values, and logits finishes the newest token
// when a hop asks for a score. Because Depth*(Context-1) < Frames, the
// newest token depends only on the frames of the window that ends with it:
// the logits of a stream equal bit for bit those of Forward on that window
// (which is push over the window's frames from an empty state).
//
// With delta thresholds, the token-wise linear maps run on deltas against
// the previous token as in Delta (sites qkv, out, fc1 and fc2; the scores
// and values of a ring that moves with every token have no previous row to
// update), except that the chain is not restarted for each window: it runs
// on across the whole stream until reset, so a token costs what changed
// since the token 10 ms before it. In the last layer only the keys and values
// see every token; its output projection and MLP run once per hop, densely.
type streamer struct {
	m      *Model
	th     Thresholds // no site enabled (StreamDense): the dense pass
	scale  float32    // 1/sqrt(Dim/Heads)
	eps    float32
	embedT []float32     // [Coeffs, Dim] embedding, transposed
	lw     []packedLayer // the layers' linear maps, transposed
	n      int           // Context
	pos    int64         // tokens pushed since reset

	keys, vals [][]float32 // per layer [Context, Dim]: token t in row t mod Context
	lastIn     []float32   // [Dim] the newest token's input to the last layer
	x          []float32   // [Dim] the token on its way through the layers
	tok        []float32   // [Dim] an embedded frame (Forward)
	qkv        []float32   // [3 Dim] q | k | v of the token
	p          []float32   // [padded Context] one head's scores, then probabilities
	rows       []int32     // [Context] ring rows by distance: rows[j] holds token t-j
	byRow      []float32   // [Context] one head's query-key products by ring row
	o          []float32   // [Dim] head outputs
	tmp        []float32   // [Dim] output of a projection before the residual sum
	hidden     []float32   // [MLPDim]
	q8         *kernels.Int8Scratch

	refs []deltaRefs // per layer: delta references and running outputs
	idx  []int32     // positions of the kept elements of one delta
	dv   []float32   // their deltas

	c counter // op counts and optional stage timing
}

// deltaRefs holds one layer's delta state: for each enabled site the
// reference of its input and its running output (without bias).
type deltaRefs struct {
	x, qkv  []float32 // Q/K/V input [Dim]; q | k | v [3 Dim]
	o, out  []float32 // output projection input [Dim]; output [Dim]
	h1, fc1 []float32 // fc1 input [Dim]; output [MLPDim]
	h2, fc2 []float32 // fc2 input [MLPDim]; output [Dim]
}

// newStreamer allocates the stream state of the streaming KWT m, with no
// delta site enabled.
func newStreamer(m *Model) streamer {
	a := m.Arch
	d, M, n := a.Dim, a.MLPDim, a.Context
	embedT, lw := packWeights(m)
	s := streamer{
		m:      m,
		scale:  float32(1 / math.Sqrt(float64(a.Dim/a.Heads))),
		eps:    float32(a.NormEps),
		n:      n,
		keys:   make([][]float32, a.Depth),
		vals:   make([][]float32, a.Depth),
		refs:   make([]deltaRefs, a.Depth),
		lastIn: make([]float32, d),
		x:      make([]float32, d),
		tok:    make([]float32, d),
		qkv:    make([]float32, 3*d),
		p:      make([]float32, padTokens(n)),
		rows:   make([]int32, n),
		byRow:  make([]float32, n),
		o:      make([]float32, d),
		tmp:    make([]float32, d),
		hidden: make([]float32, M),
		idx:    make([]int32, max(d, M)),
		dv:     make([]float32, max(d, M)),
		q8:     newInt8Scratch(m),
		c:      newCounter(a, true),
		embedT: embedT,
		lw:     lw,
	}
	for li := range a.Depth {
		s.keys[li] = make([]float32, n*d)
		s.vals[li] = make([]float32, n*d)
		s.refs[li] = deltaRefs{
			x: make([]float32, d), qkv: make([]float32, 3*d),
			o: make([]float32, d), out: make([]float32, d),
			h1: make([]float32, d), fc1: make([]float32, M),
			h2: make([]float32, M), fc2: make([]float32, d),
		}
	}
	return s
}

// reset empties the rings and zeroes the delta references: the next token
// is the first of a stream.
func (s *streamer) reset() {
	s.pos = 0
	for li := range s.refs {
		clear(s.keys[li])
		clear(s.vals[li])
		r := &s.refs[li]
		for _, v := range [][]float32{r.x, r.qkv, r.o, r.out, r.h1, r.fc1, r.h2, r.fc2} {
			clear(v)
		}
	}
}

// forward is Forward for a streaming KWT: the window's frames pushed into
// an empty stream, then the logits of the newest token.
func (s *streamer) forward(features, logits []float32) {
	a := s.m.Arch
	s.reset()
	for t := range a.Frames {
		embedFrame(s.m, s.embedT, &s.c, features[t*a.Coeffs:(t+1)*a.Coeffs], s.tok)
		s.push(s.tok)
	}
	s.logits(logits)
}

// push runs one embedded frame through the layers: all of every layer but
// the last, and the last layer's keys and values. Its time counts as
// forward-pass time (Times.Forward), as does that of logits.
func (s *streamer) push(token []float32) {
	a := s.m.Arch
	d := a.Dim
	slot := int(s.pos % int64(s.n))
	x := s.x
	copy(x, token)
	start := s.c.now()
	t0 := start
	for li := range a.Depth {
		last := li == a.Depth-1
		s.project(li, x, last)
		copy(s.keys[li][slot*d:(slot+1)*d], s.qkv[d:2*d])
		copy(s.vals[li][slot*d:(slot+1)*d], s.qkv[2*d:])
		if last {
			copy(s.lastIn, x)
			break
		}
		s.attend(li, x, s.qkv[:d], s.pos)
		var dt time.Duration
		dt, t0 = s.c.since(t0)
		s.c.times.MHSA += dt
		s.mlp(li, x)
		dt, t0 = s.c.since(t0)
		s.c.times.MLP += dt
	}
	dt, _ := s.c.since(t0)
	s.c.times.MHSA += dt
	dt, _ = s.c.since(start)
	s.c.times.Forward += dt
	s.pos++
}

// logits finishes the last layer for the newest token and applies the head.
func (s *streamer) logits(out []float32) {
	if s.pos == 0 {
		panic("infer: logits of a stream before its first frame")
	}
	a, w := s.m.Arch, &s.m.Weights
	d, li := a.Dim, a.Depth-1
	t0 := s.c.now()
	x, q := s.x, s.qkv[:d]
	copy(x, s.lastIn)
	// The query of the newest token only. With delta pruning on Q/K/V it is
	// the query of the layer's reference, as the delta updates would make it.
	src := s.lastIn
	if s.th.Enabled[DeltaQKV] {
		src = s.refs[li].x
	}
	clear(q)
	kernels.AXPYRows(q, src, s.lw[li].qkvT, 3*d)
	s.c.add(li, OpQ, int64(d*d), int64(d*d))
	s.attend(li, x, q, s.pos-1)
	dt, t1 := s.c.since(t0)
	s.c.times.MHSA += dt
	s.mlp(li, x)
	dt, _ = s.c.since(t1)
	s.c.times.MLP += dt
	matVec(out, w.HeadW, x, a.NumClasses, d)
	add(out, w.HeadB)
	s.c.windows++
	dt, _ = s.c.since(t0)
	s.c.times.Forward += dt
}

// project sets s.qkv to the token's q | k | v in layer li (keys and values
// only when keysOnly).
func (s *streamer) project(li int, x []float32, keysOnly bool) {
	d := s.m.Arch.Dim
	lw := &s.lw[li]
	q, kv := int64(d*d), int64(2*d*d)
	if keysOnly {
		q = 0
	}
	if !s.th.Enabled[DeltaQKV] {
		if keysOnly {
			keysValues(s.qkv[d:], x, lw.qkvT)
		} else {
			linear(s.qkv, x, lw.qkvT, nil)
		}
		s.countQKV(li, q, kv, q, kv)
		return
	}
	r := &s.refs[li]
	nz := selectDelta(x, r.x, s.th.Theta[DeltaQKV][li], s.idx, s.dv)
	if keysOnly {
		rowAXPY(r.qkv[d:], lw.qkvT[d:], 3*d, s.idx[:nz], s.dv[:nz])
		copy(s.qkv[d:], r.qkv[d:])
	} else {
		rowAXPY(r.qkv, lw.qkvT, 3*d, s.idx[:nz], s.dv[:nz])
		copy(s.qkv, r.qkv)
	}
	kept := int64(nz) * int64(d)
	if keysOnly {
		s.countQKV(li, 0, 2*kept, 0, kv)
	} else {
		s.countQKV(li, kept, 2*kept, q, kv)
	}
}

// countQKV adds the executed and dense MACs of a Q/K/V projection: q for
// the query, kv for keys and values together.
func (s *streamer) countQKV(li int, q, kv, denseQ, denseKV int64) {
	s.c.add(li, OpQ, q, denseQ)
	s.c.add(li, OpK, kv/2, denseKV/2)
	s.c.add(li, OpV, kv/2, denseKV/2)
}

// attend sets x = LN1(x + out(attention of q over the ring)) for token t of
// layer li, whose keys and values are already in the ring.
func (s *streamer) attend(li int, x, q []float32, t int64) {
	a := s.m.Arch
	l, lw := &s.m.Weights.Layers[li], &s.lw[li]
	d := a.Dim
	hd := d / a.Heads
	nk := int(min(t+1, int64(s.n)))
	slot := int(t % int64(s.n))
	for j := range nk {
		r := slot - j
		if r < 0 {
			r += s.n
		}
		s.rows[j] = int32(r)
	}
	keys, vals := s.keys[li], s.vals[li]
	p := s.p[:padTokens(nk)]
	// The cached keys of a ring are one or two runs of consecutive rows: one DotRows per run
	// instead of a Dot per key (DotRows is Dot row by row: the same bits).
	lo := slot - nk + 1
	for h := 0; h < d; h += hd {
		rel := l.Rel[h/hd*s.n:]
		qh := q[h : h+hd]
		if lo >= 0 {
			kernels.DotRows(s.byRow[lo:slot+1], qh, keys[lo*d+h:], d)
		} else {
			kernels.DotRows(s.byRow[:slot+1], qh, keys[h:], d)
			kernels.DotRows(s.byRow[s.n+lo:], qh, keys[(s.n+lo)*d+h:], d)
		}
		for j, r := range s.rows[:nk] {
			p[j] = s.byRow[r]*s.scale + rel[j]
		}
		softmaxRow(p, nk, 1)
		o := s.o[h : h+hd]
		clear(o)
		rowAXPY(o, vals[h:], d, s.rows[:nk], p[:nk])
	}
	att := int64(nk) * int64(d)
	s.c.add(li, OpScores, att, att)
	s.c.add(li, OpValues, att, att)
	dd := int64(d) * int64(d)
	if s.th.Enabled[DeltaOut] && li < a.Depth-1 {
		r := &s.refs[li]
		nz := selectDelta(s.o, r.o, s.th.Theta[DeltaOut][li], s.idx, s.dv)
		rowAXPY(r.out, lw.outT, d, s.idx[:nz], s.dv[:nz])
		copy(s.tmp, r.out)
		add(s.tmp, l.OutB)
		s.c.add(li, OpOut, int64(nz)*int64(d), dd)
	} else {
		linear(s.tmp, s.o, lw.outT, l.OutB)
		s.c.add(li, OpOut, dd, dd)
	}
	add(x, s.tmp)
	layerNorm(x, l.Norm1, l.Norm1B, s.eps)
}

// mlp sets x = LN2(x + fc2(GELU(fc1(x)))) in layer li. A matrix whose delta
// site is on runs in float32 on deltas; otherwise it runs densely, on int8
// where the model says so.
func (s *streamer) mlp(li int, x []float32) {
	a := s.m.Arch
	l, lw := &s.m.Weights.Layers[li], &s.lw[li]
	d, M := a.Dim, a.MLPDim
	r := &s.refs[li]
	dense := int64(d) * int64(M)
	chain := li < a.Depth-1 // the last layer's MLP runs once per hop
	if s.th.Enabled[DeltaFC1] && chain {
		nz := selectDelta(x, r.h1, s.th.Theta[DeltaFC1][li], s.idx, s.dv)
		rowAXPY(r.fc1, lw.fc1T, M, s.idx[:nz], s.dv[:nz])
		copy(s.hidden, r.fc1)
		add(s.hidden, l.FC1B)
		s.c.add(li, OpFC1, int64(nz)*int64(M), dense)
	} else {
		mlpLinear(s.hidden, x, lw.fc1T, lw.fc1q, l.FC1B, s.q8)
		s.c.add(li, OpFC1, dense, dense)
	}
	gelu(s.hidden)
	if s.th.Enabled[DeltaFC2] && chain {
		nz := selectDelta(s.hidden, r.h2, s.th.Theta[DeltaFC2][li], s.idx, s.dv)
		rowAXPY(r.fc2, lw.fc2T, d, s.idx[:nz], s.dv[:nz])
		copy(s.tmp, r.fc2)
		add(s.tmp, l.FC2B)
		s.c.add(li, OpFC2, int64(nz)*int64(d), dense)
	} else {
		mlpLinear(s.tmp, s.hidden, lw.fc2T, lw.fc2q, l.FC2B, s.q8)
		s.c.add(li, OpFC2, dense, dense)
	}
	add(x, s.tmp)
	layerNorm(x, l.Norm2, l.Norm2B, s.eps)
}

// checkFrame panics on a frame of the wrong length.
func checkFrame(a Arch, frame []float32) {
	if len(frame) != a.Coeffs {
		panic(fmt.Sprintf("infer: PushFrame: frame of %d values, want %d", len(frame), a.Coeffs))
	}
}

// pushFrame embeds one frame and pushes it (PushFrame).
func (s *streamer) pushFrame(frame []float32) {
	checkFrame(s.m.Arch, frame)
	embedFrame(s.m, s.embedT, &s.c, frame, s.tok)
	s.push(s.tok)
}

// forwardEmbedded is ForwardEmbedded for a streaming KWT.
func (s *streamer) forwardEmbedded(tokens, logits []float32) {
	d := s.m.Arch.Dim
	s.reset()
	for t := range len(tokens) / d {
		s.push(tokens[t*d : (t+1)*d])
	}
	s.logits(logits)
}

// StreamDense runs the dense forward pass of a streaming KWT (Arch.Context
// > 0; a window KWT runs with Dense). Besides scoring whole windows
// (Forward, ForwardEmbedded) it takes a stream (engine.StreamScorer): the
// engine pushes every frame as it arrives and asks for logits once per hop,
// so a frame passes through the network once instead of once per window
// that holds it. The logits of the stream equal bit for bit those of
// Forward on the last Frames frames. All scratch space is allocated by
// NewStreamDense: nothing else allocates. A StreamDense is not safe for
// concurrent use; create one per goroutine.
type StreamDense struct{ streamer }

// NewStreamDense allocates the state for running the streaming KWT m
// densely (NewDense does so for a streaming m). It panics if m is a window
// KWT. m must be valid and must not change while the StreamDense is in use.
func (m *Model) NewStreamDense() *StreamDense {
	checkStreaming(m.Arch, "NewStreamDense")
	return &StreamDense{newStreamer(m)}
}

// StreamDelta runs the delta-pruned forward pass of a streaming KWT
// (Arch.Context > 0; a window KWT runs with Delta), as StreamDense but with
// the token-wise linear maps on deltas (sites qkv, out, fc1 and fc2; a
// streaming KWT has no scores or values sites, Arch.HasDeltaSite). In a
// stream the delta references run on from frame to frame until ResetStream,
// instead of starting afresh in each window as in Forward.
type StreamDelta struct{ streamer }

// NewStreamDelta allocates the state for running the streaming KWT m with
// delta pruning at the thresholds th (NewDelta does so for a streaming m).
// It panics if m is a window KWT or th is not valid for m
// (Thresholds.ValidateFor). m must be valid and must not change while the
// StreamDelta is in use.
func (m *Model) NewStreamDelta(th Thresholds) *StreamDelta {
	checkStreaming(m.Arch, "NewStreamDelta")
	s := &StreamDelta{newStreamer(m)}
	if err := s.SetThresholds(th); err != nil {
		panic("infer: NewStreamDelta: " + err.Error())
	}
	return s
}

// SetThresholds replaces the thresholds (a copy of th is kept); the op
// counts and the stream carry on. It fails if th is not valid for the
// model.
func (s *StreamDelta) SetThresholds(th Thresholds) error {
	if err := th.ValidateFor(s.m.Arch); err != nil {
		return fmt.Errorf("delta thresholds: %w", err)
	}
	s.th = th.Clone()
	return nil
}

// Thresholds returns a copy of the thresholds in use.
func (s *StreamDelta) Thresholds() Thresholds { return s.th.Clone() }

func checkStreaming(a Arch, fn string) {
	if !a.Streaming() {
		panic("infer: " + fn + ": a window KWT (architecture context 0) has no stream; use NewDense or NewDelta")
	}
}

// The methods of StreamDense and StreamDelta.

// Forward computes the logits of one window of Frames MFCC frames, as
// Dense.Forward: the window's frames pushed into an empty stream, which
// then holds them (a stream in progress is lost). It panics if either
// length is wrong.
func (s *streamer) Forward(features, logits []float32) {
	checkForward(s.m.Arch, features, logits)
	s.forward(features, logits)
}

// TokenDim is the width of a token, the model's Dim.
func (s *streamer) TokenDim() int { return s.m.Arch.Dim }

// EmbedFrame projects one MFCC frame (Coeffs values) into token (Dim
// values), as Dense.EmbedFrame.
func (s *streamer) EmbedFrame(frame, token []float32) {
	embedFrame(s.m, s.embedT, &s.c, frame, token)
}

// ForwardEmbedded computes the logits of one window from its frames'
// tokens (see Dense.ForwardEmbedded); the result is bit for bit that of
// Forward on the frames. Like Forward, it restarts the stream.
func (s *streamer) ForwardEmbedded(tokens, logits []float32) {
	checkEmbedded(s.m.Arch, tokens, logits)
	s.forwardEmbedded(tokens, logits)
}

// Ops returns the MACs executed since the pass was made or Reset, per
// layer and site, with the dense counts of the same work.
func (s *streamer) Ops() OpCounts { return s.c.counts() }

// SetTiming turns wall-time measurement of the stages on or off.
func (s *streamer) SetTiming(on bool) { s.c.timing = on }

// Times returns the wall time measured since Reset while timing was on.
func (s *streamer) Times() Times { return s.c.times }

// Reset zeroes the op counts and times (ResetStream starts a new stream).
func (s *streamer) Reset() { s.c.reset() }

// Streaming reports true: the model takes frames one by one
// (engine.StreamScorer).
func (s *streamer) Streaming() bool { return true }

// PushFrame runs one MFCC frame (Coeffs values) into the stream.
func (s *streamer) PushFrame(frame []float32) { s.pushFrame(frame) }

// StreamLogits writes the logits of the newest frame's window. It panics
// before the stream's first frame.
func (s *streamer) StreamLogits(logits []float32) {
	checkLogits(s.m.Arch, logits)
	s.logits(logits)
}

// ResetStream starts a new stream: empty rings and zero delta references.
func (s *streamer) ResetStream() { s.reset() }

func checkLogits(a Arch, logits []float32) {
	if len(logits) != a.NumClasses {
		panic(fmt.Sprintf("infer: StreamLogits: %d logits, want %d", len(logits), a.NumClasses))
	}
}
