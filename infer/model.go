// Package infer holds a Keyword Transformer (KWT, Berg et al. 2021): its
// model file (models/FORMAT.md, a safetensors file with wakewordd metadata),
// a dense reference forward pass, and the analytic operation counts that the
// delta-pruned path is measured against.
package infer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wakewordd/wakewordd/frontend"
	"github.com/wakewordd/wakewordd/internal/limited"
)

// Format identifies wakewordd model files in the metadata key "format";
// FormatVersion is the only "format_version" this package reads.
const (
	Format        = "wakewordd-kwt"
	FormatVersion = "1"
)

// Bounds on the architecture. They are far above the published KWT sizes
// (KWT-3: d=192, 12 layers, MLP 768) and only keep a corrupt file from
// describing an absurd network.
const (
	maxDim        = 1024
	maxDepth      = 48
	maxMLPDim     = 8192
	maxFrames     = 2000
	maxCoeffs     = 1024
	minClasses    = 2
	maxClasses    = 256
	maxClassName  = 64
	maxSmoothing  = 1000
	maxPatience   = 1000
	maxRefractory = 3600.0
)

// The values of Model.MLP.
const (
	MLPFloat32 = "float32"
	MLPInt8    = "int8"
)

// Arch is the network shape, the "architecture" metadata of a model file.
type Arch struct {
	Dim        int     `json:"dim"`      // token width d
	Depth      int     `json:"depth"`    // encoder layers
	Heads      int     `json:"heads"`    // attention heads; each sees Dim/Heads channels
	MLPDim     int     `json:"mlp_dim"`  // hidden width M of each layer's MLP
	Frames     int     `json:"frames"`   // MFCC frames per window T; the class token makes T+1 tokens
	Coeffs     int     `json:"coeffs"`   // MFCC coefficients per frame K
	NumClasses int     `json:"classes"`  // output classes C
	NormEps    float64 `json:"norm_eps"` // LayerNorm epsilon
	Norm       string  `json:"norm"`     // "post": LayerNorm after each residual sum
	// Context is 0 for the window KWT (class token, positional embedding,
	// every token attends to every token). Context n > 0 makes a streaming
	// KWT: no class token and no positional embedding; token t attends to
	// tokens t-n+1 .. t with a learned bias per distance (attn.rel), and the
	// head reads the newest token. Depth*(n-1) < Frames, so that token
	// depends on the frames of its window only, and a stream can compute
	// each frame's token once, when it arrives (StreamDense, StreamDelta).
	Context int `json:"context,omitempty"`
}

// archKeys lists the keys of the "architecture" JSON that are required;
// "context" is optional (0 when absent).
func archKeys() []string {
	return []string{"dim", "depth", "heads", "mlp_dim", "frames", "coeffs", "classes", "norm_eps", "norm"}
}

// Streaming reports whether a is a streaming KWT (Context > 0).
func (a Arch) Streaming() bool { return a.Context > 0 }

// Tokens is the sequence length of a window: Frames plus the class token,
// or Frames for a streaming KWT.
func (a Arch) Tokens() int {
	if a.Streaming() {
		return a.Frames
	}
	return a.Frames + 1
}

func (a Arch) validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("metadata \"architecture\": %s %v, want %s", field, v, want)
	}
	switch {
	case a.Dim < 1 || a.Dim > maxDim:
		return bad("dim", a.Dim, "1.."+strconv.Itoa(maxDim))
	case a.Depth < 1 || a.Depth > maxDepth:
		return bad("depth", a.Depth, "1.."+strconv.Itoa(maxDepth))
	case a.Heads < 1 || a.Heads > a.Dim || a.Dim%a.Heads != 0:
		return bad("heads", a.Heads, fmt.Sprintf("a divisor of dim (%d)", a.Dim))
	case a.MLPDim < 1 || a.MLPDim > maxMLPDim:
		return bad("mlp_dim", a.MLPDim, "1.."+strconv.Itoa(maxMLPDim))
	case a.Frames < 1 || a.Frames > maxFrames:
		return bad("frames", a.Frames, "1.."+strconv.Itoa(maxFrames))
	case a.Coeffs < 1 || a.Coeffs > maxCoeffs:
		return bad("coeffs", a.Coeffs, "1.."+strconv.Itoa(maxCoeffs))
	case a.NumClasses < minClasses || a.NumClasses > maxClasses:
		return bad("classes", a.NumClasses, fmt.Sprintf("%d..%d", minClasses, maxClasses))
	// The epsilon is added in float32: it must stay a positive normal number.
	case math.IsNaN(a.NormEps) || a.NormEps < 1e-12 || a.NormEps > 1:
		return bad("norm_eps", a.NormEps, "1e-12..1")
	case a.Norm != "post":
		return bad("norm", strconv.Quote(a.Norm), `"post"`)
	case a.Context < 0 || (a.Context > 0 && a.Depth*(a.Context-1) >= a.Frames):
		return bad("context", a.Context, fmt.Sprintf("0, or 1..%d so that depth*(context-1) < frames (%d)",
			(a.Frames-1)/a.Depth+1, a.Frames))
	}
	return nil
}

// Detection holds the model's detection defaults, the "detection" metadata.
// The daemon's configuration may override each of them.
type Detection struct {
	HopMS       int                `json:"hop_ms"`               // run the model every HopMS milliseconds
	Threshold   float64            `json:"threshold"`            // default score threshold for every keyword
	Smoothing   int                `json:"smoothing"`            // average the last Smoothing posteriors
	Patience    int                `json:"patience"`             // consecutive hits required
	RefractoryS float64            `json:"refractory_s"`         // quiet time after a detection, seconds
	Thresholds  map[string]float64 `json:"thresholds,omitempty"` // per-keyword thresholds, by class name
	// Calibration, by keyword, maps sensitivities to thresholds and says what they mean.
	Calibration map[string]Calibration `json:"calibration,omitempty"`
	// GateFuse is the weight of a gate's logits blended into this model's on the hops it
	// scores behind one (engine.Cascade): the thresholds above were chosen so. 0 = none.
	GateFuse float64 `json:"gate_fuse,omitempty"`
}

// detectionKeys lists the keys of the "detection" JSON, all optional.
func detectionKeys() []string {
	return []string{"hop_ms", "threshold", "smoothing", "patience", "refractory_s", "thresholds", "calibration", "gate_fuse"}
}

// DefaultDetection returns the detection defaults used when a model file
// has no "detection" metadata (or omits one of its keys): a 100 ms hop,
// threshold 0.5, smoothing over 3 posteriors, patience 1 and a 2 s
// refractory period as in Home Assistant.
func DefaultDetection() Detection {
	return Detection{HopMS: 100, Threshold: 0.5, Smoothing: 3, Patience: 1, RefractoryS: 2}
}

// Hop is the model's default time between inferences (its "detection" hop_ms).
func (m *Model) Hop() time.Duration {
	if ms := m.Detection.HopMS; ms > 1e9 {
		return math.MaxInt64 // too large to convert; frontend.CheckHop rejects it
	}
	return time.Duration(m.Detection.HopMS) * time.Millisecond
}

// ThresholdFor returns the threshold of one class: its entry in Thresholds,
// or Threshold.
func (d Detection) ThresholdFor(class string) float64 {
	if t, ok := d.Thresholds[class]; ok {
		return t
	}
	return d.Threshold
}

func (d Detection) validate(classes []string) error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("metadata \"detection\": %s %v, want %s", field, v, want)
	}
	probability := func(x float64) bool { return x > 0 && x <= 1 } // false for NaN
	switch {
	case !probability(d.Threshold):
		return bad("threshold", d.Threshold, "0 < threshold <= 1")
	case d.Smoothing < 1 || d.Smoothing > maxSmoothing:
		return bad("smoothing", d.Smoothing, "1.."+strconv.Itoa(maxSmoothing))
	case d.Patience < 1 || d.Patience > maxPatience:
		return bad("patience", d.Patience, "1.."+strconv.Itoa(maxPatience))
	case !(d.RefractoryS >= 0 && d.RefractoryS <= maxRefractory):
		return bad("refractory_s", d.RefractoryS, fmt.Sprintf("0..%g", maxRefractory))
	case !(d.GateFuse >= 0 && d.GateFuse < 1):
		return bad("gate_fuse", d.GateFuse, "0 <= gate_fuse < 1")
	}
	if err := validateCalibration(d.Calibration, classes); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(d.Thresholds)) {
		known := false
		for _, c := range classes {
			known = known || c == name
		}
		if !known {
			return fmt.Errorf("metadata \"detection\": thresholds: %q is not a class", name)
		}
		if t := d.Thresholds[name]; !probability(t) {
			return bad(fmt.Sprintf("thresholds[%q]", name), t, "0 < threshold <= 1")
		}
	}
	return nil
}

// frontendJSON is the "frontend" metadata; it maps onto frontend.Params.
type frontendJSON struct {
	SampleRate int     `json:"sample_rate"`
	Window     int     `json:"window"`
	Hop        int     `json:"hop"`
	FFT        int     `json:"fft"`
	Mels       int     `json:"mels"`
	FMin       float64 `json:"fmin"`
	FMax       float64 `json:"fmax"`
	Coeffs     int     `json:"coeffs"`
	LogFloor   float64 `json:"log_floor"`
}

// frontendKeys lists the keys of the "frontend" JSON, all required.
func frontendKeys() []string {
	return []string{"sample_rate", "window", "hop", "fft", "mels", "fmin", "fmax", "coeffs", "log_floor"}
}

func (f frontendJSON) params() frontend.Params {
	return frontend.Params{
		SampleRate: f.SampleRate, WindowLen: f.Window, Hop: f.Hop, FFTSize: f.FFT, NumMels: f.Mels,
		FMin: f.FMin, FMax: f.FMax, NumCoeffs: f.Coeffs, LogFloor: f.LogFloor,
	}
}

func toFrontendJSON(p frontend.Params) frontendJSON {
	return frontendJSON{
		SampleRate: p.SampleRate, Window: p.WindowLen, Hop: p.Hop, FFT: p.FFTSize, Mels: p.NumMels,
		FMin: p.FMin, FMax: p.FMax, Coeffs: p.NumCoeffs, LogFloor: p.LogFloor,
	}
}

// Model is a loaded KWT: everything the daemon needs to compute features,
// run the network and interpret its outputs.
type Model struct {
	Path      string // where the model was loaded from (Parse's name); for logs and errors
	Arch      Arch
	Classes   []string        // class names in output order
	Frontend  frontend.Params // the features the model was trained on
	Detection Detection       // detection defaults

	// Delta holds the delta-pruning thresholds chosen for this model (the
	// optional "delta" metadata); nil when the file has none.
	Delta *Thresholds

	// MLP is the arithmetic of the MLPs (the optional "mlp" metadata):
	// MLPFloat32, or MLPInt8, where NewDense and NewDelta quantize the fc1
	// and fc2 weights and the MLPs whose delta pruning is off run on int8
	// (package asm, Int8Matrix). "" means MLPFloat32.
	MLP string

	// Free-form provenance for the model card, kept as the file's JSON.
	// Nil when the file has none.
	Training   json.RawMessage
	Validation json.RawMessage
	Created    string // RFC 3339, or empty

	Weights Weights
}

// Weights are the model's parameters, row-major float32. Linear weights
// are [out, in], as in PyTorch: y = W x + b.
type Weights struct {
	EmbedW []float32 // [Dim, Coeffs]
	EmbedB []float32 // [Dim]
	Cls    []float32 // [Dim]; nil in a streaming KWT
	Pos    []float32 // [Tokens, Dim]; nil in a streaming KWT
	Layers []Layer   // [Depth]
	HeadW  []float32 // [NumClasses, Dim]
	HeadB  []float32 // [NumClasses]
}

// Layer holds one post-norm encoder layer.
type Layer struct {
	Q, K, V       []float32 // [Dim, Dim], no bias
	Out, OutB     []float32 // [Dim, Dim], [Dim]
	Norm1, Norm1B []float32 // LayerNorm weight and bias, [Dim]
	FC1, FC1B     []float32 // [MLPDim, Dim], [MLPDim]
	FC2, FC2B     []float32 // [Dim, MLPDim], [Dim]
	Norm2, Norm2B []float32 // [Dim]
	Rel           []float32 // [Heads, Context]: score bias by distance (streaming KWT only)
}

// Keywords returns the classes that can be detected: every class except
// "silence" and "unknown", in output order.
func (m *Model) Keywords() []string {
	var kws []string
	for _, c := range m.Classes {
		if c != "silence" && c != "unknown" {
			kws = append(kws, c)
		}
	}
	return kws
}

// param ties a tensor name and shape of the file format to its slice in
// Weights; it is the one table the loader, the writer and ParamCount share.
type param struct {
	name  string
	shape []int
	data  *[]float32
}

// params lists every tensor of the format, sorted by name (the file order).
// w.Layers must have a.Depth entries.
func (w *Weights) params(a Arch) []param {
	d, m := a.Dim, a.MLPDim
	ps := []param{
		{"embed.bias", []int{d}, &w.EmbedB},
		{"embed.weight", []int{d, a.Coeffs}, &w.EmbedW},
		{"head.bias", []int{a.NumClasses}, &w.HeadB},
		{"head.weight", []int{a.NumClasses, d}, &w.HeadW},
	}
	for i := range w.Layers {
		l := &w.Layers[i]
		p := "layers." + strconv.Itoa(i) + "."
		ps = append(ps,
			param{p + "attn.k.weight", []int{d, d}, &l.K},
			param{p + "attn.out.bias", []int{d}, &l.OutB},
			param{p + "attn.out.weight", []int{d, d}, &l.Out},
			param{p + "attn.q.weight", []int{d, d}, &l.Q},
			param{p + "attn.v.weight", []int{d, d}, &l.V},
			param{p + "mlp.fc1.bias", []int{m}, &l.FC1B},
			param{p + "mlp.fc1.weight", []int{m, d}, &l.FC1},
			param{p + "mlp.fc2.bias", []int{d}, &l.FC2B},
			param{p + "mlp.fc2.weight", []int{d, m}, &l.FC2},
			param{p + "norm1.bias", []int{d}, &l.Norm1B},
			param{p + "norm1.weight", []int{d}, &l.Norm1},
			param{p + "norm2.bias", []int{d}, &l.Norm2B},
			param{p + "norm2.weight", []int{d}, &l.Norm2},
		)
		if a.Streaming() {
			ps = append(ps, param{p + "attn.rel", []int{a.Heads, a.Context}, &l.Rel})
		}
	}
	if !a.Streaming() {
		ps = append(ps, param{"cls", []int{d}, &w.Cls}, param{"pos", []int{a.Tokens(), d}, &w.Pos})
	}
	// Byte order of names ("layers.10." before "layers.2."), as the Python
	// safetensors writer orders a single-dtype file.
	slices.SortFunc(ps, func(x, y param) int { return strings.Compare(x.name, y.name) })
	return ps
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// ParamCount returns the number of learned parameters.
func (m *Model) ParamCount() int64 {
	a := m.Arch
	d, M, C := int64(a.Dim), int64(a.MLPDim), int64(a.NumClasses)
	perLayer := 4*d*d + d + 2*d + (M*d + M) + (d*M + d) + 2*d
	embed := d*int64(a.Coeffs) + d
	if a.Streaming() {
		return embed + int64(a.Depth)*(perLayer+int64(a.Heads*a.Context)) + C*d + C
	}
	return embed + d + int64(a.Tokens())*d + int64(a.Depth)*perLayer + C*d + C
}

// DenseMACs returns the multiply-accumulates of one dense inference and
// the part of them spent in multi-head self-attention (Q/K/V and output
// projections, scores and attention-weighted values). Biases, LayerNorm,
// GELU and softmax are not counted. The last layer computes only the class
// token's query, attention row, output projection and MLP (the head reads
// nothing else), so it counts less than the others (KWT is usually quoted
// with every token in every layer).
func (m *Model) DenseMACs() (total, mhsa int64) {
	a := m.Arch
	total = int64(a.Frames)*int64(a.Coeffs)*int64(a.Dim) + int64(a.NumClasses)*int64(a.Dim)
	for li := range a.Depth {
		c := denseLayerMACs(a, li)
		for s := OpQ; s <= OpFC2; s++ {
			total += c[s]
			if s.MHSA() {
				mhsa += c[s]
			}
		}
	}
	return total, mhsa
}

// Load reads and validates a model file (models/FORMAT.md).
func Load(path string) (*Model, error) {
	data, err := limited.ReadFile(path, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return Parse(data, path)
}

// Parse validates a model file's contents and decodes it. name (usually
// the path) only prefixes error messages, which are one line each, for
// example
//
//	model m.safetensors: tensor "layers.3.attn.q.weight": shape [64 32], want [64 64]
//
// Nothing in data is trusted: every offset, shape and value is checked, and
// a corrupt file is an error, never a panic.
func Parse(data []byte, name string) (*Model, error) {
	m, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", name, err)
	}
	m.Path = name
	return m, nil
}

func parse(data []byte) (*Model, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%d bytes, larger than %d MiB", len(data), MaxFileSize>>20)
	}
	meta, tensors, err := parseSafetensors(data)
	if err != nil {
		return nil, err
	}
	m, err := parseMeta(meta)
	if err != nil {
		return nil, err
	}
	if err := m.validateMeta(); err != nil {
		return nil, err
	}

	// The architecture is valid, so the table below has sane sizes.
	m.Weights.Layers = make([]Layer, m.Arch.Depth)
	params := m.Weights.params(m.Arch)
	want := make(map[string]bool, len(params))
	for _, p := range params {
		want[p.name] = true
		t, ok := tensors[p.name]
		if !ok {
			return nil, fmt.Errorf("tensor %q missing", p.name)
		}
		if !slices.Equal(t.Shape, p.shape) {
			return nil, fmt.Errorf("tensor %q: shape %v, want %v", p.name, fmtShape(t.Shape), fmtShape(p.shape))
		}
		*p.data = t.Data
	}
	for _, n := range slices.Sorted(maps.Keys(tensors)) {
		if !want[n] {
			return nil, fmt.Errorf("unexpected tensor %q", n)
		}
	}
	if err := m.validateWeights(); err != nil {
		return nil, err
	}
	return m, nil
}

// parseMeta decodes the metadata into a Model without weights. Values are
// checked by validateMeta.
func parseMeta(meta map[string]string) (*Model, error) {
	if meta == nil {
		return nil, errors.New("no __metadata__ in the header: not a wakewordd model")
	}
	get := func(key string) (string, error) {
		v, ok := meta[key]
		if !ok {
			return "", fmt.Errorf("metadata %q missing", key)
		}
		return v, nil
	}
	format, err := get("format")
	if err != nil {
		return nil, err
	}
	if format != Format {
		return nil, fmt.Errorf("metadata \"format\" is %q, want %q", format, Format)
	}
	version, err := get("format_version")
	if err != nil {
		return nil, err
	}
	if version != FormatVersion {
		return nil, fmt.Errorf("metadata \"format_version\" is %q; this build reads version %s", version, FormatVersion)
	}

	m := &Model{Detection: DefaultDetection()}
	s, err := get("architecture")
	if err != nil {
		return nil, err
	}
	if err := decodeObject("architecture", s, &m.Arch, archKeys(), append(archKeys(), "context")); err != nil {
		return nil, err
	}
	if s, err = get("classes"); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(s), &m.Classes); err != nil || m.Classes == nil {
		return nil, errors.New(`metadata "classes": not a JSON list of strings`)
	}
	if s, err = get("frontend"); err != nil {
		return nil, err
	}
	var f frontendJSON
	if err := decodeObject("frontend", s, &f, frontendKeys(), frontendKeys()); err != nil {
		return nil, err
	}
	m.Frontend = f.params()
	if s, ok := meta["detection"]; ok {
		// Keys left out keep their defaults.
		if err := decodeObject("detection", s, &m.Detection, nil, detectionKeys()); err != nil {
			return nil, err
		}
	}
	if s, ok := meta[MetaDeltaSites]; ok {
		if err := checkDeltaSites(s); err != nil {
			return nil, err
		}
	}
	if s, ok := meta["delta"]; ok {
		var th Thresholds
		if err := th.UnmarshalJSON([]byte(s)); err != nil {
			return nil, fmt.Errorf("metadata \"delta\": %v", err)
		}
		m.Delta = &th
	}
	for _, r := range []struct {
		key string
		dst *json.RawMessage
	}{{"training", &m.Training}, {"validation", &m.Validation}} {
		if s, ok := meta[r.key]; ok {
			if !json.Valid([]byte(s)) {
				return nil, fmt.Errorf("metadata %q: not valid JSON", r.key)
			}
			*r.dst = json.RawMessage(s)
		}
	}
	m.MLP = meta["mlp"]
	m.Created = meta["created"]
	return m, nil
}

// decodeObject decodes the JSON object s into v after checking that every
// required key is present, no key is unknown and none is repeated.
// (encoding/json alone would ignore unknown keys and match them without
// regard to case.)
func decodeObject(key, s string, v any, required, known []string) error {
	fields, err := objectFields([]byte(s))
	if err == nil {
		err = requiredKeys(fields, required...)
	}
	if err == nil {
		err = knownKeys(fields, known...)
	}
	if err == nil {
		err = json.Unmarshal([]byte(s), v)
	}
	if err != nil {
		return fmt.Errorf("metadata %q: %v", key, err)
	}
	return nil
}

// validateMeta checks everything but the weights.
func (m *Model) validateMeta() error {
	if err := m.Arch.validate(); err != nil {
		return err
	}
	if len(m.Classes) != m.Arch.NumClasses {
		return fmt.Errorf("metadata \"classes\" lists %d names, architecture says %d", len(m.Classes), m.Arch.NumClasses)
	}
	seen := make(map[string]bool, len(m.Classes))
	for i, c := range m.Classes {
		if err := checkClassName(c); err != nil {
			return fmt.Errorf("metadata \"classes\": class %d: %v", i, err)
		}
		if seen[c] {
			return fmt.Errorf("metadata \"classes\": %q appears twice", c)
		}
		seen[c] = true
	}
	if err := m.Frontend.Validate(); err != nil {
		return fmt.Errorf("metadata \"frontend\": %v", err)
	}
	if m.Frontend.NumCoeffs != m.Arch.Coeffs {
		return fmt.Errorf("metadata \"frontend\": coeffs %d, but the architecture takes %d", m.Frontend.NumCoeffs, m.Arch.Coeffs)
	}
	if err := m.Detection.validate(m.Classes); err != nil {
		return err
	}
	if err := m.Frontend.CheckHop(m.Hop()); err != nil {
		return fmt.Errorf("metadata \"detection\": hop_ms %d: %v", m.Detection.HopMS, err)
	}
	if m.Delta != nil {
		if err := m.Delta.ValidateFor(m.Arch); err != nil {
			return fmt.Errorf("metadata \"delta\": %v", err)
		}
	}
	if m.MLP != "" && m.MLP != MLPFloat32 && m.MLP != MLPInt8 {
		return fmt.Errorf("metadata \"mlp\": %q, want %q or %q", m.MLP, MLPFloat32, MLPInt8)
	}
	for _, r := range []struct {
		key string
		raw json.RawMessage
	}{{"training", m.Training}, {"validation", m.Validation}} {
		if r.raw != nil && !json.Valid(r.raw) {
			return fmt.Errorf("metadata %q: not valid JSON", r.key)
		}
	}
	if m.Created != "" {
		if _, err := time.Parse(time.RFC3339Nano, m.Created); err != nil {
			return fmt.Errorf("metadata \"created\": %q is not an RFC 3339 time", m.Created)
		}
	}
	return nil
}

// checkClassName keeps class names usable as MQTT topic levels, log fields
// and config keys: 1-64 ASCII letters, digits, '_', '-' or '.'.
func checkClassName(c string) error {
	if len(c) == 0 || len(c) > maxClassName {
		return fmt.Errorf("name %q: want 1..%d characters", c, maxClassName)
	}
	for _, r := range c {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.'
		if !ok {
			return fmt.Errorf("name %q: only ASCII letters, digits, '_', '-' and '.' are allowed", c)
		}
	}
	return nil
}

// validateWeights checks that every tensor has its shape's length and
// holds finite values only. Layers must have Depth entries.
func (m *Model) validateWeights() error {
	if len(m.Weights.Layers) != m.Arch.Depth {
		return fmt.Errorf("%d layers of weights, architecture says %d", len(m.Weights.Layers), m.Arch.Depth)
	}
	for _, p := range m.Weights.params(m.Arch) {
		if n := numel(p.shape); len(*p.data) != n {
			return fmt.Errorf("tensor %q: %d values, want %d for shape %v", p.name, len(*p.data), n, fmtShape(p.shape))
		}
		for i, v := range *p.data {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("tensor %q: element %d is %v", p.name, i, v)
			}
		}
	}
	return nil
}

// Validate checks a model against the same rules as Parse; Write calls it.
func (m *Model) Validate() error {
	if err := m.validateMeta(); err != nil {
		return err
	}
	return m.validateWeights()
}

// Write encodes m as a model file in the layout of models/FORMAT.md: the
// safetensors header with __metadata__ first and the tensors sorted by
// name, padded with spaces to 8 bytes, then the tensor data in the same
// order. Parse of the output reproduces m.
func Write(w io.Writer, m *Model) error {
	meta, tensors, err := m.fileParts()
	if err == nil {
		var b []byte
		if b, err = encodeSafetensors(meta, tensors); err == nil {
			_, err = w.Write(b)
			return err
		}
	}
	return fmt.Errorf("infer: write model: %w", err)
}

// fileParts returns the metadata and tensors of m's file.
func (m *Model) fileParts() (map[string]string, []namedTensor, error) {
	if err := m.Validate(); err != nil {
		return nil, nil, err
	}
	meta := map[string]string{
		"format":         Format,
		"format_version": FormatVersion,
		MetaDeltaSites:   deltaSitesJSON(),
	}
	for key, v := range map[string]any{
		"architecture": m.Arch,
		"classes":      m.Classes,
		"frontend":     toFrontendJSON(m.Frontend),
		"detection":    m.Detection,
	} {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", key, err)
		}
		meta[key] = string(b)
	}
	if m.Delta != nil {
		b, err := json.Marshal(*m.Delta)
		if err != nil {
			return nil, nil, fmt.Errorf("delta: %w", err)
		}
		meta["delta"] = string(b)
	}
	if m.Training != nil {
		meta["training"] = string(m.Training)
	}
	if m.Validation != nil {
		meta["validation"] = string(m.Validation)
	}
	if m.MLP != "" {
		meta["mlp"] = m.MLP
	}
	if m.Created != "" {
		meta["created"] = m.Created
	}
	var tensors []namedTensor
	for _, p := range m.Weights.params(m.Arch) {
		tensors = append(tensors, namedTensor{p.name, p.shape, *p.data})
	}
	return meta, tensors, nil
}

// fmtShape prints a shape as [64 32], and a scalar as [].
func fmtShape(s []int) string {
	if s == nil {
		s = []int{}
	}
	return fmt.Sprint(s)
}
