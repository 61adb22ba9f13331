// Package opsreport measures a model's dense and delta-pruned passes side by side on a
// recording, as the daemon streams it: multiply-accumulates per site and layer, wall time,
// and how far the delta pass's posteriors stray from the dense pass's. It is what
// `wakewordd bench` prints.
package opsreport

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/engine"
	"github.com/wakewordd/wakewordd/frontend"
	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/listener"
)

// Measure streams input through spec's model twice at once, dense and delta-pruned (at the
// spec's delta thresholds, or theta 0 everywhere when it has none), until at least windows
// windows are scored, repeating the input as needed.
func Measure(ctx context.Context, spec *listener.Spec, input string, windows int) (Report, error) {
	m, a := spec.Model, spec.Model.Arch
	rep := Report{Model: m.Path, Arch: a, Input: input, HopMS: spec.Hop.Milliseconds(),
		ThresholdsSource: "model file and config", Thresholds: spec.Delta}
	if !spec.Delta.Any() {
		sites := slices.DeleteFunc(slices.Clone(infer.AllSites), func(s infer.DeltaSite) bool { return !a.HasDeltaSite(s) })
		rep.ThresholdsSource, rep.Thresholds = "none in the model or config: theta 0 at every site (exact)", infer.UniformThresholds(a.Depth, 0, sites...)
	}
	samples, err := audio.DecodeFile(input)
	if err != nil {
		return rep, err
	}
	frames, err := frontend.Compute(samples, m.Frontend) // bit-identical to the streaming frontend
	if err != nil {
		return rep, err
	}
	if len(frames) < a.Frames {
		return rep, fmt.Errorf("bench: %s has %d frames, the model's window is %d", input, len(frames), a.Frames)
	}

	// Two engines, dense and delta, both reusing each frame's projection, fed the same
	// frames one after the other so that both see the same machine conditions.
	scorers := []interface {
		engine.FrameScorer
		Ops() infer.OpCounts
		Times() infer.Times
		SetTiming(bool)
	}{m.NewDense(), m.NewDelta(rep.Thresholds)}
	probs := make([][][]float32, 2) // every window's posteriors, per pass
	var engines []*engine.Engine
	for i, s := range scorers {
		s.SetTiming(true)
		e, err := engine.New(spec.EngineConfig(func(_ time.Duration, p []float32) { probs[i] = append(probs[i], slices.Clone(p)) }), s)
		if err != nil {
			return rep, err
		}
		engines = append(engines, e)
	}
	var pushed int64
	var scored uint64 // windows of the passes before this one: Reset zeroes the engine's count
	for scored < uint64(windows) {
		for _, e := range engines {
			e.Reset() // each pass over the input starts a new stream
		}
		for i, fr := range frames {
			for _, e := range engines {
				e.PushFrame(uint64(i), fr)
			}
			pushed++
			if scored+engines[1].Inferences() >= uint64(windows) {
				break
			}
		}
		scored += engines[1].Inferences()
		if err := ctx.Err(); err != nil {
			return rep, err
		}
	}
	audioS := float64(pushed) * float64(m.Frontend.Hop) / float64(m.Frontend.SampleRate)
	rep.AudioSeconds = math.Round(audioS*1000) / 1000
	var ops [2]infer.OpCounts
	for i, path := range []*PathReport{&rep.Dense, &rep.Delta} {
		ops[i] = scorers[i].Ops()
		t, n := scorers[i].Times(), float64(ops[i].Windows)
		*path = PathReport{
			MACsPerInference: siteMACs(ops[i], executed, n), MACsPerSecond: siteMACs(ops[i], executed, audioS),
			WallMS: ms(t.Forward) / n, MHSAWallMS: ms(t.MHSA) / n, MLPWallMS: ms(t.MLP) / n,
			EmbedWallMSPerSec: ms(t.Embed) / audioS, RealTimeFactor: (t.Forward + t.Embed).Seconds() / audioS,
		}
	}
	// How far the delta pass's posteriors are from the dense pass's, window by window.
	agree := 0
	for w := range probs[1] {
		if infer.Argmax(probs[1][w]) == infer.Argmax(probs[0][w]) {
			agree++
		}
		for k := range probs[1][w] {
			rep.MaxPosteriorDiff = max(rep.MaxPosteriorDiff, math.Abs(float64(probs[1][w][k]-probs[0][w][k])))
		}
	}
	rep.ArgmaxAgreement = float64(agree) / float64(max(len(probs[1]), 1))
	d := ops[1]
	rep.Windows = d.Windows
	rep.ReferenceMACs = siteMACs(d, denseOf, float64(d.Windows))
	if a.Streaming() {
		// A stream's dense counts are those of the dense stream; the reference is a
		// window computed whole, as the window KWT computes every hop.
		whole := m.NewDense()
		whole.Forward(slices.Concat(frames[:a.Frames]...), make([]float32, a.NumClasses))
		rep.ReferenceMACs = siteMACs(whole.Ops(), executed, 1)
	}
	rep.SiteReduction = MACs{}
	for s := range infer.NumOpSites {
		rep.SiteReduction[s.String()] = d.Site(s).Reduction()
	}
	rep.MHSAReduction, rep.TotalReduction = d.MHSAReduction(), d.TotalReduction()
	rep.MLPReduction = d.Site(infer.OpFC1).Add(d.Site(infer.OpFC2)).Reduction()
	rep.SiteReduction["mhsa"], rep.SiteReduction["mlp"], rep.SiteReduction["total"] = rep.MHSAReduction, rep.MLPReduction, rep.TotalReduction
	rep.TotalReductionVsDenseReuse = 1 - float64(d.Total().Executed)/float64(ops[0].Total().Executed)
	for li := range a.Depth {
		lr := LayerReport{Layer: li, Executed: MACs{}, Reduction: MACs{}}
		var mhsa, all infer.MACs
		for s := infer.OpQ; s <= infer.OpFC2; s++ {
			mc := d.Layers[li][s]
			lr.Executed[s.String()], lr.Reduction[s.String()] = float64(mc.Executed)/float64(d.Windows), mc.Reduction()
			if all = all.Add(mc); s.MHSA() {
				mhsa = mhsa.Add(mc)
			}
		}
		lr.Reduction["mhsa"], lr.Reduction["total"] = mhsa.Reduction(), all.Reduction()
		rep.Layers = append(rep.Layers, lr)
	}
	rep.Speedup, rep.MHSASpeedup = rep.Dense.WallMS/rep.Delta.WallMS, rep.Dense.MHSAWallMS/rep.Delta.MHSAWallMS

	return rep, nil
}

// MACs gives MACs by site name, plus "mhsa", "mlp" and "total".
type MACs map[string]float64

// PathReport describes one forward pass (dense or delta).
type PathReport struct {
	MACsPerInference  MACs    `json:"macs_per_inference"`
	MACsPerSecond     MACs    `json:"macs_per_second"`
	WallMS            float64 `json:"wall_ms_per_inference"`      // tokens to logits
	MHSAWallMS        float64 `json:"mhsa_wall_ms_per_inference"` // Q/K/V, scores, softmax, values, out, LN1
	MLPWallMS         float64 `json:"mlp_wall_ms_per_inference"`
	EmbedWallMSPerSec float64 `json:"embed_wall_ms_per_audio_second"`
	RealTimeFactor    float64 `json:"real_time_factor"` // compute time / audio time
}

// LayerReport is one encoder layer of the delta pass.
type LayerReport struct {
	Layer     int  `json:"layer"`
	Executed  MACs `json:"executed_per_inference"`
	Reduction MACs `json:"reduction"`
}

// Report is what `wakewordd bench` prints (its JSON with --json).
type Report struct {
	Model            string           `json:"model"`
	Arch             infer.Arch       `json:"architecture"`
	Input            string           `json:"input"`
	AudioSeconds     float64          `json:"audio_s"`
	HopMS            int64            `json:"hop_ms"`
	Windows          int64            `json:"windows"`
	ThresholdsSource string           `json:"thresholds_source"`
	Thresholds       infer.Thresholds `json:"thresholds"`
	// The MACs of one dense forward pass of a window, each frame projected afresh (for a
	// streaming model: the window computed whole, every frame through every layer).
	ReferenceMACs  MACs          `json:"reference_macs_per_inference"`
	Dense          PathReport    `json:"dense"`
	Delta          PathReport    `json:"delta"`
	SiteReduction  MACs          `json:"site_reduction"` // delta vs reference, per site and group
	Layers         []LayerReport `json:"layers"`
	MHSAReduction  float64       `json:"mhsa_reduction"`
	MLPReduction   float64       `json:"mlp_reduction"`
	TotalReduction float64       `json:"total_reduction"`
	// The delta pass's reduction against the dense pass with the same streaming reuse.
	TotalReductionVsDenseReuse float64 `json:"total_reduction_vs_dense_reuse"`
	Speedup                    float64 `json:"speedup"`            // dense / delta wall time per inference
	MHSASpeedup                float64 `json:"mhsa_speedup"`       // dense / delta MHSA wall time per inference
	ArgmaxAgreement            float64 `json:"argmax_agreement"`   // windows whose top class is the dense pass's
	MaxPosteriorDiff           float64 `json:"max_posterior_diff"` // largest |delta - dense| posterior
}

// siteMACs sums ops by site, plus the groups.
func siteMACs(ops infer.OpCounts, pick func(infer.MACs) int64, per float64) MACs {
	r := MACs{}
	var mlp infer.MACs
	for s := range infer.NumOpSites {
		r[s.String()] = float64(pick(ops.Site(s))) / per
		if s == infer.OpFC1 || s == infer.OpFC2 {
			mlp = mlp.Add(ops.Site(s))
		}
	}
	r["mhsa"], r["mlp"], r["total"] = float64(pick(ops.MHSA()))/per, float64(pick(mlp))/per, float64(pick(ops.Total()))/per
	return r
}

func executed(m infer.MACs) int64 { return m.Executed }
func denseOf(m infer.MACs) int64  { return m.Dense }
func ms(d time.Duration) float64  { return float64(d) / float64(time.Millisecond) }
func mega(v float64) string       { return fmt.Sprintf("%.3f M", v/1e6) }
func pct(v float64) string        { return fmt.Sprintf("%.1f %%", 100*v) }

// WriteText writes the report as `wakewordd bench` prints it; wrote names a model file
// written with the thresholds measured, or is "".
func (r Report) WriteText(w io.Writer, wrote string) error {
	a := r.Arch
	var b strings.Builder
	fmt.Fprintf(&b, "model:  %s\n        d=%d, %d layers, %d heads, MLP %d, %d frames, %d classes\n",
		r.Model, a.Dim, a.Depth, a.Heads, a.MLPDim, a.Frames, a.NumClasses)
	fmt.Fprintf(&b, "input:  %s, %.1f s of audio streamed, hop %d ms, %d windows\n", r.Input, r.AudioSeconds, r.HopMS, r.Windows)
	fmt.Fprintf(&b, "delta:  %s (%s)\n\n", r.Thresholds, r.ThresholdsSource)

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "MACs per inference\tdense, no reuse\tdense\tdelta\tremoved\tdelta per s of audio\t")
	var rows []string
	for s := range infer.NumOpSites {
		rows = append(rows, s.String())
	}
	for _, k := range append(rows, "mhsa", "mlp", "total") {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", k, mega(r.ReferenceMACs[k]), mega(r.Dense.MACsPerInference[k]),
			mega(r.Delta.MACsPerInference[k]), pct(r.SiteReduction[k]), mega(r.Delta.MACsPerSecond[k]))
	}
	tw.Flush()

	b.WriteString("\nMACs removed per layer (delta vs dense)\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	cols := []string{"q", "k", "v", "scores", "values", "out", "fc1", "fc2", "mhsa", "total"}
	fmt.Fprintf(tw, "layer\t%s\t\n", strings.Join(cols, "\t"))
	for _, l := range r.Layers {
		fmt.Fprintf(tw, "%d", l.Layer)
		for _, k := range cols {
			fmt.Fprintf(tw, "\t%.1f", 100*l.Reduction[k])
		}
		fmt.Fprint(tw, "\t\n")
	}
	tw.Flush()

	fmt.Fprintf(&b, "\nwall time per inference (same run, interleaved):\n")
	fmt.Fprintf(&b, "  whole forward  dense %8.3f ms   delta %8.3f ms   speedup %.2fx\n", r.Dense.WallMS, r.Delta.WallMS, r.Speedup)
	fmt.Fprintf(&b, "  MHSA           dense %8.3f ms   delta %8.3f ms   speedup %.2fx\n", r.Dense.MHSAWallMS, r.Delta.MHSAWallMS, r.MHSASpeedup)
	fmt.Fprintf(&b, "  MLP            dense %8.3f ms   delta %8.3f ms\n", r.Dense.MLPWallMS, r.Delta.MLPWallMS)
	fmt.Fprintf(&b, "  real-time factor: dense %.4f, delta %.4f (compute time per second of audio, embedding included)\n",
		r.Dense.RealTimeFactor, r.Delta.RealTimeFactor)
	fmt.Fprintf(&b, "reduction: MHSA %s, MLP %s, whole model %s (%s against the dense pass with the same frame reuse)\n",
		pct(r.MHSAReduction), pct(r.MLPReduction), pct(r.TotalReduction), pct(r.TotalReductionVsDenseReuse))
	fmt.Fprintf(&b, "agreement with dense: top class %s of windows, max |posterior difference| %.4f\n",
		pct(r.ArgmaxAgreement), r.MaxPosteriorDiff)
	if wrote != "" {
		fmt.Fprintf(&b, "wrote %s with the model's and the config's delta thresholds and MLP arithmetic\n", wrote)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
