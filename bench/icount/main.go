// Command icount streams audio through the daemon's pipeline (streaming
// MFCC frontend, per-frame embedding, one inference per hop, detection) for
// a given number of seconds, with the dense or the delta-pruned forward
// pass. It exists to be counted: run it under qemu-aarch64 with the icount
// plugin for two lengths, and the difference in instructions divided by the
// difference in audio seconds is the pipeline's steady-state cost in
// instructions per second of audio (bench/icount.sh, bench/README.md).
//
//	icount -seconds 20 [-dense] [-model models/kwt.safetensors] [-gate none] [-input examples/kitchen.wav] [-stream]
//
// By default the input is decoded and resampled to 16 kHz once, before the stream starts,
// so that only the frontend and the models are counted. With -stream it is decoded at its
// own rate and read through the daemon's resampler (audio.Resample16k) 160 samples at a
// time, as the pipeline reads a capture device at that rate: the resampler is then part of
// what is counted (a 48 kHz file stands for a 48 kHz USB microphone).
//
// bench/icount-parts.sh splits the count by stage (resampler, frontend, gate, window
// model): the stages begin with calls to the marker functions enterResample,
// enterFrontend and enterGate (and with the window model's forward pass), whose addresses
// the script gives the qemu plugin bench/qemu-parts.
//
// It runs the kernels package chose at start-up (printed on the summary line): the
// assembly where the build and CPU have it. To measure the plain-Go kernels, run it with
// WAKEWORDD_KERNELS=generic in the environment (qemu-aarch64 passes it on) or build it
// with -tags purego.
//
// The model, its gate, delta thresholds and detection policy are put together by package
// listener, as `wakewordd run` does with no config: the default model runs behind its gate,
// the streaming model models/kwt-stream.safetensors (engine.Cascade, threshold 0.1, hold 1
// hop); -gate none scores every hop with the model, -gate FILE names another gate.
//
// Without -model (or when the file does not exist) it uses a random-weight
// KWT-1 (d=64, 12 layers, 148 frames, 8 classes) with its input
// normalisation fitted to the input and delta thresholds theta=0.5 (values
// site 0.002), as `bench/sweep --random --theta 0.5`. The input is
// decoded once and repeated as needed.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/detect"
	"github.com/wakewordd/wakewordd/frontend"
	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/kernels"
	"github.com/wakewordd/wakewordd/listener"
)

// options are the command line.
type options struct {
	seconds       float64
	dense         bool
	model, gate   string
	input         string
	theta         float32
	hop           time.Duration
	mlp           string
	gateThreshold float64
	gateHold      int
	stream        bool
}

func main() {
	var o options
	var theta float64
	flag.Float64Var(&o.seconds, "seconds", 10, "audio seconds to stream")
	flag.BoolVar(&o.dense, "dense", false, "run the dense forward pass instead of the delta-pruned one")
	flag.StringVar(&o.model, "model", "models/kwt.safetensors", "model file; a random KWT-1 when it does not exist")
	flag.StringVar(&o.input, "input", "examples/kitchen.wav", "audio to stream (repeated)")
	flag.Float64Var(&theta, "theta", 0.5, "delta threshold of the random model (values site: theta x 0.004)")
	flag.DurationVar(&o.hop, "hop", 0, "time between inferences (0: the model's)")
	flag.StringVar(&o.mlp, "mlp", "", "arithmetic of the MLPs, float32 or int8 (default: the model's)")
	flag.StringVar(&o.gate, "gate", "", "streaming model that wakes the model, or none (default: as `wakewordd run`, the default model's gate beside it)")
	flag.Float64Var(&o.gateThreshold, "gate-threshold", config.DefaultGateThreshold, "the gate's keyword posterior that wakes the model")
	flag.IntVar(&o.gateHold, "gate-hold", config.DefaultGateHold, "hops the model keeps scoring after the gate's last waking hop")
	flag.BoolVar(&o.stream, "stream", false, "read the input at its own rate through the daemon's resampler, inside the counted stream")
	flag.Parse()
	o.theta = float32(theta)
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "icount:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if err := kernels.EnvError(); err != nil {
		return err // a measurement of kernels other than those asked for
	}
	samples, rate, err := decode(o.input, o.stream)
	if err != nil {
		return err
	}
	c := config.Default()
	c.Model.Path, c.Model.Dense, c.Model.MLP, c.Model.Gate = o.model, o.dense, o.mlp, o.gate
	c.Model.GateThreshold, c.Model.GateHold = &o.gateThreshold, &o.gateHold
	if o.hop != 0 {
		c.Model.Hop = &o.hop
	}
	if err := c.Validate(nil); err != nil {
		return err
	}
	// The daemon's own wiring (package listener), so that what is counted is what runs.
	spec, err := listener.Load(c, nil)
	random := errors.Is(err, fs.ErrNotExist) && !fileExists(o.model)
	if random {
		fit := samples
		if o.stream {
			if fit, err = audio.DecodeFile(o.input); err != nil {
				return err
			}
		}
		m, rerr := randomModel(fit, o.theta)
		if rerr != nil {
			return rerr
		}
		spec, err = listener.Resolve(c, nil, m, nil)
	}
	if err != nil {
		return err
	}
	l, err := spec.New()
	if err != nil {
		return err
	}
	detections := 0
	l.OnDetect = func(detect.Detection) { detections++ }
	// FNV-1a over the bits of every posterior: equal hashes on two machines
	// mean bit-for-bit equal pipelines.
	hash := uint64(14695981039346656037)
	l.OnPosteriors = func(_ time.Duration, probs []float32) {
		for _, v := range probs {
			hash = (hash ^ uint64(math.Float32bits(v))) * 1099511628211
		}
	}
	p := spec.Model.Frontend
	fe, err := frontend.New(p)
	if err != nil {
		return err
	}
	frame := make([]float32, p.NumCoeffs)
	total := int(o.seconds * float64(p.SampleRate))
	var index uint64
	push := func(chunk []float32) {
		enterFrontend()
		fe.Write(chunk)
		for fe.Next(frame) {
			enterGate()
			l.PushFrame(index, frame)
			index++
			enterFrontend()
		}
	}
	if o.stream {
		// As the pipeline reads a device: p.Hop samples at a time, resampled.
		src, err := audio.Resample16k(&loop{samples: samples, rate: rate})
		if err != nil {
			return err
		}
		chunk := make([]float32, p.Hop)
		for fed := 0; fed < total; {
			enterResample()
			n, err := src.Read(chunk[:min(p.Hop, total-fed)])
			if err != nil {
				return err
			}
			push(chunk[:n])
			fed += n
		}
	} else {
		for fed := 0; fed < total; {
			off := fed % len(samples)
			n := min(p.Hop, len(samples)-off, total-fed)
			push(samples[off : off+n])
			fed += n
		}
	}
	path := spec.Pass()
	src := o.model
	if random {
		src = fmt.Sprintf("random KWT-1, theta %g", o.theta)
	}
	if l.Cascade != nil {
		hops, judged := l.Cascade.Judged()
		path += fmt.Sprintf(": the model scored %d of %d hops", judged, hops)
	}
	input := fmt.Sprintf("%s, decoded to 16 kHz before the stream", o.input)
	if o.stream {
		input = fmt.Sprintf("%s, %d Hz, resampled in the stream", o.input, rate)
	}
	fmt.Printf("model: %s\npath: %s\nkernels: %s\ninput: %s\naudio_s: %.2f\nhop: %v\nframes: %d\ninferences: %d\ndetections: %d\nposteriors_fnv64: %016x\n",
		src, path, kernels.Impl(), input, float64(total)/float64(p.SampleRate), spec.Hop, index, l.Engine.Inferences(), detections, hash)
	return nil
}

// decode reads the whole input: resampled to 16 kHz, or at its own rate for -stream.
func decode(path string, stream bool) ([]float32, int, error) {
	if !stream {
		x, err := audio.DecodeFile(path)
		return x, audio.TargetRate, err
	}
	src, err := audio.OpenFile(path, audio.FileOptions{Channel: audio.MixAll})
	if err != nil {
		return nil, 0, err
	}
	defer src.Close()
	x, err := audio.ReadAll(src)
	if err == nil && len(x) == 0 {
		err = fmt.Errorf("%s: no audio", path)
	}
	return x, src.Rate(), err
}

// loop is an endless audio.Source that repeats samples.
type loop struct {
	samples []float32
	rate    int
	pos     int
}

func (l *loop) Read(p []float32) (int, error) {
	n := copy(p, l.samples[l.pos:])
	l.pos = (l.pos + n) % len(l.samples)
	return n, nil
}

func (l *loop) Rate() int    { return l.rate }
func (l *loop) Close() error { return nil }

// The markers of the stages, for bench/icount-parts.sh: each is a function of its own that
// the compiler must not inline, so that its address is executed where a stage begins.
var marks [3]uint64

//go:noinline
func enterResample() { marks[0]++ }

//go:noinline
func enterFrontend() { marks[1]++ }

//go:noinline
func enterGate() { marks[2]++ }

// randomModel is the random KWT-1 of `bench/sweep --random`: input
// normalisation fitted to the frames of samples, uniform delta thresholds.
func randomModel(samples []float32, theta float32) (*infer.Model, error) {
	a := infer.Arch{Dim: 64, Depth: 12, Heads: 1, MLPDim: 256, Frames: 148, Coeffs: 40, NumClasses: 8, NormEps: 1e-6, Norm: "post"}
	m, err := infer.Random(a, 1)
	if err != nil {
		return nil, err
	}
	fe, err := frontend.New(m.Frontend)
	if err != nil {
		return nil, err
	}
	fe.Write(samples)
	var frames [][]float32
	for {
		f := make([]float32, a.Coeffs)
		if !fe.Next(f) {
			break
		}
		frames = append(frames, f)
	}
	mean, std := infer.FrameStats(frames)
	if err := m.FoldInputNorm(mean, std); err != nil {
		return nil, err
	}
	th := infer.UniformThresholds(a.Depth, theta, infer.AllSites...)
	th.Set(infer.DeltaValues, a.Depth, theta*0.004)
	m.Delta = &th
	return m, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
