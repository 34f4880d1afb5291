package cli

// Record output formats for runnel consume: a printf-like template and JSON lines.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// formatHelp documents the --format template; docs/cli.md repeats it.
const formatHelp = `output template for each record:
  %t topic         %p partition      %o offset
  %k key           %K key length     %v (or %s) value   %V (or %S) value length
  %T timestamp (Unix milliseconds)   %d timestamp (RFC 3339, local time)
  %h headers as k1=v1,k2=v2          %% a literal %
  \n newline  \t tab  \r carriage return  \\ backslash`

// recordFormat is a parsed --format template.
type recordFormat struct {
	parts []formatPart
}

type formatPart struct {
	lit  string
	verb byte // 0 for a literal
}

// parseFormat parses a template such as `%k=%v\n`.
func parseFormat(s string) (*recordFormat, error) {
	f := &recordFormat{}
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			f.parts = append(f.parts, formatPart{lit: string(lit)})
			lit = nil
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '%':
			if i+1 == len(s) {
				return nil, fmt.Errorf("parsing --format %q: trailing %%", s)
			}
			i++
			switch v := s[i]; v {
			case '%':
				lit = append(lit, '%')
			case 't', 'p', 'o', 'k', 'K', 'v', 's', 'V', 'S', 'T', 'd', 'h':
				flush()
				f.parts = append(f.parts, formatPart{verb: v})
			default:
				return nil, fmt.Errorf("parsing --format %q: unknown verb %%%c", s, v)
			}
		case '\\':
			if i+1 == len(s) {
				lit = append(lit, '\\')
				continue
			}
			i++
			switch e := s[i]; e {
			case 'n':
				lit = append(lit, '\n')
			case 't':
				lit = append(lit, '\t')
			case 'r':
				lit = append(lit, '\r')
			case '\\':
				lit = append(lit, '\\')
			default:
				lit = append(lit, '\\', e)
			}
		default:
			lit = append(lit, c)
		}
	}
	flush()
	return f, nil
}

// Append appends r rendered through the template to b.
func (f *recordFormat) Append(b []byte, r *kgo.Record) []byte {
	for _, p := range f.parts {
		switch p.verb {
		case 0:
			b = append(b, p.lit...)
		case 't':
			b = append(b, r.Topic...)
		case 'p':
			b = strconv.AppendInt(b, int64(r.Partition), 10)
		case 'o':
			b = strconv.AppendInt(b, r.Offset, 10)
		case 'k':
			b = append(b, r.Key...)
		case 'K':
			b = strconv.AppendInt(b, int64(len(r.Key)), 10)
		case 'v', 's':
			b = append(b, r.Value...)
		case 'V', 'S':
			b = strconv.AppendInt(b, int64(len(r.Value)), 10)
		case 'T':
			b = strconv.AppendInt(b, r.Timestamp.UnixMilli(), 10)
		case 'd':
			b = r.Timestamp.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
		case 'h':
			for i, h := range r.Headers {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, h.Key...)
				b = append(b, '=')
				b = append(b, h.Value...)
			}
		}
	}
	return b
}

// jsonRecord is one line of --json output. Keys, values and header values
// that are not valid UTF-8 are base64-encoded and flagged by *_encoding.
type jsonRecord struct {
	Topic         string       `json:"topic"`
	Partition     int32        `json:"partition"`
	Offset        int64        `json:"offset"`
	Timestamp     int64        `json:"timestamp"`
	Key           *string      `json:"key"`
	KeyEncoding   string       `json:"key_encoding,omitempty"`
	Value         *string      `json:"value"`
	ValueEncoding string       `json:"value_encoding,omitempty"`
	Headers       []jsonHeader `json:"headers"`
}

type jsonHeader struct {
	Key           string  `json:"key"`
	Value         *string `json:"value"`
	ValueEncoding string  `json:"value_encoding,omitempty"`
}

func encodeBytes(b []byte) (*string, string) {
	if b == nil {
		return nil, ""
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, ""
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s, "base64"
}

// appendJSON appends r as one JSON object and a newline to b.
func appendJSON(b []byte, r *kgo.Record) ([]byte, error) {
	j := jsonRecord{
		Topic:     r.Topic,
		Partition: r.Partition,
		Offset:    r.Offset,
		Timestamp: r.Timestamp.UnixMilli(),
		Headers:   make([]jsonHeader, 0, len(r.Headers)),
	}
	j.Key, j.KeyEncoding = encodeBytes(r.Key)
	j.Value, j.ValueEncoding = encodeBytes(r.Value)
	for _, h := range r.Headers {
		jh := jsonHeader{Key: h.Key}
		jh.Value, jh.ValueEncoding = encodeBytes(h.Value)
		j.Headers = append(j.Headers, jh)
	}
	out, err := json.Marshal(j)
	if err != nil {
		return b, fmt.Errorf("encoding record %s/%d@%d as JSON: %w", r.Topic, r.Partition, r.Offset, err)
	}
	b = append(b, out...)
	return append(b, '\n'), nil
}

// parseFromTime reads a --from-time value: RFC 3339 ("2026-01-02T15:04:05Z"),
// Unix milliseconds ("1767366245000"), or a duration back from now ("10m",
// "-1h30m").
func parseFromTime(s string, now time.Time) (time.Time, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			d = -d
		}
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("parsing --from-time %q: want RFC 3339, Unix milliseconds or a duration ago such as 10m", s)
}
