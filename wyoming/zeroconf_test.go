package wyoming

import (
	"io"
	"log"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/mdns"
	"github.com/miekg/dns"
)

type mdnsEntry struct {
	name, addr string
	port       int
}

// browse looks up _wyoming._tcp as Home Assistant's zeroconf browser does, and returns the
// first complete answer.
func browse(t *testing.T, entries chan *mdnsEntry) mdnsEntry {
	t.Helper()
	found := make(chan *mdns.ServiceEntry, 16)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		p := mdns.DefaultParams(ServiceType)
		p.Entries, p.Timeout, p.DisableIPv6 = found, time.Second, true
		p.Logger = log.New(io.Discard, "", 0)
		if err := mdns.Query(p); err != nil {
			t.Fatalf("mDNS query: %v", err)
		}
		select {
		case e := <-found:
			return mdnsEntry{name: e.Name, addr: e.AddrV4.String(), port: e.Port}
		default:
		}
	}
	t.Fatal("no _wyoming._tcp service found")
	return mdnsEntry{}
}

// answerNames lists the names of the records a packet answers with, "" for a query.
func answerNames(b []byte) string {
	var m dns.Msg
	if m.Unpack(b) != nil || !m.Response {
		return ""
	}
	var names []string
	for _, rr := range m.Answer {
		names = append(names, rr.Header().Name+" "+dns.TypeToString[rr.Header().Rrtype])
		if p, ok := rr.(*dns.PTR); ok {
			names = append(names, p.Ptr)
		}
	}
	return strings.Join(names, ", ")
}
