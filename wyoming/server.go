package wyoming

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/listener"
)

// Config configures a Server.
type Config struct {
	// Listen is a wyoming.listen URI: tcp://HOST:PORT or unix://PATH (config.ParseListen).
	Listen string
	// MaxClients bounds the connections served at once; one more gets an error event and
	// is closed. 0 = 8.
	MaxClients int
	// Zeroconf advertises a tcp:// server as _wyoming._tcp over mDNS; nil = on unless the
	// address is loopback (ZeroconfDefault).
	Zeroconf *bool
	// Spec is the model and detection policy every connection's listener is built from.
	Spec *listener.Spec
	// Version is wakewordd's version, reported in info.
	Version string
	// Name is the mDNS instance name; "" = "wakewordd-<hostname>".
	Name string
	// IdleTimeout closes a connection that sends nothing for this long; 0 = 5 minutes.
	// WriteTimeout closes one that does not take an event within this long; 0 = 10 s.
	IdleTimeout, WriteTimeout time.Duration
	// Limits bound each event read; zero = DefaultLimits.
	Limits Limits
	// Logger receives a line per connection, detection and problem; nil = slog.Default().
	Logger *slog.Logger
	// OnDetection, when set, is called (from the connection's goroutine) for each
	// detection sent to a client.
	OnDetection func(Detection)
}

// FromConfig is the server configuration of the config file's wyoming section.
func FromConfig(w config.Wyoming, spec *listener.Spec, version string, log *slog.Logger) Config {
	return Config{Listen: w.Listen, MaxClients: w.MaxClients, Zeroconf: w.Zeroconf, Spec: spec, Version: version, Logger: log}
}

// Detection is one wake word sent to a client.
type Detection struct {
	Keyword string
	Score   float64
	// At is the audio since the stream started, at the hop that fired.
	At     time.Duration
	Client string
}

// Stats are the server's counters since it started.
type Stats struct {
	Clients     int    // connections open now
	Connections uint64 // connections accepted, the rejected ones included
	Rejected    uint64 // connections turned away over MaxClients
	Detections  uint64 // detections sent
	Audio       time.Duration
	Busy        time.Duration // time spent converting audio and detecting
}

// Load is the fraction of one core that processing took per second of audio, over all
// streams so far.
func (s Stats) Load() float64 {
	if s.Audio <= 0 {
		return 0
	}
	return s.Busy.Seconds() / s.Audio.Seconds()
}

// Server serves the wake-word service of the Wyoming protocol.
type Server struct {
	cfg      Config
	log      *slog.Logger
	ln       net.Listener
	addr     string
	enabled  []string // the keywords clients can ask for, in class order
	info     map[string]any
	mdns     *advertiser
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closed   bool
	alive    atomic.Bool
	accepted atomic.Uint64
	rejected atomic.Uint64
	dets     atomic.Uint64
	audioNs  atomic.Int64
	busyNs   atomic.Int64
}

// Listen starts a server on cfg.Listen, advertising it over mDNS when configured. A stale
// Unix socket file left by a previous run is replaced.
func Listen(cfg Config) (*Server, error) {
	network, address, err := config.ParseListen(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("wyoming.listen: %v", err)
	}
	if network == "unix" {
		removeStaleSocket(address)
	}
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, fmt.Errorf("wyoming.listen: %w", err)
	}
	s, err := Serve(ln, cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	if zc := cfg.Zeroconf; network == "tcp" && ((zc == nil && ZeroconfDefault(address)) || (zc != nil && *zc)) {
		if s.mdns, err = advertise(cfg.Name, ln.Addr().(*net.TCPAddr), address, s.log); err != nil {
			s.Close()
			return nil, fmt.Errorf("wyoming.zeroconf: %w", err)
		}
	}
	return s, nil
}

// Serve serves on ln (which the server then owns), without zeroconf.
func Serve(ln net.Listener, cfg Config) (*Server, error) {
	if cfg.Spec == nil {
		return nil, errors.New("wyoming: no model")
	}
	if cfg.MaxClients == 0 {
		cfg.MaxClients = 8
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.Limits == (Limits{}) {
		cfg.Limits = DefaultLimits
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	det, err := cfg.Spec.Detector()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, ln: ln, addr: ln.Addr().String(), enabled: det.Enabled(), conns: map[net.Conn]struct{}{}}
	if ln.Addr().Network() == "unix" {
		s.addr = "unix://" + s.addr
	}
	s.info = s.describe()
	s.alive.Store(true)
	s.wg.Add(1)
	go s.accept()
	s.log.Info("Wyoming server listening", "addr", s.addr, "max_clients", cfg.MaxClients, "models", strings.Join(s.enabled, ","))
	return s, nil
}

func (s *Server) accept() {
	defer s.wg.Done()
	defer s.alive.Store(false)
	var delay time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.isClosed() {
				return
			}
			if isTemporary(err) {
				// Out of file descriptors and the like: back off and go on.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("Wyoming: accepting a connection failed; retrying", "err", err, "retry_in", delay)
				time.Sleep(delay)
				continue
			}
			s.log.Error("Wyoming: the listener failed; no more connections are accepted", "err", err)
			return
		}
		delay = 0
		s.accepted.Add(1)
		s.mu.Lock()
		full := len(s.conns) >= s.cfg.MaxClients
		if !full && !s.closed {
			s.conns[c] = struct{}{}
		}
		closed := s.closed
		s.mu.Unlock()
		s.wg.Add(1)
		switch {
		case closed:
			c.Close()
			s.wg.Done()
		case full:
			s.rejected.Add(1)
			go s.reject(c)
		default:
			go s.handle(c)
		}
	}
}

// reject tells a client over the limit why it is turned away, and closes it.
func (s *Server) reject(c net.Conn) {
	defer s.wg.Done()
	defer c.Close()
	s.log.Warn("Wyoming: too many clients; connection refused", "client", clientName(c), "max_clients", s.cfg.MaxClients)
	c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	Write(c, "error", errorData{Text: fmt.Sprintf("too many clients: this wakewordd serves at most %d at once (wyoming.max_clients)", s.cfg.MaxClients), Code: "too-many-clients"}, nil)
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops accepting, closes every connection and the mDNS advertisement, and waits
// until every connection's goroutine has returned. A nil Server closes nothing.
func (s *Server) Close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	if s.mdns != nil {
		s.mdns.close()
	}
	s.wg.Wait()
	return err
}

// Shutdown is Close, for use with context.AfterFunc and the like.
func (s *Server) Shutdown(context.Context) error { return s.Close() }

// Addr is the address served: host:port, or unix://PATH.
func (s *Server) Addr() string {
	if s == nil {
		return ""
	}
	return s.addr
}

// Alive reports whether the server still accepts connections (for the watchdog).
func (s *Server) Alive() bool { return s != nil && s.alive.Load() }

// Stats returns the counters so far; a nil Server has none.
func (s *Server) Stats() Stats {
	if s == nil {
		return Stats{}
	}
	s.mu.Lock()
	n := len(s.conns)
	s.mu.Unlock()
	return Stats{
		Clients: n, Connections: s.accepted.Load(), Rejected: s.rejected.Load(), Detections: s.dets.Load(),
		Audio: time.Duration(s.audioNs.Load()), Busy: time.Duration(s.busyNs.Load()),
	}
}

// Summary is the statistics log's view of the server, "-" for a nil one.
func (s *Server) Summary() string {
	if s == nil {
		return "-"
	}
	st := s.Stats()
	return fmt.Sprintf("%d clients, %d connections (%d refused), %d detections, %.0f s of audio, load %.4f",
		st.Clients, st.Connections, st.Rejected, st.Detections, st.Audio.Seconds(), st.Load())
}

// Status is the server's part of systemd's STATUS line, "" for a nil one.
func (s *Server) Status() string {
	if s == nil {
		return ""
	}
	st := s.Stats()
	return fmt.Sprintf("; Wyoming %s: %d clients, %d detections", s.addr, st.Clients, st.Detections)
}

// ZeroconfDefault reports whether a server at address (host:port) is advertised when
// wyoming.zeroconf is not set: yes unless the host is loopback.
func ZeroconfDefault(address string) bool {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	if ip := net.ParseIP(host); ip != nil {
		return !ip.IsLoopback()
	}
	return host != "localhost" && !strings.HasSuffix(host, ".localhost")
}

// removeStaleSocket removes a Unix socket file that nobody listens on any more.
func removeStaleSocket(path string) {
	if st, err := os.Lstat(path); err != nil || st.Mode()&os.ModeSocket == 0 {
		return
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return
	}
	os.Remove(path)
}

// isTemporary reports an accept error that passes: out of file descriptors, or a client
// that went away before it was accepted.
func isTemporary(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS)
}

func clientName(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil && a.String() != "" && a.String() != "@" {
		return a.String()
	}
	return "unix"
}
