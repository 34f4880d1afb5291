package broker_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel/runnel/internal/testutil"
)

func TestTopicIDs(t *testing.T) {
	addr := testutil.RunBroker(t, testutil.WithSettings("auto.create.topics.enable", "false"))
	createTopic(t, addr, "byid", 2, nil)
	cl := newClient(t, addr)
	ctx := ctx10(t)

	md := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("byid")
	md.Topics = append(md.Topics, mt)
	nt := kmsg.NewMetadataRequestTopic()
	nt.Topic = kmsg.StringPtr("missing")
	md.Topics = append(md.Topics, nt)
	resp, err := md.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	id := resp.Topics[0].TopicID
	if id == [16]byte{} || len(resp.Topics[0].Partitions) != 2 {
		t.Fatalf("metadata: %+v", resp.Topics[0])
	}
	if resp.Topics[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("missing topic with auto-create off: code %d", resp.Topics[1].ErrorCode)
	}

	// Metadata v10+ by id.
	md = kmsg.NewPtrMetadataRequest()
	byID := kmsg.NewMetadataRequestTopic()
	byID.TopicID = id
	md.Topics = append(md.Topics, byID)
	resp, err = md.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Topics[0].Topic == nil || *resp.Topics[0].Topic != "byid" {
		t.Fatalf("metadata by id: %+v", resp.Topics[0])
	}

	// DeleteTopics v6 by id; deleting again answers UNKNOWN_TOPIC_ID.
	for i, want := range []int16{0, kerr.UnknownTopicID.Code} {
		dt := kmsg.NewPtrDeleteTopicsRequest()
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.TopicID = id
		dt.Topics = append(dt.Topics, rt)
		dr, err := dt.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if dr.Topics[0].ErrorCode != want {
			t.Fatalf("delete #%d: code %d, want %d", i, dr.Topics[0].ErrorCode, want)
		}
	}
}

// An empty fetch answers an empty record set, never a null one: librdkafka
// fails with "invalid MessageSetSize -1" on null.
func TestEmptyFetchRecordSetNotNull(t *testing.T) {
	addr := testutil.RunBroker(t)
	createTopic(t, addr, "empty", 1, nil)
	cl := newClient(t, addr)
	for v := int16(4); v <= 12; v++ {
		f := kmsg.NewPtrFetchRequest()
		f.Version = v
		f.MaxBytes, f.MaxWaitMillis = 1<<20, 0
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = "empty"
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.PartitionMaxBytes = 1 << 20
		ft.Partitions = append(ft.Partitions, fp)
		f.Topics = append(f.Topics, ft)
		resp, err := f.RequestWith(ctx10(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.RecordBatches == nil {
			t.Fatalf("fetch v%d: code %d, record set nil=%v", v, p.ErrorCode, p.RecordBatches == nil)
		}
	}
}
