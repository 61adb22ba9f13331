package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The global threshold reaches every keyword of the shipped model, whose per-keyword
// thresholds used to override it: `detect --threshold T` and `detect.threshold: T`, T above
// the example's scores, stop its detections in detect, eval and run alike, and a keyword's
// own rule still wins over the global one.
func TestGlobalThresholdOverridesTheModels(t *testing.T) {
	k := kitchenFixture(t)
	top := 0.0
	for _, d := range k.fileDets {
		top = max(top, d.Score)
	}
	high := strconv.FormatFloat(top+(1-top)/2, 'f', -1, 64) // above every score of the example
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfg, []byte("detect:\n  threshold: "+high+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	first := k.fileDets[0].Keyword
	perKeyword := filepath.Join(t.TempDir(), "k.yaml")
	if err := os.WriteFile(perKeyword, []byte("detect:\n  threshold: "+high+"\n  keywords:\n    "+first+":\n      threshold: 0.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--threshold", high}, {"--config", cfg}} {
		stdout, stderr, code := wakewordd(t, nil, append(append([]string{"detect", "--json", "--model", k.model}, args...), kitchenPath)...)
		if code != 0 || strings.TrimSpace(stdout) != "" {
			t.Errorf("detect %v: exit %d, detections %q %s", args, code, stdout, stderr)
		}
		_, stderr, code = wakewordd(t, nil, append([]string{"run", "--log-format", "json", "--model", k.model, "--input", kitchenPath}, args...)...)
		if code != 0 || !strings.Contains(stderr, `"detections":0`) || !strings.Contains(stderr, fmt.Sprintf("%s %.4g (detect.threshold)", first, top+(1-top)/2)) {
			t.Errorf("run %v: exit %d\n%s", args, code, stderr)
		}
	}
	stdout, _, code := wakewordd(t, nil, "detect", "--json", "--config", perKeyword, "--model", k.model, kitchenPath)
	var d detectLine
	if code != 0 || json.Unmarshal([]byte(strings.SplitN(stdout, "\n", 2)[0]), &d) != nil || d.Keyword != first || strings.Count(strings.TrimSpace(stdout), "\n") != 0 {
		t.Errorf("a keyword's own threshold under a global 0.99: exit %d, %q", code, stdout)
	}
	// eval over a folder holding the example as a clip of its first keyword: missed at 0.99.
	dir := filepath.Join(t.TempDir(), first)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(mustAbs(t, k.wav16k), filepath.Join(dir, "k.wav")); err != nil {
		t.Fatal(err)
	}
	for threshold, none := range map[string]string{"0.5": "0", high: "1"} { // the confusion matrix's "(none)" column
		stdout, stderr, code := wakewordd(t, nil, "eval", "--model", k.model, "--threshold", threshold, filepath.Dir(dir))
		row := ""
		for _, line := range strings.Split(stdout, "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[0] == first && !strings.HasSuffix(line, "%") {
				row = line
			}
		}
		if f := strings.Fields(row); code != 0 || len(f) == 0 || f[len(f)-1] != none {
			t.Errorf("eval --threshold %s: exit %d, want %s in the (none) column of %s's row\n%s%s", threshold, code, none, first, stdout, stderr)
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
