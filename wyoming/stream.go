package wyoming

import (
	"fmt"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/frontend"
	"github.com/wakewordd/wakewordd/listener"
)

// Format is the audio format of a stream or chunk: samples per second, bytes per sample
// and channels, as audio-start and audio-chunk carry them.
type Format struct {
	Rate     int `json:"rate"`
	Width    int `json:"width"`
	Channels int `json:"channels"`
}

// check reports what makes f unusable, in words for the client.
func (f Format) check() error {
	if err := audio.CheckPCM(f.Width, f.Channels); err != nil {
		return fmt.Errorf("unsupported audio format (rate %d, width %d, channels %d): %v", f.Rate, f.Width, f.Channels, err)
	}
	if err := audio.CheckRate(f.Rate); err != nil {
		return fmt.Errorf("unsupported audio format: %v", err)
	}
	return nil
}

// block is how many samples a stream converts at a time: the scratch space per stream
// is fixed whatever size of chunk a client sends.
const block = 4096

// stream turns one connection's audio into MFCC frames for its listener: PCM decoded and
// mixed down, resampled to 16 kHz aligned in time exactly as audio.Resample aligns a file
// (so that a stream gives the detections `wakewordd detect` gives for the same audio),
// then the MFCC frontend.
type stream struct {
	l      *listener.Listener
	mfcc   *frontend.MFCC
	format Format
	rs     *audio.Resampler // nil at 16 kHz
	skip   int              // resampler warm-up outputs still to drop
	fed    int64            // input samples given to the resampler
	out    int64            // 16 kHz samples given to the frontend
	frames uint64
	rest   []byte // the start of a frame split across chunks
	mono   []float32
	res    []float32
	frame  []float32
	busy   time.Duration // time spent converting and detecting
}

func newStream(spec *listener.Spec) (*stream, error) {
	l, err := spec.New()
	if err != nil {
		return nil, err
	}
	m, err := frontend.New(spec.Model.Frontend)
	if err != nil {
		return nil, err
	}
	return &stream{l: l, mfcc: m, mono: make([]float32, block), res: make([]float32, block), frame: make([]float32, m.NumCoeffs())}, nil
}

// start begins a stream of audio in format f (checked already): the listener forgets
// everything, as at the start of a file.
func (s *stream) start(f Format) error {
	if s.rs == nil || s.format.Rate != f.Rate {
		s.rs = nil
		if f.Rate != audio.TargetRate {
			rs, err := audio.NewResampler(f.Rate, audio.TargetRate)
			if err != nil {
				return fmt.Errorf("unsupported audio format: %v", err)
			}
			s.rs = rs
		}
	}
	if s.rs != nil {
		s.rs.Reset()
		s.skip = s.rs.Delay()
	}
	s.format, s.fed, s.out, s.frames, s.rest = f, 0, 0, 0, s.rest[:0]
	s.mfcc.Reset()
	s.l.Reset()
	return nil
}

// write feeds one chunk's PCM; a frame cut in two by the chunk boundary waits for the
// rest.
func (s *stream) write(pcm []byte) {
	t0 := time.Now()
	fb := s.format.Width * s.format.Channels
	if len(s.rest) > 0 {
		need := min(fb-len(s.rest), len(pcm))
		s.rest = append(s.rest, pcm[:need]...)
		pcm = pcm[need:]
		if len(s.rest) == fb {
			audio.DecodePCM(s.mono[:1], s.rest, s.format.Width, s.format.Channels, audio.MixAll)
			s.rest = s.rest[:0]
			s.resample(s.mono[:1])
		}
	}
	for len(pcm) >= fb {
		n := audio.DecodePCM(s.mono, pcm, s.format.Width, s.format.Channels, audio.MixAll)
		pcm = pcm[n*fb:]
		s.resample(s.mono[:n])
	}
	s.rest = append(s.rest, pcm...)
	s.busy += time.Since(t0)
}

func (s *stream) resample(x []float32) {
	if s.rs == nil {
		s.frontend(x)
		return
	}
	s.fed += int64(len(x))
	for len(x) > 0 {
		nOut, nIn := s.rs.Process(s.res, x)
		x = x[nIn:]
		y := s.res[:nOut]
		d := min(s.skip, len(y))
		s.skip -= d
		s.frontend(y[d:])
	}
}

// stop ends the stream: the resampler's tail is pushed out with silence, so that n input
// samples give exactly as many 16 kHz samples as audio.Resample gives for a file of n.
func (s *stream) stop() {
	if s.rs == nil {
		return
	}
	t0 := time.Now()
	want := s.rs.OutLen(s.fed)
	clear(s.mono)
	for s.out < want {
		nOut, _ := s.rs.Process(s.res, s.mono)
		y := s.res[:nOut]
		d := min(s.skip, len(y))
		s.skip -= d
		y = y[d:]
		s.frontend(y[:min(int64(len(y)), want-s.out)])
	}
	s.busy += time.Since(t0)
}

func (s *stream) frontend(x []float32) {
	if len(x) == 0 {
		return
	}
	s.out += int64(len(x))
	s.mfcc.Write(x)
	for s.mfcc.Next(s.frame) {
		s.l.PushFrame(s.frames, s.frame)
		s.frames++
	}
}
