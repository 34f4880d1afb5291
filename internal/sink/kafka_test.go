package sink

import (
	"context"
	"errors"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/app"
	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/testutil"
)

func createTopics(t *testing.T, addr string, partitions int32, topics ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, 1, nil, topics...)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("creating topics: %v", err)
	}
}

// consumeAll reads n records from topics from the start.
func consumeAll(t *testing.T, addr string, n int, topics ...string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records", len(out), n)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

func TestKafkaSinkProducesToRunnel(t *testing.T) {
	addr := testutil.RunBroker(t)
	createTopics(t, addr, 3, "events", "other")
	s := mustBuildSink(t, "org.apache.flume.sink.kafka.KafkaSink", map[string]string{
		"kafka.bootstrap.servers": addr, "kafka.topic": "events", "partitionIdHeader": "part", "flumeBatchSize": "50",
	})
	if s.(flow.BatchSizer).BatchSize() != 50 {
		t.Fatal("flumeBatchSize not used")
	}
	batch := []flow.Event{
		hdrEvent("to partition 2", "part", "2", "key", "k1", "app", "web"),
		hdrEvent("to other topic", "topic", "other", "part", "0"),
		hdrEvent("by key", "key", "k2"),
		hdrEvent("no key"),
	}
	if err := s.Deliver(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	recs := consumeAll(t, addr, 4, "events", "other")
	byValue := map[string]*kgo.Record{}
	for _, r := range recs {
		byValue[string(r.Value)] = r
	}
	r := byValue["to partition 2"]
	if r == nil || r.Topic != "events" || r.Partition != 2 || string(r.Key) != "k1" {
		t.Fatalf("record: %+v", r)
	}
	var hdrs []string
	for _, h := range r.Headers {
		hdrs = append(hdrs, h.Key+"="+string(h.Value))
	}
	sort.Strings(hdrs)
	if strings.Join(hdrs, ",") != "app=web,key=k1,part=2" {
		t.Fatalf("headers %v", hdrs)
	}
	if r := byValue["to other topic"]; r == nil || r.Topic != "other" || r.Partition != 0 {
		t.Fatalf("topic override: %+v", r)
	}
	if r := byValue["by key"]; r == nil || string(r.Key) != "k2" || r.Topic != "events" {
		t.Fatalf("keyed: %+v", r)
	}
	// Kafka's default partitioner: murmur2 of the key, as franz-go computes it.
	want := kgo.StickyKeyPartitioner(nil).ForTopic("events").Partition(&kgo.Record{Key: []byte("k2")}, 3)
	if byValue["by key"].Partition != int32(want) {
		t.Fatalf("keyed record in partition %d, want %d", byValue["by key"].Partition, want)
	}
}

func TestKafkaSinkDefaultTopicAndOverrideOff(t *testing.T) {
	addr := testutil.RunBroker(t)
	createTopics(t, addr, 1, "default-flume-topic", "logs-web")
	s := mustBuildSink(t, "org.apache.flume.sink.kafka.KafkaSink", map[string]string{"kafka.bootstrap.servers": addr, "kafka.producer.acks": "all", "kafka.producer.linger.ms": "5"})
	if err := s.Deliver(context.Background(), []flow.Event{hdrEvent("a")}); err != nil {
		t.Fatal(err)
	}
	if recs := consumeAll(t, addr, 1, "default-flume-topic"); string(recs[0].Value) != "a" {
		t.Fatalf("got %q", recs[0].Value)
	}
	s2 := mustBuildSink(t, "org.apache.flume.sink.kafka.KafkaSink", map[string]string{"kafka.bootstrap.servers": addr,
		"kafka.topic": "logs-%{app}", "allowTopicOverride": "false", "defaultPartitionId": "0"})
	if err := s2.Deliver(context.Background(), []flow.Event{hdrEvent("b", "app", "web", "topic", "ignored")}); err != nil {
		t.Fatal(err)
	}
	if recs := consumeAll(t, addr, 1, "logs-web"); string(recs[0].Value) != "b" {
		t.Fatalf("got %q", recs[0].Value)
	}
}

func TestKafkaSinkBrokerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	counters := flow.NewCounters()
	reg, _ := flow.Lookup(flow.KindSink, "org.apache.flume.sink.kafka.KafkaSink")
	cfg, _, err := reg.Spec.Validate("k1", map[string]string{"kafka.bootstrap.servers": addr, "kafka.producer.delivery.timeout.ms": "1500"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Counters = counters
	v, err := reg.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := v.(flow.Sink)
	defer s.Close()
	start := time.Now()
	err = s.Deliver(context.Background(), []flow.Event{hdrEvent("x")})
	if err == nil {
		t.Fatal("Deliver succeeded with no broker")
	}
	if time.Since(start) > 15*time.Second {
		t.Fatalf("Deliver took %v", time.Since(start))
	}
	if counters.Snapshot()["ConnectionFailedCount"] != 1 {
		t.Fatalf("counters %v", counters.Snapshot())
	}
}

func TestKafkaSinkConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		raw  map[string]string
		key  string
	}{
		{"avro format", map[string]string{"kafka.bootstrap.servers": "127.0.0.1:1", "useFlumeEventFormat": "true"}, "useFlumeEventFormat"},
		{"acks", map[string]string{"kafka.bootstrap.servers": "127.0.0.1:1", "kafka.producer.acks": "2"}, "kafka.producer.acks"},
		{"tls", map[string]string{"kafka.bootstrap.servers": "127.0.0.1:1", "kafka.producer.security.protocol": "SSL"}, "kafka.producer.security.protocol"},
		{"compression", map[string]string{"kafka.bootstrap.servers": "127.0.0.1:1", "kafka.producer.compression.type": "brotli"}, "kafka.producer.compression.type"},
		{"old broker list", map[string]string{"kafka.bootstrap.servers": "127.0.0.1:1", "brokerList": "h:9092"}, "brokerList"},
		{"missing servers", map[string]string{}, "kafka.bootstrap.servers"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := buildSinkFrom("org.apache.flume.sink.kafka.KafkaSink", tc.raw)
			var ke *flow.KeyError
			if !errors.As(err, &ke) || ke.Key != tc.key {
				t.Fatalf("err = %v, want a KeyError on %s", err, tc.key)
			}
		})
	}
	if _, ok := flow.Lookup(flow.KindSink, "kafka"); ok {
		t.Fatal("Flume has no kafka sink alias; only the class name")
	}
}

// BenchmarkKafkaSink measures events/s and MB/s of 100-byte events produced
// by the kafka sink to an in-process runnel broker, one Deliver (every
// record acknowledged, acks=1) per batch of 100.
//
//	go test -run XXX -bench BenchmarkKafkaSink -benchtime 100000x ./internal/sink/
func BenchmarkKafkaSink(b *testing.B) {
	addr := testutil.RunBroker(b)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := kadm.NewClient(cl).CreateTopics(context.Background(), 1, 1, nil, "bench"); err != nil {
		b.Fatal(err)
	}
	cl.Close()
	s := mustBuildSink(b, "org.apache.flume.sink.kafka.KafkaSink", map[string]string{"kafka.bootstrap.servers": addr, "kafka.topic": "bench"})
	body := make([]byte, 100)
	const batch = 100
	events := make([]flow.Event, batch)
	for i := range events {
		events[i] = flow.Event{Body: body}
	}
	b.SetBytes(100)
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		if err := s.Deliver(context.Background(), events[:min(batch, b.N-done)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// A Deliver waiting on a broker that went away returns when its context is
// cancelled (agent shutdown, a sink group giving up), even with the default
// idempotent producer, whose buffered records cannot be withdrawn; the next
// Deliver works again once the broker is back.
func TestKafkaSinkDeliverCancelled(t *testing.T) {
	dataDir := t.TempDir()
	b := testutil.StartBroker(t, func(o *app.BrokerOptions) { o.DataDir = dataDir })
	addr := b.Addr()
	reg, _ := flow.Lookup(flow.KindSink, "org.apache.flume.sink.kafka.KafkaSink")
	cfg, _, err := reg.Spec.Validate("k1", map[string]string{"kafka.bootstrap.servers": addr, "kafka.topic": "cancel"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := reg.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := v.(flow.Sink)
	defer s.Close()
	if err := s.Deliver(context.Background(), []flow.Event{hdrEvent("before")}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Deliver(ctx, []flow.Event{hdrEvent("during")}) }()
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Deliver: %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second): // delivery.timeout.ms is 2 minutes
		t.Fatal("Deliver still waiting 30s after its context was cancelled")
	}
	testutil.StartBroker(t, func(o *app.BrokerOptions) { o.DataDir, o.Listen = dataDir, addr })
	if err := s.Deliver(context.Background(), []flow.Event{hdrEvent("after")}); err != nil {
		t.Fatalf("Deliver after the broker came back: %v", err)
	}
	recs := consumeAll(t, addr, 2, "cancel")
	if string(recs[0].Value) != "before" || string(recs[1].Value) != "after" {
		t.Fatalf("topic holds %q, %q", recs[0].Value, recs[1].Value)
	}
}
