package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wakewordd/wakewordd/frontend"
	"github.com/wakewordd/wakewordd/infer"
)

const kitchenWAV = "../../examples/kitchen.wav"

func benchJSON(t *testing.T, args ...string) benchReport {
	t.Helper()
	stdout, stderr, code := wakewordd(t, nil, append([]string{"bench", "--json", "--input", kitchenWAV}, args...)...)
	if code != 0 {
		t.Fatalf("bench %v: exit %d\n%s", args, code, stderr)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, stdout)
	}
	return rep
}

// bench --json on a random model: both passes ran the same windows, the counts add up, and
// the reductions are fractions.
func TestBenchJSON(t *testing.T) {
	rep := benchJSON(t, "--model", randomModel, "--windows", "12", "--theta", "0.3")
	a := tinyArch
	if rep.Windows != 12 || rep.Arch != a || rep.HopMS != 100 || rep.ThresholdsSource != "--theta" {
		t.Fatalf("report %+v", rep)
	}
	n := float64(a.Tokens())
	d, M := float64(a.Dim), float64(a.MLPDim)
	L := float64(a.Depth)
	// Every token's key and value in every layer; the other sites compute the class
	// token alone in the last layer (the head reads nothing else).
	rows := (L-1)*n + 1
	wantRef := map[string]float64{
		"embed": float64(a.Frames*a.Coeffs) * d, "q": rows * d * d, "k": L * n * d * d, "scores": rows * n * d,
		"values": rows * n * d, "fc1": rows * d * M, "head": float64(a.NumClasses) * d,
	}
	for k, v := range wantRef {
		if got := rep.ReferenceMACs[k]; got != v {
			t.Errorf("reference %s: %v MACs per inference, want %v", k, got, v)
		}
	}
	total, mhsa := func() (int64, int64) { m, _ := infer.Random(a, 7); return m.DenseMACs() }()
	if rep.ReferenceMACs["total"] != float64(total) || rep.ReferenceMACs["mhsa"] != float64(mhsa) {
		t.Errorf("reference total %v / MHSA %v, DenseMACs %d / %d", rep.ReferenceMACs["total"], rep.ReferenceMACs["mhsa"], total, mhsa)
	}
	// The dense pass executes its reference count except for the embedding, which the
	// stream computes once per frame.
	if rep.Dense.MACsPerInference["mhsa"] != float64(mhsa) || rep.Dense.MACsPerInference["embed"] >= rep.ReferenceMACs["embed"] {
		t.Errorf("dense pass %+v", rep.Dense.MACsPerInference)
	}
	for name, v := range map[string]float64{"mhsa_reduction": rep.MHSAReduction, "total_reduction": rep.TotalReduction, "mlp_reduction": rep.MLPReduction} {
		if !(v > 0 && v < 1) {
			t.Errorf("%s %v, want a fraction in (0, 1)", name, v)
		}
	}
	if got := 1 - rep.Delta.MACsPerInference["mhsa"]/rep.ReferenceMACs["mhsa"]; math.Abs(got-rep.MHSAReduction) > 1e-9 {
		t.Errorf("mhsa_reduction %v, per-inference counts say %v", rep.MHSAReduction, got)
	}
	if len(rep.Layers) != a.Depth || rep.Delta.WallMS <= 0 || rep.Dense.MHSAWallMS <= 0 || rep.Delta.MHSAWallMS <= 0 ||
		rep.Speedup <= 0 || rep.MHSASpeedup <= 0 || rep.AudioSeconds <= 0 {
		t.Errorf("layers %d, wall %v/%v ms, MHSA %v/%v ms, speedups %v %v", len(rep.Layers), rep.Dense.WallMS, rep.Delta.WallMS,
			rep.Dense.MHSAWallMS, rep.Delta.MHSAWallMS, rep.Speedup, rep.MHSASpeedup)
	}
	// Per second of audio: the per-inference count times the inferences per second.
	perS := rep.Delta.MACsPerSecond["mhsa"]
	if want := rep.Delta.MACsPerInference["mhsa"] * float64(rep.Windows) / rep.AudioSeconds; math.Abs(perS-want) > 1e-6*want {
		t.Errorf("MHSA MACs per second %v, want %v", perS, want)
	}
	if !rep.Thresholds.Enabled[infer.DeltaFC2] || rep.Thresholds.Theta[infer.DeltaValues][0] != float32(0.3*defaultValueRatio) {
		t.Errorf("thresholds %v", rep.Thresholds)
	}

	// At theta 0 the delta pass is the dense pass.
	rep = benchJSON(t, "--model", randomModel, "--windows", "3", "--theta", "0", "--scope", "mhsa")
	if rep.ArgmaxAgreement != 1 || rep.MaxPosteriorDiff > 1e-5 || rep.Thresholds.Enabled[infer.DeltaFC1] {
		t.Errorf("theta 0: agreement %v, max posterior diff %v, thresholds %v", rep.ArgmaxAgreement, rep.MaxPosteriorDiff, rep.Thresholds)
	}
}

// --random benchmarks a random-weight KWT-1 without a model file, and says so.
func TestBenchRandomModel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs KWT-1-sized inferences")
	}
	rep := benchJSON(t, "--random", "--random-depth", "2", "--windows", "2", "--theta", "0.5")
	if !rep.RandomWeights || rep.Arch.Dim != 64 || rep.Arch.Frames != 148 || rep.Arch.Depth != 2 || !strings.Contains(rep.Model, "random weights") {
		t.Fatalf("report %+v", rep)
	}
	if rep.MHSAReduction <= 0 {
		t.Errorf("MHSA reduction %v", rep.MHSAReduction)
	}
}

// Thresholds written by bench --write-model are the model's; run, detect and eval use them
// unless --dense says otherwise.
func TestBenchWriteModelAndDenseFlag(t *testing.T) {
	out := filepath.Join(t.TempDir(), "delta.safetensors")
	stdout, stderr, code := wakewordd(t, nil, "bench", "--model", randomModel, "--input", kitchenWAV, "--windows", "2",
		"--theta", "0.25", "--write-model", out)
	if code != 0 || !strings.Contains(stdout, "MHSA") || !strings.Contains(stdout, "speedup") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	m, err := infer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Delta == nil || !m.Delta.Equal(uniformThresholds(tinyArch, 0.25, defaultValueRatio, "all")) {
		t.Fatalf("written thresholds %v", m.Delta)
	}
	// bench now takes the model's thresholds.
	rep := benchJSON(t, "--model", out, "--windows", "2")
	if rep.ThresholdsSource != "model file and config" || !rep.Thresholds.Equal(*m.Delta) {
		t.Errorf("bench on the written model: %s, %v", rep.ThresholdsSource, rep.Thresholds)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, `"inference":"delta qkv=0.25`},
		{[]string{"--dense"}, `"inference":"dense (model.dense)"`},
	} {
		args := append([]string{"run", "--model", out, "--input", kitchenWAV, "--log-format", "json"}, tc.args...)
		_, stderr, code := wakewordd(t, nil, args...)
		if code != 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("run %v: exit %d, want %s in the log:\n%s", tc.args, code, tc.want, stderr)
		}
	}
	_, stderr, code = wakewordd(t, nil, "run", "--model", randomModel, "--input", kitchenWAV, "--log-format", "json")
	if code != 0 || !strings.Contains(stderr, `"inference":"dense (no delta thresholds`) {
		t.Errorf("a model without thresholds should run dense: exit %d\n%s", code, stderr)
	}
	cfg := writeFile(t, "c.yaml", []byte("model:\n  delta:\n    qkv: 0.4\n    values: 0.001\n"))
	_, stderr, code = wakewordd(t, nil, "run", "--config", cfg, "--model", randomModel, "--input", kitchenWAV, "--log-format", "json")
	if code != 0 || !strings.Contains(stderr, `"inference":"delta qkv=0.4 values=0.001"`) {
		t.Errorf("config delta sites: exit %d\n%s", code, stderr)
	}
	for _, cmd := range [][]string{{"detect", "--dense", kitchenWAV}, {"detect", kitchenWAV}} {
		_, stderr, code := wakewordd(t, nil, append([]string{cmd[0], "--model", out}, cmd[1:]...)...)
		if code != 0 {
			t.Errorf("%v: exit %d\n%s", cmd, code, stderr)
		}
	}
}

func TestBenchBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--scope", "mlp"}, `--scope "mlp"`},
		{[]string{"--theta", "-2"}, "--theta -2"},
		{[]string{"--thresholds", `{"sites":{"qkv":[1]}}`}, `--thresholds: site "qkv": 1 thresholds, want one per layer (2)`},
		{[]string{"--thresholds", `{"sites":{"fc3":[1,1]}}`}, `unknown delta site "fc3"`},
		{[]string{"--sweep", "/nonexistent/dir"}, "/nonexistent/dir"},
		{[]string{"--input", "/nonexistent/x.wav"}, "/nonexistent/x.wav"},
	} {
		_, stderr, code := wakewordd(t, nil, append([]string{"bench", "--model", randomModel}, tc.args...)...)
		if code != 1 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("bench %v: exit %d, stderr %q, want one line with %q", tc.args, code, stderr, tc.want)
		}
	}
}

// The sweep runs end to end on a random model and a tiny folder of synthetic clips: CSV,
// PNG and a model with the chosen thresholds.
func TestBenchSweep(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 5))
	for c, class := range []string{"silence", "unknown", "kw2", "kw3"} {
		if err := os.MkdirAll(filepath.Join(dir, "clips", class), 0o755); err != nil {
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
			if err := os.WriteFile(filepath.Join(dir, "clips", class, string(rune('a'+i))+".wav"), wavBytes(t, x), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	prefix, out := filepath.Join(dir, "sw"), filepath.Join(dir, "chosen.safetensors")
	stdout, stderr, code := wakewordd(t, nil, "bench", "--model", randomModel, "--sweep", filepath.Join(dir, "clips"),
		"--out", prefix, "--grid", "0,0.3,1", "--steps", "2", "--write-model", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var sum struct {
		Windows       int
		DenseAccuracy float64 `json:"dense_accuracy"`
		Chosen        *sweepPoint
		Points        []sweepPoint
		WroteModel    string `json:"wrote_model"`
	}
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if sum.Windows != 12 || sum.Chosen == nil || sum.Chosen.Scope != "all" || sum.Chosen.Loss > 0.005 || sum.WroteModel != out {
		t.Fatalf("summary %+v", sum)
	}
	scopes := map[string]int{}
	for _, p := range sum.Points {
		scopes[p.Scope+"/"+p.Search]++
	}
	if scopes["dense/dense"] != 1 || scopes["mhsa/global"] != 3 || scopes["all/global"] != 3 || scopes["all/model"] != 0 {
		t.Errorf("points by scope: %v (the random model has no delta thresholds of its own)", scopes)
	}
	f, err := os.Open(prefix + ".csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != len(sum.Points)+1 || rows[0][0] != "scope" || rows[0][len(rows[0])-1] != "thresholds" {
		t.Fatalf("csv: %v, %d rows for %d points", err, len(rows), len(sum.Points))
	}
	f, err = os.Open(prefix + ".png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil || img.Bounds().Dx() != 1400 {
		t.Fatalf("png: %v", err)
	}
	m, err := infer.Load(out)
	if err != nil || m.Delta == nil || !m.Delta.Equal(sum.Chosen.Th) {
		t.Fatalf("written model: %v, %v", err, m.Delta)
	}
	// --replot draws the same plot again from the CSV alone.
	orig, _ := os.ReadFile(prefix + ".png")
	if _, stderr, code := wakewordd(t, nil, "bench", "--model", randomModel, "--replot", prefix+".csv", "--out", prefix+"-again"); code != 0 {
		t.Fatalf("replot: exit %d, %s", code, stderr)
	}
	if again, err := os.ReadFile(prefix + "-again.png"); err != nil || !bytes.Equal(again, orig) {
		t.Fatalf("replotted PNG differs from the sweep's (%v)", err)
	}
	if _, stderr, code := wakewordd(t, nil, "bench", "--model", randomModel, "--replot", out, "--out", prefix+"-bad"); code != 1 || !strings.Contains(stderr, "not a sweep CSV") {
		t.Errorf("replot of a model file: exit %d, %s", code, stderr)
	}
	// A model with delta thresholds of its own (as fine-tuning leaves them) gets them
	// tried at each --model-scales, restricted to the scope's sites.
	stdout, stderr, code = wakewordd(t, nil, "bench", "--model", out, "--sweep", filepath.Join(dir, "clips"),
		"--out", prefix+"-own", "--grid", "0", "--steps", "1", "--model-scales", "1,3", "--json")
	if code != 0 {
		t.Fatalf("sweep of the written model: exit %d\n%s", code, stderr)
	}
	var own struct{ Points []sweepPoint }
	if err := json.Unmarshal([]byte(stdout), &own); err != nil {
		t.Fatal(err)
	}
	var ownScales []string
	for _, p := range own.Points {
		if p.Search != "model" {
			continue
		}
		ownScales = append(ownScales, fmt.Sprint(p.Scope, " x", p.Theta))
		want := scaledThresholds(restrictThresholds(m.Arch, *m.Delta, p.Scope), p.Theta)
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
	if err := os.MkdirAll(filepath.Join(dir, "clips", "alexa"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "clips", "alexa", "a.wav"), wavBytes(t, make([]float32, 8000)), 0o644)
	_, stderr, code = wakewordd(t, nil, "bench", "--model", randomModel, "--sweep", filepath.Join(dir, "clips"), "--out", prefix)
	if code != 1 || !strings.Contains(stderr, `folder "alexa" is not a class`) {
		t.Errorf("exit %d, %s", code, stderr)
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

// An input shorter than the windows asked for is streamed again until they are scored.
func TestBenchRepeatsShortInput(t *testing.T) {
	short := writeFile(t, "short.wav", wavBytes(t, make([]float32, 16000))) // 8 windows a pass
	rep := benchJSON(t, "--model", randomModel, "--input", short, "--windows", "20", "--theta", "0.3")
	if rep.Windows != 20 {
		t.Fatalf("scored %d windows, want 20", rep.Windows)
	}
}

// Scaled model thresholds are rounded as greedy moves are, so the model file
// stores 0.0005 and not 0.0004 x 1.25 in float32 (0.00049999997).
func TestScaledThresholdsRound(t *testing.T) {
	th := infer.UniformThresholds(2, 0.32, infer.DeltaQKV)
	th.Set(infer.DeltaValues, 2, 0.0004)
	got := scaledThresholds(th, 1.25)
	if got.Theta[infer.DeltaValues][0] != float32(0.0005) || got.Theta[infer.DeltaQKV][1] != float32(0.4) {
		t.Errorf("scaled %v", got.Theta)
	}
	if got = scaledThresholds(th, 1.5); got.Theta[infer.DeltaQKV][0] != float32(0.48) {
		t.Errorf("0.32 x 1.5 = %v, want 0.48", got.Theta[infer.DeltaQKV][0])
	}
	if th.Theta[infer.DeltaQKV][0] != 0.32 {
		t.Error("scaledThresholds changed its input")
	}
}

func TestBestPoint(t *testing.T) {
	pts := []sweepPoint{
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

// bench on a streaming model: the reference is the window computed whole, the dense stream
// runs a fraction of it per hop, and --theta switches on only the sites such a model has.
func TestBenchStreamingModel(t *testing.T) {
	rep := benchJSON(t, "--model", streamModel, "--windows", "8", "--theta", "0.3")
	if !rep.Arch.Streaming() || rep.Windows != 8 {
		t.Fatalf("architecture %+v, %d windows", rep.Arch, rep.Windows)
	}
	whole, stream := rep.ReferenceMACs["total"], rep.Dense.MACsPerInference["total"]
	// 20 frames per window, 10 per hop: the stream runs about half of each window.
	if !(stream < 0.7*whole) {
		t.Errorf("dense stream %.0f MACs per hop, the whole window %.0f", stream, whole)
	}
	for _, s := range []infer.DeltaSite{infer.DeltaScores, infer.DeltaValues} {
		if rep.Thresholds.Enabled[s] {
			t.Errorf("--theta switched on %v on a streaming model", s)
		}
	}
	if !rep.Thresholds.Enabled[infer.DeltaQKV] || rep.SiteReduction["q"] <= 0 {
		t.Errorf("thresholds %v, q reduction %g", rep.Thresholds, rep.SiteReduction["q"])
	}
	if _, stderr, code := wakewordd(t, nil, "bench", "--model", streamModel, "--input", kitchenWAV, "--windows", "2",
		"--thresholds", `{"sites":{"scores":[0.1,0.1]}}`); code == 0 || !strings.Contains(stderr, "scores") {
		t.Errorf("delta scores on a streaming model: exit %d, %s", code, stderr)
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("model:\n  delta:\n    values: 0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := wakewordd(t, nil, "detect", "--config", cfg, "--model", streamModel, kitchenWAV); code != 1 ||
		!strings.Contains(stderr, "config.yaml:2: model.delta: ") || !strings.Contains(stderr, "values") {
		t.Errorf("config model.delta.values on a streaming model: exit %d, %s", code, stderr)
	}
	// The daemon's detect runs it end to end.
	if _, stderr, code := wakewordd(t, nil, "detect", "--model", streamModel, kitchenWAV); code != 0 {
		t.Errorf("detect on a streaming model: exit %d\n%s", code, stderr)
	}
}
