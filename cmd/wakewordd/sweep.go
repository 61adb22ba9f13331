package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/frontend"
	"github.com/wakewordd/wakewordd/infer"
)

// The threshold sweep (`bench --sweep DIR`) measures window-level accuracy against the
// operations removed. Each clip of DIR/<class>/ gives one window of the model's length,
// centred on the utterance that an energy detector finds (the port of train/common.py's
// speech_region and train/dataset.py's centred_start and cut, so that the windows are the
// ones training validates on); silence clips give the window at their start. The
// accuracy is the share of windows whose top class is the folder's class.
//
// Two scopes are swept: the MHSA sites only (the paper's scope) and all sites. For each,
// first one global theta over a grid (the values site, whose input is a probability, gets
// theta x value-ratio), then the model's own thresholds (those it was fine-tuned at, see
// train/delta_finetune.py) times each of --model-scales, then a greedy search: from the
// best point so far within the accuracy budget, each step multiplies the threshold of one
// site in one layer (with --greedy-by layer: of every site in one layer) by a factor,
// choosing the move that removes the most operations per accuracy lost, until the loss
// passes max-loss. The all
// scope starts from the MHSA scope's best point when that keeps --min-mhsa, so that its
// MLP pruning comes on top of the paper's. The chosen thresholds are those of the point
// that removes the most operations (MHSA operations for the mhsa scope, all operations for
// the all scope) within the budget, among the points that remove at least --min-mhsa of
// the MHSA operations when any does (with --pick-fewest, of those the point that removes
// the fewest operations).

type sweepFlags struct {
	out         string
	grid        string
	budget      float64
	maxLoss     float64
	steps       int
	stepsAll    int
	greedyBy    string
	factor      float64
	pickScope   string
	modelScales string
	pickFewest  bool
	minMHSA     float64
	perClass    int
	workers     int
	align       string
}

func (s *sweepFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.out, "out", "sweep", "with --sweep: write OUT.csv and OUT.png")
	fs.StringVar(&s.grid, "grid", "0,0.05,0.1,0.2,0.3,0.4,0.5,0.6,0.8,1,1.25,1.5,2,3", "with --sweep: global thetas")
	fs.StringVar(&s.modelScales, "model-scales", "0.5,0.75,1,1.25,1.5,1.75,2", "with --sweep: also try the model's own delta thresholds (of the scope's sites) times each of these; empty = no")
	fs.Float64Var(&s.budget, "budget", 0.005, "with --sweep: accuracy loss allowed for the chosen thresholds (0.005 = 0.5 points)")
	fs.Float64Var(&s.maxLoss, "max-loss", 0.05, "with --sweep: the greedy search stops once the accuracy loss passes this")
	fs.IntVar(&s.steps, "steps", 30, "with --sweep: greedy steps per scope at most")
	fs.StringVar(&s.greedyBy, "greedy-by", "site", "with --sweep: a greedy step raises one site of one layer (site) or every site of one layer (layer)")
	fs.IntVar(&s.stepsAll, "steps-all", -1, "with --sweep: greedy steps of the all scope at most (-1 = --steps)")
	fs.Float64Var(&s.factor, "factor", 1.4, "with --sweep: a greedy step multiplies one layer's thresholds by this")
	fs.StringVar(&s.pickScope, "pick", "all", "with --sweep: scope of the chosen thresholds, mhsa or all")
	fs.BoolVar(&s.pickFewest, "pick-fewest", false, "with --sweep: of the points within the budget that keep --min-mhsa, choose the one that removes the fewest operations (streaming detection loses more than single windows as pruning grows)")
	fs.Float64Var(&s.minMHSA, "min-mhsa", 0.8, "with --sweep: prefer chosen thresholds that remove at least this share of the MHSA operations")
	fs.IntVar(&s.perClass, "per-class", 0, "with --sweep: use at most this many clips per class (0 = all)")
	fs.StringVar(&s.align, "align", "centre", "with --sweep: where each clip's utterance sits in its window: centre (as training validates) or end (0.3 s before the window's end, as the streaming detector first sees it whole)")
	fs.IntVar(&s.workers, "workers", 0, "with --sweep: parallel forward passes (0 = one per CPU)")
}

// sweepPoint is one evaluated set of thresholds.
type sweepPoint struct {
	Scope    string             `json:"scope"`  // "dense", "mhsa" or "all"
	Search   string             `json:"search"` // "dense", "global", "model" or "greedy"
	Step     int                `json:"step"`
	Theta    float64            `json:"theta"` // the global theta; for greedy points the start's
	Accuracy float64            `json:"accuracy"`
	Loss     float64            `json:"loss"` // dense accuracy - accuracy
	MHSARed  float64            `json:"mhsa_reduction"`
	TotalRed float64            `json:"total_reduction"`
	SiteRed  map[string]float64 `json:"site_reduction"`
	Th       infer.Thresholds   `json:"thresholds"`
}

// measure is the reduction a scope optimises.
func (p sweepPoint) measure(scope string) float64 {
	if scope == "mhsa" {
		return p.MHSARed
	}
	return p.TotalRed
}

// sweepSet holds the validation windows, already projected into tokens.
type sweepSet struct {
	m      *infer.Model
	tokens [][]float32 // per clip, Frames x Dim
	labels []int
	denses []*infer.Dense
	deltas []*infer.Delta
}

// eval runs every window with th (nil: dense) and returns the accuracy and op counts.
func (s *sweepSet) eval(th *infer.Thresholds) (float64, infer.OpCounts, error) {
	w := len(s.deltas)
	correct := make([]int, w)
	ops := make([]infer.OpCounts, w)
	errs := make([]error, w)
	var wg sync.WaitGroup
	for k := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sc interface {
				ForwardEmbedded(tokens, logits []float32)
				Ops() infer.OpCounts
				Reset()
			}
			if th == nil {
				sc = s.denses[k]
			} else {
				if errs[k] = s.deltas[k].SetThresholds(*th); errs[k] != nil {
					return
				}
				sc = s.deltas[k]
			}
			sc.Reset()
			logits := make([]float32, s.m.Arch.NumClasses)
			for i := k; i < len(s.tokens); i += w {
				sc.ForwardEmbedded(s.tokens[i], logits)
				if infer.Argmax(logits) == s.labels[i] {
					correct[k]++
				}
			}
			ops[k] = sc.Ops()
		}()
	}
	wg.Wait()
	total := 0
	var sum infer.OpCounts
	for k := range w {
		if errs[k] != nil {
			return 0, sum, errs[k]
		}
		total += correct[k]
		sum = addOps(sum, ops[k])
	}
	return float64(total) / float64(len(s.tokens)), sum, nil
}

// addOps sums two op counts.
func addOps(a, b infer.OpCounts) infer.OpCounts {
	a.Windows += b.Windows
	a.Frames += b.Frames
	for s := range a.Model {
		a.Model[s] = a.Model[s].Add(b.Model[s])
	}
	if a.Layers == nil {
		a.Layers = make([][infer.NumOpSites]infer.MACs, len(b.Layers))
	}
	for l := range b.Layers {
		for s := range b.Layers[l] {
			a.Layers[l][s] = a.Layers[l][s].Add(b.Layers[l][s])
		}
	}
	return a
}

func runSweep(ctx context.Context, c config.Config, f *benchFlags, stdout io.Writer) error {
	sw := f.sw
	if sw.align != "centre" && sw.align != "end" {
		return fmt.Errorf("bench: --align %q: want centre or end", sw.align)
	}
	if sw.greedyBy != "site" && sw.greedyBy != "layer" {
		return fmt.Errorf("bench: --greedy-by %q: want site or layer", sw.greedyBy)
	}
	if sw.pickScope != "mhsa" && sw.pickScope != "all" {
		return fmt.Errorf("bench: --pick %q: want mhsa or all", sw.pickScope)
	}
	if !(sw.budget >= 0 && sw.budget < 1) || !(sw.maxLoss > 0 && sw.maxLoss <= 1) || !(sw.factor > 1 && sw.factor <= 10) || sw.steps < 0 || !(sw.minMHSA >= 0 && sw.minMHSA <= 1) {
		return fmt.Errorf("bench: want 0 <= --budget < 1, 0 < --max-loss <= 1, 1 < --factor <= 10, --steps >= 0 and 0 <= --min-mhsa <= 1")
	}
	grid, err := parseGrid(sw.grid)
	if err != nil {
		return err
	}
	var modelScales []float64
	if sw.modelScales != "" {
		if modelScales, err = parseGrid(sw.modelScales); err != nil {
			return fmt.Errorf("--model-scales: %w", err)
		}
	}
	m, err := loadModel(c)
	if err != nil {
		return err
	}
	set, err := loadSweepSet(ctx, m, f.sweep, sw.perClass, sw.workers, sw.align == "end")
	if err != nil {
		return err
	}
	log := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	log("sweep: %d windows of %d classes from %s, %d workers", len(set.tokens), len(m.Classes), f.sweep, len(set.deltas))

	denseAcc, _, err := set.eval(nil)
	if err != nil {
		return err
	}
	log("dense: accuracy %.2f %%", 100*denseAcc)
	points := []sweepPoint{{Scope: "dense", Search: "dense", Accuracy: denseAcc}}
	evalPoint := func(scope, search string, step int, theta float64, th infer.Thresholds) (sweepPoint, error) {
		acc, ops, err := set.eval(&th)
		if err != nil {
			return sweepPoint{}, err
		}
		// The windows come projected already, and the projection does not depend on the
		// thresholds: count it as executed, as a dense pass would.
		ops.Model[infer.OpEmbed].Executed = ops.Model[infer.OpEmbed].Dense
		p := sweepPoint{Scope: scope, Search: search, Step: step, Theta: theta, Accuracy: acc, Loss: denseAcc - acc,
			MHSARed: ops.MHSAReduction(), TotalRed: ops.TotalReduction(), SiteRed: map[string]float64{}, Th: th}
		for s := range infer.NumOpSites {
			p.SiteRed[s.String()] = ops.Site(s).Reduction()
		}
		return p, ctx.Err()
	}
	depth := m.Arch.Depth
	minTheta := 0.0
	for _, g := range grid {
		if g > 0 && (minTheta == 0 || g < minTheta) {
			minTheta = g
		}
	}
	if minTheta == 0 {
		minTheta = 0.1
	}
	var mhsaBest sweepPoint // the mhsa scope's best point within the budget
	for _, scope := range []string{"mhsa", "all"} {
		var global []sweepPoint
		for _, theta := range grid {
			p, err := evalPoint(scope, "global", 0, theta, uniformThresholds(m.Arch, theta, f.valueRatio, scope))
			if err != nil {
				return err
			}
			log("%s global theta %-5g accuracy %6.2f %%  MHSA -%5.1f %%  total -%5.1f %%", scope, theta, 100*p.Accuracy, 100*p.MHSARed, 100*p.TotalRed)
			global = append(global, p)
		}
		points = append(points, global...)
		// The thresholds the model was fine-tuned at lie off the uniform grid, in a region
		// the greedy search would need many steps to reach.
		var own []sweepPoint
		if m.Delta != nil {
			base := restrictThresholds(m.Arch, *m.Delta, scope)
			for _, scale := range modelScales {
				if !base.Any() {
					break
				}
				p, err := evalPoint(scope, "model", 0, scale, scaledThresholds(base, scale))
				if err != nil {
					return err
				}
				log("%s model's thresholds x %-5g accuracy %6.2f %%  MHSA -%5.1f %%  total -%5.1f %%", scope, scale, 100*p.Accuracy, 100*p.MHSARed, 100*p.TotalRed)
				own = append(own, p)
			}
		}
		points = append(points, own...)
		// Greedy per layer and site, from the point that removes the most within the budget.
		cur := sweepPoint{Scope: scope, Accuracy: denseAcc, Th: uniformThresholds(m.Arch, 0, f.valueRatio, scope)}
		starts := append(append([]sweepPoint(nil), global...), own...)
		if scope == "all" && mhsaBest.Th.Any() {
			start := mhsaBest
			start.Scope, start.Search, start.Step = "all", "greedy", 0
			starts = append(starts, start)
			points = append(points, start)
		}
		// Points that keep the --min-mhsa reduction come first, so that the all scope's
		// MLP pruning is added to the paper's rather than traded for it.
		better := func(p, q sweepPoint) bool {
			if pk, qk := p.MHSARed >= sw.minMHSA, q.MHSARed >= sw.minMHSA; pk != qk {
				return pk
			}
			return p.measure(scope) > q.measure(scope)
		}
		for _, p := range starts {
			if p.Loss <= sw.budget && better(p, cur) {
				cur = p
			}
		}
		if cur.Search == "model" {
			// The path's own step 0, so that the plot starts it there and not at the
			// global theta of the same value.
			start := cur
			start.Search, start.Step = "greedy", 0
			points = append(points, start)
		}
		startTheta := cur.Theta
		steps := sw.steps
		if scope == "all" && sw.stepsAll >= 0 {
			steps = sw.stepsAll
		}
		for step := 1; step <= steps && cur.Loss <= sw.maxLoss; step++ {
			var best sweepPoint
			bestRatio := 0.0
			for l := range depth {
				// A move raises one site of one layer, or (--greedy-by layer) every site
				// of the scope in one layer at once.
				moves := [][]infer.DeltaSite{}
				if sw.greedyBy == "layer" {
					moves = append(moves, scopeSites(m.Arch, scope))
				} else {
					for _, s := range scopeSites(m.Arch, scope) {
						moves = append(moves, []infer.DeltaSite{s})
					}
				}
				for _, move := range moves {
					th := cur.Th.Clone()
					for _, s := range move {
						if len(th.Theta[s]) < depth { // a site the start point left off
							th.Theta[s] = make([]float32, depth)
						}
						v := float64(th.Theta[s][l])
						switch {
						case v == 0 && s == infer.DeltaValues:
							v = minTheta * f.valueRatio
						case v == 0:
							v = minTheta
						default:
							v *= sw.factor
						}
						th.Theta[s][l] = float32(min(roundSig(v, 3), infer.MaxTheta))
					}
					p, err := evalPoint(scope, "greedy", step, startTheta, th)
					if err != nil {
						return err
					}
					gain := p.measure(scope) - cur.measure(scope)
					if gain <= 1e-9 {
						continue
					}
					cost := max(0, cur.Accuracy-p.Accuracy) + 0.5/float64(len(set.tokens))
					if r := gain / cost; r > bestRatio {
						best, bestRatio = p, r
					}
				}
			}
			if bestRatio == 0 {
				break
			}
			cur = best
			points = append(points, cur)
			log("%s greedy step %-3d accuracy %6.2f %%  MHSA -%5.1f %%  total -%5.1f %%  (%s)", scope, step, 100*cur.Accuracy, 100*cur.MHSARed, 100*cur.TotalRed, cur.Th)
		}
		if scope == "mhsa" {
			if p := bestPoint(points, "mhsa", sw.budget, 0, false); p != nil {
				mhsaBest = *p
			}
		}
	}

	// The chosen thresholds: the most removed within the budget, in the picked scope, and
	// removing at least --min-mhsa of the MHSA operations when any point does.
	chosen := bestPoint(points, sw.pickScope, sw.budget, sw.minMHSA, sw.pickFewest && sw.minMHSA > 0)
	if chosen == nil {
		chosen = bestPoint(points, sw.pickScope, sw.budget, 0, false)
	}
	if err := writeSweepCSV(sw.out+".csv", points); err != nil {
		return err
	}
	if err := writeSweepPlot(sw.out+".png", points, denseAcc, sw.budget, m); err != nil {
		return err
	}
	summary := struct {
		Model         string       `json:"model"`
		Windows       int          `json:"windows"`
		DenseAccuracy float64      `json:"dense_accuracy"`
		Budget        float64      `json:"budget"`
		Chosen        *sweepPoint  `json:"chosen"`
		CSV           string       `json:"csv"`
		Plot          string       `json:"plot"`
		WroteModel    string       `json:"wrote_model,omitempty"`
		Points        []sweepPoint `json:"points"`
	}{m.Path, len(set.tokens), denseAcc, sw.budget, chosen, sw.out + ".csv", sw.out + ".png", "", points}
	if f.writeModel != "" {
		if chosen == nil {
			return fmt.Errorf("bench: no thresholds of scope %s stay within the budget of %.2f points; not writing %s", sw.pickScope, 100*sw.budget, f.writeModel)
		}
		if err := writeModelWith(m, chosen.Th, f.writeModel); err != nil {
			return err
		}
		summary.WroteModel = f.writeModel
	}
	if f.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(summary)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d validation windows, dense accuracy %.2f %%\n", len(set.tokens), 100*denseAcc)
	if chosen != nil {
		fmt.Fprintf(&b, "chosen (%s scope, loss <= %.2f points): accuracy %.2f %% (%+.2f points), MHSA MACs -%.1f %%, all MACs -%.1f %%\n  %s\n",
			sw.pickScope, 100*sw.budget, 100*chosen.Accuracy, -100*chosen.Loss, 100*chosen.MHSARed, 100*chosen.TotalRed, chosen.Th)
		th, _ := json.Marshal(chosen.Th)
		fmt.Fprintf(&b, "  metadata \"delta\": %s\n", th)
	} else {
		fmt.Fprintf(&b, "no %s-scope thresholds stay within %.2f points of the dense accuracy\n", sw.pickScope, 100*sw.budget)
	}
	fmt.Fprintf(&b, "wrote %s.csv and %s.png\n", sw.out, sw.out)
	if summary.WroteModel != "" {
		fmt.Fprintf(&b, "wrote %s with the chosen thresholds\n", summary.WroteModel)
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

// replotSweep redraws a sweep's plot from the CSV it wrote; the model names the
// architecture in the title.
func replotSweep(c config.Config, csvPath, pngPath string, budget float64) error {
	m, err := loadModel(c)
	if err != nil {
		return err
	}
	f, err := os.Open(csvPath)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return fmt.Errorf("%s: not a sweep CSV written by bench --sweep: %w", csvPath, err)
	}
	if len(rows) < 2 || len(rows[0]) < 8 || rows[0][0] != "scope" || rows[0][7] != "total_reduction" {
		return fmt.Errorf("%s: not a sweep CSV written by bench --sweep", csvPath)
	}
	var points []sweepPoint
	denseAcc := math.NaN()
	for i, r := range rows[1:] {
		var v [5]float64
		for j, col := range []int{2, 3, 4, 6, 7} {
			if v[j], err = strconv.ParseFloat(r[col], 64); err != nil {
				return fmt.Errorf("%s:%d: column %s: %w", csvPath, i+2, rows[0][col], err)
			}
		}
		p := sweepPoint{Scope: r[0], Search: r[1], Step: int(v[0]), Theta: v[1], Accuracy: v[2], MHSARed: v[3], TotalRed: v[4]}
		if p.Scope == "dense" {
			denseAcc = p.Accuracy
		}
		points = append(points, p)
	}
	if math.IsNaN(denseAcc) {
		return fmt.Errorf("%s: no dense row", csvPath)
	}
	return writeSweepPlot(pngPath, points, denseAcc, budget, m)
}

// bestPoint is the point of scope that removes the most operations within the accuracy
// budget and removes at least minMHSA of the MHSA operations, or nil. With fewest it is
// the one that removes the fewest: the least pruning that still meets minMHSA.
func bestPoint(points []sweepPoint, scope string, budget, minMHSA float64, fewest bool) *sweepPoint {
	var best *sweepPoint
	for i := range points {
		p := &points[i]
		if p.Scope != scope || p.Loss > budget || p.MHSARed < minMHSA {
			continue
		}
		if best == nil || (fewest && p.measure(scope) < best.measure(scope)) || (!fewest && p.measure(scope) > best.measure(scope)) {
			best = p
		}
	}
	return best
}

// scaledThresholds multiplies every threshold by f, rounded to 3 significant digits as
// the greedy moves are (so 0.0004 x 1.25 is stored as 0.0005, not 0.00049999997).
func scaledThresholds(th infer.Thresholds, f float64) infer.Thresholds {
	out := th.Clone()
	for s := range out.Theta {
		for i, v := range out.Theta[s] {
			out.Theta[s][i] = float32(min(roundSig(float64(v)*f, 3), infer.MaxTheta))
		}
	}
	return out
}

// roundSig rounds v to n significant digits, so that thresholds stay readable.
func roundSig(v float64, n int) float64 {
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return v
	}
	p := math.Pow(10, float64(n)-math.Ceil(math.Log10(math.Abs(v))))
	return math.Round(v*p) / p
}

func parseGrid(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(v >= 0 && v <= infer.MaxTheta) {
			return nil, fmt.Errorf("bench: --grid: %q is not a threshold 0..%g", f, float64(infer.MaxTheta))
		}
		out = append(out, v)
	}
	sort.Float64s(out)
	return slices.Compact(out), nil
}

// loadSweepSet reads every clip, cuts its window and projects its frames.
func loadSweepSet(ctx context.Context, m *infer.Model, dir string, perClass, workers int, alignEnd bool) (*sweepSet, error) {
	clips, err := listClips(dir)
	if err != nil {
		return nil, err
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	a := m.Arch
	set := &sweepSet{m: m}
	count := map[string]int{}
	emb := m.NewDense()
	for _, clip := range clips {
		label := slices.Index(m.Classes, clip.Class)
		if label < 0 {
			return nil, fmt.Errorf("bench: %s: folder %q is not a class of model %s (it has %v)", clip.Path, clip.Class, m.Path, m.Classes)
		}
		if perClass > 0 && count[clip.Class] >= perClass {
			continue
		}
		count[clip.Class]++
		samples, err := audio.DecodeFile(clip.Path)
		if err != nil {
			return nil, err
		}
		frames := clipWindow(samples, m.Frontend, a.Frames, clip.Class == "silence", alignEnd)
		tokens := make([]float32, a.Frames*a.Dim)
		for t, fr := range frames {
			emb.EmbedFrame(fr, tokens[t*a.Dim:(t+1)*a.Dim])
		}
		set.tokens = append(set.tokens, tokens)
		set.labels = append(set.labels, label)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	for range workers {
		set.denses = append(set.denses, m.NewDense())
		set.deltas = append(set.deltas, m.NewDelta(infer.Thresholds{}))
	}
	return set, nil
}

// clipWindow returns the n frames of a clip's window: centred on the utterance (or, with
// alignEnd, ending endMargin frames after it), or from the start for a background
// (silence) clip; frames beyond the clip repeat its first or last frame. A clip shorter
// than one frame is padded with zeros.
func clipWindow(samples []float32, p frontend.Params, n int, background, alignEnd bool) [][]float32 {
	if len(samples) < p.WindowLen {
		samples = append(slices.Clone(samples), make([]float32, p.WindowLen-len(samples))...)
	}
	frames, err := frontend.Compute(samples, p)
	if err != nil {
		panic(err) // the model's frontend parameters are validated
	}
	L := len(frames)
	start := 0
	if !background {
		s, e := speechRegion(samples, p)
		start = centredStart(s, e, L, n)
		if alignEnd {
			start = e + endMargin - n
		}
	}
	out := make([][]float32, n)
	for i := range out {
		out[i] = frames[min(max(start+i, 0), L-1)]
	}
	return out
}

// endMargin is how many frames follow the utterance in an end-aligned window: about when a
// streaming detector, running every 100 ms, first scores the whole word.
const endMargin = 30

// frameEnergyDB is train/common.py's frame_energy_db: the energy in dB of each frontend
// frame.
func frameEnergyDB(x []float32, p frontend.Params) []float64 {
	n := p.FrameCount(len(x))
	db := make([]float64, n)
	for i := range db {
		var e float64
		for _, v := range x[i*p.Hop : i*p.Hop+p.WindowLen] {
			e += float64(v) * float64(v)
		}
		db[i] = 10 * math.Log10(e/float64(p.WindowLen)+1e-10)
	}
	return db
}

// percentile is numpy.percentile with linear interpolation.
func percentile(x []float64, q float64) float64 {
	s := slices.Clone(x)
	sort.Float64s(s)
	pos := q / 100 * float64(len(s)-1)
	lo := int(math.Floor(pos))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (pos-float64(lo))*(s[lo+1]-s[lo])
}

// speechRegion is train/common.py's speech_region (clean=False, max_gap 30 frames,
// min_run 3): the frames [start, end) of the utterance.
func speechRegion(x []float32, p frontend.Params) (int, int) {
	const maxGap, minRun = 30, 3
	db := frameEnergyDB(x, p)
	if len(db) == 0 {
		return 0, 0
	}
	var live []float64
	for _, v := range db {
		if v > -95 {
			live = append(live, v)
		}
	}
	if len(live) == 0 {
		return 0, len(db)
	}
	floor, peak := percentile(live, 10), percentile(live, 99.5)
	thr := max(floor+0.3*(peak-floor), peak-40)
	type seg struct{ s, e int }
	var segs []seg
	for i := 0; i < len(db); {
		if db[i] <= thr {
			i++
			continue
		}
		j := i
		for j < len(db) && db[j] > thr {
			j++
		}
		segs = append(segs, seg{i, j})
		i = j
	}
	var long []seg
	for _, s := range segs {
		if s.e-s.s >= minRun {
			long = append(long, s)
		}
	}
	if len(long) > 0 {
		segs = long
	}
	if len(segs) == 0 {
		return 0, len(db)
	}
	merged := []seg{segs[0]}
	for _, s := range segs[1:] {
		if last := &merged[len(merged)-1]; s.s-last.e < maxGap {
			last.e = s.e
		} else {
			merged = append(merged, s)
		}
	}
	best, bestE := merged[0], -1.0
	for _, s := range merged {
		var e float64
		for _, v := range db[s.s:s.e] {
			e += math.Pow(10, v/10)
		}
		if e > bestE {
			best, bestE = s, e
		}
	}
	return best.s, best.e
}

// centredStart is train/dataset.py's centred_start: the first frame of the n-frame window
// centred on [s, e), kept inside a clip of L frames when it fits.
func centredStart(s, e, L, n int) int {
	if L >= n {
		return max(min(floorDiv(s+e, 2)-floorDiv(n, 2), L-n), 0)
	}
	return floorDiv(L-n, 2)
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func writeSweepCSV(path string, points []sweepPoint) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(fh)
	head := []string{"scope", "search", "step", "theta", "accuracy", "loss_points", "mhsa_reduction", "total_reduction"}
	for s := range infer.NumOpSites {
		head = append(head, s.String()+"_reduction")
	}
	head = append(head, "thresholds")
	w.Write(head)
	for _, p := range points {
		th := ""
		if p.Scope != "dense" {
			b, _ := json.Marshal(p.Th)
			th = string(b)
		}
		row := []string{p.Scope, p.Search, strconv.Itoa(p.Step), strconv.FormatFloat(p.Theta, 'g', -1, 64),
			fmt.Sprintf("%.6f", p.Accuracy), fmt.Sprintf("%.3f", 100*p.Loss), fmt.Sprintf("%.6f", p.MHSARed), fmt.Sprintf("%.6f", p.TotalRed)}
		for s := range infer.NumOpSites {
			row = append(row, fmt.Sprintf("%.6f", p.SiteRed[s.String()]))
		}
		w.Write(append(row, th))
	}
	w.Flush()
	if err := w.Error(); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}
