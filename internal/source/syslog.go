package source

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// Syslog headers and values, as Flume's SyslogUtils sets them.
const (
	SyslogFacilityHeader   = "Facility"
	SyslogSeverityHeader   = "Severity"
	SyslogPriorityHeader   = "priority"
	SyslogVersionHeader    = "version"
	SyslogTimestampHeader  = "timestamp"
	SyslogHostHeader       = "host"
	SyslogStatusHeader     = "flume.syslog.status"
	SyslogStatusInvalid    = "Invalid"
	SyslogStatusIncomplete = "Incomplete"

	// SyslogDefaultEventSize is Flume's default eventSize; SyslogMinEventSize
	// is the smallest it accepts (smaller values are raised to it).
	SyslogDefaultEventSize = 2500
	SyslogMinEventSize     = 10
)

// Keys shared by the syslog sources (Flume's names).
const (
	SyslogHost                 = "host"
	SyslogPort                 = "port"
	SyslogPorts                = "ports"
	SyslogEventSize            = "eventSize"
	SyslogKeepFields           = "keepFields"
	SyslogCharset              = "charset"
	SyslogPortHeader           = "portHeader"
	SyslogClientIPHeader       = "clientIPHeader"
	SyslogClientHostnameHeader = "clientHostnameHeader"
)

// Java's '.' does not match line terminators; the body group keeps that.
const javaDot = `[^\n\r\x{85}\x{2028}\x{2029}]`

var (
	// syslog5424 matches <pri>version stamp host rest, stamp and host may be "-".
	syslog5424 = regexp.MustCompile(`^(?:<(\d{1,3})>)(?:(\d?)\s?)(?:(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:[+-]\d{2}:\d{2}|Z)?)|-)\s(?:([\w][\w\d.@\-]*)|-)\s(` + javaDot + `*)$`)
	// syslog3164 matches <pri>[version] Mmm dd HH:mm:ss host rest.
	syslog3164 = regexp.MustCompile(`^(?:<(\d{1,3})>)(?:(\d)?\s?)([A-Z][a-z][a-z]\s{1,2}\d{1,2}\s\d{2}:\d{2}:\d{2})\s([\w][\w\d.@-]*)\s(` + javaDot + `*)$`)
)

// keepFields is which header fields stay in the body (Flume's keepFields).
type keepFields struct {
	all                                    bool
	priority, version, timestamp, hostname bool
}

// parseKeepFields reads keepFields as Flume does: false/none, true/all, or
// a list naming any of priority, version, timestamp, hostname.
func parseKeepFields(v string) keepFields {
	v = strings.ToLower(strings.TrimSpace(v))
	switch v {
	case "", "false", "none":
		return keepFields{}
	case "true", "all":
		return keepFields{all: true}
	}
	return keepFields{
		priority:  strings.Contains(v, "priority"),
		version:   strings.Contains(v, "version"),
		timestamp: strings.Contains(v, "timestamp"),
		hostname:  strings.Contains(v, "hostname"),
	}
}

// SyslogParser turns one framed syslog message into an event the way
// Flume's SyslogUtils does: headers Facility and Severity always (0 for an
// invalid message), priority, version, timestamp (epoch milliseconds) and
// host when the message is RFC 5424 or RFC 3164, flume.syslog.status
// Invalid when it does not start with a valid <priority>, Incomplete when
// it was cut at eventSize. The body is the message after the host (with
// the keepFields fields put back in front), or the whole message when it
// did not parse or keepFields is all.
//
// Timestamps differ from Flume's on purpose: an RFC 5424 time zone is
// honoured also when the time has a fraction, and ".5" is half a second
// (Flume's SimpleDateFormat ignores the zone after a fraction and reads
// ".5" as 5 ms). Times without a zone, and RFC 3164 times, are local; an
// RFC 3164 time gets the current year, moved back a year when that puts it
// more than a month in the future and forward when more than eleven months
// in the past, as in Flume.
type SyslogParser struct {
	Keep keepFields
	// Now and Loc default to time.Now and time.Local.
	Now func() time.Time
	Loc *time.Location
}

// NewSyslogParser returns a parser with Flume's keepFields setting.
func NewSyslogParser(keep string) *SyslogParser { return &SyslogParser{Keep: parseKeepFields(keep)} }

// Parse builds the event for msg (without its framing); incomplete says it
// was cut at eventSize.
func (p *SyslogParser) Parse(msg []byte, incomplete bool) flow.Event {
	h := map[string]string{}
	e := flow.Event{Headers: h}
	prio, bad := syslogPriority(msg)
	var body []byte
	if !bad {
		text := string(bytes.ToValidUTF8(msg, []byte("\uFFFD")))
		if m := syslog5424.FindStringSubmatch(text); m != nil {
			body = p.fields(h, &e, m, p.parse5424)
		} else if m := syslog3164.FindStringSubmatch(text); m != nil {
			body = p.fields(h, &e, m, p.parse3164)
		}
	}
	h[SyslogFacilityHeader] = strconv.Itoa(prio / 8)
	h[SyslogSeverityHeader] = strconv.Itoa(prio % 8)
	switch {
	case bad:
		h[SyslogStatusHeader] = SyslogStatusInvalid
	case incomplete:
		h[SyslogStatusHeader] = SyslogStatusIncomplete
	}
	if p.Keep.all || len(body) == 0 {
		body = bytes.Clone(msg)
	}
	e.Body = body
	return e
}

// syslogPriority reads "<digits>" at the start of msg: at most 3 digits
// and at least one, as Flume's state machine checks.
func syslogPriority(msg []byte) (prio int, bad bool) {
	if len(msg) == 0 || msg[0] != '<' {
		return 0, true
	}
	i := 1
	for i < len(msg) && msg[i] >= '0' && msg[i] <= '9' {
		i++
	}
	if i == 1 || i > 4 || i >= len(msg) || msg[i] != '>' {
		return 0, true
	}
	n, _ := strconv.Atoi(string(msg[1:i]))
	return n, false
}

// fields sets the headers from a regexp match m (priority, version, stamp,
// host, body) and returns the body with the kept fields.
func (p *SyslogParser) fields(h map[string]string, e *flow.Event, m []string, parseTime func(string) (time.Time, bool)) []byte {
	priority, version, stamp, host, rest := m[1], m[2], m[3], m[4], m[5]
	if priority != "" {
		h[SyslogPriorityHeader] = priority
	}
	if version != "" {
		h[SyslogVersionHeader] = version
	}
	if stamp != "" {
		if t, ok := parseTime(stamp); ok {
			h[SyslogTimestampHeader] = strconv.FormatInt(t.UnixMilli(), 10)
			e.Timestamp = t
		}
	}
	if host != "" {
		h[SyslogHostHeader] = host
	}
	if p.Keep.all {
		return nil
	}
	// Flume prints Java's null for an absent stamp or host.
	orNull := func(s string) string {
		if s == "" {
			return "null"
		}
		return s
	}
	body := rest
	if p.Keep.hostname {
		body = orNull(host) + " " + body
	}
	if p.Keep.timestamp {
		body = orNull(stamp) + " " + body
	}
	if p.Keep.version && version != "" {
		body = version + " " + body
	}
	if p.Keep.priority {
		body = "<" + priority + ">" + body
	}
	return []byte(body)
}

func (p *SyslogParser) loc() *time.Location {
	if p.Loc != nil {
		return p.Loc
	}
	return time.Local
}

func (p *SyslogParser) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *SyslogParser) parse5424(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		loc := p.loc()
		if layout == time.RFC3339Nano {
			loc = time.UTC
		}
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func (p *SyslogParser) parse3164(s string) (time.Time, bool) {
	now := p.now()
	s = strings.Replace(s, "  ", " ", 1)
	t, err := time.ParseInLocation("2006 Jan 2 15:04:05", strconv.Itoa(now.UTC().Year())+" "+s, p.loc())
	if err != nil {
		return time.Time{}, false
	}
	if t.After(now) && t.AddDate(0, -1, 0).After(now) {
		t = t.AddDate(-1, 0, 0)
	} else if t.Before(now) && t.AddDate(0, 11, 0).Before(now) {
		t = t.AddDate(1, 0, 0)
	}
	return t, true
}

// syslogFramer splits a TCP stream into messages: non-transparent framing
// (a message ends at '\n'; empty lines are skipped) as Flume reads it, and
// octet counting (RFC 6587: "LEN SP MSG") when a message starts with a
// digit. A message longer than eventSize is cut there and marked
// incomplete; with newline framing the rest becomes the next message (as in
// Flume), with octet counting the rest of the frame is discarded.
type syslogFramer struct {
	eventSize int
	buf       []byte // bytes not yet framed
	skip      int    // bytes of an octet-counted frame still to discard
}

// frame is one message from the stream.
type frame struct {
	msg        []byte
	incomplete bool
}

// feed adds b and returns every complete message. The returned slices are
// copies.
func (f *syslogFramer) feed(b []byte) []frame {
	f.buf = append(f.buf, b...)
	var out []frame
	for {
		if f.skip > 0 {
			n := min(f.skip, len(f.buf))
			f.buf = f.buf[n:]
			f.skip -= n
			if f.skip > 0 {
				break
			}
		}
		for len(f.buf) > 0 && f.buf[0] == '\n' {
			f.buf = f.buf[1:]
		}
		if len(f.buf) == 0 {
			break
		}
		if c := f.buf[0]; c >= '1' && c <= '9' {
			// Up to 9 digits and a space: an octet count. Decided on the
			// bytes alone, however the stream was chunked.
			j := 0
			for j < len(f.buf) && j < 10 && f.buf[j] >= '0' && f.buf[j] <= '9' {
				j++
			}
			if j == len(f.buf) && j < 10 {
				break // need more bytes to tell
			}
			if j < 10 && f.buf[j] == ' ' {
				n, _ := strconv.Atoi(string(f.buf[:j]))
				rest := f.buf[j+1:]
				if n > f.eventSize {
					if len(rest) < f.eventSize {
						break
					}
					out = append(out, frame{msg: bytes.Clone(rest[:f.eventSize]), incomplete: true})
					f.buf = rest[f.eventSize:]
					f.skip = n - f.eventSize
					continue
				}
				if len(rest) < n {
					break
				}
				out = append(out, frame{msg: bytes.Clone(bytes.TrimSuffix(rest[:n], []byte{'\n'}))})
				f.buf = rest[n:]
				continue
			}
		}
		fr, ok := f.lineFrame()
		if !ok {
			break
		}
		out = append(out, fr)
	}
	if len(f.buf) == 0 {
		f.buf = nil
	}
	return out
}

// lineFrame cuts a '\n'-terminated message (or eventSize bytes) from buf.
func (f *syslogFramer) lineFrame() (frame, bool) {
	i := bytes.IndexByte(f.buf, '\n')
	if i >= 0 && i <= f.eventSize {
		if i == f.eventSize {
			// Exactly eventSize bytes: Flume cuts it as incomplete and the
			// '\n' then ends an empty message, which is skipped.
			fr := frame{msg: bytes.Clone(f.buf[:i]), incomplete: true}
			f.buf = f.buf[i+1:]
			return fr, true
		}
		fr := frame{msg: bytes.Clone(f.buf[:i])}
		f.buf = f.buf[i+1:]
		return fr, true
	}
	if len(f.buf) >= f.eventSize {
		fr := frame{msg: bytes.Clone(f.buf[:f.eventSize]), incomplete: true}
		f.buf = f.buf[f.eventSize:]
		return fr, true
	}
	return frame{}, false
}

// rest returns what is left unframed at end of stream.
func (f *syslogFramer) rest() []byte {
	if f.skip > 0 {
		return nil
	}
	return bytes.TrimLeft(f.buf, "\n")
}
