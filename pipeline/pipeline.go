// Package pipeline drives audio from a Source through the MFCC frontend, frame by frame,
// and keeps the statistics that logs, systemd STATUS and the watchdog are built from.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/frontend"
)

// FrameFunc receives each MFCC frame; index counts frames from 0. The slice is reused for
// the next frame, so keep a copy if needed.
type FrameFunc func(index uint64, frame []float32)

// Pipeline reads 16 kHz mono audio and turns it into MFCC frames.
type Pipeline struct {
	src     audio.Source
	mfcc    *frontend.MFCC
	onFrame FrameFunc

	chunk []float32
	frame []float32

	samples  atomic.Uint64
	frames   atomic.Uint64
	busyNs   atomic.Int64
	sumSq    atomic.Uint64 // float64 bits: sum of squares since the last Snapshot
	peakBits atomic.Uint32 // float32 bits: peak |sample| since the last Snapshot
	started  time.Time
}

// New returns a pipeline over src, which must deliver 16 kHz audio (see audio.Resample16k).
func New(src audio.Source, p frontend.Params, onFrame FrameFunc) (*Pipeline, error) {
	if src.Rate() != p.SampleRate {
		return nil, fmt.Errorf("pipeline: source delivers %d Hz, the frontend needs %d Hz", src.Rate(), p.SampleRate)
	}
	m, err := frontend.New(p)
	if err != nil {
		return nil, err
	}
	if onFrame == nil {
		onFrame = func(uint64, []float32) {}
	}
	return &Pipeline{
		src: src, mfcc: m, onFrame: onFrame,
		// One hop of audio per read keeps frames flowing as soon as they are complete.
		chunk: make([]float32, p.Hop),
		frame: make([]float32, p.NumCoeffs),
	}, nil
}

// Run processes audio until the source ends (nil), ctx is cancelled (nil: cancelling is
// how a daemon stops), or the source fails (that error). It closes the source on return.
func (p *Pipeline) Run(ctx context.Context) error {
	p.started = time.Now()
	stop := context.AfterFunc(ctx, func() { p.src.Close() }) // unblocks a pending Read
	defer stop()
	defer p.src.Close()
	for {
		n, err := p.src.Read(p.chunk)
		if n > 0 {
			p.process(p.chunk[:n])
		}
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

func (p *Pipeline) process(x []float32) {
	t0 := time.Now()
	var sq float64
	var peak float32
	for _, v := range x {
		sq += float64(v) * float64(v)
		peak = max(peak, abs32(v))
	}
	p.mfcc.Write(x)
	for p.mfcc.Next(p.frame) {
		p.onFrame(p.frames.Load(), p.frame)
		p.frames.Add(1)
	}
	p.samples.Add(uint64(len(x)))
	addFloat(&p.sumSq, sq)
	if peak > math.Float32frombits(p.peakBits.Load()) {
		p.peakBits.Store(math.Float32bits(peak))
	}
	p.busyNs.Add(int64(time.Since(t0)))
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

func addFloat(a *atomic.Uint64, v float64) {
	for {
		old := a.Load()
		if a.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Stats is a snapshot of the pipeline's progress. Safe to take from any goroutine.
type Stats struct {
	Samples uint64        // 16 kHz samples processed
	Frames  uint64        // MFCC frames produced
	Busy    time.Duration // time spent processing (not waiting for audio)
	Uptime  time.Duration
	Audio   audio.Stats // capture counters, when the source keeps them
}

// AudioSeconds is the duration of the audio processed.
func (s Stats) AudioSeconds() float64 { return float64(s.Samples) / audio.TargetRate }

// Load is the fraction of real time spent processing: 0.01 means 1 % of one core.
func (s Stats) Load() float64 {
	if s.Samples == 0 {
		return 0
	}
	return s.Busy.Seconds() / s.AudioSeconds()
}

// Stats returns the counters so far.
func (p *Pipeline) Stats() Stats {
	s := Stats{
		Samples: p.samples.Load(),
		Frames:  p.frames.Load(),
		Busy:    time.Duration(p.busyNs.Load()),
	}
	if !p.started.IsZero() {
		s.Uptime = time.Since(p.started)
	}
	if ss, ok := p.src.(audio.StatSource); ok {
		s.Audio = ss.Stats()
	}
	return s
}

// SilenceDB is the level reported for digital silence, instead of -inf.
const SilenceDB = -120

// Level returns the RMS and peak level in dBFS of the audio since the previous call,
// given how many samples that was.
func (p *Pipeline) Level(samplesSince uint64) (rmsDB, peakDB float64) {
	sq := math.Float64frombits(p.sumSq.Swap(0))
	peak := math.Float32frombits(p.peakBits.Swap(0))
	if samplesSince == 0 {
		return SilenceDB, SilenceDB
	}
	return max(10*math.Log10(sq/float64(samplesSince)), SilenceDB), max(20*math.Log10(float64(peak)), SilenceDB)
}
