// Command accuracy measures a wake-word model the way the Picovoice wake-word benchmark
// does: keyword recordings placed into hours of background speech and noise, the miss
// rate at a fixed false-alarm rate, and a DET curve.
//
//	accuracy -model models/kwt.safetensors -split models/kwt.split.json -set validation -hours 2
//	accuracy -model M -hours 1 DIR          # clips from DIR/<keyword>/*.{flac,wav}
//	accuracy -split S -set selection -real /work/train-cache/real/selection -pick 0.5 -write-model OUT
//
// The stream. One background of -hours is shared by all keywords, and every keyword's
// clips are placed into it; each keyword then has the whole background as its false-alarm
// material, so 10 hours of stream is 10 hours per keyword, as in the benchmark. Keyword
// clips (their voiced part with 0.3 s around it) go into slots spread over the stream, one
// clip per -every on average; every clip is used once before any is used twice, at a random
// level within ±-gain-db of the speech. Everything follows from -seed.
//
// The background (-background) is real by default: the real utterances of -real/speech
// (a share of train/realdata.py's cache, split by speaker), one after another with a pause
// of 0.2 to 1.5 s, as a continuous conversation (Picovoice uses LibriSpeech so), each at
// the voiced level -level; every utterance is used once before any is used twice (a reuse
// plays at another gain); keywords go between utterances, never over one; and a bed of the
// real noise of -real/noise runs under everything, -snr dB (10) below the speech level. The
// synthetic background (-background tts) is a sequence of chunks, each speech with
// probability -speech (0.2; otherwise a pause of 1 to 8 s): sentences of 3 to 11 words from
// a word list, said by espeak-ng voices (bench/internal/tts, the generator bench/streamgen
// uses), never containing a keyword, even across word boundaries ("snow boy"), over a bed
// of real noise (the last 30 % of each recording in -noise, the part training never saw).
//
// The stream is made and scored in independent segments (-segment, 10 minutes), in
// parallel (-j), never holding more than a segment of audio per worker. No keyword lies in
// the first 2 s or the last 2.5 s of a segment, so the engine starting afresh at each
// segment changes nothing. Each segment's audio goes through the chain `wakewordd run`
// uses (raw 16-bit audio, the pipeline, the MFCC frontend, the engine with the model's
// window and hop, the forward pass `run` picks behind the gate `run` puts in front of it,
// the model's detection policy); the posteriors of every hop are cached under -work, keyed
// by everything they depend on, so a second run with the same seed, model, gate and clips
// reuses them.
//
// The gate. As `wakewordd run` with no configuration, the default model scores behind its
// gate, the streaming model beside it (models/kwt-stream.safetensors, engine.Cascade): the
// gate scores every hop and wakes the model from a hop at which a keyword's posterior
// reaches -gate-threshold (0.1) until -gate-hold (1) hops after the last such hop; while it
// is closed the detector gets the gate's posteriors. Any other model has no gate unless
// -gate FILE names one; -gate none scores every hop with the model. The results name the
// gate and the share of hops the model scored.
//
// The sweep. For each keyword, the detector (detect.Detector, as `run` builds it from the
// model: smoothing, patience, refractory period) is replayed over the cached posteriors
// with only that keyword enabled, at each threshold of a fine grid, and then bisected near
// each budget. A detection of keyword k counts as a hit when it falls between the start of
// a k clip's voiced part and 0.5 s after its end (one hit per clip); every other detection
// of k is a false alarm, including one during another keyword's clip. False alarms per
// hour are over the whole stream. The miss rate at a budget is that of the swept
// threshold with the lowest miss rate whose false alarms fit the budget; nothing is
// interpolated. Budgets: 1 per 10 hours (Picovoice) and 0.5 per hour (openWakeWord).
//
// All keywords on. The table also replays the detector with every keyword on at once (at
// most one wake word per hop, the refractory period after any detection): at the model's
// settings, and at each budget column's thresholds. -pick B chooses one threshold per
// keyword so that, all keywords on, the stream's false alarms fit B per hour at the lowest
// mean miss rate (a coordinate descent over the swept thresholds, every step an all-on
// replay, the result verified by replaying the model with the thresholds stored), writes
// picked.json and, with -write-model, a copy of the model with them in its detection
// metadata. It is refused on validation data.
//
// Outputs under -out: results.json, results.md, det.png (miss rate against false alarms
// per hour, one line per keyword), curve.csv (every swept point), truth.csv
// (keyword,start_s,end_s over the whole stream), false-alarms.csv (each false alarm at the
// model's thresholds, all keywords on, with the clip or real recording it fired on) and,
// with -pick, picked.json.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/bench/internal/tts"
	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/detect"
	"github.com/wakewordd/wakewordd/eval"
	"github.com/wakewordd/wakewordd/infer"
)

// version changes whenever the audio or the cache layout would change for the same flags.
const version = 1

type options struct {
	model          string
	gate           string // "": the default model's default gate, as `run`; "none"; or a file
	gateThreshold  float64
	gateHold       int
	gateFuse       float64 // < 0: the model's own
	clips          string  // DIR/<keyword>/*.{flac,wav}
	split, set     string
	data           string
	hours          float64
	seed           uint64
	segment, every time.Duration
	speech         float64
	snr, gainDB    float64
	levelDB        float64
	noise          string
	noiseFrom      float64
	words          string
	work, out      string
	jobs           int
	tolerance      time.Duration
	budgets        []float64
	keepAudio      bool
	progress       time.Duration
	say            func(*rand.Rand, string) ([]float32, error) // nil: espeak-ng
	background     string                                      // "real" or "tts"
	real           string                                      // -background real: DIR with speech/ and noise/
	pick           float64                                     // > 0: choose thresholds for this many false alarms per hour, all keywords on
	writeModel     string                                      // with pick: write the model with the chosen thresholds here
	pickMiss       float64                                     // > 0: choose each keyword's highest threshold that misses at most this share alone
	calibrate      bool                                        // with -write-model: store each keyword's calibration ladder too
	cleanMiss      float64                                     // > 0: no picked threshold above the highest that misses at most this share of the clips alone in silence
	sensitivity    *float64                                    // not nil: measure the model at this detect.sensitivity
}

func main() {
	var o options
	flag.StringVar(&o.model, "model", "models/kwt.safetensors", "model to measure")
	flag.StringVar(&o.gate, "gate", "", "streaming model that wakes the model (engine.Cascade), or none (default: as `wakewordd run` with no config, "+strings.Join(config.DefaultGatePaths, " or ")+" for the default model, the one beside it, when it exists, else none)")
	flag.Float64Var(&o.gateThreshold, "gate-threshold", config.DefaultGateThreshold, "the gate's keyword posterior that wakes the model (config model.gate_threshold)")
	flag.IntVar(&o.gateHold, "gate-hold", config.DefaultGateHold, "hops the model keeps scoring after the gate's last waking hop (config model.gate_hold)")
	flag.Float64Var(&o.gateFuse, "gate-fuse", -1, "weight of the gate's logits blended into the model's on the hops it scores (config model.gate_fuse); -1: the model's own (its detection metadata gate_fuse); -write-model stores it")
	flag.StringVar(&o.split, "split", "", "split list written by training (<model>.split.json): take the clips of -set from -data instead of a folder argument")
	flag.StringVar(&o.set, "set", "validation", "with -split: which set's clips")
	flag.StringVar(&o.data, "data", "../shared/data/keywords", "with -split: folder of the keyword recordings the split names")
	flag.Float64Var(&o.hours, "hours", 10, "length of the stream (the false-alarm material of every keyword)")
	flag.Uint64Var(&o.seed, "seed", 1, "random seed: the same seed gives the same audio and truth")
	flag.DurationVar(&o.segment, "segment", 10*time.Minute, "length of the independently generated and scored pieces")
	flag.DurationVar(&o.every, "every", 30*time.Second, "one keyword clip per this much stream, on average")
	flag.StringVar(&o.background, "background", "real", "background: real (real speech and noise of -real, one continuous conversation) or tts (espeak-ng sentences and pauses over -noise)")
	flag.StringVar(&o.real, "real", "/work/train-cache/real/validation", "-background real: a share of train/realdata.py's cache, holding speech/ and noise/ (.wav, searched recursively)")
	flag.Float64Var(&o.pick, "pick", 0, "choose one threshold per keyword so that with all keywords on the stream has at most this many false alarms per hour, at the lowest mean miss rate; writes picked.json (run it on the selection share, never on validation)")
	flag.StringVar(&o.writeModel, "write-model", "", "with -pick or -pick-miss: write a copy of the model with the chosen thresholds in its detection metadata to this file")
	flag.Float64Var(&o.pickMiss, "pick-miss", 0, "instead of -pick: each keyword's threshold is the highest at which it misses at most this share of its clips, alone on this stream (0.1: nine in ten heard); selection share only")
	flag.Float64Var(&o.cleanMiss, "clean-miss", 0, "with -pick or -pick-miss: no keyword's threshold above the highest at which it misses at most this share of the same clips played alone with 1 s of silence around them, as `wakewordd eval` plays them (0: no such floor)")
	flag.Func("sensitivity", "measure the model as `wakewordd run --sensitivity S` runs it: each keyword's threshold from its calibration at S (0-1; 0.5 = the model's thresholds)", func(v string) error {
		s, err := strconv.ParseFloat(v, 64)
		o.sensitivity = &s
		return err
	})
	flag.BoolVar(&o.calibrate, "calibrate", false, "with -write-model: store each keyword's calibration in the model (thresholds with their false alarms per hour and miss rates on this stream), which detect.sensitivity maps onto")
	flag.Float64Var(&o.speech, "speech", 0.2, "-background tts: probability that a background chunk is speech (else a pause)")
	flag.Float64Var(&o.snr, "snr", 10, "speech (and keyword) level above the noise, dB")
	flag.Float64Var(&o.gainDB, "gain-db", 3, "keyword clips at the speech level ± up to this many dB")
	flag.Float64Var(&o.levelDB, "level", -26, "RMS of the voiced part of speech and keywords, dBFS")
	flag.StringVar(&o.noise, "noise", "../shared/data/noise", "-background tts: folder of noise recordings (FLAC/WAV); empty: no noise")
	flag.Float64Var(&o.noiseFrom, "noise-from", 0.7, "use noise recordings from this fraction of their length on (the part training never saw)")
	flag.StringVar(&o.words, "words", "/usr/share/dict/words", "-background tts: word list for the background speech")
	flag.StringVar(&o.work, "work", "/tmp/wakewordd-accuracy", "work folder: cached posteriors (reused by a run with the same seed and model)")
	flag.StringVar(&o.out, "out", "", "folder for the results (default WORK/results-BACKGROUND-HOURSh-seedSEED)")
	flag.IntVar(&o.jobs, "j", runtime.NumCPU(), "segments generated and scored in parallel")
	flag.DurationVar(&o.tolerance, "tolerance", 500*time.Millisecond, "a detection up to this long after a keyword's end is a hit")
	budgets := flag.String("budgets", "0.1,0.5", "false alarms per hour at which to report the miss rate")
	flag.BoolVar(&o.keepAudio, "keep-audio", false, "also keep each segment's audio as WAV in the cache")
	flag.DurationVar(&o.progress, "progress", 10*time.Second, "how often to report progress on stderr")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: accuracy [flags] [CLIPDIR]   (CLIPDIR/<keyword>/*.{flac,wav}, or -split)")
		flag.PrintDefaults()
	}
	flag.Parse()
	for _, b := range strings.Split(*budgets, ",") {
		var v float64
		if _, err := fmt.Sscan(strings.TrimSpace(b), &v); err != nil || !(v > 0) {
			fmt.Fprintf(os.Stderr, "accuracy: -budgets: %q is not a positive number\n", b)
			os.Exit(2)
		}
		o.budgets = append(o.budgets, v)
	}
	switch {
	case flag.NArg() == 1 && o.split == "":
		o.clips = flag.Arg(0)
	case flag.NArg() == 0 && o.split != "":
	default:
		flag.Usage()
		os.Exit(2)
	}
	if _, err := run(o, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "accuracy:", err)
		os.Exit(1)
	}
}

// listClips returns the keyword clips, sorted by keyword and path.
func listClips(o options, keywords []string) ([]clip, error) {
	var out []clip
	if o.split != "" {
		raw, err := os.ReadFile(o.split)
		if err != nil {
			return nil, err
		}
		var split map[string]json.RawMessage
		if err := json.Unmarshal(raw, &split); err != nil {
			return nil, fmt.Errorf("%s: %w", o.split, err)
		}
		var names []string
		if err := json.Unmarshal(split[o.set], &names); err != nil || len(names) == 0 {
			return nil, fmt.Errorf("%s: no clip list %q", o.split, o.set)
		}
		for _, n := range names {
			out = append(out, clip{Keyword: filepath.Dir(n), Path: filepath.Join(o.data, n)})
		}
	} else {
		entries, err := os.ReadDir(o.clips)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			for _, ext := range []string{"*.flac", "*.wav"} {
				paths, _ := filepath.Glob(filepath.Join(o.clips, e.Name(), ext))
				for _, p := range paths {
					out = append(out, clip{Keyword: e.Name(), Path: p})
				}
			}
		}
	}
	var kept []clip
	for _, c := range out {
		switch {
		case slices.Contains(detect.NotKeywords, c.Keyword):
		case !slices.Contains(keywords, c.Keyword):
			return nil, fmt.Errorf("clips of %q: not a keyword of the model (it has %v)", c.Keyword, keywords)
		default:
			kept = append(kept, c)
		}
	}
	if len(kept) == 0 {
		return nil, errors.New("no keyword clips")
	}
	slices.SortFunc(kept, func(a, b clip) int {
		return strings.Compare(a.Keyword+"\x00"+a.Path, b.Keyword+"\x00"+b.Path)
	})
	return kept, nil
}

// fileHash is the SHA-256 of a file's contents.
func fileHash(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

// cacheKey names everything the cached posteriors depend on.
type cacheKey struct {
	Version int               `json:"version"`
	Gen     genParams         `json:"generator"`
	Model   string            `json:"model_sha256"`
	Words   string            `json:"words_sha256,omitempty"`
	Clips   []string          `json:"clips"` // keyword/name sha256
	Noise   map[string]string `json:"noise_sha256,omitempty"`
	// Background is "real" for the real background; the espeak-ng background leaves it
	// (and Real) out, so that its key, and the caches made before there was a real
	// background, stay as they were.
	Background string   `json:"background,omitempty"`
	Real       *realKey `json:"real,omitempty"`
	// Gate is the gate the model scored behind; without one it is left out, so that the
	// caches made before there was a gate stay valid.
	Gate *gateKey `json:"gate,omitempty"`
}

// gateKey is what the posteriors depend on of the gate.
type gateKey struct {
	SHA256    string  `json:"sha256"`
	Threshold float64 `json:"threshold"`
	Hold      int     `json:"hold_hops"`
	Fuse      float64 `json:"fuse,omitempty"` // left out at 0, so that earlier caches stay valid
}

// realKey is what the real background's audio depends on besides genParams and the clips.
type realKey struct {
	Speech  string `json:"speech_list_sha256"`
	Noise   string `json:"noise_list_sha256"`
	Pause   [2]int `json:"pause_samples"`
	MaxUtt  int    `json:"longest_utterance_samples"`
	Version int    `json:"real_version"`
}

func (k cacheKey) dir(work string) (string, []byte) {
	js, _ := json.MarshalIndent(k, "", " ")
	s := sha256.Sum256(js)
	return filepath.Join(work, "cache", hex.EncodeToString(s[:8])), js
}

// run measures, writes the results under o.out and returns them.
func run(o options, log io.Writer) (*results, error) {
	start := time.Now()
	modelBytes, err := os.ReadFile(o.model)
	if err != nil {
		return nil, err
	}
	modelSum := sha256.Sum256(modelBytes)
	m, err := infer.Parse(modelBytes, o.model)
	if err != nil {
		return nil, err
	}
	if o.sensitivity != nil {
		if m, modelBytes, err = atSensitivity(m, *o.sensitivity); err != nil {
			return nil, err
		}
		modelSum = sha256.Sum256(modelBytes)
	}
	if o.segment < 10*time.Second || o.segment%(time.Second/rate) != 0 {
		return nil, fmt.Errorf("-segment %v: want a whole number of samples, at least 10 s", o.segment)
	}
	if !(o.hours > 0) || !(o.every > 0) || !(o.speech >= 0 && o.speech <= 1) {
		return nil, errors.New("-hours and -every must be positive, -speech within 0..1")
	}
	if err := o.checkPick(); err != nil {
		return nil, err
	}
	gt, err := loadGate(o, m)
	if err != nil {
		return nil, err
	}
	clips, err := listClips(o, m.Keywords())
	if err != nil {
		return nil, err
	}
	var keywords []string // those with clips, in class order
	for _, kw := range m.Keywords() {
		if slices.ContainsFunc(clips, func(c clip) bool { return c.Keyword == kw }) {
			keywords = append(keywords, kw)
		}
	}
	p := genParams{
		Seed: o.seed, Segment: int(o.segment / (time.Second / rate)),
		PerSeg: int(math.Round(float64(o.segment) / float64(o.every))),
		Speech: o.speech, SNR: o.snr, GainDB: o.gainDB, LevelDB: o.levelDB, NoiseFrom: o.noiseFrom,
	}
	if o.background == "real" {
		p.Speech, p.NoiseFrom = 0, 0 // the espeak-ng background's settings
	}
	key := cacheKey{Version: version, Gen: p, Model: hex.EncodeToString(modelSum[:])}
	if gt != nil {
		key.Gate = &gateKey{SHA256: gt.sha256, Threshold: gt.threshold, Hold: gt.hold, Fuse: gt.fuse}
	}
	for _, c := range clips {
		h, err := fileHash(c.Path)
		if err != nil {
			return nil, err
		}
		key.Clips = append(key.Clips, c.Keyword+"/"+filepath.Base(c.Path)+" "+h)
	}
	g := &generator{p: p, clips: clips}
	var chunkLen []int
	switch o.background {
	case "real":
		var longest int
		if chunkLen, longest, err = chunkLens(clips); err != nil {
			return nil, err
		}
		if g.real, err = loadReal(o.real, maxUtterance(p, longest)); err != nil {
			return nil, err
		}
		key.Background = "real"
		key.Real = &realKey{Speech: g.real.SpeechSum, Noise: g.real.NoiseSum, Pause: [2]int{pauseMin, pauseMax}, MaxUtt: g.real.MaxUtt, Version: 1}
	case "tts":
		if err := g.ttsBackground(o, m, &key); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("-background %q: want real or tts", o.background)
	}
	dir, keyJSON := key.dir(o.work)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(dir, "key.json"), keyJSON); err != nil {
		return nil, err
	}
	// The model the posteriors came from, as read at the start (it may change meanwhile).
	if err := writeAtomic(filepath.Join(dir, "model.safetensors"), modelBytes); err != nil {
		return nil, err
	}
	if gt != nil {
		if err := writeAtomic(filepath.Join(dir, "gate.safetensors"), gt.bytes); err != nil {
			return nil, err
		}
	}
	total := int(math.Round(o.hours * 3600 * rate))
	segs := schedule(p, total, len(clips))
	if g.real != nil {
		if err := g.planReal(segs, chunkLen); err != nil {
			return nil, err
		}
	}
	spec, err := shipped(m, nil)
	if err != nil {
		return nil, err
	}
	pass := spec.Pass()
	gi := gateInfoOf(gt, o, m, dir)
	fmt.Fprintf(log, "accuracy: %s (%d layers, %s, %s), %d clips of %d keywords, %.2f h in %d segments, cache %s\n",
		o.model, m.Arch.Depth, pass, gi.text(), len(clips), len(keywords), o.hours, len(segs), dir)

	results := make([]segResult, len(segs))
	var todo []int
	var todoSamples int
	for i, s := range segs {
		r, ok, err := loadSeg(dir, s, len(m.Classes))
		if err != nil {
			return nil, err
		}
		if ok {
			results[i] = r
			continue
		}
		todo = append(todo, i)
		todoSamples += s.Samples
	}
	if n := len(segs) - len(todo); n > 0 {
		fmt.Fprintf(log, "accuracy: %d of %d segments cached\n", n, len(segs))
	}
	if err := produce(g, m, gt, dir, segs, todo, todoSamples, results, o, log); err != nil {
		return nil, err
	}

	st := &stream{classes: m.Classes, segs: results, length: sampleTime(total)}
	for _, r := range results {
		for _, e := range r.Events {
			st.truth = append(st.truth, eval.Event{Keyword: e.Keyword,
				Start: sampleTime(r.Start + e.Start), End: sampleTime(r.Start + e.End)})
		}
	}
	slices.SortStableFunc(st.truth, func(a, b eval.Event) int { return int(a.Start - b.Start) })
	var floor *cleanFloor
	if o.cleanMiss > 0 {
		fmt.Fprintf(log, "accuracy: scoring the %d clips alone in silence (-clean-miss)\n", len(clips))
		if floor, err = newCleanFloor(m, gt, clips, keywords, o.cleanMiss, o.jobs); err != nil {
			return nil, err
		}
	}
	res, err := evaluate(st, m, keywords, clips, floor, o)
	if err != nil {
		return nil, err
	}
	res.Model = modelInfo{Path: o.model, SHA256: key.Model, Created: m.Created, Depth: m.Arch.Depth, Frames: m.Arch.Frames, Pass: pass, Copy: filepath.Join(dir, "model.safetensors")}
	res.Gate = gi.counted(gt, results)
	res.Cache = dir
	res.Background = o.background
	if g.real != nil {
		res.Real = g.real.stats(segs, results)
		g.real.attribute(res.FalseAlarmList, segs, modelWindow(m))
		res.Noise, res.NoiseFrom = "", 0
	}
	res.Out = outDir(o)
	if p := res.Pick; p != nil {
		p.Model, p.Clips, p.Background, p.Seed = o.model, res.Clips, o.background, o.seed
		p.Gate = res.Gate
		if res.Real != nil {
			p.RealDir = res.Real.Dir
		}
		if err := os.MkdirAll(res.Out, 0o755); err != nil {
			return nil, err
		}
		if err := writePicked(p, st, modelBytes, res.Out, o); err != nil {
			return nil, err
		}
	}
	res.WallSeconds = time.Since(start).Seconds()
	if err := writeResults(res, st, o); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "accuracy: results in %s (%s)\n", res.Out, time.Since(start).Round(time.Second))
	if p := res.Pick; p != nil {
		if !p.Reached {
			msg := fmt.Sprintf("-pick %g: no thresholds found keep all keywords together within %g false alarms per hour (at most %d in %.2f h); the fewest found is %d (%s), see %s",
				p.PerHour, p.PerHour, p.MaxFalseAlarms, p.Hours, p.AllOn.FalseAlarms, p.AllOn.byKeyword(), filepath.Join(res.Out, "picked.json"))
			if o.writeModel != "" {
				msg += "; not writing " + o.writeModel
			}
			return res, errors.New(msg)
		}
		fmt.Fprintf(log, "accuracy: picked %v: %d false alarms (%.2f/h) with all keywords on, mean miss rate %.2f %%; %s\n",
			p.Thresholds, p.AllOn.FalseAlarms, p.AllOn.FAPerHour, 100*p.AllOn.MissRate, filepath.Join(res.Out, "picked.json"))
		if p.Wrote != "" {
			fmt.Fprintf(log, "accuracy: wrote %s\n", p.Wrote)
		}
	}
	return res, nil
}

// ttsBackground sets g up for the espeak-ng background: the word list, what it must never
// say, and the noise of o.noise; and adds their hashes to the key.
func (g *generator) ttsBackground(o options, m *infer.Model, key *cacheKey) error {
	var err error
	if g.words, err = tts.LoadWords(o.words); err != nil {
		return err
	}
	if key.Words, err = fileHash(o.words); err != nil {
		return err
	}
	g.say = tts.Say
	if o.say != nil {
		g.say = o.say
	}
	// The background must not say any keyword of the model, nor the spoken forms.
	for _, kw := range m.Keywords() {
		g.keywords = append(g.keywords, kw)
		if s := tts.Spoken[kw]; s != "" {
			g.keywords = append(g.keywords, s)
		}
	}
	if o.noise != "" {
		if g.noise, err = tts.NoisePool(o.noise, o.noiseFrom); err != nil {
			return err
		}
		key.Noise = map[string]string{}
		paths, _ := filepath.Glob(filepath.Join(o.noise, "*"))
		for _, path := range paths {
			if ext := filepath.Ext(path); ext == ".flac" || ext == ".wav" {
				if key.Noise[filepath.Base(path)], err = fileHash(path); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// produce generates and scores the segments listed in todo, o.jobs at a time, saving each
// to the cache, and reports progress on log.
func produce(g *generator, m *infer.Model, gt *gate, dir string, segs []segment, todo []int, todoSamples int, results []segResult, o options, log io.Writer) error {
	if len(todo) == 0 {
		return nil
	}
	var done atomic.Int64 // samples scored this run
	var finished atomic.Int64
	t0 := time.Now()
	line := func(final bool) {
		d := float64(done.Load()) / rate
		wall := time.Since(t0).Seconds()
		msg := fmt.Sprintf("accuracy: %.2f/%.2f h of audio scored (%d/%d segments)", d/3600, float64(todoSamples)/rate/3600, finished.Load(), len(todo))
		if d > 0 {
			rtf := wall / d
			msg += fmt.Sprintf(", real-time factor %.4f (%.4f per worker, %.0fx real time)", rtf, rtf*float64(min(o.jobs, len(todo))), 1/rtf)
			if !final {
				msg += fmt.Sprintf(", ETA %s", time.Duration((float64(todoSamples)/rate-d)*rtf*float64(time.Second)).Round(time.Second))
			}
		}
		fmt.Fprintln(log, msg)
	}
	stop := make(chan struct{})
	var tick sync.WaitGroup
	if o.progress > 0 {
		tick.Add(1)
		go func() {
			defer tick.Done()
			t := time.NewTicker(o.progress)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					line(false)
				}
			}
		}()
	}
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range max(1, min(o.jobs, len(todo))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r, err := makeSegment(g, m, gt, dir, segs[i], o.keepAudio, func(n int) { done.Add(int64(n)) })
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				results[i] = r
				finished.Add(1)
			}
		}()
	}
	for _, i := range todo {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	close(stop)
	tick.Wait()
	if firstErr != nil {
		return firstErr
	}
	line(true)
	return nil
}

// makeSegment generates one segment, scores it and caches the result.
func makeSegment(g *generator, m *infer.Model, gt *gate, dir string, s segment, keepAudio bool, progress func(int)) (segResult, error) {
	t0 := time.Now()
	a, err := g.generate(s)
	if err != nil {
		return segResult{}, err
	}
	if keepAudio {
		f, err := os.Create(segPath(dir, s.Index, ".wav"))
		if err != nil {
			return segResult{}, err
		}
		err = audio.WriteWAV(f, rate, 1, 16, false, samplesToFloat(a.PCM))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return segResult{}, err
		}
	}
	r, err := scoreAudio(m, gt, a.PCM, progress)
	if err != nil {
		return r, fmt.Errorf("segment %d: %w", s.Index, err)
	}
	r.Index, r.Start, r.Samples, r.Placements = s.Index, s.Start, s.Samples, s.Placements
	r.Events, r.SHA256, r.SpeechSamples, r.Sentences = a.Events, a.Hash(), a.SpeechSample, a.Sentences
	r.Utterances, r.NoiseFiles = a.Utterances, a.NoiseFiles
	r.Seconds = time.Since(t0).Seconds()
	return r, saveSeg(dir, r, len(m.Classes))
}
