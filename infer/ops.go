package infer

import (
	"strconv"
	"time"
)

// OpSite is a place where the forward pass spends multiply-accumulates
// (MACs), for op accounting. Embed and Head are per model; the others are
// per layer.
type OpSite int

// The op sites, in the order of the forward pass.
const (
	OpEmbed  OpSite = iota // input projection of each frame (40 -> d)
	OpQ                    // query projection
	OpK                    // key projection
	OpV                    // value projection
	OpScores               // q Kᵀ, all heads
	OpValues               // a V, all heads
	OpOut                  // attention output projection
	OpFC1                  // first MLP matrix
	OpFC2                  // second MLP matrix
	OpHead                 // classifier on the class token
	NumOpSites
)

var opSiteNames = [NumOpSites]string{"embed", "q", "k", "v", "scores", "values", "out", "fc1", "fc2", "head"}

// String returns the site's name as bench prints it.
func (s OpSite) String() string {
	if s >= 0 && s < NumOpSites {
		return opSiteNames[s]
	}
	return "OpSite(" + strconv.Itoa(int(s)) + ")"
}

// MHSA reports whether the site belongs to multi-head self-attention.
func (s OpSite) MHSA() bool { return s >= OpQ && s <= OpOut }

// PerLayer reports whether the site exists once per encoder layer.
func (s OpSite) PerLayer() bool { return s >= OpQ && s <= OpFC2 }

// MACs counts multiply-accumulates: those executed and those a dense pass
// over the same windows (each window's frames embedded afresh) executes.
type MACs struct {
	Executed int64 `json:"executed"`
	Dense    int64 `json:"dense"`
}

// Add returns the sum of two counts.
func (m MACs) Add(o MACs) MACs { return MACs{m.Executed + o.Executed, m.Dense + o.Dense} }

// Reduction is the fraction of the dense MACs that were not executed
// (0 when Dense is 0).
func (m MACs) Reduction() float64 {
	if m.Dense == 0 {
		return 0
	}
	return 1 - float64(m.Executed)/float64(m.Dense)
}

// OpCounts are the MACs of a forward pass, cumulative since its Reset. The
// dense count of the embedding is that of projecting every frame of every
// window; with streaming reuse (EmbedFrame) each frame is projected once,
// so even the dense path executes fewer.
type OpCounts struct {
	Windows int64              // forward passes
	Frames  int64              // frames embedded
	Layers  [][NumOpSites]MACs // per layer; only the PerLayer sites are used
	Model   [NumOpSites]MACs   // OpEmbed and OpHead
}

// Site returns the MACs of one site, summed over layers.
func (c OpCounts) Site(s OpSite) MACs {
	if !s.PerLayer() {
		return c.Model[s]
	}
	var m MACs
	for _, l := range c.Layers {
		m = m.Add(l[s])
	}
	return m
}

// MHSA returns the MACs of multi-head self-attention: Q, K and V, scores,
// values and the output projection, over all layers.
func (c OpCounts) MHSA() MACs {
	var m MACs
	for s := OpQ; s <= OpOut; s++ {
		m = m.Add(c.Site(s))
	}
	return m
}

// Total returns the MACs of the whole model.
func (c OpCounts) Total() MACs {
	var m MACs
	for s := range NumOpSites {
		m = m.Add(c.Site(s))
	}
	return m
}

// MHSAReduction is the fraction of the dense MHSA MACs that were skipped.
func (c OpCounts) MHSAReduction() float64 { return c.MHSA().Reduction() }

// TotalReduction is the fraction of the dense MACs of the whole model that
// were skipped.
func (c OpCounts) TotalReduction() float64 { return c.Total().Reduction() }

// Times is the wall time spent in forward passes while timing is on
// (SetTiming). MHSA covers the Q/K/V projections, scores, softmax, values,
// output projection and the residual sum with LayerNorm after it; MLP the
// rest of each layer; Forward whole forward passes from the tokens to the
// logits (MHSA, MLP, positional embedding and head); Embed the input
// projection of frames.
type Times struct {
	Embed, MHSA, MLP, Forward time.Duration
}

// denseLayerMACs returns the dense MACs of layer li per site: keys and
// values for every token, the rest for queryRows tokens (in the last layer
// only the class token's).
//
// In a streaming KWT they are those of Forward, which runs a window's
// tokens from an empty stream: token t attends to min(t+1, Context) keys,
// and the last layer computes the newest token's query side only.
func denseLayerMACs(a Arch, li int) [NumOpSites]int64 {
	n, r, d, M := int64(a.Tokens()), int64(queryRows(a, li)), int64(a.Dim), int64(a.MLPDim)
	var c [NumOpSites]int64
	c[OpQ], c[OpK], c[OpV], c[OpOut] = r*d*d, n*d*d, n*d*d, r*d*d
	c[OpScores], c[OpValues] = r*n*d, r*n*d
	c[OpFC1], c[OpFC2] = r*d*M, r*M*d
	if a.Streaming() {
		var keys int64 // keys read by the r query rows
		if r == 1 {
			keys = min(n, int64(a.Context))
		} else {
			for t := range n {
				keys += min(t+1, int64(a.Context))
			}
		}
		c[OpScores], c[OpValues] = keys*d, keys*d
	}
	return c
}

// counter accumulates the op counts and times of a forward pass. The
// dense counts follow from the numbers of windows and frames. With exec
// nil (the dense pass) every layer executes its dense count.
type counter struct {
	a        Arch
	windows  int64
	frames   int64               // frames embedded
	exec     [][NumOpSites]int64 // executed MACs per layer and site; nil for Dense
	denseLay [][NumOpSites]int64 // per layer
	// denseRun counts the dense MACs as they run, per layer and site, for a
	// streaming KWT, whose work depends on how many frames each hop brings;
	// nil for the window KWT.
	denseRun [][NumOpSites]int64
	timing   bool
	times    Times
}

func newCounter(a Arch, sparse bool) counter {
	c := counter{a: a, denseLay: make([][NumOpSites]int64, a.Depth)}
	for i := range c.denseLay {
		c.denseLay[i] = denseLayerMACs(a, i)
	}
	if sparse || a.Streaming() {
		c.exec = make([][NumOpSites]int64, a.Depth)
	}
	if a.Streaming() {
		c.denseRun = make([][NumOpSites]int64, a.Depth)
	}
	return c
}

// add counts exec executed and dense dense MACs of site s in layer li
// (streaming KWT).
func (c *counter) add(li int, s OpSite, exec, dense int64) {
	c.exec[li][s] += exec
	c.denseRun[li][s] += dense
}

func (c *counter) reset() {
	c.windows, c.frames = 0, 0
	clear(c.exec)
	clear(c.denseRun)
	c.times = Times{}
}

func (c *counter) counts() OpCounts {
	a := c.a
	frameMACs := int64(a.Coeffs) * int64(a.Dim)
	headMACs := int64(a.NumClasses) * int64(a.Dim)
	oc := OpCounts{Windows: c.windows, Frames: c.frames, Layers: make([][NumOpSites]MACs, a.Depth)}
	oc.Model[OpEmbed] = MACs{Executed: c.frames * frameMACs, Dense: c.windows * int64(a.Frames) * frameMACs}
	if c.denseRun != nil { // a stream embeds each frame once, densely
		oc.Model[OpEmbed].Dense = oc.Model[OpEmbed].Executed
	}
	oc.Model[OpHead] = MACs{Executed: c.windows * headMACs, Dense: c.windows * headMACs}
	for i := range oc.Layers {
		for s := OpQ; s <= OpFC2; s++ {
			dense := c.windows * c.denseLay[i][s]
			if c.denseRun != nil {
				dense = c.denseRun[i][s]
			}
			exec := dense
			if c.exec != nil {
				exec = c.exec[i][s]
			}
			oc.Layers[i][s] = MACs{Executed: exec, Dense: dense}
		}
	}
	return oc
}

// since returns the time elapsed since t0 and the current time, for
// chained stage timing; it reads the clock only when timing is on.
func (c *counter) since(t0 time.Time) (time.Duration, time.Time) {
	if !c.timing {
		return 0, t0
	}
	now := time.Now()
	return now.Sub(t0), now
}

// now reads the clock when timing is on.
func (c *counter) now() time.Time {
	if !c.timing {
		return time.Time{}
	}
	return time.Now()
}
