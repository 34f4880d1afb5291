package accesslog

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrFormat is wrapped by every Parse error.
var ErrFormat = errors.New("not an access-log line in common or combined format")

// Parse reads one line in the NCSA common log format
//
//	%h %l %u %t "%r" %>s %b
//
// optionally followed by the combined format's "%{Referer}i" "%{User-agent}i".
// A trailing newline or carriage return is ignored. Quoted fields may contain
// backslash-escaped quotes (Apache escapes them so). Errors wrap ErrFormat
// and say which field was wrong.
func Parse(line []byte) (Entry, error) {
	p := parser{b: bytes.TrimRight(line, "\r\n")}
	var e Entry
	e.ClientIP = p.word()
	e.Ident = p.word()
	e.User = p.word()
	if e.ClientIP == "" || e.Ident == "" || e.User == "" {
		return Entry{}, p.errf("host, ident and user fields")
	}
	ts, ok := p.bracketed()
	if !ok {
		return Entry{}, p.errf("[time]")
	}
	t, err := time.Parse(TimeLayout, ts)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: time %q: %v", ErrFormat, ts, err)
	}
	e.Time = t
	req, ok := p.quoted()
	if !ok {
		return Entry{}, p.errf(`"request"`)
	}
	e.Method, e.Path, e.Proto = splitRequest(req)
	status, err := strconv.Atoi(p.word())
	if err != nil || status < 100 || status > 999 {
		return Entry{}, p.errf("status")
	}
	e.Status = status
	switch size := p.word(); size {
	case "-":
	case "":
		return Entry{}, p.errf("size")
	default:
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil || n < 0 {
			return Entry{}, fmt.Errorf("%w: size %q is not a byte count", ErrFormat, size)
		}
		e.Size = n
	}
	if p.done() {
		return e, nil // common log format
	}
	if e.Referer, ok = p.quoted(); !ok {
		return Entry{}, p.errf(`"referer"`)
	}
	if e.UserAgent, ok = p.quoted(); !ok {
		return Entry{}, p.errf(`"user-agent"`)
	}
	// Anything after the combined fields (e.g. %D) is ignored.
	return e, nil
}

// splitRequest splits "GET /path HTTP/1.1". A malformed request line (Apache
// logs what the client sent, e.g. a TLS handshake on a plain port) keeps the
// whole text as the path.
func splitRequest(r string) (method, path, proto string) {
	m, rest, ok := cutSpace(r)
	if !ok {
		return "", r, ""
	}
	p, pr, ok := cutSpace(rest)
	if !ok {
		return m, rest, ""
	}
	return m, p, pr
}

func cutSpace(s string) (before, after string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

type parser struct {
	b   []byte
	pos int
}

func (p *parser) skipSpaces() {
	for p.pos < len(p.b) && p.b[p.pos] == ' ' {
		p.pos++
	}
}

func (p *parser) done() bool {
	p.skipSpaces()
	return p.pos >= len(p.b)
}

// word returns the next space-delimited field ("" at the end).
func (p *parser) word() string {
	p.skipSpaces()
	start := p.pos
	for p.pos < len(p.b) && p.b[p.pos] != ' ' {
		p.pos++
	}
	return string(p.b[start:p.pos])
}

// bracketed returns the text of the next [...] field.
func (p *parser) bracketed() (string, bool) {
	p.skipSpaces()
	if p.pos >= len(p.b) || p.b[p.pos] != '[' {
		return "", false
	}
	end := bytes.IndexByte(p.b[p.pos:], ']')
	if end < 0 {
		return "", false
	}
	s := string(p.b[p.pos+1 : p.pos+end])
	p.pos += end + 1
	return s, true
}

// quoted returns the unescaped text of the next "..." field.
func (p *parser) quoted() (string, bool) {
	p.skipSpaces()
	if p.pos >= len(p.b) || p.b[p.pos] != '"' {
		return "", false
	}
	var out []byte
	for i := p.pos + 1; i < len(p.b); i++ {
		switch c := p.b[i]; c {
		case '\\':
			// Apache writes \" and \\ for a quote and a backslash, and \xhh
			// for other bytes, which stay as written.
			if i+1 < len(p.b) && (p.b[i+1] == '"' || p.b[i+1] == '\\') {
				i++
				out = append(out, p.b[i])
				continue
			}
			out = append(out, c)
		case '"':
			p.pos = i + 1
			return string(out), true
		default:
			out = append(out, c)
		}
	}
	return "", false
}

func (p *parser) errf(field string) error {
	return fmt.Errorf("%w: bad or missing %s at byte %d", ErrFormat, field, p.pos)
}
