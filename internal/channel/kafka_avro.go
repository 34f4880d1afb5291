package channel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Flume's KafkaChannel (parseAsFlumeEvent=true) stores each event as the
// Avro binary encoding of the record
//
//	{"type":"record","name":"AvroFlumeEvent","fields":[
//	  {"name":"headers","type":{"type":"map","values":"string"}},
//	  {"name":"body","type":"bytes"}]}
//
// written as a bare datum (no container file, no schema fingerprint). Avro
// binary: a long is a zig-zag varint; a string or bytes is a long length
// then the bytes; a map is a series of blocks, each a long count followed by
// that many key/value pairs (a negative count is followed by the block's
// byte size and means -count pairs), ended by a block of count 0.

// maxAvroEventBytes bounds the sizes a decoder accepts (Kafka records are
// far smaller), so a corrupt length cannot make it allocate gigabytes.
const maxAvroEventBytes = 1 << 30

// appendAvroFlumeEvent appends the Avro encoding of headers and body to dst.
// Headers are written in key order, as one block, so equal events encode
// to equal bytes.
func appendAvroFlumeEvent(dst []byte, headers map[string]string, body []byte) []byte {
	if len(headers) > 0 {
		keys := make([]string, 0, len(headers))
		for k := range headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		dst = binary.AppendVarint(dst, int64(len(keys)))
		for _, k := range keys {
			dst = appendAvroBytes(dst, []byte(k))
			dst = appendAvroBytes(dst, []byte(headers[k]))
		}
	}
	dst = binary.AppendVarint(dst, 0)
	return appendAvroBytes(dst, body)
}

func appendAvroBytes(dst, b []byte) []byte {
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

var errAvroTruncated = errors.New("truncated Avro Flume event")

// decodeAvroFlumeEvent decodes an AvroFlumeEvent datum. Trailing bytes are
// an error. headers is nil when the map is empty.
func decodeAvroFlumeEvent(b []byte) (headers map[string]string, body []byte, err error) {
	long := func() (int64, error) {
		v, n := binary.Varint(b)
		if n <= 0 {
			return 0, errAvroTruncated
		}
		b = b[n:]
		return v, nil
	}
	bytes := func() ([]byte, error) {
		n, err := long()
		if err != nil {
			return nil, err
		}
		if n < 0 || n > maxAvroEventBytes {
			return nil, fmt.Errorf("decoding Avro Flume event: bad length %d", n)
		}
		if int64(len(b)) < n {
			return nil, errAvroTruncated
		}
		v := b[:n:n]
		b = b[n:]
		return v, nil
	}
	for {
		count, err := long()
		if err != nil {
			return nil, nil, err
		}
		if count == 0 {
			break
		}
		if count < 0 {
			if count == -count { // math.MinInt64
				return nil, nil, fmt.Errorf("decoding Avro Flume event: bad map block count %d", count)
			}
			count = -count
			if _, err := long(); err != nil { // block size in bytes
				return nil, nil, err
			}
		}
		// Each pair takes at least two bytes, which bounds count by what is left.
		if count > int64(len(b))/2 {
			return nil, nil, fmt.Errorf("decoding Avro Flume event: map block of %d pairs in %d bytes", count, len(b))
		}
		if headers == nil {
			headers = make(map[string]string, count)
		}
		for range count {
			k, err := bytes()
			if err != nil {
				return nil, nil, err
			}
			v, err := bytes()
			if err != nil {
				return nil, nil, err
			}
			headers[string(k)] = string(v)
		}
	}
	body, err = bytes()
	if err != nil {
		return nil, nil, err
	}
	if len(b) != 0 {
		return nil, nil, fmt.Errorf("decoding Avro Flume event: %d bytes after the body", len(b))
	}
	return headers, body, nil
}
