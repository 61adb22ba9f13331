package audio

import (
	"encoding/binary"
	"fmt"
)

// CheckPCM reports whether DecodePCM takes samples of width bytes (2: 16-bit, 4: 32-bit
// signed integers) in frames of the given number of channels.
func CheckPCM(width, channels int) error {
	if width != 2 && width != 4 {
		return fmt.Errorf("audio: %d-byte samples; want 2 (16-bit) or 4 (32-bit) signed integers", width)
	}
	return CheckChannel(channels, MixAll)
}

// DecodePCM turns interleaved signed little-endian integer PCM, width bytes a sample (2 or
// 4), into mono samples in [-1, 1), scaled as the WAV reader scales them and mixed down as
// Downmix mixes (channel: one 0-based channel, or MixAll). It converts
// min(len(dst), len(b)/(width*channels)) frames and returns that count; a trailing partial
// frame is left for the caller. It does not allocate, and panics if CheckPCM or
// CheckChannel would fail.
func DecodePCM(dst []float32, b []byte, width, channels, channel int) int {
	if err := CheckPCM(width, channels); err != nil {
		panic(err)
	}
	mustChannel(channels, channel)
	frame := width * channels
	n := min(len(dst), len(b)/frame)
	var buf [512]float32 // interleaved samples of whole frames, converted a block at a time
	per := len(buf) / channels
	for done := 0; done < n; {
		k := min(per, n-done)
		raw, s := b[done*frame:(done+k)*frame], buf[:k*channels]
		if width == 2 {
			for i := range s {
				s[i] = float32(int16(binary.LittleEndian.Uint16(raw[2*i:]))) * (1.0 / 32768)
			}
		} else {
			for i := range s {
				s[i] = min(float32(int32(binary.LittleEndian.Uint32(raw[4*i:])))*(1.0/(1<<31)), maxSample)
			}
		}
		done += Downmix(dst[done:done+k], s, channels, channel)
	}
	return n
}
