package cli

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestDemoStreamsAccessLogThroughEmbeddedBroker(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		minLines int
	}{
		{"embedded broker", []string{"demo", "--duration", "2s", "--rate", "200", "--interval", "500ms", "--seed", "1"}, 200},
		{"kept data dir", []string{"demo", "--duration", "1s", "--rate", "100", "--interval", "250ms", "--data-dir", "DIR", "--topic", "web"}, 50},
	}
	final := regexp.MustCompile(`(?m)^final: \S+\s+produced (\d+)\s+consumed (\d+)\s+lag 0 .*status (.*)$`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string(nil), tc.args...)
			for i, a := range args {
				if a == "DIR" {
					args[i] = t.TempDir()
				}
			}
			// The demo starts its own broker, so --brokers is never dialled.
			out := mustRun(t, "127.0.0.1:1", "", args...)
			if !strings.Contains(out, "embedded broker listening on 127.0.0.1:") {
				t.Errorf("no broker address in the output:\n%s", out)
			}
			if n := strings.Count(out, "produced "); n < 3 {
				t.Errorf("want live lines before the final one, got %d:\n%s", n, out)
			}
			m := final.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no final summary line in:\n%s", out)
			}
			if strings.Contains(m[0], "failed") {
				t.Errorf("some records failed: %s", m[0])
			}
			produced, _ := strconv.Atoi(m[1])
			consumed, _ := strconv.Atoi(m[2])
			if produced < tc.minLines || consumed != produced {
				t.Errorf("produced %d, consumed %d; want at least %d, all consumed", produced, consumed, tc.minLines)
			}
			var sum int
			for _, kv := range strings.Fields(m[3]) {
				code, n, ok := strings.Cut(kv, ":")
				c, err := strconv.Atoi(n)
				if !ok || err != nil || len(code) != 3 {
					t.Fatalf("bad status count %q in %q", kv, m[0])
				}
				sum += c
			}
			if sum != consumed || !strings.Contains(m[3], "200:") {
				t.Errorf("status counts %q add up to %d, want %d with some 200s", m[3], sum, consumed)
			}
			// Every produced line is a row of the SQLite table access_log.
			db := regexp.MustCompile(`(?m)^database: (\d+) rows in access_log`).FindStringSubmatch(out)
			if db == nil || db[1] != m[1] {
				t.Errorf("want %s rows in access_log, got %v:\n%s", m[1], db, out)
			}
		})
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct{ line, want string }{
		{`127.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 404 12 "-" "curl/8"`, "404"},
		{`garbage`, "???"},
		{`x "GET / HTTP/1.1" 2`, "???"},
	}
	for _, tc := range tests {
		if got := statusOf([]byte(tc.line)); got != tc.want {
			t.Errorf("statusOf(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}
