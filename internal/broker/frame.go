package broker

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// request is one decoded request frame.
type request struct {
	key           int16
	version       int16
	correlationID int32
	clientID      *string
	// kreq is the decoded body; nil when unsupportedVersion is set.
	kreq kmsg.Request
	// unsupportedAPIVersions is set for an ApiVersions request at a version
	// newer than we serve: it is answered with a v0 UNSUPPORTED_VERSION body.
	unsupportedAPIVersions bool
}

var (
	errUnknownKey         = errors.New("unknown API key")
	errUnsupportedVersion = errors.New("unsupported API version")
	errMalformed          = errors.New("malformed request")
)

// decodeRequest parses one request frame (without its 4-byte size prefix):
// the request header (v1, or v2 with tagged fields for flexible versions),
// then the body with kmsg. versions reports the range served for a key.
func decodeRequest(frame []byte, versions func(key int16) (min, max int16, ok bool)) (*request, error) {
	b := kbin.Reader{Src: frame}
	r := &request{key: b.Int16(), version: b.Int16(), correlationID: b.Int32()}
	r.clientID = b.NullableString()
	if !b.Ok() {
		return nil, fmt.Errorf("%w: short request header (%d bytes)", errMalformed, len(frame))
	}
	min, max, ok := versions(r.key)
	kreq := kmsg.RequestForKey(r.key)
	if !ok || kreq == nil {
		return r, fmt.Errorf("%w %d", errUnknownKey, r.key)
	}
	if r.version < min || r.version > max {
		if r.key == 18 && r.version > max {
			// KIP-511: answer so the client can retry with a version we know.
			r.unsupportedAPIVersions = true
			return r, nil
		}
		return r, fmt.Errorf("%w: %s v%d (serving v%d-v%d)", errUnsupportedVersion, kmsg.NameForKey(r.key), r.version, min, max)
	}
	kreq.SetVersion(r.version)
	if kreq.IsFlexible() {
		skipHeaderTags(&b)
	}
	if !b.Ok() {
		return r, fmt.Errorf("%w: %s v%d: truncated header tags", errMalformed, kmsg.NameForKey(r.key), r.version)
	}
	if err := kreq.ReadFrom(b.Src); err != nil {
		return r, fmt.Errorf("%w: %s v%d: %v", errMalformed, kmsg.NameForKey(r.key), r.version, err)
	}
	r.kreq = kreq
	return r, nil
}

// skipHeaderTags skips the request header's tagged fields, stopping at the
// first failed read: kmsg.SkipTags keeps counting down a bogus tag count
// (up to 2^32) after the bytes have run out.
func skipHeaderTags(b *kbin.Reader) {
	for n := b.Uvarint(); n > 0 && b.Ok(); n-- {
		b.Uvarint() // tag key
		b.Span(int(b.Uvarint()))
	}
}

// appendResponse appends a framed response (size prefix, header, body).
// ApiVersions responses always use header v0 (no tagged fields), so a client
// can parse them before it knows our versions.
func appendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = kbin.AppendInt32(dst, correlationID)
	if resp.IsFlexible() && resp.Key() != 18 {
		dst = append(dst, 0) // empty header tagged fields
	}
	dst = resp.AppendTo(dst)
	size := uint32(len(dst) - start - 4)
	dst[start], dst[start+1], dst[start+2], dst[start+3] = byte(size>>24), byte(size>>16), byte(size>>8), byte(size)
	return dst
}
