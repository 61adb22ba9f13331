package publish

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/wakewordd/wakewordd/internal/limited"
	"github.com/wakewordd/wakewordd/internal/logsafe"
)

// MQTTConfig configures the MQTT sink. Zero values take the defaults named here; Discovery
// and Hermes are off unless set (the daemon's config turns them on by default).
type MQTTConfig struct {
	Broker                    string // tcp://host:1883, ssl://host:8883 (also mqtt:// and mqtts://), ws://, wss://
	ClientID                  string // "" = "wakewordd-<site>-<8 random hex>"
	Username                  string
	PasswordFile              string // password read from this file (trailing newline trimmed), never from the config
	CAFile, CertFile, KeyFile string // TLS; CertFile and KeyFile go together
	TopicPrefix               string // default "wakewordd"
	Discovery                 bool   // Home Assistant discovery
	DiscoveryPrefix           string // default "homeassistant"
	Hermes                    bool   // Rhasspy/Hermes topics
	SiteID                    string
	Keywords                  []string // enabled keywords: the Home Assistant event_types
	Model                     string
	Version                   string        // sw_version in the Home Assistant device block
	QueueSize                 int           // bound of the in-memory queue (default 1000)
	KeepAlive                 time.Duration // default 30s
	Logger                    *slog.Logger  // nil = discard
	// OnToggle switches a keyword on or off; keyword "" means all of them (Hermes
	// toggleOff/On). It is called from paho's goroutine, one message at a time, and must
	// not block for long.
	OnToggle func(keyword string, on bool)

	// Reconnect backoff and connect timeout; tests shorten them.
	retryMin, retryMax, connectTimeout time.Duration
	// discoveryEvery is the least time between two re-publications of the discovery config
	// (default DiscoveryInterval).
	discoveryEvery time.Duration
}

// Defaults of MQTTConfig's zero values.
const (
	DefaultTopicPrefix     = "wakewordd"
	DefaultDiscoveryPrefix = "homeassistant"
	DefaultQueueSize       = 1000
	DefaultKeepAlive       = 30 * time.Second
	// DiscoveryInterval is the least time between two re-publications of the retained
	// discovery config: a flood of keyword switches or Home Assistant births re-publishes it
	// once per interval, with the keywords enabled at that moment.
	DiscoveryInterval = time.Second
)

// MQTTStats counts what the MQTT sink did.
type MQTTStats struct {
	Connected  bool
	Published  uint64 // events delivered (acknowledged by the broker)
	Queued     uint64 // events waiting, including one in flight
	Dropped    uint64 // events lost to a full queue or published after Close
	Reconnects uint64 // connections after the first
}

// MQTT publishes detections to a broker. It connects in the background and keeps
// reconnecting; detections queue meanwhile and are delivered in order, at least once.
type MQTT struct {
	cfg    MQTTConfig
	log    *slog.Logger
	dial   dialer
	topics topics

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced whenever anything below changes
	queue      []queued      // waiting, oldest first
	inflight   *queued       // being delivered; retried until acknowledged
	lastSeq    uint64
	conn       *conn // nil while disconnected
	keywords   []string
	kwGen      uint64 // bumped by SetKeywords
	closed     bool
	published  uint64
	dropped    uint64
	dropRun    uint64 // dropped since the last delivery, for one warning per run
	reconnects uint64

	discMu    sync.Mutex    // orders discovery publishes, so the last one has the latest keywords
	discKick  chan struct{} // (capacity 1) wakes discoverer
	discForce bool          // re-publish even if unchanged (Home Assistant came online); guarded by mu
	discDone  chan struct{}

	quit        chan struct{}
	managerDone chan struct{}
	workerDone  chan struct{}
	closeOnce   sync.Once
	closeErr    error
}

type queued struct {
	seq uint64
	ev  Event
}

// conn is one connection: a fresh paho client per attempt, so nothing of a dead
// connection (tokens, store, handlers) leaks into the next.
type conn struct {
	client   paho.Client
	lost     chan struct{}
	lostOnce sync.Once
	lostErr  error
	discGen  uint64 // kwGen of the last discovery published here; guarded by MQTT.discMu
}

func (c *conn) markLost(err error) {
	c.lostOnce.Do(func() { c.lostErr = err; close(c.lost) })
}

func (c *conn) isLost() bool {
	select {
	case <-c.lost:
		return true
	default:
		return false
	}
}

// dialer is what every connection needs, checked once.
type dialer struct {
	broker         string
	tls            *tls.Config
	clientID       string
	username       string
	password       string
	keepAlive      time.Duration
	connectTimeout time.Duration
}

// shown is the broker URL for logs and errors. brokerURL refuses credentials in it; this
// hides them should one ever get through.
func (d dialer) shown() string { return logsafe.RedactURL(d.broker) }

// NewMQTT validates cfg, reading the password and TLS files, and starts connecting in the
// background. A broker that is down is not an error: it keeps retrying, backing off to
// 30 s, and queues detections until the broker is back.
func NewMQTT(cfg MQTTConfig) (*MQTT, error) {
	cfg, d, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	m := &MQTT{
		cfg: cfg, log: cfg.Logger, dial: d,
		topics:      newTopics(cfg.TopicPrefix, cfg.DiscoveryPrefix, cfg.SiteID),
		changed:     make(chan struct{}),
		keywords:    slices.Clone(cfg.Keywords),
		quit:        make(chan struct{}),
		managerDone: make(chan struct{}),
		workerDone:  make(chan struct{}),
		discKick:    make(chan struct{}, 1),
		discDone:    make(chan struct{}),
	}
	go m.manage()
	go m.deliver()
	go m.discoverer()
	return m, nil
}

// prepare fills in defaults and checks everything that can be checked without a broker.
func prepare(cfg MQTTConfig) (MQTTConfig, dialer, error) {
	var d dialer
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TopicPrefix == "" {
		cfg.TopicPrefix = DefaultTopicPrefix
	}
	if cfg.DiscoveryPrefix == "" {
		cfg.DiscoveryPrefix = DefaultDiscoveryPrefix
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.retryMin == 0 {
		cfg.retryMin = time.Second
	}
	if cfg.retryMax == 0 {
		cfg.retryMax = 30 * time.Second
	}
	if cfg.connectTimeout == 0 {
		cfg.connectTimeout = 10 * time.Second
	}
	if cfg.discoveryEvery == 0 {
		cfg.discoveryEvery = DiscoveryInterval
	}
	if !siteRE.MatchString(cfg.SiteID) {
		return cfg, d, fmt.Errorf("mqtt: site id %q: want 1-64 letters, digits, '-' or '_'", cfg.SiteID)
	}
	if err := checkPrefix(cfg.TopicPrefix); err != nil {
		return cfg, d, fmt.Errorf("mqtt: topic_prefix %w", err)
	}
	if err := checkPrefix(cfg.DiscoveryPrefix); err != nil {
		return cfg, d, fmt.Errorf("mqtt: discovery_prefix %w", err)
	}
	if cfg.QueueSize < 0 {
		return cfg, d, fmt.Errorf("mqtt: queue size %d is negative", cfg.QueueSize)
	}
	if cfg.KeepAlive < time.Second || cfg.KeepAlive > 65535*time.Second {
		return cfg, d, fmt.Errorf("mqtt: keepalive %s outside 1s-65535s", cfg.KeepAlive)
	}
	if len(cfg.Username) > maxString {
		return cfg, d, fmt.Errorf("mqtt: username of %d bytes: MQTT carries at most %d", len(cfg.Username), maxString)
	}
	broker, useTLS, err := brokerURL(cfg.Broker)
	if err != nil {
		return cfg, d, err
	}
	d = dialer{broker: broker, username: cfg.Username, keepAlive: cfg.KeepAlive, connectTimeout: cfg.connectTimeout}
	if !useTLS && (cfg.CAFile != "" || cfg.CertFile != "" || cfg.KeyFile != "") {
		return cfg, d, fmt.Errorf("mqtt: TLS files given, but broker %s is not a TLS URL (ssl://, mqtts:// or wss://)", broker)
	}
	if useTLS {
		if d.tls, err = tlsConfig(cfg.CAFile, cfg.CertFile, cfg.KeyFile); err != nil {
			return cfg, d, err
		}
	}
	if cfg.PasswordFile != "" {
		if cfg.Username == "" {
			return cfg, d, errors.New("mqtt: password_file needs a username (MQTT sends no password without one)")
		}
		if d.password, err = readPassword(cfg.PasswordFile, cfg.Logger); err != nil {
			return cfg, d, err
		}
	}
	d.clientID = cfg.ClientID
	if d.clientID == "" {
		d.clientID = fmt.Sprintf("wakewordd-%s-%08x", cfg.SiteID, rand.Uint32())
	}
	return cfg, d, nil
}

// brokerURL checks a broker URL and adds the scheme's default port, which paho needs. It
// refuses credentials in the URL: they would show wherever the broker is logged (the
// password belongs in MQTTConfig.PasswordFile), and errors never quote them.
func brokerURL(s string) (string, bool, error) {
	if s == "" {
		return "", false, errors.New("mqtt: no broker URL")
	}
	if shown := logsafe.RedactURL(s); shown != s {
		return "", false, fmt.Errorf("mqtt: broker %q: a user name or password in the URL; give the username and a password_file instead", shown)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", false, fmt.Errorf("mqtt: broker %q: %v", s, errors.Unwrap(err))
	}
	var port string
	switch u.Scheme {
	case "tcp", "mqtt":
		port = "1883"
	case "ssl", "mqtts":
		port = "8883"
	case "ws", "wss": // the WebSocket dialer knows its ports
	default:
		return "", false, fmt.Errorf("mqtt: broker %q: scheme must be tcp, ssl, mqtt, mqtts, ws or wss", s)
	}
	if u.Hostname() == "" {
		return "", false, fmt.Errorf("mqtt: broker %q: no host", s)
	}
	if u.Port() == "" && strings.HasSuffix(u.Host, ":") {
		return "", false, fmt.Errorf("mqtt: broker %q: empty port (leave out the ':' for the default)", s)
	}
	if u.Port() == "" && port != "" {
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	return u.String(), u.Scheme == "ssl" || u.Scheme == "mqtts" || u.Scheme == "wss", nil
}

// maxPEM bounds certificate and key files; real ones are a few KiB.
const maxPEM = 1 << 20

func tlsConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		data, err := limited.ReadFile(caFile, maxPEM)
		if err != nil {
			return nil, fmt.Errorf("mqtt: tls ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("mqtt: tls ca_file %s: no PEM certificate in it", caFile)
		}
		tc.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("mqtt: tls cert_file and key_file go together: give both or neither")
	}
	if certFile != "" {
		certPEM, err := limited.ReadFile(certFile, maxPEM)
		if err != nil {
			return nil, fmt.Errorf("mqtt: tls cert_file: %w", err)
		}
		if !hasPEM(certPEM, "CERTIFICATE") {
			return nil, fmt.Errorf("mqtt: tls cert_file %s: no PEM certificate in it", certFile)
		}
		keyPEM, err := limited.ReadFile(keyFile, maxPEM)
		if err != nil {
			return nil, fmt.Errorf("mqtt: tls key_file: %w", err)
		}
		if !hasPEM(keyPEM, "PRIVATE KEY") {
			return nil, fmt.Errorf("mqtt: tls key_file %s: no PEM private key in it", keyFile)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("mqtt: tls cert_file %s with key_file %s: %v", certFile, keyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// hasPEM reports whether data holds a PEM block whose type ends with kind.
func hasPEM(data []byte, kind string) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if strings.HasSuffix(b.Type, kind) {
			return true
		}
	}
}

func readPassword(path string, log *slog.Logger) (string, error) {
	data, err := limited.ReadFile(path, maxString+2) // and a line end
	if err != nil {
		return "", fmt.Errorf("mqtt: password_file: %w", err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if pw == "" {
		return "", fmt.Errorf("mqtt: password_file %s is empty", path)
	}
	if len(pw) > maxString {
		return "", fmt.Errorf("mqtt: password_file %s: a password of %d bytes; MQTT carries at most %d", path, len(pw), maxString)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o004 != 0 {
		log.Warn("mqtt: the password file is readable by every user", "path", path)
	}
	return pw, nil
}

// options are the paho options of one connection attempt; will adds the Last Will that
// marks the site offline.
func (d dialer) options(will string, onLost func(error)) *paho.ClientOptions {
	o := paho.NewClientOptions().
		AddBroker(d.broker).
		SetClientID(d.clientID).
		SetProtocolVersion(4).
		SetCleanSession(true).
		// Reconnection, resubscription and redelivery are ours (manage, deliver): paho's
		// would keep a dead connection's tokens pending and hide failures.
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(d.keepAlive).
		SetPingTimeout(10 * time.Second).
		SetConnectTimeout(d.connectTimeout).
		SetWriteTimeout(10 * time.Second).
		// Payloads over MaxPayload are dropped as they arrive, never held in memory.
		SetCustomOpenConnectionFn(openConn)
	if d.username != "" {
		o.SetUsername(d.username)
		o.SetPassword(d.password)
	}
	if d.tls != nil {
		o.SetTLSConfig(d.tls)
	}
	if will != "" {
		o.SetWill(will, "offline", 1, true)
	}
	if onLost != nil {
		o.SetConnectionLostHandler(func(_ paho.Client, err error) { onLost(err) })
	}
	return o
}

// notifyLocked wakes everything waiting on a change. m.mu must be held.
func (m *MQTT) notifyLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// Publish queues e for delivery. When the queue is full, the oldest waiting event is
// dropped and counted.
func (m *MQTT) Publish(e Event) {
	e = e.filled()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		m.dropped++
		m.log.Warn("mqtt: detection after close, dropped", "keyword", e.Keyword, "id", e.ID)
		return
	}
	if len(m.queue) >= m.cfg.QueueSize {
		old := m.queue[0]
		m.queue[0] = queued{}
		m.queue = m.queue[1:]
		m.dropped++
		if m.dropRun == 0 {
			m.log.Warn("mqtt: queue full, dropping the oldest detections", "queue", m.cfg.QueueSize,
				"dropped_id", old.ev.ID, "connected", m.conn != nil)
		}
		m.dropRun++
	}
	m.lastSeq++
	m.queue = append(m.queue, queued{seq: m.lastSeq, ev: e})
	m.notifyLocked()
}

// settledLocked reports whether every event up to seq was delivered or dropped.
func (m *MQTT) settledLocked(seq uint64) bool {
	return (m.inflight == nil || m.inflight.seq > seq) && (len(m.queue) == 0 || m.queue[0].seq > seq)
}

func (m *MQTT) pendingLocked() int {
	n := len(m.queue)
	if m.inflight != nil {
		n++
	}
	return n
}

// Flush waits until every event published so far is acknowledged by the broker (or was
// dropped from a full queue), or ctx ends.
func (m *MQTT) Flush(ctx context.Context) error {
	m.mu.Lock()
	target := m.lastSeq
	for !m.settledLocked(target) {
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			m.mu.Lock()
			n := m.pendingLocked()
			m.mu.Unlock()
			return fmt.Errorf("mqtt: %d detections not delivered: %w", n, ctx.Err())
		}
		m.mu.Lock()
	}
	m.mu.Unlock()
	return nil
}

// Close flushes (bounded by ctx), publishes the retained "offline" status itself, since a
// clean disconnect discards the Last Will, and disconnects. Later calls return the first
// call's result.
func (m *MQTT) Close(ctx context.Context) error {
	m.closeOnce.Do(func() { m.closeErr = m.close(ctx) })
	return m.closeErr
}

func (m *MQTT) close(ctx context.Context) error {
	err := m.Flush(ctx)
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	close(m.quit)
	select {
	case <-m.managerDone:
	case <-ctx.Done():
		return errors.Join(err, fmt.Errorf("mqtt: close: %w", ctx.Err()))
	}
	<-m.workerDone // they return as soon as they see quit
	<-m.discDone
	m.mu.Lock()
	c := m.conn
	m.conn = nil
	m.notifyLocked()
	m.mu.Unlock()
	if c != nil && !c.isLost() {
		t := c.client.Publish(m.topics.status, 1, true, "offline")
		select {
		case <-t.Done():
			if t.Error() != nil {
				err = errors.Join(err, fmt.Errorf("mqtt: publishing offline status: %w", t.Error()))
			}
		case <-c.lost:
		case <-ctx.Done(): // Disconnect still sends it first
		}
		c.client.Disconnect(250)
	}
	return err
}

// SetKeywords replaces the enabled keywords, the Home Assistant event types, and
// re-publishes discovery when they changed (at most once per DiscoveryInterval).
func (m *MQTT) SetKeywords(kws []string) {
	m.mu.Lock()
	changed := !slices.Equal(m.keywords, kws)
	if changed {
		m.keywords = slices.Clone(kws)
		m.kwGen++
	}
	m.mu.Unlock()
	if changed {
		m.kickDiscovery()
	}
}

// kickDiscovery asks discoverer to re-publish discovery if it is stale.
func (m *MQTT) kickDiscovery() {
	select {
	case m.discKick <- struct{}{}:
	default: // already asked
	}
}

// discoverer re-publishes the discovery config when asked, on the current connection, at
// most once per discoveryEvery: requests meanwhile coalesce into one, which publishes the
// keywords of its moment. A new connection publishes discovery itself (announce).
func (m *MQTT) discoverer() {
	defer close(m.discDone)
	if !m.cfg.Discovery {
		return
	}
	for {
		select {
		case <-m.discKick:
		case <-m.quit:
			return
		}
		m.mu.Lock()
		c, gen, force := m.conn, m.kwGen, m.discForce
		m.discForce = false
		m.mu.Unlock()
		if c == nil || c.isLost() {
			continue
		}
		m.discMu.Lock()
		stale := c.discGen != gen
		m.discMu.Unlock()
		if !stale && !force {
			continue
		}
		if err := m.wait(c, m.publishDiscovery(c)); err != nil {
			m.log.Debug("mqtt: re-publishing discovery failed", "err", err)
		}
		if !m.pause(m.cfg.discoveryEvery) {
			return
		}
	}
}

// Stats returns the counters.
func (m *MQTT) Stats() MQTTStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return MQTTStats{
		Connected: m.conn != nil && !m.conn.isLost(),
		Published: m.published, Queued: uint64(m.pendingLocked()), Dropped: m.dropped, Reconnects: m.reconnects,
	}
}

// stableAfter is how long a connection must last for its loss to reset the backoff: one
// that drops at once (another client with our id, a broker that refuses us after CONNACK)
// must not turn into a tight reconnect loop.
const stableAfter = 10 * time.Second

// manage connects, announces, waits for the connection to drop, and starts over, backing
// off while the broker stays away. Each failure is logged once (at warn) per change of
// reason; repeats go to debug.
func (m *MQTT) manage() {
	defer close(m.managerDone)
	wait := m.cfg.retryMin
	var lastErr, lastLost string
	var connects uint64
	down := time.Now() // since when we have been without a connection
	for {
		c := &conn{lost: make(chan struct{})}
		c.client = paho.NewClient(m.dial.options(m.topics.status, c.markLost))
		tok := c.client.Connect()
		select {
		case <-tok.Done():
		case <-m.quit:
			go func() {
				if tok.Wait() && tok.Error() == nil {
					c.client.Disconnect(0)
				}
			}()
			return
		}
		err := tok.Error()
		if err == nil {
			connects++
			if err = m.announce(c); err != nil {
				if m.stopping() {
					m.setConn(c) // Close marks the site offline
					return
				}
				c.client.Disconnect(0)
				err = fmt.Errorf("announcing: %w", err)
			}
		}
		if err != nil {
			m.logFailure("mqtt: cannot connect, retrying", err, &lastErr, wait)
			if !m.pause(wait) {
				return
			}
			wait = min(2*wait, m.cfg.retryMax)
			continue
		}
		m.setConn(c)
		up := time.Now()
		attrs := []any{"broker", m.dial.shown(), "client_id", m.dial.clientID}
		if connects > 1 {
			m.mu.Lock()
			m.reconnects++
			n := m.pendingLocked()
			m.mu.Unlock()
			attrs = append(attrs, "down", up.Sub(down).Round(time.Millisecond), "queued", n)
		}
		m.log.Info("mqtt: connected", attrs...)
		select {
		case <-c.lost:
		case <-m.quit:
			return
		}
		down = time.Now()
		m.mu.Lock()
		if m.conn == c {
			m.conn = nil
			m.notifyLocked()
		}
		m.mu.Unlock()
		if down.Sub(up) >= stableAfter {
			wait, lastErr, lastLost = m.cfg.retryMin, "", ""
			m.logFailure("mqtt: connection lost, reconnecting", c.lostErr, &lastLost, 0)
			continue
		}
		m.logFailure("mqtt: connection lost soon after connecting, reconnecting", c.lostErr, &lastLost, wait)
		if !m.pause(wait) {
			return
		}
		wait = min(2*wait, m.cfg.retryMax)
	}
}

// logFailure logs err at warn when its message differs from *last, else at debug.
func (m *MQTT) logFailure(msg string, err error, last *string, retryIn time.Duration) {
	reason := fmt.Sprint(err)
	attrs := []any{"broker", m.dial.shown(), "err", reason}
	if retryIn > 0 {
		attrs = append(attrs, "retry_in", retryIn)
	}
	if reason != *last {
		*last = reason
		m.log.Warn(msg, attrs...)
		return
	}
	m.log.Debug(msg, attrs...)
}

// pause sleeps about d, ±20% so that satellites restarted together do not retry in step;
// false means Close was called.
func (m *MQTT) pause(d time.Duration) bool {
	t := time.NewTimer(time.Duration(float64(d) * (0.8 + 0.4*rand.Float64())))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-m.quit:
		return false
	}
}

func (m *MQTT) stopping() bool {
	select {
	case <-m.quit:
		return true
	default:
		return false
	}
}

func (m *MQTT) setConn(c *conn) {
	m.mu.Lock()
	m.conn = c
	m.notifyLocked()
	gen := m.kwGen
	m.mu.Unlock()
	if m.cfg.Discovery {
		m.discMu.Lock()
		stale := c.discGen != gen
		m.discMu.Unlock()
		if stale { // SetKeywords ran while announcing
			m.kickDiscovery()
		}
	}
}

// announce subscribes to the command topics and publishes the retained online status and
// discovery: what every new (clean) session needs.
func (m *MQTT) announce(c *conn) error {
	subs := map[string]paho.MessageHandler{m.topics.keywordSet: m.handler(m.onKeywordSet)}
	if m.cfg.Hermes {
		subs[hermesToggleOff] = m.handler(m.onHermesToggle(false))
		subs[hermesToggleOn] = m.handler(m.onHermesToggle(true))
	}
	if m.cfg.Discovery {
		subs[m.topics.haStatus] = m.handler(m.onHAStatus)
	}
	type pending struct {
		what string
		tok  paho.Token
	}
	var toks []pending
	for _, filter := range slices.Sorted(maps.Keys(subs)) {
		toks = append(toks, pending{"subscribing to " + filter, c.client.Subscribe(filter, 1, subs[filter])})
	}
	toks = append(toks, pending{"publishing online status", c.client.Publish(m.topics.status, 1, true, "online")})
	if m.cfg.Discovery {
		toks = append(toks, pending{"publishing discovery", m.publishDiscovery(c)})
	}
	for _, p := range toks {
		if err := m.wait(c, p.tok); err != nil {
			if c.isLost() || !c.client.IsConnectionOpen() {
				// One reason whichever step the drop interrupted, so that a broker
				// that keeps closing the connection (a twin with the same client id)
				// is warned about once, not once per step.
				return errLostWhileAnnouncing
			}
			return fmt.Errorf("%s: %w", p.what, err)
		}
		if st, ok := p.tok.(*paho.SubscribeToken); ok {
			for filter, code := range st.Result() {
				if code >= 0x80 {
					m.log.Warn("mqtt: the broker refused a subscription (check its ACL)", "topic", filter)
				}
			}
		}
	}
	return nil
}

var errLostWhileAnnouncing = errors.New("connection lost while subscribing and publishing the online status")

// publishDiscovery publishes the Home Assistant discovery config with the current keywords.
func (m *MQTT) publishDiscovery(c *conn) paho.Token {
	m.discMu.Lock()
	defer m.discMu.Unlock()
	m.mu.Lock()
	kws, gen := m.keywords, m.kwGen
	m.mu.Unlock()
	c.discGen = gen
	return c.client.Publish(m.topics.discovery, 1, true,
		discoveryPayload(m.topics, m.cfg.SiteID, m.cfg.Model, m.cfg.Version, kws))
}

// wait waits for a token, the connection's loss, Close, or a timeout long enough for a
// live broker (a dead one is noticed by keep-alive pings first).
func (m *MQTT) wait(c *conn, t paho.Token) error {
	timer := time.NewTimer(m.cfg.KeepAlive + 10*time.Second)
	defer timer.Stop()
	select {
	case <-t.Done():
		return t.Error()
	case <-c.lost:
		return errors.New("connection lost")
	case <-m.quit:
		return errors.New("closing")
	case <-timer.C:
		return errors.New("no acknowledgement from the broker")
	}
}

// deliver sends queued events one at a time, each acknowledged before the next, so that
// they arrive in order; an event whose delivery fails is retried, on the next connection
// if this one is gone.
func (m *MQTT) deliver() {
	defer close(m.workerDone)
	for {
		m.mu.Lock()
		c, ch := m.conn, m.changed
		if c != nil && c.isLost() {
			c = nil
		}
		// Taken off the queue only when it can be sent, so that the queue alone holds
		// QueueSize events while the broker is away.
		if c != nil && m.inflight == nil && len(m.queue) > 0 {
			q := m.queue[0]
			m.queue[0] = queued{}
			m.queue = m.queue[1:]
			m.inflight = &q
		}
		q := m.inflight
		m.mu.Unlock()
		if q == nil || c == nil {
			select {
			case <-ch:
				continue
			case <-m.quit:
				return
			}
		}
		err := m.send(c, q.ev)
		m.mu.Lock()
		var dropped uint64
		if err == nil {
			m.inflight = nil
			m.published++
			dropped, m.dropRun = m.dropRun, 0
			m.notifyLocked()
		}
		m.mu.Unlock()
		if dropped > 0 {
			m.log.Warn("mqtt: detections were dropped while the queue was full", "dropped", dropped)
		}
		if err == nil {
			continue
		}
		if m.stopping() {
			return
		}
		m.log.Debug("mqtt: delivery failed, will retry", "id", q.ev.ID, "err", err)
		pause := time.NewTimer(time.Second)
		select {
		case <-c.lost:
		case <-pause.C:
		case <-m.quit:
			pause.Stop()
			return
		}
		pause.Stop()
	}
}

// send publishes one event (and its Hermes twin) and waits for the acknowledgements.
func (m *MQTT) send(c *conn, e Event) error {
	toks := []paho.Token{c.client.Publish(m.topics.detected, 1, false, eventPayload(e, m.cfg.SiteID))}
	if m.cfg.Hermes {
		if topicLevelOK(e.Keyword) {
			toks = append(toks, c.client.Publish(hermesDetected(e.Keyword), 1, false, hermesPayload(e, m.cfg.SiteID)))
		} else {
			m.log.Warn("mqtt: keyword cannot be a Hermes topic level, not sent there", "keyword", e.Keyword)
		}
	}
	for _, t := range toks {
		if err := m.wait(c, t); err != nil {
			return err
		}
	}
	return nil
}

// handler wraps a message parser: a payload that is too big or malformed is logged and
// ignored.
func (m *MQTT) handler(f func(topic string, payload []byte) error) paho.MessageHandler {
	return func(_ paho.Client, msg paho.Message) {
		p := msg.Payload()
		var err error
		if n, ok := oversized(p); ok {
			err = fmt.Errorf("payload of %d bytes is over the %d-byte limit (dropped unread)", n, MaxPayload)
		} else if len(p) > MaxPayload {
			err = fmt.Errorf("payload of %d bytes is over the %d-byte limit", len(p), MaxPayload)
		} else {
			err = f(msg.Topic(), p)
		}
		if err != nil {
			// Topics and payloads are anyone's on the broker: quote them bounded.
			m.log.Warn("mqtt: ignoring malformed message", "topic", logsafe.Clip(msg.Topic()), "reason", logsafe.Clip(err.Error()))
		}
	}
}

func (m *MQTT) onKeywordSet(topic string, p []byte) error {
	kw, err := m.topics.keywordOf(topic)
	if err != nil {
		return err
	}
	on, err := parseSwitch(p)
	if err != nil {
		return err
	}
	m.log.Info("mqtt: keyword switched", "keyword", kw, "on", on)
	if m.cfg.OnToggle != nil {
		m.cfg.OnToggle(kw, on)
	}
	return nil
}

func (m *MQTT) onHermesToggle(on bool) func(string, []byte) error {
	return func(topic string, p []byte) error {
		site, reason, err := parseHermesToggle(p)
		if err != nil {
			return err
		}
		if site != m.cfg.SiteID {
			m.log.Debug("mqtt: hermes toggle for another site", "site_id", logsafe.Clip(site), "on", on)
			return nil
		}
		m.log.Info("mqtt: hermes hotword toggle", "on", on, "reason", logsafe.Clip(reason))
		if m.cfg.OnToggle != nil {
			m.cfg.OnToggle("", on)
		}
		return nil
	}
}

func (m *MQTT) onHAStatus(topic string, p []byte) error {
	online, err := parseHAStatus(p)
	if err != nil {
		return err
	}
	if online {
		m.log.Debug("mqtt: home assistant is online, re-publishing discovery")
		m.mu.Lock()
		m.discForce = true
		m.mu.Unlock()
		m.kickDiscovery() // paho's Publish must not run in its message handler
	}
	return nil
}

// RemoveDiscovery clears the retained discovery config and status of cfg's site (for
// uninstalling): it connects, publishes empty retained payloads, and disconnects. It fails
// if the broker cannot be reached before ctx ends.
func RemoveDiscovery(ctx context.Context, cfg MQTTConfig) error {
	cfg, d, err := prepare(cfg)
	if err != nil {
		return err
	}
	c, err := connectBefore(ctx, d, cfg)
	if err != nil {
		return fmt.Errorf("mqtt: removing discovery: %w", err)
	}
	defer c.client.Disconnect(250)
	t := newTopics(cfg.TopicPrefix, cfg.DiscoveryPrefix, cfg.SiteID)
	for _, topic := range []string{t.discovery, t.status} {
		pt := c.client.Publish(topic, 1, true, []byte{})
		select {
		case <-pt.Done():
			if pt.Error() != nil {
				return fmt.Errorf("mqtt: removing %s: %w", topic, pt.Error())
			}
		case <-c.lost:
			return fmt.Errorf("mqtt: removing %s: connection lost: %w", topic, c.lostErr)
		case <-ctx.Done():
			return fmt.Errorf("mqtt: removing %s: %w", topic, ctx.Err())
		}
	}
	return nil
}

// connectBefore connects without a Last Will, retrying until ctx ends.
func connectBefore(ctx context.Context, d dialer, cfg MQTTConfig) (*conn, error) {
	wait := cfg.retryMin
	for {
		c := &conn{lost: make(chan struct{})}
		c.client = paho.NewClient(d.options("", c.markLost))
		tok := c.client.Connect()
		select {
		case <-tok.Done():
		case <-ctx.Done():
			go func() {
				if tok.Wait() && tok.Error() == nil {
					c.client.Disconnect(0)
				}
			}()
			return nil, fmt.Errorf("broker %s not reached: %w", d.shown(), ctx.Err())
		}
		err := tok.Error()
		if err == nil {
			return c, nil
		}
		cfg.Logger.Debug("mqtt: cannot connect", "broker", d.shown(), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("broker %s: %w", d.shown(), err)
		}
		wait = min(2*wait, cfg.retryMax)
	}
}
