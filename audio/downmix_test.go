package audio

import (
	"slices"
	"strings"
	"testing"
)

func TestDownmix(t *testing.T) {
	stereo := []float32{0.5, -0.5, 0.25, 0.75, -1, -1, 9} // 3 frames and a stray sample
	three := []float32{0.3, 0.6, 0.9, top, top, top}
	for _, tc := range []struct {
		name              string
		dst               int
		in                []float32
		channels, channel int
		want              []float32
	}{
		{"mono copy", 4, []float32{0.1, 0.2, 0.3}, 1, 0, []float32{0.1, 0.2, 0.3}},
		{"mono mix", 4, []float32{0.1, 0.2, 0.3}, 1, MixAll, []float32{0.1, 0.2, 0.3}},
		{"left", 5, stereo, 2, 0, []float32{0.5, 0.25, -1}},
		{"right", 5, stereo, 2, 1, []float32{-0.5, 0.75, -1}},
		{"stereo mix", 5, stereo, 2, MixAll, []float32{0, 0.5, -1}},
		{"dst short", 2, stereo, 2, MixAll, []float32{0, 0.5}},
		{"three mix", 2, three, 3, MixAll, []float32{(0.3 + 0.6 + 0.9) / float32(3), top}},
		{"three pick", 2, three, 3, 2, []float32{0.9, top}},
	} {
		dst := make([]float32, tc.dst)
		n := Downmix(dst, tc.in, tc.channels, tc.channel)
		if !slices.EqualFunc(dst[:n], tc.want, func(a, b float32) bool { return a-b < 1e-7 && b-a < 1e-7 }) {
			t.Errorf("%s: %v; want %v", tc.name, dst[:n], tc.want)
		}
	}
	// Full scale on every channel must stay below 1 whatever the count.
	for ch := 1; ch <= MaxChannels; ch++ {
		in := make([]float32, ch)
		for i := range in {
			in[i] = top
		}
		var out [1]float32
		Downmix(out[:], in, ch, MixAll)
		if out[0] >= 1 {
			t.Errorf("%d channels at full scale mix to %v", ch, out[0])
		}
	}
}

func TestDownmixS16(t *testing.T) {
	in := []int16{32767, 32767, -32768, -32768, 100, -101, 5}
	dst := make([]float32, 4)
	for _, tc := range []struct {
		channels, channel int
		want              []float32
	}{
		{2, MixAll, []float32{32767.0 / 32768, -1, -0.5 / 32768}},
		{2, 0, []float32{32767.0 / 32768, -1, 100.0 / 32768}},
		{2, 1, []float32{32767.0 / 32768, -1, -101.0 / 32768}},
		{1, 0, []float32{32767.0 / 32768, 32767.0 / 32768, -1, -1}},
		{1, MixAll, []float32{32767.0 / 32768, 32767.0 / 32768, -1, -1}},
		{3, MixAll, []float32{(32767 + 32767 - 32768) / 3.0 / 32768, (-32768 + 100 - 101) / 3.0 / 32768}},
	} {
		n := DownmixS16(dst, in, tc.channels, tc.channel)
		if !slices.Equal(dst[:n], tc.want) {
			t.Errorf("%d channels, channel %d: %v; want %v", tc.channels, tc.channel, dst[:n], tc.want)
		}
	}
}

func TestCheckChannel(t *testing.T) {
	for _, tc := range []struct {
		channels, channel int
		want              string
	}{
		{2, 0, ""}, {2, 1, ""}, {2, MixAll, ""}, {32, 31, ""},
		{2, 2, "audio: channel 2 out of range: the stream has 2 channel(s), 0..1 (or -1 to mix all)"},
		{1, -2, "channel -2 out of range"},
		{0, 0, "audio: 0 channels; want 1 to 32"},
		{33, 0, "audio: 33 channels"},
	} {
		err := CheckChannel(tc.channels, tc.channel)
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckChannel(%d, %d) = %v; want %q", tc.channels, tc.channel, err, tc.want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Downmix with channel out of range did not panic")
		}
	}()
	Downmix(make([]float32, 1), make([]float32, 2), 2, 2)
}
