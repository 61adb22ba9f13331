package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
)

// detectLine is one detection in `detect --json` output.
type detectLine struct {
	File    string  `json:"file"`
	Keyword string  `json:"keyword"`
	TimeS   float64 `json:"time_s"`
	Score   float64 `json:"score"`
}

func cmdDetect(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("detect", "[flags] FILE...")
	cf := addConfigFlags(fs, "model.path", "model.hop", "model.dense", "model.mlp", "model.gate", "detect.threshold", "detect.sensitivity")
	asJSON := fs.Bool("json", false, "print JSON lines with file, keyword, time_s and score")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	spec, err := specFromFlags(fs, cf)
	if err != nil {
		return err
	}
	l, err := spec.New()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for _, path := range fs.Args() {
		// A file that breaks part-way still has the detections made before the break:
		// they are printed, then the error (which names the file) ends the command.
		dets, _, scanErr := l.ScanFile(ctx, path, 0)
		for _, d := range dets {
			if *asJSON {
				if err := enc.Encode(detectLine{path, d.Keyword, round(d.At.Seconds(), 3), round(d.Score, 4)}); err != nil {
					return err
				}
				continue
			}
			if _, err := fmt.Fprintf(stdout, "%s\t%.2f s\t%s\t%.3f\n", path, d.At.Seconds(), d.Keyword, d.Score); err != nil {
				return err
			}
		}
		if scanErr != nil {
			return scanErr
		}
	}
	return nil
}
