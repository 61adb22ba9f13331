package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/wakewordd/wakewordd/bench/internal/tts"
)

const rate = tts.Rate

// Margins of a segment that hold no keyword: the engine starts afresh in every segment
// (it needs a full window of frames before its first posterior), and a keyword's span plus
// the hit tolerance must end inside the segment that holds it.
const (
	leadSamples = 2 * rate
	tailSamples = 5 * rate / 2
	clipMargin  = 3 * rate / 10 // audio kept around a clip's voiced part
	fadeSamples = rate / 100    // fade at the edges of a placed clip
	noiseFade   = rate / 20     // cross-fade between noise excerpts
)

// genParams are what the audio depends on (besides the clips, words and noise).
type genParams struct {
	Seed      uint64  `json:"seed"`
	Segment   int     `json:"segment_samples"`
	PerSeg    int     `json:"keywords_per_segment"`
	Speech    float64 `json:"speech_probability"`
	SNR       float64 `json:"snr_db"`
	GainDB    float64 `json:"keyword_gain_spread_db"`
	LevelDB   float64 `json:"speech_level_dbfs"`
	NoiseFrom float64 `json:"noise_from"`
}

// clip is one keyword recording.
type clip struct {
	Keyword string `json:"keyword"`
	Path    string `json:"path"`
}

// placement is one keyword clip put into the stream.
type placement struct {
	Clip   int     `json:"clip"`    // index into the clip list
	GainDB float64 `json:"gain_db"` // level relative to the background speech
}

// segment is one independently generated and scored stretch of the stream.
type segment struct {
	Index      int
	Start      int // first sample, in the whole stream
	Samples    int
	Placements []placement

	// Real background only (planReal): the utterances, and where each keyword chunk starts.
	Utts []uttPlacement
	KwAt []int
}

// Derived random streams: every segment, pass and placement has its own, so a segment can
// be made without making the others, in any order, on any worker.
const (
	streamPass = iota + 1
	streamGain
	streamBackground
	streamNoise
	streamKeywordTimes
	streamPause   // real background: pauses between utterances, per segment
	streamUttPass // real background: the order of the utterances in each pass
	streamUttGain // real background: the gain of each reuse
)

func rngFor(seed uint64, stream int, index int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(stream)<<48|uint64(index)))
}

// schedule cuts total samples into segments and hands every segment its keyword clips.
// Placement q (counting over all segments, PerSeg per full segment) is clip
// perm_p[q mod N] of pass p = q div N, where perm_p is a seeded permutation of the N
// clips: every clip is used once before any is used twice, and a segment's clips do not
// depend on how long the whole stream is.
func schedule(p genParams, total, nClips int) []segment {
	var segs []segment
	perms := map[int][]int{}
	for start, i := 0, 0; start < total; start, i = start+p.Segment, i+1 {
		n := min(p.Segment, total-start)
		k := p.PerSeg
		if n < p.Segment {
			k = int(math.Round(float64(p.PerSeg) * float64(n) / float64(p.Segment)))
		}
		s := segment{Index: i, Start: start, Samples: n}
		for j := range k {
			if nClips == 0 {
				break
			}
			q := i*p.PerSeg + j
			pass := q / nClips
			if perms[pass] == nil {
				perms[pass] = rngFor(p.Seed, streamPass, pass).Perm(nClips)
			}
			g := rngFor(p.Seed, streamGain, q)
			s.Placements = append(s.Placements, placement{Clip: perms[pass][q%nClips], GainDB: p.GainDB * (2*g.Float64() - 1)})
		}
		segs = append(segs, s)
	}
	return segs
}

// event is one keyword in a segment, in samples from the segment's start.
type event struct {
	Keyword    string `json:"keyword"`
	Clip       int    `json:"clip"`
	Start, End int    // voiced part
}

// segAudio is one generated segment.
type segAudio struct {
	PCM          []int16
	Events       []event
	SpeechSample int   // samples of background speech
	Sentences    int   // espeak-ng background
	Utterances   int   // real background
	NoiseFiles   []int // real background: the noise recordings used, by index
}

// Hash is the SHA-256 of the 16-bit little-endian samples.
func (a segAudio) Hash() string {
	h := sha256.New()
	b := make([]byte, 0, 2*4096)
	for i, v := range a.PCM {
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
		if len(b) == cap(b) || i == len(a.PCM)-1 {
			h.Write(b)
			b = b[:0]
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// generator makes segments. Its fields are read-only once built, so workers share it.
type generator struct {
	p        genParams
	clips    []clip
	words    []string
	keywords []string    // what the background must never say
	noise    [][]float32 // unit-RMS excerpts; nil: no noise
	// say synthesises speech; tts.Say (espeak-ng) outside tests.
	say func(rng *rand.Rand, text string) ([]float32, error)
	// real, when set, is the background instead of espeak-ng sentences (generateReal).
	real *realMaterial
}

func dbToGain(db float64) float64 { return math.Pow(10, db/20) }

// sentence draws 3 to 11 words that, read together, do not say a keyword.
func sentence(rng *rand.Rand, words, keywords []string) string {
	for {
		s := make([]string, 3+rng.IntN(9))
		for i := range s {
			s[i] = words[rng.IntN(len(words))]
		}
		text := strings.Join(s, " ")
		if _, bad := tts.Says(text, keywords); !bad {
			return text
		}
	}
}

// keywordChunk is a placed clip: its voiced part with a margin, at the level asked for,
// faded in and out; start and end locate the voiced part in the chunk.
func (g *generator) keywordChunk(pl placement) (x []float32, start, end int, err error) {
	raw, err := tts.Decode(g.clips[pl.Clip].Path, 0, 1)
	if err != nil {
		return nil, 0, 0, err
	}
	cs, ce, vs, ve := clipBounds(raw)
	v := tts.RMS(raw[vs:ve])
	if v == 0 {
		return nil, 0, 0, fmt.Errorf("%s: silent clip", g.clips[pl.Clip].Path)
	}
	gain := dbToGain(g.p.LevelDB+pl.GainDB) / v
	x = make([]float32, ce-cs)
	for i := range x {
		x[i] = float32(gain) * raw[cs+i]
	}
	fade(x, fadeSamples)
	return x, vs - cs, ve - cs, nil
}

// clipBounds locates a clip's voiced part, [vs, ve), and the chunk placed in the stream,
// [cs, ce): the voiced part with clipMargin around it, within the recording.
func clipBounds(raw []float32) (cs, ce, vs, ve int) {
	vs, ve = tts.Voiced(raw)
	return max(0, vs-clipMargin), min(len(raw), ve+clipMargin), vs, ve
}

func fade(x []float32, n int) {
	n = min(n, len(x)/2)
	for i := range n {
		f := float32(i) / float32(n)
		x[i] *= f
		x[len(x)-1-i] *= f
	}
}

// generate makes segment s: keywords at seeded times in the segment's slots, background
// chunks in between (speech with probability Speech, else a pause), and a noise bed over
// everything at SNR dB below the speech level; then 16-bit samples.
func (g *generator) generate(s segment) (segAudio, error) {
	if g.real != nil {
		return g.generateReal(s)
	}
	n := s.Samples
	y := make([]float32, n)
	var out segAudio

	// Keywords first: each in its own slot of the usable part of the segment, at a
	// seeded offset.
	type chunk struct {
		x          []float32
		at         int
		start, end int
	}
	var kws []chunk
	if k := len(s.Placements); k > 0 {
		usable := n - leadSamples - tailSamples
		slot := usable / k
		tr := rngFor(g.p.Seed, streamKeywordTimes, s.Index)
		for j, pl := range s.Placements {
			x, vs, ve, err := g.keywordChunk(pl)
			if err != nil {
				return out, err
			}
			room := slot - len(x)
			if room < 0 {
				return out, fmt.Errorf("segment %d: %d keywords in %.1f s leave %.1f s per keyword, and %s needs %.1f s: place fewer keywords per segment (-every)",
					s.Index, k, float64(n)/rate, float64(slot)/rate, g.clips[pl.Clip].Path, float64(len(x))/rate)
			}
			at := leadSamples + j*slot + tr.IntN(room+1)
			kws = append(kws, chunk{x, at, vs, ve})
			out.Events = append(out.Events, event{Keyword: g.clips[pl.Clip].Keyword, Clip: pl.Clip, Start: at + vs, End: at + ve})
		}
	}

	// Background in the gaps: a chunk of speech that does not fit its gap is dropped and
	// the rest of the gap stays a pause.
	bg := rngFor(g.p.Seed, streamBackground, s.Index)
	level := dbToGain(g.p.LevelDB)
	fillGap := func(a, b int) error {
		for t := a; t < b; {
			if bg.Float64() >= g.p.Speech {
				t += int((1 + 7*bg.Float64()) * rate)
				continue
			}
			text := sentence(bg, g.words, g.keywords)
			x, err := g.say(bg, text)
			if err != nil {
				return err
			}
			if t+len(x) > b {
				return nil
			}
			vs, ve := tts.Voiced(x)
			if v := tts.RMS(x[vs:ve]); v > 0 {
				gain := float32(level / v)
				for i, s := range x {
					y[t+i] += gain * s
				}
				out.SpeechSample += len(x)
				out.Sentences++
			}
			t += len(x)
		}
		return nil
	}
	prev := 0
	for _, c := range kws {
		if err := fillGap(prev, c.at); err != nil {
			return out, err
		}
		copy(y[c.at:], c.x)
		prev = c.at + len(c.x)
	}
	if err := fillGap(prev, n); err != nil {
		return out, err
	}

	if len(g.noise) > 0 {
		addNoise(y, g.noise, rngFor(g.p.Seed, streamNoise, s.Index), float32(level/dbToGain(g.p.SNR)))
	}

	out.PCM = make([]int16, n)
	for i, v := range y {
		out.PCM[i] = int16(quantize16(v))
	}
	return out, nil
}

// addNoise lays a bed of noise under y, at gain times the unit-RMS recordings of pool:
// excerpts of 5 to 15 s (the whole recording when it is shorter) of recordings drawn at
// random, each overlapping the next by noiseFade samples with a linear cross-fade. It
// returns the indices of the recordings used, in increasing order.
func addNoise(y []float32, pool [][]float32, rng *rand.Rand, gain float32) []int {
	n := len(y)
	used := map[int]bool{}
	for pos := 0; pos < n; {
		k := rng.IntN(len(pool))
		used[k] = true
		x := pool[k]
		seg := min(len(x), 5*rate+rng.IntN(10*rate))
		from := rng.IntN(len(x) - seg + 1)
		ex := x[from : from+seg]
		for i := 0; i < len(ex) && pos+i < n; i++ {
			w := float32(1)
			if pos > 0 && i < noiseFade {
				w = float32(i) / noiseFade
			}
			if j := len(ex) - 1 - i; j < noiseFade {
				w *= float32(j) / noiseFade
			}
			y[pos+i] += gain * w * ex[i]
		}
		pos += max(len(ex)-noiseFade, 1)
	}
	return slices.Sorted(maps.Keys(used))
}

// quantize16 rounds to 16 bits, clipping at full scale.
func quantize16(v float32) int32 {
	q := math.Round(float64(v) * 32768)
	return int32(max(-32768, min(32767, q)))
}

// samplesToFloat is what a 16-bit recording decodes to.
func samplesToFloat(pcm []int16) []float32 {
	x := make([]float32, len(pcm))
	for i, v := range pcm {
		x[i] = float32(v) * (1.0 / 32768)
	}
	return x
}
