package main

// Clips alone in silence (-clean-miss): the floor under a threshold choice. A threshold
// chosen on a noisy stream alone can sit above what a clearly spoken keyword in a quiet
// room reaches; `wakewordd eval` plays each clip that way, and a keyword that misses those
// clips fails users first.

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/wakewordd/wakewordd/eval"
	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/listener"
	"golang.org/x/sync/errgroup"
)

// cleanPad is the silence before and after each clip: `wakewordd eval`'s default -pad.
const cleanPad = time.Second

// cleanFloor is -clean-miss: the clips alone in silence, and each keyword's highest
// threshold that keeps them heard.
type cleanFloor struct {
	stream *stream
	caps   map[string]point
	miss   float64
}

// newCleanFloor scores the clips alone in silence and sweeps each keyword over them.
func newCleanFloor(m *infer.Model, g *gate, clips []clip, keywords []string, miss float64, jobs int) (*cleanFloor, error) {
	st, err := cleanStream(m, g, clips, jobs)
	if err != nil {
		return nil, err
	}
	caps, err := st.cleanCaps(m, keywords, sensitivityGrid(), miss, jobs)
	if err != nil {
		return nil, err
	}
	return &cleanFloor{stream: st, caps: caps, miss: miss}, nil
}

// cleanStream scores every clip alone, with cleanPad of silence on either side and a
// fresh listener, as `wakewordd eval` plays it (the file as recorded, not levelled as in
// the stream): one segment per clip, the clip its one event.
func cleanStream(m *infer.Model, g *gate, clips []clip, jobs int) (*stream, error) {
	spec, err := shipped(m, g)
	if err != nil {
		return nil, err
	}
	segs := make([]segResult, len(clips))
	lengths := make([]time.Duration, len(clips))
	var eg errgroup.Group
	eg.SetLimit(max(jobs, 1))
	for i, c := range clips {
		eg.Go(func() (err error) {
			segs[i], lengths[i], err = scoreClip(spec, c.Path)
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	st := &stream{classes: m.Classes, segs: segs}
	start := 0
	for i := range segs {
		segs[i].Index, segs[i].Start = i, start
		st.truth = append(st.truth, eval.Event{Keyword: clips[i].Keyword,
			Start: sampleTime(start) + cleanPad, End: sampleTime(start) + cleanPad + lengths[i]})
		start += segs[i].Samples
	}
	st.length = sampleTime(start)
	return st, nil
}

// scoreClip keeps every hop's posteriors of one clip played as `wakewordd eval` plays it,
// and the clip's length without the padding.
func scoreClip(spec *listener.Spec, path string) (r segResult, length time.Duration, err error) {
	l, err := spec.New()
	if err != nil {
		return r, 0, err
	}
	r.HopNS = int64(spec.Hop)
	var bad error
	l.OnPosteriors = r.recorder(&bad)
	if _, length, err = l.ScanFile(context.Background(), path, cleanPad); err != nil {
		return r, 0, err
	}
	r.Samples = int((length + 2*cleanPad) / (time.Second / rate))
	return r, length, bad
}

// cleanCaps is, for each keyword, the highest threshold at which it misses at most miss of
// its clips alone in silence (swept over grid as on the stream, the model's smoothing,
// patience and refractory period; a detection up to cleanPad after the clip counts, as
// anywhere in the file counts for `wakewordd eval`), with the miss rate there.
func (st *stream) cleanCaps(m *infer.Model, keywords []string, grid []float64, miss float64, jobs int) (map[string]point, error) {
	def, rules, err := shippedRules(m)
	if err != nil {
		return nil, err
	}
	curves, err := st.sweepAll(keywords, def, rules, grid, nil, cleanPad, jobs)
	if err != nil {
		return nil, err
	}
	caps := map[string]point{}
	for _, kw := range keywords {
		p, ok := highestWithMiss(curves[kw], miss)
		if !ok {
			return nil, fmt.Errorf("-clean-miss %g: %s misses more of its clips alone in silence at every threshold", miss, kw)
		}
		caps[kw] = p
	}
	return caps, nil
}

// capped is curves without the points above each keyword's cap: what a choice may pick
// from when it must keep the clips in silence heard.
func (f *cleanFloor) capped(curves map[string][]point) map[string][]point {
	out := make(map[string][]point, len(curves))
	for kw, pts := range curves {
		c, ok := f.caps[kw]
		if !ok {
			out[kw] = pts
			continue
		}
		out[kw] = slices.DeleteFunc(slices.Clone(pts), func(p point) bool { return p.Threshold > c.Threshold })
	}
	return out
}

// cleanCheck is the clips alone in silence under a threshold choice: each keyword's
// highest allowed threshold (-clean-miss), and what every keyword on at the chosen
// thresholds makes of the clips.
type cleanCheck struct {
	MaxMiss  float64        `json:"max_miss"`
	Keywords []cleanKeyword `json:"keywords"`
	MissRate float64        `json:"mean_miss_rate"` // all keywords on, at the chosen thresholds
	// WrongFired counts detections outside their keyword's clips: another keyword fired.
	WrongFired int `json:"wrong_keyword_fired"`
}

type cleanKeyword struct {
	Keyword   string  `json:"keyword"`
	Cap       float64 `json:"highest_threshold"` // alone, missing at most MaxMiss
	CapMiss   float64 `json:"miss_rate_at_highest"`
	Threshold float64 `json:"threshold"` // chosen
	Hits      int     `json:"hits"`
	Clips     int     `json:"clips"`
	MissRate  float64 `json:"miss_rate"` // all keywords on, at the chosen thresholds
}

// check replays the clips alone in silence with every keyword on at p's thresholds and
// records it in p, next to each keyword's cap.
func (f *cleanFloor) check(p *pickResult, m *infer.Model) error {
	a, err := f.stream.allOn(withThresholds(m, p.Thresholds), nil, cleanPad)
	if err != nil {
		return err
	}
	c := &cleanCheck{MaxMiss: f.miss, MissRate: a.MissRate, WrongFired: a.FalseAlarms}
	for _, k := range a.Keywords {
		cp, ok := f.caps[k.Keyword]
		if !ok {
			continue
		}
		c.Keywords = append(c.Keywords, cleanKeyword{Keyword: k.Keyword, Cap: cp.Threshold, CapMiss: cp.MissRate,
			Threshold: k.Threshold, Hits: k.Hits, Clips: k.Placements, MissRate: k.MissRate})
	}
	p.Clean = c
	return nil
}
