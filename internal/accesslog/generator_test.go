package accesslog

import (
	"regexp"
	"strconv"
	"testing"
	"time"
)

// combined matches one Apache combined-format line, the way log analysers
// such as GoAccess's COMBINED preset read it.
var combined = regexp.MustCompile(`^(\S+) (\S+) (\S+) \[([^\]]+)\] "(\S+) (\S+) (HTTP/\d\.\d)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"$`)

func TestEntryString(t *testing.T) {
	at := time.Date(2026, 10, 10, 13, 55, 36, 0, time.FixedZone("", -7*3600))
	tests := []struct {
		name string
		e    Entry
		want string
	}{
		{
			name: "full",
			e: Entry{ClientIP: "127.0.0.1", Ident: "-", User: "frank", Time: at, Method: "GET",
				Path: "/apache_pb.gif", Proto: "HTTP/1.0", Status: 200, Size: 2326,
				Referer: "http://www.example.com/start.html", UserAgent: "Mozilla/4.08 [en] (Win98; I ;Nav)"},
			want: `127.0.0.1 - frank [10/Oct/2026:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"`,
		},
		{
			name: "empty fields become dashes",
			e:    Entry{ClientIP: "192.0.2.1", Time: at, Method: "HEAD", Path: "/", Proto: "HTTP/1.1", Status: 304},
			want: `192.0.2.1 - - [10/Oct/2026:13:55:36 -0700] "HEAD / HTTP/1.1" 304 - "-" "-"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.e.String(); got != tc.want {
				t.Errorf("String() =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestGeneratorLinesAreCombinedFormat(t *testing.T) {
	g := NewGenerator(1)
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	statuses := map[int]int{}
	ips := map[string]bool{}
	const n = 20000
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(i) * 3 * time.Millisecond)
		e := g.Next(at)
		line := e.String()
		m := combined.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %d is not combined log format: %q", i, line)
		}
		ts, err := time.Parse(TimeLayout, m[4])
		if err != nil {
			t.Fatalf("line %d: parsing timestamp %q: %v", i, m[4], err)
		}
		if !ts.Equal(at.Truncate(time.Second)) {
			t.Fatalf("line %d: timestamp %v, want %v", i, ts, at.Truncate(time.Second))
		}
		code, _ := strconv.Atoi(m[8])
		if code != e.Status || code < 100 || code > 599 {
			t.Fatalf("line %d: status %q (entry says %d)", i, m[8], e.Status)
		}
		statuses[code]++
		ips[m[1]] = true
	}
	// The mix a real site shows: mostly 200s, then 304s, a visible share of
	// 404s, redirects, and a few server errors.
	if statuses[200] < n/2 {
		t.Errorf("200s = %d of %d, want the majority; all: %v", statuses[200], n, statuses)
	}
	for _, code := range []int{304, 404, 301, 302} {
		if statuses[code] < n/200 {
			t.Errorf("status %d appears %d times in %d lines, want at least %d; all: %v", code, statuses[code], n, n/200, statuses)
		}
	}
	if statuses[500]+statuses[502]+statuses[503]+statuses[504] == 0 {
		t.Errorf("no 5xx in %d lines: %v", n, statuses)
	}
	if len(ips) < 100 {
		t.Errorf("only %d distinct clients in %d lines", len(ips), n)
	}
}

func TestGeneratorIsDeterministic(t *testing.T) {
	tests := []struct {
		name      string
		seedA     uint64
		seedB     uint64
		wantEqual bool
	}{
		{"same seed", 42, 42, true},
		{"different seed", 42, 43, false},
	}
	at := time.Unix(1_800_000_000, 0).UTC()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := NewGenerator(tc.seedA), NewGenerator(tc.seedB)
			equal := true
			for i := 0; i < 200; i++ {
				if a.Next(at).String() != b.Next(at).String() {
					equal = false
				}
			}
			if equal != tc.wantEqual {
				t.Errorf("200 lines equal = %v, want %v", equal, tc.wantEqual)
			}
		})
	}
}

func BenchmarkGeneratorNext(b *testing.B) {
	g := NewGenerator(1)
	at := time.Now()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = g.Next(at).Append(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}
