package audio

import (
	"errors"
	"time"
)

// Device describes one PortAudio input device.
type Device struct {
	Index       int
	Name        string
	HostAPI     string
	Channels    int
	DefaultRate float64
	Default     bool // the host's default input
	Supports16k bool // opens at 16 kHz mono without resampling
}

// ErrNoDevice is wrapped by every error about a device that does not exist.
var ErrNoDevice = errors.New("no such audio input device")

// ErrDeviceStalled is the capture error of a device that stopped delivering audio.
var ErrDeviceStalled = errors.New("the audio device delivered no audio")

// ErrAudioWedged means the audio host library could not release a lost device, so no
// device can be opened again in this process; restarting the process recovers.
var ErrAudioWedged = errors.New("audio: the host audio library hung releasing a lost device; restart wakewordd to reopen it")

// CaptureOptions selects and shapes a PortAudio input stream.
type CaptureOptions struct {
	Device   string        // "" default, index, or name substring
	Rate     int           // 0 = 16 kHz when supported, else the device's default rate
	Channel  int           // -1 mixes all channels down, else the 0-based channel
	Buffer   time.Duration // ring capacity between capture and Read
	Lossless bool          // block instead of dropping when Read falls behind
	// StallTimeout makes Read fail with ErrDeviceStalled when the device delivers nothing
	// for this long; 0 never gives up.
	StallTimeout time.Duration
	// Chatter, if set, receives what the host libraries printed while starting.
	Chatter func(string)
}
