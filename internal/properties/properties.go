// Package properties reads Java .properties files as java.util.Properties.load
// does: '#' and '!' comments, '=', ':' or whitespace between key and value,
// backslash continuation lines, and the escapes \t \n \r \f \uXXXX (any other
// escaped character stands for itself). Kafka server.properties, Flume agent
// configs and Kafka Connect worker configs all use this format.
package properties

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// Entry is one key/value pair with the line it started on (1-based).
type Entry struct {
	Key   string
	Value string
	Line  int
}

// Parse reads every entry of a properties document in file order. A key that
// appears more than once is returned each time; Load keeps the last value as
// Java does.
func Parse(data []byte) ([]Entry, error) {
	var entries []Entry
	lines := splitLines(data)
	for i := 0; i < len(lines); i++ {
		startLine := i + 1
		line := trimLeftSpace(lines[i])
		if len(line) == 0 || line[0] == '#' || line[0] == '!' {
			continue
		}
		// Join continuation lines: a line ending in an odd number of
		// backslashes continues on the next one, whose leading
		// whitespace is dropped.
		var logical []byte
		for {
			if !continues(line) {
				logical = append(logical, line...)
				break
			}
			logical = append(logical, line[:len(line)-1]...)
			i++
			if i >= len(lines) {
				break
			}
			line = trimLeftSpace(lines[i])
		}
		key, value, err := splitKeyValue(logical)
		if err != nil {
			return nil, fmt.Errorf("parsing properties line %d: %w", startLine, err)
		}
		entries = append(entries, Entry{Key: key, Value: value, Line: startLine})
	}
	return entries, nil
}

// Load parses data into a map; later duplicates win.
func Load(data []byte) (map[string]string, error) {
	entries, err := Parse(data)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(entries))
	for _, e := range entries {
		m[e.Key] = e.Value
	}
	return m, nil
}

// LoadReader reads all of r and parses it with Load.
func LoadReader(r io.Reader) (map[string]string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading properties: %w", err)
	}
	return Load(data)
}

// LoadFile reads and parses the properties file at path.
func LoadFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading properties file: %w", err)
	}
	m, err := Load(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// splitLines splits on \n, \r and \r\n, as Java's LineReader does.
func splitLines(data []byte) [][]byte {
	var lines [][]byte
	start := 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '\n':
			lines = append(lines, data[start:i])
			start = i + 1
		case '\r':
			lines = append(lines, data[start:i])
			if i+1 < len(data) && data[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	if start < len(data) {
		lines = append(lines, data[start:])
	}
	return lines
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

func trimLeftSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	return b
}

// continues reports whether line ends in an odd number of backslashes.
func continues(line []byte) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitKeyValue splits a logical line at the first unescaped '=', ':' or
// whitespace, then unescapes both halves.
func splitKeyValue(line []byte) (string, string, error) {
	keyEnd := len(line)
	valStart := len(line)
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\\' {
			i++
			continue
		}
		if c == '=' || c == ':' {
			keyEnd, valStart = i, i+1
			break
		}
		if isSpace(c) {
			keyEnd = i
			j := i
			for j < len(line) && isSpace(line[j]) {
				j++
			}
			if j < len(line) && (line[j] == '=' || line[j] == ':') {
				j++
			}
			valStart = j
			break
		}
	}
	key, err := unescape(line[:keyEnd])
	if err != nil {
		return "", "", fmt.Errorf("key: %w", err)
	}
	val, err := unescape(trimLeftSpace(line[valStart:]))
	if err != nil {
		return "", "", fmt.Errorf("value of %q: %w", key, err)
	}
	return key, val, nil
}

func unescape(b []byte) (string, error) {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b), nil
	}
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			sb.WriteByte(c)
			continue
		}
		i++
		if i >= len(b) {
			break // a lone trailing backslash is dropped, as in Java
		}
		switch c = b[i]; c {
		case 't':
			sb.WriteByte('\t')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 'f':
			sb.WriteByte('\f')
		case 'u':
			if i+5 > len(b) {
				return "", fmt.Errorf("malformed \\uxxxx escape")
			}
			r, ok := hex4(b[i+1 : i+5])
			if !ok {
				return "", fmt.Errorf("malformed \\uxxxx escape")
			}
			i += 4
			// Java strings are UTF-16: join a surrogate pair written as
			// two escapes.
			if r >= 0xD800 && r < 0xDC00 && i+7 <= len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
				if lo, ok := hex4(b[i+3 : i+7]); ok && lo >= 0xDC00 && lo < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					i += 6
				}
			}
			if !utf8.ValidRune(r) {
				r = utf8.RuneError
			}
			sb.WriteRune(r)
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String(), nil
}

func hex4(b []byte) (rune, bool) {
	var r rune
	for _, h := range b {
		r <<= 4
		switch {
		case h >= '0' && h <= '9':
			r |= rune(h - '0')
		case h >= 'a' && h <= 'f':
			r |= rune(h-'a') + 10
		case h >= 'A' && h <= 'F':
			r |= rune(h-'A') + 10
		default:
			return 0, false
		}
	}
	return r, true
}
