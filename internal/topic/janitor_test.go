package topic

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// oneRecordBatch builds an uncompressed v2 batch holding one record.
func oneRecordBatch(ts time.Time) []byte {
	r := kmsg.NewRecord()
	r.Value = []byte("value")
	r.Length = int32(len(r.AppendTo(nil)) - 1)
	b := kmsg.RecordBatch{
		Magic: 2, FirstTimestamp: ts.UnixMilli(), MaxTimestamp: ts.UnixMilli(),
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 1, Records: r.AppendTo(nil),
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

// TestJanitorAppliesRetention checks the registry's janitor runs each log's
// Maintain: with tiny segments and retention.ms=1, old segments go away and
// the log start offset moves up without any request.
func TestJanitorAppliesRetention(t *testing.T) {
	r, err := Open(t.TempDir(), Options{JanitorInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tp, err := r.Create(CreateRequest{Name: "old", Partitions: 1, Configs: map[string]string{"segment.bytes": "100", "retention.ms": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	l := tp.Partitions[0]
	old := time.Now().Add(-time.Hour)
	for range 5 {
		if _, err := l.Append(oneRecordBatch(old), false); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for l.LogStartOffset() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("log start offset still 0 after 10s of janitor runs (end offset %d)", l.LogEndOffset())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
