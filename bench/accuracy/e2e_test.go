package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/bench/internal/tts"
	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/eval"
	"github.com/wakewordd/wakewordd/infer"
)

// testModel is the shipped model when there is one, else a small random model (its
// detections mean nothing, but they must still agree between the tool and the daemon).
func testModel(t *testing.T) string {
	const shipped = "../../models/kwt.safetensors"
	if _, err := os.Stat(shipped); err == nil {
		return shipped
	}
	m, err := infer.Random(infer.Arch{Dim: 16, Depth: 2, Heads: 1, MLPDim: 32, Frames: 98, Coeffs: 40, NumClasses: 4, NormEps: 1e-6, Norm: "post"}, 5)
	if err != nil {
		t.Fatal(err)
	}
	return writeModel(t, m, "random.safetensors")
}

// testGate is the gate `run` puts in front of the model testModel returns: the shipped
// gate with the shipped model, else a small random streaming model with the model's
// classes, window and frontend.
func testGate(t *testing.T, model *infer.Model) string {
	const shipped = "../../models/kwt-stream.safetensors"
	if _, err := os.Stat(shipped); err == nil && model.Path == "../../models/kwt.safetensors" {
		return shipped
	}
	return writeModel(t, randomGate(t, model, 6), "gate.safetensors")
}

// randomGate is a small random streaming model that can be the gate of m.
func randomGate(t *testing.T, m *infer.Model, seed uint64) *infer.Model {
	t.Helper()
	a := infer.Arch{Dim: 16, Depth: 2, Heads: 1, MLPDim: 32, Frames: m.Arch.Frames, Coeffs: m.Arch.Coeffs,
		NumClasses: len(m.Classes), NormEps: 1e-6, Norm: "post", Context: 8}
	g, err := infer.Random(a, seed)
	if err != nil {
		t.Fatal(err)
	}
	g.Classes, g.Frontend = slices.Clone(m.Classes), m.Frontend
	return g
}

func writeModel(t *testing.T, m *infer.Model, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	var b bytes.Buffer
	if err := infer.Write(&b, m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// detectLines runs `wakewordd detect --json --model MODEL --gate GATE` on a recording.
func detectLines(t *testing.T, bin, model, gate, wav string) []liveDet {
	t.Helper()
	out, err := exec.Command(bin, "detect", "--json", "--model", model, "--gate", gate, wav).Output()
	if err != nil {
		t.Fatalf("wakewordd detect: %v", err)
	}
	var dets []liveDet
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var l struct {
			Keyword string  `json:"keyword"`
			TimeS   float64 `json:"time_s"`
			Score   float64 `json:"score"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("detect output %q: %v", sc.Text(), err)
		}
		dets = append(dets, liveDet{l.Keyword, int64(math.Round(l.TimeS * 1e9)), l.Score})
	}
	return dets
}

// sameDetections compares detections at `detect --json`'s precision (ms, 4 digits).
func sameDetections(t *testing.T, what string, tool, daemon []liveDet) {
	t.Helper()
	if len(tool) != len(daemon) {
		t.Fatalf("%s: the tool has %d detections, wakewordd detect %d:\n%v\n%v", what, len(tool), len(daemon), tool, daemon)
	}
	for i := range tool {
		a, b := tool[i], daemon[i]
		if a.Keyword != b.Keyword || math.Abs(float64(a.AtNS-b.AtNS)) > 5e5 || math.Abs(a.Score-b.Score) > 6e-5 {
			t.Fatalf("%s: detection %d: tool %+v, wakewordd detect %+v", what, i, a, b)
		}
	}
}

// saidClips writes n clips of each keyword said by espeak-ng, with half a second of
// silence around each: DIR/<keyword>/*.wav.
func saidClips(t *testing.T, keywords []string, n int) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(9, 9))
	for _, kw := range keywords {
		text := tts.Spoken[kw]
		if text == "" {
			text = kw
		}
		for i := range n {
			x, err := tts.Say(rng, text)
			if err != nil {
				t.Fatal(err)
			}
			x = append(append(make([]float32, rate/2), x...), make([]float32, rate/2)...)
			var b bytes.Buffer
			if err := audio.WriteWAV(&b, rate, 1, 16, false, x); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(dir, kw), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, kw, string(rune('a'+i))+".wav"), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// TestEndToEnd makes a tiny stream (1 minute in three segments), scores and sweeps it
// behind the gate, checks the outputs, that a second run reuses the cache, and that the
// detections agree with `wakewordd detect` behind the same gate on the same audio, at the
// model's thresholds and at low ones.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the end-to-end run synthesises speech and scores a minute of audio")
	}
	requireEspeak(t)
	modelPath := testModel(t)
	m, err := infer.Load(modelPath)
	if err != nil {
		t.Fatal(err)
	}
	gate := testGate(t, m)
	clipDir := saidClips(t, m.Keywords()[:2], 2)
	work := t.TempDir()
	o := options{
		model: modelPath, clips: clipDir, hours: 60.0 / 3600, seed: 4, segment: 20 * time.Second, every: 10 * time.Second,
		speech: 0.3, snr: 10, gainDB: 3, levelDB: -26, noiseFrom: 0.7, words: "/usr/share/dict/words",
		work: work, jobs: 2, tolerance: 500 * time.Millisecond, budgets: []float64{0.1, 0.5}, keepAudio: true,
		background: "tts", gate: gate, gateThreshold: config.DefaultGateThreshold, gateHold: config.DefaultGateHold,
		gateFuse: -1, // the model's, as the flag's default
	}
	if _, err := os.Stat(sharedNoise); err == nil {
		o.noise = sharedNoise
	}
	var log bytes.Buffer
	res, err := run(o, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	gateSum, err := fileHash(gate)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(filepath.Join(res.Cache, "key.json"))
	if g := res.Gate; g == nil || g.Path != gate || g.SHA256 != gateSum || g.Hops == 0 || g.WindowHops > g.Hops || !bytes.Contains(key, []byte(gateSum)) {
		t.Fatalf("gate %+v; cache key:\n%s", res.Gate, key)
	}
	// The blend of the gate's logits is the model's (the shipped one's thresholds are chosen
	// with it): the posteriors, their cache key and `detect` below all use it.
	if f := m.Detection.GateFuse; res.Gate.Fuse != f || (f > 0) != bytes.Contains(key, []byte(`"fuse"`)) {
		t.Fatalf("gate blend %v, the model's %v; cache key:\n%s", res.Gate.Fuse, f, key)
	}
	t.Logf("the gate woke the model for %d of %d hops (its logits blended in at %g)", res.Gate.WindowHops, res.Gate.Hops, res.Gate.Fuse)
	if res.Segments != 3 || math.Abs(res.Hours-60.0/3600) > 1e-9 || len(res.Keywords) != 2 {
		t.Fatalf("results: %d segments, %v h, %d keywords", res.Segments, res.Hours, len(res.Keywords))
	}
	// Two keywords per 20 s segment: the four clips once, then two of them again.
	events := 0
	for _, kr := range res.Keywords {
		events += kr.Events
		if kr.Events < 2 || kr.Clips != 2 || len(kr.Budgets) != 2 || kr.Swept < len(sensitivityGrid()) {
			t.Errorf("%s: %d clips, %d placed, %d budgets, %d thresholds swept", kr.Keyword, kr.Clips, kr.Events, len(kr.Budgets), kr.Swept)
		}
	}
	f, err := os.Open(filepath.Join(res.Out, "truth.csv"))
	if err != nil {
		t.Fatal(err)
	}
	truth, err := eval.ReadTruth(f, "truth.csv")
	f.Close()
	if err != nil || len(truth) != 6 || events != 6 {
		t.Fatalf("truth.csv: %d events, %v", len(truth), err)
	}
	pf, err := os.Open(filepath.Join(res.Out, "det.png"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(pf); err != nil {
		t.Fatalf("det.png: %v", err)
	}
	pf.Close()
	for _, name := range []string{"results.json", "results.md", "curve.csv"} {
		if st, err := os.Stat(filepath.Join(res.Out, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty", name)
		}
	}

	// Again: everything from the cache, the same figures.
	log.Reset()
	again, err := run(o, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(log.Bytes(), []byte("3 of 3 segments cached")) {
		t.Errorf("second run did not use the cache:\n%s", log.String())
	}
	a, _ := json.Marshal(res.Keywords)
	b, _ := json.Marshal(again.Keywords)
	if !bytes.Equal(a, b) || !slices.Equal(res.SHA256, again.SHA256) {
		t.Error("second run gives other figures")
	}

	// The detections agree with the daemon's `detect` on each segment's audio: at the
	// model's settings (made while scoring), and at low thresholds (replayed from the
	// cached posteriors) so that there is plenty to compare.
	bin := filepath.Join(t.TempDir(), "wakewordd")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/wakewordd")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building wakewordd: %v\n%s", err, out)
	}
	low := *m
	low.Detection.Threshold = 0.05
	low.Detection.Thresholds = nil
	lowPath := writeModel(t, &low, "low.safetensors")
	def, rules, err := shippedRules(&low)
	if err != nil {
		t.Fatal(err)
	}
	compared := 0
	for _, s := range schedule(genParamsOf(t, res.Cache), int(math.Round(o.hours*3600*rate)), 4) {
		r, ok, err := loadSeg(res.Cache, s, len(m.Classes))
		if err != nil || !ok {
			t.Fatalf("segment %d not cached: %v", s.Index, err)
		}
		wav := segPath(res.Cache, s.Index, ".wav")
		sameDetections(t, "model settings", r.Live, detectLines(t, bin, modelPath, gate, wav))
		st := &stream{classes: m.Classes, segs: []segResult{r}}
		st.segs[0].Start = 0
		dets, err := st.detections(def, rules)
		if err != nil {
			t.Fatal(err)
		}
		var replayed []liveDet
		for _, d := range dets {
			replayed = append(replayed, liveDet{d.Keyword, int64(d.At), d.Score})
		}
		sameDetections(t, "threshold 0.05", replayed, detectLines(t, bin, lowPath, gate, wav))
		compared += len(r.Live) + len(replayed)
	}
	if compared == 0 {
		t.Error("no detection at all to compare")
	}
}

func genParamsOf(t *testing.T, cache string) genParams {
	t.Helper()
	js, err := os.ReadFile(filepath.Join(cache, "key.json"))
	if err != nil {
		t.Fatal(err)
	}
	var k cacheKey
	if err := json.Unmarshal(js, &k); err != nil {
		t.Fatal(err)
	}
	return k.Gen
}
