package publish

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// streamConn is a net.Conn that only reads, from r.
type streamConn struct {
	net.Conn
	r io.Reader
}

func (s streamConn) Read(p []byte) (int, error) { return s.r.Read(p) }

// repeatReader yields n bytes of b without holding them.
type repeatReader struct {
	b byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	p = p[:min(len(p), r.n)]
	for i := range p {
		p[i] = r.b
	}
	r.n -= len(p)
	return len(p), nil
}

func packetBytes(t *testing.T, cp packets.ControlPacket) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := cp.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func publishPacket(topic string, qos byte, id uint16, retain bool, payload []byte) *packets.PublishPacket {
	p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	p.TopicName, p.Qos, p.MessageID, p.Retain, p.Payload = topic, qos, id, retain, payload
	return p
}

// The header of a PUBLISH whose payload follows separately.
func publishHeader(topic string, qos byte, id uint16, payloadLen int) []byte {
	vh := []byte{byte(len(topic) >> 8), byte(len(topic))}
	vh = append(vh, topic...)
	if qos > 0 {
		vh = append(vh, byte(id>>8), byte(id))
	}
	h := append([]byte{0x30 | qos<<1 | 1}, remainingLength(len(vh)+payloadLen)...) // retained
	return append(h, vh...)
}

// Issue 18: a payload over MaxPayload reaches paho as a mark, with its topic, QoS and packet
// id intact, and is never held in memory; everything else passes unchanged.
func TestCapConnDropsBigPayloadsUnread(t *testing.T) {
	const big = 64 << 20
	longTopic := "wakewordd/kitchen/keyword/" + strings.Repeat("k", 60000) + "/set"
	small := publishPacket("hermes/hotword/toggleOn", 1, 7, false, []byte(`{"siteId":"kitchen"}`))
	edge := publishPacket("a/b", 0, 0, false, bytes.Repeat([]byte("e"), MaxPayload))
	long := publishPacket(longTopic, 1, 9, false, bytes.Repeat([]byte("l"), 10000))
	stream := io.MultiReader(
		bytes.NewReader(packetBytes(t, packets.NewControlPacket(packets.Connack))),
		bytes.NewReader(packetBytes(t, small)),
		bytes.NewReader(publishHeader("hermes/hotword/toggleOff", 1, 8, big)),
		&repeatReader{'x', big},
		bytes.NewReader(packetBytes(t, edge)),
		bytes.NewReader(packetBytes(t, long)),
		bytes.NewReader(packetBytes(t, packets.NewControlPacket(packets.Pingresp))),
	)
	c := newCapConn(streamConn{r: stream}, MaxPayload)

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	allocBefore := ms.TotalAlloc
	var got []packets.ControlPacket
	for {
		cp, err := packets.ReadPacket(c)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d packets: %v", len(got), err)
		}
		got = append(got, cp)
	}
	runtime.ReadMemStats(&ms)
	if alloc := ms.TotalAlloc - allocBefore; alloc > big/8 {
		t.Errorf("reading a %d-byte message allocated %d bytes", big, alloc)
	}
	if len(got) != 6 {
		t.Fatalf("got %d packets: %v", len(got), got)
	}
	if _, ok := got[0].(*packets.ConnackPacket); !ok {
		t.Errorf("first packet %v", got[0])
	}
	for i, want := range map[int]*packets.PublishPacket{1: small, 3: edge, 4: long} {
		p := got[i].(*packets.PublishPacket)
		if p.TopicName != want.TopicName || p.MessageID != want.MessageID || p.Qos != want.Qos || !bytes.Equal(p.Payload, want.Payload) {
			t.Errorf("packet %d changed: %.100s", i, p)
		}
	}
	p := got[2].(*packets.PublishPacket)
	if n, ok := oversized(p.Payload); !ok || n != big || p.TopicName != "hermes/hotword/toggleOff" || p.MessageID != 8 || p.Qos != 1 || !p.Retain {
		t.Errorf("big message became %v, payload %q", p, p.Payload)
	}
	if _, ok := got[5].(*packets.PingrespPacket); !ok {
		t.Errorf("last packet %v", got[5])
	}
	if _, ok := oversized([]byte("ON")); ok {
		t.Error(`"ON" taken for a mark`)
	}
}

func TestCapConnRefusesBigControlPackets(t *testing.T) {
	suback := append([]byte{0x90}, remainingLength(1<<20)...)
	c := newCapConn(streamConn{r: io.MultiReader(bytes.NewReader(suback), &repeatReader{0, 1 << 20})}, MaxPayload)
	if _, err := packets.ReadPacket(c); err == nil || !strings.Contains(err.Error(), "packet of type 9 and 1048576 bytes") {
		t.Fatalf("got %v", err)
	}
	// Cut short in a header or a dropped payload: an error, not a hang or a short packet
	// (the mark of a payload cut short comes first).
	for _, b := range [][]byte{{0x30}, {0x30, 0x80}, append(publishHeader("t", 0, 0, 1<<20), "xx"...)} {
		c := newCapConn(streamConn{r: bytes.NewReader(b)}, MaxPayload)
		cp, err := packets.ReadPacket(c)
		if p, ok := cp.(*packets.PublishPacket); ok && err == nil {
			if _, ok := oversized(p.Payload); ok {
				_, err = packets.ReadPacket(c)
			}
		}
		if err != io.ErrUnexpectedEOF {
			t.Errorf("% x...: got %v, want an unexpected EOF", b[:2], err)
		}
	}
}
