package broker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel/runnel/internal/testutil"
)

func ctx10(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCreateTopicErrors(t *testing.T) {
	addr := testutil.RunBroker(t)
	cl := newClient(t, addr)
	ctx := ctx10(t)
	createTopic(t, addr, "exists", 1, nil)
	createTopic(t, addr, "a_b", 1, nil)
	bad := "x"
	tests := []struct {
		name       string
		topic      string
		partitions int32
		rf         int16
		configs    map[string]string
		want       *kerr.Error
	}{
		{"ok", "fine", 2, 1, map[string]string{"retention.ms": "1000", "cleanup.policy": "compact,delete"}, nil},
		{"default partitions and rf", "defaults", -1, -1, nil, nil},
		{"exists", "exists", 1, 1, nil, kerr.TopicAlreadyExists},
		{"illegal char", "bad/name", 1, 1, nil, kerr.InvalidTopicException},
		{"dot", ".", 1, 1, nil, kerr.InvalidTopicException},
		{"dotdot", "..", 1, 1, nil, kerr.InvalidTopicException},
		{"too long", strings.Repeat("x", 250), 1, 1, nil, kerr.InvalidTopicException},
		{"max length", strings.Repeat("y", 249), 1, 1, nil, nil},
		{"collides with a_b", "a.b", 1, 1, nil, kerr.InvalidTopicException},
		{"zero partitions", "zero", 0, 1, nil, kerr.InvalidPartitions},
		{"replication 3", "rf3", 1, 3, nil, kerr.InvalidReplicationFactor},
		{"unknown config", "uc", 1, 1, map[string]string{"no.such.config": bad}, kerr.InvalidConfig},
		{"bad config value", "bv", 1, 1, map[string]string{"retention.ms": "soon"}, kerr.InvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := kmsg.NewPtrCreateTopicsRequest()
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = tt.topic, tt.partitions, tt.rf
			for k, v := range tt.configs {
				c := kmsg.NewCreateTopicsRequestTopicConfig()
				c.Name, c.Value = k, kmsg.StringPtr(v)
				rt.Configs = append(rt.Configs, c)
			}
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			got := kerr.ErrorForCode(resp.Topics[0].ErrorCode)
			if tt.want == nil && got != nil || tt.want != nil && !errors.Is(got, tt.want) {
				t.Fatalf("error %v, want %v (message %v)", got, tt.want, resp.Topics[0].ErrorMessage)
			}
			if tt.want == nil && resp.Topics[0].TopicID == [16]byte{} {
				t.Fatal("no topic id in response")
			}
		})
	}
	// validate_only creates nothing.
	adm := kadm.NewClient(cl)
	if _, err := adm.ValidateCreateTopics(ctx, 1, 1, nil, "validated"); err != nil {
		t.Fatal(err)
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if topics.Has("validated") {
		t.Fatal("validate_only created the topic")
	}
	if d := topics["defaults"]; len(d.Partitions) != 1 {
		t.Fatalf("topic with default partitions has %d, want num.partitions=1", len(d.Partitions))
	}
}

func TestTopicLifecycleAndConfigs(t *testing.T) {
	addr := testutil.RunBroker(t)
	cl := newClient(t, addr)
	adm := kadm.NewClient(cl)
	ctx := ctx10(t)
	ms := "3600000"
	createTopic(t, addr, "life", 2, map[string]*string{"retention.ms": &ms})

	// DescribeConfigs: the override is DYNAMIC_TOPIC_CONFIG, the rest defaults.
	rcs, err := adm.DescribeTopicConfigs(ctx, "life")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On("life", nil)
	if err != nil || rc.Err != nil {
		t.Fatal(err, rc.Err)
	}
	found := map[string]*kadm.Config{}
	for _, c := range rc.Configs {
		found[c.Key] = &c
	}
	if c := found["retention.ms"]; c.MaybeValue() != ms || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("retention.ms = %q source %v", c.MaybeValue(), c.Source)
	}
	if c := found["cleanup.policy"]; c.MaybeValue() != "delete" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("cleanup.policy = %q source %v", c.MaybeValue(), c.Source)
	}

	// IncrementalAlterConfigs: set, delete, append.
	alter := []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "segment.bytes", Value: kmsg.StringPtr("1048576")},
		{Op: kadm.DeleteConfig, Name: "retention.ms"},
		{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: kmsg.StringPtr("compact")},
	}
	ar, err := adm.AlterTopicConfigs(ctx, alter, "life")
	if err != nil || ar[0].Err != nil {
		t.Fatal(err, ar[0].Err)
	}
	rcs, _ = adm.DescribeTopicConfigs(ctx, "life")
	rc, _ = rcs.On("life", nil)
	found = map[string]*kadm.Config{}
	for _, c := range rc.Configs {
		found[c.Key] = &c
	}
	if v := found["segment.bytes"].MaybeValue(); v != "1048576" {
		t.Fatalf("segment.bytes = %q", v)
	}
	if c := found["retention.ms"]; c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("retention.ms source %v after delete", c.Source)
	}
	if v := found["cleanup.policy"].MaybeValue(); v != "delete,compact" {
		t.Fatalf("cleanup.policy = %q after append", v)
	}
	bad, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: kmsg.StringPtr("-5")}}, "life")
	if err != nil || !errors.Is(bad[0].Err, kerr.InvalidConfig) {
		t.Fatalf("bad alter: %v %v", err, bad[0].Err)
	}

	// AlterConfigs (legacy) replaces all overrides.
	legacy := kmsg.NewPtrAlterConfigsRequest()
	res := kmsg.NewAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "life"
	c := kmsg.NewAlterConfigsRequestResourceConfig()
	c.Name, c.Value = "retention.bytes", kmsg.StringPtr("123456")
	res.Configs = append(res.Configs, c)
	legacy.Resources = append(legacy.Resources, res)
	if lr, err := legacy.RequestWith(ctx, cl); err != nil || lr.Resources[0].ErrorCode != 0 {
		t.Fatalf("AlterConfigs: %v %+v", err, lr)
	}
	rcs, _ = adm.DescribeTopicConfigs(ctx, "life")
	rc, _ = rcs.On("life", nil)
	for _, c := range rc.Configs {
		if c.Source == kmsg.ConfigSourceDynamicTopicConfig && c.Key != "retention.bytes" {
			t.Fatalf("%s still overridden after AlterConfigs replace", c.Key)
		}
	}

	// Broker configs are listed.
	bcs, err := adm.DescribeBrokerConfigs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(bcs) != 1 || len(bcs[0].Configs) == 0 {
		t.Fatalf("broker configs: %+v", bcs)
	}

	// CreatePartitions grows; shrinking is refused.
	if r, err := adm.UpdatePartitions(ctx, 4, "life"); err != nil || r["life"].Err != nil {
		t.Fatal(err, r["life"].Err)
	}
	if r, _ := adm.UpdatePartitions(ctx, 3, "life"); !errors.Is(r["life"].Err, kerr.InvalidPartitions) {
		t.Fatalf("shrink: %v", r["life"].Err)
	}
	td, err := adm.ListTopics(ctx, "life")
	if err != nil || len(td["life"].Partitions) != 4 {
		t.Fatalf("after grow: %v %d partitions", err, len(td["life"].Partitions))
	}
	p := newClient(t, addr, kgo.DefaultProduceTopic("life"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := p.ProduceSync(ctx, &kgo.Record{Partition: 3, Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("producing to new partition: %v", err)
	}

	// DescribeLogDirs and DescribeCluster.
	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs[0]) != 1 {
		t.Fatalf("log dirs: %+v", dirs)
	}
	brokers, err := adm.ListBrokers(ctx)
	if err != nil || len(brokers) != 1 {
		t.Fatalf("brokers: %v %+v", err, brokers)
	}

	// Delete, then it is gone and can be recreated empty.
	if r, err := adm.DeleteTopics(ctx, "life"); err != nil || r["life"].Err != nil {
		t.Fatal(err, r["life"].Err)
	}
	if r, _ := adm.DeleteTopics(ctx, "life"); !errors.Is(r["life"].Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("second delete: %v", r["life"].Err)
	}
	createTopic(t, addr, "life", 1, nil)
	end, err := adm.ListEndOffsets(ctx, "life")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := end.Lookup("life", 0); o.Offset != 0 {
		t.Fatalf("recreated topic has end offset %d", o.Offset)
	}
}

func TestListOffsetsAndDeleteRecords(t *testing.T) {
	addr := testutil.RunBroker(t)
	createTopic(t, addr, "lo", 1, nil)
	cl := newClient(t, addr, kgo.DefaultProduceTopic("lo"))
	adm := kadm.NewClient(cl)
	ctx := ctx10(t)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for i := range 10 {
		r := &kgo.Record{Value: []byte{byte(i)}, Timestamp: base.Add(time.Duration(i) * time.Minute)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	lookup := func(lo kadm.ListedOffsets, err error) kadm.ListedOffset {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		o, ok := lo.Lookup("lo", 0)
		if !ok || o.Err != nil {
			t.Fatalf("lookup: %v %v", ok, o.Err)
		}
		return o
	}
	if o := lookup(adm.ListStartOffsets(ctx, "lo")); o.Offset != 0 {
		t.Fatalf("start %d", o.Offset)
	}
	if o := lookup(adm.ListEndOffsets(ctx, "lo")); o.Offset != 10 {
		t.Fatalf("end %d", o.Offset)
	}
	if o := lookup(adm.ListOffsetsAfterMilli(ctx, base.Add(4*time.Minute+time.Second).UnixMilli(), "lo")); o.Offset != 5 {
		t.Fatalf("by time: offset %d, want 5", o.Offset)
	}
	if o := lookup(adm.ListMaxTimestampOffsets(ctx, "lo")); o.Offset != 9 || o.Timestamp != base.Add(9*time.Minute).UnixMilli() {
		t.Fatalf("max timestamp: offset %d ts %d", o.Offset, o.Timestamp)
	}
	if o := lookup(adm.ListOffsetsAfterMilli(ctx, time.Now().Add(time.Hour).UnixMilli(), "lo")); o.Offset != 10 {
		// kadm maps "no such record" (-1) to the end offset.
		t.Fatalf("future time: offset %d", o.Offset)
	}

	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "lo", Partition: 0, At: 4})
	dr, err := adm.DeleteRecords(ctx, os)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := dr.Lookup("lo", 0); r.Err != nil || r.LowWatermark != 4 {
		t.Fatalf("delete records: %+v", r)
	}
	if o := lookup(adm.ListStartOffsets(ctx, "lo")); o.Offset != 4 {
		t.Fatalf("start after delete %d", o.Offset)
	}
	os = kadm.Offsets{}
	os.Add(kadm.Offset{Topic: "lo", Partition: 0, At: 99})
	dr, _ = adm.DeleteRecords(ctx, os)
	if r, _ := dr.Lookup("lo", 0); !errors.Is(r.Err, kerr.OffsetOutOfRange) {
		t.Fatalf("delete beyond end: %v", r.Err)
	}
	// Fetching below the start offset is OFFSET_OUT_OF_RANGE.
	f := kmsg.NewPtrFetchRequest()
	f.MaxBytes, f.MinBytes = 1<<20, 1
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "lo"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.FetchOffset, fp.PartitionMaxBytes = 1, 1<<20
	ft.Partitions = append(ft.Partitions, fp)
	f.Topics = append(f.Topics, ft)
	fr, err := f.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := fr.Topics[0].Partitions[0].ErrorCode; code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch below start: code %d", code)
	}
}
