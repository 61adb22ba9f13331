package infer

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wakewordd/wakewordd/frontend"
)

func TestWriteParseRoundTrip(t *testing.T) {
	m := randomModel(t, tinyArch(), 1)
	m.Training = json.RawMessage(`{"steps":3,"data":["a","b"]}`)
	m.Validation = json.RawMessage(`{"accuracy":0.5}`)
	m.Created = "2026-11-28T07:09:00.123456+00:00"
	m.Detection.Thresholds = map[string]float64{"kw2": 0.7}
	m.MLP = MLPInt8
	data := encodeModel(t, m)

	got, err := Parse(data, "m.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	m.Path = "m.safetensors"
	if !reflect.DeepEqual(got, m) {
		t.Errorf("round trip changed the model:\n got %+v\nwant %+v", got, m)
	}
	// The writer is deterministic, so a second round gives the same bytes.
	if again := encodeModel(t, got); !bytes.Equal(again, data) {
		t.Error("Write(Parse(Write(m))) differs from Write(m)")
	}

	path := filepath.Join(t.TempDir(), "kwt.safetensors")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Path != path || !reflect.DeepEqual(loaded.Weights, m.Weights) {
		t.Error("Load differs from Parse")
	}
}

// TestWriteLayout checks the byte layout FORMAT.md promises: the length
// prefix, a JSON header padded with spaces to a multiple of 8 with
// __metadata__ first and tensors in name order, and back-to-back data.
func TestWriteLayout(t *testing.T) {
	m := randomModel(t, tinyArch(), 2)
	data := encodeModel(t, m)
	n := int(data[0]) | int(data[1])<<8 | int(data[2])<<16
	if (8+n)%8 != 0 {
		t.Errorf("data section starts at %d", 8+n)
	}
	header := string(data[8 : 8+n])
	if !strings.HasPrefix(header, `{"__metadata__":{`) || strings.TrimRight(header, " ")[len(strings.TrimRight(header, " "))-1] != '}' {
		t.Errorf("header layout: %.80s...", header)
	}
	var prev, off int
	for _, p := range m.Weights.params(m.Arch) {
		i := strings.Index(header, `"`+p.name+`":`)
		if i < prev {
			t.Fatalf("tensor %q out of name order in the header", p.name)
		}
		prev = i
		size := 4 * numel(p.shape)
		want := `"data_offsets":[` + itoa(off) + `,` + itoa(off+size) + `]`
		if !strings.HasPrefix(header[i+len(p.name)+3:], `{"dtype":"F32","shape":`) || !strings.Contains(header[i:], want) {
			t.Fatalf("tensor %q: header entry does not hold %s", p.name, want)
		}
		off += size
	}
	if len(data) != 8+n+off {
		t.Errorf("file is %d bytes, want %d", len(data), 8+n+off)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// variant builds a model file from a valid tiny model after edit has
// changed its metadata or tensor list.
func variant(t *testing.T, edit func(meta map[string]string, tensors *[]namedTensor)) []byte {
	t.Helper()
	m := randomModel(t, tinyArch(), 3)
	meta, tensors, err := m.fileParts()
	if err != nil {
		t.Fatal(err)
	}
	edit(meta, &tensors)
	b, err := encodeSafetensors(meta, tensors)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// setJSON replaces one key of a JSON-object metadata value; a nil v
// deletes it.
func setJSON(meta map[string]string, key, field string, v any) {
	var obj map[string]any
	if err := json.Unmarshal([]byte(meta[key]), &obj); err != nil {
		panic(err)
	}
	if v == nil {
		delete(obj, field)
	} else {
		obj[field] = v
	}
	b, _ := json.Marshal(obj)
	meta[key] = string(b)
}

func tensorNamed(ts []namedTensor, name string) *namedTensor {
	for i := range ts {
		if ts[i].name == name {
			return &ts[i]
		}
	}
	panic("no tensor " + name)
}

func TestParseErrors(t *testing.T) {
	type meta = map[string]string
	type tensors = *[]namedTensor
	cases := []struct {
		name string
		edit func(meta, tensors)
		want string
	}{
		{"empty metadata", func(m meta, _ tensors) { clear(m) }, `metadata "format" missing`},
		{"format missing", func(m meta, _ tensors) { delete(m, "format") }, `metadata "format" missing`},
		{"format", func(m meta, _ tensors) { m["format"] = "pt" }, `metadata "format" is "pt", want "wakewordd-kwt"`},
		{"format_version", func(m meta, _ tensors) { m["format_version"] = "2" }, `metadata "format_version" is "2"; this build reads version 1`},
		{"architecture missing", func(m meta, _ tensors) { delete(m, "architecture") }, `metadata "architecture" missing`},
		{"architecture not json", func(m meta, _ tensors) { m["architecture"] = "dim=8" }, `metadata "architecture": bad JSON`},
		{"architecture key missing", func(m meta, _ tensors) { setJSON(m, "architecture", "heads", nil) }, `metadata "architecture": missing key "heads"`},
		{"architecture unknown key", func(m meta, _ tensors) { setJSON(m, "architecture", "pool", "mean") }, `metadata "architecture": unknown key "pool"`},
		{"architecture duplicate key", func(m meta, _ tensors) { m["architecture"] = strings.Replace(m["architecture"], `{`, `{"dim":8,`, 1) }, `metadata "architecture": duplicate key "dim"`},
		{"architecture case", func(m meta, _ tensors) { m["architecture"] = strings.Replace(m["architecture"], `"dim"`, `"DIM"`, 1) }, `missing key "dim"`},
		{"dim fractional", func(m meta, _ tensors) { setJSON(m, "architecture", "dim", 8.5) }, `metadata "architecture": json: cannot unmarshal number 8.5`},
		{"dim 0", func(m meta, _ tensors) { setJSON(m, "architecture", "dim", 0) }, `"architecture": dim 0, want 1..1024`},
		{"dim big", func(m meta, _ tensors) { setJSON(m, "architecture", "dim", 1025) }, "dim 1025, want 1..1024"},
		{"depth 0", func(m meta, _ tensors) { setJSON(m, "architecture", "depth", 0) }, "depth 0, want 1..48"},
		{"depth big", func(m meta, _ tensors) { setJSON(m, "architecture", "depth", 49) }, "depth 49, want 1..48"},
		{"heads", func(m meta, _ tensors) { setJSON(m, "architecture", "heads", 3) }, "heads 3, want a divisor of dim (8)"},
		{"heads 0", func(m meta, _ tensors) { setJSON(m, "architecture", "heads", 0) }, "heads 0"},
		{"mlp_dim", func(m meta, _ tensors) { setJSON(m, "architecture", "mlp_dim", 8193) }, "mlp_dim 8193, want 1..8192"},
		{"frames 0", func(m meta, _ tensors) { setJSON(m, "architecture", "frames", 0) }, "frames 0, want 1..2000"},
		{"frames big", func(m meta, _ tensors) { setJSON(m, "architecture", "frames", 2001) }, "frames 2001"},
		{"coeffs 0", func(m meta, _ tensors) { setJSON(m, "architecture", "coeffs", 0) }, "coeffs 0, want 1..1024"},
		{"classes 1", func(m meta, _ tensors) { setJSON(m, "architecture", "classes", 1) }, "classes 1, want 2..256"},
		{"classes big", func(m meta, _ tensors) { setJSON(m, "architecture", "classes", 257) }, "classes 257, want 2..256"},
		{"norm_eps 0", func(m meta, _ tensors) { setJSON(m, "architecture", "norm_eps", 0) }, "norm_eps 0, want 1e-12..1"},
		{"norm", func(m meta, _ tensors) { setJSON(m, "architecture", "norm", "pre") }, `norm "pre", want "post"`},
		{"classes missing", func(m meta, _ tensors) { delete(m, "classes") }, `metadata "classes" missing`},
		{"classes not list", func(m meta, _ tensors) { m["classes"] = `{"a":1}` }, `metadata "classes": not a JSON list of strings`},
		{"classes null", func(m meta, _ tensors) { m["classes"] = `null` }, `metadata "classes": not a JSON list`},
		{"classes count", func(m meta, _ tensors) { m["classes"] = `["silence","unknown","a"]` }, `metadata "classes" lists 3 names, architecture says 4`},
		{"class twice", func(m meta, _ tensors) { m["classes"] = `["silence","unknown","a","a"]` }, `"a" appears twice`},
		{"class name", func(m meta, _ tensors) { m["classes"] = `["silence","unknown","a/b","c"]` }, `class 2: name "a/b": only ASCII letters`},
		{"class empty", func(m meta, _ tensors) { m["classes"] = `["silence","unknown","","c"]` }, `class 2: name "": want 1..64 characters`},
		{"frontend missing", func(m meta, _ tensors) { delete(m, "frontend") }, `metadata "frontend" missing`},
		{"frontend key missing", func(m meta, _ tensors) { setJSON(m, "frontend", "log_floor", nil) }, `metadata "frontend": missing key "log_floor"`},
		{"frontend unknown key", func(m meta, _ tensors) { setJSON(m, "frontend", "preemphasis", 0.97) }, `unknown key "preemphasis"`},
		{"frontend invalid", func(m meta, _ tensors) { setJSON(m, "frontend", "window", 1024) }, `metadata "frontend": frontend: invalid WindowLen: 1024 samples`},
		{"frontend coeffs", func(m meta, _ tensors) { setJSON(m, "frontend", "coeffs", 40) }, `metadata "frontend": coeffs 40, but the architecture takes 3`},
		{"detection not json", func(m meta, _ tensors) { m["detection"] = "fast" }, `metadata "detection": bad JSON`},
		{"detection unknown key", func(m meta, _ tensors) { setJSON(m, "detection", "treshold", 0.5) }, `metadata "detection": unknown key "treshold"`},
		{"hop_ms", func(m meta, _ tensors) { setJSON(m, "detection", "hop_ms", 0) }, `"detection": hop_ms 0: hop 0s must be a multiple of the 10ms frame hop`},
		{"hop_ms not whole frames", func(m meta, _ tensors) { setJSON(m, "detection", "hop_ms", 105) }, `hop 105ms must be a multiple of the 10ms frame hop`},
		{"hop_ms huge", func(m meta, _ tensors) { setJSON(m, "detection", "hop_ms", 1e15) }, `"detection": hop_ms 1000000000000000: hop 2562047h47m16.854775807s must`},
		{"threshold", func(m meta, _ tensors) { setJSON(m, "detection", "threshold", 0) }, "threshold 0, want 0 < threshold <= 1"},
		{"smoothing", func(m meta, _ tensors) { setJSON(m, "detection", "smoothing", 0) }, "smoothing 0"},
		{"patience", func(m meta, _ tensors) { setJSON(m, "detection", "patience", -1) }, "patience -1"},
		{"refractory", func(m meta, _ tensors) { setJSON(m, "detection", "refractory_s", -1) }, "refractory_s -1"},
		{"gate fuse", func(m meta, _ tensors) { setJSON(m, "detection", "gate_fuse", 1) }, "gate_fuse 1"},
		{"thresholds class", func(m meta, _ tensors) { setJSON(m, "detection", "thresholds", map[string]float64{"alexa": 0.5}) }, `thresholds: "alexa" is not a class`},
		{"thresholds value", func(m meta, _ tensors) { setJSON(m, "detection", "thresholds", map[string]float64{"kw2": 1.5}) }, `thresholds["kw2"] 1.5`},
		{"training", func(m meta, _ tensors) { m["training"] = "{" }, `metadata "training": not valid JSON`},
		{"validation", func(m meta, _ tensors) { m["validation"] = "98%" }, `metadata "validation": not valid JSON`},
		{"mlp", func(m meta, _ tensors) { m["mlp"] = "fp16" }, `metadata "mlp": "fp16", want "float32" or "int8"`},
		{"created", func(m meta, _ tensors) { m["created"] = "yesterday" }, `metadata "created": "yesterday" is not an RFC 3339 time`},
		{"tensor missing", func(_ meta, ts tensors) { *ts = (*ts)[1:] }, `tensor "cls" missing`},
		{"tensor shape", func(_ meta, ts tensors) {
			p := tensorNamed(*ts, "layers.1.attn.q.weight")
			p.shape = []int{16, 4}
		}, `tensor "layers.1.attn.q.weight": shape [16 4], want [8 8]`},
		{"tensor rank", func(_ meta, ts tensors) { tensorNamed(*ts, "cls").shape = []int{1, 8} }, `tensor "cls": shape [1 8], want [8]`},
		{"unexpected tensor", func(_ meta, ts tensors) {
			*ts = append(*ts, namedTensor{"layers.2.attn.q.weight", []int{1}, []float32{0}})
		}, `unexpected tensor "layers.2.attn.q.weight"`},
		{"nan", func(_ meta, ts tensors) { tensorNamed(*ts, "head.bias").data[1] = float32(math.NaN()) }, `tensor "head.bias": element 1 is NaN`},
		{"inf", func(_ meta, ts tensors) { tensorNamed(*ts, "pos").data[7] = float32(math.Inf(-1)) }, `tensor "pos": element 7 is -Inf`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := variant(t, func(m map[string]string, ts *[]namedTensor) { c.edit(m, ts) })
			_, err := Parse(data, "x.safetensors")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got error %v, want one containing %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "model x.safetensors: ") || strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line naming the file: %q", err)
			}
		})
	}
}

func TestParseNotAModel(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTensors(&buf, map[string]Tensor{"cls": {Shape: []int{1}, Data: []float32{0}}}); err != nil {
		t.Fatal(err)
	}
	_, err := Parse(buf.Bytes(), "golden.safetensors")
	if err == nil || err.Error() != "model golden.safetensors: no __metadata__ in the header: not a wakewordd model" {
		t.Errorf("got %v", err)
	}
}

func TestParseDetectionDefaults(t *testing.T) {
	data := variant(t, func(m map[string]string, _ *[]namedTensor) { delete(m, "detection") })
	m, err := Parse(data, "x")
	if err != nil {
		t.Fatal(err)
	}
	want := Detection{HopMS: 100, Threshold: 0.5, Smoothing: 3, Patience: 1, RefractoryS: 2}
	if !reflect.DeepEqual(m.Detection, want) {
		t.Errorf("detection %+v, want %+v", m.Detection, want)
	}

	// Keys that are present replace their default; the rest stay.
	data = variant(t, func(m map[string]string, _ *[]namedTensor) {
		m["detection"] = `{"threshold":0.8,"thresholds":{"kw3":0.9}}`
	})
	if m, err = Parse(data, "x"); err != nil {
		t.Fatal(err)
	}
	want.Threshold, want.Thresholds = 0.8, map[string]float64{"kw3": 0.9}
	if !reflect.DeepEqual(m.Detection, want) {
		t.Errorf("detection %+v, want %+v", m.Detection, want)
	}
	if m.Detection.ThresholdFor("kw3") != 0.9 || m.Detection.ThresholdFor("kw2") != 0.8 {
		t.Error("ThresholdFor")
	}
	if m.Training != nil || m.Validation != nil || m.Created != "" {
		t.Error("absent provenance should stay empty")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "none.safetensors")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.safetensors")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "file is larger than 67108864 bytes") {
		t.Errorf("big file: %v", err)
	}
	if _, err := Parse(make([]byte, MaxFileSize+1), "x"); err == nil || !strings.Contains(err.Error(), "larger than 64 MiB") {
		t.Errorf("big data: %v", err)
	}
}

func TestWriteRejectsInvalid(t *testing.T) {
	m := randomModel(t, tinyArch(), 4)
	m.Weights.Layers[0].FC1 = m.Weights.Layers[0].FC1[1:]
	if err := Write(&bytes.Buffer{}, m); err == nil || !strings.Contains(err.Error(), `tensor "layers.0.mlp.fc1.weight": 95 values, want 96`) {
		t.Errorf("short tensor: %v", err)
	}
	m = randomModel(t, tinyArch(), 4)
	m.Frontend = frontend.DefaultParams() // 40 coefficients, the model takes 3
	if err := Write(&bytes.Buffer{}, m); err == nil {
		t.Error("Write accepted a frontend that does not match the architecture")
	}
}

func TestKeywords(t *testing.T) {
	m := &Model{Classes: []string{"silence", "unknown", "alexa", "smart_mirror"}}
	if got := m.Keywords(); !reflect.DeepEqual(got, []string{"alexa", "smart_mirror"}) {
		t.Errorf("Keywords() = %v", got)
	}
}

// TestCounts checks ParamCount against DESIGN.md (KWT-1 at 12 classes has
// 607,308 parameters) and against the loaded tensors, the full count against the
// figures quoted there (about 73.7 M per 1 s window, 34.5 M in MHSA), and
// DenseMACs against that less the last layer's rows that only the
// class token needs.
func TestCounts(t *testing.T) {
	m := randomModel(t, kwt1(98, 12), 5)
	if got := m.ParamCount(); got != 607308 {
		t.Errorf("KWT-1 ParamCount() = %d, want 607308", got)
	}
	var n int64
	for _, p := range m.Weights.params(m.Arch) {
		n += int64(len(*p.data))
	}
	if n != m.ParamCount() {
		t.Errorf("tensors hold %d values, ParamCount() = %d", n, m.ParamCount())
	}
	full, fullMHSA := fullMACs(m)
	if full != 73698560 || fullMHSA != 34518528 {
		t.Errorf("fullMACs = %d, %d; want 73698560, 34518528", full, fullMHSA)
	}
	if math.Abs(float64(full)/1e6-73.7) > 0.05 || math.Abs(float64(fullMHSA)/1e6-34.5) > 0.05 {
		t.Errorf("fullMACs = %.2f M, %.2f M; DESIGN.md says 73.7 M, 34.5 M", float64(full)/1e6, float64(fullMHSA)/1e6)
	}
	// The last layer skips, for the N-1 other tokens, their query (d²), score
	// and attention rows (N·d each), output projection (d²) and MLP (2·d·M).
	a := m.Arch
	N, d, M := int64(a.Tokens()), int64(a.Dim), int64(a.MLPDim)
	skipMHSA := (N - 1) * (2*d*d + 2*N*d)
	skip := skipMHSA + (N-1)*2*d*M
	total, mhsa := m.DenseMACs()
	if total != full-skip || mhsa != fullMHSA-skipMHSA {
		t.Errorf("DenseMACs() = %d, %d; want %d, %d", total, mhsa, full-skip, fullMHSA-skipMHSA)
	}
	t.Logf("KWT-1, 98 frames, 12 classes: %d params, %d MACs (%d in MHSA), %d computing every token", m.ParamCount(), total, mhsa, full)
	m148 := randomModel(t, kwt1(148, 8), 5)
	total, mhsa = m148.DenseMACs()
	t.Logf("KWT-1, 148 frames, 8 classes: %d params, %d MACs (%d in MHSA)", m148.ParamCount(), total, mhsa)
}

// With "mlp" int8 both passes run the MLPs on int8: the logits move by the
// quantization error only, and the ops counts stay those of float32.
func TestInt8MLP(t *testing.T) {
	m := randomModel(t, kwt1(40, 6), 7)
	feats := make([]float32, m.Arch.Frames*m.Arch.Coeffs)
	for i := range feats {
		feats[i] = float32(math.Sin(float64(i) * 0.37))
	}
	logits := func(mlp string, delta bool) []float32 {
		m.MLP = mlp
		out := make([]float32, m.Arch.NumClasses)
		if delta {
			m.NewDelta(Thresholds{}).Forward(feats, out)
		} else {
			m.NewDense().Forward(feats, out)
		}
		return out
	}
	f32, i8, d8 := logits(MLPFloat32, false), logits(MLPInt8, false), logits(MLPInt8, true)
	var worst float64
	for c := range f32 {
		worst = max(worst, math.Abs(float64(i8[c]-f32[c])))
		if i8[c] != d8[c] {
			t.Errorf("class %d: dense %v, delta at threshold 0 %v with int8 MLPs", c, i8[c], d8[c])
		}
	}
	if worst == 0 || worst > 0.05 {
		t.Errorf("int8 MLPs moved the logits by up to %g; want a quantization error, above 0 and at most 0.05", worst)
	}
	t.Logf("int8 against float32 MLPs: max |logit diff| %.3g", worst)
}

// fullMACs is DenseMACs with every token computed in every layer, as
// DESIGN.md quotes KWT.
func fullMACs(m *Model) (total, mhsa int64) {
	a := m.Arch
	T, N, K := int64(a.Frames), int64(a.Tokens()), int64(a.Coeffs)
	d, M, C := int64(a.Dim), int64(a.MLPDim), int64(a.NumClasses)
	qkv := 3 * N * d * d
	scores := N * N * d // summed over heads: heads * N^2 * (d/heads)
	av := N * N * d
	out := N * d * d
	mlp := 2 * N * d * M
	mhsa = int64(a.Depth) * (qkv + scores + av + out)
	total = T*K*d + mhsa + int64(a.Depth)*mlp + C*d
	return total, mhsa
}
