package sink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/kafkaopts"
	"github.com/runnel/runnel/internal/pathfmt"
)

// Kafka sink config keys (Flume's names).
const (
	KafkaBootstrap          = "kafka.bootstrap.servers"
	KafkaTopic              = "kafka.topic"
	KafkaFlumeBatchSize     = "flumeBatchSize"
	KafkaAcks               = "kafka.producer.acks"
	KafkaProducerPrefix     = "kafka.producer."
	KafkaUseFlumeEvent      = "useFlumeEventFormat"
	KafkaDefaultPartitionID = "defaultPartitionId"
	KafkaPartitionIDHeader  = "partitionIdHeader"
	KafkaAllowTopicOverride = "allowTopicOverride"
	KafkaTopicHeader        = "topicHeader"

	// kafkaKeyHeader is the header whose value becomes the record key.
	kafkaKeyHeader = "key"
)

// KafkaSpec documents the kafka sink. Flume gives it only a class name.
var KafkaSpec = flow.Spec{
	Names:   []string{"org.apache.flume.sink.kafka.KafkaSink"},
	Summary: "produces every event as a record to a Kafka topic (runnel server or any Kafka cluster)",
	Keys: []flow.Key{
		{Name: KafkaBootstrap, Required: true, Doc: "comma-separated host:port list of brokers"},
		{Name: KafkaTopic, Default: "default-flume-topic", Doc: "topic to produce to (%{header} escapes allowed)"},
		{Name: KafkaFlumeBatchSize, Type: flow.Int, Default: "100", Min: 1, Max: 1 << 20, Doc: "events per transaction"},
		{Name: KafkaAcks, Default: "1", Doc: "acknowledgements per record: 0, 1 or all (-1)"},
		{Name: KafkaUseFlumeEvent, Type: flow.Bool, Default: "false", Doc: "write events as Avro Flume events (not implemented: true is refused)"},
		{Name: KafkaDefaultPartitionID, Type: flow.Int, Min: 0, Max: 1 << 30, Doc: "partition for every event without partitionIdHeader (default: by key)"},
		{Name: KafkaPartitionIDHeader, Doc: "header holding the partition number of an event"},
		{Name: KafkaAllowTopicOverride, Type: flow.Bool, Default: "true", Doc: "let the topicHeader header choose the topic"},
		{Name: KafkaTopicHeader, Default: "topic", Doc: "header naming the topic when allowTopicOverride"},
		{Name: KafkaProducerPrefix + "*", Doc: "Kafka producer settings (acks, linger.ms, compression.type, batch.size, client.id, request.timeout.ms, delivery.timeout.ms, retries, enable.idempotence, max.request.size, max.in.flight.requests.per.connection, metadata.max.age.ms, security.protocol=PLAINTEXT); others are warned about and ignored"},
		{Name: "batchSize", Type: flow.Int, Min: 1, Max: 1 << 20, Doc: "Flume's old name of flumeBatchSize"},
		{Name: "brokerList", Doc: "Flume's old name of kafka.bootstrap.servers (refused: use the new name)"},
		{Name: "topic", Doc: "Flume's old name of kafka.topic"},
	},
}

func init() {
	flow.RegisterSink(KafkaSpec, func(c flow.Config) (flow.Sink, error) { return NewKafka(c) })
}

// Kafka is Flume's KafkaSink over franz-go: Deliver produces every event of
// the batch and returns once each is acknowledged (per kafka.producer.acks).
// The body is the record value, the "key" header (else the event's Key) the
// record key, and every header is copied as a record header. The topic is
// the event's topicHeader header when allowTopicOverride, else kafka.topic
// with %{header} escapes expanded; the partition is partitionIdHeader's
// value, else defaultPartitionId, else chosen by key as Kafka's default
// partitioner does.
type Kafka struct {
	cfg          flow.Config
	opts         []kgo.Opt
	topic        *pathfmt.Template
	topicHeader  string
	partHeader   string
	defaultPart  int32
	hasDefault   bool
	batch        int
	manualPart   bool
	mu           sync.Mutex // guards client
	client       *kgo.Client
	closed       bool
	recordsCache []*kgo.Record
}

// NewKafka builds a kafka sink from a validated config.
func NewKafka(c flow.Config) (*Kafka, error) {
	if c.Bool(KafkaUseFlumeEvent) {
		return nil, &flow.KeyError{Key: KafkaUseFlumeEvent, Value: "true", Problem: "Avro Flume event records are not implemented",
			Fix: "set useFlumeEventFormat = false (headers are sent as Kafka record headers instead)"}
	}
	if _, ok := c.Raw("brokerList"); ok {
		return nil, &flow.KeyError{Key: "brokerList", Value: c.String("brokerList"), Problem: "Flume's pre-1.7 name is not read",
			Fix: "rename it to kafka.bootstrap.servers"}
	}
	k := &Kafka{cfg: c, batch: int(c.Int(KafkaFlumeBatchSize)), partHeader: c.String(KafkaPartitionIDHeader)}
	if _, ok := c.Raw(KafkaFlumeBatchSize); !ok {
		if _, old := c.Raw("batchSize"); old {
			k.batch = int(c.Int("batchSize"))
		}
	}
	topic := c.String(KafkaTopic)
	if _, ok := c.Raw(KafkaTopic); !ok {
		if old, ok := c.Raw("topic"); ok {
			topic = old
		}
	}
	var err error
	if k.topic, err = pathfmt.Parse(topic, pathfmt.Options{}); err != nil {
		return nil, &flow.KeyError{Key: KafkaTopic, Value: topic, Problem: err.Error(), Fix: "use %{header} escapes only"}
	}
	if c.Bool(KafkaAllowTopicOverride) {
		k.topicHeader = c.String(KafkaTopicHeader)
	}
	if v, ok := c.Raw(KafkaDefaultPartitionID); ok && v != "" {
		k.defaultPart, k.hasDefault = int32(c.Int(KafkaDefaultPartitionID)), true
	}
	k.manualPart = k.hasDefault || k.partHeader != ""
	seeds := kafkaopts.Brokers(c.String(KafkaBootstrap))
	// Like the Java producer, ask the broker to create a missing topic (it
	// decides, by auto.create.topics.enable).
	k.opts = []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.RecordDeliveryTimeout(2 * time.Minute), kgo.AllowAutoTopicCreation()}
	if k.manualPart {
		k.opts = append(k.opts, kgo.RecordPartitioner(headerPartitioner{}))
	}
	props := c.Prefixed(KafkaProducerPrefix)
	props["acks"] = c.String(KafkaAcks) // with the spec's default, 1 as Flume's
	popts, err := kafkaopts.Map(props, kafkaopts.Options{Role: kafkaopts.Producer, Prefix: KafkaProducerPrefix, Log: c.Log()})
	if err != nil {
		return nil, err
	}
	k.opts = append(k.opts, popts...)
	return k, nil
}

// BatchSize implements flow.BatchSizer (flumeBatchSize).
func (k *Kafka) BatchSize() int { return k.batch }

// clientLocked returns the producer, creating it on first use. Expects k.mu.
func (k *Kafka) clientLocked() (*kgo.Client, error) {
	if k.closed {
		return nil, errors.New("kafka sink is closed")
	}
	if k.client == nil {
		cl, err := kgo.NewClient(k.opts...)
		if err != nil {
			return nil, fmt.Errorf("creating kafka producer: %w", err)
		}
		k.client = cl
	}
	return k.client, nil
}

// Deliver implements flow.Sink.
func (k *Kafka) Deliver(ctx context.Context, batch []flow.Event) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	recs := k.recordsCache[:0]
	var rej []flow.Rejection
	for i, e := range batch {
		r, err := k.record(e)
		if err != nil {
			rej = append(rej, flow.Rejection{Index: i, Reason: err.Error()})
			continue
		}
		recs = append(recs, r)
	}
	if len(rej) > 0 {
		return &flow.RejectedError{Rejected: rej}
	}
	cl, err := k.clientLocked()
	if err != nil {
		return err
	}
	start := time.Now()
	failed, first, cancelled := k.produceLocked(ctx, cl, recs)
	k.cfg.Counters.Add("KafkaEventSendTimer", time.Since(start).Milliseconds())
	clear(recs)
	k.recordsCache = recs[:0]
	if first != nil {
		k.cfg.Counters.Add("ConnectionFailedCount", 1)
		k.cfg.Counters.Add("RollbackCount", 1)
		if cancelled {
			return fmt.Errorf("producing %d records: stopped waiting for the broker: %w", len(recs), ctx.Err())
		}
		return fmt.Errorf("producing %d of %d records: %w", failed, len(recs), first)
	}
	return nil
}

// produceLocked produces recs and waits for every acknowledgement, or until
// ctx ends. An idempotent producer cannot take back records it has
// buffered (their sequence numbers are fixed), so then the client is
// closed, which fails them at once, and the next Deliver starts a new one:
// the runner rolls the batch back and redelivers it later (at-least-once),
// instead of shutdown or a sink group waiting out delivery.timeout.ms.
// Expects k.mu.
func (k *Kafka) produceLocked(ctx context.Context, cl *kgo.Client, recs []*kgo.Record) (failed int, first error, cancelled bool) {
	results := make(chan error, len(recs))
	for _, r := range recs {
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) { results <- err })
	}
	for range recs {
		var err error
		select {
		case err = <-results:
		case <-ctx.Done():
			if !cancelled {
				cancelled = true
				cl.Close() // fails every buffered record: each callback still runs
				k.client = nil
			}
			err = <-results
		}
		if err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	return failed, first, cancelled
}

// record maps an event onto a Kafka record.
func (k *Kafka) record(e flow.Event) (*kgo.Record, error) {
	r := &kgo.Record{Value: e.Body, Key: e.Key}
	if v, ok := e.Headers[kafkaKeyHeader]; ok {
		r.Key = []byte(v)
	}
	if k.topicHeader != "" {
		r.Topic = e.Headers[k.topicHeader]
	}
	if r.Topic == "" {
		t, err := k.topic.Expand(e.Headers, time.Now())
		if err != nil {
			return nil, err
		}
		r.Topic = t
	}
	if r.Topic == "" {
		return nil, fmt.Errorf("kafka.topic %q expands to an empty topic name", k.topic)
	}
	if !e.Timestamp.IsZero() {
		r.Timestamp = e.Timestamp
	}
	if k.manualPart {
		r.Partition = k.defaultPart
		if v, ok := e.Headers[k.partHeader]; ok && k.partHeader != "" {
			p, err := strconv.ParseInt(v, 10, 32)
			if err != nil || p < 0 {
				return nil, fmt.Errorf("partition header %s = %q is not a partition number", k.partHeader, v)
			}
			r.Partition = int32(p)
		} else if !k.hasDefault {
			r.Partition = -1 // by key, as without partitionIdHeader
		}
	}
	r.Headers = make([]kgo.RecordHeader, 0, len(e.Headers))
	for hk, hv := range e.Headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: hk, Value: []byte(hv)})
	}
	return r, nil
}

// Close implements flow.Sink: it closes the producer (nothing is buffered
// between Delivers).
func (k *Kafka) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	if k.client != nil {
		k.client.Close()
		k.client = nil
	}
	return nil
}

// headerPartitioner sends a record to the partition it names (from
// partitionIdHeader or defaultPartitionId), or, when that is -1, by key as
// Kafka's default partitioner (murmur2), unkeyed records round-robin.
type headerPartitioner struct{}

func (headerPartitioner) ForTopic(t string) kgo.TopicPartitioner {
	return &headerTopicPartitioner{byKey: kgo.StickyKeyPartitioner(nil).ForTopic(t)}
}

type headerTopicPartitioner struct {
	byKey kgo.TopicPartitioner
	next  int
}

func (*headerTopicPartitioner) RequiresConsistency(*kgo.Record) bool { return true }

func (p *headerTopicPartitioner) Partition(r *kgo.Record, n int) int {
	switch {
	case r.Partition >= 0:
		return int(r.Partition)
	case r.Key != nil:
		return p.byKey.Partition(r, n)
	}
	p.next = (p.next + 1) % n
	return p.next
}
