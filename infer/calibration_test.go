package infer

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
)

var testLadder = Calibration{Ceiling: 0.9999, Points: []CalibrationPoint{
	{0.5, 40, 0.02}, {0.9, 10, 0.05}, {0.99, 2, 0.1}, {0.999, 0.5, 0.2}, {0.9999, 0, 0.6},
}}

func TestSensitivityThreshold(t *testing.T) {
	const shipped = 0.99
	if got := testLadder.Threshold(0.5, shipped); math.Abs(got-shipped) > 1e-12 {
		t.Errorf("sensitivity 0.5: %v, want the shipped %v", got, shipped)
	}
	if got := testLadder.Threshold(0, shipped); math.Abs(got-0.9999) > 1e-12 {
		t.Errorf("sensitivity 0: %v, want the top of the ladder", got)
	}
	if got := testLadder.Threshold(1, shipped); math.Abs(got-0.5) > 1e-12 {
		t.Errorf("sensitivity 1: %v, want the bottom of the ladder", got)
	}
	prev := 2.0
	for s := 0.0; s <= 1.0001; s += 0.05 {
		th := testLadder.Threshold(s, shipped)
		if !(th < prev || (s == 0 && th <= prev)) {
			t.Fatalf("sensitivity %v: threshold %v, not below %v", s, th, prev)
		}
		prev = th
	}
	// A shipped threshold between two points sits between them.
	if got := testLadder.Threshold(0.5, 0.95); math.Abs(got-0.95) > 1e-9 {
		t.Errorf("shipped 0.95 at sensitivity 0.5: %v", got)
	}
}

func TestCalibrationAt(t *testing.T) {
	if fa, miss := testLadder.At(0.99); fa != 2 || miss != 0.1 {
		t.Errorf("at a point: %v, %v", fa, miss)
	}
	fa, miss := testLadder.At(0.995)
	if !(fa < 2 && fa > 0.5 && miss > 0.1 && miss < 0.2) {
		t.Errorf("between points: %v, %v", fa, miss)
	}
	if fa, miss := testLadder.At(0.1); fa != 40 || miss != 0.02 {
		t.Errorf("below the ladder: %v, %v", fa, miss)
	}
}

func TestCalibrationValidate(t *testing.T) {
	bad := []struct {
		c    Calibration
		want string
	}{
		{Calibration{Ceiling: 1.5, Points: testLadder.Points}, "ceiling"},
		{Calibration{Ceiling: 0.9, Points: testLadder.Points[:1]}, "1 points"},
		{Calibration{Ceiling: 0.9, Points: []CalibrationPoint{{0.9, 1, 0}, {0.8, 1, 0}}}, "not above"},
		{Calibration{Ceiling: 0.9, Points: []CalibrationPoint{{0.8, -1, 0}, {0.9, 1, 0}}}, "fa_per_hour"},
		{Calibration{Ceiling: 0.9, Points: []CalibrationPoint{{0.8, 1, 0}, {0.9, 1, 1.5}}}, "miss_rate"},
	}
	for _, tc := range bad {
		if err := tc.c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
	if err := validateCalibration(map[string]Calibration{"nope": testLadder}, []string{"silence", "alexa"}); err == nil {
		t.Error("calibration of a class the model lacks accepted")
	}
	if err := testLadder.Validate(); err != nil {
		t.Error(err)
	}
}

// A calibration survives the model file, and a bad one is refused when the file is read.
func TestCalibrationInTheFile(t *testing.T) {
	a := Arch{Dim: 8, Depth: 1, Heads: 1, MLPDim: 8, Frames: 10, Coeffs: 40, NumClasses: 3, NormEps: 1e-6, Norm: "post"}
	m, err := Random(a, 1)
	if err != nil {
		t.Fatal(err)
	}
	kw := m.Classes[2]
	m.Detection.Calibration = map[string]Calibration{kw: testLadder}
	var b bytes.Buffer
	if err := Write(&b, m); err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b.Bytes(), "m.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Detection.Calibration, m.Detection.Calibration) {
		t.Fatalf("read back %+v", back.Detection.Calibration)
	}
	m.Detection.Calibration[kw] = Calibration{Ceiling: 2, Points: testLadder.Points}
	b.Reset()
	if err := Write(&b, m); err == nil {
		if _, err := Parse(b.Bytes(), "m.safetensors"); err == nil || !strings.Contains(err.Error(), "calibration") {
			t.Fatalf("a ceiling of 2 read back: %v", err)
		}
	}
}
