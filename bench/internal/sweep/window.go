package sweep

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/eval"
	"github.com/wakewordd/wakewordd/frontend"
	"github.com/wakewordd/wakewordd/infer"
)

// loadSet reads every clip, cuts its window and projects its frames.
func loadSet(ctx context.Context, m *infer.Model, dir string, perClass, workers int, alignEnd bool) (*set, error) {
	clips, err := eval.ListClips(dir)
	if err != nil {
		return nil, err
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	a := m.Arch
	s := &set{m: m}
	count := map[string]int{}
	emb := m.NewDense()
	for _, c := range clips {
		label := slices.Index(m.Classes, c.Class)
		if label < 0 {
			return nil, fmt.Errorf("%s: folder %q is not a class of model %s (it has %v)", c.Path, c.Class, m.Path, m.Classes)
		}
		if perClass > 0 && count[c.Class] >= perClass {
			continue
		}
		count[c.Class]++
		samples, err := audio.DecodeFile(c.Path)
		if err != nil {
			return nil, err
		}
		frames := clipWindow(samples, m.Frontend, a.Frames, c.Class == "silence", alignEnd)
		tokens := make([]float32, a.Frames*a.Dim)
		for t, fr := range frames {
			emb.EmbedFrame(fr, tokens[t*a.Dim:(t+1)*a.Dim])
		}
		s.tokens = append(s.tokens, tokens)
		s.labels = append(s.labels, label)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	for range workers {
		s.denses = append(s.denses, m.NewDense())
		s.deltas = append(s.deltas, m.NewDelta(infer.Thresholds{}))
	}
	return s, nil
}

// clipWindow returns the n frames of a clip's window: centred on the utterance (or, with
// alignEnd, ending endMargin frames after it), or from the start for a background
// (silence) clip; frames beyond the clip repeat its first or last frame. A clip shorter
// than one frame is padded with zeros.
func clipWindow(samples []float32, p frontend.Params, n int, background, alignEnd bool) [][]float32 {
	if len(samples) < p.WindowLen {
		samples = append(slices.Clone(samples), make([]float32, p.WindowLen-len(samples))...)
	}
	frames, err := frontend.Compute(samples, p)
	if err != nil {
		panic(err) // the model's frontend parameters are validated
	}
	L := len(frames)
	start := 0
	if !background {
		s, e := speechRegion(samples, p)
		start = centredStart(s, e, L, n)
		if alignEnd {
			start = e + endMargin - n
		}
	}
	out := make([][]float32, n)
	for i := range out {
		out[i] = frames[min(max(start+i, 0), L-1)]
	}
	return out
}

// endMargin is how many frames follow the utterance in an end-aligned window: about when a
// streaming detector, running every 100 ms, first scores the whole word.
const endMargin = 30

// frameEnergyDB is train/common.py's frame_energy_db: the energy in dB of each frontend
// frame.
func frameEnergyDB(x []float32, p frontend.Params) []float64 {
	n := p.FrameCount(len(x))
	db := make([]float64, n)
	for i := range db {
		var e float64
		for _, v := range x[i*p.Hop : i*p.Hop+p.WindowLen] {
			e += float64(v) * float64(v)
		}
		db[i] = 10 * math.Log10(e/float64(p.WindowLen)+1e-10)
	}
	return db
}

// percentile is numpy.percentile with linear interpolation.
func percentile(x []float64, q float64) float64 {
	s := slices.Clone(x)
	sort.Float64s(s)
	pos := q / 100 * float64(len(s)-1)
	lo := int(math.Floor(pos))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (pos-float64(lo))*(s[lo+1]-s[lo])
}

// speechRegion is train/common.py's speech_region (clean=False, max_gap 30 frames,
// min_run 3): the frames [start, end) of the utterance.
func speechRegion(x []float32, p frontend.Params) (int, int) {
	const maxGap, minRun = 30, 3
	db := frameEnergyDB(x, p)
	if len(db) == 0 {
		return 0, 0
	}
	var live []float64
	for _, v := range db {
		if v > -95 {
			live = append(live, v)
		}
	}
	if len(live) == 0 {
		return 0, len(db)
	}
	floor, peak := percentile(live, 10), percentile(live, 99.5)
	thr := max(floor+0.3*(peak-floor), peak-40)
	type seg struct{ s, e int }
	var segs []seg
	for i := 0; i < len(db); {
		if db[i] <= thr {
			i++
			continue
		}
		j := i
		for j < len(db) && db[j] > thr {
			j++
		}
		segs = append(segs, seg{i, j})
		i = j
	}
	var long []seg
	for _, s := range segs {
		if s.e-s.s >= minRun {
			long = append(long, s)
		}
	}
	if len(long) > 0 {
		segs = long
	}
	if len(segs) == 0 {
		return 0, len(db)
	}
	merged := []seg{segs[0]}
	for _, s := range segs[1:] {
		if last := &merged[len(merged)-1]; s.s-last.e < maxGap {
			last.e = s.e
		} else {
			merged = append(merged, s)
		}
	}
	best, bestE := merged[0], -1.0
	for _, s := range merged {
		var e float64
		for _, v := range db[s.s:s.e] {
			e += math.Pow(10, v/10)
		}
		if e > bestE {
			best, bestE = s, e
		}
	}
	return best.s, best.e
}

// centredStart is train/dataset.py's centred_start: the first frame of the n-frame window
// centred on [s, e), kept inside a clip of L frames when it fits.
func centredStart(s, e, L, n int) int {
	if L >= n {
		return max(min(floorDiv(s+e, 2)-floorDiv(n, 2), L-n), 0)
	}
	return floorDiv(L-n, 2)
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
