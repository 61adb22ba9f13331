package audio

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// DecodePCM gives the samples the WAV reader gives for the same bytes, mixed down as the
// file source mixes them, for 16- and 32-bit samples and any channel count.
func TestDecodePCMMatchesTheWAVReader(t *testing.T) {
	for _, bits := range []int{16, 32} {
		for _, channels := range []int{1, 2, 3, 8} {
			for _, channel := range []int{MixAll, channels - 1} {
				interleaved := make([]float32, 1000*channels)
				for i := range interleaved {
					interleaved[i] = float32(math.Sin(float64(i)*0.37)) * 0.9
				}
				interleaved[0], interleaved[1] = -1, maxSample
				var w bytes.Buffer
				if err := WriteWAV(&w, 16000, channels, bits, false, interleaved); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(t.TempDir(), "x.wav")
				if err := os.WriteFile(path, w.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				src, err := OpenFile(path, FileOptions{Channel: channel})
				if err != nil {
					t.Fatal(err)
				}
				want, err := ReadAll(src)
				if err != nil {
					t.Fatal(err)
				}
				raw := w.Bytes()[44:] // the PCM data of a plain WAV file
				got := make([]float32, len(want)+5)
				// In two pieces, the first ending inside a frame: the caller keeps the rest.
				cut := (len(raw)/2)/(bits/8*channels)*(bits/8*channels) + 1
				n := DecodePCM(got, raw[:cut], bits/8, channels, channel)
				n += DecodePCM(got[n:], raw[cut-1:], bits/8, channels, channel)
				if n != len(want) {
					t.Fatalf("%d-bit %d channels: %d frames, want %d", bits, channels, n, len(want))
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%d-bit %d channels (channel %d): sample %d = %v, want %v", bits, channels, channel, i, got[i], want[i])
					}
				}
			}
		}
	}
	if CheckPCM(3, 1) == nil || CheckPCM(2, 0) == nil || CheckPCM(4, MaxChannels+1) == nil || CheckPCM(4, 2) != nil {
		t.Fatal("CheckPCM accepts what DecodePCM cannot take, or rejects what it can")
	}
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:], 1<<31-1)
	if got := make([]float32, 1); DecodePCM(got, b[:4], 4, 1, MixAll) != 1 || got[0] >= 1 {
		t.Fatalf("full-scale 32-bit sample: %v", got[0])
	}
}
