// Package sweep chooses a model's delta thresholds: it measures window-level accuracy
// against the operations removed over a validation folder (the command bench/sweep), and
// holds the threshold helpers the command uses to write uniform thresholds into a model.
//
// Each clip of DIR/<class>/ gives one window of the model's length, centred on the
// utterance that an energy detector finds (the port of train/common.py's speech_region and
// train/dataset.py's centred_start and cut, so that the windows are the ones training
// validates on); silence clips give the window at their start. The accuracy is the share
// of windows whose top class is the folder's class.
//
// Two scopes are swept: the MHSA sites only (the paper's scope) and all sites. For each,
// first one global theta over a grid (the values site, whose input is a probability, gets
// theta x value-ratio), then the model's own thresholds (those it was fine-tuned at, see
// train/delta_finetune.py) times each of Options.ModelScales, then a greedy search: from
// the best point so far within the accuracy budget, each step multiplies the threshold of
// one site in one layer (with GreedyBy "layer": of every site in one layer) by a factor,
// choosing the move that removes the most operations per accuracy lost, until the loss
// passes MaxLoss. The all scope starts from the MHSA scope's best point when that keeps
// MinMHSA, so that its MLP pruning comes on top of the paper's. The chosen thresholds are
// those of the point that removes the most operations (MHSA operations for the mhsa scope,
// all operations for the all scope) within the budget, among the points that remove at
// least MinMHSA of the MHSA operations when any does (with PickFewest, of those the point
// that removes the fewest operations).
package sweep

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/wakewordd/wakewordd/infer"
)

// Options of a sweep; Defaults gives the command's defaults.
type Options struct {
	Grid        []float64 // global thetas
	ModelScales []float64 // factors of the model's own thresholds; empty: none tried
	ValueRatio  float64   // threshold of the values site relative to theta
	Budget      float64   // accuracy loss allowed for the chosen thresholds
	MaxLoss     float64   // the greedy search stops once the loss passes this
	Steps       int       // greedy steps per scope at most
	StepsAll    int       // greedy steps of the all scope at most; -1 = Steps
	GreedyBy    string    // "site" or "layer"
	Factor      float64   // a greedy step multiplies thresholds by this
	Pick        string    // scope of the chosen thresholds: "mhsa" or "all"
	PickFewest  bool
	MinMHSA     float64
	PerClass    int  // clips per class at most; 0 = all
	Workers     int  // parallel forward passes; 0 = one per CPU
	AlignEnd    bool // the utterance ends endMargin frames before the window's end
	// Log, when set, receives a line per evaluated point.
	Log func(format string, args ...any)
}

// Defaults are the options of `bench/sweep` without flags.
func Defaults() Options {
	return Options{
		Grid:        []float64{0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1, 1.25, 1.5, 2, 3},
		ModelScales: []float64{0.5, 0.75, 1, 1.25, 1.5, 1.75, 2},
		ValueRatio:  DefaultValueRatio, Budget: 0.005, MaxLoss: 0.05, Steps: 30, StepsAll: -1,
		GreedyBy: "site", Factor: 1.4, Pick: "all", MinMHSA: 0.8,
	}
}

// Check reports the first option out of range.
func (o Options) Check() error {
	switch {
	case o.GreedyBy != "site" && o.GreedyBy != "layer":
		return fmt.Errorf("--greedy-by %q: want site or layer", o.GreedyBy)
	case o.Pick != "mhsa" && o.Pick != "all":
		return fmt.Errorf("--pick %q: want mhsa or all", o.Pick)
	case !(o.Budget >= 0 && o.Budget < 1) || !(o.MaxLoss > 0 && o.MaxLoss <= 1) || !(o.Factor > 1 && o.Factor <= 10) || o.Steps < 0 || !(o.MinMHSA >= 0 && o.MinMHSA <= 1):
		return fmt.Errorf("want 0 <= --budget < 1, 0 < --max-loss <= 1, 1 < --factor <= 10, --steps >= 0 and 0 <= --min-mhsa <= 1")
	case !(o.ValueRatio > 0 && o.ValueRatio <= 1):
		return fmt.Errorf("--value-ratio %v: want (0, 1]", o.ValueRatio)
	case len(o.Grid) == 0:
		return fmt.Errorf("--grid: no thetas")
	}
	return nil
}

// Point is one evaluated set of thresholds.
type Point struct {
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
func (p Point) measure(scope string) float64 {
	if scope == "mhsa" {
		return p.MHSARed
	}
	return p.TotalRed
}

// Result is what a sweep measured and chose.
type Result struct {
	Windows       int
	DenseAccuracy float64
	Chosen        *Point // nil when no point of the picked scope stays within the budget
	Points        []Point
}

// pass is what the sweep needs of a forward pass (infer.Dense, infer.Delta).
type pass interface {
	ForwardEmbedded(tokens, logits []float32)
	Ops() infer.OpCounts
	Reset()
}

// set holds the validation windows, already projected into tokens.
type set struct {
	m      *infer.Model
	tokens [][]float32 // per clip, Frames x Dim
	labels []int
	denses []pass
	deltas []interface {
		pass
		SetThresholds(infer.Thresholds) error
	}
}

// eval runs every window with th (nil: dense) and returns the accuracy and op counts.
func (s *set) eval(th *infer.Thresholds) (float64, infer.OpCounts, error) {
	w := len(s.deltas)
	correct := make([]int, w)
	ops := make([]infer.OpCounts, w)
	errs := make([]error, w)
	var wg sync.WaitGroup
	for k := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sc pass
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

// Run sweeps m's delta thresholds over the validation folder dir (DIR/<class>/<clip>,
// every class a class of m) and chooses thresholds.
func Run(ctx context.Context, m *infer.Model, dir string, o Options) (*Result, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	log := o.Log
	if log == nil {
		log = func(string, ...any) {}
	}
	set, err := loadSet(ctx, m, dir, o.PerClass, o.Workers, o.AlignEnd)
	if err != nil {
		return nil, err
	}
	log("sweep: %d windows of %d classes from %s, %d workers", len(set.tokens), len(m.Classes), dir, len(set.deltas))

	denseAcc, _, err := set.eval(nil)
	if err != nil {
		return nil, err
	}
	log("dense: accuracy %.2f %%", 100*denseAcc)
	points := []Point{{Scope: "dense", Search: "dense", Accuracy: denseAcc}}
	evalPoint := func(scope, search string, step int, theta float64, th infer.Thresholds) (Point, error) {
		acc, ops, err := set.eval(&th)
		if err != nil {
			return Point{}, err
		}
		// The windows come projected already, and the projection does not depend on the
		// thresholds: count it as executed, as a dense pass would.
		ops.Model[infer.OpEmbed].Executed = ops.Model[infer.OpEmbed].Dense
		p := Point{Scope: scope, Search: search, Step: step, Theta: theta, Accuracy: acc, Loss: denseAcc - acc,
			MHSARed: ops.MHSAReduction(), TotalRed: ops.TotalReduction(), SiteRed: map[string]float64{}, Th: th}
		for s := range infer.NumOpSites {
			p.SiteRed[s.String()] = ops.Site(s).Reduction()
		}
		return p, ctx.Err()
	}
	depth := m.Arch.Depth
	minTheta := 0.0
	for _, g := range o.Grid {
		if g > 0 && (minTheta == 0 || g < minTheta) {
			minTheta = g
		}
	}
	if minTheta == 0 {
		minTheta = 0.1
	}
	var mhsaBest Point // the mhsa scope's best point within the budget
	for _, scope := range []string{"mhsa", "all"} {
		var global []Point
		for _, theta := range o.Grid {
			p, err := evalPoint(scope, "global", 0, theta, UniformThresholds(m.Arch, theta, o.ValueRatio, scope))
			if err != nil {
				return nil, err
			}
			log("%s global theta %-5g accuracy %6.2f %%  MHSA -%5.1f %%  total -%5.1f %%", scope, theta, 100*p.Accuracy, 100*p.MHSARed, 100*p.TotalRed)
			global = append(global, p)
		}
		points = append(points, global...)
		// The thresholds the model was fine-tuned at lie off the uniform grid, in a region
		// the greedy search would need many steps to reach.
		var own []Point
		if m.Delta != nil {
			base := RestrictThresholds(m.Arch, *m.Delta, scope)
			for _, scale := range o.ModelScales {
				if !base.Any() {
					break
				}
				p, err := evalPoint(scope, "model", 0, scale, ScaledThresholds(base, scale))
				if err != nil {
					return nil, err
				}
				log("%s model's thresholds x %-5g accuracy %6.2f %%  MHSA -%5.1f %%  total -%5.1f %%", scope, scale, 100*p.Accuracy, 100*p.MHSARed, 100*p.TotalRed)
				own = append(own, p)
			}
		}
		points = append(points, own...)
		// Greedy per layer and site, from the point that removes the most within the budget.
		cur := Point{Scope: scope, Accuracy: denseAcc, Th: UniformThresholds(m.Arch, 0, o.ValueRatio, scope)}
		starts := append(append([]Point(nil), global...), own...)
		if scope == "all" && mhsaBest.Th.Any() {
			start := mhsaBest
			start.Scope, start.Search, start.Step = "all", "greedy", 0
			starts = append(starts, start)
			points = append(points, start)
		}
		// Points that keep the MinMHSA reduction come first, so that the all scope's MLP
		// pruning is added to the paper's rather than traded for it.
		better := func(p, q Point) bool {
			if pk, qk := p.MHSARed >= o.MinMHSA, q.MHSARed >= o.MinMHSA; pk != qk {
				return pk
			}
			return p.measure(scope) > q.measure(scope)
		}
		for _, p := range starts {
			if p.Loss <= o.Budget && better(p, cur) {
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
		steps := o.Steps
		if scope == "all" && o.StepsAll >= 0 {
			steps = o.StepsAll
		}
		for step := 1; step <= steps && cur.Loss <= o.MaxLoss; step++ {
			var best Point
			bestRatio := 0.0
			for l := range depth {
				// A move raises one site of one layer, or (GreedyBy "layer") every site of
				// the scope in one layer at once.
				moves := [][]infer.DeltaSite{}
				if o.GreedyBy == "layer" {
					moves = append(moves, ScopeSites(m.Arch, scope))
				} else {
					for _, s := range ScopeSites(m.Arch, scope) {
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
							v = minTheta * o.ValueRatio
						case v == 0:
							v = minTheta
						default:
							v *= o.Factor
						}
						th.Theta[s][l] = float32(min(roundSig(v, 3), infer.MaxTheta))
					}
					p, err := evalPoint(scope, "greedy", step, startTheta, th)
					if err != nil {
						return nil, err
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
			if p := bestPoint(points, "mhsa", o.Budget, 0, false); p != nil {
				mhsaBest = *p
			}
		}
	}

	// The chosen thresholds: the most removed within the budget, in the picked scope, and
	// removing at least MinMHSA of the MHSA operations when any point does.
	chosen := bestPoint(points, o.Pick, o.Budget, o.MinMHSA, o.PickFewest && o.MinMHSA > 0)
	if chosen == nil {
		chosen = bestPoint(points, o.Pick, o.Budget, 0, false)
	}
	return &Result{Windows: len(set.tokens), DenseAccuracy: denseAcc, Chosen: chosen, Points: points}, nil
}

// bestPoint is the point of scope that removes the most operations within the accuracy
// budget and removes at least minMHSA of the MHSA operations, or nil. With fewest it is
// the one that removes the fewest: the least pruning that still meets minMHSA.
func bestPoint(points []Point, scope string, budget, minMHSA float64, fewest bool) *Point {
	var best *Point
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

// roundSig rounds v to n significant digits, so that thresholds stay readable.
func roundSig(v float64, n int) float64 {
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return v
	}
	p := math.Pow(10, float64(n)-math.Ceil(math.Log10(math.Abs(v))))
	return math.Round(v*p) / p
}

// ParseGrid parses comma-separated thresholds (0..infer.MaxTheta), sorted and without
// repeats.
func ParseGrid(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(v >= 0 && v <= infer.MaxTheta) {
			return nil, fmt.Errorf("%q is not a threshold 0..%g", f, float64(infer.MaxTheta))
		}
		out = append(out, v)
	}
	sort.Float64s(out)
	return slices.Compact(out), nil
}
