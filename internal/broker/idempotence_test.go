package broker_test

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel/runnel/internal/testutil"
)

// recordBatch builds an uncompressed v2 batch of n records.
func recordBatch(producerID int64, epoch int16, seq int32, n int) []byte {
	var recs []byte
	for i := range n {
		tmp := kmsg.NewRecord()
		tmp.OffsetDelta, tmp.Value = int32(i), []byte("v")
		enc := tmp.AppendTo(nil)
		tmp.Length = int32(len(enc) - 1)
		recs = append(recs, tmp.AppendTo(nil)...)
	}
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		Magic: 2, LastOffsetDelta: int32(n - 1), FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: producerID, ProducerEpoch: epoch, FirstSequence: seq, NumRecords: int32(n), Records: recs,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

func produceRaw(t *testing.T, cl *kgo.Client, topic string, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0]
}

func TestIdempotentProduce(t *testing.T) {
	addr := testutil.RunBroker(t)
	createTopic(t, addr, "idem", 1, nil)
	cl := newClient(t, addr)
	ctx := context.Background()
	init := kmsg.NewPtrInitProducerIDRequest()
	ir, err := init.RequestWith(ctx, cl)
	if err != nil || ir.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v %d", err, ir.ErrorCode)
	}
	ir2, _ := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctx, cl)
	if ir2.ProducerID == ir.ProducerID {
		t.Fatalf("two InitProducerId calls returned the same id %d", ir.ProducerID)
	}
	pid := ir.ProducerID

	steps := []struct {
		name       string
		epoch      int16
		seq        int32
		n          int
		wantErr    *kerr.Error
		wantOffset int64
	}{
		{"first", 0, 0, 3, nil, 0},
		{"second", 0, 3, 2, nil, 3},
		{"retry of first is deduplicated", 0, 0, 3, nil, 0},
		{"retry of second is deduplicated", 0, 3, 2, nil, 3},
		{"gap", 0, 9, 1, kerr.OutOfOrderSequenceNumber, -1},
		{"next in order", 0, 5, 1, nil, 5},
		{"new epoch from 0", 1, 0, 1, nil, 6},
		{"stale epoch", 0, 6, 1, kerr.InvalidProducerEpoch, -1},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			p := produceRaw(t, cl, "idem", recordBatch(pid, s.epoch, s.seq, s.n))
			got := kerr.ErrorForCode(p.ErrorCode)
			if s.wantErr == nil && got != nil || s.wantErr != nil && !errors.Is(got, s.wantErr) {
				t.Fatalf("error %v, want %v", got, s.wantErr)
			}
			if s.wantErr == nil && p.BaseOffset != s.wantOffset {
				t.Fatalf("base offset %d, want %d", p.BaseOffset, s.wantOffset)
			}
		})
	}
	recs := consumeN(t, addr, "idem", 7)
	if len(recs) != 7 || recs[6].Offset != 6 {
		t.Fatalf("log holds %d records (last offset %d), want 7 without duplicates", len(recs), recs[len(recs)-1].Offset)
	}
}

func TestProduceRefusals(t *testing.T) {
	addr := testutil.RunBroker(t)
	one := "1024"
	createTopic(t, addr, "small", 1, map[string]*string{"max.message.bytes": &one})
	cl := newClient(t, addr)
	big := recordBatch(-1, -1, -1, 200)
	corrupt := recordBatch(-1, -1, -1, 1)
	corrupt[len(corrupt)-1] ^= 0xff
	oldMagic := recordBatch(-1, -1, -1, 1)
	oldMagic[16] = 1
	tests := []struct {
		name  string
		topic string
		batch []byte
		want  *kerr.Error
	}{
		{"unknown topic", "nope", recordBatch(-1, -1, -1, 1), kerr.UnknownTopicOrPartition},
		{"too large", "small", big, kerr.MessageTooLarge},
		{"bad crc", "small", corrupt, kerr.CorruptMessage},
		{"magic 1", "small", oldMagic, kerr.UnsupportedForMessageFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := produceRaw(t, cl, tt.topic, tt.batch)
			if got := kerr.ErrorForCode(p.ErrorCode); !errors.Is(got, tt.want) {
				t.Fatalf("error %v, want %v", got, tt.want)
			}
		})
	}
	// Produce v2 (message format v0/v1) is refused clearly.
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 2, 1, 1000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "small"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = oldMagic
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	br := cl.Broker(0)
	resp, err := req.RequestWith(context.Background(), br)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.UnsupportedForMessageFormat.Code {
		t.Fatalf("produce v2: code %d", code)
	}
}
