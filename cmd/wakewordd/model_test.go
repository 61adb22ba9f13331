package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wakewordd/wakewordd/eval"
)

// These tests judge the shipped model on audio the project generates itself: synthetic
// speech (espeak-ng) with wake words at known times, over the part of the real noise
// recordings that training never used.

const shippedModel = "../../models/kwt.safetensors"

func requireStreamTools(t *testing.T) (streamgen, noise string) {
	t.Helper()
	if _, err := os.Stat(shippedModel); err != nil {
		t.Skip("no trained model at models/kwt.safetensors (train/train.sh makes it)")
	}
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng not installed (scripts/setup.sh test installs it)")
	}
	noise = "../../../shared/data/noise"
	if _, err := os.Stat(noise); err != nil {
		t.Skip("shared noise recordings not found at ../shared/data/noise")
	}
	streamgen = filepath.Join(t.TempDir(), "streamgen")
	if out, err := exec.Command("go", "build", "-o", streamgen, "../../bench/streamgen").CombinedOutput(); err != nil {
		t.Fatalf("building streamgen: %v\n%s", err, out)
	}
	return streamgen, noise
}

// Every wake word in the stream is detected within 0.5 s of its end, and nothing else fires.
func TestShippedModelOnAStream(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the full model over a minute of audio")
	}
	streamgen, noise := requireStreamTools(t)
	wav := filepath.Join(t.TempDir(), "stream.wav")
	gen := exec.Command(streamgen, "-seed", "3", "-minutes", "1.5", "-every", "12s", "-snr", "15", "-noise", noise,
		"-keywords", "alexa,computer,jarvis,smart_mirror,snowboy,view_glass", "-out", wav)
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("streamgen: %v\n%s", err, out)
	}
	f, err := os.Open(strings.TrimSuffix(wav, ".wav") + ".csv")
	if err != nil {
		t.Fatal(err)
	}
	truth, err := eval.ReadTruth(f, "truth")
	f.Close()
	if err != nil || len(truth) < 5 {
		t.Fatalf("truth: %d events, %v", len(truth), err)
	}
	stdout, stderr, code := wakewordd(t, nil, "detect", "--json", "--model", shippedModel, wav)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got []string
	matched := make([]bool, len(truth))
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if line == "" {
			continue
		}
		var d struct {
			Keyword string  `json:"keyword"`
			TimeS   float64 `json:"time_s"`
		}
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatal(err)
		}
		got = append(got, line)
		hit := false
		for i, e := range truth {
			if !matched[i] && e.Keyword == d.Keyword && d.TimeS >= e.Start.Seconds() && d.TimeS <= e.End.Seconds()+0.5 {
				matched[i], hit = true, true
				break
			}
		}
		if !hit {
			t.Errorf("false detection: %s", line)
		}
	}
	for i, e := range truth {
		if !matched[i] {
			t.Errorf("missed %s spoken %.2f-%.2f s", e.Keyword, e.Start.Seconds(), e.End.Seconds())
		}
	}
	if t.Failed() {
		t.Logf("detections:\n%s", strings.Join(got, "\n"))
	}
}

// The bundled example says "Alexa" and later "Jarvis" among other speech: the README's first
// command shows exactly these two detections.
func TestShippedModelOnTheExample(t *testing.T) {
	if _, err := os.Stat(shippedModel); err != nil {
		t.Skip("no trained model at models/kwt.safetensors")
	}
	stdout, stderr, code := wakewordd(t, nil, "detect", "--json", "--model", shippedModel, "../../examples/kitchen.wav")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var d struct{ Keyword string }
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		got = append(got, d.Keyword)
	}
	if strings.Join(got, ",") != "alexa,jarvis" {
		t.Fatalf("detections %v, want alexa then jarvis:\n%s", got, stdout)
	}
	// The model runs its MLPs on int8; --mlp float32 switches them back: the same
	// detections at slightly different scores.
	int8Out, _, _ := wakewordd(t, nil, "detect", "--json", "--mlp", "int8", "--model", shippedModel, "../../examples/kitchen.wav")
	f32Out, stderr, code := wakewordd(t, nil, "detect", "--json", "--mlp", "float32", "--model", shippedModel, "../../examples/kitchen.wav")
	if code != 0 {
		t.Fatalf("--mlp float32: exit %d: %s", code, stderr)
	}
	if int8Out != stdout {
		t.Errorf("--mlp int8 differs from the model's default:\n%s\n%s", int8Out, stdout)
	}
	if f32Out == stdout || len(strings.Split(strings.TrimSpace(f32Out), "\n")) != len(got) {
		t.Errorf("--mlp float32 gave\n%s\nwant the same detections as int8 at other scores:\n%s", f32Out, stdout)
	}
}

// `run --json-events` writes each detection to stdout as a JSON line, the same keywords and
// times as `detect` on the same file.
func TestRunJSONEventsOnTheExample(t *testing.T) {
	if _, err := os.Stat(shippedModel); err != nil {
		t.Skip("no trained model at models/kwt.safetensors")
	}
	want, _, _ := wakewordd(t, nil, "detect", "--json", "--model", shippedModel, "../../examples/kitchen.wav")
	got, stderr, code := wakewordd(t, nil, "run", "--json-events", "--site-id", "kitchen", "--model", shippedModel, "--input", "../../examples/kitchen.wav")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, `mlp="int8 (`) { // the shipped model runs its MLPs on int8
		t.Errorf("the start-up log does not say the MLPs run on int8:\n%s", stderr)
	}
	wl, gl := strings.Split(strings.TrimSpace(want), "\n"), strings.Split(strings.TrimSpace(got), "\n")
	if len(wl) != len(gl) || len(gl) == 0 {
		t.Fatalf("run printed %d events, detect %d:\n%s\n%s", len(gl), len(wl), got, want)
	}
	for i := range gl {
		var w struct {
			Keyword string
			TimeS   float64 `json:"time_s"`
		}
		var g struct {
			ID, Keyword string
			SiteID      string  `json:"site_id"`
			StreamS     float64 `json:"stream_s"`
		}
		if err := json.Unmarshal([]byte(wl[i]), &w); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(gl[i]), &g); err != nil {
			t.Fatalf("%q: %v", gl[i], err)
		}
		if g.Keyword != w.Keyword || math.Abs(g.StreamS-w.TimeS) > 0.05 || g.ID == "" || g.SiteID != "kitchen" {
			t.Errorf("event %q, detect said %q", gl[i], wl[i])
		}
	}
}

const shippedGate = "../../models/kwt-stream.safetensors"

// Behind its gate, the streaming model, the shipped model detects the same wake words in
// the example, and the log says so; a gate that is not a streaming model is an error.
func TestShippedModelBehindItsGate(t *testing.T) {
	for _, p := range []string{shippedModel, shippedGate} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("no %s", p)
		}
	}
	ungated, _, _ := wakewordd(t, nil, "detect", "--json", "--model", shippedModel, "../../examples/kitchen.wav")
	gated, stderr, code := wakewordd(t, nil, "detect", "--json", "--model", shippedModel, "--gate", shippedGate, "../../examples/kitchen.wav")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	keywords := func(out string) string {
		var kws []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var d struct{ Keyword string }
			if err := json.Unmarshal([]byte(line), &d); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			kws = append(kws, d.Keyword)
		}
		return strings.Join(kws, ",")
	}
	if keywords(gated) != "alexa,jarvis" || keywords(ungated) != "alexa,jarvis" {
		t.Errorf("gated %s, ungated %s; want alexa,jarvis from both", gated, ungated)
	}
	_, stderr, code = wakewordd(t, nil, "run", "--model", shippedModel, "--gate", shippedGate, "--input", "../../examples/kitchen.wav")
	if code != 0 || !strings.Contains(stderr, "behind the gate "+shippedGate) {
		t.Errorf("run with a gate: exit %d, the log does not name the gate:\n%s", code, stderr)
	}
	_, stderr, code = wakewordd(t, nil, "detect", "--model", shippedModel, "--gate", shippedModel, "../../examples/kitchen.wav")
	if code != 1 || !strings.Contains(stderr, "model.gate") || !strings.Contains(stderr, "not a streaming model") {
		t.Errorf("a window model as the gate: exit %d, %s", code, stderr)
	}
	_, stderr, code = wakewordd(t, nil, "detect", "--model", shippedModel, "--gate", "/nonexistent.safetensors", "../../examples/kitchen.wav")
	if code != 1 || !strings.Contains(stderr, "model.gate") || !strings.Contains(stderr, "nonexistent") {
		t.Errorf("a missing gate file: exit %d, %s", code, stderr)
	}
}
