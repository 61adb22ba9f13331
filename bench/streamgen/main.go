// Command streamgen writes a long test recording and its ground truth: synthetic speech
// (espeak-ng) with wake words spoken at known times, over real background noise, all
// determined by a seed so anyone can regenerate the same audio.
//
//	streamgen -seed 1 -minutes 10 -keywords alexa,jarvis -every 30s -noise ../shared/data/noise \
//	    -out stream.wav -truth stream.csv
//
// With -keywords "" the stream holds no wake word at all: false-alarm material.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/bench/internal/tts"
)

const rate = tts.Rate

// The voices, the word list, the noise excerpts and the energy detector are shared with
// bench/accuracy (bench/internal/tts).
var (
	spoken    = tts.Spoken
	loadWords = tts.LoadWords
	say       = tts.Say
	rms       = tts.RMS
	voiced    = tts.Voiced
)

type options struct {
	seed       uint64
	length     time.Duration
	keywords   []string
	every      time.Duration
	noiseDir   string
	noiseFrom  float64
	snr        float64
	out, truth string
	words      string
}

func main() {
	var o options
	var minutes float64
	var kws string
	flag.Uint64Var(&o.seed, "seed", 1, "random seed: the same seed gives the same audio")
	flag.Float64Var(&minutes, "minutes", 10, "length of the recording")
	flag.StringVar(&kws, "keywords", "", "comma-separated keywords to insert (empty: none)")
	flag.DurationVar(&o.every, "every", 30*time.Second, "average time between keywords")
	flag.StringVar(&o.noiseDir, "noise", "", "folder of background-noise recordings (FLAC/WAV); empty: no noise")
	flag.Float64Var(&o.noiseFrom, "noise-from", 0.7, "use noise files from this fraction of their length on (the part training never saw)")
	flag.Float64Var(&o.snr, "snr", 10, "speech-to-noise ratio in dB")
	flag.StringVar(&o.out, "out", "stream.wav", "output WAV (16 kHz mono, 16-bit)")
	flag.StringVar(&o.truth, "truth", "", "output ground truth CSV (keyword,start_s,end_s); default: OUT with .csv")
	flag.StringVar(&o.words, "words", "/usr/share/dict/words", "word list for the background speech")
	flag.Parse()
	o.length = time.Duration(minutes * float64(time.Minute))
	if kws != "" {
		o.keywords = strings.Split(kws, ",")
	}
	if o.truth == "" {
		o.truth = strings.TrimSuffix(o.out, filepath.Ext(o.out)) + ".csv"
	}
	if err := generate(o); err != nil {
		fmt.Fprintln(os.Stderr, "streamgen:", err)
		os.Exit(1)
	}
}

func generate(o options) error {
	for _, k := range o.keywords {
		if spoken[k] == "" {
			return fmt.Errorf("unknown keyword %q", k)
		}
	}
	words, err := loadWords(o.words)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(o.seed, 0x5eed))
	total := int(o.length.Seconds() * rate)
	speech := make([]float32, 0, total)
	var truth []string
	nextKW := jitter(rng, o.every)
	for len(speech) < total {
		speech = append(speech, make([]float32, int((0.3+1.2*rng.Float64())*rate))...)
		at := time.Duration(len(speech)) * time.Second / rate
		if len(o.keywords) > 0 && at >= nextKW {
			kw := o.keywords[rng.IntN(len(o.keywords))]
			clip, err := say(rng, spoken[kw])
			if err != nil {
				return err
			}
			start, end := voiced(clip)
			s0 := len(speech)
			speech = append(speech, clip...)
			truth = append(truth, fmt.Sprintf("%s,%.3f,%.3f", kw, float64(s0+start)/rate, float64(s0+end)/rate))
			nextKW = at + jitter(rng, o.every)
			continue
		}
		n := 3 + rng.IntN(9)
		sentence := make([]string, n)
		for i := range sentence {
			sentence[i] = words[rng.IntN(len(words))]
		}
		clip, err := say(rng, strings.Join(sentence, " "))
		if err != nil {
			return err
		}
		speech = append(speech, clip...)
	}
	speech = speech[:total]
	// A keyword cut off by the end of the recording is not ground truth.
	for len(truth) > 0 {
		var kw string
		var s, e float64
		fmt.Sscanf(strings.ReplaceAll(truth[len(truth)-1], ",", " "), "%s %f %f", &kw, &s, &e)
		if e*rate < float64(total) {
			break
		}
		truth = truth[:len(truth)-1]
	}
	if o.noiseDir != "" {
		noise, err := loadNoise(rng, o.noiseDir, o.noiseFrom, total)
		if err != nil {
			return err
		}
		gain := float32(rms(speech) / (rms(noise) * math.Pow(10, o.snr/20)))
		for i := range speech {
			speech[i] += gain * noise[i]
		}
	}
	// Leave headroom: scale so the peak sits at -1 dBFS at most.
	var peak float32
	for _, v := range speech {
		peak = max(peak, float32(math.Abs(float64(v))))
	}
	if lim := float32(math.Pow(10, -1.0/20)); peak > lim {
		for i := range speech {
			speech[i] *= lim / peak
		}
	}
	var wav bytes.Buffer
	if err := audio.WriteWAV(&wav, rate, 1, 16, false, speech); err != nil {
		return err
	}
	if err := os.WriteFile(o.out, wav.Bytes(), 0o644); err != nil {
		return err
	}
	csv := "keyword,start_s,end_s\n" + strings.Join(truth, "\n")
	if len(truth) > 0 {
		csv += "\n"
	}
	return os.WriteFile(o.truth, []byte(csv), 0o644)
}

func jitter(rng *rand.Rand, every time.Duration) time.Duration {
	return time.Duration((0.5 + rng.Float64()) * float64(every))
}

// loadNoise builds n samples from random excerpts of the noise recordings.
func loadNoise(rng *rand.Rand, dir string, from float64, n int) ([]float32, error) {
	pool, err := tts.NoisePool(dir, from)
	if err != nil {
		return nil, err
	}
	out := make([]float32, 0, n)
	for len(out) < n {
		x := pool[rng.IntN(len(pool))]
		seg := min(len(x), 5*rate+rng.IntN(10*rate))
		start := rng.IntN(len(x) - seg + 1)
		out = append(out, x[start:start+seg]...)
	}
	return out[:n], nil
}
