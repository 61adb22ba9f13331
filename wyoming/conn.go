package wyoming

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/wakewordd/wakewordd/detect"
)

// conn is one client's connection: its events in order, at most one audio stream at a
// time.
type conn struct {
	s    *Server
	c    net.Conn
	log  *slog.Logger
	name string
	st   *stream // made at the first stream, kept for the next ones
	// want maps each requested keyword to the name it was asked by; nil = every keyword.
	want     map[string]string
	open     bool // a stream is open
	rejected bool // the open stream's format was refused: its chunks are dropped
	fired    bool // a detection was sent since the stream opened
	implicit bool // a stream was started by a chunk without audio-start (logged once)
	pending  []Detection
	counted  struct {
		samples int64
		busy    time.Duration
	}
}

type errorData struct {
	Text string `json:"text"`
	Code string `json:"code,omitempty"`
}

func (s *Server) handle(c net.Conn) {
	defer s.wg.Done()
	cn := &conn{s: s, c: c, name: clientName(c)}
	cn.log = s.log.With("client", cn.name)
	cn.log.Info("Wyoming client connected")
	why := cn.run()
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	cn.log.Info("Wyoming client disconnected", "why", why)
}

// run serves events until the connection ends, and says why it ended.
func (cn *conn) run() string {
	r := NewReader(cn.c, cn.s.cfg.Limits)
	for {
		cn.c.SetReadDeadline(time.Now().Add(cn.s.cfg.IdleTimeout))
		e, err := r.Read()
		if err != nil {
			return cn.readFailed(err)
		}
		if err := cn.event(e); err != nil {
			if cn.s.isClosed() {
				return "server shutting down"
			}
			if gone(err) { // Home Assistant closes as soon as it has its detection
				return "closed by the client"
			}
			cn.log.Warn("Wyoming: writing to the client failed; closing the connection", "err", err)
			return "write failed: " + err.Error()
		}
	}
}

// readFailed logs why reading stopped, tells the client where that helps, and returns a
// reason.
func (cn *conn) readFailed(err error) string {
	var fe *FormatError
	var ne net.Error
	switch {
	case cn.s.isClosed():
		return "server shutting down"
	case errors.Is(err, io.EOF) || gone(err):
		return "closed by the client"
	case errors.Is(err, ErrTruncated):
		cn.log.Warn("Wyoming: the client disconnected in the middle of an event")
		return "closed by the client mid-event"
	case errors.As(err, &fe):
		cn.sendError(fe.Error()+"; closing the connection", "malformed-event")
		return fe.Error()
	case errors.As(err, &ne) && ne.Timeout():
		idle := cn.s.cfg.IdleTimeout
		cn.sendError(fmt.Sprintf("no event for %s; closing the idle connection", idle), "idle")
		return fmt.Sprintf("idle for %s", idle)
	}
	cn.log.Warn("Wyoming: reading from the client failed", "err", err)
	return "read failed: " + err.Error()
}

// gone reports the errors of a peer that has closed its end.
func gone(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// sendError logs a problem with what the client sent and tells it in an error event;
// the connection goes on unless the caller ends it.
func (cn *conn) sendError(text, code string) error {
	cn.log.Warn("Wyoming: "+text, "code", code)
	return cn.write("error", errorData{Text: text, Code: code})
}

func (cn *conn) write(typ string, data any) error {
	cn.c.SetWriteDeadline(time.Now().Add(cn.s.cfg.WriteTimeout))
	return Write(cn.c, typ, data, nil)
}

func (cn *conn) event(e *Event) error {
	switch e.Type {
	case "describe":
		return cn.write("info", cn.s.info)
	case "ping":
		var p struct {
			Text *string `json:"text"`
		}
		e.Decode(&p)
		return cn.write("pong", map[string]any{"text": p.Text})
	case "detect":
		var d struct {
			Names []string `json:"names"`
		}
		if err := e.Decode(&d); err != nil {
			return cn.sendError("detect: names must be a list of wake word names", "bad-detect")
		}
		cn.open = false // the audio that follows is a new stream
		return cn.setNames(d.Names)
	case "audio-start":
		f, err := formatOf(e)
		if err != nil {
			cn.open, cn.rejected = true, true
			return cn.sendError("audio-start: "+err.Error(), "bad-audio")
		}
		return cn.start(f)
	case "audio-chunk":
		return cn.chunk(e)
	case "audio-stop":
		return cn.stop()
	}
	cn.log.Debug("Wyoming: ignoring an event a wake-word service does not handle", "type", e.Type)
	return nil
}

// formatOf reads rate, width and channels from an audio event, and checks them.
func formatOf(e *Event) (Format, error) {
	var f struct{ Rate, Width, Channels *int }
	if err := e.Decode(&f); err != nil || f.Rate == nil || f.Width == nil || f.Channels == nil {
		return Format{}, errors.New("needs rate, width and channels as whole numbers")
	}
	ff := Format{Rate: *f.Rate, Width: *f.Width, Channels: *f.Channels}
	return ff, ff.check()
}

// start opens a stream in format f (checked).
func (cn *conn) start(f Format) error {
	cn.open, cn.rejected, cn.fired = true, false, false
	if cn.st == nil {
		st, err := newStream(cn.s.cfg.Spec)
		if err != nil {
			cn.rejected = true
			return cn.sendError("cannot start a detector: "+err.Error(), "internal")
		}
		cn.st = st
		st.l.OnDetect = cn.detected
		cn.applyNames()
	}
	if err := cn.st.start(f); err != nil {
		cn.rejected = true
		return cn.sendError(err.Error(), "bad-audio")
	}
	cn.counted.samples = 0
	cn.log.Debug("Wyoming: audio stream started", "rate", f.Rate, "width", f.Width, "channels", f.Channels)
	return nil
}

func (cn *conn) chunk(e *Event) error {
	f, err := formatOf(e)
	if err != nil {
		if cn.open && cn.rejected {
			return nil // said once already
		}
		cn.open, cn.rejected = true, true
		return cn.sendError("audio-chunk: "+err.Error()+"; dropping this stream's audio", "bad-audio")
	}
	switch {
	case !cn.open:
		if !cn.implicit {
			cn.implicit = true
			cn.log.Info("Wyoming: audio-chunk without audio-start: a stream starts at the chunk's format (wyoming-satellite streams this way)",
				"rate", f.Rate, "width", f.Width, "channels", f.Channels)
		}
		if err := cn.start(f); err != nil {
			return err
		}
	case cn.rejected:
		return nil
	case f != cn.st.format:
		cn.log.Warn("Wyoming: the audio format changed within a stream; starting afresh", "from", cn.st.format, "to", f)
		if err := cn.start(f); err != nil {
			return err
		}
	}
	if cn.rejected {
		return nil
	}
	cn.st.write(e.Payload)
	cn.count()
	return cn.flush()
}

// stop ends the stream: what the resampler holds is processed, then not-detected if
// nothing fired since it started.
func (cn *conn) stop() error {
	if cn.open && !cn.rejected {
		cn.st.stop()
		cn.count()
		if err := cn.flush(); err != nil {
			return err
		}
	}
	fired := cn.fired && cn.open
	cn.open, cn.rejected, cn.fired = false, false, false
	if fired {
		return nil
	}
	return cn.write("not-detected", nil)
}

// detected is the listener's OnDetect: detections wait until the chunk is processed.
func (cn *conn) detected(d detect.Detection) {
	name := d.Keyword
	if cn.want != nil {
		n, ok := cn.want[d.Keyword]
		if !ok {
			return
		}
		name = n
	}
	cn.pending = append(cn.pending, Detection{Keyword: name, Score: d.Score, At: d.At, Client: cn.name})
}

// flush sends the detections of the audio processed so far.
func (cn *conn) flush() error {
	for _, d := range cn.pending {
		cn.fired = true
		cn.s.dets.Add(1)
		cn.log.Info("detected over Wyoming", "keyword", d.Keyword, "score", float64(int(d.Score*1000+0.5))/1000, "stream_s", d.At.Seconds())
		if f := cn.s.cfg.OnDetection; f != nil {
			f(d)
		}
		if err := cn.write("detection", map[string]any{"name": d.Keyword, "timestamp": d.At.Milliseconds()}); err != nil {
			cn.pending = cn.pending[:0]
			return err
		}
	}
	cn.pending = cn.pending[:0]
	return nil
}

// count adds the stream's progress to the server's counters.
func (cn *conn) count() {
	st := cn.st
	cn.s.audioNs.Add(int64(time.Duration(st.out-cn.counted.samples) * time.Second / 16000))
	cn.s.busyNs.Add(int64(st.busy - cn.counted.busy))
	cn.counted.samples, cn.counted.busy = st.out, st.busy
}

// setNames takes a detect's names: the keywords to report (none = every keyword).
// Names are matched as given or normalised (case, spaces and hyphens as underscores);
// unknown ones get an error event.
func (cn *conn) setNames(names []string) error {
	cn.want = nil
	var unknown []string
	if len(names) > 0 {
		cn.want = map[string]string{}
		for _, n := range names {
			if kw := cn.s.keyword(n); kw != "" {
				cn.want[kw] = n
			} else {
				unknown = append(unknown, n)
			}
		}
	}
	cn.applyNames()
	if len(unknown) > 0 {
		return cn.sendError(fmt.Sprintf("unknown wake word %q: this service has %s", strings.Join(unknown, ", "), strings.Join(cn.s.enabled, ", ")), "unknown-wake-word")
	}
	return nil
}

// applyNames switches the listener's keywords to the requested ones, so that a keyword
// nobody asked for cannot hold back one that was asked for with its refractory period.
func (cn *conn) applyNames() {
	if cn.st == nil {
		return
	}
	for _, kw := range cn.s.enabled {
		_, ok := cn.want[kw]
		cn.st.l.Detector.SetEnabled(kw, cn.want == nil || ok)
	}
}

// keyword is the enabled keyword that name asks for, or "".
func (s *Server) keyword(name string) string {
	norm := func(n string) string {
		return strings.NewReplacer(" ", "_", "-", "_").Replace(strings.ToLower(strings.TrimSpace(n)))
	}
	for _, kw := range s.enabled {
		if kw == name || norm(kw) == norm(name) {
			return kw
		}
	}
	return ""
}

// describe is the info event's data: one wake program whose models are the enabled
// keywords.
func (s *Server) describe() map[string]any {
	attribution := map[string]string{"name": "wakewordd", "url": "https://github.com/wakewordd/wakewordd"}
	m := s.cfg.Spec.Model
	modelVersion := strings.TrimSuffix(filepath.Base(m.Path), filepath.Ext(m.Path))
	var models []map[string]any
	for _, kw := range s.enabled {
		phrase := strings.ReplaceAll(kw, "_", " ")
		models = append(models, map[string]any{
			"name": kw, "description": strings.ToUpper(phrase[:1]) + phrase[1:], "phrase": phrase,
			"languages": []string{"en"}, "attribution": attribution, "installed": true, "version": modelVersion,
		})
	}
	program := map[string]any{
		"name": "wakewordd", "description": "wakewordd: a delta-pruned Keyword Transformer wake-word engine",
		"attribution": attribution, "installed": true, "version": s.cfg.Version, "models": models,
	}
	empty := []any{}
	return map[string]any{"asr": empty, "tts": empty, "handle": empty, "intent": empty, "wake": []any{program}, "mic": empty, "snd": empty}
}
