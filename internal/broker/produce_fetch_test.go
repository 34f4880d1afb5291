package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/testutil"
)

func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t *testing.T, addr, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, name)
	if err != nil || resp.Err != nil {
		t.Fatalf("creating topic %s: %v %v", name, err, resp.Err)
	}
}

// consumeN reads n records from the start of topic.
func consumeN(t *testing.T, addr, topic string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr, append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(out), n, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

func TestProduceConsumeCodecs(t *testing.T) {
	addr := testutil.RunBroker(t)
	codecs := []struct {
		name  string
		codec kgo.CompressionCodec
	}{
		{"none", kgo.NoCompression()},
		{"gzip", kgo.GzipCompression()},
		{"snappy", kgo.SnappyCompression()},
		{"lz4", kgo.Lz4Compression()},
		{"zstd", kgo.ZstdCompression()},
	}
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			topic := "codec-" + c.name
			createTopic(t, addr, topic, 3, nil)
			cl := newClient(t, addr, kgo.ProducerBatchCompression(c.codec), kgo.DefaultProduceTopic(topic))
			const n = 300
			ctx := context.Background()
			for i := range n {
				r := &kgo.Record{
					Key:     fmt.Appendf(nil, "key-%d", i%7),
					Value:   fmt.Appendf(nil, "value %d %s", i, c.name),
					Headers: []kgo.RecordHeader{{Key: "h", Value: fmt.Appendf(nil, "%d", i)}},
				}
				cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
					if err != nil {
						t.Errorf("produce: %v", err)
					}
				})
			}
			if err := cl.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			got := consumeN(t, addr, topic, n)
			if len(got) != n {
				t.Fatalf("got %d records, want %d", len(got), n)
			}
			seen := map[string]bool{}
			for _, r := range got {
				var i int
				if _, err := fmt.Sscanf(string(r.Value), "value %d", &i); err != nil {
					t.Fatalf("bad value %q", r.Value)
				}
				if want := fmt.Sprintf("key-%d", i%7); string(r.Key) != want {
					t.Fatalf("record %d key %q, want %q", i, r.Key, want)
				}
				if len(r.Headers) != 1 || r.Headers[0].Key != "h" || string(r.Headers[0].Value) != fmt.Sprint(i) {
					t.Fatalf("record %d headers %v", i, r.Headers)
				}
				seen[string(r.Value)] = true
			}
			if len(seen) != n {
				t.Fatalf("%d distinct records, want %d", len(seen), n)
			}
		})
	}
}

func TestAcks(t *testing.T) {
	addr := testutil.RunBroker(t)
	for _, tc := range []struct {
		name string
		acks kgo.Acks
		idem bool
	}{
		{"acks=0", kgo.NoAck(), false},
		{"acks=1", kgo.LeaderAck(), false},
		{"acks=all", kgo.AllISRAcks(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := fmt.Sprintf("acks-%d", tc.acks)
			_ = topic
			topic = "acks-" + map[bool]string{true: "idem", false: "plain"}[tc.idem] + "-" + tc.name[5:]
			createTopic(t, addr, topic, 1, nil)
			opts := []kgo.Opt{kgo.RequiredAcks(tc.acks), kgo.DefaultProduceTopic(topic)}
			if !tc.idem {
				opts = append(opts, kgo.DisableIdempotentWrite())
			}
			cl := newClient(t, addr, opts...)
			ctx := context.Background()
			const n = 100
			for i := range n {
				if err := cl.ProduceSync(ctx, kgo.StringRecord(fmt.Sprint(i))).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			got := consumeN(t, addr, topic, n)
			for i, r := range got {
				if string(r.Value) != fmt.Sprint(i) || r.Offset != int64(i) {
					t.Fatalf("record %d: offset %d value %q", i, r.Offset, r.Value)
				}
			}
		})
	}
}

func TestAutoCreateAndLongPoll(t *testing.T) {
	addr := testutil.RunBroker(t)
	cons := newClient(t, addr, kgo.ConsumeTopics("auto"), kgo.AllowAutoTopicCreation(),
		kgo.FetchMaxWait(10*time.Second), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	prod := newClient(t, addr, kgo.DefaultProduceTopic("auto"), kgo.AllowAutoTopicCreation())
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	// Start the consumer first so its fetch is parked in the long poll when
	// the record arrives: it must be woken by the append, well before the
	// 10s MaxWait.
	got := make(chan []*kgo.Record, 1)
	go func() {
		for {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				got <- nil
				return
			}
			if recs := fs.Records(); len(recs) > 0 {
				got <- recs
				return
			}
		}
	}()
	time.Sleep(500 * time.Millisecond)
	if err := prod.ProduceSync(ctx, kgo.StringRecord("wake")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	recs := <-got
	if len(recs) != 1 || string(recs[0].Value) != "wake" {
		t.Fatalf("got %v, want the record 'wake' before the 8s context deadline", recs)
	}
}
