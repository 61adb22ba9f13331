// Package mqtttest runs a real mosquitto broker for tests, on a free 127.0.0.1 port with a
// temporary configuration, and subscribes to it with paho.
//
// Without mosquitto installed, tests that need it are skipped, except under CI (CI set),
// where they fail: scripts/setup.sh test installs mosquitto, mosquitto-clients and openssl.
package mqtttest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wakewordd/wakewordd/internal/syncbuf"
)

// Broker is a running mosquitto.
type Broker struct {
	t    testing.TB
	bin  string
	dir  string
	conf string
	port int

	// Client credentials for the options given: paths of PEM files (WithTLS), and the user
	// and password (WithPassword).
	CAFile, CertFile, KeyFile string
	Username, Password        string

	tls bool

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}  // closed when cmd has exited
	log  syncbuf.Buffer // the broker's output, shown when a test fails
}

// Option configures a Broker.
type Option func(*options)

type options struct {
	tls         bool
	user, pass  string
	persistence bool
}

// WithTLS serves TLS only, with a fresh CA, a server certificate for 127.0.0.1 and
// localhost, and required client certificates; Broker.CAFile, CertFile and KeyFile are the
// client's files.
func WithTLS() Option { return func(o *options) { o.tls = true } }

// WithPassword refuses anonymous clients and accepts user with pass.
func WithPassword(user, pass string) Option {
	return func(o *options) { o.user, o.pass = user, pass }
}

// WithPersistence keeps retained messages and persistent sessions (subscriptions and
// their queued messages) across Stop and Restart, as a broker with persistence on does.
func WithPersistence() Option { return func(o *options) { o.persistence = true } }

// need finds a program or skips the test (fails it in CI).
func need(t testing.TB, name string, more ...string) string {
	t.Helper()
	for _, p := range append([]string{name}, more...) {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := fmt.Sprintf("%s is not installed (scripts/setup.sh test installs it)", name)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Start runs mosquitto until the test ends.
func Start(t testing.TB, opts ...Option) *Broker {
	t.Helper()
	var o options
	for _, f := range opts {
		f(&o)
	}
	b := &Broker{t: t, bin: need(t, "mosquitto", "/usr/sbin/mosquitto"), dir: t.TempDir(), tls: o.tls}
	var conf bytes.Buffer
	// Dropping root privileges to the mosquitto user would lose access to the temporary
	// directory.
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		conf.WriteString("user root\n")
	}
	if o.persistence {
		fmt.Fprintf(&conf, "persistence true\npersistence_location %s/\n", b.dir)
	} else {
		conf.WriteString("persistence false\n")
	}
	conf.WriteString("log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n")
	listener := "allow_anonymous true\n"
	if o.user != "" {
		pwfile := filepath.Join(b.dir, "passwd")
		run(t, need(t, "mosquitto_passwd", "/usr/bin/mosquitto_passwd"), "-b", "-c", pwfile, o.user, o.pass)
		listener = fmt.Sprintf("allow_anonymous false\npassword_file %s\n", pwfile)
		b.Username, b.Password = o.user, o.pass
	}
	if o.tls {
		b.makeCerts()
		listener += fmt.Sprintf("cafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\n",
			b.CAFile, filepath.Join(b.dir, "server.crt"), filepath.Join(b.dir, "server.key"))
	}
	// The port is free when chosen but could be taken before mosquitto binds it: retry.
	var err error
	for range 5 {
		b.port = freePort(t)
		b.conf = filepath.Join(b.dir, "mosquitto.conf")
		text := fmt.Sprintf("%slistener %d 127.0.0.1\n%s", conf.String(), b.port, listener)
		if err = os.WriteFile(b.conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err = b.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("mosquitto: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mosquitto output:\n%s", b.log.String())
		}
		b.Stop()
	})
	return b
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(name), args, err, out)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs mosquitto and waits until it accepts connections.
func (b *Broker) start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	cmd := exec.Command(b.bin, "-c", b.conf)
	cmd.Stdout, cmd.Stderr = &b.log, &b.log
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	b.cmd, b.done = cmd, done
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", b.addr(), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("exited at start: %s", b.log.String())
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("not accepting connections on %s after 10s", b.addr())
		}
		b.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		b.mu.Lock()
	}
}

func (b *Broker) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

// Port is the broker's port on 127.0.0.1.
func (b *Broker) Port() int { return b.port }

// URL is the broker's URL: tcp://127.0.0.1:PORT, or ssl://... with WithTLS.
func (b *Broker) URL() string {
	if b.tls {
		return "ssl://" + b.addr()
	}
	return "tcp://" + b.addr()
}

// Stop ends the broker gracefully (SIGTERM; it saves its persistence file), waiting for it.
// It does nothing when the broker is not running.
func (b *Broker) Stop() { b.signal(syscall.SIGTERM) }

// Kill ends the broker abruptly (SIGKILL), as a crash would.
func (b *Broker) Kill() { b.signal(syscall.SIGKILL) }

func (b *Broker) signal(sig syscall.Signal) {
	b.mu.Lock()
	cmd, done := b.cmd, b.done
	b.cmd = nil
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// Restart stops the broker if it runs and starts it again on the same port.
func (b *Broker) Restart() {
	b.t.Helper()
	b.Stop()
	var err error
	// The old socket may linger for a moment.
	for range 20 {
		if err = b.start(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.t.Fatalf("mosquitto restart: %v", err)
}

// makeCerts writes a CA, a server certificate and a client certificate with openssl.
func (b *Broker) makeCerts() {
	t := b.t
	t.Helper()
	openssl := need(t, "openssl")
	f := func(name string) string { return filepath.Join(b.dir, name) }
	ec := []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"}
	run(t, openssl, append(append([]string{"req", "-x509"}, ec...),
		"-keyout", f("ca.key"), "-out", f("ca.crt"), "-days", "2", "-subj", "/CN=mqtttest CA")...)
	if err := os.WriteFile(f("server.ext"), []byte("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f("client.ext"), []byte("extendedKeyUsage=clientAuth\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"server", "client"} {
		run(t, openssl, append(append([]string{"req"}, ec...),
			"-keyout", f(who+".key"), "-out", f(who+".csr"), "-subj", "/CN=mqtttest "+who)...)
		run(t, openssl, "x509", "-req", "-in", f(who+".csr"), "-CA", f("ca.crt"), "-CAkey", f("ca.key"),
			"-CAcreateserial", "-out", f(who+".crt"), "-days", "2", "-extfile", f(who+".ext"))
	}
	b.CAFile, b.CertFile, b.KeyFile = f("ca.crt"), f("client.crt"), f("client.key")
}
