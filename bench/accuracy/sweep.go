package main

import (
	"math"
	"slices"
	"sort"
	"time"

	"github.com/wakewordd/wakewordd/detect"
	"github.com/wakewordd/wakewordd/eval"
	"golang.org/x/sync/errgroup"
)

// stream is the scored stream: each segment's posteriors, placed at its offset, and the
// ground truth of the whole stream.
type stream struct {
	classes []string
	segs    []segResult
	truth   []eval.Event // sorted by start
	length  time.Duration
}

func sampleTime(n int) time.Duration { return time.Duration(n) * time.Second / rate }

// hours is the length of the stream: the false-alarm rate of every keyword is counted
// over all of it.
func (st *stream) hours() float64 { return st.length.Hours() }

// detections replays the detector over the cached posteriors, segment by segment (each
// segment starts with a fresh detector, as it started with a fresh engine), and returns
// the detections at stream times. It is the real detect.Detector: the same code `run`
// calls every hop.
func (st *stream) detections(def detect.Rule, rules map[string]detect.Rule) ([]detect.Detection, error) {
	d, err := detect.New(st.classes, def, rules)
	if err != nil {
		return nil, err
	}
	c := len(st.classes)
	var out []detect.Detection
	for _, s := range st.segs {
		d.Reset()
		off := sampleTime(s.Start)
		for h := range s.Hops {
			at := time.Duration(s.FirstAtNS + int64(h)*s.HopNS)
			if det, ok := d.Push(at, s.probs[h*c:(h+1)*c]); ok {
				det.At += off
				out = append(out, det)
			}
		}
	}
	return out, nil
}

// matchKeyword counts the hits and false alarms of one keyword's detections. events are
// that keyword's spoken instances, sorted by start; dets the times it was detected, in
// order. A detection at a time in [start, end+tol] of an event that has no hit yet is that
// event's hit (the earliest such event); every other detection is a false alarm: one
// outside every span of the keyword (including one inside another keyword's clip: the
// keyword fired on the wrong word) and a second one within the same span. This is
// eval.MatchStream's rule, restricted to one keyword, in O((n+m) log m) rather than
// O(n m), as the sweep matches thousands of times.
func matchKeyword(events []eval.Event, dets []time.Duration, tol time.Duration) (hits, falseAlarms int) {
	for _, hit := range matchHits(events, dets, tol) {
		if hit {
			hits++
		} else {
			falseAlarms++
		}
	}
	return hits, falseAlarms
}

// matchHits reports, for each detection in order, whether it is a hit (matchKeyword).
func matchHits(events []eval.Event, dets []time.Duration, tol time.Duration) []bool {
	var longest time.Duration
	for _, e := range events {
		longest = max(longest, e.End-e.Start)
	}
	used := make([]bool, len(events))
	hits := make([]bool, len(dets))
	for j, a := range dets {
		// No event that starts before a-longest-tol can still be open at a.
		i := sort.Search(len(events), func(i int) bool { return events[i].Start >= a-longest-tol })
		for ; i < len(events) && events[i].Start <= a; i++ {
			if !used[i] && a <= events[i].End+tol {
				used[i], hits[j] = true, true
				break
			}
		}
	}
	return hits
}

// point is one operating point of a keyword's detector.
type point struct {
	Threshold   float64 `json:"threshold"`
	Hits        int     `json:"hits"`
	Events      int     `json:"events"`
	FalseAlarms int     `json:"false_alarms"`
	MissRate    float64 `json:"miss_rate"`
	FAPerHour   float64 `json:"false_alarms_per_hour"`
}

// of returns kw's clips in the ground truth and the times of kw's detections, in the
// order they came.
func (st *stream) of(kw string, dets []detect.Detection) ([]eval.Event, []time.Duration) {
	var events []eval.Event
	for _, e := range st.truth {
		if e.Keyword == kw {
			events = append(events, e)
		}
	}
	var at []time.Duration
	for _, d := range dets {
		if d.Keyword == kw {
			at = append(at, d.At)
		}
	}
	return events, at
}

// score turns a keyword's detections into an operating point.
func (st *stream) score(kw string, dets []detect.Detection, tol time.Duration) point {
	events, at := st.of(kw, dets)
	p := point{Events: len(events)}
	p.Hits, p.FalseAlarms = matchKeyword(events, at, tol)
	if p.Events > 0 {
		p.MissRate = 1 - float64(p.Hits)/float64(p.Events)
	}
	if h := st.hours(); h > 0 {
		p.FAPerHour = float64(p.FalseAlarms) / h
	}
	return p
}

// sensitivityGrid is the thresholds every keyword is swept over: 0.01 to 0.99 in steps of
// 0.01, then 1-10^-e for e from 2.1 to 6 in steps of 0.1 (a confident model's false
// alarms sit close to 1), then 1.
func sensitivityGrid() []float64 {
	var g []float64
	for i := 1; i <= 99; i++ {
		g = append(g, float64(i)/100)
	}
	for e := 21; e <= 60; e++ {
		g = append(g, 1-math.Pow(10, -float64(e)/10))
	}
	return append(g, 1)
}

// within reports whether n false alarms over hours meet a budget of perHour.
func within(n int, hours, perHour float64) bool { return float64(n) <= perHour*hours+1e-9 }

// refineSteps is how many bisection steps narrow each budget crossing.
const refineSteps = 10

// sweepKeyword replays the detector with only kw enabled (as a device listening for that
// one wake word would), its smoothing, patience and refractory period as the model sets
// them, at every threshold of grid; then, for each budget, bisects between the grid
// thresholds on either side of the budget to find the lowest threshold that meets it.
// The points come back sorted by threshold.
func (st *stream) sweepKeyword(kw string, def detect.Rule, rules map[string]detect.Rule, grid, budgets []float64, tol time.Duration) ([]point, error) {
	off := def
	off.Enabled = false
	base, ok := rules[kw]
	if !ok {
		base = def
	}
	at := func(t float64) (point, error) {
		r := base
		r.Enabled, r.Threshold = true, t
		dets, err := st.detections(off, map[string]detect.Rule{kw: r})
		if err != nil {
			return point{}, err
		}
		p := st.score(kw, dets, tol)
		p.Threshold = t
		return p, nil
	}
	var pts []point
	for _, t := range grid {
		p, err := at(t)
		if err != nil {
			return nil, err
		}
		pts = append(pts, p)
	}
	h := st.hours()
	for _, b := range budgets {
		slices.SortFunc(pts, func(a, b point) int { return cmpFloat(a.Threshold, b.Threshold) })
		i := slices.IndexFunc(pts, func(p point) bool { return within(p.FalseAlarms, h, b) })
		if i <= 0 {
			continue // even the highest threshold fails, or the lowest already meets it
		}
		lo, hi := pts[i-1].Threshold, pts[i].Threshold
		for range refineSteps {
			mid := (lo + hi) / 2
			p, err := at(mid)
			if err != nil {
				return nil, err
			}
			pts = append(pts, p)
			if within(p.FalseAlarms, h, b) {
				hi = mid
			} else {
				lo = mid
			}
		}
	}
	slices.SortFunc(pts, func(a, b point) int { return cmpFloat(a.Threshold, b.Threshold) })
	return pts, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// atBudget is the operating point for a false-alarm budget: of the swept points whose
// false alarms fit perHour over hours, the one with the lowest miss rate (then the fewest
// false alarms, then the highest threshold). There is no interpolation between points:
// every figure reported is one a threshold actually achieved. When no point fits, ok is
// false and the miss rate is 1 (only a detector that never fires meets the budget).
func atBudget(pts []point, hours, perHour float64) (best point, ok bool) {
	for _, p := range pts {
		if !within(p.FalseAlarms, hours, perHour) {
			continue
		}
		better := !ok || p.MissRate < best.MissRate ||
			(p.MissRate == best.MissRate && (p.FalseAlarms < best.FalseAlarms ||
				(p.FalseAlarms == best.FalseAlarms && p.Threshold > best.Threshold)))
		if better {
			best, ok = p, true
		}
	}
	if !ok {
		best = point{MissRate: 1}
		if len(pts) > 0 {
			best.Events = pts[0].Events
		}
	}
	return best, ok
}

// frontier is the DET curve drawn: for each false-alarm rate reached, the lowest miss rate
// at that rate or below, as steps in increasing false-alarm rate. Reading it at a budget
// gives atBudget's figure.
func frontier(pts []point) []point {
	s := slices.Clone(pts)
	slices.SortStableFunc(s, func(a, b point) int {
		if c := cmpFloat(a.FAPerHour, b.FAPerHour); c != 0 {
			return c
		}
		return cmpFloat(a.MissRate, b.MissRate)
	})
	var out []point
	for _, p := range s {
		// Sorted so, the first point at each rate has its lowest miss rate.
		if len(out) == 0 || p.MissRate < out[len(out)-1].MissRate {
			out = append(out, p)
		}
	}
	return out
}

// sweepAll sweeps every keyword, jobs at a time.
func (st *stream) sweepAll(kws []string, def detect.Rule, rules map[string]detect.Rule, grid, budgets []float64, tol time.Duration, jobs int) (map[string][]point, error) {
	pts := make([][]point, len(kws))
	var g errgroup.Group
	g.SetLimit(max(jobs, 1))
	for i, kw := range kws {
		g.Go(func() (err error) {
			pts[i], err = st.sweepKeyword(kw, def, rules, grid, budgets, tol)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make(map[string][]point, len(kws))
	for i, kw := range kws {
		out[kw] = pts[i]
	}
	return out, nil
}

// late counts kw's false alarms that would be hits with window more tolerance: detections
// that came, but too long after the clip.
func (st *stream) late(kw string, dets []detect.Detection, tol, window time.Duration) int {
	events, at := st.of(kw, dets)
	_, fa := matchKeyword(events, at, tol)
	_, faWide := matchKeyword(events, at, tol+window)
	return fa - faWide
}

// latency is, for each of kw's clips that kw was detected on within window after its end,
// how long after the end of the voiced part the first such detection came (negative:
// before the end), sorted.
func (st *stream) latency(kw string, dets []detect.Detection, window time.Duration) []time.Duration {
	_, at := st.of(kw, dets)
	var out []time.Duration
	for _, e := range st.truth {
		if e.Keyword != kw {
			continue
		}
		i := sort.Search(len(at), func(i int) bool { return at[i] >= e.Start })
		if i < len(at) && at[i] <= e.End+window {
			out = append(out, at[i]-e.End)
		}
	}
	slices.Sort(out)
	return out
}

// scorePeaks returns, for each clip in the ground truth, how long after its end the
// keyword's posterior was highest, between the clip's start and `after` past its end,
// sorted. It shows how soon a model is sure, whatever the threshold: a peak later than the
// hit tolerance leaves a clip to be detected late or not at all.
func (st *stream) scorePeaks(after time.Duration) []time.Duration {
	c := len(st.classes)
	var out []time.Duration
	for _, e := range st.truth {
		k := slices.Index(st.classes, e.Keyword)
		if k < 0 {
			continue
		}
		best, peak := float32(-1), time.Duration(0)
		for _, s := range st.segs {
			off := sampleTime(s.Start)
			if e.Start > off+sampleTime(s.Samples) || e.End+after < off {
				continue
			}
			for h := range s.Hops {
				at := off + time.Duration(s.FirstAtNS+int64(h)*s.HopNS)
				if at >= e.Start && at <= e.End+after && s.probs[h*c+k] > best {
					best, peak = s.probs[h*c+k], at-e.End
				}
			}
		}
		if best >= 0 {
			out = append(out, peak)
		}
	}
	slices.Sort(out)
	return out
}
