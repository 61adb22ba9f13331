package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// broker is a mosquitto on a free 127.0.0.1 port with persistence on: retained messages
// and persistent sessions (the subscriber's subscription and the QoS 1 messages queued
// for it) are saved when it stops on SIGTERM and read again when it starts.
type broker struct {
	bin, conf string
	port      int
	log       io.Writer // its output, across restarts

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// brokerConfig is the mosquitto.conf of a broker on port keeping its persistence in dir.
func brokerConfig(port int, dir string, root bool) string {
	conf := ""
	if root {
		// Dropping root privileges to the mosquitto user would lose access to dir.
		conf += "user root\n"
	}
	conf += fmt.Sprintf("persistence true\npersistence_location %s/\n", dir)
	conf += "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\nlog_timestamp_format %Y-%m-%dT%H:%M:%S\n"
	conf += fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", port)
	return conf
}

// startBroker writes the configuration under dir and starts mosquitto.
func startBroker(bin, dir string, log io.Writer) (*broker, error) {
	if bin == "" {
		for _, p := range []string{"mosquitto", "/usr/sbin/mosquitto"} {
			if path, err := exec.LookPath(p); err == nil {
				bin = path
				break
			}
		}
		if bin == "" {
			return nil, fmt.Errorf("mosquitto is not installed (scripts/setup.sh test installs it)")
		}
	}
	root := false
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		root = true
	}
	b := &broker{bin: bin, conf: filepath.Join(dir, "mosquitto.conf"), log: log}
	var err error
	// The port is free when chosen but could be taken before mosquitto binds it: retry.
	for range 5 {
		if b.port, err = freePort(); err != nil {
			return nil, err
		}
		if err = os.WriteFile(b.conf, []byte(brokerConfig(b.port, dir, root)), 0o600); err != nil {
			return nil, err
		}
		if err = b.start(); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("mosquitto: %w", err)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (b *broker) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

func (b *broker) url() string { return "tcp://" + b.addr() }

// start runs mosquitto and waits until it accepts connections.
func (b *broker) start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	cmd := exec.Command(b.bin, "-c", b.conf)
	cmd.Stdout, cmd.Stderr = b.log, b.log
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", b.addr(), time.Second)
		if err == nil {
			c.Close()
			b.cmd, b.done = cmd, done
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("mosquitto exited at start (%v)", cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("mosquitto not accepting connections on %s after 10s", b.addr())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop ends the broker with SIGTERM (it saves its persistence file), waiting for it; after
// 10 s it is killed. It does nothing when the broker is not running.
func (b *broker) stop() {
	b.mu.Lock()
	cmd, done := b.cmd, b.done
	b.cmd = nil
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// restart stops the broker, leaves it down for down, and starts it again on the same
// port; it returns how long the broker was away.
func (b *broker) restart(down time.Duration) (time.Duration, error) {
	t0 := time.Now()
	b.stop()
	time.Sleep(down)
	var err error
	// The old socket may linger for a moment.
	for range 100 {
		if err = b.start(); err == nil {
			return time.Since(t0), nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(t0), fmt.Errorf("mosquitto restart: %w", err)
}
