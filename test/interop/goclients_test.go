package interop

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// goClientRecords is how many records each client × codec case produces.
const goClientRecords = 300

// goClientPartitions is the partition count of every topic in these tests.
const goClientPartitions = 3

// TestGoClients produces keyed records with headers through franz-go,
// IBM/sarama and segmentio/kafka-go with every codec (idempotently where the
// client supports it) and consumes them back with the same client,
// byte-equal. One server is shared; every case uses its own topic.
func TestGoClients(t *testing.T) {
	srv := startServer(t)
	sarama011 := func(c *sarama.Config) { c.Version = sarama.V0_11_0_0 }
	clients := []struct {
		name    string
		produce func(t *testing.T, addr, topic, codec string, recs []testRecord)
		consume func(t *testing.T, addr, topic string, n int) []testRecord
		noZstd  bool
	}{
		{name: "franz-go", produce: franzProduce, consume: franzConsume},
		{name: "sarama", produce: saramaProducer(), consume: saramaConsumer()},
		// sarama pinned to Kafka 0.11 speaks the oldest record-batch
		// versions (Produce v3, Fetch v5); zstd needs 2.1.
		{name: "sarama-0.11", produce: saramaProducer(sarama011), consume: saramaConsumer(sarama011), noZstd: true},
		{name: "kafka-go", produce: kafkagoProduce, consume: kafkagoConsume},
	}
	seed := uint64(1)
	for _, cl := range clients {
		for _, codec := range codecs {
			seed++
			if codec == "zstd" && cl.noZstd {
				continue
			}
			t.Run(cl.name+"/"+codec, func(t *testing.T) {
				topic := fmt.Sprintf("go-%s-%s", cl.name, codec)
				createTopic(t, srv.Addr, topic, goClientPartitions, nil)
				want := makeRecords(goClientRecords, goClientPartitions, seed)
				cl.produce(t, srv.Addr, topic, codec, want)
				if t.Failed() {
					return
				}
				got := cl.consume(t, srv.Addr, topic, len(want))
				checkRecords(t, want, got)
			})
		}
	}
}

// keyIndex parses the i of a "key-<i>" key, or -1.
func keyIndex(key []byte) int {
	i, err := strconv.Atoi(strings.TrimPrefix(string(key), "key-"))
	if err != nil {
		return -1
	}
	return i
}

// ---- franz-go

func franzCodec(t testing.TB, codec string) kgo.CompressionCodec {
	switch codec {
	case "none":
		return kgo.NoCompression()
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	t.Fatalf("unknown codec %q", codec)
	return kgo.NoCompression()
}

// franzProduce produces with franz-go's defaults (idempotent, acks=all).
func franzProduce(t *testing.T, addr, topic, codec string, recs []testRecord) {
	cl := newClient(t, addr,
		kgo.ProducerBatchCompression(franzCodec(t, codec)),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DefaultProduceTopic(topic),
	)
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		kr := &kgo.Record{Partition: r.Partition, Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		krs[i] = kr
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		t.Fatalf("franz-go producing %d records (%s): %v", len(krs), codec, err)
	}
}

func franzConsume(t *testing.T, addr, topic string, n int) []testRecord {
	var out []testRecord
	for _, kr := range consumeAll(t, addr, topic, n, time.Minute) {
		r := testRecord{Partition: kr.Partition, Offset: kr.Offset, Key: kr.Key, Value: kr.Value}
		for _, h := range kr.Headers {
			r.Headers = append(r.Headers, testHeader{Key: h.Key, Value: h.Value})
		}
		out = append(out, r)
	}
	return out
}

// ---- IBM/sarama

func saramaConfig(opts ...func(*sarama.Config)) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0 // zstd needs >= 2.1; headers >= 0.11
	cfg.ClientID = "runnel-interop-sarama"
	cfg.Net.DialTimeout = 10 * time.Second
	for _, o := range opts {
		o(cfg)
	}
	return cfg
}

// saramaProducer returns saramaProduce with config tweaks applied.
func saramaProducer(opts ...func(*sarama.Config)) func(t *testing.T, addr, topic, codec string, recs []testRecord) {
	return func(t *testing.T, addr, topic, codec string, recs []testRecord) {
		saramaProduce(t, saramaConfig(opts...), addr, topic, codec, recs)
	}
}

// saramaConsumer returns saramaConsume with config tweaks applied.
func saramaConsumer(opts ...func(*sarama.Config)) func(t *testing.T, addr, topic string, n int) []testRecord {
	return func(t *testing.T, addr, topic string, n int) []testRecord {
		return saramaConsume(t, saramaConfig(opts...), addr, topic, n)
	}
}

func saramaCodec(t testing.TB, codec string) sarama.CompressionCodec {
	switch codec {
	case "none":
		return sarama.CompressionNone
	case "gzip":
		return sarama.CompressionGZIP
	case "snappy":
		return sarama.CompressionSnappy
	case "lz4":
		return sarama.CompressionLZ4
	case "zstd":
		return sarama.CompressionZSTD
	}
	t.Fatalf("unknown codec %q", codec)
	return sarama.CompressionNone
}

// saramaProduce produces with an idempotent sync producer (acks=all).
func saramaProduce(t *testing.T, cfg *sarama.Config, addr, topic, codec string, recs []testRecord) {
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Retry.Max = 5
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Return.Successes = true
	cfg.Producer.Compression = saramaCodec(t, codec)
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("creating sarama producer: %v", err)
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		m := &sarama.ProducerMessage{
			Topic:     topic,
			Partition: r.Partition,
			Key:       sarama.ByteEncoder(r.Key),
			Value:     sarama.ByteEncoder(r.Value),
		}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
		}
		msgs[i] = m
	}
	if err := p.SendMessages(msgs); err != nil {
		var perrs sarama.ProducerErrors
		if errors.As(err, &perrs) && len(perrs) > 0 {
			t.Fatalf("sarama producing (%s): %d failed, first: %v", codec, len(perrs), perrs[0].Err)
		}
		t.Fatalf("sarama producing (%s): %v", codec, err)
	}
}

// saramaConsume reads every partition from the oldest offset (no group).
func saramaConsume(t *testing.T, cfg *sarama.Config, addr, topic string, n int) []testRecord {
	c, err := sarama.NewConsumer([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("creating sarama consumer: %v", err)
	}
	defer c.Close()
	ends := endOffsets(t, addr, topic)
	var out []testRecord
	for p := int32(0); p < goClientPartitions; p++ {
		if ends[p] == 0 {
			continue
		}
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("sarama consuming %s/%d: %v", topic, p, err)
		}
		timeout := time.After(time.Minute)
		for next := int64(0); next < ends[p]; {
			select {
			case m := <-pc.Messages():
				r := testRecord{Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value}
				for _, h := range m.Headers {
					r.Headers = append(r.Headers, testHeader{Key: string(h.Key), Value: h.Value})
				}
				out = append(out, r)
				next = m.Offset + 1
			case cerr := <-pc.Errors():
				pc.Close()
				t.Fatalf("sarama consuming %s/%d: %v", topic, p, cerr)
			case <-timeout:
				pc.Close()
				t.Fatalf("sarama consuming %s/%d: stuck before offset %d of %d", topic, p, next, ends[p])
			}
		}
		if err := pc.Close(); err != nil {
			t.Errorf("closing sarama partition consumer: %v", err)
		}
	}
	return out
}

// ---- segmentio/kafka-go (no idempotent producer in this client)

func kafkagoCodec(t testing.TB, codec string) kafkago.Compression {
	switch codec {
	case "none":
		return 0
	case "gzip":
		return kafkago.Gzip
	case "snappy":
		return kafkago.Snappy
	case "lz4":
		return kafkago.Lz4
	case "zstd":
		return kafkago.Zstd
	}
	t.Fatalf("unknown codec %q", codec)
	return 0
}

func kafkagoProduce(t *testing.T, addr, topic, codec string, recs []testRecord) {
	// A Transport of its own: kafka-go's DefaultTransport caches metadata for
	// 6s across writers, so it would not yet know the topic just created.
	tr := &kafkago.Transport{MetadataTTL: time.Second}
	defer tr.CloseIdleConnections()
	w := &kafkago.Writer{
		Transport: tr,
		Addr:      kafkago.TCP(addr),
		Topic:     topic,
		// Send each record to the partition makeRecords chose (index mod partitions).
		Balancer: kafkago.BalancerFunc(func(m kafkago.Message, partitions ...int) int {
			return partitions[keyIndex(m.Key)%len(partitions)]
		}),
		Compression:  kafkagoCodec(t, codec),
		RequiredAcks: kafkago.RequireAll,
		BatchSize:    100,
		BatchTimeout: 5 * time.Millisecond,
		MaxAttempts:  3,
	}
	defer w.Close()
	msgs := make([]kafkago.Message, len(recs))
	for i, r := range recs {
		m := kafkago.Message{Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, kafkago.Header{Key: h.Key, Value: h.Value})
		}
		msgs[i] = m
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("kafka-go producing %d records (%s): %v", len(msgs), codec, err)
	}
}

// kafkagoConsume reads every partition from the first offset with a
// partition Reader (no group).
func kafkagoConsume(t *testing.T, addr, topic string, n int) []testRecord {
	ends := endOffsets(t, addr, topic)
	var out []testRecord
	for p := int32(0); p < goClientPartitions; p++ {
		if ends[p] == 0 {
			continue
		}
		r := kafkago.NewReader(kafkago.ReaderConfig{
			Brokers:   []string{addr},
			Topic:     topic,
			Partition: int(p),
			MinBytes:  1,
			MaxBytes:  10 << 20,
			MaxWait:   500 * time.Millisecond,
		})
		if err := r.SetOffset(kafkago.FirstOffset); err != nil {
			t.Fatalf("kafka-go reader SetOffset: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		for next := int64(0); next < ends[p]; {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				cancel()
				r.Close()
				t.Fatalf("kafka-go reading %s/%d at %d of %d: %v", topic, p, next, ends[p], err)
			}
			rec := testRecord{Partition: int32(m.Partition), Offset: m.Offset, Key: m.Key, Value: m.Value}
			for _, h := range m.Headers {
				rec.Headers = append(rec.Headers, testHeader{Key: h.Key, Value: h.Value})
			}
			out = append(out, rec)
			next = m.Offset + 1
		}
		cancel()
		if err := r.Close(); err != nil {
			t.Errorf("closing kafka-go reader: %v", err)
		}
	}
	return out
}
