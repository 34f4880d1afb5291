package transform

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/runnel/runnel/internal/flow"
)

// UUID interceptor config keys (Flume's names).
const (
	UUIDHeaderName       = "headerName"
	UUIDPrefix           = "prefix"
	UUIDPreserveExisting = "preserveExisting"
)

// UUIDSpec documents Flume's UUID interceptor, which Flume knows only by its
// class name; "uuid" is runnel's alias.
var UUIDSpec = flow.Spec{
	Names:   []string{"uuid", "org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder"},
	Summary: "sets a header to a random (version 4) UUID",
	Keys: []flow.Key{
		{Name: UUIDHeaderName, Default: "id", Doc: "header to set"},
		{Name: UUIDPrefix, Doc: "text put before each UUID"},
		{Name: UUIDPreserveExisting, Type: flow.Bool, Default: "true", Doc: "keep the header when the event already has it"},
	},
}

func init() {
	flow.RegisterTransform(UUIDSpec, func(c flow.Config) (flow.Transform, error) {
		return &UUID{Header: c.String(UUIDHeaderName), Prefix: c.String(UUIDPrefix), PreserveExisting: c.Bool(UUIDPreserveExisting)}, nil
	})
}

// UUID is Flume's UUID interceptor.
type UUID struct {
	Header, Prefix   string
	PreserveExisting bool
}

// Apply implements flow.Transform.
func (u *UUID) Apply(e flow.Event) (flow.Event, bool) {
	return setHeader(e, u.Header, u.PreserveExisting, func() string { return u.Prefix + newUUID() }), true
}

// newUUID returns a random RFC 9562 version 4 UUID in its 36-character form.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
