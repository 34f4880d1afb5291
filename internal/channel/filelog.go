package channel

// The file channel's on-disk format (docs/format/file-channel.md).
//
// Data files dataDir/log-NNNNNNNN start with an 8-byte header, magic "RNFC",
// version u16, reserved u16, then records:
//
//	length u32   bytes after the crc field (type .. end of payload)
//	crc    u32   CRC-32C of those bytes
//	type   u8    1 put, 2 take, 3 commit
//	tx     u64   transaction id
//	payload      put: event id u64 + encoded event; take: event id u64; commit: none
//
// All integers big-endian. A record whose length runs past the end of the
// last file, or whose CRC does not match, is a torn tail: replay cuts the
// file there. Anything after a commit record was not acknowledged.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

const (
	fileMagic      = "RNFC"
	fileVersion    = 1
	fileHeaderSize = 8
	recHeaderSize  = 8 // length + crc
	recPut         = 1
	recTake        = 2
	recCommit      = 3
	// maxRecord bounds a record's length so a corrupt length cannot make
	// replay allocate gigabytes.
	maxRecord = 256 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errTorn is a record cut short or failing its CRC.
var errTorn = errors.New("torn or corrupt record")

func fileHeader() []byte {
	b := make([]byte, fileHeaderSize)
	copy(b, fileMagic)
	binary.BigEndian.PutUint16(b[4:], fileVersion)
	return b
}

// appendRecord appends one record to b.
func appendRecord(b []byte, typ byte, tx uint64, payload []byte) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0, typ)
	b = binary.BigEndian.AppendUint64(b, tx)
	b = append(b, payload...)
	body := b[start+recHeaderSize:]
	binary.BigEndian.PutUint32(b[start:], uint32(len(body)))
	binary.BigEndian.PutUint32(b[start+4:], crc32.Checksum(body, crcTable))
	return b
}

// record is a decoded record.
type record struct {
	typ  byte
	tx   uint64
	id   uint64 // put and take
	body []byte // put: the encoded event
	size int    // bytes the record occupies
}

// decodeRecord reads the record at the start of b.
func decodeRecord(b []byte) (record, error) {
	if len(b) < recHeaderSize {
		return record{}, errTorn
	}
	n := binary.BigEndian.Uint32(b)
	if n < 9 || n > maxRecord || int(n) > len(b)-recHeaderSize {
		return record{}, errTorn
	}
	body := b[recHeaderSize : recHeaderSize+int(n)]
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(b[4:]) {
		return record{}, errTorn
	}
	r := record{typ: body[0], tx: binary.BigEndian.Uint64(body[1:]), size: recHeaderSize + int(n)}
	rest := body[9:]
	switch r.typ {
	case recPut, recTake:
		if len(rest) < 8 {
			return record{}, fmt.Errorf("%w: short event id", errTorn)
		}
		r.id = binary.BigEndian.Uint64(rest)
		r.body = rest[8:]
	case recCommit:
	default:
		return record{}, fmt.Errorf("%w: unknown record type %d", errTorn, r.typ)
	}
	return r, nil
}

// encodeEvent appends e's encoding to b:
//
//	headers u32 count, then per header u32 len + key, u32 len + value
//	body    u32 len+1 (0 = nil) + bytes
//	key     u32 len+1 (0 = nil) + bytes
//	time    i64 unix nanoseconds (math.MinInt64 = none)
//	topic   u32 len + bytes, partition i32, offset i64
func encodeEvent(b []byte, e flow.Event) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Headers)))
	for k, v := range e.Headers {
		b = appendBytes(b, []byte(k))
		b = appendBytes(b, []byte(v))
	}
	b = appendNullable(b, e.Body)
	b = appendNullable(b, e.Key)
	ts := int64(math.MinInt64)
	if !e.Timestamp.IsZero() {
		ts = e.Timestamp.UnixNano()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(ts))
	b = appendBytes(b, []byte(e.Topic))
	b = binary.BigEndian.AppendUint32(b, uint32(e.Partition))
	return binary.BigEndian.AppendUint64(b, uint64(e.Offset))
}

func appendBytes(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

func appendNullable(b, v []byte) []byte {
	if v == nil {
		return binary.BigEndian.AppendUint32(b, 0)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(v))+1)
	return append(b, v...)
}

// eventReader decodes an event encoding, remembering the first error.
type eventReader struct {
	b   []byte
	err error
}

func (r *eventReader) u32() uint32 {
	if r.err != nil || len(r.b) < 4 {
		r.err = errors.New("event encoding cut short")
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *eventReader) u64() uint64 {
	if r.err != nil || len(r.b) < 8 {
		r.err = errors.New("event encoding cut short")
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *eventReader) bytes(n uint32) []byte {
	if r.err != nil || uint64(len(r.b)) < uint64(n) {
		r.err = errors.New("event encoding cut short")
		return nil
	}
	v := make([]byte, n)
	copy(v, r.b)
	r.b = r.b[n:]
	return v
}

func (r *eventReader) nullable() []byte {
	n := r.u32()
	if n == 0 || r.err != nil {
		return nil
	}
	return r.bytes(n - 1)
}

// decodeEvent reverses encodeEvent.
func decodeEvent(b []byte) (flow.Event, error) {
	r := &eventReader{b: b}
	var e flow.Event
	n := r.u32()
	if r.err == nil && uint64(n)*8 > uint64(len(r.b)) {
		return e, errors.New("event encoding: header count larger than the record")
	}
	if n > 0 {
		e.Headers = make(map[string]string, n)
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		k := r.bytes(r.u32())
		v := r.bytes(r.u32())
		e.Headers[string(k)] = string(v)
	}
	e.Body = r.nullable()
	e.Key = r.nullable()
	if ts := int64(r.u64()); ts != math.MinInt64 && r.err == nil {
		e.Timestamp = time.Unix(0, ts)
	}
	e.Topic = string(r.bytes(r.u32()))
	e.Partition = int32(r.u32())
	e.Offset = int64(r.u64())
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("event encoding has %d trailing bytes", len(r.b))
	}
	return e, r.err
}
