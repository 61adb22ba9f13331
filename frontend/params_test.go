package frontend

import (
	"math"
	"strings"
	"testing"
)

func TestDefaultParamsValid(t *testing.T) {
	if err := DefaultParams().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateNamesBadField(t *testing.T) {
	for _, c := range []struct {
		field string
		edit  func(*Params)
	}{
		{"SampleRate", func(p *Params) { p.SampleRate = 0 }},
		{"SampleRate", func(p *Params) { p.SampleRate = 10_000_000 }},
		{"FFTSize", func(p *Params) { p.FFTSize = 500 }},
		{"FFTSize", func(p *Params) { p.FFTSize = 2 }},
		{"FFTSize", func(p *Params) { p.FFTSize = 1 << 20 }},
		{"WindowLen", func(p *Params) { p.WindowLen = 513 }},
		{"WindowLen", func(p *Params) { p.WindowLen = 0 }},
		{"Hop", func(p *Params) { p.Hop = 0 }},
		{"Hop", func(p *Params) { p.Hop = -160 }},
		{"NumMels", func(p *Params) { p.NumMels = 0 }},
		{"NumMels", func(p *Params) { p.NumMels = 258 }},
		{"NumMels", func(p *Params) { p.NumMels = 200 }}, // low filters fall between bins
		{"FMin", func(p *Params) { p.FMin = -1 }},
		{"FMin", func(p *Params) { p.FMin = math.NaN() }},
		{"FMax", func(p *Params) { p.FMax = 8001 }},
		{"FMax", func(p *Params) { p.FMax = 20 }},
		{"FMax", func(p *Params) { p.FMax = math.Inf(1) }},
		{"FMax", func(p *Params) { p.FMax = math.NaN() }},
		{"NumCoeffs", func(p *Params) { p.NumCoeffs = 81 }},
		{"NumCoeffs", func(p *Params) { p.NumCoeffs = 0 }},
		{"LogFloor", func(p *Params) { p.LogFloor = 0 }},
		{"LogFloor", func(p *Params) { p.LogFloor = -1e-12 }},
		{"LogFloor", func(p *Params) { p.LogFloor = 1e-40 }}, // subnormal as float32
		{"LogFloor", func(p *Params) { p.LogFloor = math.NaN() }},
		{"LogFloor", func(p *Params) { p.LogFloor = 1e39 }},
	} {
		p := DefaultParams()
		c.edit(&p)
		err := p.Validate()
		if err == nil {
			t.Errorf("%+v: Validate accepted it, want an error about %s", p, c.field)
			continue
		}
		if !strings.Contains(err.Error(), c.field) {
			t.Errorf("%+v: error %q does not name %s", p, err, c.field)
		}
		if _, err := New(p); err == nil {
			t.Errorf("%+v: New accepted it", p)
		}
	}
}

func TestValidateAcceptsOtherSetups(t *testing.T) {
	for _, edit := range []func(*Params){
		func(p *Params) { p.WindowLen = p.FFTSize },           // no padding
		func(p *Params) { p.Hop = 1000 },                      // gaps between frames
		func(p *Params) { p.FMin, p.FMax = 0, 8000 },          // the full band
		func(p *Params) { p.NumCoeffs = p.NumMels },           // keep everything
		func(p *Params) { p.SampleRate, p.FMax = 8000, 3800 }, // narrowband
		func(p *Params) { p.FFTSize, p.WindowLen, p.Hop = 1024, 1000, 500 },
	} {
		p := DefaultParams()
		edit(&p)
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
}
