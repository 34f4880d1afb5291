package broker_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel/runnel/internal/testutil"
)

// TestAdminRefusals checks the Kafka error code of each refusal the admin
// APIs make.
func TestAdminRefusals(t *testing.T) {
	addr := testutil.RunBroker(t)
	createTopic(t, addr, "r", 1, nil)
	cl := newClient(t, addr)
	ctx := ctx10(t)

	createWith := func(mod func(*kmsg.CreateTopicsRequestTopic)) int16 {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "assigned", -1, -1
		mod(&rt)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].ErrorCode
	}
	describe := func(typ kmsg.ConfigResourceType, name string) int16 {
		req := kmsg.NewPtrDescribeConfigsRequest()
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName = typ, name
		req.Resources = append(req.Resources, r)
		resp, err := req.RequestWith(ctx, cl.Broker(0)) // kgo would route broker "7" to a broker 7
		if err != nil {
			t.Fatal(err)
		}
		return resp.Resources[0].ErrorCode
	}
	incAlter := func(typ kmsg.ConfigResourceType, name string, op kmsg.IncrementalAlterConfigOp, key string) int16 {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = typ, name
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = key, op, kmsg.StringPtr("1000")
		r.Configs = append(r.Configs, c)
		req.Resources = append(req.Resources, r)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Resources[0].ErrorCode
	}
	deleteInternal := func() int16 {
		req := kmsg.NewPtrDeleteTopicsRequest()
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic = kmsg.StringPtr("__consumer_offsets")
		req.Topics = append(req.Topics, rt)
		req.TopicNames = []string{"__consumer_offsets"}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].ErrorCode
	}
	tests := []struct {
		name string
		got  func() int16
		want int16
	}{
		{"assignment on another node", func() int16 {
			return createWith(func(rt *kmsg.CreateTopicsRequestTopic) {
				rt.ReplicaAssignment = []kmsg.CreateTopicsRequestTopicReplicaAssignment{{Partition: 0, Replicas: []int32{1}}}
			})
		}, kerr.InvalidReplicaAssignment.Code},
		{"assignment on this node", func() int16 {
			return createWith(func(rt *kmsg.CreateTopicsRequestTopic) {
				rt.ReplicaAssignment = []kmsg.CreateTopicsRequestTopicReplicaAssignment{{Partition: 0, Replicas: []int32{0}}, {Partition: 1, Replicas: []int32{0}}}
			})
		}, 0},
		{"describe unknown topic", func() int16 { return describe(kmsg.ConfigResourceTypeTopic, "nope") }, kerr.UnknownTopicOrPartition.Code},
		{"describe other broker", func() int16 { return describe(kmsg.ConfigResourceTypeBroker, "7") }, kerr.InvalidRequest.Code},
		{"alter broker config", func() int16 {
			return incAlter(kmsg.ConfigResourceTypeBroker, "0", kmsg.IncrementalAlterConfigOpSet, "log.retention.ms")
		}, kerr.InvalidRequest.Code},
		{"append to non-list config", func() int16 {
			return incAlter(kmsg.ConfigResourceTypeTopic, "r", kmsg.IncrementalAlterConfigOpAppend, "retention.ms")
		}, kerr.InvalidConfig.Code},
		{"alter unknown topic", func() int16 {
			return incAlter(kmsg.ConfigResourceTypeTopic, "nope", kmsg.IncrementalAlterConfigOpSet, "retention.ms")
		}, kerr.UnknownTopicOrPartition.Code},
		{"delete internal topic", deleteInternal, kerr.InvalidTopicException.Code},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.got(); got != tt.want {
				t.Fatalf("error code %d (%v), want %d (%v)", got, kerr.ErrorForCode(got), tt.want, kerr.ErrorForCode(tt.want))
			}
		})
	}
	if n := len(listPartitions(t, cl, "assigned")); n != 2 {
		t.Fatalf("topic from a 2-partition assignment has %d partitions", n)
	}
}

// TestListOffsetsV0 checks the old-style answer (a list of offsets).
func TestListOffsetsV0(t *testing.T) {
	addr := testutil.RunBroker(t)
	createTopic(t, addr, "old", 1, nil)
	cl := newClient(t, addr, kgo.DefaultProduceTopic("old"))
	ctx := ctx10(t)
	for range 3 {
		if err := cl.ProduceSync(ctx, kgo.StringRecord("x")).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 0
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "old"
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp, rp.MaxNumOffsets = -1, 2
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	// Raw socket: kgo would raise the version to the newest it shares.
	c := dial(t, addr)
	if _, err := c.Write(frame(2, 0, 9, req.AppendTo(nil))); err != nil {
		t.Fatal(err)
	}
	_, body := readResponse(t, c)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	if err := resp.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
	got := resp.Topics[0].Partitions[0].OldStyleOffsets
	if len(got) != 2 || got[0] != 3 || got[1] != 0 {
		t.Fatalf("old-style offsets %v, want [3 0]", got)
	}
}

func listPartitions(t *testing.T, cl *kgo.Client, topic string) []kmsg.MetadataResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, mt)
	resp, err := req.RequestWith(ctx10(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions
}
