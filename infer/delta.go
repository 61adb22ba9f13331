package infer

import (
	"fmt"
	"math"
	"time"

	"github.com/wakewordd/wakewordd/kernels"
)

// Delta runs the delta-pruned forward pass of a window KWT, Arch.Context 0
// (Jelcicova and Verhelst, "Delta Keyword Transformer", 2022, extended to
// the output projection and the MLP); a streaming KWT runs with StreamDelta.
//
// Tokens are processed in order, class token first. For every token-wise
// linear map y_t = x_t W it keeps a reference vector r (zero before the first
// token): d = x_t - r, elements with |d_i| <= theta are dropped, r_i = x_t,i
// for the kept elements (so errors never accumulate), and y_t = y_{t-1} + d W
// over the kept rows of W only (a sparse row-AXPY on a transposed copy of W,
// made once by NewDelta). The same update applies to the rows of the
// attention scores, s_t = s_{t-1} + dq_t Kᵀ (all keys are computed first, so
// K is fixed while the query rows are processed), and to the
// attention-weighted values, o_t = o_{t-1} + da_t V, per head. Softmax, GELU
// and LayerNorm are computed densely. A site that is not enabled runs the
// dense code, and with no site enabled Forward gives bit-for-bit the logits of
// Dense; with every threshold 0 it gives them up to float32 rounding.
//
// Delta counts the multiply-accumulates it executes, per layer and site
// (Ops). All scratch space is allocated by NewDelta: Forward allocates
// nothing. A Delta is not safe for concurrent use; create one per goroutine.
type Delta struct {
	m      *Model
	th     Thresholds
	scale  float32 // 1/sqrt(Dim/Heads)
	eps    float32
	embedT []float32     // [Coeffs, Dim] embedding, transposed
	lw     []packedLayer // the layers' linear maps, transposed

	tokens  []float32            // [Frames, Dim] frames projected by Forward
	x       []float32            // [Tokens, Dim] token activations
	q, k, v []float32            // [Tokens, Dim] projections of x
	kT      []float32            // [Dim, padded Tokens] K transposed: row i is channel i of every key
	acc3    []float32            // [3 Dim] running q|k|v of the current token
	rx      []float32            // [Dim] reference of the Q/K/V input
	rq      []float32            // [Dim] reference of the query (per head slices)
	sAcc    []float32            // [Heads, padded Tokens] running score rows (padded with zeros)
	p       []float32            // [padded Tokens] one row of attention probabilities (see softmaxRow)
	rp      []float32            // [Heads, Tokens] reference of the probability rows
	oAcc    []float32            // [Dim] running head outputs
	ot      []float32            // [Dim] head outputs of the current token
	ro      []float32            // [Dim] reference of the output projection's input
	outAcc  []float32            // [Dim] running output projection (without bias)
	tmp     []float32            // [Dim] output of a projection before the residual sum
	r1      []float32            // [Dim] reference of fc1's input
	h1Acc   []float32            // [MLPDim] running fc1 output (without bias)
	hidden  []float32            // [MLPDim] MLP hidden layer of one token
	r2      []float32            // [MLPDim] reference of fc2's input
	f2Acc   []float32            // [Dim] running fc2 output (without bias)
	idx     []int32              // positions of the kept elements of one delta
	dv      []float32            // their deltas
	q8      *kernels.Int8Scratch // for the int8 MLP (nil in float32)

	c counter
}

// newDelta is NewDelta for a window KWT.
func newDelta(m *Model, th Thresholds) *Delta {
	a := m.Arch
	d, n, M := a.Dim, a.Tokens(), a.MLPDim
	s := &Delta{
		m:      m,
		scale:  float32(1 / math.Sqrt(float64(a.Dim/a.Heads))),
		eps:    float32(a.NormEps),
		tokens: make([]float32, a.Frames*d),
		x:      make([]float32, n*d),
		q:      make([]float32, n*d),
		k:      make([]float32, n*d),
		v:      make([]float32, n*d),
		kT:     make([]float32, d*padTokens(n)),
		acc3:   make([]float32, 3*d),
		rx:     make([]float32, d),
		rq:     make([]float32, d),
		sAcc:   make([]float32, a.Heads*padTokens(n)),
		p:      make([]float32, padTokens(n)),
		rp:     make([]float32, a.Heads*n),
		oAcc:   make([]float32, d),
		ot:     make([]float32, d),
		ro:     make([]float32, d),
		outAcc: make([]float32, d),
		tmp:    make([]float32, d),
		r1:     make([]float32, d),
		h1Acc:  make([]float32, M),
		hidden: make([]float32, M),
		r2:     make([]float32, M),
		f2Acc:  make([]float32, d),
		idx:    make([]int32, max(d, n, M)),
		dv:     make([]float32, max(d, n, M)),
		q8:     newInt8Scratch(m),
		c:      newCounter(a, true),
	}
	s.embedT, s.lw = packWeights(m)
	if err := s.SetThresholds(th); err != nil {
		panic("infer: NewDelta: " + err.Error())
	}
	return s
}

// SetThresholds replaces the thresholds (a copy of th is kept); the op
// counts carry on. It fails if th is not valid for the model.
func (s *Delta) SetThresholds(th Thresholds) error {
	if err := th.ValidateFor(s.m.Arch); err != nil {
		return fmt.Errorf("delta thresholds: %w", err)
	}
	s.th = th.Clone()
	return nil
}

// Thresholds returns a copy of the thresholds in use.
func (s *Delta) Thresholds() Thresholds { return s.th.Clone() }

// Forward computes the logits of one window of Frames MFCC frames, as
// Dense.Forward; it panics if either length is wrong.
func (s *Delta) Forward(features, logits []float32) {
	a := s.m.Arch
	checkForward(a, features, logits)
	t0 := s.c.now()
	d, K := a.Dim, a.Coeffs
	w := &s.m.Weights
	for t := range a.Frames {
		linear(s.tokens[t*d:(t+1)*d], features[t*K:(t+1)*K], s.embedT, w.EmbedB)
	}
	s.c.frames += int64(a.Frames)
	dt, _ := s.c.since(t0)
	s.c.times.Embed += dt
	s.encode(s.tokens, logits, t0)
}

// TokenDim is the width of a token, the model's Dim.
func (s *Delta) TokenDim() int { return s.m.Arch.Dim }

// EmbedFrame projects one MFCC frame into a token, as Dense.EmbedFrame.
func (s *Delta) EmbedFrame(frame, token []float32) {
	embedFrame(s.m, s.embedT, &s.c, frame, token)
}

// ForwardEmbedded computes the logits of one window from its frames'
// tokens (see Dense.ForwardEmbedded); the result is bit-for-bit that of
// Forward on the frames.
func (s *Delta) ForwardEmbedded(tokens, logits []float32) {
	checkEmbedded(s.m.Arch, tokens, logits)
	s.encode(tokens, logits, s.c.now())
}

// Ops returns the MACs executed since NewDelta or Reset, per layer and site,
// with the dense counts of the same windows.
func (s *Delta) Ops() OpCounts { return s.c.counts() }

// SetTiming turns wall-time measurement of the stages on or off.
func (s *Delta) SetTiming(on bool) { s.c.timing = on }

// Times returns the wall time measured since Reset while timing was on.
func (s *Delta) Times() Times { return s.c.times }

// Reset zeroes the op counts and times.
func (s *Delta) Reset() { s.c.reset() }

// encode runs the layers and the head over the class token and tokens.
func (s *Delta) encode(tokens, logits []float32, start time.Time) {
	a, w := s.m.Arch, &s.m.Weights
	d := a.Dim
	copy(s.x[:d], w.Cls)
	copy(s.x[d:], tokens)
	add(s.x, w.Pos)
	t0 := s.c.now()
	for i := range w.Layers {
		rows := queryRows(a, i)
		s.attention(i, rows)
		var dt time.Duration
		dt, t0 = s.c.since(t0)
		s.c.times.MHSA += dt
		s.mlp(i, rows)
		dt, t0 = s.c.since(t0)
		s.c.times.MLP += dt
	}
	matVec(logits, w.HeadW, s.x[:d], a.NumClasses, d)
	add(logits, w.HeadB)
	s.c.windows++
	dt, _ := s.c.since(start)
	s.c.times.Forward += dt
}

// attention runs x = LN1(x + out(MHSA(x))) over the first rows tokens of
// layer li, with the keys and values of all tokens (queryRows).
func (s *Delta) attention(li, rows int) {
	a := s.m.Arch
	l, lw := &s.m.Weights.Layers[li], &s.lw[li]
	d, n, H := a.Dim, a.Tokens(), a.Heads
	hd := d / H
	ops := &s.c.exec[li]

	// Q, K and V of every token, so that K and V are complete before any
	// query row is processed.
	if s.th.Enabled[DeltaQKV] {
		theta := s.th.Theta[DeltaQKV][li]
		clear(s.rx)
		clear(s.acc3)
		var kept, keptQ int64
		for t := range n {
			xt := s.x[t*d : (t+1)*d]
			nz := selectDelta(xt, s.rx, theta, s.idx, s.dv)
			if t < rows {
				rowAXPY(s.acc3, lw.qkvT, 3*d, s.idx[:nz], s.dv[:nz])
				keptQ += int64(nz)
				copy(s.q[t*d:(t+1)*d], s.acc3[:d])
			} else { // k | v only: the running q is not needed again
				rowAXPY(s.acc3[d:], lw.qkvT[d:], 3*d, s.idx[:nz], s.dv[:nz])
			}
			kept += int64(nz)
			copy(s.k[t*d:(t+1)*d], s.acc3[d:2*d])
			copy(s.v[t*d:(t+1)*d], s.acc3[2*d:])
		}
		ops[OpQ] += keptQ * int64(d)
		ops[OpK] += kept * int64(d)
		ops[OpV] += kept * int64(d)
	} else {
		for t := range n { // as Dense: one linear map to q | k | v
			if t < rows {
				linear(s.acc3, s.x[t*d:(t+1)*d], lw.qkvT, nil)
				copy(s.q[t*d:(t+1)*d], s.acc3[:d])
			} else {
				keysValues(s.acc3[d:], s.x[t*d:(t+1)*d], lw.qkvT)
			}
			copy(s.k[t*d:(t+1)*d], s.acc3[d:2*d])
			copy(s.v[t*d:(t+1)*d], s.acc3[2*d:])
		}
		dense := int64(n) * int64(d) * int64(d)
		ops[OpQ] += int64(rows) * int64(d) * int64(d)
		ops[OpK] += dense
		ops[OpV] += dense
	}

	deltaScores, deltaValues, deltaOut := s.th.Enabled[DeltaScores], s.th.Enabled[DeltaValues], s.th.Enabled[DeltaOut]
	var thScores, thValues, thOut float32
	if deltaScores {
		thScores = s.th.Theta[DeltaScores][li]
		np := padTokens(n)
		for u := range n { // kT[i, u] = k[u, i]; the padding columns stay 0
			for i, kv := range s.k[u*d : (u+1)*d] {
				s.kT[i*np+u] = kv
			}
		}
		clear(s.rq)
		clear(s.sAcc)
	}
	if deltaValues {
		thValues = s.th.Theta[DeltaValues][li]
		clear(s.rp)
		clear(s.oAcc)
	}
	if deltaOut {
		thOut = s.th.Theta[DeltaOut][li]
		clear(s.ro)
		clear(s.outAcc)
	}
	var keptScores, keptValues, keptOut int64
	for t := range rows {
		for h := 0; h < d; h += hd {
			q := s.q[t*d+h : t*d+h+hd]
			if deltaScores {
				np := len(s.p)
				row := s.sAcc[h/hd*np : (h/hd+1)*np]
				nz := selectDelta(q, s.rq[h:h+hd], thScores, s.idx, s.dv)
				rowAXPY(row, s.kT[h*np:], np, s.idx[:nz], s.dv[:nz]) // whole blocks of 16
				keptScores += int64(nz)
				copy(s.p, row[:n])
			} else {
				kernels.DotRows(s.p[:n], q, s.k[h:], d) // q·k_u for every token u
			}
			softmaxRow(s.p, n, s.scale)
			o := s.ot[h : h+hd]
			if deltaValues {
				acc := s.oAcc[h : h+hd]
				nz := selectDelta(s.p[:n], s.rp[h/hd*n:(h/hd+1)*n], thValues, s.idx, s.dv)
				rowAXPY(acc, s.v[h:], d, s.idx[:nz], s.dv[:nz])
				keptValues += int64(nz)
				copy(o, acc)
			} else {
				clear(o)
				kernels.AXPYRows(o, s.p[:n], s.v[h:], d) // Σ_u p_u v_u
			}
		}
		if deltaOut {
			nz := selectDelta(s.ot, s.ro, thOut, s.idx, s.dv)
			rowAXPY(s.outAcc, lw.outT, d, s.idx[:nz], s.dv[:nz])
			keptOut += int64(nz)
			copy(s.tmp, s.outAcc)
			add(s.tmp, l.OutB)
		} else {
			linear(s.tmp, s.ot, lw.outT, l.OutB)
		}
		xt := s.x[t*d : (t+1)*d]
		add(xt, s.tmp)
		layerNorm(xt, l.Norm1, l.Norm1B, s.eps)
	}
	nn, nr := int64(n), int64(rows)
	if deltaScores {
		ops[OpScores] += keptScores * nn
	} else {
		ops[OpScores] += nr * nn * int64(d)
	}
	if deltaValues {
		ops[OpValues] += keptValues * int64(hd)
	} else {
		ops[OpValues] += nr * nn * int64(d)
	}
	if deltaOut {
		ops[OpOut] += keptOut * int64(d)
	} else {
		ops[OpOut] += nr * int64(d) * int64(d)
	}
}

// mlp runs x = LN2(x + fc2(GELU(fc1(x)))) token by token over the first
// rows tokens of layer li.
func (s *Delta) mlp(li, rows int) {
	a := s.m.Arch
	l, lw := &s.m.Weights.Layers[li], &s.lw[li]
	d, M := a.Dim, a.MLPDim
	ops := &s.c.exec[li]
	delta1, delta2 := s.th.Enabled[DeltaFC1], s.th.Enabled[DeltaFC2]
	var th1, th2 float32
	if delta1 {
		th1 = s.th.Theta[DeltaFC1][li]
		clear(s.r1)
		clear(s.h1Acc)
	}
	if delta2 {
		th2 = s.th.Theta[DeltaFC2][li]
		clear(s.r2)
		clear(s.f2Acc)
	}
	var kept1, kept2 int64
	for t := range rows {
		xt := s.x[t*d : (t+1)*d]
		if delta1 {
			nz := selectDelta(xt, s.r1, th1, s.idx, s.dv)
			rowAXPY(s.h1Acc, lw.fc1T, M, s.idx[:nz], s.dv[:nz])
			kept1 += int64(nz)
			copy(s.hidden, s.h1Acc)
			add(s.hidden, l.FC1B)
		} else {
			mlpLinear(s.hidden, xt, lw.fc1T, lw.fc1q, l.FC1B, s.q8)
		}
		gelu(s.hidden)
		if delta2 {
			nz := selectDelta(s.hidden, s.r2, th2, s.idx, s.dv)
			rowAXPY(s.f2Acc, lw.fc2T, d, s.idx[:nz], s.dv[:nz])
			kept2 += int64(nz)
			copy(s.tmp, s.f2Acc)
			add(s.tmp, l.FC2B)
		} else {
			mlpLinear(s.tmp, s.hidden, lw.fc2T, lw.fc2q, l.FC2B, s.q8)
		}
		add(xt, s.tmp)
		layerNorm(xt, l.Norm2, l.Norm2B, s.eps)
	}
	dense := int64(rows) * int64(d) * int64(M)
	if delta1 {
		ops[OpFC1] += kept1 * int64(M)
	} else {
		ops[OpFC1] += dense
	}
	if delta2 {
		ops[OpFC2] += kept2 * int64(d)
	} else {
		ops[OpFC2] += dense
	}
}
