// Command tune chooses a model's detection defaults (smoothing, patience and a threshold
// per keyword) from data the model was not trained on, and can store them in the model.
//
// It runs the model once over every keyword clip of a split (padded with a second of
// silence on each side, as `wakewordd eval` does) and over long keyword-free recordings,
// keeps every hop's posteriors, and then replays the real detector over those traces for
// each candidate policy. For each smoothing and patience it sets each keyword's threshold
// just above the highest score that keyword reached on the keyword-free audio, and keeps
// the policy that gets the most clips right.
//
//	tune -model models/kwt.safetensors -split models/kwt.split.json -set selection \
//	    -negative neg.wav [-write models/kwt.safetensors]
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/detect"
	"github.com/wakewordd/wakewordd/eval"
	"github.com/wakewordd/wakewordd/frontend"
	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/listener"
)

// trace is the posteriors of every hop of one recording.
type trace struct {
	class string // keyword of a clip; "" for keyword-free audio
	at    []time.Duration
	probs [][]float32
	hours float64
}

func main() {
	modelPath := flag.String("model", "models/kwt.safetensors", "model to tune")
	splitPath := flag.String("split", "", "split list written by training (<model>.split.json)")
	set := flag.String("set", "selection", "which split's keyword clips to tune on")
	data := flag.String("data", "../shared/data/keywords", "folder of the keyword recordings the split names")
	margin := flag.Float64("margin", 0.05, "threshold margin above the highest score on keyword-free audio")
	minTh := flag.Float64("min-threshold", 0.5, "never set a threshold below this")
	workers := flag.Int("j", runtime.NumCPU(), "recordings processed in parallel")
	write := flag.String("write", "", "write the model with the chosen detection defaults here")
	limit := flag.Int("limit", 0, "use only every n-th clip, for a quick look (0: all)")
	link := flag.String("link", "", "only lay out the split's clips as DIR/<class>/<clip> for `wakewordd eval DIR`")
	cache := flag.String("cache", "", "with -link: the training cache, whose held-out synthetic speech becomes DIR/unknown")
	noise := flag.String("noise", "", "with -link: noise recordings whose unseen last 30 % become 3 s clips in DIR/silence")
	flag.Parse()
	negatives := flag.Args()
	if *link != "" {
		if err := linkSplit(*splitPath, *set, *data, *cache, *noise, *link); err != nil {
			fmt.Fprintln(os.Stderr, "tune:", err)
			os.Exit(1)
		}
		return
	}
	if *splitPath == "" || len(negatives) == 0 {
		fmt.Fprintln(os.Stderr, "usage: tune -split SPLIT.json [flags] NEGATIVE.wav...")
		os.Exit(2)
	}
	if err := tune(*modelPath, *splitPath, *set, *data, *margin, *minTh, *workers, *limit, *write, negatives); err != nil {
		fmt.Fprintln(os.Stderr, "tune:", err)
		os.Exit(1)
	}
}

// readSplit returns the clip names (<keyword>/<file>) of one set of a split file.
func readSplit(splitPath, set string) ([]string, error) {
	raw, err := os.ReadFile(splitPath)
	if err != nil {
		return nil, err
	}
	var split map[string]json.RawMessage
	if err := json.Unmarshal(raw, &split); err != nil {
		return nil, fmt.Errorf("%s: %w", splitPath, err)
	}
	var clips []string
	if err := json.Unmarshal(split[set], &clips); err != nil || len(clips) == 0 {
		return nil, fmt.Errorf("%s: no clip list %q", splitPath, set)
	}
	return clips, nil
}

// linkSplit lays out one split as an eval folder: links to the keyword recordings, and
// optionally the held-out synthetic negatives of the training cache and excerpts of the
// part of each noise recording that training never used.
func linkSplit(splitPath, set, data, cache, noise, dir string) error {
	clips, err := readSplit(splitPath, set)
	if err != nil {
		return err
	}
	if cache != "" {
		n, err := linkNegatives(cache, set, filepath.Join(dir, "unknown"))
		if err != nil {
			return err
		}
		fmt.Printf("linked %d held-out synthetic negatives under %s/unknown\n", n, dir)
	}
	if noise != "" {
		n, err := noiseClips(noise, filepath.Join(dir, "silence"))
		if err != nil {
			return err
		}
		fmt.Printf("wrote %d unseen noise excerpts under %s/silence\n", n, dir)
	}
	abs, err := filepath.Abs(data)
	if err != nil {
		return err
	}
	for _, c := range clips {
		dst := filepath.Join(dir, c)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		os.Remove(dst)
		if err := os.Symlink(filepath.Join(abs, c), dst); err != nil {
			return err
		}
	}
	fmt.Printf("linked %d clips of %q under %s\n", len(clips), set, dir)
	return nil
}

func tune(modelPath, splitPath, set, data string, margin, minTh float64, workers, every int, write string, negatives []string) error {
	// The model as `wakewordd run --model modelPath` runs it (package listener): its delta
	// pass behind its gate, so the policy is tuned on the posteriors the detector will see.
	c := config.Default()
	c.Model.Path = modelPath
	spec, err := listener.Load(c, nil)
	if err != nil {
		return err
	}
	m := spec.Model
	clips, err := readSplit(splitPath, set)
	if err != nil {
		return err
	}
	type job struct{ path, class string }
	var jobs []job
	if every > 1 {
		var kept []string
		for i := 0; i < len(clips); i += every {
			kept = append(kept, clips[i])
		}
		clips = kept
	}
	for _, c := range clips {
		jobs = append(jobs, job{filepath.Join(data, c), filepath.Dir(c)})
	}
	for _, n := range negatives {
		jobs = append(jobs, job{n, ""})
	}
	traces := make([]trace, len(jobs))
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	next := make(chan int)
	start := time.Now()
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				pad := time.Second
				if jobs[i].class == "" {
					pad = 0
				}
				tr, err := run(spec, jobs[i].path, pad)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				tr.class = jobs[i].class
				traces[i] = tr
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	var negHours float64
	for _, t := range traces {
		if t.class == "" {
			negHours += t.hours
		}
	}
	fmt.Printf("scored %d clips of %q and %.2f h of keyword-free audio in %s\n", len(clips), set, negHours, time.Since(start).Round(time.Second))

	kws := m.Keywords()
	type result struct {
		smoothing, patience int
		thresholds          map[string]float64
		correct             int
		perKW               map[string][2]int
	}
	var best *result
	for smoothing := 1; smoothing <= 5; smoothing++ {
		for patience := 1; patience <= 3; patience++ {
			r := &result{smoothing: smoothing, patience: patience, thresholds: map[string]float64{}, perKW: map[string][2]int{}}
			peaks := negativePeaks(traces, m.Classes, smoothing, patience)
			for _, kw := range kws {
				r.thresholds[kw] = min(0.99, max(minTh, peaks[kw]+margin))
			}
			for _, t := range traces {
				if t.class == "" {
					continue
				}
				c := eval.Clip{Class: t.class, Fired: replay(t, m.Classes, r.thresholds, smoothing, patience, m.Detection.RefractoryS)}
				pk := r.perKW[t.class]
				pk[1]++
				if c.Correct() {
					r.correct++
					pk[0]++
				}
				r.perKW[t.class] = pk
			}
			fmt.Printf("smoothing %d patience %d: %d/%d clips right, thresholds %v\n", smoothing, patience, r.correct, len(clips), rounded(r.thresholds))
			if best == nil || r.correct > best.correct {
				best = r
			}
		}
	}
	fmt.Printf("\nchosen: smoothing %d, patience %d, thresholds %v\n", best.smoothing, best.patience, rounded(best.thresholds))
	for _, kw := range kws {
		pk := best.perKW[kw]
		fmt.Printf("  %-13s %d/%d clips of %q right\n", kw, pk[0], pk[1], set)
	}
	if write == "" {
		return nil
	}
	m.Detection.Smoothing = best.smoothing
	m.Detection.Patience = best.patience
	m.Detection.Thresholds = rounded(best.thresholds)
	tmp := write + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := infer.Write(f, m); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, write)
}

func rounded(th map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range th {
		out[k] = math.Ceil(v*100) / 100
	}
	return out
}

// run streams one recording through the frontend and the model, keeping every hop's
// posteriors.
func run(spec *listener.Spec, path string, pad time.Duration) (trace, error) {
	m := spec.Model
	x, err := audio.DecodeFile(path)
	if err != nil {
		return trace{}, err
	}
	n := int(pad.Seconds() * audio.TargetRate)
	x = append(append(make([]float32, n), x...), make([]float32, n)...)
	var tr trace
	tr.hours = float64(len(x)) / audio.TargetRate / 3600
	// Only the posteriors are kept; traces are replayed through detectors later.
	l, err := spec.New()
	if err != nil {
		return tr, err
	}
	l.OnPosteriors = func(at time.Duration, p []float32) {
		tr.at = append(tr.at, at)
		tr.probs = append(tr.probs, slices.Clone(p))
	}
	fe, err := frontend.New(m.Frontend)
	if err != nil {
		return tr, err
	}
	fe.Write(x)
	frame := make([]float32, m.Frontend.NumCoeffs)
	for i := uint64(0); fe.Next(frame); i++ {
		l.PushFrame(i, frame)
	}
	return tr, nil
}

// negativePeaks is, per keyword, the highest score the detector would act on in the
// keyword-free traces: the smoothed posterior, held for patience hops.
func negativePeaks(traces []trace, classes []string, smoothing, patience int) map[string]float64 {
	peaks := map[string]float64{}
	for ci, c := range classes {
		if slices.Contains(detect.NotKeywords, c) {
			continue
		}
		for _, t := range traces {
			if t.class != "" {
				continue
			}
			hist := make([]float64, smoothing)
			held := make([]float64, patience)
			for h, p := range t.probs {
				hist[h%smoothing] = float64(p[ci])
				var s float64
				for _, v := range hist {
					s += v
				}
				held[h%patience] = s / float64(smoothing)
				peaks[c] = max(peaks[c], slices.Min(held))
			}
		}
	}
	return peaks
}

// replay runs the real detector over a trace and returns the keywords it fired.
func replay(t trace, classes []string, th map[string]float64, smoothing, patience int, refractoryS float64) []string {
	def := detect.Rule{Enabled: true, Threshold: 0.5, Smoothing: smoothing, Patience: patience,
		Refractory: time.Duration(refractoryS * float64(time.Second))}
	rules := map[string]detect.Rule{}
	for kw, v := range th {
		r := def
		r.Threshold = v
		rules[kw] = r
	}
	d, err := detect.New(classes, def, rules)
	if err != nil {
		panic(err) // thresholds come from this program and are in range
	}
	var fired []string
	for i, p := range t.probs {
		if det, ok := d.Push(t.at[i], p); ok {
			fired = append(fired, det.Keyword)
		}
	}
	return fired
}

// linkNegatives links the synthetic `unknown` clips of one split, as listed in the
// training cache's features/items.json.
func linkNegatives(cache, set, dir string) (int, error) {
	raw, err := os.ReadFile(filepath.Join(cache, "features", "items.json"))
	if err != nil {
		return 0, err
	}
	var items []struct{ ID, Split, Label, Kind string }
	if err := json.Unmarshal(raw, &items); err != nil {
		return 0, fmt.Errorf("items.json: %w", err)
	}
	abs, err := filepath.Abs(cache)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	n := 0
	for _, it := range items {
		if it.Split != set || it.Label != "unknown" || !strings.HasPrefix(it.ID, "tts/") {
			continue
		}
		dst := filepath.Join(dir, filepath.Base(it.ID)+".wav")
		os.Remove(dst)
		if err := os.Symlink(filepath.Join(abs, it.ID+".wav"), dst); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// noiseClips cuts the last 30 % of each noise recording (never used in training) into
// 3 s clips.
func noiseClips(noise, dir string) (int, error) {
	paths, _ := filepath.Glob(filepath.Join(noise, "*.flac"))
	if len(paths) == 0 {
		return 0, fmt.Errorf("no FLAC recordings in %s", noise)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	n := 0
	const clip = 3 * audio.TargetRate
	for _, p := range paths {
		x, err := audio.DecodeFile(p)
		if err != nil {
			return n, err
		}
		x = x[len(x)*7/10:]
		for i := 0; i+clip <= len(x); i += clip {
			var b bytes.Buffer
			if err := audio.WriteWAV(&b, audio.TargetRate, 1, 16, false, x[i:i+clip]); err != nil {
				return n, err
			}
			name := fmt.Sprintf("%s-%02d.wav", strings.TrimSuffix(filepath.Base(p), ".flac"), i/clip)
			if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
