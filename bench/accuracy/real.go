package main

// The real background (-background real): real human speech and real noise from one share
// of the cache train/realdata.py writes (split by speaker, decoded to 16 kHz mono WAV),
// laid out as one continuous conversation, as the Picovoice benchmark lays out LibriSpeech.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/bench/internal/tts"
)

// Pauses between the utterances of the real background, and before and after a keyword.
const (
	pauseMin = rate / 5     // 0.2 s
	pauseMax = 3 * rate / 2 // 1.5 s
)

// realHint is what to do when the real data is missing.
const realHint = "decode the real data first: /usr/bin/python3 train/realdata.py"

// utterance is one real recording of speech.
type utterance struct {
	Path    string
	Samples int
	Level   float64 // activeRMS of the recording
}

// realMaterial is the real background's material: the utterances and noise recordings of
// DIR/speech and DIR/noise. Read-only once loaded, so workers share it.
type realMaterial struct {
	Dir     string
	Utts    []utterance // in path order
	Listed  int         // .wav files under DIR/speech
	Silent  int         // utterances left out: nothing in them
	TooLong int         // utterances left out: longer than MaxUtt
	MaxUtt  int         // samples: the longest utterance a keyword slot always has room for

	Noise      [][]float32 // unit RMS, one per noise recording
	NoisePaths []string

	// SHA-256 of each file list: every file's path below DIR and the SHA-256 of its bytes.
	SpeechSum, NoiseSum string
}

// uttPlacement is one utterance put into a segment.
type uttPlacement struct {
	Utt    int     // index into realMaterial.Utts
	Seq    int     // position in the stream's sequence of utterances; pass = Seq / len(Utts)
	At     int     // first sample, from the segment's start
	GainDB float64 // relative to -level: 0 on the first pass, another gain on each reuse
}

// listWAVs returns the .wav files below dir, sorted, or a clear error when dir is missing
// or holds none. Files train/realdata.py is still writing (*.part.wav) are left out.
func listWAVs(dir string) ([]string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("real background: %w (%s)", err, realHint)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("real background: %s is not a folder", dir)
	}
	var paths []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if !d.IsDir() && strings.EqualFold(filepath.Ext(name), ".wav") && !strings.HasSuffix(name, ".part.wav") {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("real background: %w", err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("real background: no .wav files under %s (%s)", dir, realHint)
	}
	slices.Sort(paths)
	return paths, nil
}

// listSum hashes a file list: each file's path below dir and the SHA-256 of its bytes.
func listSum(dir string, paths []string) (string, error) {
	h := sha256.New()
	for _, p := range paths {
		sum, err := fileHash(p)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s\t%s\n", filepath.ToSlash(rel), sum)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// activeRMS is the RMS of the 10 ms blocks of x within 30 dB of its loudest block (the
// blocks tts.Voiced finds the span of): the level of the speech itself, not lowered by the
// pauses inside and around a long sentence. 0 for silence.
func activeRMS(x []float32) float64 {
	const block = rate / 100
	var e []float64
	for i := 0; i+block <= len(x); i += block {
		e = append(e, tts.RMS(x[i:i+block]))
	}
	if len(e) == 0 {
		return tts.RMS(x)
	}
	top := slices.Max(e)
	if top == 0 {
		return 0
	}
	var sum float64
	var n int
	for _, v := range e {
		if v >= top*math.Pow(10, -30.0/20) {
			sum += v * v
			n++
		}
	}
	return math.Sqrt(sum / float64(n))
}

// maxUtterance is the longest utterance that always fits into a keyword slot (with the
// longest keyword chunk and the longest pause on either side), so that no utterance can
// hold up the ones behind it; longer ones are left out. It depends on the segment
// layout and the clips only, not on the stream's length.
func maxUtterance(p genParams, longestChunk int) int {
	if p.PerSeg == 0 {
		return p.Segment - 2*pauseMax
	}
	slot := (p.Segment - leadSamples - tailSamples) / p.PerSeg
	return slot - longestChunk - 2*pauseMax
}

// loadReal reads DIR/speech and DIR/noise (searched recursively for .wav): every
// utterance's length and level, every noise recording scaled to unit RMS, and the hash of
// each file list. Utterances longer than maxUtt samples, and silent ones, are left out.
func loadReal(dir string, maxUtt int) (*realMaterial, error) {
	r := &realMaterial{Dir: dir, MaxUtt: maxUtt}
	speech, err := listWAVs(filepath.Join(dir, "speech"))
	if err != nil {
		return nil, err
	}
	noise, err := listWAVs(filepath.Join(dir, "noise"))
	if err != nil {
		return nil, err
	}
	r.Listed = len(speech)
	if r.SpeechSum, err = listSum(dir, speech); err != nil {
		return nil, err
	}
	if r.NoiseSum, err = listSum(dir, noise); err != nil {
		return nil, err
	}
	for _, p := range speech {
		x, err := audio.DecodeFile(p)
		if err != nil {
			return nil, err
		}
		u := utterance{Path: p, Samples: len(x), Level: activeRMS(x)}
		switch {
		case u.Level == 0:
			r.Silent++
		case u.Samples > maxUtt:
			r.TooLong++
		default:
			r.Utts = append(r.Utts, u)
		}
	}
	if len(r.Utts) == 0 {
		return nil, fmt.Errorf("real background: none of the %d utterances under %s is usable (%d silent, %d longer than %.1f s, the most a keyword slot leaves room for)",
			r.Listed, filepath.Join(dir, "speech"), r.Silent, r.TooLong, float64(maxUtt)/rate)
	}
	for _, p := range noise {
		x, err := audio.DecodeFile(p)
		if err != nil {
			return nil, err
		}
		if v := tts.RMS(x); v > 0 {
			for i := range x {
				x[i] /= float32(v)
			}
			r.Noise = append(r.Noise, x)
			r.NoisePaths = append(r.NoisePaths, p)
		}
	}
	if len(r.Noise) == 0 {
		return nil, fmt.Errorf("real background: every noise recording under %s is silent", filepath.Join(dir, "noise"))
	}
	return r, nil
}

// planReal lays out every segment's utterances and keyword chunks, in stream order.
//
// The stream's utterances are the passes perm_0, perm_1, ... of the N utterances (seeded
// permutations), one after another across the segments: every utterance is used once
// before any is used twice, and a reuse (pass 1 on) plays at another gain, 1 to
// max(1, GainDB) dB above or below the level. Within a segment the utterances follow one
// another with a pause of 0.2 to 1.5 s. Keyword j goes into its slot (the slots of the
// espeak-ng background): at the first pause after a seeded target in the slot, or at an
// earlier one when the next utterance would leave the keyword no room in its slot, with a
// pause of 0.2 to 1.5 s after the utterance before it; an utterance never overlaps a keyword
// chunk. After the last keyword, utterances follow until the next would pass the end of
// the segment. chunkLen is the length of each clip's chunk (keywordChunk).
//
// Only lengths are needed, so the whole stream is planned before any audio is made, and a
// segment's plan depends only on the segments before it: a short stream is a prefix of a
// long one, and each segment is then made on its own.
func (g *generator) planReal(segs []segment, chunkLen []int) error {
	r := g.real
	n := len(r.Utts)
	perms := map[int][]int{}
	seq := 0
	for si := range segs {
		s := &segs[si]
		s.Utts, s.KwAt = nil, nil
		pr := rngFor(g.p.Seed, streamPause, s.Index)
		pause := func() int { return pauseMin + pr.IntN(pauseMax-pauseMin+1) }
		t := 0 // end of what was placed last
		// fill places the next utterances while each starts before `before` and ends by `end`.
		fill := func(before, end int) {
			for {
				pass := seq / n
				if perms[pass] == nil {
					perms[pass] = rngFor(g.p.Seed, streamUttPass, pass).Perm(n)
				}
				u := uttPlacement{Utt: perms[pass][seq%n], Seq: seq, At: t + pause()}
				if u.At >= before || u.At+r.Utts[u.Utt].Samples > end {
					return
				}
				if pass > 0 {
					gr := rngFor(g.p.Seed, streamUttGain, seq)
					u.GainDB = 1 + (max(g.p.GainDB, 1)-1)*gr.Float64()
					if gr.IntN(2) == 0 {
						u.GainDB = -u.GainDB
					}
				}
				s.Utts = append(s.Utts, u)
				t = u.At + r.Utts[u.Utt].Samples
				seq++
			}
		}
		if k := len(s.Placements); k > 0 {
			slot := (s.Samples - leadSamples - tailSamples) / k
			tr := rngFor(g.p.Seed, streamKeywordTimes, s.Index)
			for j, pl := range s.Placements {
				room := slot - chunkLen[pl.Clip]
				if room < 0 {
					return fmt.Errorf("segment %d: %d keywords in %.1f s leave %.1f s per keyword, and %s needs %.1f s: place fewer keywords per segment (-every)",
						s.Index, k, float64(s.Samples)/rate, float64(slot)/rate, g.clips[pl.Clip].Path, float64(chunkLen[pl.Clip])/rate)
				}
				first := leadSamples + j*slot
				latest := first + room
				target := first + tr.IntN(room+1)
				fill(target, latest-pauseMin)
				at := min(latest, max(first, t+pause()))
				s.KwAt = append(s.KwAt, at)
				t = at + chunkLen[pl.Clip]
			}
		}
		fill(s.Samples, s.Samples)
	}
	return nil
}

// generateReal makes segment s of the real background as planReal laid it out: each
// utterance at its active level (-level plus its gain), each keyword chunk, and a bed of
// real noise under everything at SNR dB below the speech level; then 16-bit samples.
func (g *generator) generateReal(s segment) (segAudio, error) {
	n := s.Samples
	y := make([]float32, n)
	var out segAudio
	for _, u := range s.Utts {
		ut := g.real.Utts[u.Utt]
		x, err := audio.DecodeFile(ut.Path)
		if err != nil {
			return out, err
		}
		if len(x) != ut.Samples || u.At+len(x) > n {
			return out, fmt.Errorf("segment %d: %s changed since it was listed", s.Index, ut.Path)
		}
		gain := float32(dbToGain(g.p.LevelDB+u.GainDB) / ut.Level)
		for i, v := range x {
			y[u.At+i] += gain * v
		}
		vs, ve := tts.Voiced(x)
		out.SpeechSample += ve - vs
		out.Utterances++
	}
	if len(s.KwAt) != len(s.Placements) {
		return out, fmt.Errorf("segment %d: not planned", s.Index)
	}
	for j, pl := range s.Placements {
		x, vs, ve, err := g.keywordChunk(pl)
		if err != nil {
			return out, err
		}
		at := s.KwAt[j]
		if at+len(x) > n-tailSamples {
			return out, fmt.Errorf("segment %d: %s changed since it was planned", s.Index, g.clips[pl.Clip].Path)
		}
		for i, v := range x {
			y[at+i] += v
		}
		out.Events = append(out.Events, event{Keyword: g.clips[pl.Clip].Keyword, Clip: pl.Clip, Start: at + vs, End: at + ve})
	}
	out.NoiseFiles = addNoise(y, g.real.Noise, rngFor(g.p.Seed, streamNoise, s.Index), float32(dbToGain(g.p.LevelDB)/dbToGain(g.p.SNR)))
	out.PCM = make([]int16, n)
	for i, v := range y {
		out.PCM[i] = int16(quantize16(v))
	}
	return out, nil
}

// chunkLens is the length of every clip's chunk in the stream (keywordChunk), and the
// longest.
func chunkLens(clips []clip) ([]int, int, error) {
	out := make([]int, len(clips))
	longest := 0
	for i, c := range clips {
		raw, err := tts.Decode(c.Path, 0, 1)
		if err != nil {
			return nil, 0, err
		}
		cs, ce, _, _ := clipBounds(raw)
		out[i] = ce - cs
		longest = max(longest, out[i])
	}
	return out, longest, nil
}

// stats describes the background of a stream made of segs (planned) and results (made).
func (r *realMaterial) stats(segs []segment, results []segResult) *realStats {
	st := &realStats{Dir: r.Dir, Listed: r.Listed, Silent: r.Silent, TooLong: r.TooLong, LongestS: float64(r.MaxUtt) / rate,
		Available: len(r.Utts), NoiseFiles: len(r.Noise), SpeechListSum: r.SpeechSum, NoiseListSum: r.NoiseSum}
	for _, u := range r.Utts {
		st.AvailableH += float64(u.Samples) / rate / 3600
	}
	used := map[int]bool{}
	for _, s := range segs {
		for _, u := range s.Utts {
			used[u.Utt] = true
			st.Placed++
		}
	}
	st.Distinct = len(used)
	st.Reuses = st.Placed - st.Distinct
	noise := map[int]bool{}
	for _, s := range results {
		for _, k := range s.NoiseFiles {
			noise[k] = true
		}
	}
	st.NoiseUsed = len(noise)
	return st
}
