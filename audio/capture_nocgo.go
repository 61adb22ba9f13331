//go:build !cgo

package audio

import "errors"

var errNoCgo = errors.New("audio: this wakewordd was built without cgo, so PortAudio capture is unavailable; use --input FILE or rebuild with CGO_ENABLED=1")

// Capture is unavailable without cgo.
type Capture struct{ StatSource }

// Devices reports that capture is unavailable.
func Devices() ([]Device, error) { return nil, errNoCgo }

// OpenCapture reports that capture is unavailable.
func OpenCapture(CaptureOptions) (*Capture, error) { return nil, errNoCgo }

// Device describes the device that was opened.
func (c *Capture) Device() Device { return Device{} }
