package main

// Thresholds by recall (-pick-miss) and the calibration ladder a model carries (-calibrate).

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/listener"
)

// calibrationFA and calibrationMiss place the rungs of a calibration ladder: for each
// false-alarm budget (per hour, each keyword alone) the lowest threshold that meets it, and
// for each miss rate the highest threshold that misses no more.
var (
	calibrationFA   = []float64{20, 10, 5, 2, 1, 0.5, 0}
	calibrationMiss = []float64{0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9}
)

// calibration is a keyword's ladder from its swept points (each keyword alone, as
// sweepKeyword returns them, by rising threshold) with shipped, the threshold the model
// ships for it, on the ladder too. ok is false when the points cannot make one (fewer than
// two distinct thresholds, or no clip ever fired).
func calibration(pts []point, hours, shipped float64) (cal infer.Calibration, ok bool) {
	byTh := map[float64]point{}
	for _, p := range pts {
		if p.Hits > 0 {
			cal.Ceiling = max(cal.Ceiling, p.Threshold)
		}
	}
	for _, b := range calibrationFA {
		if p, ok := atBudget(pts, hours, b); ok {
			byTh[p.Threshold] = p
		}
	}
	for _, m := range calibrationMiss {
		if p, ok := highestWithMiss(pts, m); ok {
			byTh[p.Threshold] = p
		}
	}
	if p, ok := nearest(pts, shipped); ok {
		byTh[p.Threshold] = p
	}
	for _, th := range slices.Sorted(maps.Keys(byTh)) {
		p := byTh[th]
		cal.Points = append(cal.Points, infer.CalibrationPoint{Threshold: th, FAPerHour: p.FAPerHour, MissRate: p.MissRate})
	}
	return cal, cal.Ceiling > 0 && len(cal.Points) >= 2
}

// highestWithMiss is the point with the highest threshold whose miss rate is at most miss.
func highestWithMiss(pts []point, miss float64) (best point, ok bool) {
	for _, p := range pts {
		if p.Events > 0 && p.MissRate <= miss+1e-12 && (!ok || p.Threshold > best.Threshold) {
			best, ok = p, true
		}
	}
	return best, ok
}

// nearest is the swept point closest to threshold th.
func nearest(pts []point, th float64) (best point, ok bool) {
	for _, p := range pts {
		if !ok || abs(p.Threshold-th) < abs(best.Threshold-th) {
			best, ok = p, true
		}
	}
	return best, ok
}

func abs(x float64) float64 { return max(x, -x) }

// pickByMiss chooses each keyword's threshold as the highest at which, alone on this
// stream, it misses at most miss of its clips: the operating point a product that must hear
// nine wake words in ten would choose, whatever the false alarms. The choice is verified as
// pick's is, with every keyword on.
func (st *stream) pickByMiss(m *infer.Model, keywords []string, curves map[string][]point, miss float64, tol time.Duration) (pickResult, error) {
	res := pickResult{Hours: st.hours(), Thresholds: map[string]float64{}, MaxMiss: miss}
	for _, kw := range keywords {
		p, ok := highestWithMiss(curves[kw], miss)
		if !ok {
			return res, fmt.Errorf("-pick-miss %g: %s misses more than that at every threshold", miss, kw)
		}
		res.Thresholds[kw] = p.Threshold
	}
	a, err := st.allOn(withThresholds(m, res.Thresholds), nil, tol)
	if err != nil {
		return res, err
	}
	res.Replays++
	res.AllOn, res.Reached = a, true
	res.PerHour = a.FAPerHour
	return res, nil
}

// calibrated is m with each keyword's calibration ladder from curves in its detection
// metadata, around the thresholds m ships (after withThresholds, the picked ones).
func calibrated(m *infer.Model, keywords []string, curves map[string][]point, hours float64) (*infer.Model, error) {
	c := *m
	c.Detection.Calibration = map[string]infer.Calibration{}
	for _, kw := range keywords {
		cal, ok := calibration(curves[kw], hours, m.Detection.ThresholdFor(kw))
		if !ok {
			return nil, fmt.Errorf("-calibrate: the sweep of %s makes no ladder (no clip fired, or one threshold)", kw)
		}
		c.Detection.Calibration[kw] = cal
	}
	return &c, nil
}

// atSensitivity is m with the thresholds `wakewordd run --sensitivity s` gives each
// keyword (package listener, through m's calibration), and the model file with them.
func atSensitivity(m *infer.Model, s float64) (*infer.Model, []byte, error) {
	c := config.Default()
	c.Detect.Sensitivity = &s
	if err := c.Validate(nil); err != nil {
		return nil, nil, fmt.Errorf("-sensitivity: %w", err)
	}
	p, err := listener.MergePolicy(c, nil, m)
	if err != nil {
		return nil, nil, fmt.Errorf("-sensitivity: %w", err)
	}
	th := map[string]float64{}
	for kw, r := range p.Rules {
		th[kw] = r.Threshold
	}
	out := withThresholds(m, th)
	var b bytes.Buffer
	if err := infer.Write(&b, out); err != nil {
		return nil, nil, err
	}
	return out, b.Bytes(), nil
}
