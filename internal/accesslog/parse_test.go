package accesslog

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/runnel/runnel/internal/flow"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Record
		err  string
	}{
		{
			name: "combined",
			line: `203.0.113.7 - alice [10/Oct/2026:13:55:36 +0200] "GET /products/42?x=1 HTTP/1.1" 200 5123 "https://www.google.com/" "Mozilla/5.0 (X11; Linux x86_64)"` + "\n",
			want: Record{Time: "2026-10-10T13:55:36+02:00", ClientIP: "203.0.113.7", User: "alice", Method: "GET", Path: "/products/42?x=1",
				Protocol: "HTTP/1.1", Status: 200, Bytes: 5123, Referer: "https://www.google.com/", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)"},
		},
		{
			name: "common format, dash size",
			line: `::1 - - [01/Jan/2026:00:00:00 +0000] "HEAD / HTTP/1.0" 304 -`,
			want: Record{Time: "2026-01-01T00:00:00Z", ClientIP: "::1", Method: "HEAD", Path: "/", Protocol: "HTTP/1.0", Status: 304},
		},
		{
			name: "escaped quotes and garbage request",
			line: `10.0.0.1 - - [01/Jan/2026:00:00:00 +0000] "\x16\x03\x01" 400 226 "-" "say \"hi\""`,
			want: Record{Time: "2026-01-01T00:00:00Z", ClientIP: "10.0.0.1", Path: `\x16\x03\x01`, Status: 400, Bytes: 226, UserAgent: `say "hi"`},
		},
		{name: "empty", line: "", err: "host, ident and user"},
		{name: "bad time", line: `1.2.3.4 - - [yesterday] "GET / HTTP/1.1" 200 1`, err: `time "yesterday"`},
		{name: "unterminated request", line: `1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1 200 1`, err: `"request"`},
		{name: "bad status", line: `1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" OK 1`, err: "status"},
		{name: "bad size", line: `1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 -5`, err: "size"},
		{name: "referer without agent", line: `1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-"`, err: "user-agent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse([]byte(tt.line))
			if tt.err != "" {
				if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse error = %v, want ErrFormat mentioning %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := e.Record(); got != tt.want {
				t.Fatalf("record\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// Every generated line parses back to the entry that produced it.
func TestParseRoundTripsGenerator(t *testing.T) {
	g := NewGenerator(7)
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 5000 {
		want := g.Next(start.Add(time.Duration(i) * time.Second))
		got, err := Parse([]byte(want.String()))
		if err != nil {
			t.Fatalf("line %d %q: %v", i, want.String(), err)
		}
		if got.Record() != want.Record() || !got.Time.Equal(want.Time) {
			t.Fatalf("line %d: got %+v, want %+v", i, got.Record(), want.Record())
		}
	}
}

func TestTransform(t *testing.T) {
	line := `203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 500 12 "-" "curl/8"`
	for _, envelope := range []bool{false, true} {
		tr := &Transform{Envelope: envelope}
		out, keep := tr.Apply(flow.Event{Body: []byte(line)})
		if !keep {
			t.Fatal("dropped a good line")
		}
		var v map[string]any
		if err := json.Unmarshal(out.Body, &v); err != nil {
			t.Fatalf("body %s: %v", out.Body, err)
		}
		if envelope {
			if v["schema"] == nil {
				t.Fatalf("no schema in %s", out.Body)
			}
			v = v["payload"].(map[string]any)
		}
		if v["status"] != float64(500) || v["path"] != "/" || v["user_agent"] != "curl/8" {
			t.Fatalf("record %s", out.Body)
		}
		if out.Headers["timestamp"] != "1791640536000" || out.Timestamp.Unix() != 1791640536 {
			t.Fatalf("timestamp header %q, Timestamp %v", out.Headers["timestamp"], out.Timestamp)
		}
	}
	bad := flow.Event{Body: []byte("not a log line"), Headers: map[string]string{"a": "b"}}
	out, keep := (&Transform{}).Apply(bad)
	if !keep || string(out.Body) != "not a log line" || !strings.Contains(out.Headers[ErrorHeader], "[time]") || bad.Headers[ErrorHeader] != "" {
		t.Fatalf("keep policy: keep=%v event %+v (input headers %v)", keep, out, bad.Headers)
	}
	if _, keep := (&Transform{Drop: true}).Apply(bad); keep {
		t.Fatal("drop policy kept a bad line")
	}
}

func FuzzParse(f *testing.F) {
	g := NewGenerator(1)
	for i := range 20 {
		f.Add([]byte(g.Next(time.Unix(int64(i)*1000, 0).UTC()).String()))
	}
	f.Add([]byte(`1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "\"" 200 - "\\" "`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := Parse(line)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error does not wrap ErrFormat: %v", err)
			}
			return
		}
		var r Record
		if err := json.Unmarshal(e.Record().JSON(false), &r); err != nil {
			t.Fatalf("record does not decode: %v", err)
		}
		if utf8.Valid(line) && r != e.Record() {
			t.Fatalf("record does not round-trip through JSON:\n got %+v\nwant %+v", r, e.Record())
		}
	})
}
