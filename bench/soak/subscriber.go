package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// events counts detection events by id, as a consumer that de-duplicates would: QoS 1
// may deliver one twice (after a broker restart, say).
type events struct {
	mu        sync.Mutex
	ids       map[string]bool
	byKeyword map[string]int
	msgs, bad int
}

func newEvents() *events { return &events{ids: map[string]bool{}, byKeyword: map[string]int{}} }

// add records one payload of the detected topic.
func (e *events) add(payload []byte) {
	var ev struct {
		ID      string `json:"id"`
		Keyword string `json:"keyword"`
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.msgs++
	if json.Unmarshal(payload, &ev) != nil || ev.ID == "" || ev.Keyword == "" {
		e.bad++
		return
	}
	if !e.ids[ev.ID] {
		e.ids[ev.ID] = true
		e.byKeyword[ev.Keyword]++
	}
}

// distinct is the number of distinct events.
func (e *events) distinct() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.ids)
}

func (e *events) snapshot() (byKeyword map[string]int, msgs, bad int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.byKeyword), e.msgs, e.bad
}

// subscriber is a paho client with a persistent session (clean session off, a fixed
// client id) subscribed at QoS 1: the broker keeps what it misses while either is away.
type subscriber struct {
	client paho.Client
	ev     *events
}

func subscribe(url, topic string, ev *events) (*subscriber, error) {
	handler := func(_ paho.Client, m paho.Message) {
		if m.Topic() == topic {
			ev.add(m.Payload())
		}
	}
	subscribed := make(chan error, 1)
	o := paho.NewClientOptions().AddBroker(url).
		SetClientID(fmt.Sprintf("wakewordd-soak-%d", os.Getpid())).
		SetProtocolVersion(4).
		SetCleanSession(false).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetMaxReconnectInterval(200 * time.Millisecond).
		SetConnectTimeout(5 * time.Second).
		// Messages the broker queued for the session arrive before the new SUBSCRIBE.
		SetDefaultPublishHandler(handler).
		SetOnConnectHandler(func(c paho.Client) {
			tok := c.Subscribe(topic, 1, handler)
			tok.WaitTimeout(10 * time.Second)
			select {
			case subscribed <- tok.Error():
			default:
			}
		})
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("subscriber connecting to %s: %v", url, tok.Error())
	}
	select {
	case err := <-subscribed:
		if err != nil {
			return nil, fmt.Errorf("subscribing to %s: %w", topic, err)
		}
	case <-time.After(10 * time.Second):
		return nil, fmt.Errorf("subscribing to %s: no answer", topic)
	}
	return &subscriber{client: c, ev: ev}, nil
}

func (s *subscriber) close() { s.client.Disconnect(250) }
