package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const upstreamWyoming = "../../../shared/clients/wyoming-1.7.0"

// The "done when": `wakewordd run --device none --wyoming tcp://127.0.0.1:PORT`
// serves four upstream clients at once, each with the detections `wakewordd detect`
// reports for the same file; they are logged, and counted in the stats line and in
// systemd's STATUS, which comes with READY=1 although there is no microphone.
func TestWyomingFourClients(t *testing.T) {
	if _, err := os.Stat(shippedModel); err != nil {
		t.Skip("no trained model at models/kwt.safetensors")
	}
	if _, err := os.Stat(filepath.Join(upstreamWyoming, "wyoming", "event.py")); err != nil {
		t.Skip("upstream Wyoming client not found at ../shared/clients/wyoming-1.7.0 (the shared folder beside the repository)")
	}
	model := []string{"--model", shippedModel, "--gate", "../../models/kwt-stream.safetensors"}
	const example = "../../examples/kitchen.wav"
	stdout, stderr, code := wakewordd(t, nil, append(append([]string{"detect", "--json"}, model...), example)...)
	if code != 0 {
		t.Fatalf("detect: exit %d: %s", code, stderr)
	}
	var want []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var d struct {
			Keyword string  `json:"keyword"`
			TimeS   float64 `json:"time_s"`
		}
		jsonField(t, line, &d)
		want = append(want, fmt.Sprintf("%s@%d", d.Keyword, int(math.Round(d.TimeS*1000))))
	}
	if len(want) != 2 {
		t.Fatalf("detect on the example: %v, want alexa and jarvis", want)
	}

	dir, err := os.MkdirTemp("", "wwy") // short: unix socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	notes, closeNotes := notifySocket(t, filepath.Join(dir, "notify"))
	defer closeNotes()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(binPath, append([]string{"run", "--device", "none", "--wyoming", "tcp://" + addr, "--stats-interval", "300ms"}, model...)...)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+filepath.Join(dir, "notify"), "HOME="+t.TempDir())
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var logMu sync.Mutex
	var log strings.Builder
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		for s := bufio.NewScanner(pipe); s.Scan(); {
			logMu.Lock()
			log.WriteString(s.Text() + "\n")
			logMu.Unlock()
		}
	}()
	logText := func() string {
		logMu.Lock()
		defer logMu.Unlock()
		return log.String()
	}
	waitFor(t, notes, "READY=1", logText)

	var wg sync.WaitGroup
	got := make([]string, 4)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := exec.Command("/usr/bin/python3", "../../wyoming/testdata/client.py", "tcp://"+addr, "stream", example)
			c.Env = append(os.Environ(), "PYTHONPATH="+upstreamWyoming)
			var errb bytes.Buffer
			c.Stderr = &errb
			out, err := c.Output()
			if err != nil {
				got[i] = fmt.Sprintf("client failed: %v: %s", err, errb.String())
				return
			}
			var dets []string
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				var e struct {
					Type string         `json:"type"`
					Data map[string]any `json:"data"`
				}
				if json.Unmarshal([]byte(line), &e) == nil && e.Type == "detection" {
					dets = append(dets, fmt.Sprintf("%v@%v", e.Data["name"], e.Data["timestamp"]))
				} else if e.Type != "pong" {
					dets = append(dets, line)
				}
			}
			got[i] = strings.Join(dets, " ")
		}()
	}
	wg.Wait()
	for i, g := range got {
		if g != strings.Join(want, " ") {
			t.Errorf("client %d: %s; want %s (wakewordd detect)", i, g, strings.Join(want, " "))
		}
	}
	waitFor(t, notes, "Wyoming "+addr+": 0 clients, 8 detections", logText)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logText(), `wyoming="0 clients, 4 connections (0 refused), 8 detections`); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no stats line counting the Wyoming detections:\n%s", logText())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-logDone
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, logText())
	}
	if n := strings.Count(logText(), `msg="detected over Wyoming"`); n != 8 {
		t.Errorf("%d detections logged, want 8:\n%s", n, logText())
	}
}

// notifySocket listens as systemd's NOTIFY_SOCKET and passes on what arrives.
func notifySocket(t *testing.T, path string) (<-chan string, func()) {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	msgs := make(chan string, 1000)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				close(msgs)
				return
			}
			select {
			case msgs <- string(buf[:n]):
			default:
			}
		}
	}()
	return msgs, func() { conn.Close() }
}

// waitFor waits for a notification that contains want.
func waitFor(t *testing.T, msgs <-chan string, want string, log func() string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	var seen []string
	for {
		select {
		case m := <-msgs:
			if strings.Contains(m, want) {
				return
			}
			seen = append(seen, m)
		case <-deadline:
			t.Fatalf("no notification with %q; saw %q\nlog:\n%s", want, seen, log())
		}
	}
}
