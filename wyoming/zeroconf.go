package wyoming

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/mdns"
	"github.com/miekg/dns"
)

// ServiceType is what Home Assistant browses for to discover Wyoming services.
const ServiceType = "_wyoming._tcp"

// advertiser answers mDNS queries for the service (hashicorp/mdns) and announces it when
// it starts, so that a browser already running (Home Assistant's) sees it at once.
type advertiser struct {
	srv  *mdns.Server
	stop chan struct{}
	done chan struct{}
}

// advertise publishes name (default "wakewordd-<hostname>") as a _wyoming._tcp service on
// the port of addr, with the addresses the server is reachable at: the listen address
// when it names one, otherwise every non-loopback address of the machine.
func advertise(name string, addr *net.TCPAddr, address string, log *slog.Logger) (*advertiser, error) {
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")
	if host == "" {
		host = "wakewordd"
	}
	if name == "" {
		name = "wakewordd-" + host
	}
	ips := advertisedIPs(addr.IP, address)
	svc, err := mdns.NewMDNSService(name, ServiceType, "local.", host+".local.", addr.Port, ips, []string{"service=wakewordd"})
	if err != nil {
		return nil, err
	}
	srv, err := mdns.NewServer(&mdns.Config{Zone: svc, Logger: slog.NewLogLogger(log.Handler(), slog.LevelDebug)})
	if err != nil {
		return nil, fmt.Errorf("mDNS: %w", err)
	}
	a := &advertiser{srv: srv, stop: make(chan struct{}), done: make(chan struct{})}
	records := svc.Records(dns.Question{Name: ServiceType + ".local.", Qtype: dns.TypePTR, Qclass: dns.ClassINET})
	go a.announce(records, log)
	log.Info("Wyoming service advertised over mDNS", "name", name, "type", ServiceType, "host", host+".local", "port", addr.Port, "addresses", fmt.Sprint(ips))
	return a, nil
}

// announce multicasts the service's records three times (0, 1 and 3 s after the start,
// as RFC 6762 section 8.3 asks for at least two), from port 5353 as responses must be.
func (a *advertiser) announce(records []dns.RR, log *slog.Logger) {
	defer close(a.done)
	msg := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Authoritative: true}, Answer: records}
	b, err := msg.Pack()
	if err != nil {
		log.Warn("mDNS: cannot pack the announcement", "err", err)
		return
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1) })
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", ":5353")
	if err != nil {
		log.Warn("mDNS: cannot announce the service (queries are still answered)", "err", err)
		return
	}
	defer pc.Close()
	group := &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}
	for _, wait := range []time.Duration{0, time.Second, 2 * time.Second} {
		select {
		case <-a.stop:
			return
		case <-time.After(wait):
		}
		if _, err := pc.WriteTo(b, group); err != nil {
			log.Debug("mDNS: announcing failed", "err", err)
		}
	}
}

func (a *advertiser) close() {
	close(a.stop)
	<-a.done
	a.srv.Shutdown()
}

// advertisedIPs are the addresses to publish for a server listening on ip (from address,
// as configured): that one, or for an unspecified address every up, non-loopback
// interface address (link-local IPv6 left out), or if there is none (a network namespace
// with only lo) the loopback ones.
func advertisedIPs(ip net.IP, address string) []net.IP {
	if !ip.IsUnspecified() {
		return []net.IP{ip}
	}
	host, _, _ := net.SplitHostPort(address)
	v4only := host == "0.0.0.0" // Go listens on IPv4 alone there; "" and [::] take both
	var out, loop []net.IP
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok || n.IP.IsLinkLocalUnicast() || (v4only && n.IP.To4() == nil) {
				continue
			}
			if n.IP.IsLoopback() {
				loop = append(loop, n.IP)
			} else {
				out = append(out, n.IP)
			}
		}
	}
	if len(out) == 0 {
		return loop
	}
	return out
}
