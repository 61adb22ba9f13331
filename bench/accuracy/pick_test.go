package main

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wakewordd/wakewordd/detect"
	"github.com/wakewordd/wakewordd/eval"
	"github.com/wakewordd/wakewordd/infer"
)

// interacting is a stream (one hour of 100 ms hops, classes silence, unknown, a, b) where
// the keywords together behave otherwise than alone:
//
//   - a's clips at hops 20 (a scores 0.625) and 60 (0.9375);
//   - b's clip ends at hop 200; b scores 0.5625 from hop 195 to 214;
//   - a scores 0.75 at hop 193, during b's clip: a false alarm of a;
//   - b scores 0.5 at hop 400 (nothing is said: a false alarm) and on its clip at hop 500,
//     and 0.5625 on its clip at hop 600.
//
// Alone, b fires at hop 195 (a hit) and then stays quiet for its refractory period. With
// both on, a's false alarm at 193 silences b for 2 s; b fires at 213, too late for its
// clip: a miss and a false alarm that neither keyword has alone.
func interacting() (*stream, *infer.Model) {
	peaks := map[int][2]float32{20: {0.625, 0}, 60: {0.9375, 0}, 193: {0.75, 0}, 400: {0, 0.5}, 500: {0, 0.5}, 600: {0, 0.5625}}
	for h := 195; h <= 214; h++ {
		peaks[h] = [2]float32{0, 0.5625}
	}
	st := synthetic(3600*10, peaks)
	st.truth = []eval.Event{
		{Keyword: "a", Start: hopAt(20) - sec(0.8), End: hopAt(20) - sec(0.3)},
		{Keyword: "a", Start: hopAt(60) - sec(0.8), End: hopAt(60) - sec(0.3)},
		{Keyword: "b", Start: hopAt(200) - sec(0.8), End: hopAt(200) - sec(0.3)},
		{Keyword: "b", Start: hopAt(500) - sec(0.8), End: hopAt(500) - sec(0.3)},
		{Keyword: "b", Start: hopAt(600) - sec(0.8), End: hopAt(600) - sec(0.3)},
	}
	m := &infer.Model{Classes: st.classes, Detection: infer.Detection{HopMS: 100, Threshold: 0.5, Smoothing: 1, Patience: 1, RefractoryS: 2}}
	return st, m
}

const tol = 500 * time.Millisecond

// direct replays the detector with every keyword on at thresholds th, without the code
// under test, and returns the false alarms of all keywords and the mean miss rate.
func direct(t *testing.T, st *stream, th map[string]float64) (int, float64) {
	t.Helper()
	def := detect.Rule{Enabled: true, Threshold: 0.5, Smoothing: 1, Patience: 1, Refractory: 2 * time.Second}
	rules := map[string]detect.Rule{}
	for kw, v := range th {
		r := def
		r.Threshold = v
		rules[kw] = r
	}
	dets, err := st.detections(def, rules)
	if err != nil {
		t.Fatal(err)
	}
	fa, miss := 0, 0.0
	for _, kw := range []string{"a", "b"} {
		p := st.score(kw, dets, tol)
		fa += p.FalseAlarms
		miss += p.MissRate / 2
	}
	return fa, miss
}

func TestAllOnIsNotTheSumOfKeywordsAlone(t *testing.T) {
	st, m := interacting()
	a, err := st.allOn(m, nil, tol)
	if err != nil {
		t.Fatal(err)
	}
	// Alone at 0.5: a has one false alarm (hop 193), b one (hop 400).
	alone := 0
	for _, kw := range []string{"a", "b"} {
		pts, err := st.sweepKeyword(kw, detect.Rule{Enabled: true, Threshold: 0.5, Smoothing: 1, Patience: 1, Refractory: 2 * time.Second}, nil, []float64{0.5}, nil, tol)
		if err != nil {
			t.Fatal(err)
		}
		alone += pts[0].FalseAlarms
	}
	fa, miss := direct(t, st, map[string]float64{"a": 0.5, "b": 0.5})
	if alone != 2 || a.FalseAlarms != 3 || a.FalseAlarms != fa || math.Abs(a.MissRate-miss) > 1e-12 || math.Abs(a.MissRate-1.0/6) > 1e-12 {
		t.Fatalf("all on: %d false alarms, mean miss %v; alone they add up to %d; a direct replay gives %d, %v (want 3 and 1/6: b's first clip missed, b late)",
			a.FalseAlarms, a.MissRate, alone, fa, miss)
	}
	if got := a.byKeyword(); got != "a 1, b 2" {
		t.Errorf("false alarms by keyword %q, want \"a 1, b 2\"", got)
	}
	// A keyword switched off neither fires nor silences the others.
	off, err := st.allOn(m, []string{"a"}, tol)
	if err != nil {
		t.Fatal(err)
	}
	if off.FalseAlarms != 1 || off.Keywords[0].On || off.Keywords[1].Hits != 3 {
		t.Errorf("a off: %+v, want b's clips hit and its one false alarm", off)
	}
}

func TestPickMeetsTheBudgetWithAllKeywordsOn(t *testing.T) {
	st, m := interacting()
	h := st.hours()
	budget := 1.5 / h // one false alarm on this stream
	def, rules, err := shippedRules(m)
	if err != nil {
		t.Fatal(err)
	}
	curves, err := st.sweepAll([]string{"a", "b"}, def, rules, sensitivityGrid(), refineBudgets(budget, h), tol, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Chosen by the keywords' figures alone, a would take clip 1 and the false alarm at 193,
	// b both clips and the false alarm at 400; together that is three false alarms.
	naive := map[string]float64{}
	for _, kw := range []string{"a", "b"} {
		p, ok := atBudget(curves[kw], h, budget)
		if !ok || p.MissRate != 0 {
			t.Fatalf("%s alone at one false alarm: %+v", kw, p)
		}
		naive[kw] = p.Threshold
	}
	if fa, _ := direct(t, st, naive); fa != 3 {
		t.Fatalf("the keywords' own choices give %d false alarms with both on, want 3 (the case this test is about)", fa)
	}

	p, err := st.pick(m, []string{"a", "b"}, curves, budget, tol)
	if err != nil {
		t.Fatal(err)
	}
	fa, miss := direct(t, st, p.Thresholds)
	if !p.Reached || fa > 1 || fa != p.AllOn.FalseAlarms || math.Abs(miss-p.AllOn.MissRate) > 1e-12 {
		t.Fatalf("picked %v: reached %v, %d false alarms and mean miss %v reported; a direct replay gives %d and %v; budget 1",
			p.Thresholds, p.Reached, p.AllOn.FalseAlarms, p.AllOn.MissRate, fa, miss)
	}
	// The best: a above its false alarm (clip 2 only), b low enough for both clips (and its
	// false alarm).
	if p.AllOn.MissRate != 0.25 || !(p.Thresholds["a"] > 0.75 && p.Thresholds["a"] <= 0.9375) || p.Thresholds["b"] > 0.5 {
		t.Errorf("picked %v with mean miss %v, want 0.25 with a in (0.75, 0.9375] and b <= 0.5", p.Thresholds, p.AllOn.MissRate)
	}
	// With no false alarm allowed, b must give up its clip at hop 500. (Alone, the keywords
	// would rather keep a's first clip than b's, but with both on that costs b's first clip
	// and two false alarms: only the descent over all-on replays finds the best.)
	zero, err := st.pick(m, []string{"a", "b"}, curves, 0.5/h, tol)
	if err != nil {
		t.Fatal(err)
	}
	if fa, _ := direct(t, st, zero.Thresholds); fa != 0 || math.Abs(zero.AllOn.MissRate-5.0/12) > 1e-12 || !(zero.Thresholds["b"] > 0.5 && zero.Thresholds["b"] <= 0.5625) {
		t.Errorf("no false alarm allowed: picked %v, %d false alarms, mean miss %v; want none, 5/12, b in (0.5, 0.5625]", zero.Thresholds, fa, zero.AllOn.MissRate)
	}
	// One threshold for both cannot do as well: b's clip scores below a's false alarm.
	if u := p.Uniform; u == nil || !u.Reached || !(u.AllOn.MissRate > p.AllOn.MissRate) || u.AllOn.MissRate != 0.5 {
		t.Errorf("uniform threshold %+v; want the budget met at a mean miss of 0.5, above the pick's", u)
	}
	if p.MaxFalseAlarms != 1 || p.Replays == 0 {
		t.Errorf("max false alarms %d, %d replays", p.MaxFalseAlarms, p.Replays)
	}
	// The model with the thresholds stored gives the same figures.
	a, err := st.allOn(withThresholds(m, p.Thresholds), nil, tol)
	if err != nil || a.FalseAlarms != p.AllOn.FalseAlarms || a.MissRate != p.AllOn.MissRate {
		t.Errorf("stored: %+v, %v", a, err)
	}
	if len(m.Detection.Thresholds) != 0 {
		t.Error("withThresholds changed the model it copied")
	}
}

func TestPickUnreachableBudget(t *testing.T) {
	st, m := interacting()
	// b is certain (posterior 1) for half a second where nothing is said: a false alarm at
	// any threshold.
	s := &st.segs[0]
	for h := 300; h < 305; h++ {
		p := s.probs[h*4 : h*4+4]
		p[0], p[2], p[3] = 0, 0, 1
	}
	h := st.hours()
	def, rules, err := shippedRules(m)
	if err != nil {
		t.Fatal(err)
	}
	budget := 0.5 / h // no false alarm at all
	curves, err := st.sweepAll([]string{"a", "b"}, def, rules, sensitivityGrid(), refineBudgets(budget, h), tol, 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.pick(m, []string{"a", "b"}, curves, budget, tol)
	if !errors.Is(err, errUnreachable) || p.Reached || p.AllOn.FalseAlarms != 1 {
		t.Fatalf("unreachable budget: %v, reached %v, %d false alarms; want errUnreachable and the fewest false alarms found (1)", err, p.Reached, p.AllOn.FalseAlarms)
	}
	if msg := err.Error(); !strings.Contains(msg, "b 1") || !strings.Contains(msg, "at most 0") {
		t.Errorf("message %q does not say which keyword fires and what was allowed", msg)
	}
	// With one false alarm allowed it is reachable again.
	if p, err := st.pick(m, []string{"a", "b"}, curves, 1.5/h, tol); err != nil || !p.Reached {
		t.Errorf("one false alarm allowed: %v", err)
	}
}

func TestPickCandidates(t *testing.T) {
	pts := []point{
		{Threshold: 0.99, FalseAlarms: 0, MissRate: 0.6},
		{Threshold: 0.98, FalseAlarms: 0, MissRate: 0.4},
		{Threshold: 0.97, FalseAlarms: 0, MissRate: 0.4}, // a tie: the higher threshold stays
		{Threshold: 0.9, FalseAlarms: 1, MissRate: 0.4},  // no better for a false alarm more
		{Threshold: 0.8, FalseAlarms: 2, MissRate: 0.2},
		{Threshold: 0.5, FalseAlarms: 9, MissRate: 0.1}, // over the limit
	}
	var got []float64
	for _, p := range pickCandidates(pts, 5) {
		got = append(got, p.Threshold)
	}
	if want := []float64{0.98, 0.8}; !slices.Equal(got, want) {
		t.Errorf("candidates %v, want %v", got, want)
	}
}

func TestPickRefusesValidation(t *testing.T) {
	for _, o := range []options{
		{pick: 0.5, split: "s.json", set: "validation", background: "tts"},
		{pick: 0.5, split: "s.json", set: "selection", background: "real", real: "/x/real/validation/"},
	} {
		if err := o.checkPick(); err == nil || !strings.Contains(err.Error(), "never on validation") {
			t.Errorf("%+v: %v", o, err)
		}
	}
	if err := (options{pick: 0.5, split: "s.json", set: "selection", background: "real", real: "/x/real/selection"}).checkPick(); err != nil {
		t.Error(err)
	}
	if err := (options{writeModel: "m.safetensors"}).checkPick(); err == nil {
		t.Error("-write-model without -pick accepted")
	}
}
