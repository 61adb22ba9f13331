package audio

import "fmt"

// MinRate and MaxRate bound the sample rate of every input: a WAV or FLAC header, raw
// stdin, a capture device. Below 4 kHz not even telephone speech fits; above 384 kHz no
// audio interface records; and a header declaring 1 Hz would otherwise be upsampled 16000
// times over, turning a small file into gigabytes of samples.
const (
	MinRate = 4000
	MaxRate = 384000
)

// CheckRate returns an error unless rate is within MinRate..MaxRate.
func CheckRate(rate int) error {
	if rate < MinRate || rate > MaxRate {
		return fmt.Errorf("sample rate %d Hz is out of range: wakewordd reads %d to %d Hz", rate, MinRate, MaxRate)
	}
	return nil
}
