package commitlog

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Byte layout of a v2 record batch header (frozen: Kafka's format).
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offFirstTimestamp  = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offNumRecords      = 57
	batchHeaderLen     = 61 // bytes before the first record
	logOverhead        = 12 // baseOffset + length: bytes not counted by Length

	attrCompressionMask = 0x07
	attrTimestampType   = 0x08 // 1 = LogAppendTime
	attrTransactional   = 0x10
	attrControl         = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchHeader is the fixed header of a v2 record batch.
type BatchHeader struct {
	BaseOffset           int64
	Length               int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// LastOffset is the offset of the batch's last record.
func (h BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Size is the batch's total size in bytes (Length plus the 12-byte prefix).
func (h BatchHeader) Size() int64 { return int64(h.Length) + logOverhead }

// ParseBatchHeader parses the header of the batch at the start of b. It
// checks only that the header bytes are present, the magic is 2 and the
// length is at least a header; it neither checks the CRC nor needs the
// whole batch in b.
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	var h BatchHeader
	if len(b) < offMagic+1 {
		return h, fmt.Errorf("parsing batch header: %d bytes, need %d: %w", len(b), batchHeaderLen, ErrCorrupt)
	}
	h.BaseOffset = int64(binary.BigEndian.Uint64(b[offBaseOffset:]))
	h.Length = int32(binary.BigEndian.Uint32(b[offLength:]))
	h.PartitionLeaderEpoch = int32(binary.BigEndian.Uint32(b[offLeaderEpoch:]))
	h.Magic = int8(b[offMagic])
	if h.Magic != 2 {
		return h, fmt.Errorf("parsing batch header: magic %d: %w", h.Magic, ErrUnsupportedMagic)
	}
	if len(b) < batchHeaderLen {
		return h, fmt.Errorf("parsing batch header: %d bytes, need %d: %w", len(b), batchHeaderLen, ErrCorrupt)
	}
	if h.Length < batchHeaderLen-logOverhead {
		return h, fmt.Errorf("parsing batch header: length %d below header size: %w", h.Length, ErrCorrupt)
	}
	h.CRC = binary.BigEndian.Uint32(b[offCRC:])
	h.Attributes = int16(binary.BigEndian.Uint16(b[offAttributes:]))
	h.LastOffsetDelta = int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:]))
	h.FirstTimestamp = int64(binary.BigEndian.Uint64(b[offFirstTimestamp:]))
	h.MaxTimestamp = int64(binary.BigEndian.Uint64(b[offMaxTimestamp:]))
	h.ProducerID = int64(binary.BigEndian.Uint64(b[offProducerID:]))
	h.ProducerEpoch = int16(binary.BigEndian.Uint16(b[offProducerEpoch:]))
	h.BaseSequence = int32(binary.BigEndian.Uint32(b[offBaseSequence:]))
	h.NumRecords = int32(binary.BigEndian.Uint32(b[offNumRecords:]))
	return h, nil
}

// checkStored validates one whole batch b (len(b) == h.Size()) as stored:
// CRC, offset deltas and counts sane. Compaction may leave gaps, so
// NumRecords may be below LastOffsetDelta+1.
func checkStored(h BatchHeader, b []byte) error {
	if int64(len(b)) != h.Size() {
		return fmt.Errorf("batch at offset %d: have %d bytes, length says %d: %w", h.BaseOffset, len(b), h.Size(), ErrCorrupt)
	}
	if got := crc32.Checksum(b[offAttributes:], castagnoli); got != h.CRC {
		return fmt.Errorf("batch at offset %d: crc %08x, header says %08x: %w", h.BaseOffset, got, h.CRC, ErrCorrupt)
	}
	if h.LastOffsetDelta < 0 || h.NumRecords < 0 || int64(h.NumRecords) > int64(h.LastOffsetDelta)+1 {
		return fmt.Errorf("batch at offset %d: %d records, last offset delta %d: %w", h.BaseOffset, h.NumRecords, h.LastOffsetDelta, ErrCorrupt)
	}
	return nil
}

// checkForAppend validates one produced batch: CRC, record count equal to
// lastOffsetDelta+1, and for uncompressed batches the framing of every
// record. It also returns the offset delta of the first record carrying the
// batch's max timestamp (0 when compressed).
func checkForAppend(h BatchHeader, b []byte) (maxTsDelta int32, err error) {
	if err := checkStored(h, b); err != nil {
		return 0, err
	}
	if h.NumRecords <= 0 || int64(h.NumRecords) != int64(h.LastOffsetDelta)+1 {
		return 0, fmt.Errorf("batch with %d records has last offset delta %d: %w", h.NumRecords, h.LastOffsetDelta, ErrCorrupt)
	}
	if h.Attributes&attrCompressionMask != 0 {
		if h.Attributes&attrCompressionMask > 4 {
			return 0, fmt.Errorf("batch compression codec %d: %w", h.Attributes&attrCompressionMask, ErrCorrupt)
		}
		return h.LastOffsetDelta, nil
	}
	rest := b[batchHeaderLen:]
	found := false
	for i := int32(0); i < h.NumRecords; i++ {
		var r Record
		var err error
		rest, err = readRecord(rest, &r)
		if err != nil {
			return 0, fmt.Errorf("record %d of batch: %w", i, err)
		}
		if r.OffsetDelta != i {
			return 0, fmt.Errorf("record %d of batch has offset delta %d: %w", i, r.OffsetDelta, ErrCorrupt)
		}
		if !found && h.FirstTimestamp+r.TimestampDelta == h.MaxTimestamp {
			maxTsDelta, found = i, true
		}
	}
	if len(rest) != 0 {
		return 0, fmt.Errorf("%d stray bytes after the batch's records: %w", len(rest), ErrCorrupt)
	}
	return maxTsDelta, nil
}

// Record is one decoded record. Key, Value and header slices alias the
// batch bytes (or the decompressed buffer). A nil Value is a tombstone.
type Record struct {
	Attributes     int8
	TimestampDelta int64
	OffsetDelta    int32
	Key            []byte
	Value          []byte
	Headers        [][2][]byte
}

func errRecord(what string) error { return fmt.Errorf("reading record %s: %w", what, ErrCorrupt) }

func readVarint(b []byte) (int64, []byte, error) {
	v, n := binary.Varint(b)
	if n <= 0 {
		return 0, nil, errRecord("varint")
	}
	return v, b[n:], nil
}

func readBytes(b []byte) ([]byte, []byte, error) {
	n, b, err := readVarint(b)
	if err != nil {
		return nil, nil, err
	}
	if n < 0 {
		return nil, b, nil
	}
	if n > int64(len(b)) {
		return nil, nil, errRecord("field length")
	}
	return b[:n:n], b[n:], nil
}

// readRecord decodes one record from b and returns the rest.
func readRecord(b []byte, r *Record) ([]byte, error) {
	length, b, err := readVarint(b)
	if err != nil {
		return nil, err
	}
	if length < 1 || length > int64(len(b)) {
		return nil, errRecord("length")
	}
	body, rest := b[:length], b[length:]
	r.Attributes = int8(body[0])
	body = body[1:]
	if r.TimestampDelta, body, err = readVarint(body); err != nil {
		return nil, err
	}
	var od int64
	if od, body, err = readVarint(body); err != nil {
		return nil, err
	}
	if od < 0 || od > 1<<31-1 {
		return nil, errRecord("offset delta")
	}
	r.OffsetDelta = int32(od)
	if r.Key, body, err = readBytes(body); err != nil {
		return nil, err
	}
	if r.Value, body, err = readBytes(body); err != nil {
		return nil, err
	}
	var nh int64
	if nh, body, err = readVarint(body); err != nil {
		return nil, err
	}
	if nh < 0 || nh > int64(len(body)) {
		return nil, errRecord("header count")
	}
	r.Headers = r.Headers[:0]
	for range nh {
		var k, v []byte
		if k, body, err = readBytes(body); err != nil {
			return nil, err
		}
		if v, body, err = readBytes(body); err != nil {
			return nil, err
		}
		r.Headers = append(r.Headers, [2][]byte{k, v})
	}
	if len(body) != 0 {
		return nil, errRecord("trailing bytes")
	}
	return rest, nil
}

// appendRecord encodes r (Kafka v2 record) onto dst.
func appendRecord(dst []byte, r *Record) []byte {
	var body []byte
	body = append(body, byte(r.Attributes))
	body = binary.AppendVarint(body, r.TimestampDelta)
	body = binary.AppendVarint(body, int64(r.OffsetDelta))
	body = appendBytes(body, r.Key)
	body = appendBytes(body, r.Value)
	body = binary.AppendVarint(body, int64(len(r.Headers)))
	for _, h := range r.Headers {
		body = appendBytes(body, h[0])
		body = appendBytes(body, h[1])
	}
	dst = binary.AppendVarint(dst, int64(len(body)))
	return append(dst, body...)
}

func appendBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

// finishBatch fills the length and CRC of an encoded batch in place.
func finishBatch(b []byte) {
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-logOverhead))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
}
