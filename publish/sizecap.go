package publish

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"

	paho "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/net/proxy"
)

// paho reads every packet whole into memory before any handler sees it, and has no option
// to bound its size: a 200 MB message on a topic wakewordd subscribes to would take 200 MB
// (twice, at the peak) just to be refused by the handler's MaxPayload check. So the
// connection is wrapped: a PUBLISH whose payload is over MaxPayload reaches paho with its
// topic and packet id (paho acknowledges it as usual) and, instead of the payload, a short
// mark that the handler reports; the payload itself is read and thrown away a buffer at a
// time. Other packets from the broker (acknowledgements) are tiny; one over maxControl
// bytes ends the connection.

// oversizedMark starts the payload that stands in for one dropped unread; the size follows
// in decimal. No command wakewordd accepts starts with a NUL.
const oversizedMark = "\x00wakewordd:oversized:"

// maxControl bounds every packet from the broker other than PUBLISH.
const maxControl = 64 << 10

// oversized reports the size of the payload that p stands in for, if p is a mark.
func oversized(p []byte) (int, bool) {
	rest, ok := bytes.CutPrefix(p, []byte(oversizedMark))
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(string(rest))
	return n, err == nil
}

// capConn passes the broker's packets through to paho, replacing payloads over limit by
// an oversizedMark. It keeps track of the MQTT packet boundaries in the byte stream.
type capConn struct {
	net.Conn
	r     *bufio.Reader
	limit int

	pending []byte // header bytes to hand out before the rest of the packet
	pass    int    // bytes of the current packet still to pass through
	skip    int    // bytes of the current packet to read and throw away
	err     error  // sticky: the stream is out of step after any error
}

func newCapConn(c net.Conn, limit int) *capConn {
	return &capConn{Conn: c, r: bufio.NewReaderSize(c, 32<<10), limit: limit}
}

func (c *capConn) Read(p []byte) (int, error) {
	for {
		switch {
		case c.err != nil:
			return 0, c.err
		case len(c.pending) > 0:
			n := copy(p, c.pending)
			c.pending = c.pending[n:]
			return n, nil
		case c.skip > 0:
			n, err := c.r.Discard(c.skip)
			c.skip -= n
			if err != nil {
				c.err = noEOF(err)
			}
		case c.pass > 0:
			if len(p) > c.pass {
				p = p[:c.pass]
			}
			n, err := c.r.Read(p)
			c.pass -= n
			if err != nil {
				c.err = err
			}
			return n, err
		case len(p) == 0:
			return 0, nil
		default:
			c.err = c.nextPacket()
		}
	}
}

// nextPacket reads the fixed header of the next packet (and a big PUBLISH's variable
// header) and sets up what Read hands out of it.
func (c *capConn) nextPacket() error {
	first, err := c.r.ReadByte()
	if err != nil {
		return err
	}
	header := []byte{first}
	length := 0
	for i := 0; ; i++ {
		b, err := c.r.ReadByte()
		if err != nil {
			return noEOF(err)
		}
		header = append(header, b)
		length |= int(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			break
		}
		if i == 3 {
			return errors.New("mqtt: malformed packet length from the broker")
		}
	}
	kind := first >> 4
	if kind != 3 || length <= c.limit { // not a PUBLISH, or one whose payload is small anyway
		if kind != 3 && length > maxControl {
			return fmt.Errorf("mqtt: the broker sent a packet of type %d and %d bytes; none should exceed %d", kind, length, maxControl)
		}
		c.pending, c.pass = header, length
		return nil
	}
	// PUBLISH: topic (2-byte length and text), packet id when QoS > 0, payload.
	varLen := 2
	if (first>>1)&3 > 0 {
		varLen += 2
	}
	var tl [2]byte
	if _, err := io.ReadFull(c.r, tl[:]); err != nil {
		return noEOF(err)
	}
	varLen += int(tl[0])<<8 | int(tl[1])
	if varLen > length {
		return errors.New("mqtt: malformed PUBLISH from the broker")
	}
	vh := make([]byte, varLen)
	copy(vh, tl[:])
	if _, err := io.ReadFull(c.r, vh[2:]); err != nil {
		return noEOF(err)
	}
	payload := length - varLen
	if payload <= c.limit {
		c.pending, c.pass = append(header, vh...), payload
		return nil
	}
	mark := oversizedMark + strconv.Itoa(payload)
	out := append([]byte{first}, remainingLength(varLen+len(mark))...)
	out = append(append(out, vh...), mark...)
	c.pending, c.skip = out, payload
	return nil
}

// remainingLength encodes n as MQTT's variable-length integer.
func remainingLength(n int) []byte {
	var b []byte
	for {
		d := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// openConn opens the network connection as paho does (see its netconn.go: the same
// schemes, proxies and TLS) and wraps it in a capConn.
func openConn(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
	var c net.Conn
	var err error
	switch uri.Scheme {
	case "ws", "wss":
		u := *uri
		u.User = nil
		var tc *tls.Config
		if uri.Scheme == "wss" {
			tc = o.TLSConfig
		}
		c, err = paho.NewWebsocket(u.String(), tc, o.ConnectTimeout, o.HTTPHeaders, o.WebsocketOptions)
	case "tcp", "mqtt":
		c, err = proxy.FromEnvironmentUsing(o.Dialer).Dial("tcp", uri.Host)
	case "ssl", "mqtts":
		if os.Getenv("all_proxy") == "" {
			c, err = tls.DialWithDialer(o.Dialer, "tcp", uri.Host, o.TLSConfig)
			break
		}
		var raw net.Conn
		if raw, err = proxy.FromEnvironment().Dial("tcp", uri.Host); err != nil {
			break
		}
		tc := tls.Client(raw, o.TLSConfig)
		if err = tc.Handshake(); err != nil {
			raw.Close()
			break
		}
		c = tc
	default:
		err = fmt.Errorf("unknown scheme %q", uri.Scheme)
	}
	if err != nil {
		return nil, err
	}
	return newCapConn(c, MaxPayload), nil
}
