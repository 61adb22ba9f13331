package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/bench/internal/tts"
	"github.com/wakewordd/wakewordd/infer"
)

func writeWAV(t *testing.T, path string, x []float32) {
	t.Helper()
	var b bytes.Buffer
	if err := audio.WriteWAV(&b, rate, 1, 16, false, x); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// utteranceAudio stands in for a real utterance: 0.25 s of silence, a tone of `seconds`
// with a 0.2 s pause in its middle (a breath, which must not lower its level), 0.25 s of
// silence.
func utteranceAudio(seconds, freq, amp float64) []float32 {
	x := make([]float32, int((seconds+0.7)*rate))
	on, gap := int(seconds*rate), rate/5
	for i := range on + gap {
		if i >= on/2 && i < on/2+gap {
			continue
		}
		x[rate/4+i] = float32(amp * math.Sin(2*math.Pi*freq*float64(i)/rate))
	}
	return x
}

// realDir writes a tiny share of the real data: utterances of 1 to 4 s at different levels
// in nested folders of DIR/speech, and white noise recordings of 1 to 3 s at different
// levels in DIR/noise.
func realDir(t *testing.T, utts, noises int) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range utts {
		x := utteranceAudio(1+3*rng.Float64(), 150+400*rng.Float64(), 0.05+0.4*rng.Float64())
		writeWAV(t, filepath.Join(dir, "speech", "src", string(rune('a'+i%3)), string(rune('a'+i))+".wav"), x)
	}
	for i := range noises {
		x := make([]float32, rate+rng.IntN(2*rate))
		amp := 0.01 + 0.2*rng.Float64()
		for j := range x {
			x[j] = float32(amp * rng.NormFloat64())
		}
		writeWAV(t, filepath.Join(dir, "noise", "n", string(rune('a'+i))+".wav"), x)
	}
	return dir
}

// realGen builds a generator of the real background over dir for two tone clips.
func realGen(t *testing.T, dir string, p genParams) (*generator, []int) {
	t.Helper()
	cdir := t.TempDir()
	clips := []clip{{"a", filepath.Join(cdir, "a/1.wav")}, {"b", filepath.Join(cdir, "b/1.wav")}}
	for _, c := range clips {
		toneClip(t, c.Path)
	}
	chunkLen, longest, err := chunkLens(clips)
	if err != nil {
		t.Fatal(err)
	}
	r, err := loadReal(dir, maxUtterance(p, longest))
	if err != nil {
		t.Fatal(err)
	}
	return &generator{p: p, clips: clips, real: r}, chunkLen
}

var realParams = genParams{Seed: 5, Segment: 30 * rate, PerSeg: 2, SNR: 10, GainDB: 3, LevelDB: -20}

func TestActiveRMS(t *testing.T) {
	x := utteranceAudio(2, 300, 0.2)
	want := 0.2 / math.Sqrt2
	if got := activeRMS(x); math.Abs(20*math.Log10(got/want)) > 0.05 {
		t.Errorf("active RMS %.5f, want %.5f (the tone's, whatever the pauses around and inside it)", got, want)
	}
	if tts.RMS(x) > 0.9*want {
		t.Fatal("the test utterance has too little silence to tell the measures apart")
	}
	if activeRMS(make([]float32, rate)) != 0 {
		t.Error("silence has a level")
	}
}

// The plan: every utterance once before any twice, reuses at another gain, pauses of 0.2
// to 1.5 s, keyword chunks in their slots and never overlapping an utterance, and a short
// stream is a prefix of a long one.
func TestRealPlan(t *testing.T) {
	const nUtt = 7
	g, chunkLen := realGen(t, realDir(t, nUtt, 2), realParams)
	if len(g.real.Utts) != nUtt || g.real.Listed != nUtt || len(g.real.Noise) != 2 {
		t.Fatalf("loaded %d of %d utterances, %d noise recordings", len(g.real.Utts), g.real.Listed, len(g.real.Noise))
	}
	segs := schedule(g.p, 5*30*rate+12*rate, len(g.clips))
	if err := g.planReal(segs, chunkLen); err != nil {
		t.Fatal(err)
	}
	var all []uttPlacement
	for _, s := range segs {
		all = append(all, s.Utts...)
		if len(s.KwAt) != len(s.Placements) {
			t.Fatalf("segment %d: %d keyword positions for %d placements", s.Index, len(s.KwAt), len(s.Placements))
		}
		type span struct{ from, to int }
		var spans []span
		for _, u := range s.Utts {
			spans = append(spans, span{u.At, u.At + g.real.Utts[u.Utt].Samples})
			if u.At < pauseMin || u.At+g.real.Utts[u.Utt].Samples > s.Samples {
				t.Fatalf("segment %d: utterance at %d outside the segment", s.Index, u.At)
			}
		}
		slot := 0
		if k := len(s.Placements); k > 0 {
			slot = (s.Samples - leadSamples - tailSamples) / k
		}
		for j, at := range s.KwAt {
			end := at + chunkLen[s.Placements[j].Clip]
			if at < leadSamples+j*slot || end > leadSamples+(j+1)*slot {
				t.Fatalf("segment %d: keyword %d at %d..%d, outside its slot", s.Index, j, at, end)
			}
			spans = append(spans, span{at, end})
		}
		slices.SortFunc(spans, func(a, b span) int { return a.from - b.from })
		for i := 1; i < len(spans); i++ {
			// Keyword chunks may follow one another directly; nothing else comes closer
			// than the shortest pause, and nothing overlaps.
			gap := spans[i].from - spans[i-1].to
			if gap < 0 {
				t.Fatalf("segment %d: %v overlaps %v", s.Index, spans[i], spans[i-1])
			}
		}
	}
	for i, u := range all {
		if u.Seq != i {
			t.Fatalf("utterance %d has sequence number %d", i, u.Seq)
		}
	}
	if len(all) < 3*nUtt {
		t.Fatalf("%d utterances placed in 162 s; the test wants at least 3 passes over %d", len(all), nUtt)
	}
	for pass := 0; (pass+1)*nUtt <= len(all); pass++ {
		seen := map[int]bool{}
		for _, u := range all[pass*nUtt : (pass+1)*nUtt] {
			seen[u.Utt] = true
			if pass == 0 && u.GainDB != 0 {
				t.Errorf("first use of utterance %d at %+.2f dB, want the level itself", u.Utt, u.GainDB)
			}
			if pass > 0 && (math.Abs(u.GainDB) < 1 || math.Abs(u.GainDB) > realParams.GainDB) {
				t.Errorf("reuse of utterance %d at %+.2f dB, want 1 to %g dB off the level", u.Utt, u.GainDB, realParams.GainDB)
			}
		}
		if len(seen) != nUtt {
			t.Fatalf("pass %d uses %d distinct utterances of %d", pass, len(seen), nUtt)
		}
	}
	// Pauses between consecutive utterances with no keyword between them.
	for _, s := range segs {
		for i := 1; i < len(s.Utts); i++ {
			prevEnd := s.Utts[i-1].At + g.real.Utts[s.Utts[i-1].Utt].Samples
			between := slices.ContainsFunc(s.KwAt, func(at int) bool { return at >= prevEnd && at < s.Utts[i].At })
			if gap := s.Utts[i].At - prevEnd; !between && (gap < pauseMin || gap > pauseMax) {
				t.Fatalf("segment %d: a pause of %.2f s between utterances", s.Index, float64(gap)/rate)
			}
		}
	}
	// A short stream is a prefix of a long one.
	short := schedule(g.p, 3*30*rate, len(g.clips))
	if err := g.planReal(short, chunkLen); err != nil {
		t.Fatal(err)
	}
	for i, s := range short {
		if !slices.Equal(s.Utts, segs[i].Utts) || !slices.Equal(s.KwAt, segs[i].KwAt) {
			t.Fatalf("segment %d differs between a 90 s and a 162 s stream", i)
		}
	}
}

// The audio: each utterance at the level asked for (plus its gain), the keywords where
// the truth says and at their level, nothing of an utterance under a keyword chunk, and
// the noise -snr dB below the speech level.
func TestRealGenerate(t *testing.T) {
	g, chunkLen := realGen(t, realDir(t, 5, 3), realParams)
	segs := schedule(g.p, 4*30*rate, len(g.clips))
	if err := g.planReal(segs, chunkLen); err != nil {
		t.Fatal(err)
	}
	// Without noise first (a silent bed), to see the speech and keywords alone.
	quiet := *g.real
	quiet.Noise = [][]float32{make([]float32, rate)}
	gq := *g
	gq.real = &quiet
	reused := 0
	for _, s := range segs {
		a, err := gq.generate(s)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.PCM) != s.Samples || len(a.Events) != len(s.Placements) || a.Utterances != len(s.Utts) || a.Utterances == 0 {
			t.Fatalf("segment %d: %d samples, %d events, %d utterances", s.Index, len(a.PCM), len(a.Events), a.Utterances)
		}
		x := samplesToFloat(a.PCM)
		voiced := 0
		for _, u := range s.Utts {
			ut := g.real.Utts[u.Utt]
			want := math.Pow(10, (g.p.LevelDB+u.GainDB)/20)
			if got := activeRMS(x[u.At : u.At+ut.Samples]); math.Abs(20*math.Log10(got/want)) > 0.1 {
				t.Errorf("segment %d: utterance %d at %.2f dBFS, want %.2f", s.Index, u.Utt, 20*math.Log10(got), 20*math.Log10(want))
			}
			if u.GainDB != 0 {
				reused++
			}
			vs, ve := tts.Voiced(x[u.At : u.At+ut.Samples])
			voiced += ve - vs
		}
		if a.SpeechSample != voiced {
			t.Errorf("segment %d: %d samples of speech counted, the utterances' voiced spans hold %d", s.Index, a.SpeechSample, voiced)
		}
		for j, e := range a.Events {
			pl := s.Placements[j]
			if e.Keyword != g.clips[pl.Clip].Keyword || e.End-e.Start != 6*rate/10 {
				t.Fatalf("segment %d: event %+v for clip %d", s.Index, e, pl.Clip)
			}
			want := math.Pow(10, (g.p.LevelDB+pl.GainDB)/20)
			if got := tts.RMS(x[e.Start:e.End]); math.Abs(20*math.Log10(got/want)) > 0.1 {
				t.Errorf("clip level %.4f, want %.4f", got, want)
			}
			if tts.RMS(x[e.Start:e.Start+rate/100]) < 0.5*want {
				t.Error("the event does not start where the tone does")
			}
			// The chunk's margins hold nothing but the clip's own silence: no utterance
			// overlaps a keyword.
			at := s.KwAt[j]
			for _, v := range slices.Concat(a.PCM[at:e.Start], a.PCM[e.End:at+chunkLen[pl.Clip]]) {
				if v != 0 {
					t.Fatalf("segment %d: background under keyword %d", s.Index, j)
				}
			}
		}
	}
	if reused == 0 {
		t.Error("no utterance was reused; the test wants a stream longer than the material")
	}

	// With noise: between the utterances and keywords, the noise alone, SNR dB below.
	var noiseOnly []float32
	for _, s := range segs {
		a, err := g.generate(s)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.NoiseFiles) == 0 || slices.ContainsFunc(a.NoiseFiles, func(k int) bool { return k < 0 || k >= len(g.real.Noise) }) {
			t.Fatalf("segment %d: noise files %v", s.Index, a.NoiseFiles)
		}
		busy := make([]bool, s.Samples)
		for _, u := range s.Utts {
			for i := u.At; i < u.At+g.real.Utts[u.Utt].Samples; i++ {
				busy[i] = true
			}
		}
		for j, at := range s.KwAt {
			for i := at; i < at+chunkLen[s.Placements[j].Clip]; i++ {
				busy[i] = true
			}
		}
		for i, v := range samplesToFloat(a.PCM) {
			if !busy[i] {
				noiseOnly = append(noiseOnly, v)
			}
		}
	}
	want := math.Pow(10, (g.p.LevelDB-g.p.SNR)/20)
	if got := tts.RMS(noiseOnly); len(noiseOnly) < 10*rate || math.Abs(20*math.Log10(got/want)) > 0.3 {
		t.Errorf("noise at %.2f dBFS over %.1f s, want %.2f (%g dB below the speech)", 20*math.Log10(got), float64(len(noiseOnly))/rate, 20*math.Log10(want), g.p.SNR)
	}
}

// The same seed gives the same audio; another seed or segment, other audio.
func TestRealDeterministic(t *testing.T) {
	dir := realDir(t, 6, 3)
	hash := func(seed uint64, index int) string {
		p := realParams
		p.Seed = seed
		g, chunkLen := realGen(t, dir, p)
		segs := schedule(p, 3*30*rate, len(g.clips))
		if err := g.planReal(segs, chunkLen); err != nil {
			t.Fatal(err)
		}
		a, err := g.generate(segs[index])
		if err != nil {
			t.Fatal(err)
		}
		return a.Hash()
	}
	h := hash(1, 0)
	if hash(1, 0) != h {
		t.Fatal("same seed, different audio")
	}
	if hash(2, 0) == h {
		t.Error("another seed gives the same audio")
	}
	if hash(1, 1) == h {
		t.Error("another segment gives the same audio")
	}
}

func TestRealFolderErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "validation")
	if _, err := loadReal(missing, 20*rate); err == nil || !strings.Contains(err.Error(), filepath.Join(missing, "speech")) || !strings.Contains(err.Error(), "realdata.py") {
		t.Errorf("missing folder: %v; want an error naming %s/speech and how to make it", err, missing)
	}
	dir := realDir(t, 2, 0)
	if _, err := loadReal(dir, 20*rate); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "noise")) {
		t.Errorf("no noise folder: %v; want an error naming %s/noise", err, dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, "noise", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "noise", "sub", "notes.txt"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "noise", "sub", "half.part.wav"), []byte("x"), 0o644)
	if _, err := loadReal(dir, 20*rate); err == nil || !strings.Contains(err.Error(), "no .wav files under "+filepath.Join(dir, "noise")) {
		t.Errorf("empty noise folder: %v; want an error naming it", err)
	}
	// Utterances too long for a keyword slot are left out and counted; with none left, an
	// error says why.
	dir = realDir(t, 3, 1)
	if _, err := loadReal(dir, rate/2); err == nil || !strings.Contains(err.Error(), "3 longer than 0.5 s") {
		t.Errorf("every utterance too long: %v", err)
	}
	r, err := loadReal(dir, 3*rate)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Utts)+r.TooLong != 3 || slices.ContainsFunc(r.Utts, func(u utterance) bool { return u.Samples > 3*rate }) {
		t.Errorf("%d kept, %d too long of 3: %+v", len(r.Utts), r.TooLong, r.Utts)
	}
}

// The file lists' hashes change with any file's contents, so the cache follows the data.
func TestRealListHash(t *testing.T) {
	dir := realDir(t, 3, 1)
	a, err := loadReal(dir, 20*rate)
	if err != nil {
		t.Fatal(err)
	}
	writeWAV(t, filepath.Join(dir, "speech", "src", "a", "a.wav"), utteranceAudio(1, 200, 0.1))
	b, err := loadReal(dir, 20*rate)
	if err != nil {
		t.Fatal(err)
	}
	if a.SpeechSum == b.SpeechSum || a.NoiseSum != b.NoiseSum {
		t.Error("the speech list's hash does not follow a changed file, or the noise list's changed with it")
	}
}

// TestRealEndToEnd runs the tool on the real background of a tiny folder with a small
// random model: outputs, the background's figures, the all-keywords-on row, the threshold
// choice with the model it writes, and the cache.
func TestRealEndToEnd(t *testing.T) {
	m, err := infer.Random(infer.Arch{Dim: 16, Depth: 2, Heads: 1, MLPDim: 32, Frames: 98, Coeffs: 40, NumClasses: 4, NormEps: 1e-6, Norm: "post"}, 5)
	if err != nil {
		t.Fatal(err)
	}
	modelPath := writeModel(t, m, "random.safetensors")
	clipDir := t.TempDir()
	for _, kw := range m.Keywords() {
		for i := range 2 {
			toneClip(t, filepath.Join(clipDir, kw, string(rune('a'+i))+".wav"))
		}
	}
	work := t.TempDir()
	written := filepath.Join(t.TempDir(), "picked.safetensors")
	o := options{
		model: modelPath, clips: clipDir, hours: 90.0 / 3600, seed: 4, segment: 30 * time.Second, every: 15 * time.Second,
		snr: 10, gainDB: 3, levelDB: -26, work: work, jobs: 1, tolerance: 500 * time.Millisecond, budgets: []float64{0.1, 60},
		background: "real", real: realDir(t, 6, 3), pick: 120, writeModel: written,
	}
	var log bytes.Buffer
	res, err := run(o, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	r := res.Real
	if res.Background != "real" || r == nil || r.Available != 6 || r.Placed < 6 || r.Distinct != 6 || r.Reuses != r.Placed-r.Distinct || r.NoiseUsed == 0 || r.NoiseUsed > 3 {
		t.Fatalf("background %q: %+v", res.Background, r)
	}
	if !(res.SpeechShare > 0.2 && res.SpeechShare < 1) || res.Sentences != 0 {
		t.Errorf("speech share %v, %d sentences", res.SpeechShare, res.Sentences)
	}
	// Every keyword on at the model's settings: the per-keyword columns add up to it here,
	// and the table has the row.
	if len(res.AllOnShipped.Keywords) != 2 || len(res.AllOnBudgets) != 2 {
		t.Fatalf("all keywords on: %+v, %d budget rows", res.AllOnShipped, len(res.AllOnBudgets))
	}
	// Each false alarm there is listed, with the recording under it when there was one.
	csv, err := os.ReadFile(filepath.Join(res.Out, "false-alarms.csv"))
	if err != nil || len(res.FalseAlarmList) != res.AllOnShipped.FalseAlarms || bytes.Count(csv, []byte("\n")) != 1+len(res.FalseAlarmList) {
		t.Fatalf("%d false alarms, %d listed: %v\n%s", res.AllOnShipped.FalseAlarms, len(res.FalseAlarmList), err, csv)
	}
	for _, fa := range res.FalseAlarmList {
		if fa.Recording == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(o.real, "speech", fa.Recording)); err != nil || fa.RecordingAtS < 0 {
			t.Errorf("false alarm %+v: %v", fa, err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(res.Out, "results.md"))
	for _, want := range []string{"real conversation", "the model's (as shipped)", "picked for 120 FA/h", "Thresholds picked"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("results.md lacks %q:\n%s", want, md)
		}
	}
	// The choice: picked.json, verified within the budget, and the model written with it.
	p := res.Pick
	if p == nil || !p.Reached || p.Wrote != written || !within(p.AllOn.FalseAlarms, res.Hours, 120) {
		t.Fatalf("pick: %+v", p)
	}
	var onDisk pickResult
	js, err := os.ReadFile(filepath.Join(res.Out, "picked.json"))
	if err != nil || json.Unmarshal(js, &onDisk) != nil || !maps.Equal(onDisk.Thresholds, p.Thresholds) {
		t.Fatalf("picked.json: %v\n%s", err, js)
	}
	back, err := infer.Load(written)
	if err != nil {
		t.Fatal(err)
	}
	for kw, th := range p.Thresholds {
		if back.Detection.ThresholdFor(kw) != th {
			t.Errorf("%s: threshold %v stored, %v picked", kw, back.Detection.ThresholdFor(kw), th)
		}
	}
	if back.Detection.Smoothing != m.Detection.Smoothing || back.Detection.RefractoryS != m.Detection.RefractoryS || !slices.Equal(back.Weights.HeadW, m.Weights.HeadW) {
		t.Error("the written model differs from the measured one beyond its thresholds")
	}
	key, _ := os.ReadFile(filepath.Join(res.Cache, "key.json"))
	if !bytes.Contains(key, []byte(`"background": "real"`)) || !bytes.Contains(key, []byte(r.SpeechListSum)) {
		t.Errorf("the cache key does not name the real background and its file list:\n%s", key)
	}

	// Again: from the cache, the same figures.
	log.Reset()
	again, err := run(o, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(log.Bytes(), []byte("3 of 3 segments cached")) || !slices.Equal(again.SHA256, res.SHA256) || *again.Real != *res.Real {
		t.Errorf("second run:\n%s", log.String())
	}
	// With the clips alone in silence as a floor (-clean-miss): every threshold at or under
	// its keyword's cap, and the clips in silence reported.
	oc := o
	oc.pick, oc.pickMiss, oc.cleanMiss, oc.writeModel = 0, 0.5, 0.5, ""
	log.Reset()
	cres, err := run(oc, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	c := cres.Pick.Clean
	if c == nil || len(c.Keywords) != 2 || !bytes.Contains(log.Bytes(), []byte("alone in silence")) {
		t.Fatalf("-clean-miss: %+v\n%s", c, log.String())
	}
	for _, k := range c.Keywords {
		if k.Clips != 2 || k.CapMiss > 0.5 || k.Threshold > k.Cap || k.Threshold != cres.Pick.Thresholds[k.Keyword] {
			t.Errorf("-clean-miss: %+v, picked %v", k, cres.Pick.Thresholds)
		}
	}
	// On the validation share, no choice.
	o.real = filepath.Join(t.TempDir(), "validation")
	if _, err := run(o, &log); err == nil || !strings.Contains(err.Error(), "never on validation") {
		t.Errorf("-pick on a validation folder: %v", err)
	}
}
