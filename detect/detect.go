// Package detect turns a stream of class posteriors, one per inference hop, into wake-word
// detections: per-keyword smoothing, threshold, patience and refractory period.
//
// At most one keyword fires per hop (the one whose smoothed score clears its threshold by
// the most), and after a detection every keyword stays silent for the refractory period of
// the keyword that fired, so a single utterance never reports two wake words: the tail of
// "smart mirror" must not fire "computer" half a second later.
package detect

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// Rule is the detection policy of one keyword.
type Rule struct {
	Enabled    bool
	Threshold  float64       // fire when the smoothed posterior reaches this (0..1]
	Smoothing  int           // average the last Smoothing posteriors (>= 1)
	Patience   int           // ... for this many consecutive hops (>= 1)
	Refractory time.Duration // after it fires, every keyword stays silent this long
}

// Validate reports a rule that could never behave sensibly.
func (r Rule) Validate() error {
	switch {
	case !(r.Threshold > 0 && r.Threshold <= 1):
		return fmt.Errorf("threshold %v outside (0, 1]", r.Threshold)
	case r.Smoothing < 1 || r.Smoothing > 100:
		return fmt.Errorf("smoothing %d outside 1..100", r.Smoothing)
	case r.Patience < 1 || r.Patience > 100:
		return fmt.Errorf("patience %d outside 1..100", r.Patience)
	case r.Refractory < 0:
		return fmt.Errorf("negative refractory period %v", r.Refractory)
	}
	return nil
}

// Detection is one wake word heard.
type Detection struct {
	Keyword string
	Score   float64       // smoothed posterior that fired
	At      time.Duration // stream time of the end of the audio window that fired
}

// NotKeywords are classes a model has that are never reported.
var NotKeywords = []string{"silence", "unknown"}

type keyword struct {
	class  int // index into the posterior vector
	name   string
	rule   Rule
	hist   []float64 // the last Smoothing posteriors, circular
	next   int
	score  float64 // mean of hist
	streak int
}

// Detector holds the per-keyword state. Push is not safe for concurrent use, but
// SetEnabled and Enabled may be called from any goroutine (MQTT toggles) while it runs.
type Detector struct {
	mu       sync.Mutex
	keywords []*keyword
	classes  int
	names    []string      // the model's classes, for SetRules
	lastFire time.Duration // when the last detection fired
	hold     time.Duration // its keyword's refractory period; 0 after Reset
}

// New returns a detector for a model with the given classes. rules maps keyword names to
// their rule; keywords without one use def. A rule for a class the model lacks is an error.
func New(classes []string, def Rule, rules map[string]Rule) (*Detector, error) {
	d := &Detector{classes: len(classes), names: slices.Clone(classes)}
	known := map[string]bool{}
	for i, c := range classes {
		known[c] = true
		if slices.Contains(NotKeywords, c) {
			continue
		}
		r, ok := rules[c]
		if !ok {
			r = def
		}
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("detect: keyword %q: %w", c, err)
		}
		d.keywords = append(d.keywords, &keyword{class: i, name: c, rule: r, hist: make([]float64, r.Smoothing)})
	}
	for name := range rules {
		if !known[name] || slices.Contains(NotKeywords, name) {
			return nil, fmt.Errorf("detect: %q is not a keyword of this model (it has %v)", name, d.Keywords())
		}
	}
	return d, nil
}

// Keywords lists the model's keywords, enabled or not, in class order.
func (d *Detector) Keywords() []string {
	var out []string
	for _, k := range d.keywords {
		out = append(out, k.name)
	}
	return out
}

// Enabled lists the keywords that can fire, in class order.
func (d *Detector) Enabled() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, k := range d.keywords {
		if k.rule.Enabled {
			out = append(out, k.name)
		}
	}
	return out
}

// Rule returns a keyword's current rule, and false for a name that is not a keyword.
func (d *Detector) Rule(name string) (Rule, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range d.keywords {
		if k.name == name {
			return k.rule, true
		}
	}
	return Rule{}, false
}

// SetEnabled switches a keyword on or off at run time.
func (d *Detector) SetEnabled(name string, on bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range d.keywords {
		if k.name == name {
			k.rule.Enabled = on
			k.streak = 0
			return nil
		}
	}
	return fmt.Errorf("detect: no keyword %q", name)
}

// SetRules replaces every keyword's rule at run time (a reloaded configuration), as New
// would set them: rules by keyword name, def for the others. Nothing changes when any rule
// is invalid or names a keyword the model lacks. A keyword whose smoothing changes starts
// its history afresh.
func (d *Detector) SetRules(def Rule, rules map[string]Rule) error {
	next, err := New(d.names, def, rules)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, k := range d.keywords {
		r := next.keywords[i].rule
		if r.Smoothing != k.rule.Smoothing {
			k.hist, k.next, k.score = make([]float64, r.Smoothing), 0, 0
		}
		k.rule, k.streak = r, 0
	}
	return nil
}

// Push takes the posteriors (softmax output, one per class) of the window ending at
// stream time at, and returns a detection if one fires. It does not allocate.
func (d *Detector) Push(at time.Duration, probs []float32) (Detection, bool) {
	if len(probs) != d.classes {
		panic(fmt.Sprintf("detect: %d posteriors for %d classes", len(probs), d.classes))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var best *keyword
	var bestMargin float64
	holding := at-d.lastFire < d.hold
	for _, k := range d.keywords {
		k.hist[k.next] = float64(probs[k.class])
		k.next = (k.next + 1) % len(k.hist)
		// Summed afresh each hop: a running sum would drift over months of uptime. A short
		// history counts as zeros, so nothing fires before Smoothing hops of evidence.
		var sum float64
		for _, p := range k.hist {
			sum += p
		}
		k.score = sum / float64(len(k.hist))
		if !k.rule.Enabled || k.score < k.rule.Threshold {
			k.streak = 0
			continue
		}
		k.streak++
		if k.streak < k.rule.Patience || holding {
			continue
		}
		if m := k.score - k.rule.Threshold; best == nil || m > bestMargin {
			best, bestMargin = k, m
		}
	}
	if best == nil {
		return Detection{}, false
	}
	best.streak = 0
	d.lastFire, d.hold = at, best.rule.Refractory
	return Detection{Keyword: best.name, Score: best.score, At: at}, true
}

// Reset forgets all history, as at the start of a new stream.
func (d *Detector) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range d.keywords {
		clear(k.hist)
		k.next, k.score, k.streak = 0, 0, 0
	}
	d.lastFire, d.hold = 0, 0
}
