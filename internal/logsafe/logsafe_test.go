package logsafe

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	if got := Clip("short"); got != "short" {
		t.Errorf("Clip(short) = %q", got)
	}
	exact := strings.Repeat("x", MaxQuoted)
	if got := Clip(exact); got != exact {
		t.Errorf("a string of MaxQuoted bytes was clipped: %q", got)
	}
	got := Clip(strings.Repeat("y", 60000))
	if want := strings.Repeat("y", MaxQuoted) + "... (60000 bytes)"; got != want {
		t.Errorf("Clip(60000 bytes) = %q, want %q", got, want)
	}
	// A multi-byte character across the cut is left out whole.
	s := strings.Repeat("a", MaxQuoted-1) + "é" + strings.Repeat("b", 10)
	got = Clip(s)
	if !utf8.ValidString(got) || !strings.HasPrefix(got, strings.Repeat("a", MaxQuoted-1)+"...") || !strings.HasSuffix(got, "(211 bytes)") {
		t.Errorf("Clip across a character = %q", got)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"tcp://alice:S3cretPW@host:1883": "tcp://xxxxx@host:1883",
		"tcp://alice@host":               "tcp://xxxxx@host",
		"mqtts://u:p@ss/w@rd@[::1]:8883": "mqtts://xxxxx@[::1]:8883",
		"tcp://a:pa/ss@h":                "tcp://xxxxx@h",
		"alice:pw@host:1883":             "xxxxx@host:1883",
		"tcp://host:1883":                "tcp://host:1883",
		"ws://host:9001/mqtt":            "ws://host:9001/mqtt",
		"":                               "",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
		if HasUserInfo(in) != (in != want) {
			t.Errorf("HasUserInfo(%q) = %v", in, HasUserInfo(in))
		}
	}
}
