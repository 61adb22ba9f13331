package infer

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestThresholdsConstructors(t *testing.T) {
	th := UniformThresholds(3, 0.5)
	for s := range NumDeltaSites {
		if !th.Enabled[s] || len(th.Theta[s]) != 3 || th.Theta[s][2] != 0.5 {
			t.Fatalf("site %s: %v %v", s, th.Enabled[s], th.Theta[s])
		}
	}
	mhsa := UniformThresholds(2, 1, MHSASites...)
	if mhsa.Enabled[DeltaFC1] || mhsa.Enabled[DeltaFC2] || !mhsa.Enabled[DeltaValues] || !mhsa.Any() || (Thresholds{}).Any() {
		t.Errorf("MHSA sites: %+v", mhsa)
	}
	sc := th.Scaled(2)
	if sc.Theta[DeltaQKV][0] != 1 || th.Theta[DeltaQKV][0] != 0.5 {
		t.Error("Scaled must copy")
	}
	c := th.Clone()
	c.Theta[DeltaOut][1] = 9
	if th.Theta[DeltaOut][1] != 0.5 || th.Equal(c) || !th.Equal(th.Clone()) {
		t.Error("Clone must copy")
	}
	mixed := UniformThresholds(2, 0.5, DeltaQKV)
	mixed.Set(DeltaValues, 2, 0.002)
	mixed.Theta[DeltaQKV][1] = 0.75
	if got := mixed.String(); got != "qkv=0.5..0.75 values=0.002" {
		t.Errorf("String() = %q", got)
	}
	if (Thresholds{}).String() != "none" {
		t.Error("empty String")
	}
	for _, name := range DeltaSiteNames() {
		s, err := ParseDeltaSite(name)
		if err != nil || s.String() != name {
			t.Errorf("%s: %v %v", name, s, err)
		}
	}
	if _, err := ParseDeltaSite("fc3"); err == nil {
		t.Error("fc3 accepted")
	}
}

func TestThresholdsValidate(t *testing.T) {
	for _, tc := range []struct {
		th   Thresholds
		want string
	}{
		{UniformThresholds(3, 0.5), `site "qkv": 3 thresholds, want one per layer (2)`},
		{UniformThresholds(2, -1), `site "qkv": layer 0: threshold -1, want 0..1e+06`},
		{UniformThresholds(2, float32(math.NaN()), DeltaFC2), `site "fc2": layer 0: threshold NaN, want 0..1e+06`},
		{UniformThresholds(2, float32(math.Inf(1)), DeltaOut), `site "out": layer 0: threshold +Inf, want 0..1e+06`},
	} {
		if err := tc.th.Validate(2); err == nil || err.Error() != tc.want {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
	// A disabled site's thresholds are not looked at.
	th := Thresholds{}
	th.Theta[DeltaFC1] = []float32{-1}
	if err := th.Validate(2); err != nil {
		t.Error(err)
	}
}

// The "delta" metadata round-trips through Write and Parse, and a model without it has
// none.
func TestDeltaMetadataRoundTrip(t *testing.T) {
	m := randomModel(t, tinyArch(), 1)
	th := UniformThresholds(2, 0.5, MHSASites...)
	th.Set(DeltaValues, 2, 0.002)
	th.Theta[DeltaQKV][1] = 0.875
	m.Delta = &th
	data := encodeModel(t, m)
	if !bytes.Contains(data, []byte(`"delta":"{\"sites\":{\"out\":[0.5,0.5],\"qkv\":[0.5,0.875],\"scores\":[0.5,0.5],\"values\":[0.002,0.002]}}"`)) {
		t.Errorf("metadata: %.600s", data)
	}
	got, err := Parse(data, "m")
	if err != nil {
		t.Fatal(err)
	}
	m.Path = "m"
	if !reflect.DeepEqual(got, m) {
		t.Errorf("round trip: %v, want %v", got.Delta, m.Delta)
	}
	if again := encodeModel(t, got); !bytes.Equal(again, data) {
		t.Error("second round trip differs")
	}
	plain, err := Parse(encodeModel(t, randomModel(t, tinyArch(), 1)), "p")
	if err != nil || plain.Delta != nil {
		t.Errorf("model without delta metadata: %v, %v", err, plain.Delta)
	}
	// An empty site list is valid: no site is delta-pruned.
	data = variant(t, func(meta map[string]string, _ *[]namedTensor) { meta["delta"] = `{"sites":{}}` })
	if m, err := Parse(data, "e"); err != nil || m.Delta == nil || m.Delta.Any() {
		t.Errorf("empty sites: %v %v", err, m)
	}
}

func TestDeltaMetadataErrors(t *testing.T) {
	for _, tc := range []struct {
		delta, want string
	}{
		{`fast`, `metadata "delta": bad JSON`},
		{`[]`, `metadata "delta": not a JSON object`},
		{`{}`, `metadata "delta": missing key "sites"`},
		{`{"sites":{},"scale":2}`, `metadata "delta": unknown key "scale"`},
		{`{"sites":{},"sites":{}}`, `metadata "delta": duplicate key "sites"`},
		{`{"sites":[]}`, `metadata "delta": sites: not a JSON object`},
		{`{"sites":{"qkv":[0.5,0.5],"qkv":[1,1]}}`, `metadata "delta": sites: duplicate key "qkv"`},
		{`{"sites":{"QKV":[0.5,0.5]}}`, `metadata "delta": sites: unknown delta site "QKV"`},
		{`{"sites":{"fc1":0.5}}`, `metadata "delta": sites: "fc1": not a JSON list of numbers`},
		{`{"sites":{"fc1":null}}`, `metadata "delta": sites: "fc1": not a JSON list of numbers`},
		{`{"sites":{"fc1":["a","b"]}}`, `metadata "delta": sites: "fc1": not a JSON list of numbers`},
		{`{"sites":{"fc1":[1e39,1]}}`, `metadata "delta": sites: "fc1": not a JSON list of numbers`},
		{`{"sites":{"fc1":[0.5]}}`, `metadata "delta": site "fc1": 1 thresholds, want one per layer (2)`},
		{`{"sites":{"values":[0.002,-0.001]}}`, `metadata "delta": site "values": layer 1: threshold -0.001, want 0..1e+06`},
		{`{"sites":{"out":[0.5,2e6]}}`, `metadata "delta": site "out": layer 1: threshold 2e+06, want 0..1e+06`},
	} {
		data := variant(t, func(meta map[string]string, _ *[]namedTensor) { meta["delta"] = tc.delta })
		_, err := Parse(data, "x.safetensors")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "model x.safetensors: ") ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want one line containing %q", tc.delta, err, tc.want)
		}
	}
	// Write refuses thresholds that do not fit the model.
	m := randomModel(t, tinyArch(), 2)
	th := UniformThresholds(5, 0.1)
	m.Delta = &th
	if err := Write(&bytes.Buffer{}, m); err == nil || !strings.Contains(err.Error(), `metadata "delta"`) {
		t.Errorf("Write with 5 layers of thresholds for 2 layers: %v", err)
	}
}

func TestThresholdsJSON(t *testing.T) {
	th := UniformThresholds(2, 0.25, DeltaFC1)
	b, err := json.Marshal(th)
	if err != nil || string(b) != `{"sites":{"fc1":[0.25,0.25]}}` {
		t.Fatalf("%s %v", b, err)
	}
	var back Thresholds
	if err := json.Unmarshal(b, &back); err != nil || !back.Equal(th) {
		t.Fatalf("%v %v", back, err)
	}
}

func TestFoldInputNorm(t *testing.T) {
	m := randomModel(t, tinyArch(), 4)
	a := m.Arch
	mean, std := []float32{1, -2, 3}, []float32{2, 0.5, 4}
	f := []float32{3, -1, 5, 0, 0, 0, 1, 2, 3, -4, 4, 7, 0.5, 0.5, 0.5}
	norm := make([]float32, len(f))
	for i, v := range f {
		norm[i] = (v - mean[i%3]) / std[i%3]
	}
	want, got := make([]float32, a.NumClasses), make([]float32, a.NumClasses)
	m.NewDense().Forward(norm, want)
	if err := m.FoldInputNorm(mean, std); err != nil {
		t.Fatal(err)
	}
	m.NewDense().Forward(f, got)
	if d := maxAbsDiff(got, want); d > 1e-5 {
		t.Errorf("folded normalisation: logits differ by %g", d)
	}
	if err := m.FoldInputNorm(mean, []float32{1, 0, 1}); err == nil {
		t.Error("zero std accepted")
	}
	fm, fs := FrameStats([][]float32{{1, 5}, {3, 5}})
	if fm[0] != 2 || fs[0] != 1 || fm[1] != 5 || fs[1] != 1 {
		t.Errorf("FrameStats %v %v", fm, fs)
	}
}

// FuzzThresholdsJSON: the "delta" decoder never panics, and what it accepts survives a
// round trip.
func FuzzThresholdsJSON(f *testing.F) {
	for _, s := range []string{`{"sites":{"qkv":[0.5,1]}}`, `{"sites":{}}`, `{"sites":{"values":[0.002],"fc2":[1e-3]}}`, `{`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var th Thresholds
		if err := th.UnmarshalJSON(data); err != nil {
			return
		}
		b, err := json.Marshal(th)
		if err != nil {
			t.Fatal(err)
		}
		var back Thresholds
		if err := back.UnmarshalJSON(b); err != nil || !back.Equal(th) {
			t.Fatalf("%s -> %s: %v", data, b, err)
		}
	})
}

// TestDeltaSitesMetadata checks the one list of delta sites in model files:
// Write stores DeltaSiteNames under "delta_sites", Parse accepts a file
// without the key (older files) and rejects one whose list differs.
func TestDeltaSitesMetadata(t *testing.T) {
	m := randomModel(t, tinyArch(), 4)
	th := UniformThresholds(m.Arch.Depth, 0.5, DeltaQKV, DeltaValues)
	m.Delta = &th
	meta, _, err := parseSafetensors(encodeModel(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := meta[MetaDeltaSites], `["qkv","scores","values","out","fc1","fc2"]`; got != want {
		t.Errorf("Write stores %q = %s, want %s", MetaDeltaSites, got, want)
	}
	var names []string
	if err := json.Unmarshal([]byte(meta[MetaDeltaSites]), &names); err != nil || !reflect.DeepEqual(names, DeltaSiteNames()) {
		t.Errorf("%q decodes to %q (%v), want DeltaSiteNames %q", MetaDeltaSites, names, err, DeltaSiteNames())
	}
	DeltaSiteNames()[0] = "changed" // a copy: the one list cannot be changed from outside
	if DeltaSiteNames()[0] != "qkv" {
		t.Fatal("DeltaSiteNames returns the package's own list")
	}

	// The file with its metadata changed (tensors as Write made them).
	file := func(sites *string) []byte {
		meta, tensors, err := m.fileParts()
		if err != nil {
			t.Fatal(err)
		}
		if sites == nil {
			delete(meta, MetaDeltaSites)
		} else {
			meta[MetaDeltaSites] = *sites
		}
		b, err := encodeSafetensors(meta, tensors)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	got, err := Parse(file(nil), "old.safetensors")
	if err != nil {
		t.Fatalf("a file without %q: %v", MetaDeltaSites, err)
	}
	if got.Delta == nil || !got.Delta.Equal(th) {
		t.Errorf("a file without %q: delta %v, want %v", MetaDeltaSites, got.Delta, th)
	}
	same := ` [ "qkv", "scores", "values", "out", "fc1", "fc2" ] `
	if _, err := Parse(file(&same), "spaced.safetensors"); err != nil {
		t.Errorf("the same list with spaces: %v", err)
	}
	for _, bad := range []string{
		`["qkv","scores","values","out","fc1"]`,             // a site less
		`["qkv","scores","values","out","fc1","fc2","fc3"]`, // a site more
		`["qkv","values","scores","out","fc1","fc2"]`,       // another order
		`["QKV","scores","values","out","fc1","fc2"]`,       // another name
		`[]`, `null`, `"qkv"`, `{"sites":[]}`, `["qkv",1]`, ``, // not the list
	} {
		_, err := Parse(file(&bad), "bad.safetensors")
		if err == nil || !strings.Contains(err.Error(), `metadata "delta_sites"`) {
			t.Errorf("delta_sites %s: %v, want an error naming the key", bad, err)
		}
	}
	bad := `["qkv","scores","values","out","fc1","fc2","fc3"]`
	_, err = Parse(file(&bad), "m.safetensors")
	want := `model m.safetensors: metadata "delta_sites": the file lists the delta sites ["qkv","scores","values","out","fc1","fc2","fc3"], ` +
		`this build implements ["qkv","scores","values","out","fc1","fc2"] (in this order): the model was written for other delta sites`
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
}
