package detect

import (
	"strings"
	"testing"
	"time"
)

var classes = []string{"silence", "unknown", "alexa", "jarvis"}

func rule(th float64, smooth, patience int, refr time.Duration) Rule {
	return Rule{Enabled: true, Threshold: th, Smoothing: smooth, Patience: patience, Refractory: refr}
}

// post returns posteriors with p for class c and the rest spread on silence.
func post(c int, p float32) []float32 {
	out := make([]float32, len(classes))
	out[0] = 1 - p
	out[c] += p
	return out
}

const hop = 100 * time.Millisecond

// run pushes a sequence of (class, posterior) per hop and returns the detections.
func run(d *Detector, seq []float32, class int) []Detection {
	var out []Detection
	for i, p := range seq {
		if det, ok := d.Push(time.Duration(i+1)*hop, post(class, p)); ok {
			out = append(out, det)
		}
	}
	return out
}

func TestThresholdAndSmoothing(t *testing.T) {
	d, err := New(classes, rule(0.5, 3, 1, 2*time.Second), nil)
	if err != nil {
		t.Fatal(err)
	}
	// One spike of 0.9 averages to 0.3 over 3 hops: no detection.
	if got := run(d, []float32{0, 0.9, 0, 0, 0}, 2); len(got) != 0 {
		t.Fatalf("a single spike fired: %+v", got)
	}
	d.Reset()
	// 0.6, 0.9 and 0.9 average to 0.8 at the 3rd hop of speech.
	got := run(d, []float32{0, 0.6, 0.9, 0.9, 0.9, 0.2}, 2)
	if len(got) != 1 || got[0].Keyword != "alexa" || got[0].At != 3*hop {
		t.Fatalf("got %+v, want one alexa at %v", got, 3*hop)
	}
	if s := got[0].Score; s < 0.49 || s > 0.51 { // (0+0.6+0.9)/3
		t.Fatalf("score %v, want 0.5", s)
	}
}

func TestPatienceNeedsConsecutiveHops(t *testing.T) {
	d, _ := New(classes, rule(0.5, 1, 3, 0), nil)
	if got := run(d, []float32{0.9, 0.9, 0.1, 0.9, 0.9, 0.1}, 3); len(got) != 0 {
		t.Fatalf("fired without 3 consecutive hops: %+v", got)
	}
	got := run(d, []float32{0.9, 0.9, 0.9}, 3)
	if len(got) != 1 || got[0].Keyword != "jarvis" {
		t.Fatalf("got %+v", got)
	}
}

func TestRefractory(t *testing.T) {
	d, _ := New(classes, rule(0.5, 1, 1, time.Second), nil)
	seq := make([]float32, 30) // 3 s of a keyword held high
	for i := range seq {
		seq[i] = 0.9
	}
	got := run(d, seq, 2)
	// Fires at 0.1 s, then again once a full second has passed: 1.1 s, 2.1 s.
	if len(got) != 3 || got[1].At-got[0].At != time.Second || got[2].At-got[1].At != time.Second {
		t.Fatalf("got %+v", got)
	}
}

// One utterance reports one wake word: within the refractory period of the keyword that
// fired, no other keyword fires either, and it may fire once the period is over.
func TestRefractoryHoldsEveryKeyword(t *testing.T) {
	d, _ := New(classes, rule(0.5, 1, 1, time.Second), map[string]Rule{"jarvis": rule(0.5, 1, 1, 3*time.Second)})
	if det, ok := d.Push(hop, post(2, 0.9)); !ok || det.Keyword != "alexa" {
		t.Fatalf("alexa: %+v %v", det, ok)
	}
	for i := 2; i <= 10; i++ { // up to alexa's 1 s: jarvis is held back
		if det, ok := d.Push(time.Duration(i)*hop, post(3, 0.95)); ok {
			t.Fatalf("%v after alexa: %+v fired", time.Duration(i-1)*hop, det)
		}
	}
	if det, ok := d.Push(11*hop, post(3, 0.95)); !ok || det.Keyword != "jarvis" {
		t.Fatalf("jarvis 1 s after alexa: %+v %v", det, ok)
	}
	// Now jarvis's own 3 s period holds alexa.
	if det, ok := d.Push(12*hop+2*time.Second, post(2, 0.9)); ok {
		t.Fatalf("alexa 2.1 s after jarvis: %+v fired", det)
	}
	if det, ok := d.Push(11*hop+3*time.Second, post(2, 0.9)); !ok || det.Keyword != "alexa" {
		t.Fatalf("alexa 3 s after jarvis: %+v %v", det, ok)
	}
	d.Reset() // a new stream starts without a hold
	if _, ok := d.Push(hop, post(3, 0.95)); !ok {
		t.Fatal("nothing fired after Reset")
	}
}

func TestOneKeywordPerHop(t *testing.T) {
	d, _ := New(classes, rule(0.3, 1, 1, 0), map[string]Rule{"jarvis": rule(0.4, 1, 1, 0)})
	p := []float32{0, 0, 0.45, 0.55} // both clear their thresholds; jarvis by more
	det, ok := d.Push(hop, p)
	if !ok || det.Keyword != "jarvis" {
		t.Fatalf("got %+v", det)
	}
}

func TestToggle(t *testing.T) {
	d, _ := New(classes, rule(0.5, 1, 1, 0), nil)
	if err := d.SetEnabled("alexa", false); err != nil {
		t.Fatal(err)
	}
	if got := run(d, []float32{0.9, 0.9}, 2); len(got) != 0 {
		t.Fatalf("disabled keyword fired: %+v", got)
	}
	if e := d.Enabled(); len(e) != 1 || e[0] != "jarvis" {
		t.Fatalf("enabled %v", e)
	}
	d.SetEnabled("alexa", true)
	if got := run(d, []float32{0.9}, 2); len(got) != 1 {
		t.Fatal("re-enabled keyword did not fire")
	}
	if err := d.SetEnabled("silence", true); err == nil {
		t.Fatal("silence accepted as a keyword")
	}
	if r, ok := d.Rule("alexa"); !ok || !r.Enabled || r.Threshold != 0.5 {
		t.Fatalf("Rule(alexa) = %+v, %v", r, ok)
	}
	if _, ok := d.Rule("silence"); ok {
		t.Fatal("Rule(silence) found a keyword")
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := New(classes, rule(0, 1, 1, 0), nil); err == nil || !strings.Contains(err.Error(), "threshold") {
		t.Fatalf("zero threshold: %v", err)
	}
	if _, err := New(classes, rule(0.5, 1, 1, 0), map[string]Rule{"computer": rule(0.5, 1, 1, 0)}); err == nil ||
		!strings.Contains(err.Error(), `"computer" is not a keyword`) {
		t.Fatalf("unknown keyword: %v", err)
	}
	if _, err := New(classes, rule(0.5, 0, 1, 0), nil); err == nil {
		t.Fatal("smoothing 0 accepted")
	}
}

func TestPushDoesNotAllocate(t *testing.T) {
	d, _ := New(classes, rule(0.5, 5, 2, time.Second), nil)
	p := post(2, 0.7)
	var at time.Duration
	if a := testing.AllocsPerRun(1000, func() { at += hop; d.Push(at, p) }); a != 0 {
		t.Fatalf("%v allocations per Push", a)
	}
}

// SetRules takes effect on the next hop, all or nothing.
func TestSetRules(t *testing.T) {
	d, _ := New(classes, rule(0.5, 1, 1, 0), nil)
	if got := run(d, []float32{0.7}, 2); len(got) != 1 {
		t.Fatalf("before: %+v", got)
	}
	if err := d.SetRules(rule(0.5, 1, 1, 0), map[string]Rule{"alexa": rule(0.8, 2, 1, 0)}); err != nil {
		t.Fatal(err)
	}
	if r, _ := d.Rule("alexa"); r.Threshold != 0.8 || r.Smoothing != 2 {
		t.Fatalf("alexa's rule %+v", r)
	}
	d.Reset()
	if got := run(d, []float32{0.7, 0.7, 0.7}, 2); len(got) != 0 {
		t.Fatalf("0.7 fired above a 0.8 threshold: %+v", got)
	}
	if got := run(d, []float32{0.9, 0.9}, 2); len(got) != 1 {
		t.Fatalf("0.9 twice did not fire at 0.8, smoothing 2: %+v", got)
	}
	// A bad rule or an unknown keyword changes nothing.
	for _, rules := range []map[string]Rule{{"alexa": rule(1.5, 1, 1, 0)}, {"hey_siri": rule(0.5, 1, 1, 0)}} {
		if err := d.SetRules(rule(0.5, 1, 1, 0), rules); err == nil {
			t.Fatalf("%v accepted", rules)
		}
		if r, _ := d.Rule("alexa"); r.Threshold != 0.8 {
			t.Fatalf("a rejected SetRules changed alexa to %+v", r)
		}
	}
}
