package publish

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/wakewordd/wakewordd/internal/logsafe"
)

// MaxPayload bounds the messages wakewordd reads: every command it accepts is a few bytes.
const MaxPayload = 64 << 10

// siteRE is config's site_id rule: the site becomes a topic level and a Home Assistant
// node id, which allows only these characters.
var siteRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// topics are the MQTT topics of one site.
type topics struct {
	status, detected      string
	keywordSet            string // subscription filter for per-keyword switches
	keywordPre, keywordSu string // around the keyword in a switch topic
	discovery, haStatus   string
}

func newTopics(prefix, discPrefix, site string) topics {
	base := prefix + "/" + site
	return topics{
		status:     base + "/status",
		detected:   base + "/detected",
		keywordSet: base + "/keyword/+/set",
		keywordPre: base + "/keyword/",
		keywordSu:  "/set",
		discovery:  discPrefix + "/event/" + discoveryNode(site) + "/wakeword/config",
		haStatus:   discPrefix + "/status",
	}
}

// discoveryNode is the site's Home Assistant node id, also the device identifier.
func discoveryNode(site string) string { return "wakewordd_" + site }

// Hermes topics (Rhasspy); the prefix is fixed by the protocol.
const (
	hermesToggleOff = "hermes/hotword/toggleOff"
	hermesToggleOn  = "hermes/hotword/toggleOn"
)

func hermesDetected(keyword string) string { return "hermes/hotword/" + keyword + "/detected" }

// topicLevelOK reports whether s can be one level of a topic we publish to: a wildcard or
// separator there would publish elsewhere or make the broker drop the connection.
func topicLevelOK(s string) bool {
	return s != "" && len(s) <= 256 && !strings.ContainsAny(s, "/+#\x00") && utf8.ValidString(s)
}

// checkPrefix returns what is wrong with a topic prefix, or nil.
func checkPrefix(p string) error {
	switch {
	case p == "":
		return errors.New("must not be empty")
	case len(p) > maxPrefix:
		return fmt.Errorf("%q must be at most %d bytes", logsafe.Clip(p), maxPrefix)
	case strings.ContainsAny(p, "+#"):
		return fmt.Errorf("%q must not contain the MQTT wildcards + or #", p)
	case strings.HasPrefix(p, "$"):
		// The broker refuses clients' messages there, and MQTT 3.1.1 cannot say so.
		return fmt.Errorf("%q must not start with '$' (topics like $SYS/... are the broker's own)", p)
	case strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//"):
		return fmt.Errorf("%q must not start or end with '/' or contain an empty level", p)
	case strings.ContainsRune(p, 0) || !utf8.ValidString(p):
		return fmt.Errorf("%q must be UTF-8 text without NUL", p)
	}
	return nil
}

// maxPrefix bounds topic prefixes (config.MaxTopicPrefix), leaving room in a topic (at most
// maxString bytes) for the site and the rest.
const maxPrefix = 1024

// maxString is the longest string MQTT carries: a user name, a password, a topic.
const maxString = 65535

// quote shows a payload in a log line, shortened.
func quote(p []byte) string {
	const max = 40
	if len(p) > max {
		return fmt.Sprintf("%q...", p[:max])
	}
	return fmt.Sprintf("%q", p)
}

// parseSwitch reads a keyword switch: ON or OFF in any case, also true/false and 1/0.
func parseSwitch(p []byte) (on bool, err error) {
	if len(p) > MaxPayload {
		return false, fmt.Errorf("payload of %d bytes is over the %d-byte limit", len(p), MaxPayload)
	}
	switch strings.ToLower(string(bytes.TrimSpace(p))) {
	case "on", "true", "1":
		return true, nil
	case "off", "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("want ON or OFF, got %s", quote(p))
}

// parseHermesToggle reads a hermes/hotword/toggleOn or toggleOff payload,
// {"siteId": "...", "reason": ...}. A missing or null siteId means "default", as in Rhasspy.
func parseHermesToggle(p []byte) (site, reason string, err error) {
	if len(p) > MaxPayload {
		return "", "", fmt.Errorf("payload of %d bytes is over the %d-byte limit", len(p), MaxPayload)
	}
	if t := bytes.TrimSpace(p); len(t) == 0 || t[0] != '{' {
		return "", "", fmt.Errorf("want a JSON object, got %s", quote(p))
	}
	var msg struct {
		SiteID *string         `json:"siteId"`
		Reason json.RawMessage `json:"reason"`
	}
	if err := json.Unmarshal(p, &msg); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return "", "", fmt.Errorf("%s must be a string, got a JSON %s", te.Field, te.Value)
		}
		return "", "", fmt.Errorf("bad JSON: %v", err)
	}
	site = "default"
	if msg.SiteID != nil {
		site = *msg.SiteID
	}
	var s string
	if json.Unmarshal(msg.Reason, &s) == nil {
		reason = s
	} else if len(msg.Reason) > 0 {
		reason = string(msg.Reason)
	}
	return site, reason, nil
}

// parseHAStatus reads Home Assistant's birth and last-will messages.
func parseHAStatus(p []byte) (online bool, err error) {
	if len(p) > MaxPayload {
		return false, fmt.Errorf("payload of %d bytes is over the %d-byte limit", len(p), MaxPayload)
	}
	switch strings.ToLower(string(bytes.TrimSpace(p))) {
	case "online":
		return true, nil
	case "offline":
		return false, nil
	}
	return false, fmt.Errorf("want online or offline, got %s", quote(p))
}

// keywordOf extracts the keyword from a switch topic the broker matched against
// topics.keywordSet.
func (t topics) keywordOf(topic string) (string, error) {
	kw, ok := strings.CutPrefix(topic, t.keywordPre)
	if ok {
		kw, ok = strings.CutSuffix(kw, t.keywordSu)
	}
	if !ok || !topicLevelOK(kw) {
		return "", fmt.Errorf("no keyword in topic %q", logsafe.Clip(topic))
	}
	return kw, nil
}

// discoveryJSON is a Home Assistant MQTT event entity
// (https://www.home-assistant.io/integrations/event.mqtt/).
type discoveryJSON struct {
	Name                string          `json:"name"`
	UniqueID            string          `json:"unique_id"`
	EventTypes          []string        `json:"event_types"`
	StateTopic          string          `json:"state_topic"`
	AvailabilityTopic   string          `json:"availability_topic"`
	PayloadAvailable    string          `json:"payload_available"`
	PayloadNotAvailable string          `json:"payload_not_available"`
	QoS                 int             `json:"qos"`
	Icon                string          `json:"icon"`
	Device              discoveryDevice `json:"device"`
	Origin              discoveryOrigin `json:"origin"`
}

type discoveryDevice struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model,omitempty"`
	SWVersion    string   `json:"sw_version,omitempty"`
}

type discoveryOrigin struct {
	Name      string `json:"name"`
	SWVersion string `json:"sw_version,omitempty"`
}

func discoveryPayload(t topics, site, model, version string, keywords []string) []byte {
	types := append([]string{}, keywords...) // [] rather than null when none are enabled
	b, _ := json.Marshal(discoveryJSON{
		Name:       "Wake word",
		UniqueID:   discoveryNode(site) + "_wakeword",
		EventTypes: types,
		StateTopic: t.detected, AvailabilityTopic: t.status,
		PayloadAvailable: "online", PayloadNotAvailable: "offline",
		QoS:  1,
		Icon: "mdi:account-voice",
		Device: discoveryDevice{
			Identifiers: []string{discoveryNode(site)}, Name: "wakewordd " + site,
			Manufacturer: "wakewordd", Model: model, SWVersion: version,
		},
		Origin: discoveryOrigin{Name: "wakewordd", SWVersion: version},
	})
	return b
}
