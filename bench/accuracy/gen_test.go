package main

import (
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/wakewordd/wakewordd/bench/internal/tts"
)

func TestScheduleUsesEveryClipBeforeRepeating(t *testing.T) {
	p := genParams{Seed: 7, Segment: 600 * rate, PerSeg: 20, GainDB: 3}
	const clips = 45
	segs := schedule(p, 3*3600*rate+100*rate, clips)
	if len(segs) != 19 || segs[18].Samples != 100*rate || segs[18].Start != 18*600*rate {
		t.Fatalf("%d segments, last %+v; want 18 of 10 min and one of 100 s", len(segs), segs[len(segs)-1])
	}
	if n := len(segs[18].Placements); n != 3 {
		t.Errorf("100 s segment holds %d keywords, want 3 (20 per 600 s)", n)
	}
	var order []placement
	for _, s := range segs {
		order = append(order, s.Placements...)
	}
	for pass := 0; (pass+1)*clips <= len(order); pass++ {
		seen := map[int]bool{}
		for _, pl := range order[pass*clips : (pass+1)*clips] {
			seen[pl.Clip] = true
			if math.Abs(pl.GainDB) > 3 {
				t.Fatalf("gain %v dB outside ±3", pl.GainDB)
			}
		}
		if len(seen) != clips {
			t.Fatalf("pass %d uses %d distinct clips of %d", pass, len(seen), clips)
		}
	}
	// A shorter stream is a prefix: the cache of a short run serves a long one.
	short := schedule(p, 1800*rate, clips)
	for i, s := range short {
		if !slices.Equal(s.Placements, segs[i].Placements) || s.Samples != segs[i].Samples {
			t.Fatalf("segment %d differs between a 0.5 h and a 3 h stream", i)
		}
	}
	// Another seed, another order.
	p.Seed = 8
	if other := schedule(p, 1800*rate, clips); slices.Equal(other[0].Placements, segs[0].Placements) {
		t.Error("seed does not change the schedule")
	}
}

func TestSays(t *testing.T) {
	kws := []string{"alexa", "smart_mirror", "snowboy", "view glass"}
	for text, want := range map[string]string{
		"the snow boy left":       "snowboy",
		"a smart mirror":          "smart_mirror",
		"smartmirrors are":        "smart_mirror",
		"you view glasses":        "view glass",
		"ALEXANDER":               "alexa",
		"smart people mirror":     "",
		"view the glass":          "",
		"snowy boys and computer": "",
	} {
		got, _ := tts.Says(text, kws)
		if got != want {
			t.Errorf("Says(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestSentenceNeverSaysKeyword(t *testing.T) {
	words := []string{"smart", "mirror", "snow", "boy", "view", "glass", "jar", "vis", "the"}
	kws := []string{"smart_mirror", "snowboy", "view_glass", "jarvis", "smart mirror"}
	rng := rand.New(rand.NewPCG(1, 1))
	for range 2000 {
		s := sentence(rng, words, kws)
		if k, bad := tts.Says(s, kws); bad {
			t.Fatalf("sentence %q says %q", s, k)
		}
	}
}

// fakeSay stands in for espeak-ng: a 1 s tone.
func fakeSay(rng *rand.Rand, text string) ([]float32, error) {
	x := make([]float32, rate)
	f := 200 + 300*rng.Float64()
	for i := range x {
		x[i] = 0.3 * float32(math.Sin(2*math.Pi*f*float64(i)/rate))
	}
	return x, nil
}

// toneClip writes a clip: 0.5 s of silence, 0.6 s of tone, 0.5 s of silence.
func toneClip(t *testing.T, path string) {
	t.Helper()
	x := make([]float32, 16*rate/10)
	for i := rate / 2; i < rate/2+6*rate/10; i++ {
		x[i] = 0.2 * float32(math.Sin(2*math.Pi*700*float64(i)/rate))
	}
	writeWAV(t, path, x)
}

func TestGenerateTruthMatchesAudio(t *testing.T) {
	dir := t.TempDir()
	clips := []clip{{"a", filepath.Join(dir, "a/1.wav")}, {"b", filepath.Join(dir, "b/1.wav")}}
	for _, c := range clips {
		toneClip(t, c.Path)
	}
	p := genParams{Seed: 3, Segment: 30 * rate, PerSeg: 2, Speech: 0.5, GainDB: 3, LevelDB: -20}
	g := &generator{p: p, clips: clips, words: []string{"one", "two", "three"}, say: fakeSay}
	segs := schedule(p, 60*rate, len(clips))
	for _, s := range segs {
		a, err := g.generate(s)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.PCM) != s.Samples || len(a.Events) != 2 || a.Sentences == 0 {
			t.Fatalf("segment %d: %d samples, %d events, %d sentences", s.Index, len(a.PCM), len(a.Events), a.Sentences)
		}
		for j, e := range a.Events {
			pl := s.Placements[j]
			if e.Keyword != clips[pl.Clip].Keyword {
				t.Errorf("event %d is %q, placement says clip %d", j, e.Keyword, pl.Clip)
			}
			if e.Start < leadSamples || e.End+rate/2 > s.Samples-2*rate {
				t.Errorf("event %+v within the first 2 s or within 2 s (after the tolerance) of the end", e)
			}
			// The truth is where the tone is in the audio, at the level asked for.
			if d := e.End - e.Start; d != 6*rate/10 {
				t.Errorf("event of %d samples, the tone lasts %d", d, 6*rate/10)
			}
			x := samplesToFloat(a.PCM[e.Start:e.End])
			want := math.Pow(10, (p.LevelDB+pl.GainDB)/20)
			if got := tts.RMS(x); math.Abs(20*math.Log10(got/want)) > 0.1 {
				t.Errorf("clip level %.4f, want %.4f", got, want)
			}
			// No background under the clip's margins (there is no noise here).
			for _, v := range a.PCM[e.Start-clipMargin : e.Start] {
				if v != 0 {
					t.Fatalf("background speech overlaps a keyword clip")
				}
			}
			if tts.RMS(samplesToFloat(a.PCM[e.Start:e.Start+rate/100])) < 0.5*want || tts.RMS(samplesToFloat(a.PCM[e.End:e.End+rate/100])) != 0 {
				t.Error("the event does not start and end where the tone does")
			}
		}
	}
}

func requireEspeak(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("espeak-ng is missing (scripts/setup.sh test installs it)")
		}
		t.Skip("espeak-ng is not installed")
	}
	if _, err := os.Stat("/usr/share/dict/words"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("/usr/share/dict/words is missing (package wamerican)")
		}
		t.Skip("no word list at /usr/share/dict/words")
	}
}

const sharedNoise = "../../../shared/data/noise"

// The same seed gives the same audio and truth; another seed or segment, other audio.
func TestGenerateDeterministic(t *testing.T) {
	requireEspeak(t)
	dir := t.TempDir()
	clips := []clip{{"a", filepath.Join(dir, "a/1.wav")}}
	toneClip(t, clips[0].Path)
	words, err := tts.LoadWords("/usr/share/dict/words")
	if err != nil {
		t.Fatal(err)
	}
	var noise [][]float32
	if _, err := os.Stat(sharedNoise); err == nil {
		if noise, err = tts.NoisePool(sharedNoise, 0.7); err != nil {
			t.Fatal(err)
		}
	}
	hash := func(seed uint64, index int) (string, []event) {
		p := genParams{Seed: seed, Segment: 12 * rate, PerSeg: 1, Speech: 0.6, SNR: 10, GainDB: 3, LevelDB: -26, NoiseFrom: 0.7}
		g := &generator{p: p, clips: clips, words: words, keywords: []string{"alexa"}, noise: noise, say: tts.Say}
		s := schedule(p, (index+1)*12*rate, 1)[index]
		a, err := g.generate(s)
		if err != nil {
			t.Fatal(err)
		}
		return a.Hash(), a.Events
	}
	h1, e1 := hash(1, 0)
	h2, e2 := hash(1, 0)
	if h1 != h2 || !slices.Equal(e1, e2) {
		t.Fatalf("same seed, different audio: %s %v vs %s %v", h1, e1, h2, e2)
	}
	if h3, _ := hash(2, 0); h3 == h1 {
		t.Error("another seed gives the same audio")
	}
	if h4, _ := hash(1, 1); h4 == h1 {
		t.Error("another segment gives the same audio")
	}
}
