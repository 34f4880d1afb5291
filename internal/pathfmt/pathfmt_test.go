package pathfmt

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustLoc(t *testing.T, id string) *time.Location {
	t.Helper()
	loc, err := LoadLocation(id)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestExpandGolden checks every escape over fixed times and time zones. The
// expected values were checked against GNU date(1) with the same TZ, which
// agrees with Java's SimpleDateFormat for these letters (English locale);
// %e, %k and %l are unpadded in Flume where date pads them with a space.
func TestExpandGolden(t *testing.T) {
	const all = "%a|%A|%b|%B|%d|%e|%D|%H|%I|%j|%k|%l|%m|%M|%n|%p|%s|%S|%y|%Y|%z|%t|%%"
	hdr := map[string]string{"timestamp": "1700000000123", "host": "web-1", "a.b-c": "x"}
	cases := []struct {
		name    string
		pattern string
		zone    string
		unit    time.Duration
		value   int
		headers map[string]string
		want    string
	}{
		{name: "UTC", pattern: all, zone: "UTC", headers: hdr,
			want: "Tue|Tuesday|Nov|November|14|14|11/14/23|22|10|318|22|10|11|13|11|PM|1700000000|20|23|2023|+0000|1700000000123|%"},
		{name: "Los Angeles", pattern: all, zone: "America/Los_Angeles", headers: hdr,
			want: "Tue|Tuesday|Nov|November|14|14|11/14/23|14|02|318|14|2|11|13|11|PM|1700000000|20|23|2023|-0800|1700000000123|%"},
		{name: "Kolkata, next day", pattern: all, zone: "Asia/Kolkata", headers: hdr,
			want: "Wed|Wednesday|Nov|November|15|15|11/15/23|03|03|319|3|3|11|43|11|AM|1700000000|20|23|2023|+0530|1700000000123|%"},
		{name: "custom GMT offset", pattern: "%H:%M %z", zone: "GMT+8", headers: hdr, want: "06:13 +0800"},
		{name: "new year, unpadded", pattern: "%a %b %e %H %I %l %p %j %n %c", zone: "UTC",
			headers: map[string]string{"timestamp": "1704070800000"},
			want:    "Mon Jan 1 01 01 1 AM 001 1 Mon Jan 1 01:00:00 2024"},
		{name: "round 10 minutes", pattern: "/flume/%y-%m-%d/%H%M/%S", zone: "UTC", unit: time.Minute, value: 10, headers: hdr,
			want: "/flume/23-11-14/2210/00"},
		{name: "round 15 seconds", pattern: "%H%M%S %s %t", zone: "UTC", unit: time.Second, value: 15, headers: hdr,
			want: "221315 1699999995 1700000000123"},
		{name: "round 6 hours in zone", pattern: "%Y%m%d%H%M", zone: "Asia/Kolkata", unit: time.Hour, value: 6, headers: hdr,
			want: "202311150000"},
		{name: "headers", pattern: "/logs/%{host}/%{a.b-c}/%{missing}/x", headers: map[string]string{"host": "web-1", "a.b-c": "x"},
			want: "/logs/web-1/x//x"},
		{name: "unknown shorthand is empty", pattern: "a%Qb%_c", headers: nil, want: "abc"},
		{name: "not an escape kept", pattern: "50%-%{bad header}%[x-y]%", headers: nil, want: "50%-%{bad header}%[x-y]%"},
		{name: "percent needs no timestamp", pattern: "100%%", headers: nil, want: "100%"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := Parse(tc.pattern, Options{Location: mustLoc(t, tc.zone), RoundUnit: tc.unit, RoundValue: tc.value})
			if err != nil {
				t.Fatal(err)
			}
			got, err := tpl.Expand(tc.headers, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("Expand(%q) =\n%q\nwant\n%q", tc.pattern, got, tc.want)
			}
		})
	}
}

func TestStaticHostEscapes(t *testing.T) {
	SetHost("vm", "10.1.2.3", "vm.example.org")
	tpl, err := Parse("/d/%[localhost]/%[IP]/%[fqdn]", Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := tpl.Expand(nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "/d/vm/10.1.2.3/vm.example.org"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	if !tpl.IsStatic() || tpl.NeedsTime() {
		t.Fatal("host escapes are static and need no time")
	}
	if _, err := Parse("/d/%[hostname]", Options{}); err == nil || !strings.Contains(err.Error(), "%[localhost]") {
		t.Fatalf("unknown %%[name] error = %v", err)
	}
}

func TestUseLocalTimeStamp(t *testing.T) {
	tpl, err := Parse("%Y/%t", Options{Location: time.UTC, UseLocalTimeStamp: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.UnixMilli(1704070800042)
	got, err := tpl.Expand(map[string]string{"timestamp": "1"}, now)
	if err != nil || got != "2024/1704070800042" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestMissingTimestamp(t *testing.T) {
	tpl, _ := Parse("/x/%H", Options{Location: time.UTC})
	if _, err := tpl.Expand(map[string]string{}, time.Now()); !errors.Is(err, ErrNoTimestamp) || !strings.Contains(err.Error(), "useLocalTimeStamp") {
		t.Fatalf("missing timestamp error = %v", err)
	}
	if _, err := tpl.Expand(map[string]string{"timestamp": "soon"}, time.Now()); err == nil || !strings.Contains(err.Error(), "timestamp interceptor") {
		t.Fatalf("bad timestamp error = %v", err)
	}
	if tpl.IsStatic() {
		t.Fatal("a time escape is not static")
	}
}

func TestLoadLocation(t *testing.T) {
	for _, tc := range []struct {
		id     string
		offset int
		bad    bool
	}{
		{id: "UTC"}, {id: "GMT+8", offset: 8 * 3600}, {id: "GMT-05:30", offset: -(5*3600 + 30*60)},
		{id: "GMT+0530", offset: 5*3600 + 30*60}, {id: "Mars/Olympus", bad: true}, {id: "GMT+99", bad: true},
	} {
		loc, err := LoadLocation(tc.id)
		if tc.bad {
			if err == nil {
				t.Errorf("%s: want an error", tc.id)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.id, err)
			continue
		}
		if _, off := time.Unix(0, 0).In(loc).Zone(); off != tc.offset {
			t.Errorf("%s: offset %d want %d", tc.id, off, tc.offset)
		}
	}
}

// FuzzExpand parses arbitrary patterns and expands them with arbitrary
// header values: no panic, and a header value is inserted literally.
func FuzzExpand(f *testing.F) {
	f.Add("/flume/%y-%m-%d/%H%M/%S/%{host}", "web-1", "1700000000123")
	f.Add("%[IP]%%%{a.b}%", "$1\\", "-5")
	f.Add("%{", "", "x")
	f.Fuzz(func(t *testing.T, pattern, value, ts string) {
		tpl, err := Parse(pattern, Options{Location: time.UTC, RoundUnit: time.Minute, RoundValue: 7})
		if err != nil {
			return
		}
		SetHost("h", "127.0.0.1", "h.local")
		got, err := tpl.Expand(map[string]string{"host": value, "timestamp": ts}, time.Unix(0, 0))
		if err != nil {
			if !tpl.NeedsTime() {
				t.Fatalf("Expand(%q) failed without time escapes: %v", pattern, err)
			}
			return
		}
		if pattern == "%{host}" && got != value {
			t.Fatalf("header inserted as %q, want %q", got, value)
		}
	})
}
