package main

// All keywords on at once, and the choice of one threshold per keyword for a false-alarm
// budget of the whole device (-pick).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wakewordd/wakewordd/infer"
)

// allOnKeyword is one keyword's figures with every keyword on.
type allOnKeyword struct {
	Keyword     string  `json:"keyword"`
	On          bool    `json:"enabled"`
	Threshold   float64 `json:"threshold"`
	Hits        int     `json:"hits"`
	Placements  int     `json:"placements"`
	MissRate    float64 `json:"miss_rate"`
	FalseAlarms int     `json:"false_alarms"`
}

// allOn is every keyword of the model enabled in one detector, replayed over the stream:
// what a device listening for all of them gets. The detector reports at most one wake word
// per hop and keeps every keyword silent for the refractory period after any detection,
// so these figures are not the sums of the keywords swept alone.
type allOn struct {
	Keywords    []allOnKeyword `json:"keywords"`
	FalseAlarms int            `json:"false_alarms"` // all keywords together
	FAPerHour   float64        `json:"false_alarms_per_hour"`
	MissRate    float64        `json:"mean_miss_rate"` // over the keywords with placements
}

// byKeyword lists the false alarms of each keyword: "alexa 2, computer 0".
func (a allOn) byKeyword() string {
	var s []string
	for _, k := range a.Keywords {
		s = append(s, fmt.Sprintf("%s %d", k.Keyword, k.FalseAlarms))
	}
	return strings.Join(s, ", ")
}

// withThresholds is a copy of m whose detection metadata holds th on top of m's own
// per-keyword thresholds: the model `wakewordd run` would load with th stored in it.
func withThresholds(m *infer.Model, th map[string]float64) *infer.Model {
	c := *m
	c.Detection.Thresholds = maps.Clone(m.Detection.Thresholds)
	if c.Detection.Thresholds == nil {
		c.Detection.Thresholds = map[string]float64{}
	}
	maps.Copy(c.Detection.Thresholds, th)
	return &c
}

// allOn replays the detector `run` builds from m (shippedRules: its thresholds,
// smoothing, patience and refractory period) with every keyword on, except those named in
// off, and scores each keyword of the model.
func (st *stream) allOn(m *infer.Model, off []string, tol time.Duration) (allOn, error) {
	def, rules, err := shippedRules(m)
	if err != nil {
		return allOn{}, err
	}
	for _, kw := range off {
		r, ok := rules[kw]
		if !ok {
			r = def
		}
		r.Enabled = false
		rules[kw] = r
	}
	dets, err := st.detections(def, rules)
	if err != nil {
		return allOn{}, err
	}
	var a allOn
	n := 0
	for _, kw := range m.Keywords() {
		p := st.score(kw, dets, tol)
		k := allOnKeyword{Keyword: kw, On: !slices.Contains(off, kw), Threshold: m.Detection.ThresholdFor(kw),
			Hits: p.Hits, Placements: p.Events, MissRate: p.MissRate, FalseAlarms: p.FalseAlarms}
		a.Keywords = append(a.Keywords, k)
		a.FalseAlarms += p.FalseAlarms
		if p.Events > 0 {
			a.MissRate += p.MissRate
			n++
		}
	}
	if n > 0 {
		a.MissRate /= float64(n)
	}
	if h := st.hours(); h > 0 {
		a.FAPerHour = float64(a.FalseAlarms) / h
	}
	return a, nil
}

// budgetAllOn is every keyword on at the thresholds one budget column chose for each
// keyword alone; a keyword that could not meet the budget alone is off.
type budgetAllOn struct {
	PerHour float64 `json:"budget_per_hour"`
	allOn
}

// uniformPick is the best single threshold for every keyword at a budget, all keywords on:
// what the picker is measured against.
type uniformPick struct {
	Threshold float64 `json:"threshold"`
	Reached   bool    `json:"reached"`
	AllOn     allOn   `json:"all_keywords_on"`
}

// pickResult is the choice of one threshold per keyword for a false-alarm budget of the
// whole device.
type pickResult struct {
	PerHour        float64            `json:"budget_per_hour"`
	Hours          float64            `json:"hours"`
	MaxFalseAlarms int                `json:"max_false_alarms"` // budget x hours, rounded down
	Reached        bool               `json:"reached"`
	Thresholds     map[string]float64 `json:"thresholds"`
	// AllOn is the verification: the model with Thresholds stored in it, replayed with every
	// keyword on.
	AllOn   allOn        `json:"all_keywords_on"`
	Uniform *uniformPick `json:"uniform_threshold,omitempty"`
	Replays int          `json:"replays"`
	// The stream the choice was made on.
	Model      string `json:"model,omitempty"`
	Clips      string `json:"clips,omitempty"`
	Background string `json:"background,omitempty"`
	RealDir    string `json:"real_dir,omitempty"`
	Seed       uint64 `json:"seed"`
	// Gate is the gate the model scored behind: the thresholds hold behind it (`run --model
	// FILE` puts none in front of a model other than the default; model.gate or --gate does).
	Gate  *gateInfo `json:"gate,omitempty"`
	Wrote string    `json:"wrote_model,omitempty"`
	// MaxMiss is -pick-miss's share of clips each keyword may miss alone (0 with -pick).
	MaxMiss float64 `json:"max_miss_alone,omitempty"`
	// Clean is -clean-miss's floor and the clips alone in silence at the chosen thresholds.
	Clean *cleanCheck `json:"clips_in_silence,omitempty"`

	curves map[string][]point // each keyword's sweep, for -calibrate
}

// extraMargin is how many false alarms above the budget a keyword's candidate threshold may
// have when swept alone: with every keyword on, another keyword's detection can silence
// some of them.
const extraMargin = 3

// pickCandidates are the thresholds the picker tries for one keyword: of its swept points,
// for each number of false alarms (alone) the one with the lowest miss rate (then the
// highest threshold), keeping only those that miss less than every point with fewer false
// alarms, and none with more than limit false alarms beyond the first. Fewest false alarms
// first.
func pickCandidates(pts []point, limit int) []point {
	s := slices.Clone(pts)
	slices.SortStableFunc(s, func(a, b point) int {
		if a.FalseAlarms != b.FalseAlarms {
			return a.FalseAlarms - b.FalseAlarms
		}
		if c := cmpFloat(a.MissRate, b.MissRate); c != 0 {
			return c
		}
		return cmpFloat(b.Threshold, a.Threshold)
	})
	var out []point
	for _, p := range s {
		if len(out) > 0 && (p.FalseAlarms > limit || p.MissRate >= out[len(out)-1].MissRate) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// errUnreachable says that no thresholds found keep the whole device within the budget.
var errUnreachable = errors.New("budget not reached")

// pick chooses one threshold per keyword (of keywords, each among its swept points in
// curves) so that with every keyword on at once, replaying the real detector at the
// model's smoothing, patience and refractory period, the stream's false alarms of all
// keywords together fit perHour, at the lowest mean miss rate over the keywords.
//
// The search is a coordinate descent over the candidates (pickCandidates): from a start,
// it moves one keyword to another candidate while that improves, in this order, the false
// alarms above the budget, the mean miss rate and the total false alarms, every figure
// measured by an all-keywords-on replay. It starts twice, from each keyword's safest
// candidate and from the best combination by the keywords' figures alone (a knapsack over
// their false alarms: alone they would fit the budget, together they may not), and keeps
// the better. The result is verified by replaying the model with the thresholds stored in
// its metadata. When nothing fits the budget, the result holds the fewest false alarms
// found and the error wraps errUnreachable.
func (st *stream) pick(m *infer.Model, keywords []string, curves map[string][]point, perHour float64, tol time.Duration) (pickResult, error) {
	h := st.hours()
	res := pickResult{PerHour: perHour, Hours: h, MaxFalseAlarms: int(math.Floor(perHour*h + 1e-9))}
	c := res.MaxFalseAlarms
	cands := make([][]point, len(keywords))
	for i, kw := range keywords {
		if cands[i] = pickCandidates(curves[kw], c+extraMargin); len(cands[i]) == 0 {
			return res, fmt.Errorf("pick: no swept thresholds for %s", kw)
		}
	}
	thresholds := func(at []int) map[string]float64 {
		th := map[string]float64{}
		for i, kw := range keywords {
			th[kw] = cands[i][at[i]].Threshold
		}
		return th
	}
	type state struct {
		at []int
		a  allOn
	}
	seen := map[string]allOn{}
	replay := func(at []int) (state, error) {
		k := fmt.Sprint(at)
		if a, ok := seen[k]; ok {
			return state{slices.Clone(at), a}, nil
		}
		a, err := st.allOn(withThresholds(m, thresholds(at)), nil, tol)
		res.Replays++
		seen[k] = a
		return state{slices.Clone(at), a}, err
	}
	excess := func(a allOn) int { return max(0, a.FalseAlarms-c) }
	better := func(x, y allOn) bool {
		if ex, ey := excess(x), excess(y); ex != ey {
			return ex < ey
		}
		if math.Abs(x.MissRate-y.MissRate) > 1e-12 {
			return x.MissRate < y.MissRate
		}
		return x.FalseAlarms < y.FalseAlarms
	}
	descend := func(at []int) (state, error) {
		cur, err := replay(at)
		if err != nil {
			return cur, err
		}
		for {
			best := cur
			for i := range keywords {
				for j := range cands[i] {
					if j == cur.at[i] {
						continue
					}
					next := slices.Clone(cur.at)
					next[i] = j
					s, err := replay(next)
					if err != nil {
						return cur, err
					}
					if better(s.a, best.a) {
						best = s
					}
				}
			}
			if !better(best.a, cur.a) {
				return cur, nil
			}
			cur = best
		}
	}
	starts := [][]int{make([]int, len(keywords))}
	if k := knapsack(cands, c); k != nil {
		starts = append(starts, k)
	}
	var best *state
	for _, at := range starts {
		s, err := descend(at)
		if err != nil {
			return res, err
		}
		if best == nil || better(s.a, best.a) {
			best = &s
		}
	}

	// Verify: the model with the thresholds stored, replayed as `run` would run it.
	res.Thresholds = thresholds(best.at)
	a, err := st.allOn(withThresholds(m, res.Thresholds), nil, tol)
	if err != nil {
		return res, err
	}
	res.Replays++
	res.AllOn = a
	res.Reached = within(a.FalseAlarms, h, perHour)

	// The best single threshold for all keywords, for comparison.
	u := uniformPick{}
	for _, t := range sensitivityGrid() {
		th := map[string]float64{}
		for _, kw := range keywords {
			th[kw] = t
		}
		a, err := st.allOn(withThresholds(m, th), nil, tol)
		if err != nil {
			return res, err
		}
		res.Replays++
		ok := within(a.FalseAlarms, h, perHour)
		var take bool
		switch {
		case u.AllOn.Keywords == nil:
			take = true
		case ok != u.Reached:
			take = ok
		case !ok:
			take = a.FalseAlarms < u.AllOn.FalseAlarms
		case math.Abs(a.MissRate-u.AllOn.MissRate) > 1e-12:
			take = a.MissRate < u.AllOn.MissRate
		default: // of equal miss rates, fewer false alarms, then the higher threshold
			take = a.FalseAlarms <= u.AllOn.FalseAlarms
		}
		if take {
			u = uniformPick{Threshold: t, Reached: ok, AllOn: a}
		}
	}
	res.Uniform = &u

	if !res.Reached {
		return res, fmt.Errorf("%w: no thresholds found keep all keywords together within %g false alarms per hour on this stream (at most %d in %.2f h): the fewest found is %d (%s), at thresholds %v",
			errUnreachable, perHour, c, h, a.FalseAlarms, a.byKeyword(), res.Thresholds)
	}
	return res, nil
}

// knapsack picks one candidate per keyword by the keywords' figures alone: the lowest sum
// of miss rates whose false alarms add up to at most c. nil when even the safest
// candidates add up to more.
func knapsack(cands [][]point, c int) []int {
	type cell struct {
		miss float64
		at   []int
	}
	dp := map[int]cell{0: {}}
	for _, cs := range cands {
		next := map[int]cell{}
		for used, v := range dp {
			for j, p := range cs {
				u := used + p.FalseAlarms
				if u > c {
					continue
				}
				m := v.miss + p.MissRate
				if old, ok := next[u]; !ok || m < old.miss-1e-12 {
					next[u] = cell{m, append(slices.Clone(v.at), j)}
				}
			}
		}
		if dp = next; len(dp) == 0 {
			return nil
		}
	}
	var best *cell
	for _, u := range slices.Sorted(maps.Keys(dp)) {
		if v := dp[u]; best == nil || v.miss < best.miss-1e-12 {
			best = &v
		}
	}
	return best.at
}

// refineBudgets are the false-alarm rates whose crossings the sweep bisects for -pick:
// each keyword's lowest threshold with at most 0, 1, ... c+extraMargin false alarms alone.
func refineBudgets(perHour, hours float64) []float64 {
	c := int(math.Floor(perHour*hours+1e-9)) + extraMargin
	var out []float64
	for n := 0; n <= min(c, 50); n++ {
		out = append(out, (float64(n)+0.5)/hours)
	}
	return out
}

// checkPick refuses a threshold choice on the validation share, which must stay unseen.
func (o options) checkPick() error {
	switch {
	case !(o.pick >= 0):
		return fmt.Errorf("-pick %v: want a number of false alarms per hour", o.pick)
	case !(o.pickMiss >= 0 && o.pickMiss < 1):
		return fmt.Errorf("-pick-miss %v: want a share of clips, 0 < share < 1", o.pickMiss)
	case o.pick > 0 && o.pickMiss > 0:
		return errors.New("-pick and -pick-miss are two ways to choose: give one")
	case o.pick == 0 && o.pickMiss == 0 && o.writeModel != "":
		return errors.New("-write-model stores the thresholds -pick or -pick-miss chooses: give one of them too")
	case !(o.cleanMiss >= 0 && o.cleanMiss < 1):
		return fmt.Errorf("-clean-miss %v: want a share of clips, 0 <= share < 1", o.cleanMiss)
	case o.cleanMiss > 0 && o.pick == 0 && o.pickMiss == 0:
		return errors.New("-clean-miss bounds the thresholds -pick or -pick-miss chooses: give one of them too")
	case o.calibrate && o.writeModel == "":
		return errors.New("-calibrate stores the calibration in the model -write-model writes: give -write-model too")
	case o.pick == 0 && o.pickMiss == 0:
		return nil
	case o.split != "" && o.set == "validation",
		o.background == "real" && filepath.Base(filepath.Clean(o.real)) == "validation":
		return errors.New("-pick and -pick-miss choose thresholds: run them on the selection share (-set selection -real .../selection), never on validation, which no choice may see")
	}
	return nil
}

// writePicked writes picked.json, and with -write-model a copy of the model measured with
// the chosen thresholds (and the gate's blend weight they were chosen with) in its
// detection metadata, which it then reads back and replays
// to check that it gives the figures of the pick.
func writePicked(p *pickResult, st *stream, modelBytes []byte, out string, o options) error {
	if p.Reached && o.writeModel != "" {
		m, err := infer.Parse(modelBytes, o.model)
		if err != nil {
			return err
		}
		out := withThresholds(m, p.Thresholds)
		if g := p.Gate; g != nil && g.Path != "none" {
			// The thresholds hold for the posteriors they were chosen on: the blend's.
			out.Detection.GateFuse = g.Fuse
		}
		if o.calibrate {
			if out, err = calibrated(out, slices.Sorted(maps.Keys(p.Thresholds)), p.curves, p.Hours); err != nil {
				return err
			}
		}
		if err := writeModelFile(out, o.writeModel); err != nil {
			return err
		}
		back, err := infer.Load(o.writeModel)
		if err != nil {
			return err
		}
		a, err := st.allOn(back, nil, o.tolerance)
		if err != nil {
			return err
		}
		if a.FalseAlarms != p.AllOn.FalseAlarms || a.MissRate != p.AllOn.MissRate {
			return fmt.Errorf("%s gives %d false alarms and a mean miss rate of %v, the pick %d and %v", o.writeModel, a.FalseAlarms, a.MissRate, p.AllOn.FalseAlarms, p.AllOn.MissRate)
		}
		p.Wrote = o.writeModel
	}
	js, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "picked.json"), append(js, '\n'), 0o644)
}

// writeModelFile writes m to path as `wakewordd bench --write-model` and bench/tune -write
// store new metadata: infer.Write of a copy of the model, which encodes every field of its
// metadata; here through writeAtomic, as every file this tool writes.
func writeModelFile(m *infer.Model, path string) error {
	var b bytes.Buffer
	if err := infer.Write(&b, m); err != nil {
		return err
	}
	return writeAtomic(path, b.Bytes())
}
