package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/opsreport"
)

// cmdBench reports the operations and the speed of the configured model's dense and delta
// passes on a file. Choosing the delta thresholds is bench/sweep's work.
func cmdBench(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("bench", "[flags]   (the delta-threshold sweep is bench/sweep: go run ./bench/sweep --help)")
	cf := addConfigFlags(fs, "model.path", "model.hop", "model.mlp")
	input := fs.String("input", "examples/kitchen.wav", "audio streamed through the frontend and the engine")
	windows := fs.Int("windows", 200, "score at least this many windows (the input is repeated as needed)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	writeModel := fs.String("write-model", "", "write the model with the delta thresholds and the MLP arithmetic used (model file and config, e.g. --mlp int8) to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	if *windows < 1 {
		return fmt.Errorf("bench: --windows %d: want at least 1", *windows)
	}
	spec, err := specFromFlags(fs, cf)
	if err != nil {
		return err
	}
	rep, err := opsreport.Measure(ctx, spec, *input, *windows)
	if err != nil {
		return err
	}
	if *writeModel != "" {
		// The thresholds and arithmetic the daemon would run, and no thresholds where it
		// would run dense for want of them.
		out := *spec.Model
		if out.Delta = nil; spec.Delta.Any() {
			th := spec.Delta.Clone()
			out.Delta = &th
		}
		var b bytes.Buffer
		if err := infer.Write(&b, &out); err != nil {
			return err
		}
		if err := os.WriteFile(*writeModel+".tmp", b.Bytes(), 0o644); err != nil {
			return err
		}
		if err := os.Rename(*writeModel+".tmp", *writeModel); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteText(stdout, *writeModel)
}
