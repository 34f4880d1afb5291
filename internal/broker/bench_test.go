package broker_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/testutil"
)

// BenchmarkProduce measures produce throughput through the whole broker
// (franz-go client → socket → Produce handler → partition log) for 1 KiB
// records. Run: go test -run X -bench Produce -benchtime 20000x ./internal/broker
func BenchmarkProduce(b *testing.B) {
	for _, acks := range []struct {
		name string
		acks kgo.Acks
		idem bool
	}{{"acks=1", kgo.LeaderAck(), false}, {"acks=all", kgo.AllISRAcks(), true}} {
		b.Run(acks.name, func(b *testing.B) {
			addr := testutil.RunBroker(b)
			topic := "bench"
			opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation(), kgo.RequiredAcks(acks.acks)}
			if !acks.idem {
				opts = append(opts, kgo.DisableIdempotentWrite())
			}
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			ctx := context.Background()
			if err := cl.ProduceSync(ctx, kgo.StringRecord("warm-up")).FirstErr(); err != nil {
				b.Fatal(err)
			}
			value := make([]byte, 1024)
			b.SetBytes(int64(len(value)))
			b.ResetTimer()
			for range b.N {
				cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
					if err != nil {
						panic(fmt.Sprint("produce: ", err))
					}
				})
			}
			if err := cl.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkConsume measures fetch throughput of 1 KiB records.
func BenchmarkConsume(b *testing.B) {
	addr := testutil.RunBroker(b)
	ctx := context.Background()
	p, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("bench"), kgo.AllowAutoTopicCreation(), kgo.DisableIdempotentWrite())
	if err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 1024)
	for range b.N {
		p.Produce(ctx, &kgo.Record{Value: value}, nil)
	}
	if err := p.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	p.Close()
	c, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("bench"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.SetBytes(int64(len(value)))
	b.ResetTimer()
	for n := 0; n < b.N; {
		fs := c.PollFetches(ctx)
		if errs := fs.Errors(); len(errs) > 0 {
			b.Fatal(errs[0].Err)
		}
		n += fs.NumRecords()
	}
}
