package wyoming

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// The framing of upstream's event.py: header data merged with the additional data, then
// the payload; lengths absent or null mean none.
func TestReadEvents(t *testing.T) {
	in := `{"type":"ping"}` + "\n" +
		`{"type":"audio-chunk","data":{"rate":16000,"width":1},"data_length":24,"payload_length":4,"version":"1.7.0"}` + "\n" +
		`{"width":2,"channels":1}` + "\x01\x02\x03\x04" +
		`{"type":"detect","data":null,"data_length":null,"payload_length":null}` + "\n"
	r := NewReader(strings.NewReader(in), DefaultLimits)
	e, err := r.Read()
	if err != nil || e.Type != "ping" || len(e.Data) != 0 || e.Payload != nil {
		t.Fatalf("ping: %+v, %v", e, err)
	}
	e, err = r.Read()
	if err != nil {
		t.Fatal(err)
	}
	var f Format
	if err := e.Decode(&f); err != nil || f != (Format{16000, 2, 1}) || !bytes.Equal(e.Payload, []byte{1, 2, 3, 4}) {
		t.Fatalf("audio-chunk: %+v %+v, %v", e, f, err)
	}
	if e, err = r.Read(); err != nil || e.Type != "detect" {
		t.Fatalf("detect: %+v, %v", e, err)
	}
	if _, err := r.Read(); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
}

func TestWriteIsWhatUpstreamWrites(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, "detection", map[string]any{"name": "alexa", "timestamp": 7500}, nil); err != nil {
		t.Fatal(err)
	}
	if err := Write(&b, "not-detected", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := Write(&b, "audio-chunk", Format{16000, 2, 1}, []byte{9, 8}); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(b.String(), "\n", 2)
	var h map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &h); err != nil || h["type"] != "detection" || h["version"] != ProtocolVersion || h["data_length"] != float64(len(`{"name":"alexa","timestamp":7500}`)) {
		t.Fatalf("header %q: %v", lines[0], err)
	}
	r := NewReader(&b, DefaultLimits)
	for _, want := range []string{"detection", "not-detected", "audio-chunk"} {
		e, err := r.Read()
		if err != nil || e.Type != want {
			t.Fatalf("read back %+v, %v; want %s", e, err, want)
		}
		if want == "audio-chunk" && !bytes.Equal(e.Payload, []byte{9, 8}) {
			t.Fatalf("payload %v", e.Payload)
		}
	}
}

// Every way an event can be broken is a FormatError or ErrTruncated, never a panic or a
// huge allocation.
func TestReadRejects(t *testing.T) {
	lim := Limits{Header: 200, Data: 100, Payload: 1000}
	for _, tc := range []struct{ in, want string }{
		{"not json\n", "header line is not a JSON object"},
		{"\n", "header line is not a JSON object"},
		{"[1,2]\n", "header line is not a JSON object"},
		{`{"type":"x"} {"type":"y"}` + "\n", "trailing data"},
		{`{"data":{}}` + "\n", "header has no type"},
		{`{"type":""}` + "\n", "header has no type"},
		{`{"type":7}` + "\n", "header line is not a JSON object"},
		{`{"type":"x","data":[1]}` + "\n", "header line is not a JSON object"},
		{`{"type":"x","data_length":-1}` + "\n", "data_length is negative"},
		{`{"type":"x","payload_length":1.5}` + "\n", "header line is not a JSON object"},
		{`{"type":"x","data_length":101}` + "\n", "data_length 101 is beyond the limit of 100 bytes"},
		{`{"type":"x","payload_length":9000000000000000000}` + "\n", "payload_length 9000000000000000000 is beyond the limit"},
		{`{"type":"x","data_length":3}` + "\n[1]", "additional data (3 bytes) is not a JSON object"},
		{`{"type":"x","data_length":4}` + "\nnull", "additional data (4 bytes) is not a JSON object"},
		{`{"type":"` + strings.Repeat("a", 300) + `"}` + "\n", "header line longer than 200 bytes"},
		{`{"type":"x","payload_length":10}` + "\n12345", ErrTruncated.Error()},
		{`{"type":"x","data_length":10}` + "\n{}", ErrTruncated.Error()},
		{`{"type":"x"}`, ErrTruncated.Error()},
	} {
		_, err := NewReader(strings.NewReader(tc.in), lim).Read()
		var fe *FormatError
		if err == nil || !strings.Contains(err.Error(), tc.want) || !(errors.As(err, &fe) || errors.Is(err, ErrTruncated)) {
			t.Errorf("%.60q: got %v, want %q", tc.in, err, tc.want)
		}
	}
}

func FuzzReader(f *testing.F) {
	for _, s := range []string{
		`{"type":"describe"}` + "\n",
		`{"type":"audio-chunk","data":{"rate":16000,"width":2,"channels":1},"payload_length":4}` + "\n\x00\x01\x02\x03",
		`{"type":"detect","data_length":17}` + "\n" + `{"names":["alexa"]}`,
		`{"type":"x","data":{"a":1},"data_length":8}` + "\n" + `{"a":2}` + "\n",
		"\n\n", `{"type":"x","payload_length":-5}` + "\n", "{\"type\":\"\xff\"}\n",
	} {
		f.Add([]byte(s))
	}
	lim := Limits{Header: 1 << 10, Data: 1 << 10, Payload: 1 << 12}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), lim)
		for range 100 {
			e, err := r.Read()
			if err != nil {
				var fe *FormatError
				if err != io.EOF && !errors.Is(err, ErrTruncated) && !errors.As(err, &fe) {
					t.Fatalf("unexpected error %T %v", err, err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error spans lines: %q", err)
				}
				return
			}
			if e.Type == "" || e.Data == nil || len(e.Payload) > lim.Payload {
				t.Fatalf("event %+v", e)
			}
			// What was read writes back and reads again as the same event.
			var b bytes.Buffer
			if err := Write(&b, e.Type, e.Data, e.Payload); err != nil {
				t.Fatal(err)
			}
			e2, err := NewReader(&b, Limits{Header: 1 << 20, Data: 1 << 20, Payload: 1 << 20}).Read()
			if err != nil || e2.Type != e.Type || !bytes.Equal(e2.Payload, e.Payload) || len(e2.Data) != len(e.Data) {
				t.Fatalf("round trip of %+v: %+v, %v", e, e2, err)
			}
		}
	})
}
