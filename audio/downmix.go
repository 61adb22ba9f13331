package audio

import "fmt"

// MixAll selects every channel, averaged, wherever a channel index is asked for.
const MixAll = -1

// MaxChannels is the largest channel count the sources accept. It bounds per-frame
// scratch space, and no microphone array or file this daemon meets has more.
const MaxChannels = 32

// CheckChannel reports whether channel is a valid choice for a stream with the given
// number of channels: MixAll, or a 0-based index below channels.
func CheckChannel(channels, channel int) error {
	if channels < 1 || channels > MaxChannels {
		return fmt.Errorf("audio: %d channels; want 1 to %d", channels, MaxChannels)
	}
	if channel != MixAll && (channel < 0 || channel >= channels) {
		return fmt.Errorf("audio: channel %d out of range: the stream has %d channel(s), 0..%d (or %d to mix all)",
			channel, channels, channels-1, MixAll)
	}
	return nil
}

// Downmix turns interleaved frames into mono: channel picks one 0-based channel, MixAll
// averages all of them. It converts min(len(dst), len(interleaved)/channels) frames and
// returns that count; a trailing partial frame is ignored. Averaging (rather than
// summing) keeps the result in [-1, 1). It panics if CheckChannel would fail.
func Downmix(dst, interleaved []float32, channels, channel int) int {
	mustChannel(channels, channel)
	n := min(len(dst), len(interleaved)/channels)
	switch {
	case channels == 1:
		copy(dst[:n], interleaved[:n])
	case channel != MixAll:
		for i := range dst[:n] {
			dst[i] = interleaved[i*channels+channel]
		}
	case channels == 2:
		for i := range dst[:n] {
			dst[i] = (interleaved[2*i] + interleaved[2*i+1]) * 0.5
		}
	default:
		inv := 1 / float32(channels)
		for i := range dst[:n] {
			var sum float32
			for _, v := range interleaved[i*channels : (i+1)*channels] {
				sum += v
			}
			// Rounding in the sum can land a hair above the largest input.
			dst[i] = min(sum*inv, maxSample)
		}
	}
	return n
}

// DownmixS16 is Downmix for interleaved signed 16-bit samples, scaled by 1/32768 into
// [-1, 1). The sum is formed in integers, so mixing adds no rounding of its own.
func DownmixS16(dst []float32, interleaved []int16, channels, channel int) int {
	mustChannel(channels, channel)
	n := min(len(dst), len(interleaved)/channels)
	const scale = 1.0 / 32768
	switch {
	case channel != MixAll || channels == 1:
		c := max(channel, 0)
		for i := range dst[:n] {
			dst[i] = float32(interleaved[i*channels+c]) * scale
		}
	default:
		inv := scale / float32(channels)
		for i := range dst[:n] {
			var sum int32
			for _, v := range interleaved[i*channels : (i+1)*channels] {
				sum += int32(v)
			}
			dst[i] = float32(sum) * inv
		}
	}
	return n
}

// maxSample is the largest float32 below 1, the top of the [-1, 1) sample range.
const maxSample = float32(1 - 1.0/(1<<24))

// clampSample maps v into [-1, 1); NaN becomes 0. Float files may hold anything.
func clampSample(v float64) float32 {
	switch {
	case v >= float64(maxSample):
		return maxSample
	case v >= -1:
		return float32(v)
	case v < -1:
		return -1
	}
	return 0 // NaN
}

func mustChannel(channels, channel int) {
	if err := CheckChannel(channels, channel); err != nil {
		panic(err)
	}
}
