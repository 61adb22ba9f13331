package sweep

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/frontend"
	"github.com/wakewordd/wakewordd/infer"
)

const kitchenWAV = "../../../examples/kitchen.wav"

// tinyArch is small enough that tests run fast on any machine.
var tinyArch = infer.Arch{Dim: 16, Depth: 2, Heads: 2, MLPDim: 32, Frames: 20, Coeffs: 40, NumClasses: 4, NormEps: 1e-6, Norm: "post"}

func tinyModel(t *testing.T) *infer.Model {
	t.Helper()
	m, err := infer.Random(tinyArch, 7)
	if err != nil {
		t.Fatal(err)
	}
	m.Path = "tiny"
	return m
}

func writeWAV(t *testing.T, path string, x []float32) {
	t.Helper()
	var b bytes.Buffer
	if err := audio.WriteWAV(&b, 16000, 1, 16, false, x); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// clipFolder writes a tiny validation folder of synthetic clips: three per class of the
// random model, tones of different pitch over noise.
func clipFolder(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clips")
	rng := rand.New(rand.NewPCG(5, 5))
	for c, class := range []string{"silence", "unknown", "kw2", "kw3"} {
		if err := os.MkdirAll(filepath.Join(dir, class), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			x := make([]float32, 12000+2000*i)
			for j := range x {
				x[j] = float32(rng.NormFloat64() * 0.003)
				if c > 0 && j > 4000 && j < 9000 {
					x[j] += 0.3 * float32(math.Sin(float64(j)*float64(c+i)*0.05))
				}
			}
			writeWAV(t, filepath.Join(dir, class, string(rune('a'+i))+".wav"), x)
		}
	}
	return dir
}

func testOptions(grid ...float64) Options {
	o := Defaults()
	o.Grid, o.Steps = grid, 2
	return o
}

// The sweep runs end to end on a random model and a tiny folder of synthetic clips: the
// points, the CSV, the PNG (and the same PNG again from the CSV alone), and the model's
// own thresholds tried at each scale.
func TestRun(t *testing.T) {
	ctx := context.Background()
	dir := clipFolder(t)
	m := tinyModel(t)
	res, err := Run(ctx, m, dir, testOptions(0, 0.3, 1))
	if err != nil {
		t.Fatal(err)
	}
	if res.Windows != 12 || res.Chosen == nil || res.Chosen.Scope != "all" || res.Chosen.Loss > 0.005 {
		t.Fatalf("result %+v", res)
	}
	scopes := map[string]int{}
	for _, p := range res.Points {
		scopes[p.Scope+"/"+p.Search]++
	}
	if scopes["dense/dense"] != 1 || scopes["mhsa/global"] != 3 || scopes["all/global"] != 3 || scopes["all/model"] != 0 {
		t.Errorf("points by scope: %v (the random model has no delta thresholds of its own)", scopes)
	}

	prefix := filepath.Join(t.TempDir(), "sw")
	if err := WriteCSV(prefix+".csv", res.Points); err != nil {
		t.Fatal(err)
	}
	if err := WritePlot(prefix+".png", res.Points, res.DenseAccuracy, 0.005, m.Arch); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(prefix + ".csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != len(res.Points)+1 || rows[0][0] != "scope" || rows[0][len(rows[0])-1] != "thresholds" {
		t.Fatalf("csv: %v, %d rows for %d points", err, len(rows), len(res.Points))
	}
	orig, err := os.ReadFile(prefix + ".png")
	if err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(bytes.NewReader(orig)); err != nil || img.Bounds().Dx() != 1400 {
		t.Fatalf("png: %v", err)
	}
	// Replot draws the same plot again from the CSV alone.
	if err := Replot(prefix+".csv", prefix+"-again.png", 0.005, m.Arch); err != nil {
		t.Fatal(err)
	}
	if again, err := os.ReadFile(prefix + "-again.png"); err != nil || !bytes.Equal(again, orig) {
		t.Fatalf("replotted PNG differs from the sweep's (%v)", err)
	}
	if err := Replot(prefix+".png", prefix+"-bad.png", 0.005, m.Arch); err == nil || !strings.Contains(err.Error(), "not a sweep CSV") {
		t.Errorf("replot of a PNG: %v", err)
	}

	// A model with delta thresholds of its own (as fine-tuning leaves them) gets them
	// tried at each ModelScales, restricted to the scope's sites.
	th := res.Chosen.Th.Clone()
	m.Delta = &th
	o := testOptions(0)
	o.Steps, o.ModelScales = 1, []float64{1, 3}
	own, err := Run(ctx, m, dir, o)
	if err != nil {
		t.Fatal(err)
	}
	var ownScales []string
	for _, p := range own.Points {
		if p.Search != "model" {
			continue
		}
		ownScales = append(ownScales, fmt.Sprint(p.Scope, " x", p.Theta))
		want := ScaledThresholds(RestrictThresholds(m.Arch, *m.Delta, p.Scope), p.Theta)
		if !p.Th.Equal(want) {
			t.Errorf("%s scope, model's thresholds x %g: %v, want %v", p.Scope, p.Theta, p.Th, want)
		}
		if p.Th.Enabled[infer.DeltaFC1] != (p.Scope == "all" && m.Delta.Enabled[infer.DeltaFC1]) {
			t.Errorf("%s scope: fc1 enabled %v", p.Scope, p.Th.Enabled[infer.DeltaFC1])
		}
	}
	if want := []string{"mhsa x1", "mhsa x3", "all x1", "all x3"}; !slices.Equal(ownScales, want) {
		t.Errorf("model points %v, want %v", ownScales, want)
	}

	// A folder that is not a class of the model is an error that names it.
	if err := os.MkdirAll(filepath.Join(dir, "alexa"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeWAV(t, filepath.Join(dir, "alexa", "a.wav"), make([]float32, 8000))
	if _, err := Run(ctx, m, dir, testOptions(0)); err == nil || !strings.Contains(err.Error(), `folder "alexa" is not a class`) {
		t.Errorf("unknown class folder: %v", err)
	}
	if _, err := Run(ctx, m, "/nonexistent/dir", testOptions(0)); err == nil || !strings.Contains(err.Error(), "/nonexistent/dir") {
		t.Errorf("missing folder: %v", err)
	}
}

func TestOptionsCheck(t *testing.T) {
	for _, tc := range []struct {
		set  func(*Options)
		want string
	}{
		{func(o *Options) { o.GreedyBy = "token" }, `--greedy-by "token"`},
		{func(o *Options) { o.Pick = "mlp" }, `--pick "mlp"`},
		{func(o *Options) { o.Factor = 1 }, "1 < --factor <= 10"},
		{func(o *Options) { o.ValueRatio = 0 }, "--value-ratio 0"},
	} {
		o := Defaults()
		tc.set(&o)
		if err := o.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
	if err := Defaults().Check(); err != nil {
		t.Error(err)
	}
	if g, err := ParseGrid("1, 0.5,1,0"); err != nil || !slices.Equal(g, []float64{0, 0.5, 1}) {
		t.Errorf("grid %v, %v", g, err)
	}
	if _, err := ParseGrid("0.5,-1"); err == nil {
		t.Error("a negative theta passed")
	}
}

// The window finder follows train/common.py and train/dataset.py.
func TestSpeechRegionAndWindow(t *testing.T) {
	p := frontend.DefaultParams()
	x := make([]float32, 32000) // 2 s: quiet noise, a loud burst from 0.8 to 1.1 s
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 0.001)
		if i >= 12800 && i < 17600 {
			x[i] += 0.5 * float32(math.Sin(float64(i)*0.1))
		}
	}
	s, e := speechRegion(x, p)
	// Frames touching the burst: frame i covers samples [160 i, 160 i + 480).
	if s < 76 || s > 80 || e < 108 || e > 111 {
		t.Errorf("region [%d, %d), want about [78, 110)", s, e)
	}
	if got := centredStart(s, e, 198, 148); got != (s+e)/2-74 {
		t.Errorf("centred start %d, want %d", got, (s+e)/2-74)
	}
	if got := centredStart(150, 190, 198, 148); got != 50 {
		t.Errorf("centred start %d, want 50 (kept inside the clip)", got)
	}
	if got := centredStart(10, 20, 100, 148); got != -24 {
		t.Errorf("short clip: start %d, want (100-148)//2 = -24", got)
	}
	if floorDiv(-7, 2) != -4 || floorDiv(7, 2) != 3 {
		t.Error("floorDiv")
	}
	if v := percentile([]float64{4, 1, 3, 2}, 50); v != 2.5 {
		t.Errorf("percentile %v", v)
	}
	w := clipWindow(x[:8000], p, 148, false, false)
	if len(w) != 148 || &w[0][0] != &w[30][0] { // 48 frames, centred: the first frame repeats
		t.Errorf("window of a short clip: %d frames", len(w))
	}
	// End-aligned: the utterance's last frame sits endMargin frames before the window's end.
	all, _ := frontend.Compute(x, p)
	w = clipWindow(x, p, 148, false, true)
	if start := e + endMargin - 148; len(w) != 148 || !slices.Equal(w[147], all[start+147]) || !slices.Equal(w[0], all[max(start, 0)]) || slices.Equal(w[147], all[start+146]) {
		t.Errorf("end-aligned window does not end %d frames after the utterance", endMargin)
	}
	if w := clipWindow(x[:100], p, 5, true, false); len(w) != 5 {
		t.Errorf("clip shorter than a frame: %d frames", len(w))
	}
}

// Scaled model thresholds are rounded as greedy moves are, so the model file
// stores 0.0005 and not 0.0004 x 1.25 in float32 (0.00049999997).
func TestScaledThresholdsRound(t *testing.T) {
	th := infer.UniformThresholds(2, 0.32, infer.DeltaQKV)
	th.Set(infer.DeltaValues, 2, 0.0004)
	got := ScaledThresholds(th, 1.25)
	if got.Theta[infer.DeltaValues][0] != float32(0.0005) || got.Theta[infer.DeltaQKV][1] != float32(0.4) {
		t.Errorf("scaled %v", got.Theta)
	}
	if got = ScaledThresholds(th, 1.5); got.Theta[infer.DeltaQKV][0] != float32(0.48) {
		t.Errorf("0.32 x 1.5 = %v, want 0.48", got.Theta[infer.DeltaQKV][0])
	}
	if th.Theta[infer.DeltaQKV][0] != 0.32 {
		t.Error("ScaledThresholds changed its input")
	}
}

func TestBestPoint(t *testing.T) {
	pts := []Point{
		{Scope: "mhsa", Loss: 0, MHSARed: 0.6},
		{Scope: "mhsa", Loss: 0.002, MHSARed: 0.81},
		{Scope: "mhsa", Loss: 0, MHSARed: 0.86},
		{Scope: "mhsa", Loss: 0.02, MHSARed: 0.9}, // over the budget
		{Scope: "all", Loss: 0, MHSARed: 0.95},
	}
	for _, c := range []struct {
		min    float64
		fewest bool
		want   float64
	}{{0, false, 0.86}, {0.8, false, 0.86}, {0.8, true, 0.81}, {0.99, true, -1}} {
		got := -1.0 // none chosen
		if p := bestPoint(pts, "mhsa", 0.005, c.min, c.fewest); p != nil {
			got = p.MHSARed
		}
		if got != c.want {
			t.Errorf("min %g fewest %v: chose %g, want %g", c.min, c.fewest, got, c.want)
		}
	}
}

// Uniform thresholds switch on the scope's sites that the architecture has, the values site
// at theta x ratio; a streaming model has no scores or values sites.
func TestUniformThresholds(t *testing.T) {
	a := tinyArch
	th := UniformThresholds(a, 0.3, DefaultValueRatio, "all")
	if !th.Enabled[infer.DeltaFC2] || th.Theta[infer.DeltaValues][0] != float32(0.3*DefaultValueRatio) || th.Theta[infer.DeltaQKV][1] != 0.3 {
		t.Errorf("all scope: %v", th)
	}
	if th := UniformThresholds(a, 0, DefaultValueRatio, "mhsa"); th.Enabled[infer.DeltaFC1] || !th.Enabled[infer.DeltaOut] {
		t.Errorf("mhsa scope: %v", th)
	}
	a.Context = 4
	th = UniformThresholds(a, 0.3, DefaultValueRatio, "all")
	if th.Enabled[infer.DeltaScores] || th.Enabled[infer.DeltaValues] || !th.Enabled[infer.DeltaQKV] || th.ValidateFor(a) != nil {
		t.Errorf("streaming model: %v", th)
	}
	if r := RestrictThresholds(tinyArch, UniformThresholds(tinyArch, 0.3, DefaultValueRatio, "all"), "mhsa"); r.Enabled[infer.DeltaFC1] || !r.Enabled[infer.DeltaQKV] {
		t.Errorf("restricted to mhsa: %v", r)
	}
}

// RandomKWT1 is KWT-1's shape with random weights, its input normalised to the file's
// frames, and says so; delta pruning removes attention work on it.
func TestRandomKWT1(t *testing.T) {
	if testing.Short() {
		t.Skip("runs KWT-1-sized inferences")
	}
	m, err := RandomKWT1(2, kitchenWAV)
	if err != nil {
		t.Fatal(err)
	}
	if a := m.Arch; a.Dim != 64 || a.Frames != 148 || a.Depth != 2 || a.NumClasses != 8 || !strings.Contains(m.Path, "random weights") {
		t.Fatalf("model %s, %+v", m.Path, a)
	}
	samples, _ := audio.DecodeFile(kitchenWAV)
	frames, _ := frontend.Compute(samples, m.Frontend)
	d := m.NewDelta(UniformThresholds(m.Arch, 0.5, DefaultValueRatio, "all"))
	logits := make([]float32, m.Arch.NumClasses)
	for _, start := range []int{0, 10} { // two hops of a stream
		d.Forward(slices.Concat(frames[start:start+148]...), logits)
	}
	if r := d.Ops().MHSAReduction(); !(r > 0) {
		t.Errorf("MHSA reduction %v", r)
	}
	if _, err := RandomKWT1(0, kitchenWAV); err == nil || !strings.Contains(err.Error(), "--random-depth 0") {
		t.Errorf("depth 0: %v", err)
	}
	// WriteModel stores the thresholds; the file loads back with them.
	th := UniformThresholds(m.Arch, 0.5, DefaultValueRatio, "all")
	path := filepath.Join(t.TempDir(), "r.safetensors")
	if err := WriteModel(m, th, path); err != nil {
		t.Fatal(err)
	}
	if back, err := infer.Load(path); err != nil || back.Delta == nil || !back.Delta.Equal(th) {
		t.Fatalf("written model: %v", err)
	}
}
