package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/bench/internal/sweep"
	"github.com/wakewordd/wakewordd/infer"
)

var tinyArch = infer.Arch{Dim: 16, Depth: 2, Heads: 2, MLPDim: 32, Frames: 20, Coeffs: 40, NumClasses: 4, NormEps: 1e-6, Norm: "post"}

// tinyModel writes a random model file without delta thresholds.
func tinyModel(t *testing.T) string {
	t.Helper()
	m, err := infer.Random(tinyArch, 7)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := infer.Write(&b, m); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "random.safetensors")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func sweepCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	// No config file of the machine's: --config names an empty one.
	cfg := filepath.Join(t.TempDir(), "empty.yaml")
	os.WriteFile(cfg, nil, 0o644)
	err := run(context.Background(), append([]string{"--config", cfg}, args...), &stdout, &stderr)
	return stdout.String(), err
}

// The command sweeps a folder (flags before and after it), writes the CSV, the plot and
// the model with the chosen thresholds, and replots from the CSV.
func TestSweepCommand(t *testing.T) {
	model := tinyModel(t)
	dir := filepath.Join(t.TempDir(), "clips")
	for c, class := range []string{"silence", "unknown", "kw2", "kw3"} {
		os.MkdirAll(filepath.Join(dir, class), 0o755)
		x := make([]float32, 14000)
		for j := range x {
			if c > 0 && j > 4000 && j < 9000 {
				x[j] = 0.3 * float32(math.Sin(float64(j)*float64(c)*0.05))
			}
		}
		var b bytes.Buffer
		if err := audio.WriteWAV(&b, 16000, 1, 16, false, x); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, class, "a.wav"), b.Bytes(), 0o644)
	}
	prefix, out := filepath.Join(t.TempDir(), "sw"), filepath.Join(t.TempDir(), "chosen.safetensors")
	stdout, err := sweepCmd(t, "--model", model, "--out", prefix, "--grid", "0,0.3", "--steps", "1", dir, "--write-model", out, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Windows    int
		Chosen     *sweep.Point
		Points     []sweep.Point
		CSV, Plot  string
		WroteModel string `json:"wrote_model"`
	}
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if sum.Windows != 4 || sum.Chosen == nil || sum.WroteModel != out || sum.CSV != prefix+".csv" || sum.Plot != prefix+".png" {
		t.Fatalf("summary %+v", sum)
	}
	m, err := infer.Load(out)
	if err != nil || m.Delta == nil || !m.Delta.Equal(sum.Chosen.Th) {
		t.Fatalf("written model: %v, %v", err, m.Delta)
	}
	for _, p := range []string{prefix + ".csv", prefix + ".png"} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	if _, err := sweepCmd(t, "--model", model, "--replot", prefix+".csv", "--out", prefix+"-again"); err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(prefix + ".png")
	if again, err := os.ReadFile(prefix + "-again.png"); err != nil || !bytes.Equal(again, orig) {
		t.Errorf("replotted PNG differs from the sweep's (%v)", err)
	}
	// The text summary names the choice and the files.
	stdout, err = sweepCmd(t, "--model", model, "--out", prefix, "--grid", "0", "--steps", "0", dir)
	if err != nil || !strings.Contains(stdout, "4 validation windows") || !strings.Contains(stdout, "wrote "+prefix+".csv") {
		t.Errorf("text summary: %v\n%s", err, stdout)
	}
}

// Without a folder the command writes uniform (--theta) or given (--thresholds) delta
// thresholds into the model, or into a random KWT-1.
func TestWriteThresholds(t *testing.T) {
	model := tinyModel(t)
	out := filepath.Join(t.TempDir(), "delta.safetensors")
	for _, tc := range []struct {
		args []string
		want infer.Thresholds
	}{
		{[]string{"--theta", "0.25"}, sweep.UniformThresholds(tinyArch, 0.25, sweep.DefaultValueRatio, "all")},
		{[]string{"--theta", "0.25", "--scope", "mhsa", "--value-ratio", "0.01"}, sweep.UniformThresholds(tinyArch, 0.25, 0.01, "mhsa")},
		{[]string{"--thresholds", `{"sites":{"qkv":[0.5,0.25]}}`}, func() infer.Thresholds {
			th := infer.UniformThresholds(2, 0.5, infer.DeltaQKV)
			th.Theta[infer.DeltaQKV][1] = 0.25
			return th
		}()},
	} {
		stdout, err := sweepCmd(t, append([]string{"--model", model, "--write-model", out, "--mlp", "int8"}, tc.args...)...)
		if err != nil || !strings.Contains(stdout, "wrote "+out) {
			t.Fatalf("%v: %v\n%s", tc.args, err, stdout)
		}
		m, err := infer.Load(out)
		if err != nil || m.Delta == nil || !m.Delta.Equal(tc.want) || m.MLP != infer.MLPInt8 {
			t.Errorf("%v: written %v (MLP %q), want %v (%v)", tc.args, m.Delta, m.MLP, tc.want, err)
		}
	}
	if testing.Short() {
		return
	}
	stdout, err := sweepCmd(t, "--random", "--random-depth", "2", "--input", "../../examples/kitchen.wav", "--theta", "0.5", "--write-model", out, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Model      string
		Arch       infer.Arch `json:"architecture"`
		Thresholds infer.Thresholds
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || !strings.Contains(rep.Model, "random weights") || rep.Arch.Dim != 64 || rep.Arch.Depth != 2 {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if m, err := infer.Load(out); err != nil || m.Arch != rep.Arch || !m.Delta.Equal(sweep.UniformThresholds(rep.Arch, 0.5, sweep.DefaultValueRatio, "all")) {
		t.Errorf("random model written: %v", err)
	}
}

func TestBadArguments(t *testing.T) {
	model := tinyModel(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--scope", "mlp", "--theta", "1"}, `--scope "mlp"`},
		{[]string{"--theta", "-2"}, "--theta -2"},
		{[]string{"--thresholds", `{"sites":{"qkv":[1]}}`}, `--thresholds: site "qkv": 1 thresholds, want one per layer (2)`},
		{[]string{"--thresholds", `{"sites":{"fc3":[1,1]}}`}, `unknown delta site "fc3"`},
		{[]string{"/nonexistent/dir"}, "/nonexistent/dir"},
		{[]string{"--theta", "0.5", "/tmp"}, "a sweep takes a model file and chooses the thresholds itself"},
		{[]string{"--grid", "0,x"}, `--grid: "x" is not a threshold`},
		{[]string{"--pick", "mlp", "/tmp"}, `--pick "mlp"`},
		{[]string{"--align", "middle", "/tmp"}, `--align "middle"`},
		{[]string{"a", "b"}, `unexpected argument "b"`},
		{nil, "nothing to do"},
		{[]string{"--replot", "/nonexistent/x.csv"}, "/nonexistent/x.csv"},
	} {
		_, err := sweepCmd(t, append([]string{"--model", model}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v, want one line with %q", tc.args, err, tc.want)
		}
	}
}
