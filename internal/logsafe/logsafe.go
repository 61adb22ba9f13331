// Package logsafe prepares untrusted or secret text for log lines and error messages:
// Clip bounds what is quoted from input that someone else controls (an MQTT topic, a
// payload field), and RedactURL hides the credentials of a URL.
package logsafe

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxQuoted is how many bytes of an untrusted string a log line quotes.
const MaxQuoted = 200

// Clip returns s when it is at most MaxQuoted bytes long, else its first MaxQuoted bytes
// (cut at a character boundary) followed by "... (N bytes)", N being the length of s: a
// sender of huge topics or fields cannot make one log line huge.
func Clip(s string) string {
	if len(s) <= MaxQuoted {
		return s
	}
	cut := MaxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", s[:cut], len(s))
}

// Redacted replaces a URL's user information.
const Redacted = "xxxxx"

// RedactURL returns s with everything between "://" (or the start) and the last '@'
// replaced by Redacted, so that a user name and password in a URL never reach a log line
// or an error message. It works on text that does not parse as a URL too (a password with
// a '/' or '@' in it), at worst hiding more than the user information.
func RedactURL(s string) string {
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + 3
	}
	at := strings.LastIndex(s, "@")
	if at < start {
		return s
	}
	return s[:start] + Redacted + s[at:]
}

// HasUserInfo reports whether RedactURL would change s.
func HasUserInfo(s string) bool { return RedactURL(s) != s }
