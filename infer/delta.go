package infer

import (
	"fmt"
	"math"
	"time"
)

// Delta runs the delta-pruned forward pass of one model (Jelcicova and
// Verhelst, "Delta Keyword Transformer", 2022, extended to the output
// projection and the MLP).
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
	m     *Model
	th    Thresholds
	scale float32 // 1/sqrt(Dim/Heads)
	eps   float32
	lw    []deltaWeights

	tokens  []float32 // [Frames, Dim] frames projected by Forward
	x       []float32 // [Tokens, Dim] token activations
	q, k, v []float32 // [Tokens, Dim] projections of x
	kT      []float32 // [Dim, Tokens] K transposed: row i is channel i of every key
	acc3    []float32 // [3 Dim] running q|k|v of the current token
	rx      []float32 // [Dim] reference of the Q/K/V input
	rq      []float32 // [Dim] reference of the query (per head slices)
	sAcc    []float32 // [Heads, Tokens] running score rows
	p       []float32 // [Tokens] one row of attention probabilities
	rp      []float32 // [Heads, Tokens] reference of the probability rows
	oAcc    []float32 // [Dim] running head outputs
	ot      []float32 // [Dim] head outputs of the current token
	ro      []float32 // [Dim] reference of the output projection's input
	outAcc  []float32 // [Dim] running output projection (without bias)
	tmp     []float32 // [Dim] output of a projection before the residual sum
	r1      []float32 // [Dim] reference of fc1's input
	h1Acc   []float32 // [MLPDim] running fc1 output (without bias)
	hidden  []float32 // [MLPDim] MLP hidden layer of one token
	r2      []float32 // [MLPDim] reference of fc2's input
	f2Acc   []float32 // [Dim] running fc2 output (without bias)
	idx     []int32   // positions of the kept elements of one delta
	dv      []float32 // their deltas

	c counter
}

// deltaWeights are one layer's weights transposed to [in, out], so that a
// kept input element i updates the output with the contiguous row i.
type deltaWeights struct {
	qkvT []float32 // [Dim, 3 Dim]: row i is (Q[:,i], K[:,i], V[:,i])
	outT []float32 // [Dim, Dim]
	fc1T []float32 // [Dim, MLPDim]
	fc2T []float32 // [MLPDim, Dim]
}

// NewDelta allocates the state for running m with delta pruning at the
// thresholds th. m must be valid and must not change while the Delta is in
// use. It panics if th is not valid for m (Thresholds.Validate); thresholds
// from a loaded model are.
func (m *Model) NewDelta(th Thresholds) *Delta {
	a := m.Arch
	d, n, M := a.Dim, a.Tokens(), a.MLPDim
	s := &Delta{
		m:      m,
		scale:  float32(1 / math.Sqrt(float64(a.Dim/a.Heads))),
		eps:    float32(a.NormEps),
		lw:     make([]deltaWeights, a.Depth),
		tokens: make([]float32, a.Frames*d),
		x:      make([]float32, n*d),
		q:      make([]float32, n*d),
		k:      make([]float32, n*d),
		v:      make([]float32, n*d),
		kT:     make([]float32, d*n),
		acc3:   make([]float32, 3*d),
		rx:     make([]float32, d),
		rq:     make([]float32, d),
		sAcc:   make([]float32, a.Heads*n),
		p:      make([]float32, n),
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
		c:      newCounter(a, true),
	}
	for i := range m.Weights.Layers {
		l := &m.Weights.Layers[i]
		w := &s.lw[i]
		w.qkvT = make([]float32, d*3*d)
		for j := range d { // output channel
			for c := range d { // input channel
				w.qkvT[c*3*d+j] = l.Q[j*d+c]
				w.qkvT[c*3*d+d+j] = l.K[j*d+c]
				w.qkvT[c*3*d+2*d+j] = l.V[j*d+c]
			}
		}
		w.outT = transpose(l.Out, d, d)
		w.fc1T = transpose(l.FC1, M, d)
		w.fc2T = transpose(l.FC2, d, M)
	}
	if err := s.SetThresholds(th); err != nil {
		panic("infer: NewDelta: " + err.Error())
	}
	return s
}

// transpose returns the [cols, rows] transpose of the row-major [rows, cols] w.
func transpose(w []float32, rows, cols int) []float32 {
	t := make([]float32, rows*cols)
	for r := range rows {
		for c := range cols {
			t[c*rows+r] = w[r*cols+c]
		}
	}
	return t
}

// SetThresholds replaces the thresholds (a copy of th is kept); the op
// counts carry on. It fails if th is not valid for the model.
func (s *Delta) SetThresholds(th Thresholds) error {
	if err := th.Validate(s.m.Arch.Depth); err != nil {
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
	if len(features) != a.Frames*a.Coeffs || len(logits) != a.NumClasses {
		panic(fmt.Sprintf("infer: Forward: %d features and %d logits, want %d (%d frames x %d) and %d",
			len(features), len(logits), a.Frames*a.Coeffs, a.Frames, a.Coeffs, a.NumClasses))
	}
	t0 := s.c.now()
	d, K := a.Dim, a.Coeffs
	w := &s.m.Weights
	for t := range a.Frames {
		tok := s.tokens[t*d : (t+1)*d]
		matVec(tok, w.EmbedW, features[t*K:(t+1)*K], d, K)
		add(tok, w.EmbedB)
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
	a := s.m.Arch
	checkEmbed(a, frame, token)
	t0 := s.c.now()
	matVec(token, s.m.Weights.EmbedW, frame, a.Dim, a.Coeffs)
	add(token, s.m.Weights.EmbedB)
	s.c.frames++
	dt, _ := s.c.since(t0)
	s.c.times.Embed += dt
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
		s.attention(i)
		var dt time.Duration
		dt, t0 = s.c.since(t0)
		s.c.times.MHSA += dt
		s.mlp(i)
		dt, t0 = s.c.since(t0)
		s.c.times.MLP += dt
	}
	matVec(logits, w.HeadW, s.x[:d], a.NumClasses, d)
	add(logits, w.HeadB)
	s.c.windows++
	dt, _ := s.c.since(start)
	s.c.times.Forward += dt
}

// attention runs x = LN1(x + out(MHSA(x))) over all tokens of layer li.
func (s *Delta) attention(li int) {
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
		var kept int64
		for t := range n {
			xt := s.x[t*d : (t+1)*d]
			nz := selectDelta(xt, s.rx, theta, s.idx, s.dv)
			rowAXPY(s.acc3, lw.qkvT, 3*d, s.idx[:nz], s.dv[:nz])
			kept += int64(nz)
			copy(s.q[t*d:(t+1)*d], s.acc3[:d])
			copy(s.k[t*d:(t+1)*d], s.acc3[d:2*d])
			copy(s.v[t*d:(t+1)*d], s.acc3[2*d:])
		}
		ops[OpQ] += kept * int64(d)
		ops[OpK] += kept * int64(d)
		ops[OpV] += kept * int64(d)
	} else {
		for t := range n {
			xt := s.x[t*d : (t+1)*d]
			matVec(s.q[t*d:(t+1)*d], l.Q, xt, d, d)
			matVec(s.k[t*d:(t+1)*d], l.K, xt, d, d)
			matVec(s.v[t*d:(t+1)*d], l.V, xt, d, d)
		}
		dense := int64(n) * int64(d) * int64(d)
		ops[OpQ] += dense
		ops[OpK] += dense
		ops[OpV] += dense
	}

	deltaScores, deltaValues, deltaOut := s.th.Enabled[DeltaScores], s.th.Enabled[DeltaValues], s.th.Enabled[DeltaOut]
	var thScores, thValues, thOut float32
	if deltaScores {
		thScores = s.th.Theta[DeltaScores][li]
		for u := range n { // kT[i, u] = k[u, i]
			for i, kv := range s.k[u*d : (u+1)*d] {
				s.kT[i*n+u] = kv
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
	for t := range n {
		for h := 0; h < d; h += hd {
			q := s.q[t*d+h : t*d+h+hd]
			if deltaScores {
				row := s.sAcc[h/hd*n : (h/hd+1)*n]
				nz := selectDelta(q, s.rq[h:h+hd], thScores, s.idx, s.dv)
				rowAXPY(row, s.kT[h*n:], n, s.idx[:nz], s.dv[:nz])
				keptScores += int64(nz)
				for u, sv := range row {
					s.p[u] = sv * s.scale
				}
			} else {
				for u := range n {
					s.p[u] = dot(q, s.k[u*d+h:u*d+h+hd]) * s.scale
				}
			}
			softmax(s.p)
			o := s.ot[h : h+hd]
			if deltaValues {
				acc := s.oAcc[h : h+hd]
				nz := selectDelta(s.p, s.rp[h/hd*n:(h/hd+1)*n], thValues, s.idx, s.dv)
				rowAXPY(acc, s.v[h:], d, s.idx[:nz], s.dv[:nz])
				keptValues += int64(nz)
				copy(o, acc)
			} else {
				clear(o)
				for u, pu := range s.p {
					axpy(o, pu, s.v[u*d+h:u*d+h+hd])
				}
			}
		}
		if deltaOut {
			nz := selectDelta(s.ot, s.ro, thOut, s.idx, s.dv)
			rowAXPY(s.outAcc, lw.outT, d, s.idx[:nz], s.dv[:nz])
			keptOut += int64(nz)
			copy(s.tmp, s.outAcc)
		} else {
			matVec(s.tmp, l.Out, s.ot, d, d)
		}
		add(s.tmp, l.OutB)
		xt := s.x[t*d : (t+1)*d]
		add(xt, s.tmp)
		layerNorm(xt, l.Norm1, l.Norm1B, s.eps)
	}
	nn := int64(n)
	if deltaScores {
		ops[OpScores] += keptScores * nn
	} else {
		ops[OpScores] += nn * nn * int64(d)
	}
	if deltaValues {
		ops[OpValues] += keptValues * int64(hd)
	} else {
		ops[OpValues] += nn * nn * int64(d)
	}
	if deltaOut {
		ops[OpOut] += keptOut * int64(d)
	} else {
		ops[OpOut] += nn * int64(d) * int64(d)
	}
}

// mlp runs x = LN2(x + fc2(GELU(fc1(x)))) token by token in layer li.
func (s *Delta) mlp(li int) {
	a := s.m.Arch
	l, lw := &s.m.Weights.Layers[li], &s.lw[li]
	d, M, n := a.Dim, a.MLPDim, a.Tokens()
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
	for t := range n {
		xt := s.x[t*d : (t+1)*d]
		if delta1 {
			nz := selectDelta(xt, s.r1, th1, s.idx, s.dv)
			rowAXPY(s.h1Acc, lw.fc1T, M, s.idx[:nz], s.dv[:nz])
			kept1 += int64(nz)
			copy(s.hidden, s.h1Acc)
		} else {
			matVec(s.hidden, l.FC1, xt, M, d)
		}
		add(s.hidden, l.FC1B)
		gelu(s.hidden)
		if delta2 {
			nz := selectDelta(s.hidden, s.r2, th2, s.idx, s.dv)
			rowAXPY(s.f2Acc, lw.fc2T, d, s.idx[:nz], s.dv[:nz])
			kept2 += int64(nz)
			copy(s.tmp, s.f2Acc)
		} else {
			matVec(s.tmp, l.FC2, s.hidden, d, M)
		}
		add(s.tmp, l.FC2B)
		add(xt, s.tmp)
		layerNorm(xt, l.Norm2, l.Norm2B, s.eps)
	}
	dense := int64(n) * int64(d) * int64(M)
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

// selectDelta compares x with its reference ref element by element. For
// every element that differs by more than theta (|x_i - ref_i| > theta) it
// records the position in idx and the difference in dv, and sets
// ref_i = x_i. A NaN difference is kept, so that a NaN propagates as in
// the dense pass instead of being hidden. It returns how many elements were kept; idx and dv need room
// for len(x).
func selectDelta(x, ref []float32, theta float32, idx []int32, dv []float32) int {
	ref = ref[:len(x)]
	idx = idx[:len(x)]
	dv = dv[:len(x)]
	// Branch-free: every element is written at position n, and n moves on
	// only for the kept ones (keep rates of 5-50 % defeat branch
	// prediction). The references are updated afterwards, for the kept
	// elements only.
	// |d| > theta is compared on the bits: for non-negative floats the
	// order of the bit patterns is that of the values, and a NaN's pattern
	// is above every number's.
	th := uint64(math.Float32bits(theta) &^ (1 << 31))
	n := 0
	for i, xv := range x {
		d := xv - ref[i]
		idx[n] = int32(i) // n <= i < len(x)
		dv[n] = d
		abs := uint64(math.Float32bits(d) &^ (1 << 31))
		n += int((th - abs) >> 63) // 1 when abs > th
	}
	for _, i := range idx[:n] {
		ref[i] = x[i]
	}
	return n
}

// rowAXPY adds dv[j] times row idx[j] of w to y, for every j; row r is
// w[r*stride : r*stride+len(y)]. Rows are taken four at a time so that y
// is loaded and stored once per four rows.
func rowAXPY(y, w []float32, stride int, idx []int32, dv []float32) {
	n := len(y)
	dv = dv[:len(idx)]
	j := 0
	for ; j+4 <= len(idx); j += 4 {
		a0, a1, a2, a3 := dv[j], dv[j+1], dv[j+2], dv[j+3]
		w0 := w[int(idx[j])*stride:][:n]
		w1 := w[int(idx[j+1])*stride:][:n]
		w2 := w[int(idx[j+2])*stride:][:n]
		w3 := w[int(idx[j+3])*stride:][:n]
		for i := range y {
			y[i] += (a0*w0[i] + a1*w1[i]) + (a2*w2[i] + a3*w3[i])
		}
	}
	for ; j < len(idx); j++ {
		a0 := dv[j]
		w0 := w[int(idx[j])*stride:][:n]
		for i := range y {
			y[i] += a0 * w0[i]
		}
	}
}
