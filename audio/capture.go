//go:build cgo

package audio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gordonklaus/portaudio"
	"golang.org/x/sys/unix"
)

// PortAudio is initialised once per process and shared; Initialize/Terminate nest.
var paMu sync.Mutex

// paInit initialises PortAudio with the host libraries' start-up chatter (ALSA probing
// unknown cards, libjack looking for a server) kept off stderr: under systemd it would fill
// the journal, and on the command line it would bury the one error line that matters.
// What they printed is returned so it can be logged at debug level.
func paInit() (chatter string, err error) {
	paMu.Lock()
	defer paMu.Unlock()
	if paWedged.Load() {
		return "", ErrAudioWedged
	}
	if os.Getenv("JACK_NO_START_SERVER") == "" {
		os.Setenv("JACK_NO_START_SERVER", "1") // never spawn a jackd as a side effect
	}
	chatter, err = withStderrCaptured(portaudio.Initialize)
	if err != nil {
		return chatter, fmt.Errorf("portaudio: %w", err)
	}
	return chatter, nil
}

func paTerminate() {
	paMu.Lock()
	defer paMu.Unlock()
	portaudio.Terminate()
}

// withStderrCaptured runs fn with file descriptor 2 pointing at a temporary file and
// returns what was written there.
func withStderrCaptured(fn func() error) (string, error) {
	tmp, terr := os.CreateTemp("", "wakewordd-pa-*")
	if terr != nil {
		return "", fn()
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	saved, derr := unix.Dup(2)
	if derr != nil {
		return "", fn()
	}
	defer unix.Close(saved)
	if unix.Dup3(int(tmp.Fd()), 2, 0) != nil {
		return "", fn()
	}
	err := fn()
	unix.Dup3(saved, 2, 0)
	out, _ := os.ReadFile(tmp.Name())
	return strings.TrimSpace(string(out)), err
}

// Devices lists every input device PortAudio can see.
func Devices() ([]Device, error) {
	if _, err := paInit(); err != nil {
		return nil, err
	}
	defer paTerminate()
	return listDevices()
}

func listDevices() ([]Device, error) {
	all, err := portaudio.Devices()
	if err != nil {
		return nil, fmt.Errorf("portaudio: listing devices: %w", err)
	}
	def, _ := portaudio.DefaultInputDevice()
	var out []Device
	for _, d := range all {
		if d.MaxInputChannels < 1 {
			continue
		}
		host := ""
		if d.HostApi != nil {
			host = d.HostApi.Name
		}
		out = append(out, Device{
			Index: d.Index, Name: d.Name, HostAPI: host, Channels: d.MaxInputChannels,
			DefaultRate: d.DefaultSampleRate, Default: def != nil && def.Index == d.Index,
			Supports16k: supports(d, 1, TargetRate),
		})
	}
	return out, nil
}

func supports(d *portaudio.DeviceInfo, channels int, rate float64) bool {
	p := portaudio.StreamParameters{
		Input:      portaudio.StreamDeviceParameters{Device: d, Channels: channels, Latency: d.DefaultHighInputLatency},
		SampleRate: rate,
	}
	return portaudio.IsFormatSupported(p, make([]int16, channels)) == nil
}

// pickDevice resolves a selector: "" = default input, digits = index, else a unique
// case-insensitive name substring (an exact name wins over substrings).
func pickDevice(sel string) (*portaudio.DeviceInfo, error) {
	all, err := portaudio.Devices()
	if err != nil {
		return nil, fmt.Errorf("portaudio: listing devices: %w", err)
	}
	var inputs []*portaudio.DeviceInfo
	for _, d := range all {
		if d.MaxInputChannels > 0 {
			inputs = append(inputs, d)
		}
	}
	if sel == "" {
		d, err := portaudio.DefaultInputDevice()
		if err != nil || d == nil {
			return nil, fmt.Errorf("%w: there is no default input device (%d inputs found; see `wakewordd devices`)", ErrNoDevice, len(inputs))
		}
		return d, nil
	}
	if idx, err := strconv.Atoi(sel); err == nil {
		for _, d := range all {
			if d.Index == idx {
				if d.MaxInputChannels < 1 {
					return nil, fmt.Errorf("%w: device %d (%q) has no input channels", ErrNoDevice, idx, d.Name)
				}
				return d, nil
			}
		}
		return nil, fmt.Errorf("%w: no device with index %d (%d devices; see `wakewordd devices`)", ErrNoDevice, idx, len(all))
	}
	var matches []*portaudio.DeviceInfo
	for _, d := range inputs {
		if strings.EqualFold(d.Name, sel) {
			return d, nil
		}
		if strings.Contains(strings.ToLower(d.Name), strings.ToLower(sel)) {
			matches = append(matches, d)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return nil, fmt.Errorf("%w: no input device name contains %q (see `wakewordd devices`)", ErrNoDevice, sel)
	}
	names := make([]string, len(matches))
	for i, d := range matches {
		names[i] = fmt.Sprintf("%d %q", d.Index, d.Name)
	}
	return nil, fmt.Errorf("%w: %q matches %d input devices (%s); give an index", ErrNoDevice, sel, len(matches), strings.Join(names, ", "))
}

// Capture is a live PortAudio input stream. It implements StatSource at the device rate;
// wrap it with Resample16k when Rate is not 16 kHz.
type Capture struct {
	stream   *portaudio.Stream
	buf      []int16 // interleaved, filled by blocking reads
	mono     []float32
	channels int
	channel  int
	rate     int
	ring     *Ring
	lossless bool
	stall    time.Duration
	device   Device

	deviceOverflows atomic.Uint64 // reads PortAudio reported as overflowed
	isClosed        atomic.Bool
	done            chan struct{}
	errMu           sync.Mutex
	err             error
	closeOnce       sync.Once
}

// OpenCapture opens and starts an input stream.
func OpenCapture(opt CaptureOptions) (*Capture, error) {
	chatter, err := paInit()
	if opt.Chatter != nil && chatter != "" {
		opt.Chatter(chatter)
	}
	if err != nil {
		return nil, err
	}
	c, err := openCapture(opt)
	if err != nil {
		paTerminate()
		return nil, err
	}
	return c, nil
}

func openCapture(opt CaptureOptions) (*Capture, error) {
	d, err := pickDevice(opt.Device)
	if err != nil {
		return nil, err
	}
	// Mixing opens at most two channels: virtual devices (default, pulse, plug) advertise
	// dozens and would only upmix; on an array, pick the channel of the processed beam.
	channels := min(d.MaxInputChannels, 2)
	if opt.Channel >= 0 {
		if opt.Channel >= d.MaxInputChannels {
			return nil, fmt.Errorf("audio: channel %d requested but %q has %d input channel(s)", opt.Channel, d.Name, d.MaxInputChannels)
		}
		channels = opt.Channel + 1
	}
	if channels > MaxChannels {
		return nil, fmt.Errorf("audio: channel %d is beyond the %d channels wakewordd can capture", opt.Channel, MaxChannels)
	}
	rate := opt.Rate
	if rate == 0 {
		rate = TargetRate
		if !supports(d, channels, TargetRate) {
			rate = int(d.DefaultSampleRate)
		}
	}
	if err := CheckRate(rate); err != nil {
		return nil, fmt.Errorf("audio: %q: %w", d.Name, err)
	}
	if !supports(d, channels, float64(rate)) {
		return nil, fmt.Errorf("audio: %q cannot capture %d channel(s) at %d Hz (its default rate is %.0f Hz)", d.Name, channels, rate, d.DefaultSampleRate)
	}
	// 20 ms blocks keep latency low without waking up too often.
	frames := max(rate/50, 64)
	c := &Capture{
		buf:      make([]int16, frames*channels),
		mono:     make([]float32, frames),
		channels: channels,
		channel:  opt.Channel,
		rate:     rate,
		ring:     NewRing(max(int(opt.Buffer.Seconds()*float64(rate)), frames*2)),
		lossless: opt.Lossless,
		stall:    opt.StallTimeout,
		done:     make(chan struct{}),
	}
	host := ""
	if d.HostApi != nil {
		host = d.HostApi.Name
	}
	c.device = Device{Index: d.Index, Name: d.Name, HostAPI: host, Channels: d.MaxInputChannels, DefaultRate: d.DefaultSampleRate}
	p := portaudio.StreamParameters{
		Input:           portaudio.StreamDeviceParameters{Device: d, Channels: channels, Latency: d.DefaultHighInputLatency},
		SampleRate:      float64(rate),
		FramesPerBuffer: frames,
	}
	c.stream, err = portaudio.OpenStream(p, &c.buf)
	if err != nil {
		return nil, fmt.Errorf("audio: opening %q at %d Hz: %w", d.Name, rate, err)
	}
	if err := c.stream.Start(); err != nil {
		c.stream.Close()
		return nil, fmt.Errorf("audio: starting %q: %w", d.Name, err)
	}
	go c.pump()
	return c, nil
}

// pump moves blocks from the device into the ring until the stream stops.
//
// It only calls the blocking read once a whole block is waiting: a read blocked inside
// PortAudio cannot be interrupted on every host API (JACK ignores Abort), and a device that
// stops delivering (a USB microphone pulled out) must not hang shutdown.
func (c *Capture) pump() {
	defer close(c.done)
	defer c.ring.Close()
	frames := len(c.mono)
	blockTime := time.Duration(frames) * time.Second / time.Duration(c.rate)
	lastData := time.Now()
	for !c.isClosed.Load() {
		avail, err := c.stream.AvailableToRead()
		if err == nil && avail < frames && c.stall > 0 && time.Since(lastData) > c.stall {
			// Some hosts never report a vanished device (JACK's server gone, an ALSA
			// plug over a dead card): silence from the driver is the only sign.
			err = fmt.Errorf("%w for %v", ErrDeviceStalled, c.stall)
		}
		if err == nil && avail < frames {
			// Sleep about as long as the missing audio takes to arrive, in short steps so
			// that Close is prompt.
			time.Sleep(max(min(blockTime*time.Duration(frames-avail)/time.Duration(frames), 10*time.Millisecond), time.Millisecond))
			continue
		}
		if err == nil {
			err = c.stream.Read()
		}
		if errors.Is(err, portaudio.InputOverflowed) {
			// The block is still valid; audio before it was lost inside PortAudio.
			c.deviceOverflows.Add(1)
			err = nil
		}
		if err != nil {
			if !c.isClosed.Load() {
				c.setErr(fmt.Errorf("audio: reading %q: %w", c.device.Name, err))
			}
			return
		}
		lastData = time.Now()
		n := DownmixS16(c.mono, c.buf, c.channels, c.channel)
		if c.lossless {
			if c.ring.WriteWait(c.mono[:n]) != nil {
				return
			}
		} else {
			c.ring.Write(c.mono[:n])
		}
	}
}

func (c *Capture) setErr(err error) {
	c.errMu.Lock()
	c.err = err
	c.errMu.Unlock()
}

// Read returns captured mono samples at Rate. When the device fails, Read drains what was
// captured and then returns the device error.
func (c *Capture) Read(p []float32) (int, error) {
	if c.isClosed.Load() {
		return 0, io.EOF
	}
	n, err := c.ring.Read(p)
	if err == io.EOF {
		c.errMu.Lock()
		defer c.errMu.Unlock()
		if c.err != nil {
			return n, c.err
		}
	}
	return n, err
}

// Rate is the rate the device was opened at.
func (c *Capture) Rate() int { return c.rate }

// Device describes the device that was opened.
func (c *Capture) Device() Device { return c.device }

// Stats counts samples captured and dropped, in the ring and inside PortAudio.
func (c *Capture) Stats() Stats {
	s := c.ring.Stats()
	s.DeviceOverflows = c.deviceOverflows.Load()
	return s
}

// Close stops the stream and releases PortAudio.
func (c *Capture) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.isClosed.Store(true)
		c.ring.Close() // unblocks a pump waiting in WriteWait
		<-c.done       // the pump never waits inside PortAudio for long
		released := make(chan error, 1)
		go func() {
			err := c.stream.Abort()
			if cerr := c.stream.Close(); err == nil {
				err = cerr
			}
			released <- err
		}()
		select {
		case err = <-released:
			paTerminate()
		case <-time.After(releaseTimeout):
			// A host API whose server vanished can block here for good (JACK). The stream
			// stays allocated, and PortAudio cannot be restarted under it.
			paWedged.Store(true)
			err = fmt.Errorf("%w (%q)", ErrAudioWedged, c.device.Name)
		}
	})
	return err
}

// releaseTimeout bounds how long Close waits for PortAudio to release a stream.
const releaseTimeout = 2 * time.Second

// paWedged is set once PortAudio failed to release a stream: it cannot be restarted to
// find devices again, so no further stream is opened in this process.
var paWedged atomic.Bool
