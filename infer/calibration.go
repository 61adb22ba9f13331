package infer

import (
	"fmt"
	"maps"
	"math"
	"slices"
)

// Calibration says what a keyword's thresholds mean on real audio: for a ladder of
// thresholds, the false alarms per hour on real negative speech and noise, and the share
// of real keyword clips missed, measured with the keyword alone on the selection share of
// the real data (bench/accuracy -calibrate). It lets users turn a sensitivity instead of a
// raw threshold.
type Calibration struct {
	// Ceiling is the highest threshold of the calibration's sweep at which any clip of the
	// keyword still fired: a threshold above it will hardly ever fire.
	Ceiling float64 `json:"ceiling"`
	// Points are the ladder, by rising threshold (so falling false alarms).
	Points []CalibrationPoint `json:"points"`
}

// CalibrationPoint is one measured operating point.
type CalibrationPoint struct {
	Threshold float64 `json:"threshold"`
	FAPerHour float64 `json:"fa_per_hour"`
	MissRate  float64 `json:"miss_rate"`
}

// maxCalibrationPoints bounds a ladder in a model file.
const maxCalibrationPoints = 256

// Validate checks a ladder as the model loader does.
func (c Calibration) Validate() error {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	if !(c.Ceiling > 0 && c.Ceiling <= 1) {
		return fmt.Errorf("ceiling %v, want 0 < ceiling <= 1", c.Ceiling)
	}
	if len(c.Points) < 2 || len(c.Points) > maxCalibrationPoints {
		return fmt.Errorf("%d points, want 2..%d", len(c.Points), maxCalibrationPoints)
	}
	for i, p := range c.Points {
		switch {
		case !(p.Threshold > 0 && p.Threshold <= 1):
			return fmt.Errorf("point %d: threshold %v, want 0 < threshold <= 1", i, p.Threshold)
		case i > 0 && !(p.Threshold > c.Points[i-1].Threshold):
			return fmt.Errorf("point %d: threshold %v not above the one before (%v)", i, p.Threshold, c.Points[i-1].Threshold)
		case !finite(p.FAPerHour) || p.FAPerHour < 0:
			return fmt.Errorf("point %d: fa_per_hour %v, want >= 0", i, p.FAPerHour)
		case !(p.MissRate >= 0 && p.MissRate <= 1):
			return fmt.Errorf("point %d: miss_rate %v, want 0..1", i, p.MissRate)
		}
	}
	return nil
}

func validateCalibration(cal map[string]Calibration, classes []string) error {
	for _, kw := range slices.Sorted(maps.Keys(cal)) {
		if !slices.Contains(classes, kw) {
			return fmt.Errorf("metadata \"detection\": calibration: %q is not a class", kw)
		}
		if err := cal[kw].Validate(); err != nil {
			return fmt.Errorf("metadata \"detection\": calibration[%q]: %v", kw, err)
		}
	}
	return nil
}

// Threshold maps a sensitivity in [0, 1] to a threshold on the ladder: 0.5 is shipped (the
// keyword's threshold as the model ships it), 0 the top of the ladder (fewest false alarms),
// 1 its bottom (fewest misses). Between measured points it moves evenly from one point to
// the next, interpolating in log(1 - threshold), since a confident model's scores crowd
// towards 1.
func (c Calibration) Threshold(sensitivity, shipped float64) float64 {
	pts := c.Points
	// The shipped threshold's place on the ladder, as a fractional index.
	k := float64(len(pts) - 1)
	for i := range pts {
		if pts[i].Threshold >= shipped {
			k = float64(i)
			if i > 0 {
				k = float64(i-1) + frac(gap(pts[i-1].Threshold), gap(pts[i].Threshold), gap(shipped))
			}
			break
		}
	}
	// Rising sensitivity walks down the ladder, from its top (index len-1) to index 0.
	top := float64(len(pts) - 1)
	var pos float64 // fractional index, 0 = lowest threshold
	if sensitivity <= 0.5 {
		pos = top - (top-k)*sensitivity/0.5
	} else {
		pos = k - k*(sensitivity-0.5)/0.5
	}
	i := min(int(pos), len(pts)-2)
	f := pos - float64(i)
	g := gap(pts[i].Threshold) + f*(gap(pts[i+1].Threshold)-gap(pts[i].Threshold))
	return math.Min(1, math.Max(1-math.Exp(g), pts[0].Threshold))
}

// gap is log(1 - t), with 1 itself a little below.
func gap(t float64) float64 { return math.Log(math.Max(1-t, 1e-9)) }

// frac is where x lies between a and b, 0..1.
func frac(a, b, x float64) float64 {
	if a == b {
		return 0
	}
	return math.Min(1, math.Max(0, (x-a)/(b-a)))
}

// At returns the false alarms per hour and miss rate the ladder gives at threshold th,
// interpolated between the points on either side (the nearest end beyond them).
func (c Calibration) At(th float64) (faPerHour, missRate float64) {
	pts := c.Points
	if th <= pts[0].Threshold {
		return pts[0].FAPerHour, pts[0].MissRate
	}
	for i := 1; i < len(pts); i++ {
		if th <= pts[i].Threshold {
			f := frac(gap(pts[i-1].Threshold), gap(pts[i].Threshold), gap(th))
			return pts[i-1].FAPerHour + f*(pts[i].FAPerHour-pts[i-1].FAPerHour),
				pts[i-1].MissRate + f*(pts[i].MissRate-pts[i-1].MissRate)
		}
	}
	last := pts[len(pts)-1]
	return last.FAPerHour, last.MissRate
}
