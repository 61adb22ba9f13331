// Command wyoming measures the Wyoming server under load on this machine: the memory each
// additional connection costs, the load of one stream (the fraction of one core it needs),
// and how many streams paced in real time it serves with every one of them keeping up.
//
//	go run ./bench/wyoming [-model models/kwt.safetensors] [-input examples/kitchen.wav] [-seconds 20] [-streams 8,16,24,32]
//
// The server runs in this process as `wakewordd run --device none --wyoming ...` runs it
// (the model behind its gate, as configured by default); the clients are goroutines that
// speak the protocol over loopback TCP, as Home Assistant does: detect, audio-start, 16 kHz
// 16-bit mono chunks, audio-stop. Paced clients send a 100 ms chunk every 100 ms (looping
// the input) and a ping every second; the ping's round trip is how far the server is
// behind that stream, since it answers a connection's events in order.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/config"
	"github.com/wakewordd/wakewordd/listener"
	"github.com/wakewordd/wakewordd/wyoming"
)

func main() {
	model := flag.String("model", "", "model file (default: as wakewordd run finds it, with its gate)")
	input := flag.String("input", "examples/kitchen.wav", "audio every client streams (looped)")
	seconds := flag.Float64("seconds", 20, "length of each paced run")
	streamList := flag.String("streams", "", "paced runs to make, e.g. 8,16,24 (default: around the measured capacity)")
	memConns := flag.Int("mem-conns", 16, "connections opened to measure the memory of one")
	flag.Parse()
	if err := run(*model, *input, *seconds, *streamList, *memConns); err != nil {
		fmt.Fprintln(os.Stderr, "wyoming bench:", err)
		os.Exit(1)
	}
}

func run(model, input string, seconds float64, streamList string, memConns int) error {
	c := config.Default()
	c.Model.Path = model
	spec, err := listener.Load(c, nil)
	if err != nil {
		return err
	}
	pcm, err := load16k(input)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv, err := wyoming.Serve(ln, wyoming.Config{Spec: spec, MaxClients: config.MaxWyomingClients, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer srv.Close()
	addr := ln.Addr().String()
	fmt.Printf("machine: %d CPUs (GOMAXPROCS %d), %s; model %s, %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOARCH, spec.Model.Path, spec.Pass())
	fmt.Printf("input: %s, %.1f s\n\n", input, float64(len(pcm))/2/audio.TargetRate)

	// Memory: connections with a stream open (each has built its listener).
	heap0, rss0 := liveHeap(), rss()
	var conns []*client
	for range memConns {
		cl, err := dial(addr)
		if err != nil {
			return err
		}
		if err := cl.start(); err != nil {
			return err
		}
		if err := cl.send(pcm[:audio.TargetRate*2]); err != nil { // 1 s
			return err
		}
		if _, err := cl.ping(); err != nil {
			return err
		}
		conns = append(conns, cl)
	}
	heap1, rss1 := liveHeap(), rss()
	fmt.Printf("memory per connection with a stream open (%d connections): %.0f KiB of live Go heap, %.0f KiB of RSS\n\n",
		memConns, float64(heap1-heap0)/float64(memConns)/1024, float64(rss1-rss0)/float64(memConns)/1024)
	for _, cl := range conns {
		cl.c.Close()
	}

	// Load: streams as fast as the server takes them.
	fmt.Println("unpaced: every client streams the input 3 times as fast as the server takes it")
	fmt.Println("streams  audio_s  wall_s  cpu_s  cpu_s per audio_s (one stream's load)  real-time streams the CPUs' time allows")
	var capacity float64
	for _, n := range []int{1, 2, 4} {
		st0, cpu0, t0 := srv.Stats(), cpuTime(), time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- streamOnce(addr, pcm, 3)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return err
			}
		}
		wall, cpu, st := time.Since(t0), cpuTime()-cpu0, srv.Stats()
		audioS := (st.Audio - st0.Audio).Seconds()
		// The process's CPU time (the clients' share included) per second of audio is one
		// stream's load; the CPUs carry as many real-time streams as fit.
		load := cpu.Seconds() / audioS
		capacity = float64(runtime.NumCPU()) / load
		fmt.Printf("%7d  %7.1f  %6.2f  %5.2f  %34.4f  %.0f\n", n, audioS, wall.Seconds(), cpu.Seconds(), load, capacity)
	}

	// Paced: n streams in real time; every one must keep up.
	var list []int
	if streamList != "" {
		for _, f := range strings.Split(streamList, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return fmt.Errorf("-streams: %q", f)
			}
			list = append(list, n)
		}
	} else {
		for _, f := range []float64{0.1, 0.25, 0.5, 0.75, 1.0} {
			list = append(list, max(1, int(math.Round(capacity*f))))
		}
		list = slices.Compact(list)
	}
	fmt.Printf("\npaced: n streams of 100 ms chunks every 100 ms for %.0f s; ping round trip = how far behind the server is\n", seconds)
	fmt.Println("streams  cpu_cores  per-stream load  server_busy/audio  ping_rtt_median_ms  ping_rtt_p99_ms  ping_rtt_max_ms  keeps_up")
	for _, n := range list {
		st0, cpu0, t0 := srv.Stats(), cpuTime(), time.Now()
		rtts := make(chan []time.Duration, n)
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := streamPaced(addr, pcm, time.Duration(seconds*float64(time.Second)), time.Duration(i)*100*time.Millisecond/time.Duration(n))
				rtts <- r
				errs <- err
			}()
		}
		wg.Wait()
		close(rtts)
		close(errs)
		for err := range errs {
			if err != nil {
				return err
			}
		}
		var all []time.Duration
		for r := range rtts {
			all = append(all, r...)
		}
		slices.Sort(all)
		wall, cpu, st := time.Since(t0), cpuTime()-cpu0, srv.Stats()
		busy := (st.Busy - st0.Busy).Seconds() / (st.Audio - st0.Audio).Seconds()
		cores := cpu.Seconds() / wall.Seconds()
		worst := all[len(all)-1]
		// Keeping up: no stream ever more than half a second behind.
		fmt.Printf("%7d  %9.2f  %15.4f  %17.4f  %18.1f  %15.1f  %15.1f  %v\n", n, cores, cores/float64(n), busy,
			ms(all[len(all)/2]), ms(all[len(all)*99/100]), ms(worst), worst < 500*time.Millisecond)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// load16k reads a file as 16 kHz mono s16le, as a client would send it.
func load16k(path string) ([]byte, error) {
	src, err := audio.OpenFile16k(path)
	if err != nil {
		return nil, err
	}
	x, err := audio.ReadAll(src)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 2*len(x))
	for i, v := range x {
		s := int16(max(-32768, min(32767, math.Round(float64(v)*32768))))
		b[2*i], b[2*i+1] = byte(s), byte(uint16(s)>>8)
	}
	return b, nil
}

type client struct {
	c net.Conn
	r *wyoming.Reader
}

func dial(addr string) (*client, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &client{c: c, r: wyoming.NewReader(c, wyoming.DefaultLimits)}, nil
}

var format = wyoming.Format{Rate: audio.TargetRate, Width: 2, Channels: 1}

func (cl *client) start() error {
	if err := wyoming.Write(cl.c, "detect", nil, nil); err != nil {
		return err
	}
	return wyoming.Write(cl.c, "audio-start", format, nil)
}

func (cl *client) send(pcm []byte) error { return wyoming.Write(cl.c, "audio-chunk", format, pcm) }

// ping returns the round trip of a ping, skipping the detections that come first.
func (cl *client) ping() (time.Duration, error) {
	t0 := time.Now()
	if err := wyoming.Write(cl.c, "ping", nil, nil); err != nil {
		return 0, err
	}
	for {
		e, err := cl.r.Read()
		if err != nil {
			return 0, err
		}
		if e.Type == "pong" {
			return time.Since(t0), nil
		}
	}
}

// streamOnce streams pcm times times, unpaced, in 100 ms chunks, one cycle each.
func streamOnce(addr string, pcm []byte, times int) error {
	cl, err := dial(addr)
	if err != nil {
		return err
	}
	defer cl.c.Close()
	const chunk = audio.TargetRate / 10 * 2
	for range times {
		if err := cl.start(); err != nil {
			return err
		}
		for i := 0; i < len(pcm); i += chunk {
			if err := cl.send(pcm[i:min(i+chunk, len(pcm))]); err != nil {
				return err
			}
		}
		if err := wyoming.Write(cl.c, "audio-stop", nil, nil); err != nil {
			return err
		}
	}
	// The server has processed everything once its pong comes (the few detections before
	// it fit in the socket's buffers).
	_, err = cl.ping()
	return err
}

// streamPaced streams pcm in real time for d, after offset (spreading the clients'
// chunks over the 100 ms), pinging every second; it returns the pings' round trips.
func streamPaced(addr string, pcm []byte, d, offset time.Duration) ([]time.Duration, error) {
	cl, err := dial(addr)
	if err != nil {
		return nil, err
	}
	defer cl.c.Close()
	time.Sleep(offset)
	if err := cl.start(); err != nil {
		return nil, err
	}
	const chunk = audio.TargetRate / 10 * 2
	var rtts []time.Duration
	t0 := time.Now()
	for i, pos := 1, 0; time.Since(t0) < d; i++ {
		if pos+chunk > len(pcm) {
			pos = 0
		}
		if err := cl.send(pcm[pos : pos+chunk]); err != nil {
			return nil, err
		}
		pos += chunk
		if i%10 == 0 {
			rtt, err := cl.ping()
			if err != nil {
				return nil, err
			}
			rtts = append(rtts, rtt)
		}
		time.Sleep(time.Until(t0.Add(time.Duration(i) * 100 * time.Millisecond)))
	}
	return rtts, wyoming.Write(cl.c, "audio-stop", nil, nil)
}

// liveHeap is the Go heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, resident uint64
	fmt.Sscan(string(b), &size, &resident)
	return resident * uint64(os.Getpagesize())
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
