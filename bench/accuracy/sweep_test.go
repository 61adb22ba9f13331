package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/wakewordd/wakewordd/detect"
	"github.com/wakewordd/wakewordd/eval"
)

func sec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func TestMatchHitWithinSpanPlusTolerance(t *testing.T) {
	events := []eval.Event{{Keyword: "a", Start: sec(10), End: sec(11)}}
	tol := 500 * time.Millisecond
	for _, c := range []struct {
		at  float64
		hit bool
	}{
		{9.999, false}, // before the clip starts
		{10, true},     // at the start
		{10.7, true},   // inside
		{11.5, true},   // at the end of the tolerance
		{11.501, false},
		{30, false},
	} {
		hits, fa := matchKeyword(events, []time.Duration{sec(c.at)}, tol)
		if want := map[bool][2]int{true: {1, 0}, false: {0, 1}}[c.hit]; [2]int{hits, fa} != want {
			t.Errorf("detection at %v s: %d hits, %d false alarms, want %v", c.at, hits, fa, want)
		}
	}
}

func TestMatchOneHitPerClip(t *testing.T) {
	events := []eval.Event{{Keyword: "a", Start: sec(10), End: sec(11)}, {Keyword: "a", Start: sec(20), End: sec(21)}}
	// Two detections within the first clip: the second is a false alarm, and it must not
	// be credited to the second clip.
	hits, fa := matchKeyword(events, []time.Duration{sec(10.5), sec(11.2)}, 500*time.Millisecond)
	if hits != 1 || fa != 1 {
		t.Fatalf("%d hits, %d false alarms, want 1 and 1", hits, fa)
	}
	// Overlapping spans: each detection takes the earliest clip still open.
	events = []eval.Event{{Keyword: "a", Start: sec(10), End: sec(14)}, {Keyword: "a", Start: sec(11), End: sec(12)}}
	if hits, fa := matchKeyword(events, []time.Duration{sec(11.5), sec(12.2)}, 500*time.Millisecond); hits != 2 || fa != 0 {
		t.Fatalf("overlapping clips: %d hits, %d false alarms, want 2 and 0", hits, fa)
	}
}

// matchKeyword must count exactly as eval.MatchStream (the rule `wakewordd eval --stream`
// uses) does for one keyword's detections.
func TestMatchAgreesWithMatchStream(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 500 {
		var truth []eval.Event
		for range rng.IntN(12) {
			s := sec(100 * rng.Float64())
			kw := []string{"a", "b"}[rng.IntN(2)]
			truth = append(truth, eval.Event{Keyword: kw, Start: s, End: s + sec(3*rng.Float64())})
		}
		slices.SortStableFunc(truth, func(a, b eval.Event) int { return int(a.Start - b.Start) })
		var dets []detect.Detection
		for range rng.IntN(15) {
			dets = append(dets, detect.Detection{Keyword: "a", At: sec(105 * rng.Float64())})
		}
		slices.SortFunc(dets, func(a, b detect.Detection) int { return int(a.At - b.At) })
		tol := sec(rng.Float64())
		want := eval.MatchStream(truth, dets, sec(110), tol)
		st := &stream{truth: truth, length: sec(110)}
		got := st.score("a", dets, tol)
		if got.Hits != want.PerKeyword["a"][0] || got.Events != want.PerKeyword["a"][1] || got.FalseAlarms != want.FalseAlarms {
			t.Fatalf("trial %d: hits %d/%d, %d false alarms; MatchStream %v, %d", trial, got.Hits, got.Events, got.FalseAlarms, want.PerKeyword["a"], want.FalseAlarms)
		}
	}
}

func TestDetectionDuringAnotherKeywordIsFalseAlarm(t *testing.T) {
	st := &stream{length: time.Hour, truth: []eval.Event{
		{Keyword: "a", Start: sec(10), End: sec(11)},
		{Keyword: "b", Start: sec(20), End: sec(21)},
	}}
	dets := []detect.Detection{{Keyword: "a", At: sec(10.5)}, {Keyword: "a", At: sec(20.5)}, {Keyword: "b", At: sec(10.6)}}
	a := st.score("a", dets, 500*time.Millisecond)
	if a.Hits != 1 || a.Events != 1 || a.FalseAlarms != 1 || a.FAPerHour != 1 || a.MissRate != 0 {
		t.Errorf("a: %+v, want 1/1 hit, 1 false alarm (on b's clip), 1 per hour", a)
	}
	b := st.score("b", dets, 500*time.Millisecond)
	if b.Hits != 0 || b.FalseAlarms != 1 || b.MissRate != 1 {
		t.Errorf("b: %+v, want its clip missed and 1 false alarm (on a's clip)", b)
	}
}

func TestAtBudget(t *testing.T) {
	const hours = 10
	pts := []point{
		{Threshold: 0.99, FalseAlarms: 0, MissRate: 0.30},
		{Threshold: 0.95, FalseAlarms: 1, MissRate: 0.20}, // 0.1/h: exactly the budget
		{Threshold: 0.90, FalseAlarms: 2, MissRate: 0.10},
		{Threshold: 0.80, FalseAlarms: 5, MissRate: 0.05}, // 0.5/h
		{Threshold: 0.70, FalseAlarms: 9, MissRate: 0.01},
	}
	for i := range pts {
		pts[i].FAPerHour = float64(pts[i].FalseAlarms) / hours
	}
	for _, c := range []struct {
		budget, miss, threshold float64
	}{
		{0.1, 0.20, 0.95}, // a budget met exactly counts
		{0.15, 0.20, 0.95},
		// No interpolation: between 0.1/h (20 %) and 0.2/h (10 %) a linear reading would
		// claim 15 % at 0.15/h, a point no threshold reached.
		{0.5, 0.05, 0.80},
		{0.05, 0.30, 0.99},
	} {
		p, ok := atBudget(pts, hours, c.budget)
		if !ok || p.MissRate != c.miss || p.Threshold != c.threshold {
			t.Errorf("budget %v/h: %+v (ok %v), want miss %v at threshold %v", c.budget, p, ok, c.miss, c.threshold)
		}
	}
	// A lower threshold with the same miss rate and more false alarms is not better; of
	// equal points the higher threshold wins.
	tie := []point{{Threshold: 0.5, FalseAlarms: 1, MissRate: 0.1}, {Threshold: 0.6, FalseAlarms: 0, MissRate: 0.1}, {Threshold: 0.7, FalseAlarms: 0, MissRate: 0.1}}
	if p, _ := atBudget(tie, hours, 0.1); p.Threshold != 0.7 {
		t.Errorf("ties: threshold %v, want 0.7", p.Threshold)
	}
	// Unreachable: every point has too many false alarms.
	p, ok := atBudget([]point{{Threshold: 1, FalseAlarms: 3, MissRate: 0.5, Events: 7}}, hours, 0.1)
	if ok || p.MissRate != 1 || p.Events != 7 {
		t.Errorf("unreachable budget: %+v ok %v, want miss rate 1 and not ok", p, ok)
	}
}

func TestFrontier(t *testing.T) {
	pts := []point{
		{Threshold: 0.9, FAPerHour: 0, MissRate: 0.5},
		{Threshold: 0.8, FAPerHour: 0, MissRate: 0.4},
		{Threshold: 0.7, FAPerHour: 0.1, MissRate: 0.45}, // worse than a point with fewer false alarms
		{Threshold: 0.6, FAPerHour: 0.2, MissRate: 0.2},
		{Threshold: 0.5, FAPerHour: 0.2, MissRate: 0.25},
	}
	for i := range pts {
		pts[i].FalseAlarms = int(math.Round(10 * pts[i].FAPerHour))
	}
	f := frontier(pts)
	want := []float64{0.8, 0.6}
	var got []float64
	for _, p := range f {
		got = append(got, p.Threshold)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("frontier thresholds %v, want %v", got, want)
	}
	for _, b := range []float64{0, 0.1, 0.15, 0.2, 1} {
		// Reading the curve at a budget gives atBudget's miss rate.
		var read float64 = 1
		for _, p := range f {
			if p.FAPerHour <= b {
				read = p.MissRate
			}
		}
		p, _ := atBudget(pts, 10, b)
		if p.MissRate != read {
			t.Errorf("budget %v: curve reads %v, atBudget %v", b, read, p.MissRate)
		}
	}
}

// synthetic builds a stream of one segment whose posteriors are given per hop (100 ms
// hops from 1 s on): classes silence, unknown, a, b.
func synthetic(hops int, peaks map[int][2]float32) *stream {
	classes := []string{"silence", "unknown", "a", "b"}
	s := segResult{Samples: (hops + 20) * rate / 10, Hops: hops, FirstAtNS: int64(time.Second), HopNS: int64(100 * time.Millisecond)}
	s.probs = make([]float32, hops*len(classes))
	for h := range hops {
		p := s.probs[h*4 : h*4+4]
		p[0] = 1
		if v, ok := peaks[h]; ok {
			p[2], p[3] = v[0], v[1]
			p[0] = 1 - v[0] - v[1]
		}
	}
	return &stream{classes: classes, segs: []segResult{s}, length: sampleTime(s.Samples)}
}

// hopAt is the stream time of hop h in synthetic streams.
func hopAt(h int) time.Duration { return time.Second + time.Duration(h)*100*time.Millisecond }

func TestSweepThroughDetector(t *testing.T) {
	// Keyword a: clips at hops 20 (peak 0.875) and 60 (peak 0.625); false alarms at hop 40
	// (0.75), hop 80 (0.375) and hop 140 (0.25); b peaks on its own clip at hop 100 and
	// outside it at hop 140, where a peaks too.
	st := synthetic(3600*10, map[int][2]float32{
		20: {0.875, 0}, 40: {0.75, 0}, 60: {0.625, 0}, 80: {0.375, 0}, 100: {0, 0.5}, 140: {0.25, 0.5},
	})
	st.truth = []eval.Event{
		{Keyword: "a", Start: hopAt(20) - sec(0.8), End: hopAt(20) - sec(0.3)},
		{Keyword: "a", Start: hopAt(60) - sec(0.8), End: hopAt(60) - sec(0.3)},
		{Keyword: "b", Start: hopAt(100) - sec(0.8), End: hopAt(100) - sec(0.3)},
	}
	def := detect.Rule{Enabled: true, Threshold: 0.5, Smoothing: 1, Patience: 1, Refractory: 2 * time.Second}
	hours := st.hours()
	tol := 500 * time.Millisecond
	pts, err := st.sweepKeyword("a", def, nil, sensitivityGrid(), []float64{0.5 / hours, 1.5 / hours}, tol)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pts {
		var hits, fa int
		switch th := p.Threshold; {
		case th <= 0.25:
			hits, fa = 2, 3
		case th <= 0.375:
			hits, fa = 2, 2
		case th <= 0.625:
			hits, fa = 2, 1
		case th <= 0.75:
			hits, fa = 1, 1
		case th <= 0.875:
			hits, fa = 1, 0
		}
		if p.Hits != hits || p.FalseAlarms != fa || p.Events != 2 {
			t.Fatalf("threshold %v: %d/%d hits, %d false alarms; want %d/2, %d", p.Threshold, p.Hits, p.Events, p.FalseAlarms, hits, fa)
		}
	}
	// Bisection narrows each budget's crossing to just above the false alarm's score.
	near := func(score float64) bool {
		return slices.ContainsFunc(pts, func(p point) bool {
			return p.Threshold > score && p.Threshold < score+0.01/math.Pow(2, refineSteps-1)
		})
	}
	if !near(0.75) || !near(0.375) {
		t.Errorf("no swept threshold just above the false alarms at 0.75 and 0.375")
	}
	// Budget under one false alarm: one clip found, at a threshold above 0.75 (of the
	// equally good thresholds, the highest).
	p, ok := atBudget(pts, hours, 0.5/hours)
	if !ok || p.MissRate != 0.5 || p.FalseAlarms != 0 || !(p.Threshold > 0.75 && p.Threshold <= 0.875) {
		t.Errorf("budget below one false alarm: %+v, want miss 0.5 at a threshold in (0.75, 0.875]", p)
	}
	// One false alarm allowed: both clips, above 0.375.
	p, ok = atBudget(pts, hours, 1.5/hours)
	if !ok || p.MissRate != 0 || p.FalseAlarms != 1 || !(p.Threshold > 0.375 && p.Threshold <= 0.625) {
		t.Errorf("budget of one false alarm: %+v, want miss 0 at a threshold in (0.375, 0.625]", p)
	}
	// b is swept alone: a's score never suppresses it.
	pb, err := st.sweepKeyword("b", def, nil, []float64{0.5}, nil, tol)
	if err != nil {
		t.Fatal(err)
	}
	if pb[0].Hits != 1 || pb[0].FalseAlarms != 1 {
		t.Errorf("b at 0.5: %+v, want its clip hit and one false alarm at hop 140", pb[0])
	}
}

func TestSweepUsesModelPolicy(t *testing.T) {
	// With patience 2, a single hop above the threshold never fires; two do.
	st := synthetic(200, map[int][2]float32{20: {0.9, 0}, 60: {0.9, 0}, 61: {0.9, 0}})
	st.truth = []eval.Event{{Keyword: "a", Start: hopAt(19), End: hopAt(20)}, {Keyword: "a", Start: hopAt(60), End: hopAt(61)}}
	def := detect.Rule{Enabled: true, Threshold: 0.5, Smoothing: 1, Patience: 2, Refractory: 2 * time.Second}
	pts, err := st.sweepKeyword("a", def, map[string]detect.Rule{"a": def}, []float64{0.5}, nil, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if pts[0].Hits != 1 || pts[0].FalseAlarms != 0 {
		t.Fatalf("patience 2: %+v, want 1 hit (the clip with two hops above), 0 false alarms", pts[0])
	}
}

func TestSegmentsReplayFromFreshDetector(t *testing.T) {
	// Two segments: the second's first hops must not be smoothed with the first's last.
	a := synthetic(10, map[int][2]float32{9: {0.875, 0}})
	b := synthetic(10, map[int][2]float32{0: {0.875, 0}})
	b.segs[0].Start = a.segs[0].Samples
	st := &stream{classes: a.classes, segs: []segResult{a.segs[0], b.segs[0]}, length: sampleTime(2 * a.segs[0].Samples)}
	def := detect.Rule{Enabled: true, Threshold: 0.875, Smoothing: 2, Patience: 1}
	dets, err := st.detections(def, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(dets) != 0 {
		t.Fatalf("smoothing over 2 hops carried across segments: %v", dets)
	}
	def.Smoothing = 1
	dets, _ = st.detections(def, nil)
	if len(dets) != 2 || dets[1].At != sampleTime(a.segs[0].Samples)+hopAt(0) {
		t.Fatalf("detections %v, want two, the second at the second segment's offset + 1 s", dets)
	}
}

func TestGrid(t *testing.T) {
	g := sensitivityGrid()
	if !slices.IsSorted(g) || g[0] != 0.01 || g[len(g)-1] != 1 || g[len(g)-2] < 0.99999 {
		t.Fatalf("grid not sorted from 0.01 to 1 with points near 1: %v", g)
	}
	for _, v := range g {
		if err := (detect.Rule{Threshold: v, Smoothing: 1, Patience: 1}).Validate(); err != nil {
			t.Fatalf("grid threshold %v: %v", v, err)
		}
	}
}

func TestScorePeaksAfterTheClipsEnd(t *testing.T) {
	// Two segments of 10 hops 0.1 s apart, classes silence and a; a clip of a in each.
	classes := []string{"silence", "a"}
	seg := func(start int, peakHop int) segResult {
		r := segResult{Start: start, Samples: rate, Hops: 10, FirstAtNS: 0, HopNS: int64(100 * time.Millisecond)}
		for h := range 10 {
			p := float32(0.1)
			if h == peakHop {
				p = 0.9
			}
			r.probs = append(r.probs, 1-p, p)
		}
		return r
	}
	st := &stream{classes: classes, segs: []segResult{seg(0, 7), seg(rate, 3)}, truth: []eval.Event{
		{Keyword: "a", Start: sec(0.2), End: sec(0.5)}, // peak at 0.7 s: 0.2 s after the end
		{Keyword: "a", Start: sec(1.1), End: sec(1.4)}, // peak at 1.3 s: 0.1 s before it
	}}
	got := st.scorePeaks(time.Second)
	if len(got) != 2 || abs(got[0].Seconds()+0.1) > 1e-9 || abs(got[1].Seconds()-0.2) > 1e-9 {
		t.Fatalf("peaks %v, want [-0.1s 0.2s]", got)
	}
	// A peak past the window after the clip is not the clip's: the first clip's highest
	// hop within 0.1 s of its end is then its first (all equal), 0.3 s before the end.
	if got := st.scorePeaks(100 * time.Millisecond); len(got) != 2 || abs(got[0].Seconds()+0.3) > 1e-9 || abs(got[1].Seconds()+0.1) > 1e-9 {
		t.Fatalf("peaks within 0.1 s of the end %v, want [-0.3s -0.1s]", got)
	}
}
