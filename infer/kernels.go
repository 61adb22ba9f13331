package infer

import (
	"math"

	"github.com/wakewordd/wakewordd/kernels"
)

// The building blocks of the forward passes. The loops themselves live in
// package kernels: NEON and AVX2 assembly, with a plain-Go version of each that is
// the fallback and the tests' reference. All work in place or into
// caller-supplied slices and never allocate. Lengths are the callers'
// responsibility; slicing panics on a mismatch rather than reading the wrong
// memory.

// dot returns the float32 dot product of a and b[:len(a)].
func dot(a, b []float32) float32 { return kernels.Dot(a, b) }

// matVec sets dst[j] = W[j,:]·x for the rows x cols row-major matrix W,
// i.e. dst = W x, a PyTorch Linear without bias.
func matVec(dst, w, x []float32, rows, cols int) {
	kernels.DotRows(dst[:rows], x[:cols], w[:rows*cols], cols)
}

// linear sets y = b + x W for the transposed weights wT (len(x) rows of
// len(y)), i.e. a PyTorch Linear whose weight matrix is wTᵀ; b == nil is a
// zero bias. It is one AXPYRows: each output is a chain of fused
// multiply-adds over the inputs, starting from the bias.
func linear(y, x, wT, b []float32) {
	if b == nil {
		clear(y)
	} else {
		copy(y, b[:len(y)])
	}
	kernels.AXPYRows(y, x, wT[:len(x)*len(y)], len(y))
}

// keysValues sets kv = k | v of the token x from the transposed Q/K/V
// weights qkvT (packedLayer): the last 2 Dim columns of linear(·, x, qkvT,
// nil) without the query (the same bits where Dim is a multiple of 16, so
// that both are all assembly bulk).
func keysValues(kv, x, qkvT []float32) {
	d := len(x)
	clear(kv)
	kernels.AXPYRows(kv[:2*d], x, qkvT[d:], 3*d)
}

// queryRows is how many tokens layer li computes beyond their keys and
// values: all of them, but in the last layer only the class token, the
// one token the head reads.
func queryRows(a Arch, li int) int {
	if li == a.Depth-1 {
		return 1
	}
	return a.Tokens()
}

// add sets dst += x over len(dst) elements (residual sums, biases).
func add(dst, x []float32) { kernels.Add(dst, x) }

// layerNorm normalises x in place to zero mean and unit (biased) variance,
// then scales by g and shifts by b, as torch.nn.LayerNorm (kernels.LayerNorm).
func layerNorm(x, g, b []float32, eps float32) { kernels.LayerNorm(x, g, b, eps) }

// gelu applies GELU, 0.5 x (1 + erf(x/√2)), in place, with a rational
// approximation of erf (kernels.GELU: error below 3e-7·max(1, |x|)).
func gelu(x []float32) { kernels.GELU(x) }

// softmax replaces x by exp(x - max x) / sum, in place (kernels.Softmax).
func softmax(x []float32) { kernels.Softmax(x, 1) }

// padTokens rounds a row of n attention scores up to whole blocks of 16,
// the assembly's vector length, so that the row kernels need no Go tail.
func padTokens(n int) int { return (n + 15) &^ 15 }

// negInf pads score rows: exp(-Inf) = 0.
var negInf = func() (v [15]float32) {
	for i := range v {
		v[i] = float32(math.Inf(-1))
	}
	return v
}()

// softmaxRow replaces p[:n] by softmax(scale·p[:n]) and p[n:] (the padding,
// len(p) = padTokens(n)) by 0. It is kernels.Softmax over the whole padded row
// with -Inf in the padding, which gives the bits of kernels.Softmax over p[:n]
// without its tail handling.
func softmaxRow(p []float32, n int, scale float32) {
	copy(p[n:], negInf[:])
	kernels.Softmax(p, scale)
}

// Softmax writes the softmax of logits into probs, which must have the
// same length; it turns Forward's logits into class posteriors.
func Softmax(logits, probs []float32) {
	if len(probs) != len(logits) {
		panic("infer: Softmax: len(probs) != len(logits)")
	}
	copy(probs, logits)
	softmax(probs)
}

// Argmax returns the index of the largest value of v (the first, on ties;
// 0 for an empty v): the top class of a row of logits or posteriors.
func Argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// selectDelta compares x with its reference ref element by element. For
// every element that differs by more than theta (|x_i - ref_i| > theta) it
// records the position in idx and the difference in dv, and sets
// ref_i = x_i. A NaN difference is kept, so that a NaN propagates as in
// the dense pass instead of being hidden. It returns how many elements were
// kept; idx and dv need room for len(x) (kernels.SelectDelta).
func selectDelta(x, ref []float32, theta float32, idx []int32, dv []float32) int {
	return kernels.SelectDelta(x, ref, theta, idx, dv)
}

// rowAXPY adds dv[j] times row idx[j] of w to y, for every j; row r is
// w[r*stride : r*stride+len(y)] (kernels.RowAXPY).
func rowAXPY(y, w []float32, stride int, idx []int32, dv []float32) {
	kernels.RowAXPY(y, w, stride, idx, dv)
}

// packedLayer holds one layer's token-wise linear maps transposed to
// [in, out]: y = x W is one AXPYRows over the rows of the transpose, and a
// delta update a RowAXPY over the rows of the kept inputs.
type packedLayer struct {
	qkvT []float32 // [Dim, 3 Dim]: row i is (Q[:,i], K[:,i], V[:,i])
	outT []float32 // [Dim, Dim]
	fc1T []float32 // [Dim, MLPDim]
	fc2T []float32 // [MLPDim, Dim]

	fc1q, fc2q *kernels.Int8Matrix // fc1 and fc2 in int8 when the model's MLP is MLPInt8, else nil
}

// mlpLinear sets y = W x + b for fc1 or fc2: on int8 when the layer has
// the quantized matrix q, else in float32 on the transposed weights wT.
func mlpLinear(y, x, wT []float32, q *kernels.Int8Matrix, b []float32, s *kernels.Int8Scratch) {
	if q != nil {
		q.MulVec(y, x, b, s)
		return
	}
	linear(y, x, wT, b)
}

// newInt8Scratch returns the scratch space of mlpLinear for m (nil when
// its MLPs run in float32).
func newInt8Scratch(m *Model) *kernels.Int8Scratch {
	if m.MLP != MLPInt8 {
		return nil
	}
	a := m.Arch
	return kernels.NewInt8Scratch(max(a.Dim, a.MLPDim), max(a.Dim, a.MLPDim))
}

// packWeights returns the embedding ([Coeffs, Dim]) and every layer's maps
// transposed, as Dense and Delta run them.
func packWeights(m *Model) (embedT []float32, layers []packedLayer) {
	a := m.Arch
	d, M := a.Dim, a.MLPDim
	embedT = transpose(m.Weights.EmbedW, d, a.Coeffs)
	layers = make([]packedLayer, len(m.Weights.Layers))
	for i := range m.Weights.Layers {
		l := &m.Weights.Layers[i]
		w := &layers[i]
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
		if m.MLP == MLPInt8 {
			w.fc1q = kernels.QuantizeMatrix(l.FC1, M, d)
			w.fc2q = kernels.QuantizeMatrix(l.FC2, d, M)
		}
	}
	return embedT, layers
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
