package infer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
)

// DeltaSite is a place in an encoder layer where the delta forward pass can
// skip work: a token-wise linear map (or the score and value products of
// attention) whose input is compared with a reference vector, element by
// element, and whose output is updated only for the elements that changed by
// more than the site's threshold.
type DeltaSite int

// The delta sites of one layer, in the order a token passes them.
const (
	// DeltaQKV: the Q, K and V projections; input the layer's input tokens
	// (the embeddings in layer 0, otherwise the previous layer's post-LN2
	// output). The three maps share the input, so they share one threshold.
	DeltaQKV DeltaSite = iota
	// DeltaScores: the rows of the attention scores, s_t = s_{t-1} + dq_t Kᵀ
	// (per head); input the query q_t, before the 1/sqrt(head dim) scaling.
	DeltaScores
	// DeltaValues: the attention-weighted values, o_t = o_{t-1} + da_t V
	// (per head); input the row a_t of attention probabilities.
	DeltaValues
	// DeltaOut: the output projection; input the concatenated head outputs.
	DeltaOut
	// DeltaFC1: the first MLP matrix; input the post-LN1 activations.
	DeltaFC1
	// DeltaFC2: the second MLP matrix; input the GELU output.
	DeltaFC2
	NumDeltaSites
)

var deltaSiteNames = [NumDeltaSites]string{"qkv", "scores", "values", "out", "fc1", "fc2"}

// String returns the site's name in the model metadata and the config.
func (s DeltaSite) String() string {
	if s >= 0 && s < NumDeltaSites {
		return deltaSiteNames[s]
	}
	return "DeltaSite(" + strconv.Itoa(int(s)) + ")"
}

// ParseDeltaSite returns the site named name ("qkv", "scores", "values",
// "out", "fc1" or "fc2").
func ParseDeltaSite(name string) (DeltaSite, error) {
	for i, n := range deltaSiteNames {
		if n == name {
			return DeltaSite(i), nil
		}
	}
	return 0, fmt.Errorf("unknown delta site %q (want one of %v)", name, deltaSiteNames)
}

// DeltaSiteNames lists the site names in site order. It is the one list of
// delta sites: Write stores it in every model file (MetaDeltaSites), and
// training (train/kwt.py) reads it from the model file it starts from.
func DeltaSiteNames() []string { return slices.Clone(deltaSiteNames[:]) }

// MetaDeltaSites is the model metadata key that lists the delta sites of
// the file's writer, in site order, as a JSON list of names:
// ["qkv","scores","values","out","fc1","fc2"]. Write always stores it; a
// file without it (written before it existed) is read as this list, and a
// file whose list differs is rejected: its "delta" thresholds were meant
// for other sites.
const MetaDeltaSites = "delta_sites"

// deltaSitesJSON is the value of MetaDeltaSites that Write stores.
func deltaSitesJSON() string {
	b, err := json.Marshal(deltaSiteNames)
	if err != nil {
		panic(err) // a fixed list of strings
	}
	return string(b)
}

// checkDeltaSites checks the MetaDeltaSites value s of a model file against
// this build's list.
func checkDeltaSites(s string) error {
	var names []string
	if err := json.Unmarshal([]byte(s), &names); err != nil || names == nil {
		return fmt.Errorf("metadata %q: not a JSON list of strings", MetaDeltaSites)
	}
	if !slices.Equal(names, deltaSiteNames[:]) {
		got, _ := json.Marshal(names)
		return fmt.Errorf("metadata %q: the file lists the delta sites %s, this build implements %s (in this order): the model was written for other delta sites",
			MetaDeltaSites, got, deltaSitesJSON())
	}
	return nil
}

// MHSASites are the sites inside multi-head self-attention, the scope of the
// Delta KWT paper; AllSites adds the two MLP matrices.
var (
	MHSASites = []DeltaSite{DeltaQKV, DeltaScores, DeltaValues, DeltaOut}
	AllSites  = []DeltaSite{DeltaQKV, DeltaScores, DeltaValues, DeltaOut, DeltaFC1, DeltaFC2}
)

// MaxTheta bounds a delta threshold in a model file. Inputs of every site
// are activations of order 1 (or probabilities), so anything near this
// bound already turns a site off in all but name.
const MaxTheta = 1e6

// Thresholds configure the delta forward pass: per site, whether it is
// delta-pruned, and its threshold in every layer. A site that is not
// Enabled runs densely (exactly as Dense). An element of a site's input is
// propagated when it differs from the reference by more than the threshold
// (|d| > theta), so theta 0 skips only exact repeats and reproduces the
// dense result up to float32 rounding.
//
// In a model file they are the optional "delta" metadata (models/FORMAT.md):
//
//	{"sites":{"qkv":[0.5,0.5],"values":[0.002,0.002]}}
//
// which lists the thresholds of the enabled sites, one per layer.
type Thresholds struct {
	Enabled [NumDeltaSites]bool
	Theta   [NumDeltaSites][]float32 // [site][layer]; len Depth for an enabled site
}

// UniformThresholds enables sites (all of them when none are given) with
// theta in every one of depth layers.
func UniformThresholds(depth int, theta float32, sites ...DeltaSite) Thresholds {
	if len(sites) == 0 {
		sites = AllSites
	}
	var t Thresholds
	for _, s := range sites {
		t.Set(s, depth, theta)
	}
	return t
}

// Set enables site s with theta in every one of depth layers.
func (t *Thresholds) Set(s DeltaSite, depth int, theta float32) {
	t.Enabled[s] = true
	t.Theta[s] = make([]float32, depth)
	for i := range t.Theta[s] {
		t.Theta[s][i] = theta
	}
}

// Any reports whether at least one site is enabled.
func (t Thresholds) Any() bool {
	for _, on := range t.Enabled {
		if on {
			return true
		}
	}
	return false
}

// Clone returns a deep copy.
func (t Thresholds) Clone() Thresholds {
	c := t
	for s := range c.Theta {
		if c.Theta[s] != nil {
			c.Theta[s] = append([]float32(nil), c.Theta[s]...)
		}
	}
	return c
}

// Scaled returns a copy with every threshold multiplied by f.
func (t Thresholds) Scaled(f float32) Thresholds {
	c := t.Clone()
	for s := range c.Theta {
		for i := range c.Theta[s] {
			c.Theta[s][i] *= f
		}
	}
	return c
}

// Validate checks that every enabled site has depth thresholds, each finite
// and in [0, MaxTheta].
func (t Thresholds) Validate(depth int) error {
	for s, on := range t.Enabled {
		if !on {
			continue
		}
		site := DeltaSite(s)
		if len(t.Theta[s]) != depth {
			return fmt.Errorf("site %q: %d thresholds, want one per layer (%d)", site, len(t.Theta[s]), depth)
		}
		for i, v := range t.Theta[s] {
			if !(v >= 0 && v <= MaxTheta) { // false for NaN
				return fmt.Errorf("site %q: layer %d: threshold %v, want 0..%g", site, i, v, float64(MaxTheta))
			}
		}
	}
	return nil
}

// errStreamSites rejects the delta sites that a streaming KWT cannot run.
var errStreamSites = errors.New("a streaming model (context > 0) has no delta sites \"scores\" and \"values\": its attention reads a ring of keys that moves with every token")

// HasDeltaSite reports whether models of architecture a run site s on
// deltas: every site in the window KWT; not scores or values in a
// streaming KWT.
func (a Arch) HasDeltaSite(s DeltaSite) bool {
	return !a.Streaming() || (s != DeltaScores && s != DeltaValues)
}

// ValidateFor checks th against models of architecture a: Validate for its
// depth, and only sites that a has (HasDeltaSite).
func (t Thresholds) ValidateFor(a Arch) error {
	if err := t.Validate(a.Depth); err != nil {
		return err
	}
	for s, on := range t.Enabled {
		if on && !a.HasDeltaSite(DeltaSite(s)) {
			return errStreamSites
		}
	}
	return nil
}

// Equal reports whether t and u enable the same sites with the same
// thresholds (thresholds of disabled sites are ignored).
func (t Thresholds) Equal(u Thresholds) bool {
	for s := range t.Enabled {
		if t.Enabled[s] != u.Enabled[s] {
			return false
		}
		if !t.Enabled[s] {
			continue
		}
		if len(t.Theta[s]) != len(u.Theta[s]) {
			return false
		}
		for i := range t.Theta[s] {
			if t.Theta[s][i] != u.Theta[s][i] {
				return false
			}
		}
	}
	return true
}

// String is a compact description for logs, e.g. "qkv=0.5 values=0.002
// fc1=0.5..0.9" (each site's smallest and largest threshold).
func (t Thresholds) String() string {
	var b bytes.Buffer
	for s, on := range t.Enabled {
		if !on {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
		for _, v := range t.Theta[s] {
			lo, hi = min(lo, v), max(hi, v)
		}
		b.WriteString(DeltaSite(s).String() + "=" + strconv.FormatFloat(float64(lo), 'g', -1, 32))
		if hi != lo {
			b.WriteString(".." + strconv.FormatFloat(float64(hi), 'g', -1, 32))
		}
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// MarshalJSON encodes the "delta" metadata: {"sites":{name:[per layer]}}
// with the enabled sites only.
func (t Thresholds) MarshalJSON() ([]byte, error) {
	sites := map[string][]float32{}
	for s, on := range t.Enabled {
		if on {
			th := t.Theta[s]
			if th == nil {
				th = []float32{}
			}
			sites[DeltaSite(s).String()] = th
		}
	}
	return json.Marshal(struct {
		Sites map[string][]float32 `json:"sites"`
	}{sites})
}

// UnmarshalJSON decodes the "delta" metadata strictly: "sites" is required,
// no other key is allowed, site names must be known and no key may repeat.
// Lengths and values are checked by Validate.
func (t *Thresholds) UnmarshalJSON(data []byte) error {
	fields, err := objectFields(data)
	if err != nil {
		return err
	}
	if err := exactKeys(fields, "sites"); err != nil {
		return err
	}
	sites, err := objectFields(fields["sites"])
	if err != nil {
		return fmt.Errorf("sites: %v", err)
	}
	var out Thresholds
	for _, name := range slices.Sorted(maps.Keys(sites)) {
		s, err := ParseDeltaSite(name)
		if err != nil {
			return fmt.Errorf("sites: %v", err)
		}
		var th []float32
		if err := json.Unmarshal(sites[name], &th); err != nil || th == nil {
			return fmt.Errorf("sites: %q: not a JSON list of numbers", name)
		}
		out.Enabled[s], out.Theta[s] = true, th
	}
	*t = out
	return nil
}
