package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/wakewordd/wakewordd/internal/mqtttest"
)

// Tests of the failures found by the adversarial probe of issue 18.

// rawPublish publishes one QoS 1 message of size bytes (head, then filler, then tail) to
// the broker on 127.0.0.1:port, streaming it from a small buffer, so that the test itself
// never holds the message.
func rawPublish(t *testing.T, port int, topic, head, tail string, size int) {
	t.Helper()
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	str := func(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }
	connect := append(str("MQTT"), 4, 0x02, 0, 60) // level 4 (3.1.1), clean session, keep-alive
	connect = append(connect, str("rawpub")...)
	if _, err := c.Write(append(append([]byte{0x10}, remainingLength(len(connect))...), connect...)); err != nil {
		t.Fatal(err)
	}
	connack := make([]byte, 4)
	if _, err := io.ReadFull(c, connack); err != nil || connack[0] != 0x20 || connack[3] != 0 {
		t.Fatalf("CONNACK % x: %v", connack, err)
	}
	vh := append(str(topic), 0, 1) // packet id 1
	hdr := append(append([]byte{0x32}, remainingLength(len(vh)+size)...), vh...)
	if _, err := c.Write(append(hdr, head...)); err != nil {
		t.Fatal(err)
	}
	filler := []byte(strings.Repeat("x", 64<<10))
	for left := size - len(head) - len(tail); left > 0; left -= len(filler) {
		if _, err := c.Write(filler[:min(left, len(filler))]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Write([]byte(tail)); err != nil {
		t.Fatal(err)
	}
	puback := make([]byte, 4)
	if _, err := io.ReadFull(c, puback); err != nil || puback[0] != 0x40 {
		t.Fatalf("PUBACK % x: %v", puback, err)
	}
	c.Write([]byte{0xe0, 0})
}

// Item 7: a 32 MB toggle is refused as it arrives, not after it sits in memory; the
// connection stays up and the next toggle works.
func TestOversizedToggleDroppedUnread(t *testing.T) {
	b := mqtttest.Start(t)
	cfg, lb := testConfig(t, b)
	toggles := toggleRecorder(&cfg)
	m := start(t, cfg)
	waitConnected(t, m)
	flush(t, m)

	const size = 32 << 20
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	rawPublish(t, b.Port(), "hermes/hotword/toggleOff", `{"siteId":"kitchen","pad":"`, `"}`, size)
	waitFor(t, "warning", func() bool {
		return lb.count("level=WARN", "topic=hermes/hotword/toggleOff", fmt.Sprintf("payload of %d bytes", size)) == 1
	})
	runtime.ReadMemStats(&ms)
	if alloc := ms.TotalAlloc - before; alloc > size/4 {
		t.Errorf("a %d-byte message took %d bytes of allocations: it was read into memory", size, alloc)
	}
	if lb.count("dropped unread") != 1 {
		t.Error("the warning does not say the payload was dropped unread")
	}
	b.Publish(t, "hermes/hotword/toggleOff", []byte(`{"siteId":"kitchen"}`), false)
	if tg := nextToggle(t, toggles); tg != (toggle{"", false}) {
		t.Fatalf("got %+v", tg)
	}
	if st := m.Stats(); !st.Connected || st.Reconnects != 0 {
		t.Errorf("stats %+v: the big message cost the connection", st)
	}
}

// Item 8: "$" topics are the broker's; it refuses clients' messages there and MQTT 3.1.1
// cannot say so, so such prefixes are refused up front.
func TestDollarPrefixRefused(t *testing.T) {
	for _, tc := range []struct {
		edit func(*MQTTConfig)
		want string
	}{
		{func(c *MQTTConfig) { c.TopicPrefix = "$SYS" }, `mqtt: topic_prefix "$SYS" must not start with '$'`},
		{func(c *MQTTConfig) { c.TopicPrefix = "$share/x" }, `mqtt: topic_prefix "$share/x" must not start with '$'`},
		{func(c *MQTTConfig) { c.DiscoveryPrefix = "$SYS/ha" }, `mqtt: discovery_prefix "$SYS/ha" must not start with '$'`},
		{func(c *MQTTConfig) { c.TopicPrefix = strings.Repeat("p", 70000) }, `mqtt: topic_prefix "ppp`},
	} {
		cfg := MQTTConfig{Broker: "tcp://127.0.0.1:1", SiteID: "kitchen"}
		tc.edit(&cfg)
		_, err := NewMQTT(cfg)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || len(err.Error()) > 500 {
			t.Errorf("got %.300v, want %q", err, tc.want)
		}
	}
}

// Item 8: where MQTT 3.1.1 does tell, a refusal is reported: a subscription the broker
// denies comes back as 0x80 in SUBACK. (mosquitto grants every subscription and applies its
// ACL when delivering, so a stand-in broker plays one that refuses.)
func TestRefusedSubscriptionLogged(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go refusingBroker(l, "hermes/")
	cfg := MQTTConfig{Broker: "tcp://" + l.Addr().String(), SiteID: "kitchen", Discovery: true, Hermes: true}
	lb := &logBuf{}
	cfg.Logger = slog.New(slog.NewTextHandler(lb, nil))
	m := start(t, cfg)
	waitConnected(t, m)
	for _, topic := range []string{"hermes/hotword/toggleOff", "hermes/hotword/toggleOn"} {
		if lb.count("level=WARN", "refused a subscription", "topic="+topic) != 1 {
			t.Errorf("no warning about the refused subscription to %s:\n%s", topic, lb)
		}
	}
	if lb.count("refused a subscription", "topic=wakewordd/") != 0 {
		t.Errorf("an allowed subscription reported refused:\n%s", lb)
	}
}

// refusingBroker serves MQTT 3.1.1 clients on l just enough for wakewordd to connect, and
// refuses subscriptions to topic filters that start with deny.
func refusingBroker(l net.Listener, deny string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			for {
				cp, err := packets.ReadPacket(c)
				if err != nil {
					return
				}
				var reply packets.ControlPacket
				switch p := cp.(type) {
				case *packets.ConnectPacket:
					reply = packets.NewControlPacket(packets.Connack)
				case *packets.SubscribePacket:
					ack := packets.NewControlPacket(packets.Suback).(*packets.SubackPacket)
					ack.MessageID = p.MessageID
					for i, topic := range p.Topics {
						code := p.Qoss[i]
						if strings.HasPrefix(topic, deny) {
							code = 0x80
						}
						ack.ReturnCodes = append(ack.ReturnCodes, code)
					}
					reply = ack
				case *packets.PublishPacket:
					if p.Qos > 0 {
						ack := packets.NewControlPacket(packets.Puback).(*packets.PubackPacket)
						ack.MessageID = p.MessageID
						reply = ack
					}
				case *packets.PingreqPacket:
					reply = packets.NewControlPacket(packets.Pingresp)
				case *packets.DisconnectPacket:
					return
				}
				if reply != nil && reply.Write(c) != nil {
					return
				}
			}
		}()
	}
}

// Item 9: a password in the broker URL is refused, and neither the error nor the log
// shows it.
func TestBrokerPasswordNeverShown(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.WithPassword("alice", "S3cretPW"))
	for _, url := range []string{
		fmt.Sprintf("tcp://alice:S3cretPW@127.0.0.1:%d", b.Port()),
		fmt.Sprintf("tcp://alice:S3cretPW@127.0.0.1:%d:", b.Port()),
		"tcp://alice:S3cret/PW@127.0.0.1",
		"http://alice:S3cretPW@127.0.0.1",
		"ws://alice:S3cretPW@[::1/mqtt",
	} {
		cfg, lb := testConfig(t, b)
		cfg.Broker, cfg.CAFile, cfg.CertFile, cfg.KeyFile = url, "", "", ""
		_, err := NewMQTT(cfg)
		if err == nil {
			t.Fatalf("%s: accepted", url)
		}
		if err2 := RemoveDiscovery(context.Background(), cfg); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("%s: RemoveDiscovery: %v", url, err2)
		}
		time.Sleep(50 * time.Millisecond) // anything logged in the background
		if out := err.Error() + lb.String(); strings.Contains(out, "S3cret") || !strings.Contains(err.Error(), "xxxxx@") {
			t.Errorf("%s: the password shows: %s", url, out)
		}
	}
}

// Item 10: MQTT strings stop at 65,535 bytes; an empty port is a mistake, not 1883.
func TestMQTTStringLimitsAndEmptyPort(t *testing.T) {
	for _, tc := range []struct {
		edit func(*MQTTConfig)
		want string
	}{
		{func(c *MQTTConfig) { c.Username = strings.Repeat("u", 70000) }, "mqtt: username of 70000 bytes: MQTT carries at most 65535"},
		{func(c *MQTTConfig) { c.Broker = "tcp://127.0.0.1:" }, `mqtt: broker "tcp://127.0.0.1:": empty port`},
		{func(c *MQTTConfig) { c.Broker = "mqtt://[::1]:" }, `mqtt: broker "mqtt://[::1]:": empty port`},
	} {
		cfg := MQTTConfig{Broker: "tcp://127.0.0.1:1", SiteID: "kitchen"}
		tc.edit(&cfg)
		if _, err := NewMQTT(cfg); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}

// Item 11: a topic level of 60,000 characters gives a warning of bounded length, not one
// that quotes it twice.
func TestLongTopicLevelLogLineBounded(t *testing.T) {
	b := mqtttest.Start(t)
	cfg, lb := testConfig(t, b)
	toggles := toggleRecorder(&cfg)
	m := start(t, cfg)
	waitConnected(t, m)
	b.Publish(t, "wakewordd/kitchen/keyword/"+strings.Repeat("k", 60000)+"/set", []byte("OFF"), false)
	b.Publish(t, "hermes/hotword/toggleOff", []byte(`{"siteId":"kitchen","reason":"`+strings.Repeat("r", 60000)+`"}`), false)
	if tg := nextToggle(t, toggles); tg != (toggle{"", false}) {
		t.Fatalf("got %+v", tg)
	}
	if lb.count("level=WARN", "malformed", "no keyword", "(60030 bytes)") != 1 {
		t.Error("no warning about the long topic, with its length")
	}
	for line := range strings.Lines(lb.String()) {
		if len(line) > 1000 {
			t.Errorf("a log line of %d bytes: %.300s...", len(line), line)
		}
	}
}

// Item 11: a flood of keyword switches re-publishes the retained discovery config a few
// times, not once per switch, and the last one has the final keywords.
func TestToggleFloodCoalescesDiscovery(t *testing.T) {
	b := mqtttest.Start(t)
	disc := mqtttest.Subscribe(t, b, "homeassistant/event/wakewordd_kitchen/wakeword/config")
	cfg, _ := testConfig(t, b)
	var sink atomic.Pointer[MQTT]
	var switched atomic.Int64
	cfg.OnToggle = func(kw string, on bool) { // what the daemon does
		kws := []string{"marvin"}
		if on {
			kws = []string{"alexa", "marvin"}
		}
		sink.Load().SetKeywords(kws)
		switched.Add(1)
	}
	m, err := NewMQTT(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sink.Store(m)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		m.Close(ctx)
	})
	waitConnected(t, m)
	disc.Wait(t, 1, 5*time.Second) // the announcement

	const n = 1000
	c := paho.NewClient(b.ClientOptions(t))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	toks := make([]paho.Token, n)
	for i := range n {
		payload := "OFF"
		if i%2 == 1 {
			payload = "ON"
		}
		toks[i] = c.Publish("wakewordd/kitchen/keyword/alexa/set", 1, false, payload)
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publishing a switch: %v", tok.Error())
		}
	}
	waitFor(t, "every switch", func() bool { return switched.Load() == n })

	var got []mqtttest.Msg
	for {
		msg, ok := disc.Next(3 * DiscoveryInterval)
		if !ok {
			break
		}
		got = append(got, msg)
	}
	if len(got) == 0 || len(got) > n/10 {
		t.Fatalf("%d discovery publishes for %d switches", len(got), n)
	}
	var d struct {
		EventTypes []string `json:"event_types"`
	}
	if err := json.Unmarshal(got[len(got)-1].Payload, &d); err != nil || strings.Join(d.EventTypes, ",") != "alexa,marvin" {
		t.Fatalf("last discovery %s (%v), want the final keywords alexa,marvin", got[len(got)-1].Payload, err)
	}
	t.Logf("%d discovery publishes for %d switches", len(got), n)
}
