package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wakewordd/wakewordd/infer"
)

type modelInfo struct {
	Path    string `json:"path"`
	SHA256  string `json:"sha256"`
	Created string `json:"created"`
	Depth   int    `json:"layers"`
	Frames  int    `json:"window_frames"`
	Pass    string `json:"forward_pass"`
	Copy    string `json:"copy"` // the bytes measured, copied at the start
}

// gateInfo names the gate the model scored behind, or none, and how much the model scored.
type gateInfo struct {
	Path      string   `json:"path"` // "none" without a gate
	Why       string   `json:"why,omitempty"`
	SHA256    string   `json:"sha256,omitempty"`
	Threshold *float64 `json:"threshold,omitempty"`
	Hold      *int     `json:"hold_hops,omitempty"`
	Fuse      float64  `json:"fuse,omitempty"`
	Created   string   `json:"created,omitempty"`
	Layers    int      `json:"layers,omitempty"`
	Context   int      `json:"context_frames,omitempty"`
	Pass      string   `json:"forward_pass,omitempty"`
	Copy      string   `json:"copy,omitempty"` // the bytes measured, copied at the start
	// Hops is how many hops were scored, WindowHops how many of them the model scored
	// (all of them without a gate), WindowShare their share.
	Hops        int     `json:"hops"`
	WindowHops  int     `json:"window_model_hops"`
	WindowShare float64 `json:"window_model_share"`
}

// gateInfoOf describes gate g (nil: none) of model m, before scoring.
func gateInfoOf(g *gate, o options, m *infer.Model, dir string) gateInfo {
	if g == nil {
		why := "-gate none"
		switch {
		case m.Arch.Streaming() && o.gate != "none":
			why = "the model is a streaming model: `run` puts no gate in front of one"
		case o.gate == "":
			why = "not the default model, or no default gate file: `run --model FILE` has no gate either"
		}
		return gateInfo{Path: "none", Why: why}
	}
	gm := g.model
	pass := "dense"
	if gm.Delta != nil && gm.Delta.Any() {
		pass = "delta " + gm.Delta.String()
	}
	return gateInfo{
		Path: g.path, SHA256: g.sha256, Threshold: &g.threshold, Hold: &g.hold, Fuse: g.fuse,
		Created: gm.Created, Layers: gm.Arch.Depth, Context: gm.Arch.Context, Pass: pass,
		Copy: filepath.Join(dir, "gate.safetensors"),
	}
}

// counted adds the hops of the scored segments.
func (gi gateInfo) counted(g *gate, segs []segResult) *gateInfo {
	for _, r := range segs {
		gi.Hops += r.Hops
		if g == nil {
			gi.WindowHops += r.Hops // a cache made before the count was kept has none
		} else {
			gi.WindowHops += r.JudgedHops
		}
	}
	if gi.Hops > 0 {
		gi.WindowShare = float64(gi.WindowHops) / float64(gi.Hops)
	}
	return &gi
}

// text describes the gate in a sentence.
func (gi gateInfo) text() string {
	if gi.Path == "none" {
		return "no gate (" + gi.Why + "): the model scores every hop"
	}
	hops := "hops"
	if *gi.Hold == 1 {
		hops = "hop"
	}
	s := fmt.Sprintf("behind the gate %s (sha256 %.12s, threshold %g, hold %d %s", gi.Path, gi.SHA256, *gi.Threshold, *gi.Hold, hops)
	if gi.Fuse > 0 {
		s += fmt.Sprintf(", its logits blended into the model's at %g", gi.Fuse)
	}
	s += ")"
	if gi.Hops > 0 {
		s += fmt.Sprintf(", which woke the model for %d of %d hops (%.2f %%)", gi.WindowHops, gi.Hops, 100*gi.WindowShare)
	}
	return s
}

// budgetPoint is a keyword's operating point at one false-alarm budget.
type budgetPoint struct {
	PerHour float64 `json:"budget_per_hour"`
	Reached bool    `json:"reached"` // false: no swept threshold met the budget (miss rate 1)
	point
}

type keywordResult struct {
	Keyword string        `json:"keyword"`
	Clips   int           `json:"clips"`
	Events  int           `json:"placements"`
	Budgets []budgetPoint `json:"at_budgets"`
	Shipped point         `json:"at_model_settings"` // all keywords enabled, the model's thresholds
	// Late counts the false alarms at the model's settings that would be hits with 2 s more
	// tolerance: detections too slow to count.
	Late int `json:"late_at_model_settings"`
	// Latency of the first detection after the end of each clip's voiced part, at the
	// model's settings (within 3 s of the end): median and 90th percentile, seconds.
	LatencyP50 float64 `json:"latency_p50_s_at_model_settings"`
	LatencyP90 float64 `json:"latency_p90_s_at_model_settings"`
	Swept      int     `json:"thresholds_swept"`
	Frontier   []point `json:"det_curve"`

	points []point // every swept point, by threshold
}

// averageResult is the mean over the keywords that had clips placed.
type averageResult struct {
	PerHour   float64 `json:"budget_per_hour"`
	MissRate  float64 `json:"miss_rate"`
	FAPerHour float64 `json:"false_alarms_per_hour"`
}

// realStats describes the real background of a stream.
type realStats struct {
	Dir           string  `json:"dir"`
	Listed        int     `json:"utterances_listed"`
	Silent        int     `json:"utterances_silent"`   // left out
	TooLong       int     `json:"utterances_too_long"` // left out: longer than longest_utterance_s
	LongestS      float64 `json:"longest_utterance_s"`
	Available     int     `json:"utterances_available"`
	AvailableH    float64 `json:"utterances_available_hours"`
	Placed        int     `json:"utterances_placed"`
	Distinct      int     `json:"distinct_utterances_used"`
	Reuses        int     `json:"utterance_reuses"` // placed - distinct
	NoiseFiles    int     `json:"noise_files_available"`
	NoiseUsed     int     `json:"distinct_noise_files_used"`
	SpeechListSum string  `json:"speech_list_sha256"`
	NoiseListSum  string  `json:"noise_list_sha256"`
}

type results struct {
	Out   string    `json:"out"`
	Model modelInfo `json:"model"`
	// Gate is the streaming model in front of the model (engine.Cascade), or none.
	Gate  *gateInfo `json:"gate"`
	Cache string    `json:"cache"`
	Clips string    `json:"clips"`
	// Background is "real" (real speech and noise, Real) or "tts" (espeak-ng sentences over
	// Noise).
	Background  string          `json:"background"`
	Real        *realStats      `json:"real,omitempty"`
	Seed        uint64          `json:"seed"`
	Hours       float64         `json:"hours"`
	Segments    int             `json:"segments"`
	SegmentS    float64         `json:"segment_s"`
	SpeechShare float64         `json:"background_speech_share"` // of the stream's time; real: the voiced span of each utterance
	Sentences   int             `json:"sentences"`
	SNR         float64         `json:"snr_db"`
	GainDB      float64         `json:"keyword_gain_spread_db"`
	Noise       string          `json:"noise"`
	NoiseFrom   float64         `json:"noise_from"`
	ToleranceS  float64         `json:"hit_tolerance_s"`
	Detection   infer.Detection `json:"detection"`
	Keywords    []keywordResult `json:"keywords"`
	Average     []averageResult `json:"average"`
	ShippedFA   float64         `json:"false_alarms_per_hour_at_model_settings"` // all keywords together
	// Every keyword on at once: at the model's thresholds, and at each budget column's.
	AllOnShipped allOn         `json:"all_keywords_on_at_model_settings"`
	AllOnBudgets []budgetAllOn `json:"all_keywords_on_at_budget_thresholds"`
	// How long after a clip's end its keyword's posterior peaks (st.scorePeaks, within 2 s),
	// over every placement: median and 90th percentile.
	ScorePeakP50 float64 `json:"score_peak_p50_s"`
	ScorePeakP90 float64 `json:"score_peak_p90_s"`
	// FalseAlarmList is each false alarm of AllOnShipped (false-alarms.csv).
	FalseAlarmList []falseAlarm `json:"false_alarm_list_at_model_settings"`
	Pick           *pickResult  `json:"pick,omitempty"`
	SHA256         []string     `json:"segment_pcm_sha256"`
	WallSeconds    float64      `json:"wall_seconds"`
}

// evaluate sweeps every keyword and checks the replay against the detections made live.
// floor, when not nil, bounds the thresholds a choice (-pick, -pick-miss) may make
// (-clean-miss).
func evaluate(st *stream, m *infer.Model, keywords []string, clips []clip, floor *cleanFloor, o options) (*results, error) {
	def, rules, err := shippedRules(m)
	if err != nil {
		return nil, err
	}
	// At the model's settings, with every keyword on, the replay must give exactly what
	// the detector inside the engine gave while the audio was scored.
	shipped, err := st.detections(def, rules)
	if err != nil {
		return nil, err
	}
	var live []liveDet
	for _, s := range st.segs {
		for _, d := range s.Live {
			live = append(live, liveDet{d.Keyword, d.AtNS + int64(sampleTime(s.Start)), d.Score})
		}
	}
	if len(live) != len(shipped) {
		return nil, fmt.Errorf("replay made %d detections at the model's settings, the engine %d", len(shipped), len(live))
	}
	for i, d := range shipped {
		if l := live[i]; l.Keyword != d.Keyword || l.AtNS != int64(d.At) || l.Score != d.Score {
			return nil, fmt.Errorf("replay and engine disagree at detection %d: %v vs %+v", i, d, l)
		}
	}

	grid := sensitivityGrid()
	refine := o.budgets
	if o.pick > 0 {
		refine = append(slices.Clone(refine), refineBudgets(o.pick, st.hours())...)
	}
	curves, err := st.sweepAll(keywords, def, rules, grid, refine, o.tolerance, o.jobs)
	if err != nil {
		return nil, err
	}
	res := &results{
		Seed: o.seed, Hours: st.hours(), Segments: len(st.segs), SegmentS: o.segment.Seconds(),
		SNR: o.snr, GainDB: o.gainDB, Noise: o.noise, NoiseFrom: o.noiseFrom,
		ToleranceS: o.tolerance.Seconds(), Detection: m.Detection,
	}
	if o.split != "" {
		res.Clips = fmt.Sprintf("%s of %s (%s)", o.set, o.split, o.data)
	} else {
		res.Clips = o.clips
	}
	if o.noise == "" && o.background != "real" {
		res.SNR = 0
	}
	var speech int
	for _, s := range st.segs {
		speech += s.SpeechSamples
		res.Sentences += s.Sentences
		res.SHA256 = append(res.SHA256, s.SHA256)
	}
	res.SpeechShare = float64(speech) / (st.length.Seconds() * rate)
	var shippedFA int
	for _, kw := range keywords {
		kr := keywordResult{Keyword: kw, Swept: len(curves[kw]), Frontier: frontier(curves[kw]), points: curves[kw]}
		for _, c := range clips {
			if c.Keyword == kw {
				kr.Clips++
			}
		}
		for _, b := range o.budgets {
			p, ok := atBudget(curves[kw], st.hours(), b)
			kr.Budgets = append(kr.Budgets, budgetPoint{PerHour: b, Reached: ok, point: p})
		}
		kr.Shipped = st.score(kw, shipped, o.tolerance)
		kr.Shipped.Threshold = m.Detection.ThresholdFor(kw)
		kr.Events = kr.Shipped.Events
		kr.Late = st.late(kw, shipped, o.tolerance, 2*time.Second)
		if l := st.latency(kw, shipped, 3*time.Second); len(l) > 0 {
			kr.LatencyP50 = l[len(l)/2].Seconds()
			kr.LatencyP90 = l[min(len(l)-1, len(l)*9/10)].Seconds()
		}
		shippedFA += kr.Shipped.FalseAlarms
		res.Keywords = append(res.Keywords, kr)
	}
	res.ShippedFA = float64(shippedFA) / st.hours()
	if p := st.scorePeaks(2 * time.Second); len(p) > 0 {
		res.ScorePeakP50, res.ScorePeakP90 = p[len(p)/2].Seconds(), p[min(len(p)-1, len(p)*9/10)].Seconds()
	}
	for i, b := range o.budgets {
		a := averageResult{PerHour: b}
		n := 0
		for _, kr := range res.Keywords {
			if kr.Events > 0 {
				a.MissRate += kr.Budgets[i].MissRate
				a.FAPerHour += kr.Budgets[i].FAPerHour
				n++
			}
		}
		if n > 0 {
			a.MissRate /= float64(n)
			a.FAPerHour /= float64(n)
		}
		res.Average = append(res.Average, a)
	}

	// Every keyword on at once: at the model's settings, at each budget column's thresholds,
	// and at thresholds chosen for the whole device.
	if res.AllOnShipped, err = st.allOn(m, nil, o.tolerance); err != nil {
		return nil, err
	}
	if res.AllOnShipped.FalseAlarms != shippedFA+otherFA(res.AllOnShipped, keywords) {
		return nil, fmt.Errorf("all keywords on: %d false alarms, the keywords' columns %d", res.AllOnShipped.FalseAlarms, shippedFA)
	}
	res.FalseAlarmList = st.falseAlarms(shipped, o.tolerance, modelWindow(m))
	if len(res.FalseAlarmList) != res.AllOnShipped.FalseAlarms {
		return nil, fmt.Errorf("all keywords on: %d false alarms, listed %d", res.AllOnShipped.FalseAlarms, len(res.FalseAlarmList))
	}
	for i, b := range o.budgets {
		th := map[string]float64{}
		var off []string
		for _, kr := range res.Keywords {
			if bp := kr.Budgets[i]; bp.Reached {
				th[kr.Keyword] = bp.Threshold
			} else {
				off = append(off, kr.Keyword)
			}
		}
		a, err := st.allOn(withThresholds(m, th), off, o.tolerance)
		if err != nil {
			return nil, err
		}
		res.AllOnBudgets = append(res.AllOnBudgets, budgetAllOn{PerHour: b, allOn: a})
	}
	if o.pick > 0 || o.pickMiss > 0 {
		var p pickResult
		var err error
		choice := curves
		if floor != nil {
			choice = floor.capped(curves)
		}
		if o.pick > 0 {
			p, err = st.pick(m, keywords, choice, o.pick, o.tolerance)
		} else {
			p, err = st.pickByMiss(m, keywords, choice, o.pickMiss, o.tolerance)
		}
		if err != nil && !errors.Is(err, errUnreachable) {
			return nil, err
		}
		if floor != nil {
			if err := floor.check(&p, m); err != nil {
				return nil, err
			}
		}
		p.curves = curves
		res.Pick = &p
	}
	return res, nil
}

// otherFA counts the false alarms of the keywords in a that are not in keywords (those
// with no clip in the stream, which the table has no row for).
func otherFA(a allOn, keywords []string) int {
	n := 0
	for _, k := range a.Keywords {
		if !slices.Contains(keywords, k.Keyword) {
			n += k.FalseAlarms
		}
	}
	return n
}

// outDir is the folder for the results: -out, else
// WORK/results-BACKGROUND[-SET][-pickB][-nogate]-HOURSh-seedSEED, SET with -split, -nogate
// with -gate none.
func outDir(o options) string {
	if o.out != "" {
		return o.out
	}
	name := "results-" + o.background
	if o.split != "" {
		name += "-" + o.set
	}
	if o.pick > 0 {
		name += fmt.Sprintf("-pick%g", o.pick)
	}
	if o.gate == "none" {
		name += "-nogate"
	}
	return filepath.Join(o.work, fmt.Sprintf("%s-%gh-seed%d", name, o.hours, o.seed))
}

// writeResults writes results.json, results.md, curve.csv, truth.csv, false-alarms.csv and
// det.png.
func writeResults(res *results, st *stream, o options) error {
	out := res.Out
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "results.md"), []byte(markdown(res)), 0o644); err != nil {
		return err
	}
	var truth bytes.Buffer
	truth.WriteString("keyword,start_s,end_s\n")
	for _, e := range st.truth {
		fmt.Fprintf(&truth, "%s,%.4f,%.4f\n", e.Keyword, e.Start.Seconds(), e.End.Seconds())
	}
	if err := os.WriteFile(filepath.Join(out, "truth.csv"), truth.Bytes(), 0o644); err != nil {
		return err
	}
	var curve bytes.Buffer
	curve.WriteString("keyword,threshold,hits,placements,miss_rate,false_alarms,false_alarms_per_hour\n")
	for _, kr := range res.Keywords {
		for _, p := range kr.points {
			fmt.Fprintf(&curve, "%s,%.9g,%d,%d,%.6f,%d,%.6f\n", kr.Keyword, p.Threshold, p.Hits, p.Events, p.MissRate, p.FalseAlarms, p.FAPerHour)
		}
	}
	if err := os.WriteFile(filepath.Join(out, "curve.csv"), curve.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "false-alarms.csv"), falseAlarmsCSV(res.FalseAlarmList), 0o644); err != nil {
		return err
	}
	return writeDET(filepath.Join(out, "det.png"), res)
}

func pct(x float64) string { return fmt.Sprintf("%.2f %%", 100*x) }

// markdown is the results table.
func markdown(res *results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Wake-word accuracy of %s\n\n", res.Model.Path)
	fmt.Fprintf(&b, "Method of the Picovoice wake-word benchmark: %s placed into %.2f h of %s, seed %d; %d segments of %s scored through the same chain as `wakewordd run` (%s, %d layers, window %d frames, hop %d ms; smoothing %d, patience %d, refractory %g s), %s. Each keyword is swept alone over the whole stream; a hit is a detection between the start of a clip's voiced part and %g s after its end; every other detection of the keyword is a false alarm. Miss rate at a budget: the swept threshold with the lowest miss rate whose false alarms fit the budget (no interpolation).\n\n",
		res.Clips, res.Hours, backgroundText(res), res.Seed, res.Segments, time.Duration(res.SegmentS*float64(time.Second)),
		res.Model.Pass, res.Model.Depth, res.Model.Frames, res.Detection.HopMS, res.Detection.Smoothing, res.Detection.Patience, res.Detection.RefractoryS, res.Gate.text(), res.ToleranceS)
	b.WriteString("| keyword | clips | placed |")
	for _, a := range res.Average {
		fmt.Fprintf(&b, " miss @ %g FA/h | threshold | FA |", a.PerHour)
	}
	b.WriteString(" model threshold | miss | FA/h | late | latency p50/p90 |\n|---|--:|--:|")
	for range res.Average {
		b.WriteString("--:|--:|--:|")
	}
	b.WriteString("--:|--:|--:|--:|--:|\n")
	for _, kr := range res.Keywords {
		fmt.Fprintf(&b, "| %s | %d | %d |", kr.Keyword, kr.Clips, kr.Events)
		if kr.Events == 0 {
			b.WriteString(strings.Repeat(" - |", 3*len(kr.Budgets)+5) + "\n")
			continue
		}
		for _, bp := range kr.Budgets {
			if !bp.Reached {
				b.WriteString(" 100 % (not reached) | - | - |")
				continue
			}
			fmt.Fprintf(&b, " %s | %.6g | %d |", pct(bp.MissRate), bp.Threshold, bp.FalseAlarms)
		}
		fmt.Fprintf(&b, " %.4g | %s | %.2f | %d | %.2f/%.2f s |\n", kr.Shipped.Threshold, pct(kr.Shipped.MissRate), kr.Shipped.FAPerHour, kr.Late, kr.LatencyP50, kr.LatencyP90)
	}
	b.WriteString("| **average** | | |")
	for _, a := range res.Average {
		fmt.Fprintf(&b, " **%s** | | %.2f/h |", pct(a.MissRate), a.FAPerHour)
	}
	fmt.Fprintf(&b, " | | %.2f (all) | | |\n\n\"model threshold\": every keyword enabled at the model's own threshold, as `wakewordd run` ships; \"late\": false alarms there that came within 2 s after a clip's tolerance (too slow to count as hits); latency: of the first detection after the end of a clip's voiced part (within 3 s). Average: mean over the keywords that had clips placed (\"-\": none, the stream is too short). Model %s (sha256 %.12s, created %s). DET curve: det.png. Every swept point: curve.csv. Ground truth: truth.csv.\n",
		res.ShippedFA, res.Model.Path, res.Model.SHA256, res.Model.Created)

	fmt.Fprintf(&b, "\n**All keywords on at once**, one detector as `wakewordd run` listens (at most one wake word per hop, every keyword silent for the refractory period after any detection, so the figures are not the sums of the keywords alone):\n\n")
	b.WriteString("| thresholds | mean miss | false alarms | FA/h | false alarms by keyword |\n|---|--:|--:|--:|---|\n")
	row := func(what string, a allOn) {
		fmt.Fprintf(&b, "| %s | %s | %d | %.2f | %s |\n", what, pct(a.MissRate), a.FalseAlarms, a.FAPerHour, a.byKeyword())
	}
	row("**the model's (as shipped)**", res.AllOnShipped)
	for _, a := range res.AllOnBudgets {
		row(fmt.Sprintf("each keyword's at %g FA/h alone", a.PerHour), a.allOn)
	}
	if p := res.Pick; p != nil {
		row(fmt.Sprintf("picked for %g FA/h, all on (picked.json)", p.PerHour), p.AllOn)
		if u := p.Uniform; u != nil {
			row(fmt.Sprintf("one threshold for all, %.6g, best for %g FA/h", u.Threshold, p.PerHour), u.AllOn)
		}
		b.WriteString(pickText(p))
	}
	fmt.Fprintf(&b, "\nEach keyword's posterior peaks %.2f s after its clip's end (median over the placements; 90th percentile %.2f s): a peak later than the %g s tolerance leaves a clip to be detected late or not at all.\n",
		res.ScorePeakP50, res.ScorePeakP90, res.ToleranceS)
	if res.Real != nil && len(res.FalseAlarmList) > 0 {
		fmt.Fprintf(&b, "\nWhere the %d false alarms at the model's thresholds came: %s (each, with its recording and time, in false-alarms.csv).\n",
			len(res.FalseAlarmList), falseAlarmSources(res.FalseAlarmList))
	}
	return b.String()
}

// backgroundText describes the stream's background.
func backgroundText(res *results) string {
	if r := res.Real; r != nil {
		return fmt.Sprintf("real conversation: utterances of %s/speech one after another with pauses of 0.2 to 1.5 s (%.1f %% of the time voiced speech; %d utterances placed, %d distinct of the %d available (%.2f h), %d reuses), over a bed of real noise from %s/noise (%d distinct recordings of %d) %g dB below the speech",
			r.Dir, 100*res.SpeechShare, r.Placed, r.Distinct, r.Available, r.AvailableH, r.Reuses, r.Dir, r.NoiseUsed, r.NoiseFiles, res.SNR)
	}
	noise := fmt.Sprintf("real noise from %s %g dB below the speech", res.Noise, res.SNR)
	if res.Noise == "" {
		noise = "no noise"
	}
	return fmt.Sprintf("synthetic background (%.1f %% of it espeak-ng speech, the rest pauses) with %s", 100*res.SpeechShare, noise)
}

// pickText is the section on the thresholds -pick chose.
func pickText(p *pickResult) string {
	var b strings.Builder
	if !p.Reached {
		fmt.Fprintf(&b, "\n**No thresholds found keep all keywords together within %g false alarms per hour** (at most %d in %.2f h): the fewest found is %d (%s). Nothing was stored.\n",
			p.PerHour, p.MaxFalseAlarms, p.Hours, p.AllOn.FalseAlarms, p.AllOn.byKeyword())
		return b.String()
	}
	if p.MaxMiss > 0 {
		fmt.Fprintf(&b, "\n**Thresholds picked** (-pick-miss %g): each keyword's highest threshold at which, alone on this stream, it misses at most %s of its clips; with every keyword on, replayed with the model storing them:\n\n| keyword | threshold | miss | hits | false alarms |\n|---|--:|--:|--:|--:|\n",
			p.MaxMiss, pct(p.MaxMiss))
	} else {
		fmt.Fprintf(&b, "\n**Thresholds picked** for at most %g false alarms per hour with every keyword on (at most %d in %.2f h), at the lowest mean miss rate; verified by replaying the model with them stored (%d replays):\n\n| keyword | threshold | miss | hits | false alarms |\n|---|--:|--:|--:|--:|\n",
			p.PerHour, p.MaxFalseAlarms, p.Hours, p.Replays)
	}
	for _, k := range p.AllOn.Keywords {
		fmt.Fprintf(&b, "| %s | %.9g | %s | %d/%d | %d |\n", k.Keyword, k.Threshold, pct(k.MissRate), k.Hits, k.Placements, k.FalseAlarms)
	}
	fmt.Fprintf(&b, "| **all** | | **%s** | | %d (%.2f/h) |\n", pct(p.AllOn.MissRate), p.AllOn.FalseAlarms, p.AllOn.FAPerHour)
	if c := p.Clean; c != nil {
		fmt.Fprintf(&b, "\n**The same clips alone in silence** (-clean-miss %g: 1 s of silence around each, as `wakewordd eval` plays them): no threshold above the highest at which its keyword, alone, misses at most %s of them; every keyword on at the picked thresholds:\n\n| keyword | highest allowed | its miss | picked | miss | hits |\n|---|--:|--:|--:|--:|--:|\n",
			c.MaxMiss, pct(c.MaxMiss))
		for _, k := range c.Keywords {
			fmt.Fprintf(&b, "| %s | %.9g | %s | %.9g | %s | %d/%d |\n", k.Keyword, k.Cap, pct(k.CapMiss), k.Threshold, pct(k.MissRate), k.Hits, k.Clips)
		}
		fmt.Fprintf(&b, "| **all** | | | | **%s** | %d wrong keyword |\n", pct(c.MissRate), c.WrongFired)
	}
	if p.Wrote != "" {
		fmt.Fprintf(&b, "\nStored in a copy of the model: %s.\n", p.Wrote)
	}
	return b.String()
}
