package main

import (
	"strings"
	"testing"
	"time"

	"github.com/wakewordd/wakewordd/detect"
	"github.com/wakewordd/wakewordd/eval"
)

func TestFalseAlarmsNameWhatWasPlaying(t *testing.T) {
	r := &realMaterial{Dir: "/share", Utts: []utterance{
		{Path: "/share/speech/libri/1/a.wav", Samples: 3 * rate},
		{Path: "/share/speech/precise/x,y/b.wav", Samples: 2 * rate},
	}}
	segs := []segment{
		{Index: 0, Start: 0, Samples: 60 * rate, Utts: []uttPlacement{{Utt: 0, At: 1 * rate}, {Utt: 1, At: 10 * rate}}},
		{Index: 1, Start: 60 * rate, Samples: 60 * rate, Utts: []uttPlacement{{Utt: 1, At: 5 * rate}}},
	}
	st := &stream{length: 2 * time.Minute, truth: []eval.Event{{Keyword: "a", Start: sec(20), End: sec(21)}}}
	dets := []detect.Detection{
		{Keyword: "a", At: sec(3.5), Score: 0.91},  // in a.wav, 2.5 s into it
		{Keyword: "b", At: sec(11), Score: 0.92},   // in b.wav
		{Keyword: "a", At: sec(20.5), Score: 0.99}, // the clip's hit
		{Keyword: "a", At: sec(21.9), Score: 0.93}, // too late for the clip, which it still heard
		{Keyword: "a", At: sec(40), Score: 0.94},   // a pause
		{Keyword: "b", At: sec(66.5), Score: 0.95}, // b.wav again, in the second segment
	}
	fas := st.falseAlarms(dets, 500*time.Millisecond, time.Second)
	r.attribute(fas, segs, time.Second)
	want := []falseAlarm{
		{Keyword: "a", AtS: 3.5, Score: 0.91, Recording: "libri/1/a.wav", RecordingAtS: 2.5},
		{Keyword: "b", AtS: 11, Score: 0.92, Recording: "precise/x,y/b.wav", RecordingAtS: 1},
		{Keyword: "a", AtS: 21.9, Score: 0.93, Clip: "a"},
		{Keyword: "a", AtS: 40, Score: 0.94},
		{Keyword: "b", AtS: 66.5, Score: 0.95, Recording: "precise/x,y/b.wav", RecordingAtS: 1.5},
	}
	if len(fas) != len(want) {
		t.Fatalf("%d false alarms, want %d: %+v", len(fas), len(want), fas)
	}
	for i := range want {
		g, w := fas[i], want[i]
		if g.Keyword != w.Keyword || g.Clip != w.Clip || g.Recording != w.Recording ||
			abs(g.AtS-w.AtS) > 1e-9 || abs(g.Score-w.Score) > 1e-6 || abs(g.RecordingAtS-w.RecordingAtS) > 1e-9 {
			t.Errorf("false alarm %d: %+v, want %+v", i, g, w)
		}
	}
	if n := st.score("a", dets, 500*time.Millisecond).FalseAlarms + st.score("b", dets, 500*time.Millisecond).FalseAlarms; n != len(fas) {
		t.Errorf("the list holds %d, the keywords' counts %d", len(fas), n)
	}
	csv := string(falseAlarmsCSV(fas))
	if !strings.HasPrefix(csv, "keyword,at_s,score,clip,recording,recording_at_s\n") ||
		!strings.Contains(csv, "\na,3.50,0.9100,,libri/1/a.wav,2.50\n") ||
		!strings.Contains(csv, "\nb,11.00,0.9200,,\"precise/x,y/b.wav\",1.00\n") ||
		!strings.Contains(csv, "\na,21.90,0.9300,a,,\n") || strings.Count(csv, "\n") != 6 {
		t.Errorf("false-alarms.csv:\n%s", csv)
	}
	if got := falseAlarmSources(fas); got != "precise 2, a keyword clip 1, libri 1, noise or pause 1" {
		t.Errorf("sources %q", got)
	}
}
