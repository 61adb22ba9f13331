package main

import (
	"context"
	"strings"
	"testing"

	"github.com/wakewordd/wakewordd/detect"
	"github.com/wakewordd/wakewordd/eval"
	"github.com/wakewordd/wakewordd/infer"
)

// -clean-miss: a keyword whose clips in silence score lower than the threshold the noisy
// stream allows gets its threshold lowered to where they are heard, and the check of the
// clips in silence says so.
func TestCleanCapsBoundThePick(t *testing.T) {
	st, m := interacting()
	h := st.hours()
	def, rules, err := shippedRules(m)
	if err != nil {
		t.Fatal(err)
	}
	kws := []string{"a", "b"}
	curves, err := st.sweepAll(kws, def, rules, sensitivityGrid(), refineBudgets(1/h, h), tol, 1)
	if err != nil {
		t.Fatal(err)
	}
	// The same keywords alone in silence: a's clips peak at 0.5 and 0.96875, b's at 0.75.
	clean := synthetic(300, map[int][2]float32{20: {0.5, 0}, 60: {0.96875, 0}, 100: {0, 0.75}})
	clean.truth = []eval.Event{
		{Keyword: "a", Start: hopAt(20) - sec(0.8), End: hopAt(20) - sec(0.3)},
		{Keyword: "a", Start: hopAt(60) - sec(0.8), End: hopAt(60) - sec(0.3)},
		{Keyword: "b", Start: hopAt(100) - sec(0.8), End: hopAt(100) - sec(0.3)},
	}
	caps, err := clean.cleanCaps(m, kws, sensitivityGrid(), 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	floor := &cleanFloor{stream: clean, caps: caps, miss: 0}
	if c := caps["a"]; c.Threshold != 0.5 || c.MissRate != 0 {
		t.Errorf("a's cap %+v, want 0.5, where its quieter clip still fires", c)
	}

	free, err := st.pickByMiss(m, kws, curves, 0.5, tol)
	if err != nil {
		t.Fatal(err)
	}
	if err := floor.check(&free, m); err != nil {
		t.Fatal(err)
	}
	if th := free.Thresholds["a"]; !(th > 0.625) || free.Clean.Keywords[0].MissRate != 0.5 {
		t.Fatalf("without the floor: a at %v misses %v of its clips in silence, want above 0.625 and 0.5",
			th, free.Clean.Keywords[0].MissRate)
	}

	bound, err := st.pickByMiss(m, kws, floor.capped(curves), 0.5, tol)
	if err != nil {
		t.Fatal(err)
	}
	if err := floor.check(&bound, m); err != nil {
		t.Fatal(err)
	}
	if th := bound.Thresholds["a"]; th > 0.5 {
		t.Errorf("with the floor a's threshold is %v, above its cap 0.5", th)
	}
	if th, was := bound.Thresholds["b"], free.Thresholds["b"]; th != was {
		t.Errorf("b's threshold moved from %v to %v though its cap %v is above it", was, th, caps["b"].Threshold)
	}
	for _, k := range bound.Clean.Keywords {
		if k.MissRate != 0 || k.Hits != k.Clips {
			t.Errorf("with the floor, %s misses %v of its clips in silence (%d/%d)", k.Keyword, k.MissRate, k.Hits, k.Clips)
		}
	}
	if !strings.Contains(pickText(&bound), "alone in silence") {
		t.Error("results.md does not show the clips in silence")
	}

	// A keyword that no threshold makes heard often enough is an error that names it.
	quiet := synthetic(300, map[int][2]float32{100: {0, 0.75}})
	quiet.truth = []eval.Event{{Keyword: "a", Start: hopAt(20) - sec(0.8), End: hopAt(20) - sec(0.3)}}
	if _, err := quiet.cleanCaps(m, []string{"a"}, sensitivityGrid(), 0.1, 1); err == nil || !strings.Contains(err.Error(), "a misses") {
		t.Errorf("a never fires in silence: %v", err)
	}
}

// cleanStream plays each clip as `wakewordd eval` does (the daemon's listener, a second of
// silence around it): replayed from its posteriors, each clip gives the detections the
// listener makes live, at the model's settings and at a low threshold.
func TestCleanStreamAsEvalPlaysIt(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: synthesises speech and scores it")
	}
	requireEspeak(t)
	m, err := infer.Load(testModel(t))
	if err != nil {
		t.Fatal(err)
	}
	gm, err := infer.Load(testGate(t, m))
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{model: gm, threshold: 0.1, hold: 1, fuse: m.Detection.GateFuse}
	clips, err := listClips(options{clips: saidClips(t, m.Keywords()[:3], 2)}, m.Keywords())
	if err != nil {
		t.Fatal(err)
	}
	st, err := cleanStream(m, g, clips, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.segs) != len(clips) || len(st.truth) != len(clips) {
		t.Fatalf("%d clips: %d segments, %d events", len(clips), len(st.segs), len(st.truth))
	}
	low := *m
	low.Detection.Threshold, low.Detection.Thresholds = 0.05, nil
	for _, mm := range []*infer.Model{m, &low} {
		spec, err := shipped(mm, g)
		if err != nil {
			t.Fatal(err)
		}
		def, rules, err := shippedRules(mm)
		if err != nil {
			t.Fatal(err)
		}
		fired := 0
		for i, c := range clips {
			seg := &stream{classes: st.classes, segs: []segResult{st.segs[i]}}
			seg.segs[0].Start = 0
			replay, err := seg.detections(def, rules)
			if err != nil {
				t.Fatal(err)
			}
			l, err := spec.New()
			if err != nil {
				t.Fatal(err)
			}
			live, length, err := l.ScanFile(context.Background(), c.Path, cleanPad)
			if err != nil {
				t.Fatal(err)
			}
			if e := st.truth[i]; e.Keyword != c.Keyword || e.End-e.Start != length {
				t.Errorf("%s: event %+v, the clip is %v long", c.Path, e, length)
			}
			if len(replay) != len(live) {
				t.Fatalf("%s at threshold %v: replay %v, listener %v", c.Path, mm.Detection.Threshold, replay, live)
			}
			for j, d := range replay {
				d.At -= cleanPad
				if d != (detect.Detection{Keyword: live[j].Keyword, At: live[j].At, Score: live[j].Score}) {
					t.Errorf("%s: replay %+v, listener %+v", c.Path, d, live[j])
				}
			}
			fired += len(live)
		}
		t.Logf("threshold %v: %d detections on %d clips", mm.Detection.Threshold, fired, len(clips))
	}
}

// -clean-miss is a bound on a choice of thresholds: alone it is refused.
func TestCleanMissNeedsAChoice(t *testing.T) {
	for _, o := range []options{{cleanMiss: 0.05}, {cleanMiss: 1, pickMiss: 0.1}, {cleanMiss: -0.1, pickMiss: 0.1}} {
		if err := o.checkPick(); err == nil || !strings.Contains(err.Error(), "-clean-miss") {
			t.Errorf("%+v: %v", o, err)
		}
	}
	if err := (options{cleanMiss: 0.05, pickMiss: 0.1, set: "selection"}).checkPick(); err != nil {
		t.Error(err)
	}
}
