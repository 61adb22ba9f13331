package eval

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/wakewordd/wakewordd/detect"
)

func TestClipCorrect(t *testing.T) {
	cases := []struct {
		c    Clip
		want bool
	}{
		{Clip{Class: "alexa", Fired: []string{"alexa"}}, true},
		{Clip{Class: "alexa", Fired: []string{"alexa", "alexa"}}, true},
		{Clip{Class: "alexa", Fired: []string{"alexa", "jarvis"}}, false},
		{Clip{Class: "alexa"}, false},
		{Clip{Class: "unknown"}, true},
		{Clip{Class: "silence", Fired: []string{"jarvis"}}, false},
	}
	for _, tc := range cases {
		if got := tc.c.Correct(); got != tc.want {
			t.Errorf("%+v: Correct = %v", tc.c, got)
		}
	}
}

func TestScore(t *testing.T) {
	clips := []Clip{
		{Class: "alexa", Fired: []string{"alexa"}},
		{Class: "alexa", Fired: []string{"jarvis"}},
		{Class: "alexa"},
		{Class: "jarvis", Fired: []string{"jarvis"}},
		{Class: "unknown"},
		{Class: "unknown", Fired: []string{"alexa"}},
	}
	r := Score([]string{"silence", "unknown", "alexa", "jarvis"}, clips)
	if r.Clips != 6 || r.Correct != 3 || r.Accuracy != 0.5 {
		t.Fatalf("totals %+v", r)
	}
	want := map[string]float64{"alexa": 1.0 / 3, "jarvis": 1, "unknown": 0.5}
	for _, c := range r.Classes {
		if c.Accuracy != want[c.Class] {
			t.Errorf("%s accuracy %v, want %v", c.Class, c.Accuracy, want[c.Class])
		}
	}
	// Columns: alexa, jarvis, (none). Row alexa: 1 alexa, 1 jarvis, 1 none.
	if got := r.Confusion[2]; got[0] != 1 || got[1] != 1 || got[2] != 1 || r.Columns[2] != None {
		t.Fatalf("alexa row %v, columns %v", got, r.Columns)
	}
	var b bytes.Buffer
	r.WriteText(&b)
	if !strings.Contains(b.String(), "alexa               3        1    33.33%") {
		t.Fatalf("text:\n%s", b.String())
	}
}

func TestReadTruth(t *testing.T) {
	ev, err := ReadTruth(strings.NewReader("keyword,start_s,end_s\n# comment\njarvis,12.5,13.25\nalexa, 3, 3.8\n\n"), "t.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 2 || ev[0].Keyword != "alexa" || ev[0].Start != 3*time.Second || ev[1].End != 13250*time.Millisecond {
		t.Fatalf("events %+v", ev)
	}
	for _, bad := range []string{"alexa,1\n", "alexa,x,2\n", ",1,2\n", "alexa,3,2\n", "alexa,-1,2\n", "alexa,NaN,2\n"} {
		if _, err := ReadTruth(strings.NewReader(bad), "t.csv"); err == nil || !strings.HasPrefix(err.Error(), "t.csv:1: ") {
			t.Errorf("%q: error %v", bad, err)
		}
	}
}

func TestMatchStream(t *testing.T) {
	s := func(x float64) time.Duration { return time.Duration(x * float64(time.Second)) }
	truth := []Event{{"alexa", s(10), s(11)}, {"jarvis", s(20), s(21)}, {"alexa", s(30), s(31)}}
	dets := []detect.Detection{
		{Keyword: "alexa", At: s(11.3)}, // hit, 0.3 s after the end
		{Keyword: "alexa", At: s(11.5)}, // second detection of the same event: false alarm
		{Keyword: "alexa", At: s(20.5)}, // wrong keyword during jarvis: false alarm; jarvis missed
		{Keyword: "alexa", At: s(33.0)}, // too late: false alarm; event missed
		{Keyword: "snowboy", At: s(50)}, // nothing spoken
	}
	r := MatchStream(truth, dets, time.Hour/2, time.Second)
	if r.Hits != 1 || r.Misses != 2 || r.FalseAlarms != 4 || r.FAPerHour != 8 {
		t.Fatalf("report %+v", r)
	}
	if r.PerKeyword["alexa"] != [2]int{1, 2} || r.Latency["alexa"] < 0.29 || r.Latency["alexa"] > 0.31 {
		t.Fatalf("per keyword %v latency %v", r.PerKeyword, r.Latency)
	}
}

func FuzzReadTruth(f *testing.F) {
	f.Add("alexa,1,2\n")
	f.Add("keyword,start_s,end_s\njarvis,0.5,1e3\n")
	f.Add("a,1e400,2\n")
	f.Fuzz(func(t *testing.T, s string) {
		ev, err := ReadTruth(strings.NewReader(s), "f.csv")
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		for _, e := range ev {
			if e.Start < 0 || e.End < e.Start || e.Keyword == "" {
				t.Fatalf("bad event %+v from %q", e, s)
			}
		}
	})
}
