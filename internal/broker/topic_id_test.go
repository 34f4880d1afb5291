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
