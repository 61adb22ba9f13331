package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/wakewordd/wakewordd/eval"
	"github.com/wakewordd/wakewordd/listener"
)

func cmdEval(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("eval", "[flags] DIR  |  eval --stream FILE --truth FILE.csv")
	cf := addConfigFlags(fs, "model.path", "model.hop", "model.dense", "model.mlp", "model.gate", "detect.threshold", "detect.sensitivity")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	stream := fs.String("stream", "", "evaluate a long recording against --truth instead of a folder of clips")
	truth := fs.String("truth", "", "ground truth for --stream: CSV lines keyword,start_s,end_s (default: the recording's name with .csv)")
	tolerance := fs.Duration("tolerance", time.Second, "with --stream: how long after a keyword ends its detection still counts")
	pad := fs.Duration("pad", time.Second, "silence added before and after each clip")
	jobs := fs.Int("j", runtime.NumCPU(), "clips evaluated in parallel, each with its own detector")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*stream == "") == (fs.NArg() != 1) || (*stream != "" && fs.NArg() != 0) {
		fs.Usage()
		return errUsage
	}
	spec, err := specFromFlags(fs, cf)
	if err != nil {
		return err
	}
	if *stream != "" {
		l, err := spec.New()
		if err != nil {
			return err
		}
		return evalStream(ctx, l, *stream, *truth, *tolerance, *asJSON, stdout)
	}
	clips, err := eval.ListClips(fs.Arg(0))
	if err != nil {
		return err
	}
	if err := scanClips(ctx, clips, *pad, max(*jobs, 1), spec); err != nil {
		return err
	}
	rep := eval.Score(spec.Model.Classes, clips)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteText(stdout)
}

// scanClips fills in what fired on each clip, running jobs listeners side by side: each
// clip is an independent stream, so the result does not depend on jobs.
func scanClips(ctx context.Context, clips []eval.Clip, pad time.Duration, jobs int, spec *listener.Spec) error {
	var listeners []*listener.Listener
	for len(listeners) < jobs {
		l, err := spec.New()
		if err != nil {
			return err
		}
		listeners = append(listeners, l)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	errs := make(chan error, jobs)
	var wg sync.WaitGroup
	for _, l := range listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				dets, _, err := l.ScanFile(ctx, clips[i].Path, pad)
				if err != nil {
					errs <- err
					cancel()
					return
				}
				for _, d := range dets {
					clips[i].Fired = append(clips[i].Fired, d.Keyword)
				}
			}
		}()
	}
feed:
	for i := range clips {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}

func evalStream(ctx context.Context, l *listener.Listener, path, truthPath string, tol time.Duration, asJSON bool, stdout io.Writer) error {
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
	dets, length, err := l.ScanFile(ctx, path, 0)
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
