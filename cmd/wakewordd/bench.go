package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/engine"
	"github.com/wakewordd/wakewordd/frontend"
	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/listener"
)

// benchFlags are the flags shared by `bench` and `bench --sweep`.
type benchFlags struct {
	cf          *configFlags
	input       string
	windows     int
	theta       float64
	valueRatio  float64
	scope       string
	thresholds  string
	random      bool
	randomDepth int
	asJSON      bool
	writeModel  string
	sweep       string
	replot      string
	sw          sweepFlags
}

func cmdBench(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("bench", "[flags]  |  bench --sweep DIR [flags]")
	f := &benchFlags{cf: addConfigFlags(fs, "model.path", "model.hop", "model.mlp")}
	fs.StringVar(&f.input, "input", "examples/kitchen.wav", "audio streamed through the frontend and the engine")
	fs.IntVar(&f.windows, "windows", 200, "score at least this many windows (the input is repeated as needed)")
	fs.Float64Var(&f.theta, "theta", -1, "delta threshold for the sites of --scope in every layer (the values site gets theta x --value-ratio); -1 = the model's thresholds")
	fs.Float64Var(&f.valueRatio, "value-ratio", defaultValueRatio, "threshold of the values site (attention probabilities) relative to --theta")
	fs.StringVar(&f.scope, "scope", "all", "sites that --theta switches on: mhsa (qkv, scores, values, out) or all (also fc1, fc2)")
	fs.StringVar(&f.thresholds, "thresholds", "", `delta thresholds as the model metadata writes them, e.g. '{"sites":{"qkv":[0.5,...]}}'`)
	fs.BoolVar(&f.random, "random", false, "use a random-weight KWT-1 (d=64, 148 frames, 8 classes) with its input normalisation fitted to --input, instead of a model file")
	fs.IntVar(&f.randomDepth, "random-depth", 12, "layers of the --random model")
	fs.BoolVar(&f.asJSON, "json", false, "print the report as JSON")
	fs.StringVar(&f.writeModel, "write-model", "", "write the model with the delta thresholds used (with --sweep: the chosen ones) in its metadata to this file")
	fs.StringVar(&f.sweep, "sweep", "", "sweep the thresholds over a validation folder DIR/<class>/<clip>.wav|flac and write a CSV and a PNG plot")
	fs.StringVar(&f.replot, "replot", "", "redraw the plot of a sweep from its CSV (to --out.png), without measuring")
	f.sw.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	if f.scope != "all" && f.scope != "mhsa" {
		return fmt.Errorf("bench: --scope %q: want mhsa or all", f.scope)
	}
	if f.theta != -1 && !(f.theta >= 0 && f.theta <= infer.MaxTheta) {
		return fmt.Errorf("bench: --theta %v: want 0..%g", f.theta, float64(infer.MaxTheta))
	}
	if !(f.valueRatio > 0 && f.valueRatio <= 1) {
		return fmt.Errorf("bench: --value-ratio %v: want (0, 1]", f.valueRatio)
	}
	c, _, err := f.cf.load(fs)
	if err != nil {
		return err
	}
	if f.replot != "" {
		return replotSweep(c, f.replot, f.sw.out+".png", f.sw.budget)
	}
	if f.sweep != "" {
		if f.random || f.theta != -1 || f.thresholds != "" {
			return fmt.Errorf("bench: --sweep takes a model file and chooses the thresholds itself (no --random, --theta or --thresholds)")
		}
		return runSweep(ctx, c, f, stdout)
	}
	return runBench(ctx, c, f, stdout)
}

// defaultValueRatio is the threshold of the values site relative to the activation
// sites: attention probabilities change by about 250 times less than post-LayerNorm
// activations (DESIGN.md, training notes: 0.5-1.0 on activations, 0.002 on probabilities).
const defaultValueRatio = 0.004

// scopeSites returns the delta sites of a sweep or --theta scope that models of
// architecture a run (a streaming model has no scores or values sites).
func scopeSites(a infer.Arch, scope string) []infer.DeltaSite {
	sites := infer.AllSites
	if scope == "mhsa" {
		sites = infer.MHSASites
	}
	return slices.DeleteFunc(slices.Clone(sites), func(s infer.DeltaSite) bool { return !a.HasDeltaSite(s) })
}

// restrictThresholds returns th with the sites outside scope switched off.
func restrictThresholds(a infer.Arch, th infer.Thresholds, scope string) infer.Thresholds {
	out := infer.Thresholds{}
	for _, s := range scopeSites(a, scope) {
		if th.Enabled[s] {
			out.Enabled[s] = true
			out.Theta[s] = append([]float32(nil), th.Theta[s]...)
		}
	}
	return out
}

// uniformThresholds switches on the sites of scope with theta in every layer, and the
// values site (where a has one) with theta*ratio.
func uniformThresholds(a infer.Arch, theta, ratio float64, scope string) infer.Thresholds {
	th := infer.UniformThresholds(a.Depth, float32(theta), scopeSites(a, scope)...)
	if a.HasDeltaSite(infer.DeltaValues) {
		th.Set(infer.DeltaValues, a.Depth, float32(theta*ratio))
	}
	return th
}

// benchModel loads the configured model, or makes the random one of --random.
func benchModel(c config.Config, f *benchFlags, frames [][]float32) (*infer.Model, error) {
	if !f.random {
		return loadModel(c)
	}
	if f.randomDepth < 1 || f.randomDepth > 48 {
		return nil, fmt.Errorf("bench: --random-depth %d: want 1..48", f.randomDepth)
	}
	a := infer.Arch{Dim: 64, Depth: f.randomDepth, Heads: 1, MLPDim: 256, Frames: 148, Coeffs: 40, NumClasses: 8, NormEps: 1e-6, Norm: "post"}
	m, err := infer.Random(a, 1)
	if err != nil {
		return nil, err
	}
	if len(frames) == 0 {
		return nil, errors.New("bench: --random needs input frames to fit the normalisation")
	}
	mean, std := infer.FrameStats(frames)
	if err := m.FoldInputNorm(mean, std); err != nil {
		return nil, err
	}
	m.Path = fmt.Sprintf("random KWT-1 shape (d=64, %d layers, 148 frames, 8 classes; random weights)", f.randomDepth)
	return m, nil
}

// benchThresholds picks the delta thresholds of a bench run: --thresholds, else --theta,
// else the model's and the config's (as the daemon merges them), else theta 0 everywhere.
func benchThresholds(c config.Config, f *benchFlags, m *infer.Model) (infer.Thresholds, string, error) {
	switch {
	case f.thresholds != "":
		var th infer.Thresholds
		if err := th.UnmarshalJSON([]byte(f.thresholds)); err != nil {
			return th, "", fmt.Errorf("bench: --thresholds: %v", err)
		}
		if err := th.ValidateFor(m.Arch); err != nil {
			return th, "", fmt.Errorf("bench: --thresholds: %v", err)
		}
		return th, "--thresholds", nil
	case f.theta >= 0:
		return uniformThresholds(m.Arch, f.theta, f.valueRatio, f.scope), "--theta", nil
	}
	spec, err := listener.Resolve(c, nil, m, nil)
	if err != nil {
		return infer.Thresholds{}, "", err
	}
	if th := spec.Delta; th.Any() {
		return th, "model file and config", nil
	}
	return uniformThresholds(m.Arch, 0, 0, "all"), "none in the model or config: theta 0 at every site (exact)", nil
}

// streamFrames runs samples through the streaming frontend, one hop at a time, as the
// daemon's pipeline does.
func streamFrames(samples []float32, p frontend.Params) ([][]float32, error) {
	m, err := frontend.New(p)
	if err != nil {
		return nil, err
	}
	var frames [][]float32
	for i := 0; i < len(samples); i += p.Hop {
		m.Write(samples[i:min(i+p.Hop, len(samples))])
		for {
			f := make([]float32, p.NumCoeffs)
			if !m.Next(f) {
				break
			}
			frames = append(frames, f)
		}
	}
	return frames, nil
}

// timedScorer is a FrameScorer with op counts and stage times: infer.Dense or infer.Delta.
type timedScorer interface {
	engine.FrameScorer
	Ops() infer.OpCounts
	Times() infer.Times
	SetTiming(bool)
}

// macsReport gives MACs by site name, plus "mhsa", "mlp" and "total".
type macsReport map[string]float64

// pathReport describes one forward pass (dense or delta) in a bench run.
type pathReport struct {
	MACsPerInference  macsReport `json:"macs_per_inference"`
	MACsPerSecond     macsReport `json:"macs_per_second"`
	WallMS            float64    `json:"wall_ms_per_inference"`      // tokens to logits
	MHSAWallMS        float64    `json:"mhsa_wall_ms_per_inference"` // Q/K/V, scores, softmax, values, out, LN1
	MLPWallMS         float64    `json:"mlp_wall_ms_per_inference"`
	EmbedWallMSPerSec float64    `json:"embed_wall_ms_per_audio_second"`
	RealTimeFactor    float64    `json:"real_time_factor"` // compute time / audio time

	ops   infer.OpCounts
	times infer.Times
	probs [][]float32 // every window's posteriors
}

type layerReport struct {
	Layer     int        `json:"layer"`
	Executed  macsReport `json:"executed_per_inference"`
	Reduction macsReport `json:"reduction"`
}

type benchReport struct {
	Model            string           `json:"model"`
	RandomWeights    bool             `json:"random_weights"`
	Arch             infer.Arch       `json:"architecture"`
	Input            string           `json:"input"`
	AudioSeconds     float64          `json:"audio_s"`
	HopMS            int64            `json:"hop_ms"`
	Windows          int64            `json:"windows"`
	ThresholdsSource string           `json:"thresholds_source"`
	Thresholds       infer.Thresholds `json:"thresholds"`
	// The MACs of one dense forward pass of a window, each frame projected afresh (for a
	// streaming model: the window computed whole, every frame through every layer).
	ReferenceMACs  macsReport    `json:"reference_macs_per_inference"`
	Dense          pathReport    `json:"dense"`
	Delta          pathReport    `json:"delta"`
	SiteReduction  macsReport    `json:"site_reduction"` // delta vs reference, per site and group
	Layers         []layerReport `json:"layers"`
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
func siteMACs(ops infer.OpCounts, pick func(infer.MACs) int64, per float64) macsReport {
	r := macsReport{}
	var mlp infer.MACs
	for s := range infer.NumOpSites {
		m := ops.Site(s)
		r[s.String()] = float64(pick(m)) / per
		if s == infer.OpFC1 || s == infer.OpFC2 {
			mlp = mlp.Add(m)
		}
	}
	r["mhsa"] = float64(pick(ops.MHSA())) / per
	r["mlp"] = float64(pick(mlp)) / per
	r["total"] = float64(pick(ops.Total())) / per
	return r
}

func executed(m infer.MACs) int64 { return m.Executed }
func denseOf(m infer.MACs) int64  { return m.Dense }

func runBench(ctx context.Context, c config.Config, f *benchFlags, stdout io.Writer) (err error) {
	// Everything about the model is checked before the input is read, so that a bad flag
	// fails at once; only the random model needs the input (for its normalisation).
	var m *infer.Model
	var th infer.Thresholds
	var thSource string
	p := frontend.DefaultParams()
	if !f.random {
		if m, err = loadModel(c); err != nil {
			return err
		}
		if th, thSource, err = benchThresholds(c, f, m); err != nil {
			return err
		}
		p = m.Frontend
	}
	samples, err := audio.DecodeFile(f.input)
	if err != nil {
		return err
	}
	frames, err := streamFrames(samples, p)
	if err != nil {
		return err
	}
	if f.random {
		if m, err = benchModel(c, f, frames); err != nil {
			return err
		}
		if th, thSource, err = benchThresholds(c, f, m); err != nil {
			return err
		}
	}
	a := m.Arch
	if len(frames) < a.Frames {
		return fmt.Errorf("bench: %s has %d frames, the model's window is %d", f.input, len(frames), a.Frames)
	}
	hop := m.Hop()
	if c.Model.Hop != nil {
		hop = *c.Model.Hop
	}
	if f.windows < 1 {
		return fmt.Errorf("bench: --windows %d: want at least 1", f.windows)
	}

	// Two engines, dense and delta, both reusing each frame's projection, fed the same
	// frames one after the other so that both see the same machine conditions.
	paths := []*pathReport{{}, {}}
	scorers := []timedScorer{m.NewDense(), m.NewDelta(th)}
	var engines []*engine.Engine
	for i, s := range scorers {
		s.SetTiming(true)
		pr := paths[i]
		e, err := engine.New(engine.Config{
			Frames: a.Frames, Classes: a.NumClasses, Hop: hop, Frontend: m.Frontend,
			OnPosteriors: func(_ time.Duration, probs []float32) { pr.probs = append(pr.probs, append([]float32(nil), probs...)) },
		}, s)
		if err != nil {
			return err
		}
		engines = append(engines, e)
	}
	var pushed int64
	var scored uint64 // windows of the passes before this one: Reset zeroes the engine's count
	for scored < uint64(f.windows) {
		for _, e := range engines {
			e.Reset() // each pass over the input starts a new stream
		}
		for i, fr := range frames {
			for _, e := range engines {
				e.PushFrame(uint64(i), fr)
			}
			pushed++
			if scored+engines[1].Inferences() >= uint64(f.windows) {
				break
			}
		}
		scored += engines[1].Inferences()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	audioS := float64(pushed) * float64(p.Hop) / float64(p.SampleRate)

	rep := benchReport{
		Model: m.Path, RandomWeights: f.random, Arch: a, Input: f.input, AudioSeconds: round(audioS, 3),
		HopMS: hop.Milliseconds(), ThresholdsSource: thSource, Thresholds: th,
	}
	for i, s := range scorers {
		pr := paths[i]
		pr.ops, pr.times = s.Ops(), s.Times()
		n := float64(pr.ops.Windows)
		pr.MACsPerInference = siteMACs(pr.ops, executed, n)
		pr.MACsPerSecond = siteMACs(pr.ops, executed, audioS)
		pr.WallMS = ms(pr.times.Forward) / n
		pr.MHSAWallMS = ms(pr.times.MHSA) / n
		pr.MLPWallMS = ms(pr.times.MLP) / n
		pr.EmbedWallMSPerSec = ms(pr.times.Embed) / audioS
		pr.RealTimeFactor = (pr.times.Forward + pr.times.Embed).Seconds() / audioS
	}
	dense, delta := paths[0], paths[1]
	rep.Windows = delta.ops.Windows
	// How far the delta pass's posteriors are from the dense pass's, window by window.
	agree := 0
	for w := range delta.probs {
		if infer.Argmax(delta.probs[w]) == infer.Argmax(dense.probs[w]) {
			agree++
		}
		for k := range delta.probs[w] {
			rep.MaxPosteriorDiff = max(rep.MaxPosteriorDiff, math.Abs(float64(delta.probs[w][k]-dense.probs[w][k])))
		}
	}
	rep.ArgmaxAgreement = float64(agree) / float64(max(len(delta.probs), 1))
	rep.Dense, rep.Delta = *dense, *delta
	ops := delta.ops
	rep.ReferenceMACs = siteMACs(ops, denseOf, float64(ops.Windows))
	if a.Streaming() {
		// A stream's dense counts are those of the dense stream; the reference is a
		// window computed whole, as the window KWT computes every hop.
		whole := m.NewDense()
		window := make([]float32, 0, a.Frames*a.Coeffs)
		for _, fr := range frames[:a.Frames] {
			window = append(window, fr...)
		}
		whole.Forward(window, make([]float32, a.NumClasses))
		rep.ReferenceMACs = siteMACs(whole.Ops(), executed, 1)
	}
	rep.SiteReduction = macsReport{}
	for s := range infer.NumOpSites {
		rep.SiteReduction[s.String()] = ops.Site(s).Reduction()
	}
	rep.MHSAReduction = ops.MHSAReduction()
	rep.MLPReduction = ops.Site(infer.OpFC1).Add(ops.Site(infer.OpFC2)).Reduction()
	rep.TotalReduction = ops.TotalReduction()
	rep.SiteReduction["mhsa"], rep.SiteReduction["mlp"], rep.SiteReduction["total"] = rep.MHSAReduction, rep.MLPReduction, rep.TotalReduction
	rep.TotalReductionVsDenseReuse = 1 - float64(ops.Total().Executed)/float64(dense.ops.Total().Executed)
	for li := range a.Depth {
		lr := layerReport{Layer: li, Executed: macsReport{}, Reduction: macsReport{}}
		var mhsa, all infer.MACs
		for s := infer.OpQ; s <= infer.OpFC2; s++ {
			mc := ops.Layers[li][s]
			lr.Executed[s.String()] = float64(mc.Executed) / float64(ops.Windows)
			lr.Reduction[s.String()] = mc.Reduction()
			all = all.Add(mc)
			if s.MHSA() {
				mhsa = mhsa.Add(mc)
			}
		}
		lr.Reduction["mhsa"], lr.Reduction["total"] = mhsa.Reduction(), all.Reduction()
		rep.Layers = append(rep.Layers, lr)
	}
	rep.Speedup = dense.WallMS / delta.WallMS
	rep.MHSASpeedup = dense.MHSAWallMS / delta.MHSAWallMS

	if f.writeModel != "" {
		if err := writeModelWith(m, th, f.writeModel); err != nil {
			return err
		}
	}
	if f.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.writeText(stdout, f.writeModel)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// writeModelWith writes m with th as its delta metadata to path (atomically).
func writeModelWith(m *infer.Model, th infer.Thresholds, path string) error {
	out := *m
	t := th.Clone()
	out.Delta = &t
	tmp := path + ".tmp"
	fh, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := infer.Write(fh, &out); err != nil {
		fh.Close()
		os.Remove(tmp)
		return err
	}
	if err := fh.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// mega formats a MAC count in millions.
func mega(v float64) string { return fmt.Sprintf("%.3f M", v/1e6) }

func pct(v float64) string { return fmt.Sprintf("%.1f %%", 100*v) }

func (r benchReport) writeText(w io.Writer, wrote string) error {
	a := r.Arch
	var b strings.Builder
	fmt.Fprintf(&b, "model:  %s\n        d=%d, %d layers, %d heads, MLP %d, %d frames, %d classes\n",
		r.Model, a.Dim, a.Depth, a.Heads, a.MLPDim, a.Frames, a.NumClasses)
	fmt.Fprintf(&b, "input:  %s, %.1f s of audio streamed, hop %d ms, %d windows\n", r.Input, r.AudioSeconds, r.HopMS, r.Windows)
	fmt.Fprintf(&b, "delta:  %s (%s)\n\n", r.Thresholds, r.ThresholdsSource)

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "MACs per inference\tdense, no reuse\tdense\tdelta\tremoved\tdelta per s of audio\t")
	rows := []string{}
	for s := range infer.NumOpSites {
		rows = append(rows, s.String())
	}
	rows = append(rows, "mhsa", "mlp", "total")
	for _, k := range rows {
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
		fmt.Fprintf(&b, "wrote %s with these delta thresholds\n", wrote)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
