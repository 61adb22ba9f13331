// Package tts is the synthetic-speech side of the benchmarks' test audio: espeak-ng
// utterances with a random voice, speed and pitch; a word list that never holds a wake
// word; excerpts of the real noise recordings; and an energy detector that finds where a
// word really starts and ends. bench/streamgen and bench/accuracy build their streams from
// it, so both draw the same voices and words.
package tts

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wakewordd/wakewordd/audio"
)

// Rate is the sample rate of everything here.
const Rate = audio.TargetRate

// Spoken is how each keyword is said to the synthesiser.
var Spoken = map[string]string{
	"alexa": "Alexa", "computer": "Computer", "jarvis": "Jarvis",
	"smart_mirror": "smart mirror", "snowboy": "snowboy", "view_glass": "view glass",
}

// Voices are espeak-ng voices and Variants their variants; Say picks among them per
// utterance.
var (
	Voices   = []string{"en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan"}
	Variants = []string{"", "+m1", "+m3", "+m5", "+f1", "+f2", "+f4", "+klatt2"}
)

// LoadWords reads a word list, keeping plain lower-case words and dropping every word
// that contains a single-word keyword, so that background speech never says one. (Two-word
// keywords such as "smart mirror" can still arise from two adjacent words: check whole
// sentences with Says.)
func LoadWords(path string) ([]string, error) {
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

// Says reports whether text contains one of the keywords once case, spaces and
// underscores are ignored: "snow boy" says snowboy, "smart mirrors" says smart_mirror.
// It returns the first keyword found.
func Says(text string, keywords []string) (string, bool) {
	squash := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == ' ' || r == '_' || r == '-' || r == '\t' {
				return -1
			}
			return r
		}, strings.ToLower(s))
	}
	t := squash(text)
	for _, k := range keywords {
		if kk := squash(k); kk != "" && strings.Contains(t, kk) {
			return k, true
		}
	}
	return "", false
}

// Say synthesises text with a random voice, speed and pitch, at 16 kHz.
func Say(rng *rand.Rand, text string) ([]float32, error) {
	voice := Voices[rng.IntN(len(Voices))] + Variants[rng.IntN(len(Variants))]
	// Written to a file rather than --stdout: a streamed WAV carries placeholder sizes.
	tmp, err := os.CreateTemp("", "tts-*.wav")
	if err != nil {
		return nil, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	args := []string{"-v", voice, "-s", fmt.Sprint(130 + rng.IntN(60)), "-p", fmt.Sprint(30 + rng.IntN(40)), "-w", tmp.Name(), text}
	if out, err := exec.Command("espeak-ng", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("espeak-ng %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return Decode(tmp.Name(), 0, 1)
}

// Decode reads the part [from, to) (fractions of the length) of an audio file at 16 kHz.
func Decode(path string, from, to float64) ([]float32, error) {
	x, err := audio.DecodeFile(path)
	if err != nil {
		return nil, err
	}
	return x[int(from*float64(len(x))):int(to*float64(len(x)))], nil
}

// NoisePool reads the part from the fraction from on of every FLAC and WAV recording in
// dir, in name order, each scaled to unit RMS so that a mix's SNR holds whichever
// recording plays. Silent recordings are left out.
func NoisePool(dir string, from float64) ([][]float32, error) {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.flac"))
	wavs, _ := filepath.Glob(filepath.Join(dir, "*.wav"))
	paths = append(paths, wavs...)
	slices.Sort(paths)
	if len(paths) == 0 {
		return nil, fmt.Errorf("no FLAC or WAV files in %s", dir)
	}
	var pool [][]float32
	for _, p := range paths {
		x, err := Decode(p, from, 1)
		if err != nil {
			return nil, err
		}
		if g := RMS(x); g > 0 {
			for i := range x {
				x[i] /= float32(g)
			}
			pool = append(pool, x)
		}
	}
	if len(pool) == 0 {
		return nil, fmt.Errorf("every recording in %s is silent", dir)
	}
	return pool, nil
}

// RMS is the root mean square of x (0 for no samples).
func RMS(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(max(len(x), 1)))
}

// Voiced finds the first and last sample of the 10 ms blocks louder than 30 dB below the
// loudest block: where the word really starts and ends inside its silence.
func Voiced(x []float32) (start, end int) {
	const block = Rate / 100
	var energies []float64
	for i := 0; i+block <= len(x); i += block {
		energies = append(energies, RMS(x[i:i+block]))
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
