package source

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/testutil"
)

// kafkaAdmin returns an admin client for addr and a 20s context; done
// releases both.
func kafkaAdmin(t *testing.T, addr string) (adm *kadm.Client, ctx context.Context, done func()) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	return kadm.NewClient(cl), ctx, func() { cancel(); cl.Close() }
}

// kafkaSetup creates topic with partitions on the broker at addr.
func kafkaSetup(t *testing.T, addr, topic string, partitions int32) {
	t.Helper()
	adm, ctx, done := kafkaAdmin(t, addr)
	defer done()
	res, err := adm.CreateTopics(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("creating topic: %v", err)
	}
}

// kafkaProduce writes records "prefix-i" for i in [from, to) with key k<i%3>.
func kafkaProduce(t *testing.T, addr, topic, prefix string, from, to int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprintf("k%d", i%3)), Value: []byte(fmt.Sprintf("%s-%d", prefix, i)),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("producing: %v", err)
	}
}

// committed sums the group's committed offsets on topic.
func committed(t *testing.T, addr, group, topic string) int64 {
	t.Helper()
	adm, ctx, done := kafkaAdmin(t, addr)
	defer done()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetching offsets: %v", err)
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil {
			sum += o.At
		}
	})
	return sum
}

func sortedBodies(r *recorder) []string {
	b := r.bodies()
	sort.Strings(b)
	return b
}

func TestKafkaSource(t *testing.T) {
	addr := testutil.RunBroker(t)
	kafkaSetup(t, addr, "logs", 2)
	kafkaProduce(t, addr, "logs", "a", 0, 30)
	keys := map[string]string{"kafka.bootstrap.servers": addr, "kafka.topics": "logs", "batchSize": "10", "batchDurationMillis": "200",
		"backoffSleepIncrement": "20", "kafka.consumer.session.timeout.ms": "6000", "topicHeader": "from"}

	// Run 1: two refusals, then every record once; offsets committed.
	rec := newRecorder(2)
	stop := startSource(t, buildSrc(t, "org.apache.flume.source.kafka.KafkaSource", keys), rec)
	got := rec.waitEvents(t, 30)
	waitFor(t, "offsets committed", func() bool { return committed(t, addr, "flume", "logs") == 30 })
	stop()
	if len(rec.events()) != 30 {
		t.Fatalf("%d events, want 30", len(rec.events()))
	}
	perPartition := map[int32]int64{}
	for _, e := range got {
		if e.Topic != "logs" || e.Headers["from"] != "logs" || e.Headers["h"] != "v" || e.Headers["key"] != string(e.Key) ||
			e.Headers["partition"] != strconv.Itoa(int(e.Partition)) || e.Headers["offset"] != strconv.FormatInt(e.Offset, 10) || e.Headers["timestamp"] == "" {
			t.Fatalf("event %q: topic %q partition %d offset %d headers %v", e.Body, e.Topic, e.Partition, e.Offset, e.Headers)
		}
		if last, ok := perPartition[e.Partition]; ok && e.Offset != last+1 {
			t.Fatalf("partition %d: offset %d after %d", e.Partition, e.Offset, last)
		}
		perPartition[e.Partition] = e.Offset
	}

	// Run 2: channels refuse everything; nothing may be committed.
	kafkaProduce(t, addr, "logs", "b", 0, 5)
	full := newRecorder(0)
	full.setFull(true)
	stop = startSource(t, buildSrc(t, "org.apache.flume.source.kafka.KafkaSource", keys), full)
	waitFor(t, "a refused batch", func() bool { full.mu.Lock(); defer full.mu.Unlock(); return full.calls > 0 })
	stop()
	if c := committed(t, addr, "flume", "logs"); c != 30 {
		t.Fatalf("committed %d after refused batches, want 30", c)
	}

	// Run 3: resumes after the committed offsets: only the b records.
	rec3 := newRecorder(0)
	startSource(t, buildSrc(t, "org.apache.flume.source.kafka.KafkaSource", keys), rec3)
	rec3.waitEvents(t, 5)
	time.Sleep(300 * time.Millisecond)
	if got := strings.Join(sortedBodies(rec3), "|"); got != "b-0|b-1|b-2|b-3|b-4" {
		t.Fatalf("after restart: %q", got)
	}
}

func TestKafkaSourceRegexAndGroup(t *testing.T) {
	addr := testutil.RunBroker(t)
	kafkaSetup(t, addr, "app-1", 1)
	kafkaSetup(t, addr, "app-2", 1)
	kafkaSetup(t, addr, "other", 1)
	kafkaProduce(t, addr, "app-1", "x", 0, 2)
	kafkaProduce(t, addr, "app-2", "y", 0, 2)
	kafkaProduce(t, addr, "other", "z", 0, 2)
	rec := newRecorder(0)
	cfg, _, err := KafkaSourceSpec.Validate("r1", map[string]string{
		"kafka.bootstrap.servers": addr, "kafka.topics.regex": "^app-.*", "kafka.consumer.group.id": "g2",
		"setTopicHeader": "false", "batchDurationMillis": "100"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Counters = flow.NewCounters()
	src, err := NewKafkaSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	startSource(t, src, rec)
	rec.waitEvents(t, 4)
	time.Sleep(300 * time.Millisecond)
	if got := strings.Join(sortedBodies(rec), "|"); got != "x-0|x-1|y-0|y-1" {
		t.Fatalf("events %q", got)
	}
	if _, ok := rec.events()[0].Headers["topic"]; ok {
		t.Fatal("topic header set with setTopicHeader=false")
	}
	waitFor(t, "group g2 commits", func() bool { return committed(t, addr, "g2", "app-1") == 2 })
	waitFor(t, "an empty poll counted", func() bool { return cfg.Counters.Snapshot()["KafkaEmptyCount"] > 0 })
	if _, ok := cfg.Counters.Snapshot()["KafkaCommitTimer"]; !ok {
		t.Fatalf("counters %v lack KafkaCommitTimer", cfg.Counters.Snapshot())
	}
}

func TestKafkaSourceConfigErrors(t *testing.T) {
	cases := map[string]map[string]string{
		"kafka.topics":                     {"kafka.bootstrap.servers": "127.0.0.1:1"},
		"kafka.topics.regex":               {"kafka.bootstrap.servers": "127.0.0.1:1", "kafka.topics.regex": "("},
		"useFlumeEventFormat":              {"kafka.bootstrap.servers": "127.0.0.1:1", "kafka.topics": "t", "useFlumeEventFormat": "true"},
		"kafka.consumer.auto.offset.reset": {"kafka.bootstrap.servers": "127.0.0.1:1", "kafka.topics": "t", "kafka.consumer.auto.offset.reset": "middle"},
	}
	for key, raw := range cases {
		t.Run(key, func(t *testing.T) {
			err := buildErr(t, "org.apache.flume.source.kafka.KafkaSource", raw)
			if err == nil || !strings.Contains(err.Error(), key) {
				t.Fatalf("got %v, want an error naming %s", err, key)
			}
		})
	}
}
