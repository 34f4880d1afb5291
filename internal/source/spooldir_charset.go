package source

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/ianaindex"

	"github.com/runnel/runnel/internal/flow"
)

// Decode error policies (Flume's decodeErrorPolicy values).
const (
	DecodeFail    = "FAIL"
	DecodeReplace = "REPLACE"
	DecodeIgnore  = "IGNORE"
)

// lookupCharset finds a character set by its IANA or Java name ("UTF-8",
// "ISO-8859-1", "US-ASCII", "UTF-16LE", "windows-1252", ...). A nil
// Encoding with a nil error means UTF-8.
func lookupCharset(name string) (encoding.Encoding, error) {
	n := strings.TrimSpace(name)
	switch strings.ToUpper(strings.ReplaceAll(n, "_", "-")) {
	case "", "UTF-8", "UTF8":
		return nil, nil
	}
	enc, err := ianaindex.IANA.Encoding(n)
	if err != nil || enc == nil {
		if enc2, err2 := ianaindex.MIME.Encoding(n); err2 == nil && enc2 != nil {
			return enc2, nil
		}
		return nil, fmt.Errorf("unknown or unsupported character set %q", name)
	}
	return enc, nil
}

// charsetKeyError checks that key's value names a known character set.
func charsetKeyError(key, value string) error {
	if _, err := lookupCharset(value); err != nil {
		return keyErr(key, value, "unknown or unsupported character set", "use an IANA name such as UTF-8, ISO-8859-1, US-ASCII, UTF-16LE or windows-1252")
	}
	return nil
}

// textCodec turns lines in an input character set into bodies in an
// output character set, applying a decode error policy to bytes that are
// not valid in the input character set.
type textCodec struct {
	in, out encoding.Encoding // nil: UTF-8
	policy  string
}

func newTextCodec(inCharset, outCharset, policy string) (*textCodec, error) {
	in, err := lookupCharset(inCharset)
	if err != nil {
		return nil, err
	}
	out, err := lookupCharset(outCharset)
	if err != nil {
		return nil, err
	}
	return &textCodec{in: in, out: out, policy: strings.ToUpper(policy)}, nil
}

// identity reports whether convert returns its input unchanged for valid
// input.
func (c *textCodec) identity() bool { return c.in == nil && c.out == nil }

// convert decodes b from the input character set and encodes it in the
// output one. Under FAIL a malformed input is an error; under REPLACE each
// malformed sequence becomes U+FFFD; under IGNORE it is dropped.
func (c *textCodec) convert(b []byte) ([]byte, error) {
	var text []byte
	if c.in == nil {
		text = b
	} else {
		d, err := c.in.NewDecoder().Bytes(b)
		if err != nil {
			return nil, fmt.Errorf("decoding: %w", err)
		}
		text = d
	}
	if !utf8.Valid(text) || (c.in != nil && bytes.ContainsRune(text, utf8.RuneError) && !bytes.ContainsRune(b, utf8.RuneError)) {
		switch c.policy {
		case DecodeReplace:
			text = bytes.ToValidUTF8(text, []byte("\uFFFD"))
		case DecodeIgnore:
			text = bytes.ToValidUTF8(text, nil)
			if c.in != nil {
				text = bytes.ReplaceAll(text, []byte("\uFFFD"), nil)
			}
		default:
			return nil, fmt.Errorf("malformed input: bytes not valid in the input character set")
		}
	}
	if c.out == nil {
		if c.in == nil {
			return bytes.Clone(text), nil
		}
		return text, nil
	}
	enc, err := c.out.NewEncoder().Bytes(text)
	if err != nil {
		return nil, fmt.Errorf("encoding to the output character set: %w", err)
	}
	return enc, nil
}

// keyErr builds a *flow.KeyError.
func keyErr(key, value, problem, fix string) error {
	return &flow.KeyError{Key: key, Value: value, Problem: problem, Fix: fix}
}
