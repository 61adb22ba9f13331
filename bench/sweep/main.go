// Command sweep chooses a model's delta thresholds: it measures window-level accuracy
// against the multiply-accumulates removed over a validation folder, for the MHSA sites
// and for all sites (a global theta, the model's own thresholds scaled, a greedy search
// per layer and site), writes OUT.csv and a plot OUT.png, picks the thresholds that remove
// the most within an accuracy budget and, with -write-model, stores them in a model file
// (package bench/internal/sweep describes the method). It also writes uniform or given
// thresholds into a model, and a random-weight KWT-1, for tests and benchmarks.
//
//	sweep -model models/kwt.safetensors [-out kwt.sweep] [-write-model FILE] [flags] DIR
//	sweep -model M -replot kwt.sweep.csv -out kwt.sweep.again     # the plot again, from the CSV
//	sweep -model M -theta 0.5 [-scope mhsa] -write-model FILE     # uniform thresholds
//	sweep -model M -thresholds '{"sites":{"qkv":[0.5,...]}}' -write-model FILE
//	sweep -random [-random-depth 12] -theta 0.5 -write-model FILE # random KWT-1, normalised to -input
//
// DIR holds DIR/<class>/<clip>.wav|flac (bench/model-eval.sh lays out the validation split
// so). The model comes from -model, -config and -mlp as `wakewordd run` resolves them
// (package listener), without the gate. `wakewordd bench` measures the operations and the
// speed of the thresholds a model ends up with, on a stream.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/wakewordd/wakewordd/bench/internal/sweep"
	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/listener"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "sweep:", err)
		os.Exit(1)
	}
}

type options struct {
	config, model, mlp string
	asJSON             bool
	writeModel         string
	replot, out        string
	theta              float64
	scope, thresholds  string
	random             bool
	randomDepth        int
	input              string
	grid, modelScales  string
	align              string
	sw                 sweep.Options
}

func parse(args []string, stderr io.Writer) (*options, []string, error) {
	o := &options{sw: sweep.Defaults()}
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sweep [flags] DIR  |  sweep -replot CSV [flags]  |  sweep (-theta T | -thresholds JSON) -write-model FILE [flags]")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.config, "config", "", "YAML config file of the daemon (default "+config.DefaultPath+" if it exists)")
	fs.StringVar(&o.model, "model", "", "model file (config model.path)")
	fs.StringVar(&o.mlp, "mlp", "", "arithmetic of the MLPs: float32 or int8; default the model's (config model.mlp)")
	fs.BoolVar(&o.asJSON, "json", false, "print the summary as JSON")
	fs.StringVar(&o.writeModel, "write-model", "", "write the model with the chosen (or given) delta thresholds in its metadata to this file")
	fs.StringVar(&o.replot, "replot", "", "redraw the plot of a sweep from its CSV (to OUT.png), without measuring")
	fs.StringVar(&o.out, "out", "sweep", "write OUT.csv and OUT.png")
	fs.Float64Var(&o.theta, "theta", -1, "without DIR: delta threshold for the sites of -scope in every layer (the values site gets theta x -value-ratio)")
	fs.Float64Var(&o.sw.ValueRatio, "value-ratio", o.sw.ValueRatio, "threshold of the values site (attention probabilities) relative to theta")
	fs.StringVar(&o.scope, "scope", "all", "sites that -theta switches on: mhsa (qkv, scores, values, out) or all (also fc1, fc2)")
	fs.StringVar(&o.thresholds, "thresholds", "", `without DIR: delta thresholds as the model metadata writes them, e.g. '{"sites":{"qkv":[0.5,...]}}'`)
	fs.BoolVar(&o.random, "random", false, "without DIR: a random-weight KWT-1 (d=64, 148 frames, 8 classes) with its input normalisation fitted to -input, instead of a model file")
	fs.IntVar(&o.randomDepth, "random-depth", 12, "layers of the -random model")
	fs.StringVar(&o.input, "input", "examples/kitchen.wav", "audio whose frames the -random model's input normalisation is fitted to")
	fs.StringVar(&o.grid, "grid", "0,0.05,0.1,0.2,0.3,0.4,0.5,0.6,0.8,1,1.25,1.5,2,3", "global thetas")
	fs.StringVar(&o.modelScales, "model-scales", "0.5,0.75,1,1.25,1.5,1.75,2", "also try the model's own delta thresholds (of the scope's sites) times each of these; empty = no")
	fs.Float64Var(&o.sw.Budget, "budget", o.sw.Budget, "accuracy loss allowed for the chosen thresholds (0.005 = 0.5 points)")
	fs.Float64Var(&o.sw.MaxLoss, "max-loss", o.sw.MaxLoss, "the greedy search stops once the accuracy loss passes this")
	fs.IntVar(&o.sw.Steps, "steps", o.sw.Steps, "greedy steps per scope at most")
	fs.IntVar(&o.sw.StepsAll, "steps-all", o.sw.StepsAll, "greedy steps of the all scope at most (-1 = -steps)")
	fs.StringVar(&o.sw.GreedyBy, "greedy-by", o.sw.GreedyBy, "a greedy step raises one site of one layer (site) or every site of one layer (layer)")
	fs.Float64Var(&o.sw.Factor, "factor", o.sw.Factor, "a greedy step multiplies one layer's thresholds by this")
	fs.StringVar(&o.sw.Pick, "pick", o.sw.Pick, "scope of the chosen thresholds, mhsa or all")
	fs.BoolVar(&o.sw.PickFewest, "pick-fewest", false, "of the points within the budget that keep -min-mhsa, choose the one that removes the fewest operations (streaming detection loses more than single windows as pruning grows)")
	fs.Float64Var(&o.sw.MinMHSA, "min-mhsa", o.sw.MinMHSA, "prefer chosen thresholds that remove at least this share of the MHSA operations")
	fs.IntVar(&o.sw.PerClass, "per-class", 0, "use at most this many clips per class (0 = all)")
	fs.StringVar(&o.align, "align", "centre", "where each clip's utterance sits in its window: centre (as training validates) or end (0.3 s before the window's end, as the streaming detector first sees it whole)")
	fs.IntVar(&o.sw.Workers, "workers", 0, "parallel forward passes (0 = one per CPU)")
	// Flags may follow DIR, as with the daemon's commands.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	switch {
	case len(pos) > 1:
		return nil, nil, fmt.Errorf("unexpected argument %q (one validation folder)", pos[1])
	case o.scope != "all" && o.scope != "mhsa":
		return nil, nil, fmt.Errorf("--scope %q: want mhsa or all", o.scope)
	case o.theta != -1 && !(o.theta >= 0 && o.theta <= infer.MaxTheta):
		return nil, nil, fmt.Errorf("--theta %v: want 0..%g", o.theta, float64(infer.MaxTheta))
	case o.align != "centre" && o.align != "end":
		return nil, nil, fmt.Errorf("--align %q: want centre or end", o.align)
	}
	o.sw.AlignEnd = o.align == "end"
	var err error
	if o.sw.Grid, err = sweep.ParseGrid(o.grid); err != nil {
		return nil, nil, fmt.Errorf("--grid: %w", err)
	}
	o.sw.ModelScales = nil
	if o.modelScales != "" {
		if o.sw.ModelScales, err = sweep.ParseGrid(o.modelScales); err != nil {
			return nil, nil, fmt.Errorf("--model-scales: %w", err)
		}
	}
	return o, pos, o.sw.Check()
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, pos, err := parse(args, stderr)
	if err != nil {
		return err
	}
	switch {
	case o.replot != "":
		m, err := o.loadModel()
		if err != nil {
			return err
		}
		return sweep.Replot(o.replot, o.out+".png", o.sw.Budget, m.Arch)
	case len(pos) == 1:
		if o.random || o.theta != -1 || o.thresholds != "" {
			return fmt.Errorf("a sweep takes a model file and chooses the thresholds itself (no --random, --theta or --thresholds)")
		}
		return runSweep(ctx, o, pos[0], stdout, stderr)
	case o.theta == -1 && o.thresholds == "":
		return fmt.Errorf("nothing to do: give a validation folder DIR, --replot CSV, or --theta or --thresholds (see --help)")
	}
	return writeThresholds(o, stdout)
}

// loadModel resolves the configured model as `wakewordd run` does, without its gate.
func (o *options) loadModel() (*infer.Model, error) {
	c, src, err := config.Load(o.config)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct{ key, flag, value string }{{"model.path", "model", o.model}, {"model.mlp", "mlp", o.mlp}} {
		if f.value != "" {
			src.Overridden(f.key, f.flag)
			if err := config.Set(&c, f.key, f.value); err != nil {
				return nil, src.Errorf(f.key, "%v", err)
			}
		}
	}
	c.Model.Gate = "none"
	if err := c.Validate(src); err != nil {
		return nil, err
	}
	spec, err := listener.Load(c, src)
	if err != nil {
		return nil, err
	}
	return spec.Model, nil
}

func runSweep(ctx context.Context, o *options, dir string, stdout, stderr io.Writer) error {
	m, err := o.loadModel()
	if err != nil {
		return err
	}
	o.sw.Log = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	res, err := sweep.Run(ctx, m, dir, o.sw)
	if err != nil {
		return err
	}
	csvPath, plotPath := o.out+".csv", o.out+".png"
	if err := sweep.WriteCSV(csvPath, res.Points); err != nil {
		return err
	}
	if err := sweep.WritePlot(plotPath, res.Points, res.DenseAccuracy, o.sw.Budget, m.Arch); err != nil {
		return err
	}
	summary := struct {
		Model         string        `json:"model"`
		Windows       int           `json:"windows"`
		DenseAccuracy float64       `json:"dense_accuracy"`
		Budget        float64       `json:"budget"`
		Chosen        *sweep.Point  `json:"chosen"`
		CSV           string        `json:"csv"`
		Plot          string        `json:"plot"`
		WroteModel    string        `json:"wrote_model,omitempty"`
		Points        []sweep.Point `json:"points"`
	}{m.Path, res.Windows, res.DenseAccuracy, o.sw.Budget, res.Chosen, csvPath, plotPath, "", res.Points}
	chosen, pick := res.Chosen, o.sw.Pick
	if o.writeModel != "" {
		if chosen == nil {
			return fmt.Errorf("no thresholds of scope %s stay within the budget of %.2f points; not writing %s", pick, 100*o.sw.Budget, o.writeModel)
		}
		if err := sweep.WriteModel(m, chosen.Th, o.writeModel); err != nil {
			return err
		}
		summary.WroteModel = o.writeModel
	}
	if o.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(summary)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d validation windows, dense accuracy %.2f %%\n", res.Windows, 100*res.DenseAccuracy)
	if chosen != nil {
		fmt.Fprintf(&b, "chosen (%s scope, loss <= %.2f points): accuracy %.2f %% (%+.2f points), MHSA MACs -%.1f %%, all MACs -%.1f %%\n  %s\n",
			pick, 100*o.sw.Budget, 100*chosen.Accuracy, -100*chosen.Loss, 100*chosen.MHSARed, 100*chosen.TotalRed, chosen.Th)
		th, _ := json.Marshal(chosen.Th)
		fmt.Fprintf(&b, "  metadata \"delta\": %s\n", th)
	} else {
		fmt.Fprintf(&b, "no %s-scope thresholds stay within %.2f points of the dense accuracy\n", pick, 100*o.sw.Budget)
	}
	fmt.Fprintf(&b, "wrote %s and %s\n", csvPath, plotPath)
	if summary.WroteModel != "" {
		fmt.Fprintf(&b, "wrote %s with the chosen thresholds\n", summary.WroteModel)
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

// writeThresholds gives the model (or the random one) the thresholds of --thresholds or
// --theta, prints them and, with --write-model, writes the model with them.
func writeThresholds(o *options, stdout io.Writer) error {
	var m *infer.Model
	var err error
	if o.random {
		if m, err = sweep.RandomKWT1(o.randomDepth, o.input); err == nil && o.mlp != "" {
			m.MLP = o.mlp
		}
	} else {
		m, err = o.loadModel()
	}
	if err != nil {
		return err
	}
	th := sweep.UniformThresholds(m.Arch, o.theta, o.sw.ValueRatio, o.scope)
	if o.thresholds != "" {
		th = infer.Thresholds{}
		if err := th.UnmarshalJSON([]byte(o.thresholds)); err != nil {
			return fmt.Errorf("--thresholds: %v", err)
		}
		if err := th.ValidateFor(m.Arch); err != nil {
			return fmt.Errorf("--thresholds: %v", err)
		}
	}
	if o.writeModel != "" {
		if err := sweep.WriteModel(m, th, o.writeModel); err != nil {
			return err
		}
	}
	meta, err := json.Marshal(th)
	if err != nil {
		return err
	}
	if o.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Model      string           `json:"model"`
			Arch       infer.Arch       `json:"architecture"`
			Thresholds infer.Thresholds `json:"thresholds"`
			WroteModel string           `json:"wrote_model,omitempty"`
		}{m.Path, m.Arch, th, o.writeModel})
	}
	fmt.Fprintf(stdout, "model:  %s\ndelta:  %s\n  metadata \"delta\": %s\n", m.Path, th, meta)
	if o.writeModel != "" {
		fmt.Fprintf(stdout, "wrote %s with these delta thresholds\n", o.writeModel)
	}
	return nil
}
