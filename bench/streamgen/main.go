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
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wakewordd/wakewordd/audio"
)

const rate = audio.TargetRate

// spoken is how each keyword is said to the synthesiser.
var spoken = map[string]string{
	"alexa": "Alexa", "computer": "Computer", "jarvis": "Jarvis",
	"smart_mirror": "smart mirror", "snowboy": "snowboy", "view_glass": "view glass",
}

// voices are espeak-ng voices and variants; the generator picks among them per utterance.
var (
	voices   = []string{"en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan"}
	variants = []string{"", "+m1", "+m3", "+m5", "+f1", "+f2", "+f4", "+klatt2"}
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

// loadWords reads a word list, keeping plain lower-case words and dropping every word
// that contains a keyword, so that background speech never says one.
func loadWords(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("word list: %w (Debian: apt-get install wamerican)", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
next:
	for sc.Scan() {
		w := sc.Text()
		if len(w) < 2 || len(w) > 12 {
			continue
		}
		for _, r := range w {
			if r < 'a' || r > 'z' {
				continue next
			}
		}
		for _, k := range []string{"alexa", "computer", "jarvis", "snowboy"} {
			if strings.Contains(w, k) {
				continue next
			}
		}
		out = append(out, w)
	}
	if len(out) < 100 {
		return nil, fmt.Errorf("word list %s: only %d usable words", path, len(out))
	}
	return out, sc.Err()
}

// say synthesises text with a random voice, speed and pitch, at 16 kHz.
func say(rng *rand.Rand, text string) ([]float32, error) {
	voice := voices[rng.IntN(len(voices))] + variants[rng.IntN(len(variants))]
	// Written to a file rather than --stdout: a streamed WAV carries placeholder sizes.
	tmp, err := os.CreateTemp("", "streamgen-*.wav")
	if err != nil {
		return nil, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	args := []string{"-v", voice, "-s", fmt.Sprint(130 + rng.IntN(60)), "-p", fmt.Sprint(30 + rng.IntN(40)), "-w", tmp.Name(), text}
	if out, err := exec.Command("espeak-ng", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("espeak-ng %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return decode(tmp.Name(), 0, 1)
}

// decode reads the part [from, to) (fractions of the length) of an audio file at 16 kHz.
func decode(path string, from, to float64) ([]float32, error) {
	x, err := audio.DecodeFile(path)
	if err != nil {
		return nil, err
	}
	return x[int(from*float64(len(x))):int(to*float64(len(x)))], nil
}

// loadNoise builds n samples from random excerpts of the noise recordings.
func loadNoise(rng *rand.Rand, dir string, from float64, n int) ([]float32, error) {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.flac"))
	wavs, _ := filepath.Glob(filepath.Join(dir, "*.wav"))
	paths = append(paths, wavs...)
	slices.Sort(paths)
	if len(paths) == 0 {
		return nil, fmt.Errorf("no FLAC or WAV files in %s", dir)
	}
	var pool [][]float32
	for _, p := range paths {
		x, err := decode(p, from, 1)
		if err != nil {
			return nil, err
		}
		// Each excerpt at unit RMS, so the SNR holds whichever recording plays.
		if g := rms(x); g > 0 {
			for i := range x {
				x[i] /= float32(g)
			}
			pool = append(pool, x)
		}
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

func rms(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(max(len(x), 1)))
}

// voiced finds the first and last sample of the 10 ms blocks louder than 30 dB below the
// loudest block: where the word really starts and ends inside its synthetic silence.
func voiced(x []float32) (start, end int) {
	const block = rate / 100
	var energies []float64
	for i := 0; i+block <= len(x); i += block {
		energies = append(energies, rms(x[i:i+block]))
	}
	top := slices.Max(append(energies, 1e-9))
	first, last := -1, -1
	for i, e := range energies {
		if e >= top*math.Pow(10, -30.0/20) {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return 0, len(x)
	}
	return first * block, min((last+1)*block, len(x))
}
