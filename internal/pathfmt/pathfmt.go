// Package pathfmt expands Apache Flume's path escapes, as the HDFS sink uses
// them in hdfs.path and hdfs.filePrefix:
//
//	%{name}      the value of event header name ("" when absent)
//	%t           the event time in milliseconds since the epoch
//	%s           the event time in seconds since the epoch
//	%a %A        weekday name, short (Mon) and full (Monday)
//	%b %B        month name, short (Jan) and full (January)
//	%c           date and time: "Mon Jan 2 15:04:05 2006"
//	%d %e        day of month, two digits (02) and unpadded (2)
//	%D           date: %m/%d/%y
//	%H %k        hour 00..23 and 0..23
//	%I %l        hour 01..12 and 1..12
//	%j           day of year 001..366
//	%m %n        month 01..12 and 1..12
//	%M           minute 00..59
//	%p           AM or PM
//	%S           second 00..59
//	%y %Y        year, two digits and four digits
//	%z           numeric time zone offset: +hhmm
//	%%           a literal %
//	%[localhost] this host's name; %[IP] its address; %[FQDN] its canonical name
//
// The time escapes read the event's "timestamp" header (milliseconds since
// the epoch) unless the template is expanded with UseLocalTimeStamp, and are
// formatted in the template's time zone after optional rounding down (Flume's
// hdfs.round, roundValue, roundUnit). Any other %x (x a letter, digit or _)
// expands to "", as in Flume; a % followed by anything else is kept.
//
// Two small differences from Flume, both where Flume fails at run time: an
// unknown %[name] is refused by Parse instead of failing every event, and %%
// or an unknown %x does not need a timestamp.
package pathfmt

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TimestampHeader is the header the time escapes read (Flume's "timestamp").
const TimestampHeader = "timestamp"

// ErrNoTimestamp is returned (wrapped) by Expand when a time escape needs the
// event's timestamp header and the event has none.
var ErrNoTimestamp = errors.New(`the event has no "timestamp" header for the time escapes of the path`)

// Options control how a Template formats time.
type Options struct {
	// Location is the time zone of the date escapes (Flume's hdfs.timeZone);
	// nil means the local time zone.
	Location *time.Location
	// RoundUnit is time.Second, time.Minute or time.Hour to round the time
	// down to a multiple of RoundValue units (Flume's hdfs.round*); 0 means
	// no rounding.
	RoundUnit  time.Duration
	RoundValue int
	// UseLocalTimeStamp uses the time passed to Expand instead of the
	// event's timestamp header.
	UseLocalTimeStamp bool
}

type partKind int

const (
	literal partKind = iota
	header
	shorthand
	static
)

type part struct {
	kind partKind
	text string // literal text, header name, or static value name
	c    byte   // shorthand letter
}

// Template is a parsed path with escapes. It is safe for concurrent use.
type Template struct {
	raw      string
	parts    []part
	opts     Options
	needTime bool
}

// Parse parses pattern. It fails only on an unknown %[name].
func Parse(pattern string, opts Options) (*Template, error) {
	t := &Template{raw: pattern, opts: opts}
	if t.opts.Location == nil {
		t.opts.Location = time.Local
	}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{kind: literal, text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c != '%' || i+1 >= len(pattern) {
			lit.WriteByte(c)
			continue
		}
		n := pattern[i+1]
		switch {
		case n == '{':
			end := strings.IndexByte(pattern[i+2:], '}')
			if end <= 0 || !allOf(pattern[i+2:i+2+end], isHeaderChar) {
				lit.WriteByte(c)
				continue
			}
			flush()
			t.parts = append(t.parts, part{kind: header, text: pattern[i+2 : i+2+end]})
			i += 2 + end
		case n == '[':
			end := strings.IndexByte(pattern[i+2:], ']')
			if end <= 0 || !allOf(pattern[i+2:i+2+end], isWordChar) {
				lit.WriteByte(c)
				continue
			}
			name := pattern[i+2 : i+2+end]
			switch strings.ToLower(name) {
			case "localhost", "ip", "fqdn":
			default:
				return nil, fmt.Errorf("parsing path %q: unknown escape %%[%s]; use %%[localhost], %%[IP] or %%[FQDN]", pattern, name)
			}
			flush()
			t.parts = append(t.parts, part{kind: static, text: strings.ToLower(name)})
			i += 2 + end
		case n == '%' || isWordChar(n):
			flush()
			t.parts = append(t.parts, part{kind: shorthand, c: n})
			if isTimeEscape(n) {
				t.needTime = true
			}
			i++
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return t, nil
}

// String returns the pattern as given.
func (t *Template) String() string { return t.raw }

// NeedsTime reports whether the template has time escapes.
func (t *Template) NeedsTime() bool { return t.needTime }

// IsStatic reports whether the template expands to the same string for
// every event (no header or time escape).
func (t *Template) IsStatic() bool {
	for _, p := range t.parts {
		if p.kind == header || (p.kind == shorthand && isTimeEscape(p.c)) {
			return false
		}
	}
	return true
}

// Expand returns the pattern with every escape replaced for an event with
// headers; now is the time used with UseLocalTimeStamp.
func (t *Template) Expand(headers map[string]string, now time.Time) (string, error) {
	var ts time.Time
	var tsText string
	if t.needTime {
		var err error
		ts, tsText, err = t.eventTime(headers, now)
		if err != nil {
			return "", err
		}
	}
	var b strings.Builder
	for _, p := range t.parts {
		switch p.kind {
		case literal:
			b.WriteString(p.text)
		case header:
			b.WriteString(headers[p.text])
		case static:
			b.WriteString(hostValue(p.text))
		case shorthand:
			if p.c == 't' {
				b.WriteString(tsText) // Flume prints the header as given
				continue
			}
			b.WriteString(formatShorthand(p.c, ts))
		}
	}
	return b.String(), nil
}

// eventTime returns the (rounded, zoned) time of an event and the text %t
// prints.
func (t *Template) eventTime(headers map[string]string, now time.Time) (time.Time, string, error) {
	var ms int64
	var text string
	if t.opts.UseLocalTimeStamp {
		ms = now.UnixMilli()
		text = strconv.FormatInt(ms, 10)
	} else {
		v, ok := headers[TimestampHeader]
		if !ok {
			return time.Time{}, "", fmt.Errorf("expanding %q: %w; add a timestamp interceptor to the source or set hdfs.useLocalTimeStamp = true", t.raw, ErrNoTimestamp)
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return time.Time{}, "", fmt.Errorf("expanding %q: timestamp header %q is not milliseconds since the epoch; populate it with a timestamp interceptor or set hdfs.useLocalTimeStamp = true", t.raw, v)
		}
		ms, text = n, v
	}
	ts := time.UnixMilli(ms).In(t.opts.Location)
	ts = RoundDown(ts, t.opts.RoundUnit, t.opts.RoundValue)
	return ts, text, nil
}

// RoundDown rounds t down to a multiple of value units (Second, Minute or
// Hour) of its own clock, in t's location, as Flume's
// TimestampRoundDownUtil. Any other unit returns t unchanged; value <= 0 is 1.
func RoundDown(t time.Time, unit time.Duration, value int) time.Time {
	if value <= 0 {
		value = 1
	}
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	switch unit {
	case time.Second:
		return time.Date(y, mo, d, h, mi, s/value*value, 0, t.Location())
	case time.Minute:
		return time.Date(y, mo, d, h, mi/value*value, 0, 0, t.Location())
	case time.Hour:
		return time.Date(y, mo, d, h/value*value, 0, 0, 0, t.Location())
	}
	return t
}

func isTimeEscape(c byte) bool {
	return strings.IndexByte("aAbBcdeDHIjklmMnpsStyYz", c) >= 0
}

func formatShorthand(c byte, t time.Time) string {
	switch c {
	case '%':
		return "%"
	case 'a':
		return t.Format("Mon")
	case 'A':
		return t.Format("Monday")
	case 'b':
		return t.Format("Jan")
	case 'B':
		return t.Format("January")
	case 'c':
		return t.Format("Mon Jan 2 15:04:05 2006")
	case 'd':
		return t.Format("02")
	case 'e':
		return strconv.Itoa(t.Day())
	case 'D':
		return t.Format("01/02/06")
	case 'H':
		return t.Format("15")
	case 'I':
		return t.Format("03")
	case 'j':
		return fmt.Sprintf("%03d", t.YearDay())
	case 'k':
		return strconv.Itoa(t.Hour())
	case 'l':
		return t.Format("3")
	case 'm':
		return t.Format("01")
	case 'n':
		return strconv.Itoa(int(t.Month()))
	case 'M':
		return t.Format("04")
	case 'p':
		return t.Format("PM")
	case 's':
		return strconv.FormatInt(t.Unix(), 10)
	case 'S':
		return t.Format("05")
	case 'y':
		return t.Format("06")
	case 'Y':
		return fmt.Sprintf("%04d", t.Year())
	case 'z':
		return t.Format("-0700")
	}
	return ""
}

func isWordChar(c byte) bool {
	return c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isHeaderChar(c byte) bool { return isWordChar(c) || c == '.' || c == '-' }

func allOf(s string, f func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !f(s[i]) {
			return false
		}
	}
	return true
}

var (
	hostOnce sync.Once
	hostVals map[string]string
)

// SetHost fixes the values of %[localhost], %[IP] and %[FQDN] (tests, or a
// host whose resolver gives the wrong answer). Call it before expanding.
func SetHost(name, ip, fqdn string) {
	hostOnce.Do(func() {})
	hostVals = map[string]string{"localhost": name, "ip": ip, "fqdn": fqdn}
}

// hostValue resolves this host's name, address and canonical name once, as
// Java's InetAddress.getLocalHost: the host name, the first address it
// resolves to (IPv4 preferred), and the name that address maps back to.
func hostValue(key string) string {
	hostOnce.Do(func() {
		name, _ := os.Hostname()
		ip, fqdn := "", name
		if addrs, err := net.LookupHost(name); err == nil && len(addrs) > 0 {
			ip = addrs[0]
			for _, a := range addrs {
				if p := net.ParseIP(a); p != nil && p.To4() != nil {
					ip = a
					break
				}
			}
			if names, err := net.LookupAddr(ip); err == nil && len(names) > 0 {
				fqdn = strings.TrimSuffix(names[0], ".")
			}
		}
		hostVals = map[string]string{"localhost": name, "ip": ip, "fqdn": fqdn}
	})
	return hostVals[key]
}

// LoadLocation resolves a Java time zone ID as hdfs.timeZone takes it: an
// IANA name ("America/Los_Angeles", "UTC"), or a custom "GMT+8", "GMT-05:30",
// "GMT+0530". Unlike Java, an unknown ID is an error instead of GMT.
func LoadLocation(id string) (*time.Location, error) {
	if id == "" {
		return time.Local, nil
	}
	if rest, ok := strings.CutPrefix(id, "GMT"); ok && rest != "" && (rest[0] == '+' || rest[0] == '-') {
		sign := 1
		if rest[0] == '-' {
			sign = -1
		}
		hh, mm := rest[1:], "0"
		if h, m, ok := strings.Cut(hh, ":"); ok {
			hh, mm = h, m
		} else if len(hh) > 2 {
			hh, mm = hh[:len(hh)-2], hh[len(hh)-2:]
		}
		h, err1 := strconv.Atoi(hh)
		m, err2 := strconv.Atoi(mm)
		if err1 == nil && err2 == nil && h <= 23 && m <= 59 && len(hh) <= 2 {
			return time.FixedZone(id, sign*(h*3600+m*60)), nil
		}
		return nil, fmt.Errorf("time zone %q is not GMT+h, GMT+hh:mm or GMT+hhmm", id)
	}
	loc, err := time.LoadLocation(id)
	if err != nil {
		return nil, fmt.Errorf("loading time zone %q: %w", id, err)
	}
	return loc, nil
}
