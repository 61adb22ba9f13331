package infer

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// python is Debian's interpreter, the one with python3-torch; another
// python3 may come first on PATH.
const python = "/usr/bin/python3"

// goldenTolerance is the largest |logit difference| allowed between this
// package's forward pass and PyTorch's (models/FORMAT.md).
const goldenTolerance = 1e-4

// TestTrainingSmoke runs the training side's smoke script, which trains a
// tiny KWT for a few steps on random data and exports it with golden
// vectors, and checks that the exported file loads and that Forward
// reproduces PyTorch's logits.
func TestTrainingSmoke(t *testing.T) {
	script := filepath.Join("..", "train", "smoke.py")
	if _, err := os.Stat(script); err != nil {
		t.Skipf("skipping: %s does not exist yet", script)
	}
	if out, err := exec.Command(python, "-c", "import torch").CombinedOutput(); err != nil {
		t.Skipf("skipping: %s cannot import torch (install python3-torch): %v: %s", python, err, firstLine(out))
	}
	if testing.Short() {
		t.Skip("skipping PyTorch training in -short mode")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, script, dir)
	cmd.Env = append(os.Environ(), "OPENBLAS_NUM_THREADS=1", "OMP_NUM_THREADS=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s %s: %v\n%s", python, script, dir, err, out)
	}
	for _, name := range []string{"model", "stream"} {
		t.Run(name, func(t *testing.T) {
			checkGolden(t, filepath.Join(dir, name+".safetensors"), filepath.Join(dir, name+".golden.safetensors"))
			checkDeltaSitesKey(t, filepath.Join(dir, name+".safetensors"))
		})
	}
}

// TestShippedModelsListDeltaSites checks that every shipped model file
// carries this build's delta sites (models/FORMAT.md, "delta_sites"), the
// list train/kwt.py reads (train/test_delta_sites.py).
func TestShippedModelsListDeltaSites(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "models", "*.safetensors"))
	n := 0
	for _, p := range paths {
		if !strings.HasSuffix(p, ".golden.safetensors") {
			checkDeltaSitesKey(t, p)
			n++
		}
	}
	if n == 0 {
		t.Skip("skipping: no models/*.safetensors")
	}
}

// checkDeltaSitesKey checks that a model file (written by train/export.py or
// by Write) stores "delta_sites" as Write does.
func checkDeltaSitesKey(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	meta, _, err := parseSafetensors(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if got, ok := meta[MetaDeltaSites]; !ok || got != deltaSitesJSON() {
		t.Errorf("%s: metadata %q = %q (present: %v), want %s", path, MetaDeltaSites, got, ok, deltaSitesJSON())
	}
}

// TestGoldenShippedModel checks every shipped model that has golden vectors (the
// default and the alternative depth) against them.
func TestGoldenShippedModel(t *testing.T) {
	goldens, _ := filepath.Glob(filepath.Join("..", "models", "*.golden.safetensors"))
	if len(goldens) == 0 {
		t.Skip("skipping: no models/*.golden.safetensors (yet)")
	}
	for _, golden := range goldens {
		model := strings.TrimSuffix(golden, ".golden.safetensors") + ".safetensors"
		t.Run(filepath.Base(model), func(t *testing.T) { checkGolden(t, model, golden) })
	}
}

// checkGolden loads a model and its golden file (features [N, T, K] and
// logits [N, C]) and compares Forward with the golden logits. A golden file
// written with delta thresholds also holds delta_logits, PyTorch's
// simulation of the delta forward pass (train/kwt.py, held); Delta at the
// same thresholds must reproduce them.
func checkGolden(t *testing.T, modelPath, goldenPath string) {
	t.Helper()
	m, err := Load(modelPath)
	if err != nil {
		t.Fatal(err)
	}
	// PyTorch computes the MLPs in float32; the int8 MLPs are checked
	// against the same logits with their own tolerance below.
	mlp := m.MLP
	m.MLP = MLPFloat32
	g, err := ReadTensors(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	a := m.Arch
	feats, logits := g["features"], g["logits"]
	if len(feats.Shape) != 3 || feats.Shape[1] != a.Frames || feats.Shape[2] != a.Coeffs {
		t.Fatalf("%s: features shape %v, want [N %d %d]", goldenPath, feats.Shape, a.Frames, a.Coeffs)
	}
	n := feats.Shape[0]
	if n == 0 || fmt.Sprint(logits.Shape) != fmt.Sprint([]int{n, a.NumClasses}) {
		t.Fatalf("%s: logits shape %v, want [%d %d] with N > 0", goldenPath, logits.Shape, n, a.NumClasses)
	}
	s := m.NewDense()
	got := make([]float32, a.NumClasses)
	var worst float64
	for i := range n {
		s.Forward(feats.Data[i*a.Frames*a.Coeffs:(i+1)*a.Frames*a.Coeffs], got)
		want := logits.Data[i*a.NumClasses : (i+1)*a.NumClasses]
		for c := range got {
			d := math.Abs(float64(got[c]) - float64(want[c]))
			if !(d <= goldenTolerance) { // also catches NaN
				t.Errorf("example %d, class %q: logit %g, PyTorch %g (|diff| %.3g > %g)", i, m.Classes[c], got[c], want[c], d, goldenTolerance)
			}
			worst = max(worst, d)
		}
	}
	t.Logf("%s: %d examples, %d params, max |logit diff| vs PyTorch = %.3g", modelPath, n, m.ParamCount(), worst)
	if _, ok := g["delta_logits"]; ok {
		checkGoldenDelta(t, m, goldenPath, g)
	}
	if mlp == MLPInt8 {
		m.MLP = MLPInt8
		checkGoldenInt8(t, m, g)
	}
}

// goldenInt8Tolerance bounds how far quantizing the MLPs to int8 may move a
// logit of the shipped models from PyTorch's float32 logits (measured:
// 0.014 on the default model's golden windows).
const goldenInt8Tolerance = 0.1

// checkGoldenInt8 runs the dense pass with int8 MLPs over the golden
// windows: every logit within goldenInt8Tolerance of PyTorch's, and the
// same top class.
func checkGoldenInt8(t *testing.T, m *Model, g map[string]Tensor) {
	t.Helper()
	a := m.Arch
	feats, logits := g["features"], g["logits"]
	s := m.NewDense()
	got := make([]float32, a.NumClasses)
	var worst float64
	for i := range feats.Shape[0] {
		s.Forward(feats.Data[i*a.Frames*a.Coeffs:(i+1)*a.Frames*a.Coeffs], got)
		want := logits.Data[i*a.NumClasses : (i+1)*a.NumClasses]
		for c := range got {
			worst = max(worst, math.Abs(float64(got[c])-float64(want[c])))
		}
		if Argmax(got) != Argmax(want) {
			t.Errorf("example %d: int8 MLPs pick %q, PyTorch %q", i, m.Classes[Argmax(got)], m.Classes[Argmax(want)])
		}
	}
	if !(worst <= goldenInt8Tolerance) {
		t.Errorf("int8 MLPs: max |logit diff| vs PyTorch %.3g > %g", worst, goldenInt8Tolerance)
	}
	t.Logf("int8 MLPs: max |logit diff| vs PyTorch = %.3g", worst)
}

// Tolerances of the delta golden check. An element of a site's input that
// lies within float rounding of its threshold can be kept by one
// implementation and held by the other, which moves that window's logits by
// far more than rounding (up to 0.1 in the 6-layer models' windows, where
// thresholds near 1 hold elements for many tokens); so half the windows must
// agree to goldenTolerance and every window to goldenDeltaTolerance. A wrong
// reference rule (say, comparing with the previous token instead of the
// reference) moves every window, by as much as delta moves it from dense.
const (
	goldenDeltaTolerance    = 0.25
	goldenDeltaExactShare   = 0.5
	goldenDeltaMinReduction = 0.05
)

func checkGoldenDelta(t *testing.T, m *Model, goldenPath string, g map[string]Tensor) {
	t.Helper()
	data, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	meta, _, err := parseSafetensors(data)
	if err != nil {
		t.Fatal(err)
	}
	var th Thresholds
	if err := th.UnmarshalJSON([]byte(meta["delta"])); err != nil {
		t.Fatalf("%s: delta_logits without valid \"delta\" metadata: %v", goldenPath, err)
	}
	a := m.Arch
	feats, want := g["features"], g["delta_logits"]
	n := feats.Shape[0]
	if fmt.Sprint(want.Shape) != fmt.Sprint([]int{n, a.NumClasses}) {
		t.Fatalf("%s: delta_logits shape %v, want [%d %d]", goldenPath, want.Shape, n, a.NumClasses)
	}
	s := m.NewDelta(th)
	got := make([]float32, a.NumClasses)
	exact, worst := 0, 0.0
	for i := range n {
		s.Forward(feats.Data[i*a.Frames*a.Coeffs:(i+1)*a.Frames*a.Coeffs], got)
		w := 0.0
		for c := range got {
			w = max(w, math.Abs(float64(got[c])-float64(want.Data[i*a.NumClasses+c])))
		}
		if !(w <= goldenDeltaTolerance) {
			t.Errorf("example %d: delta logits differ from PyTorch's simulation by %.3g (> %g)", i, w, goldenDeltaTolerance)
		}
		if w <= goldenTolerance {
			exact++
		}
		worst = max(worst, w)
	}
	if float64(exact) < goldenDeltaExactShare*float64(n) {
		t.Errorf("only %d of %d examples match PyTorch's delta logits within %g", exact, n, goldenTolerance)
	}
	// Thresholds that prune nothing would make this check the dense one again.
	ops := s.Ops()
	if r := ops.TotalReduction(); r < goldenDeltaMinReduction {
		t.Errorf("delta thresholds %v remove only %.1f %% of the MACs; the check needs pruning", th, 100*r)
	}
	t.Logf("%s: delta at %v: %d of %d examples within %g, max |logit diff| %.3g, %.1f %% of MACs removed",
		goldenPath, th, exact, n, goldenTolerance, worst, 100*ops.TotalReduction())
}

func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\n' {
			return string(b[:i])
		}
	}
	return string(b)
}
