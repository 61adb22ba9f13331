// Package wyoming serves the Wyoming protocol's wake-word service, as Home Assistant's
// Assist pipelines and wyoming-satellite use it: a client sends `describe`, or `detect`,
// `audio-start`, `audio-chunk`s and `audio-stop`, and gets `info`, `detection` and
// `not-detected` back. Every connection runs its own listener.Listener over the shared
// model. The protocol is that of the upstream Python library (rhasspy/wyoming 1.7.0),
// whose wyoming/event.py defines the framing this file reads and writes.
package wyoming

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ProtocolVersion is the version of the upstream library whose protocol this package
// speaks; it goes into the header of every event written.
const ProtocolVersion = "1.7.0"

// Event is one Wyoming message: a type, its data (a JSON object, the header's "data"
// merged with the additional data that follows the header) and an optional binary
// payload (audio).
type Event struct {
	Type    string
	Data    map[string]json.RawMessage
	Payload []byte
}

// Decode unmarshals the event's data into v (a pointer to a struct with json tags).
func (e *Event) Decode(v any) error {
	b, err := json.Marshal(e.Data)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Limits bound what one event may claim, so that a hostile or broken client cannot make
// the server allocate without end. Real events are far smaller: a header line of a few
// hundred bytes, data of a few hundred and audio chunks of a few kilobytes.
type Limits struct {
	Header  int // bytes of the JSON header line, newline excluded
	Data    int // data_length
	Payload int // payload_length
}

// DefaultLimits fit every event a wake-word client sends with a wide margin: a second of
// 8-channel 48 kHz 32-bit audio in one chunk is 1.5 MiB.
var DefaultLimits = Limits{Header: 64 << 10, Data: 1 << 20, Payload: 4 << 20}

// A FormatError is an event that breaks the framing rules: the stream cannot be trusted
// after it.
type FormatError struct{ Msg string }

func (e *FormatError) Error() string { return "malformed event: " + e.Msg }

// ErrTruncated is a stream that ended inside an event: the client went away mid-chunk.
var ErrTruncated = errors.New("connection closed in the middle of an event")

// Reader reads events from a stream. It reuses its buffers: an event's Payload is valid
// only until the next Read.
type Reader struct {
	br      *bufio.Reader
	lim     Limits
	line    []byte
	payload []byte
}

// NewReader returns a Reader of r within lim.
func NewReader(r io.Reader, lim Limits) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 16<<10), lim: lim}
}

// header is the JSON header line. Lengths are pointers so that null reads as absent, as
// upstream treats it.
type header struct {
	Type          *string                    `json:"type"`
	Data          map[string]json.RawMessage `json:"data"`
	DataLength    *int64                     `json:"data_length"`
	PayloadLength *int64                     `json:"payload_length"`
}

// Read returns the next event. At a clean end of the stream between events it returns
// io.EOF; inside one, ErrTruncated; a header or data that breaks the framing, a
// *FormatError. Other errors are the connection's (a deadline, a reset).
func (r *Reader) Read() (*Event, error) {
	line, err := r.readLine()
	if err != nil {
		return nil, err
	}
	var h header
	if err := strictUnmarshal(line, &h); err != nil {
		return nil, &FormatError{fmt.Sprintf("header line is not a JSON object with a type: %v", err)}
	}
	if h.Type == nil || *h.Type == "" {
		return nil, &FormatError{"header has no type"}
	}
	e := &Event{Type: *h.Type, Data: h.Data}
	if e.Data == nil {
		e.Data = map[string]json.RawMessage{}
	}
	dataLen, err := checkLength("data_length", h.DataLength, r.lim.Data)
	if err != nil {
		return nil, err
	}
	payloadLen, err := checkLength("payload_length", h.PayloadLength, r.lim.Payload)
	if err != nil {
		return nil, err
	}
	if dataLen > 0 {
		b := make([]byte, dataLen)
		if _, err := io.ReadFull(r.br, b); err != nil {
			return nil, truncated(err)
		}
		var extra map[string]json.RawMessage
		if err := strictUnmarshal(b, &extra); err != nil || extra == nil {
			return nil, &FormatError{fmt.Sprintf("additional data (%d bytes) is not a JSON object", dataLen)}
		}
		for k, v := range extra { // merged over the header's data, as upstream does
			e.Data[k] = v
		}
	}
	if payloadLen > 0 {
		if cap(r.payload) < payloadLen {
			r.payload = make([]byte, payloadLen)
		}
		e.Payload = r.payload[:payloadLen]
		if _, err := io.ReadFull(r.br, e.Payload); err != nil {
			return nil, truncated(err)
		}
	}
	return e, nil
}

// readLine reads the header line without its newline, at most lim.Header bytes.
func (r *Reader) readLine() ([]byte, error) {
	r.line = r.line[:0]
	for {
		frag, err := r.br.ReadSlice('\n')
		if len(r.line)+len(frag) > r.lim.Header+1 {
			return nil, &FormatError{fmt.Sprintf("header line longer than %d bytes", r.lim.Header)}
		}
		r.line = append(r.line, frag...)
		switch {
		case err == nil:
			return r.line[:len(r.line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(r.line) > 0:
			return nil, ErrTruncated
		}
		return nil, err
	}
}

func checkLength(name string, n *int64, limit int) (int, error) {
	switch {
	case n == nil:
		return 0, nil
	case *n < 0:
		return 0, &FormatError{fmt.Sprintf("%s is negative (%d)", name, *n)}
	case *n > int64(limit):
		return 0, &FormatError{fmt.Sprintf("%s %d is beyond the limit of %d bytes", name, *n, limit)}
	}
	return int(*n), nil
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrTruncated
	}
	return err
}

// strictUnmarshal decodes exactly one JSON value from b.
func strictUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// Write writes e as upstream's write_event does: a header line with type, version and the
// lengths, then the data as additional data, then the payload. data may be nil.
func Write(w io.Writer, typ string, data any, payload []byte) error {
	h := map[string]any{"type": typ, "version": ProtocolVersion}
	var db []byte
	if data != nil {
		var err error
		if db, err = json.Marshal(data); err != nil {
			return err
		}
		if string(db) == "{}" || string(db) == "null" {
			db = nil
		} else {
			h["data_length"] = len(db)
		}
	}
	if len(payload) > 0 {
		h["payload_length"] = len(payload)
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return err
	}
	buf := make([]byte, 0, len(hb)+1+len(db)+len(payload))
	buf = append(append(append(append(buf, hb...), '\n'), db...), payload...)
	_, err = w.Write(buf)
	return err
}
