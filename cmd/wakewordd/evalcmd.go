package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wakewordd/wakewordd/eval"
)

func cmdEval(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("eval", "[flags] DIR  |  eval --stream FILE --truth FILE.csv")
	cf := addConfigFlags(fs, "model.path", "model.hop", "model.dense", "detect.threshold")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	stream := fs.String("stream", "", "evaluate a long recording against --truth instead of a folder of clips")
	truth := fs.String("truth", "", "ground truth for --stream: CSV lines keyword,start_s,end_s (default: the recording's name with .csv)")
	tolerance := fs.Duration("tolerance", time.Second, "with --stream: how long after a keyword ends its detection still counts")
	pad := fs.Duration("pad", time.Second, "silence added before and after each clip")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*stream == "") == (fs.NArg() != 1) || (*stream != "" && fs.NArg() != 0) {
		fs.Usage()
		return errUsage
	}
	c, src, err := cf.load(fs)
	if err != nil {
		return err
	}
	m, err := loadModel(c)
	if err != nil {
		return err
	}
	l, err := newListener(c, src, m)
	if err != nil {
		return err
	}
	if *stream != "" {
		return evalStream(ctx, l, *stream, *truth, *tolerance, *asJSON, stdout)
	}
	clips, err := listClips(fs.Arg(0))
	if err != nil {
		return err
	}
	var results []eval.Clip
	for _, clip := range clips {
		dets, _, err := l.scanFile(ctx, clip.Path, *pad)
		if err != nil {
			return err
		}
		for _, d := range dets {
			clip.Fired = append(clip.Fired, d.Keyword)
		}
		results = append(results, clip)
	}
	rep := eval.Score(m.Classes, results)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteText(stdout)
}

// listClips finds DIR/<class>/<clip> audio files, sorted, skipping anything else.
func listClips(dir string) ([]eval.Clip, error) {
	classes, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	var out []eval.Clip
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
				out = append(out, eval.Clip{Path: filepath.Join(dir, cl.Name(), f.Name()), Class: cl.Name()})
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("eval: no .wav or .flac files in the class folders of %s", dir)
	}
	slices.SortFunc(out, func(a, b eval.Clip) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

func evalStream(ctx context.Context, l *listener, path, truthPath string, tol time.Duration, asJSON bool, stdout io.Writer) error {
	if truthPath == "" {
		truthPath = strings.TrimSuffix(path, filepath.Ext(path)) + ".csv"
	}
	f, err := os.Open(truthPath)
	if err != nil {
		return fmt.Errorf("eval: ground truth: %w", err)
	}
	events, err := eval.ReadTruth(f, truthPath)
	f.Close()
	if err != nil {
		return err
	}
	dets, length, err := l.scanFile(ctx, path, 0)
	if err != nil {
		return err
	}
	rep := eval.MatchStream(events, dets, length, tol)
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	_, err = fmt.Fprintf(stdout, "%s: %.2f h, %d keywords: %d detected, %d missed (miss rate %.2f%%), %d false alarms (%.2f per hour)\n",
		path, rep.Hours, rep.Events, rep.Hits, rep.Misses, 100*rep.MissRate, rep.FalseAlarms, rep.FAPerHour)
	return err
}
