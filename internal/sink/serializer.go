package sink

import (
	"fmt"
	"sort"
	"strings"

	"github.com/runnel/runnel/internal/flow"
)

// Serializer names Flume's file sinks take (sink.serializer, serializer):
// aliases first, then the builder class names.
var (
	serializerText          = []string{"text", "org.apache.flume.serialization.BodyTextEventSerializer$Builder", "org.apache.flume.serialization.BodyTextEventSerializer"}
	serializerHeaderAndText = []string{"header_and_text", "org.apache.flume.serialization.HeaderAndBodyTextEventSerializer$Builder", "org.apache.flume.serialization.HeaderAndBodyTextEventSerializer"}
	serializerAvro          = []string{"avro_event", "org.apache.flume.serialization.FlumeEventAvroEventSerializer$Builder", "org.apache.flume.sink.hdfs.AvroEventSerializer$Builder"}
)

// eventSerializer turns an event into the bytes a file sink writes, as
// Flume's BodyTextEventSerializer (TEXT: the body) and
// HeaderAndBodyTextEventSerializer (header_and_text: the headers as Java's
// Map.toString, a space, the body), each followed by '\n' when
// appendNewline (the default).
type eventSerializer struct {
	headers bool
	newline bool
}

// newSerializer resolves a serializer name for key (the config key it came
// from, for the error).
func newSerializer(key, name string, appendNewline bool) (eventSerializer, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch {
	case n == "" || contains(serializerText, n):
		return eventSerializer{newline: appendNewline}, nil
	case contains(serializerHeaderAndText, n):
		return eventSerializer{headers: true, newline: appendNewline}, nil
	case contains(serializerAvro, n):
		return eventSerializer{}, &flow.KeyError{Key: key, Value: name, Problem: "the Avro event serializer is not implemented",
			Fix: "use TEXT or header_and_text"}
	}
	return eventSerializer{}, &flow.KeyError{Key: key, Value: name, Problem: "unknown serializer",
		Fix: "use TEXT or header_and_text (or their Flume class names)"}
}

func contains(names []string, lower string) bool {
	for _, n := range names {
		if strings.ToLower(n) == lower {
			return true
		}
	}
	return false
}

// Append appends e's serialized bytes to dst.
func (s eventSerializer) Append(dst []byte, e flow.Event) []byte {
	if s.headers {
		dst = appendJavaMap(dst, e.Headers)
		dst = append(dst, ' ')
	}
	dst = append(dst, e.Body...)
	if s.newline {
		dst = append(dst, '\n')
	}
	return dst
}

// appendJavaMap appends headers as Java's AbstractMap.toString prints them,
// "{k1=v1, k2=v2}", sorted by key (Java's order is hash order).
func appendJavaMap(dst []byte, h map[string]string) []byte {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = fmt.Appendf(dst, "%s=%s", k, h[k])
	}
	return append(dst, '}')
}
