package main

// The false alarms at the model's settings, one by one, with what was playing when each
// went off: to listen to them, and to see which recordings and speakers a model still
// fires on.

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wakewordd/wakewordd/detect"
	"github.com/wakewordd/wakewordd/infer"
)

// falseAlarm is one detection that no clip explains, at the model's settings with every
// keyword on: what a listener would hear go off.
type falseAlarm struct {
	Keyword string  `json:"keyword"`
	AtS     float64 `json:"at_s"` // stream time of the detection
	Score   float64 `json:"score"`
	// Clip is the keyword of a clip heard in the window before the detection, when there
	// is one: the model fired on the wrong keyword, or too late on the right one.
	Clip string `json:"clip,omitempty"`
	// Recording is the real background's utterance heard most in that window (its path
	// below the share's speech/ folder), and RecordingAtS how far into it the detection
	// came; empty when only noise or a pause was there, and with the espeak-ng background.
	Recording    string  `json:"recording,omitempty"`
	RecordingAtS float64 `json:"recording_at_s,omitempty"`
}

// falseAlarms returns the detections of dets that are no keyword's hit (matchKeyword's
// rule), in stream order, each with the clip heard in the window before it, if any.
func (st *stream) falseAlarms(dets []detect.Detection, tol, window time.Duration) []falseAlarm {
	byKeyword := map[string][]detect.Detection{}
	for _, d := range dets {
		byKeyword[d.Keyword] = append(byKeyword[d.Keyword], d)
	}
	var out []falseAlarm
	for kw, ds := range byKeyword {
		events, at := st.of(kw, ds)
		for i, hit := range matchHits(events, at, tol) {
			if hit {
				continue
			}
			fa := falseAlarm{Keyword: kw, AtS: ds[i].At.Seconds(), Score: ds[i].Score}
			best := time.Duration(0)
			for _, e := range st.truth {
				if o := overlap(e.Start, e.End, ds[i].At-window, ds[i].At); o > best {
					best, fa.Clip = o, e.Keyword
				}
			}
			out = append(out, fa)
		}
	}
	slices.SortFunc(out, func(a, b falseAlarm) int { return cmp.Compare(a.AtS, b.AtS) })
	return out
}

// overlap is the length of [a0, a1] ∩ [b0, b1].
func overlap(a0, a1, b0, b1 time.Duration) time.Duration {
	return max(0, min(a1, b1)-max(a0, b0))
}

// attribute names, for each false alarm, the utterance of the real background heard most
// in the window before it. segs is the stream's plan (planReal).
func (r *realMaterial) attribute(fas []falseAlarm, segs []segment, window time.Duration) {
	speech := filepath.Join(r.Dir, "speech")
	for i := range fas {
		fa := &fas[i]
		at := time.Duration(fa.AtS * float64(time.Second))
		best := time.Duration(0)
		for _, s := range segs {
			if end := sampleTime(s.Start + s.Samples); at-window >= end || at < sampleTime(s.Start) {
				continue
			}
			for _, u := range s.Utts {
				from := sampleTime(s.Start + u.At)
				to := from + sampleTime(r.Utts[u.Utt].Samples)
				if o := overlap(from, to, at-window, at); o > best {
					best = o
					fa.Recording = r.Utts[u.Utt].Path
					if rel, err := filepath.Rel(speech, fa.Recording); err == nil {
						fa.Recording = rel
					}
					fa.RecordingAtS = (at - from).Seconds()
				}
			}
		}
	}
}

// falseAlarmsCSV is false-alarms.csv: one line per false alarm.
func falseAlarmsCSV(fas []falseAlarm) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"keyword", "at_s", "score", "clip", "recording", "recording_at_s"})
	for _, fa := range fas {
		recAt := ""
		if fa.Recording != "" {
			recAt = fmt.Sprintf("%.2f", fa.RecordingAtS)
		}
		w.Write([]string{fa.Keyword, fmt.Sprintf("%.2f", fa.AtS), fmt.Sprintf("%.4f", fa.Score), fa.Clip, fa.Recording, recAt})
	}
	w.Flush() // writes to memory: no error to report
	return b.Bytes()
}

// falseAlarmSources counts the false alarms by the first folder of their recording (the
// corpus, for train/realdata.py's cache), most first: "librispeech 3, noise or pause 1".
func falseAlarmSources(fas []falseAlarm) string {
	counts := map[string]int{}
	for _, fa := range fas {
		src := "noise or pause"
		switch {
		case fa.Clip != "":
			src = "a keyword clip"
		case fa.Recording != "":
			src, _, _ = strings.Cut(filepath.ToSlash(fa.Recording), "/")
		}
		counts[src]++
	}
	keys := slices.Collect(maps.Keys(counts))
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(counts[b], counts[a]), cmp.Compare(a, b))
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}

// modelWindow is how much audio one of m's windows hears.
func modelWindow(m *infer.Model) time.Duration {
	return sampleTime(m.Arch.Frames * m.Frontend.Hop)
}
