package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/opsreport"
)

const kitchenWAV = "../../examples/kitchen.wav"

func benchJSON(t *testing.T, args ...string) opsreport.Report {
	t.Helper()
	stdout, stderr, code := wakewordd(t, nil, append([]string{"bench", "--json", "--input", kitchenWAV}, args...)...)
	if code != 0 {
		t.Fatalf("bench %v: exit %d\n%s", args, code, stderr)
	}
	var rep opsreport.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, stdout)
	}
	return rep
}

// deltaConfig writes a config whose model.delta switches on every site of the window KWT
// with theta (the values site, whose input is a probability, with theta x 0.004), as
// bench/sweep --theta does; streaming leaves out the sites a streaming model lacks.
func deltaConfig(t *testing.T, theta float64, streaming bool) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("model:\n  delta:\n")
	for _, s := range infer.AllSites {
		v := theta
		if s == infer.DeltaValues {
			v *= 0.004
		}
		if !streaming || (s != infer.DeltaScores && s != infer.DeltaValues) {
			fmt.Fprintf(&b, "    %s: %g\n", s, v)
		}
	}
	return writeFile(t, "delta.yaml", []byte(b.String()))
}

// bench --json on a random model with the config's delta thresholds: both passes ran the
// same windows, the counts add up, and the reductions are fractions.
func TestBenchJSON(t *testing.T) {
	rep := benchJSON(t, "--config", deltaConfig(t, 0.3, false), "--model", randomModel, "--windows", "12")
	a := tinyArch
	if rep.Windows != 12 || rep.Arch != a || rep.HopMS != 100 || rep.ThresholdsSource != "model file and config" {
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
	if !rep.Thresholds.Enabled[infer.DeltaFC2] || rep.Thresholds.Theta[infer.DeltaValues][0] != float32(0.3*0.004) {
		t.Errorf("thresholds %v", rep.Thresholds)
	}

	// A model without thresholds is measured at theta 0, where the delta pass is the dense
	// pass.
	rep = benchJSON(t, "--model", randomModel, "--windows", "3")
	if rep.ArgmaxAgreement != 1 || rep.MaxPosteriorDiff > 1e-5 || !strings.HasPrefix(rep.ThresholdsSource, "none in the model or config") ||
		!rep.Thresholds.Equal(infer.UniformThresholds(a.Depth, 0)) {
		t.Errorf("theta 0: agreement %v, max posterior diff %v, thresholds %v", rep.ArgmaxAgreement, rep.MaxPosteriorDiff, rep.Thresholds)
	}
}

// bench --write-model stores the delta thresholds (the config's here) and the MLP
// arithmetic it ran in the model; run, detect and eval use them unless --dense says
// otherwise.
func TestBenchWriteModelAndDenseFlag(t *testing.T) {
	out := filepath.Join(t.TempDir(), "delta.safetensors")
	stdout, stderr, code := wakewordd(t, nil, "bench", "--config", deltaConfig(t, 0.25, false), "--model", randomModel,
		"--input", kitchenWAV, "--windows", "2", "--mlp", "int8", "--write-model", out)
	if code != 0 || !strings.Contains(stdout, "MHSA") || !strings.Contains(stdout, "speedup") || !strings.Contains(stdout, "wrote "+out) {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	m, err := infer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	want := infer.UniformThresholds(tinyArch.Depth, 0.25)
	want.Set(infer.DeltaValues, tinyArch.Depth, 0.25*0.004)
	if m.Delta == nil || !m.Delta.Equal(want) || m.MLP != infer.MLPInt8 {
		t.Fatalf("written thresholds %v, MLP %q", m.Delta, m.MLP)
	}
	// bench now takes the model's thresholds.
	rep := benchJSON(t, "--model", out, "--windows", "2")
	if rep.ThresholdsSource != "model file and config" || !rep.Thresholds.Equal(*m.Delta) {
		t.Errorf("bench on the written model: %s, %v", rep.ThresholdsSource, rep.Thresholds)
	}
	// A model without thresholds stays without: the daemon runs it dense.
	plain := filepath.Join(t.TempDir(), "plain.safetensors")
	if _, stderr, code := wakewordd(t, nil, "bench", "--model", randomModel, "--input", kitchenWAV, "--windows", "1",
		"--mlp", "int8", "--write-model", plain); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if m, err := infer.Load(plain); err != nil || m.Delta != nil || m.MLP != infer.MLPInt8 {
		t.Fatalf("model written without thresholds: %v, delta %v", err, m.Delta)
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
		{[]string{"--windows", "0"}, "--windows 0"},
		{[]string{"--config", writeFile(t, "c.yaml", []byte("model:\n  delta:\n    fc3: 1\n"))}, `unknown delta site "fc3"`},
		{[]string{"--input", "/nonexistent/x.wav"}, "/nonexistent/x.wav"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		_, stderr, code := wakewordd(t, nil, append([]string{"bench", "--model", randomModel}, tc.args...)...)
		if code != 1 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("bench %v: exit %d, stderr %q, want one line with %q", tc.args, code, stderr, tc.want)
		}
	}
}

// An input shorter than the windows asked for is streamed again until they are scored.
func TestBenchRepeatsShortInput(t *testing.T) {
	short := writeFile(t, "short.wav", wavBytes(t, make([]float32, 16000))) // 8 windows a pass
	rep := benchJSON(t, "--model", randomModel, "--input", short, "--windows", "20")
	if rep.Windows != 20 {
		t.Fatalf("scored %d windows, want 20", rep.Windows)
	}
}

// bench on a streaming model: the reference is the window computed whole, the dense stream
// runs a fraction of it per hop, and without thresholds of its own the model is measured
// at theta 0 on only the sites such a model has.
func TestBenchStreamingModel(t *testing.T) {
	if rep := benchJSON(t, "--model", streamModel, "--windows", "2"); rep.Thresholds.Enabled[infer.DeltaScores] ||
		rep.Thresholds.Enabled[infer.DeltaValues] || !rep.Thresholds.Enabled[infer.DeltaQKV] {
		t.Errorf("theta 0 on a streaming model: %v", rep.Thresholds)
	}
	rep := benchJSON(t, "--config", deltaConfig(t, 0.3, true), "--model", streamModel, "--windows", "8")
	if !rep.Arch.Streaming() || rep.Windows != 8 {
		t.Fatalf("architecture %+v, %d windows", rep.Arch, rep.Windows)
	}
	whole, stream := rep.ReferenceMACs["total"], rep.Dense.MACsPerInference["total"]
	// 20 frames per window, 10 per hop: the stream runs about half of each window.
	if !(stream < 0.7*whole) {
		t.Errorf("dense stream %.0f MACs per hop, the whole window %.0f", stream, whole)
	}
	if !rep.Thresholds.Enabled[infer.DeltaQKV] || rep.SiteReduction["q"] <= 0 {
		t.Errorf("thresholds %v, q reduction %g", rep.Thresholds, rep.SiteReduction["q"])
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("model:\n  delta:\n    values: 0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{"bench", "--input", kitchenWAV, "--windows", "2"}, {"detect", kitchenWAV}} {
		if _, stderr, code := wakewordd(t, nil, append([]string{cmd[0], "--config", cfg, "--model", streamModel}, cmd[1:]...)...); code != 1 ||
			!strings.Contains(stderr, "config.yaml:2: model.delta: ") || !strings.Contains(stderr, "values") {
			t.Errorf("%s: config model.delta.values on a streaming model: exit %d, %s", cmd[0], code, stderr)
		}
	}
	// The daemon's detect runs it end to end.
	if _, stderr, code := wakewordd(t, nil, "detect", "--model", streamModel, kitchenWAV); code != 0 {
		t.Errorf("detect on a streaming model: exit %d\n%s", code, stderr)
	}
}
