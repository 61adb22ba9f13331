// Package eval scores detections against ground truth: clip classification (which
// keywords fired on a clip of known class) and long streams (misses and false alarms per
// hour against a list of when each keyword was spoken).
package eval

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wakewordd/wakewordd/detect"
)

// None is the column of the confusion matrix for clips on which nothing fired.
const None = "(none)"

// Clip is the outcome of one clip of a known class.
type Clip struct {
	Path  string
	Class string   // the folder it came from: a keyword, "silence" or "unknown"
	Fired []string // keywords detected, in order
}

// ListClips finds the clips of a folder DIR/<class>/<clip>.wav|flac, sorted by path,
// skipping anything else; the folder name is the clip's class.
func ListClips(dir string) ([]Clip, error) {
	classes, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	var out []Clip
	for _, cl := range classes {
		if !cl.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, cl.Name()))
		if err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
		for _, f := range files {
			ext := strings.ToLower(filepath.Ext(f.Name()))
			if !f.IsDir() && (ext == ".wav" || ext == ".flac") {
				out = append(out, Clip{Path: filepath.Join(dir, cl.Name(), f.Name()), Class: cl.Name()})
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("eval: no .wav or .flac files in the class folders of %s", dir)
	}
	slices.SortFunc(out, func(a, b Clip) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// Correct reports whether the clip was handled right: a keyword clip fires its keyword and
// no other; a silence or unknown clip fires nothing.
func (c Clip) Correct() bool {
	if slices.Contains(detect.NotKeywords, c.Class) {
		return len(c.Fired) == 0
	}
	if len(c.Fired) == 0 {
		return false
	}
	for _, f := range c.Fired {
		if f != c.Class {
			return false
		}
	}
	return true
}

// ClassScore is the accuracy on one class.
type ClassScore struct {
	Class    string  `json:"class"`
	Clips    int     `json:"clips"`
	Correct  int     `json:"correct"`
	Accuracy float64 `json:"accuracy"`
}

// Report sums up a clip evaluation. Confusion[i][j] counts clips of Rows[i] whose first
// detection was Columns[j] (None when nothing fired).
type Report struct {
	Classes   []ClassScore `json:"classes"`
	Clips     int          `json:"clips"`
	Correct   int          `json:"correct"`
	Accuracy  float64      `json:"accuracy"`
	Rows      []string     `json:"rows"`
	Columns   []string     `json:"columns"`
	Confusion [][]int      `json:"confusion"`
}

// Score builds the report; classes fixes the row order (clips of other classes are added
// after them).
func Score(classes []string, clips []Clip) Report {
	rows := slices.Clone(classes)
	for _, c := range clips {
		if !slices.Contains(rows, c.Class) {
			rows = append(rows, c.Class)
		}
	}
	var cols []string
	for _, r := range rows {
		if !slices.Contains(detect.NotKeywords, r) {
			cols = append(cols, r)
		}
	}
	for _, c := range clips {
		for _, f := range c.Fired {
			if !slices.Contains(cols, f) {
				cols = append(cols, f)
			}
		}
	}
	cols = append(cols, None)
	rep := Report{Rows: rows, Columns: cols, Confusion: make([][]int, len(rows))}
	for i := range rep.Confusion {
		rep.Confusion[i] = make([]int, len(cols))
	}
	per := make([]ClassScore, len(rows))
	for i, r := range rows {
		per[i].Class = r
	}
	for _, c := range clips {
		i := slices.Index(rows, c.Class)
		col := None
		if len(c.Fired) > 0 {
			col = c.Fired[0]
		}
		rep.Confusion[i][slices.Index(cols, col)]++
		per[i].Clips++
		rep.Clips++
		if c.Correct() {
			per[i].Correct++
			rep.Correct++
		}
	}
	for i := range per {
		if per[i].Clips > 0 {
			per[i].Accuracy = float64(per[i].Correct) / float64(per[i].Clips)
			rep.Classes = append(rep.Classes, per[i])
		}
	}
	if rep.Clips > 0 {
		rep.Accuracy = float64(rep.Correct) / float64(rep.Clips)
	}
	return rep
}

// WriteText prints per-class accuracy and the confusion matrix as aligned text.
func (r Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%-14s %6s %8s %9s\n", "class", "clips", "correct", "accuracy")
	for _, c := range r.Classes {
		fmt.Fprintf(bw, "%-14s %6d %8d %8.2f%%\n", c.Class, c.Clips, c.Correct, 100*c.Accuracy)
	}
	fmt.Fprintf(bw, "%-14s %6d %8d %8.2f%%\n\nconfusion (rows: true class, columns: first detection)\n%-14s", "all", r.Clips, r.Correct, 100*r.Accuracy, "")
	for _, c := range r.Columns {
		fmt.Fprintf(bw, " %12s", c)
	}
	fmt.Fprintln(bw)
	for i, row := range r.Rows {
		fmt.Fprintf(bw, "%-14s", row)
		for _, n := range r.Confusion[i] {
			fmt.Fprintf(bw, " %12d", n)
		}
		fmt.Fprintln(bw)
	}
	return bw.Flush()
}

// Event is one keyword spoken in a stream, from Start to End.
type Event struct {
	Keyword    string
	Start, End time.Duration
}

// ReadTruth parses a ground-truth list: one `keyword,start_s,end_s` per line; blank lines
// and lines starting with '#' are ignored, and so is a header line `keyword,start_s,end_s`.
func ReadTruth(r io.Reader, name string) ([]Event, error) {
	var out []Event
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") || (line == 1 && strings.HasPrefix(text, "keyword,")) {
			continue
		}
		f := strings.Split(text, ",")
		if len(f) != 3 {
			return nil, fmt.Errorf("%s:%d: want keyword,start_s,end_s, got %d fields", name, line, len(f))
		}
		kw := strings.TrimSpace(f[0])
		start, err1 := strconv.ParseFloat(strings.TrimSpace(f[1]), 64)
		end, err2 := strconv.ParseFloat(strings.TrimSpace(f[2]), 64)
		switch {
		case kw == "":
			return nil, fmt.Errorf("%s:%d: empty keyword", name, line)
		case err1 != nil || err2 != nil:
			return nil, fmt.Errorf("%s:%d: start and end must be numbers of seconds", name, line)
		case !(start >= 0 && end >= start && end < 1e7):
			return nil, fmt.Errorf("%s:%d: need 0 <= start <= end, got %v, %v", name, line, start, end)
		}
		out = append(out, Event{kw, seconds(start), seconds(end)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	slices.SortFunc(out, func(a, b Event) int { return int(a.Start - b.Start) })
	return out, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// StreamReport counts hits, misses and false alarms over a stream.
type StreamReport struct {
	Hours        float64            `json:"hours"`
	Events       int                `json:"events"`
	Hits         int                `json:"hits"`
	Misses       int                `json:"misses"`
	MissRate     float64            `json:"miss_rate"`
	FalseAlarms  int                `json:"false_alarms"`
	FAPerHour    float64            `json:"false_alarms_per_hour"`
	PerKeyword   map[string][2]int  `json:"per_keyword_hits_events"`
	FalseByWord  map[string]int     `json:"false_alarms_by_keyword"`
	Latency      map[string]float64 `json:"mean_latency_s_after_end"`
	FalseAlarmAt []float64          `json:"false_alarm_times_s"`
}

// MatchStream pairs detections with events: a detection of the right keyword between the
// event's start and tolerance after its end is a hit (one per event); every other detection
// is a false alarm.
func MatchStream(truth []Event, dets []detect.Detection, length, tolerance time.Duration) StreamReport {
	rep := StreamReport{Hours: length.Hours(), Events: len(truth), PerKeyword: map[string][2]int{},
		FalseByWord: map[string]int{}, Latency: map[string]float64{}}
	used := make([]bool, len(truth))
	lat := map[string][]float64{}
	for _, d := range dets {
		hit := false
		for i, e := range truth {
			if !used[i] && e.Keyword == d.Keyword && d.At >= e.Start && d.At <= e.End+tolerance {
				used[i], hit = true, true
				lat[e.Keyword] = append(lat[e.Keyword], (d.At - e.End).Seconds())
				break
			}
		}
		if !hit {
			rep.FalseAlarms++
			rep.FalseByWord[d.Keyword]++
			rep.FalseAlarmAt = append(rep.FalseAlarmAt, d.At.Seconds())
		}
	}
	for i, e := range truth {
		c := rep.PerKeyword[e.Keyword]
		c[1]++
		if used[i] {
			c[0]++
			rep.Hits++
		}
		rep.PerKeyword[e.Keyword] = c
	}
	rep.Misses = rep.Events - rep.Hits
	if rep.Events > 0 {
		rep.MissRate = float64(rep.Misses) / float64(rep.Events)
	}
	if rep.Hours > 0 {
		rep.FAPerHour = float64(rep.FalseAlarms) / rep.Hours
	}
	for k, v := range lat {
		var s float64
		for _, x := range v {
			s += x
		}
		rep.Latency[k] = s / float64(len(v))
	}
	return rep
}
