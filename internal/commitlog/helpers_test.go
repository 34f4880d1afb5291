package commitlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testRecord is one record to put in a test batch.
type testRecord struct {
	key, value []byte
	ts         int64 // absolute ms
}

// batchOpts shapes a test batch.
type batchOpts struct {
	codec    kgo.CompressionCodec
	pid      int64
	epoch    int16
	seq      int32
	noCodec  bool
	offDelta []int32 // optional explicit offset deltas (compacted batches)
}

// makeBatch encodes a v2 batch with franz-go's kmsg (and kgo's compressor).
func makeBatch(t testing.TB, recs []testRecord, o batchOpts) []byte {
	t.Helper()
	if len(recs) == 0 {
		t.Fatal("makeBatch: no records")
	}
	first, maxTs := recs[0].ts, recs[0].ts
	for _, r := range recs {
		first, maxTs = min(first, r.ts), max(maxTs, r.ts)
	}
	var raw []byte
	for i, r := range recs {
		kr := kmsg.NewRecord()
		kr.TimestampDelta64 = r.ts - first
		kr.OffsetDelta = int32(i)
		if o.offDelta != nil {
			kr.OffsetDelta = o.offDelta[i]
		}
		kr.Key, kr.Value = r.key, r.value
		kr.Length = int32(len(kr.AppendTo(nil)) - 1)
		// Length is a varint: recompute until stable.
		for {
			n := int32(len(kr.AppendTo(nil)) - varintLen(kr.Length))
			if n == kr.Length {
				break
			}
			kr.Length = n
		}
		raw = kr.AppendTo(raw)
	}
	attrs := int16(0)
	records := raw
	if !o.noCodec {
		c, err := kgo.DefaultCompressor(o.codec)
		if err != nil {
			t.Fatal(err)
		}
		if c != nil {
			out, codec := c.Compress(new(bytes.Buffer), raw)
			records = append([]byte(nil), out...)
			attrs = int16(codec)
		}
	}
	last := int32(len(recs) - 1)
	if o.offDelta != nil {
		last = o.offDelta[len(o.offDelta)-1]
	}
	pid, epoch, seq := o.pid, o.epoch, o.seq
	if pid == 0 && epoch == 0 && seq == 0 {
		pid, epoch, seq = -1, -1, -1
	}
	b := kmsg.RecordBatch{
		Magic: 2, Attributes: attrs, LastOffsetDelta: last, FirstTimestamp: first, MaxTimestamp: maxTs,
		ProducerID: pid, ProducerEpoch: epoch, FirstSequence: seq, NumRecords: int32(len(recs)), Records: records,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

func varintLen(v int32) int { return len(binary.AppendVarint(nil, int64(v))) }

// simpleRecords makes n records of size bytes each, keys k<i>.
func simpleRecords(n, size int, ts int64) []testRecord {
	recs := make([]testRecord, n)
	for i := range recs {
		v := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		recs[i] = testRecord{key: fmt.Appendf(nil, "k%d", i), value: v, ts: ts + int64(i)}
	}
	return recs
}

// openTest opens a log in a temp dir with cfg and a fixed clock.
func openTest(t testing.TB, dir string, cfg Config, opts ...Option) *Log {
	t.Helper()
	l, err := Open(dir, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// readAll reads every batch from the log start to the end.
func readAll(t testing.TB, l *Log) []byte {
	t.Helper()
	var out []byte
	off := l.LogStartOffset()
	for off < l.LogEndOffset() {
		s, err := l.Read(off, 1<<20)
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		if s.Len() == 0 {
			s.Close()
			break
		}
		b, err := s.AppendTo(nil)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
		// Next offset after the last batch in b.
		pos := 0
		for pos < len(b) {
			h, err := ParseBatchHeader(b[pos:])
			if err != nil {
				t.Fatal(err)
			}
			off = h.LastOffset() + 1
			pos += int(h.Size())
		}
	}
	return out
}

var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// readRecords decodes every record the log returns: offset, key, value.
type gotRecord struct {
	Offset int64
	Key    string
	Value  string
	Ts     int64
}

func decodeAll(t testing.TB, b []byte) []gotRecord {
	t.Helper()
	var out []gotRecord
	for pos := 0; pos < len(b); {
		h, err := ParseBatchHeader(b[pos:])
		if err != nil {
			t.Fatal(err)
		}
		bb := b[pos : pos+int(h.Size())]
		if err := checkStored(h, bb); err != nil {
			t.Fatal(err)
		}
		err = forEachRecord(h, bb, func(r *Record) bool {
			v := string(r.Value)
			if r.Value == nil {
				v = "<nil>"
			}
			ts := h.FirstTimestamp + r.TimestampDelta
			if h.Attributes&attrTimestampType != 0 {
				ts = h.MaxTimestamp
			}
			out = append(out, gotRecord{h.BaseOffset + int64(r.OffsetDelta), string(r.Key), v, ts})
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		pos += int(h.Size())
	}
	return out
}
