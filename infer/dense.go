package infer

import (
	"math"
	"time"

	"github.com/wakewordd/wakewordd/kernels"
)

// Dense runs the dense (unpruned) forward pass of a window KWT (Arch.Context
// 0; a streaming KWT runs with StreamDense). It holds all scratch space,
// allocated once by NewDense, so Forward allocates nothing. A Dense is not
// safe for concurrent use; create one per goroutine.
type Dense struct {
	m     *Model
	scale float32 // 1/sqrt(Dim/Heads)
	eps   float32

	embedT []float32            // [Coeffs, Dim] embedding, transposed
	lw     []packedLayer        // the layers' linear maps, transposed
	x      []float32            // [Tokens, Dim] token activations
	qkv    []float32            // [Tokens, 3 Dim] q | k | v of every token
	o      []float32            // [Tokens, Dim] concatenated head outputs
	scores []float32            // [padded Tokens] one row of attention scores (see softmaxRow)
	tmp    []float32            // [Dim] output of a projection before the residual sum
	hidden []float32            // [MLPDim] MLP hidden layer of one token
	q8     *kernels.Int8Scratch // for the int8 MLP (nil in float32)

	c counter // op counts and optional stage timing
}

// newDense is NewDense for a window KWT.
func newDense(m *Model) *Dense {
	a := m.Arch
	n := a.Tokens() * a.Dim
	embedT, lw := packWeights(m)
	return &Dense{
		m:      m,
		scale:  float32(1 / math.Sqrt(float64(a.Dim/a.Heads))),
		eps:    float32(a.NormEps),
		embedT: embedT,
		lw:     lw,
		x:      make([]float32, n),
		qkv:    make([]float32, 3*n),
		o:      make([]float32, n),
		scores: make([]float32, padTokens(a.Tokens())),
		tmp:    make([]float32, a.Dim),
		hidden: make([]float32, a.MLPDim),
		q8:     newInt8Scratch(m),
		c:      newCounter(a, false),
	}
}

// Forward computes the logits of one window. features holds Frames MFCC
// frames of Coeffs values each, frame after frame (raw frames: the input
// normalisation is folded into the embedding). logits receives NumClasses
// values. It panics if either length is wrong.
//
// The math is that of models/FORMAT.md, in float32 with float32 dot
// products (package kernels; GELU's erf is a rational approximation):
//
//	x_0 = cls + pos[0];  x_t = embed(f_t) + pos[t]
//	per layer: x = LN1(x + MHSA(x));  x = LN2(x + fc2(GELU(fc1(x))))
//	logits = head(x_0)
func (s *Dense) Forward(features, logits []float32) {
	a := s.m.Arch
	checkForward(a, features, logits)
	t0 := s.c.now()
	s.embed(features)
	s.c.frames += int64(a.Frames)
	dt, _ := s.c.since(t0)
	s.c.times.Embed += dt
	s.encode(logits, t0)
}

// encode runs the layers and the head over the tokens in s.x; start is
// when the forward pass began (for timing).
func (s *Dense) encode(logits []float32, start time.Time) {
	a, w := s.m.Arch, &s.m.Weights
	d := a.Dim
	t0 := s.c.now()
	for i := range w.Layers {
		rows := queryRows(a, i)
		s.attention(&w.Layers[i], &s.lw[i], rows)
		var dt time.Duration
		dt, t0 = s.c.since(t0)
		s.c.times.MHSA += dt
		s.mlp(&w.Layers[i], &s.lw[i], rows)
		dt, t0 = s.c.since(t0)
		s.c.times.MLP += dt
	}
	matVec(logits, w.HeadW, s.x[:d], a.NumClasses, d)
	add(logits, w.HeadB)
	s.c.windows++
	dt, _ := s.c.since(start)
	s.c.times.Forward += dt
}

// embed sets the input tokens: the class token, then one projected frame
// per token, each plus its positional embedding.
func (s *Dense) embed(features []float32) {
	a, w := s.m.Arch, &s.m.Weights
	d, K := a.Dim, a.Coeffs
	copy(s.x[:d], w.Cls)
	for t := 1; t <= a.Frames; t++ {
		linear(s.x[t*d:(t+1)*d], features[(t-1)*K:t*K], s.embedT, w.EmbedB)
	}
	add(s.x, w.Pos)
}

// attention runs x = LN1(x + out(MHSA(x))) over the first rows tokens,
// with the keys and values of all tokens (queryRows).
func (s *Dense) attention(l *Layer, lw *packedLayer, rows int) {
	a := s.m.Arch
	d, n := a.Dim, a.Tokens()
	hd := d / a.Heads
	for t := range n {
		if t < rows {
			linear(s.qkv[t*3*d:(t+1)*3*d], s.x[t*d:(t+1)*d], lw.qkvT, nil)
		} else {
			keysValues(s.qkv[t*3*d+d:(t+1)*3*d], s.x[t*d:(t+1)*d], lw.qkvT)
		}
	}
	for t := range rows {
		for h := 0; h < d; h += hd {
			q := s.qkv[t*3*d+h : t*3*d+h+hd]
			kernels.DotRows(s.scores[:n], q, s.qkv[d+h:], 3*d) // q·k_u for every token u
			softmaxRow(s.scores, n, s.scale)
			o := s.o[t*d+h : t*d+h+hd]
			clear(o)
			kernels.AXPYRows(o, s.scores[:n], s.qkv[2*d+h:], 3*d) // Σ_u p_u v_u
		}
	}
	for t := range rows {
		xt := s.x[t*d : (t+1)*d]
		linear(s.tmp, s.o[t*d:(t+1)*d], lw.outT, l.OutB)
		add(xt, s.tmp)
		layerNorm(xt, l.Norm1, l.Norm1B, s.eps)
	}
}

// mlp runs x = LN2(x + fc2(GELU(fc1(x)))) token by token over the first
// rows tokens.
func (s *Dense) mlp(l *Layer, lw *packedLayer, rows int) {
	d := s.m.Arch.Dim
	for t := range rows {
		xt := s.x[t*d : (t+1)*d]
		mlpLinear(s.hidden, xt, lw.fc1T, lw.fc1q, l.FC1B, s.q8)
		gelu(s.hidden)
		mlpLinear(s.tmp, s.hidden, lw.fc2T, lw.fc2q, l.FC2B, s.q8)
		add(xt, s.tmp)
		layerNorm(xt, l.Norm2, l.Norm2B, s.eps)
	}
}
