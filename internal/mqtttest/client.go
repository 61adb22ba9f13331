package mqtttest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// ClientOptions are paho options for a test client of b: its URL, TLS files and
// credentials, and a random client id.
func (b *Broker) ClientOptions(t testing.TB) *paho.ClientOptions {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(b.URL()).
		SetClientID(fmt.Sprintf("mqtttest-%08x", rand.Uint32())).
		SetProtocolVersion(4).
		SetConnectTimeout(5 * time.Second)
	if b.Username != "" {
		o.SetUsername(b.Username).SetPassword(b.Password)
	}
	if b.tls {
		ca, err := os.ReadFile(b.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		cert, err := tls.LoadX509KeyPair(b.CertFile, b.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		o.SetTLSConfig(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}})
	}
	return o
}

// Publish sends one QoS 1 message from a short-lived client and waits for the broker's
// acknowledgement.
func (b *Broker) Publish(t testing.TB, topic string, payload []byte, retained bool) {
	t.Helper()
	c := paho.NewClient(b.ClientOptions(t))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtttest: connecting to publish on %s: %v", topic, tok.Error())
	}
	defer c.Disconnect(250)
	if tok := c.Publish(topic, 1, retained, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtttest: publishing on %s: %v", topic, tok.Error())
	}
}

// Msg is a message a Sub received.
type Msg struct {
	Topic    string
	Payload  []byte
	Retained bool
	QoS      byte
}

func (m Msg) String() string {
	r := ""
	if m.Retained {
		r = " (retained)"
	}
	return fmt.Sprintf("%s qos %d%s: %q", m.Topic, m.QoS, r, m.Payload)
}

// Sub collects the messages of one subscription (QoS 1), in arrival order.
type Sub struct {
	client paho.Client
	topic  string

	mu      sync.Mutex
	msgs    []Msg
	changed chan struct{}
}

// Subscribe subscribes to topic (a filter) until the test ends. The session is persistent,
// so with WithPersistence messages published while the subscriber reconnects after a
// broker restart still reach it. It subscribes again on every reconnect, which repeats
// retained messages.
func Subscribe(t testing.TB, b *Broker, topic string) *Sub {
	t.Helper()
	s := &Sub{topic: topic, changed: make(chan struct{})}
	handler := func(_ paho.Client, m paho.Message) {
		s.mu.Lock()
		s.msgs = append(s.msgs, Msg{Topic: m.Topic(), Payload: m.Payload(), Retained: m.Retained(), QoS: m.Qos()})
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
	}
	subscribed := make(chan error, 1)
	o := b.ClientOptions(t).
		SetCleanSession(false).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(200 * time.Millisecond).
		SetDefaultPublishHandler(handler).
		SetOnConnectHandler(func(c paho.Client) {
			tok := c.Subscribe(topic, 1, handler)
			tok.WaitTimeout(10 * time.Second)
			select {
			case subscribed <- tok.Error():
			default:
			}
		})
	s.client = paho.NewClient(o)
	if tok := s.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtttest: subscriber connecting: %v", tok.Error())
	}
	select {
	case err := <-subscribed:
		if err != nil {
			t.Fatalf("mqtttest: subscribing to %s: %v", topic, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("mqtttest: subscribing to %s: no answer", topic)
	}
	t.Cleanup(func() { s.client.Disconnect(100) })
	return s
}

// Next returns the next message, or false if none arrives within timeout.
func (s *Sub) Next(timeout time.Duration) (Msg, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if len(s.msgs) > 0 {
			m := s.msgs[0]
			s.msgs = s.msgs[1:]
			s.mu.Unlock()
			return m, true
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			return Msg{}, false
		}
	}
}

// Wait returns the next n messages, failing the test if they do not all arrive within
// timeout.
func (s *Sub) Wait(t testing.TB, n int, timeout time.Duration) []Msg {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var got []Msg
	for len(got) < n {
		m, ok := s.Next(time.Until(deadline))
		if !ok {
			t.Fatalf("mqtttest: %s: %d of %d messages within %s: %v", s.topic, len(got), n, timeout, got)
		}
		got = append(got, m)
	}
	return got
}
