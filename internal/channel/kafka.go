package channel

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/kafkaopts"
)

// Kafka channel config keys (Flume's names).
const (
	KafkaBootstrap      = "kafka.bootstrap.servers"
	KafkaTopic          = "kafka.topic"
	KafkaGroupID        = "kafka.consumer.group.id"
	KafkaParseEvent     = "parseAsFlumeEvent"
	KafkaPollTimeout    = "pollTimeout"
	KafkaTxCapacity     = "transactionCapacity"
	KafkaProducerPrefix = "kafka.producer."
	KafkaConsumerPrefix = "kafka.consumer."
)

// KafkaSpec documents the kafka channel. Flume gives it only a class name.
var KafkaSpec = flow.Spec{
	Names:   []string{"org.apache.flume.channel.kafka.KafkaChannel"},
	Summary: "a Kafka topic as the channel: a put commit produces the events (acks=all), a take commit commits the consumer offsets; runnel or any Kafka cluster",
	Keys: []flow.Key{
		{Name: KafkaBootstrap, Required: true, Doc: "comma-separated host:port list of brokers"},
		{Name: KafkaTopic, Default: "flume-channel", Doc: "topic holding the channel's events"},
		{Name: KafkaGroupID, Default: "flume", Doc: "consumer group of the channel's takers"},
		{Name: KafkaParseEvent, Type: flow.Bool, Default: "true", Doc: "store events as Flume's Avro AvroFlumeEvent (headers and body); false: the body as the record value, headers as Kafka record headers"},
		{Name: KafkaPollTimeout, Type: flow.Int, Default: "500", Min: 1, Max: 1 << 31, Doc: "milliseconds a take waits for records when none are buffered"},
		{Name: KafkaTxCapacity, Type: flow.Int, Default: "1000", Min: 1, Max: 1 << 31, Doc: "most events one put or take transaction holds"},
		{Name: KafkaProducerPrefix + "*", Doc: "Kafka producer settings as for the kafka sink (linger.ms, batch.size, compression.type, client.id, ...); acks must stay all; unknown ones are ignored with a warning"},
		{Name: KafkaConsumerPrefix + "*", Doc: "Kafka consumer settings as for the kafka source (auto.offset.reset, session.timeout.ms, fetch.*, client.id, ...); unknown ones are ignored with a warning"},
		{Name: "migrateZookeeperOffsets", NotImplemented: true, Doc: "ZooKeeper offsets do not exist here"},
		{Name: "defaultPartitionId", NotImplemented: true, Doc: "partition of every event"},
		{Name: "partitionIdHeader", NotImplemented: true, Doc: "header naming an event's partition"},
	},
}

func init() {
	flow.RegisterChannel(KafkaSpec, func(c flow.Config) (flow.Channel, error) { return NewKafka(c) })
}

// Kafka is Flume's KafkaChannel over franz-go. Puts are produced at Commit
// with acks=all; takes read through a consumer group and commit offsets at
// Commit. Only one take transaction is open at a time (see takeMu).
type Kafka struct {
	topic string
	avro  bool
	poll  time.Duration
	txCap int

	producer *kgo.Client
	// consumerOpts configure the consumer, created at the first Take so a
	// channel only put to never joins the group.
	consumerOpts []kgo.Opt

	// takeMu is held by the one open take transaction from its first Take
	// to its Commit or Rollback: committing the highest taken offset per
	// partition is right only when no earlier take is still open.
	takeMu sync.Mutex

	mu sync.Mutex
	// consumer is nil until the first Take; guarded by mu.
	consumer *kgo.Client
	// buf holds polled records not yet taken, oldest first; guarded by mu.
	buf []*kgo.Record
}

// NewKafka returns a kafka channel; franz-go dials on first use.
func NewKafka(c flow.Config) (*Kafka, error) {
	brokers := kafkaopts.Brokers(c.String(KafkaBootstrap))
	k := &Kafka{topic: c.String(KafkaTopic), avro: c.Bool(KafkaParseEvent),
		poll: time.Duration(c.Int(KafkaPollTimeout)) * time.Millisecond, txCap: int(c.Int(KafkaTxCapacity))}
	pprops := c.Prefixed(KafkaProducerPrefix)
	if v, ok := pprops["acks"]; ok && v != "all" && v != "-1" {
		return nil, &flow.KeyError{Key: KafkaProducerPrefix + "acks", Value: v,
			Problem: "a channel must not lose committed events", Fix: "use acks=all (the default)"}
	}
	popts, err := kafkaopts.Map(pprops, kafkaopts.Options{Role: kafkaopts.Producer, Prefix: KafkaProducerPrefix, Log: c.Log()})
	if err != nil {
		return nil, err
	}
	popts = append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic(k.topic), kgo.RecordDeliveryTimeout(time.Minute)}, popts...)
	cprops := c.Prefixed(KafkaConsumerPrefix)
	if v := cprops["auto.offset.reset"]; strings.EqualFold(v, "none") {
		return nil, &flow.KeyError{Key: KafkaConsumerPrefix + "auto.offset.reset", Value: v,
			Problem: "a new group of takers would fail instead of reading the channel", Fix: "use earliest or latest"}
	}
	copts, err := kafkaopts.Map(cprops, kafkaopts.Options{Role: kafkaopts.Consumer,
		Prefix: KafkaConsumerPrefix, Fixed: []string{"group.id"}, Log: c.Log()})
	if err != nil {
		return nil, err
	}
	k.consumerOpts = append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(c.String(KafkaGroupID)),
		kgo.ConsumeTopics(k.topic), kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AllowAutoTopicCreation()}, copts...)
	if k.producer, err = kgo.NewClient(popts...); err != nil {
		return nil, &flow.KeyError{Key: KafkaBootstrap, Value: c.String(KafkaBootstrap), Problem: err.Error(), Fix: "give host:port of the brokers"}
	}
	return k, nil
}

// TransactionCapacity implements flow.TransactionCapacitor.
func (k *Kafka) TransactionCapacity() int { return k.txCap }

// Begin implements flow.Channel.
func (k *Kafka) Begin() flow.Transaction { return &kafkaTx{k: k} }

// Close implements flow.Channel: it closes the producer and leaves the
// group; events taken but not committed are read again by the next taker.
func (k *Kafka) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.producer.Close()
	if k.consumer != nil {
		k.consumer.Close()
		k.consumer = nil
	}
	k.buf = nil
	return nil
}

// kafkaTx is one put or take transaction; used by one goroutine.
type kafkaTx struct {
	k     *Kafka
	puts  []*kgo.Record
	takes []*kgo.Record
	done  bool
	// holding is true while the transaction holds k.takeMu.
	holding bool
}

// release gives up k.takeMu if the transaction holds it.
func (t *kafkaTx) release() {
	if t.holding {
		t.holding = false
		t.k.takeMu.Unlock()
	}
}

// Put implements flow.Transaction: the event is produced at Commit. Kafka
// has no capacity to reserve; the bound is transactionCapacity.
func (t *kafkaTx) Put(_ context.Context, e flow.Event) error {
	switch {
	case t.done:
		return errors.New("kafka channel: put after the transaction ended")
	case len(t.takes) > 0:
		return errors.New("kafka channel: put in a take transaction")
	case len(t.puts) >= t.k.txCap:
		return fmt.Errorf("putting event %d of a transaction of capacity %d: %w", len(t.puts)+1, t.k.txCap, flow.ErrTransactionFull)
	}
	r := &kgo.Record{Topic: t.k.topic, Key: e.Key, Timestamp: e.Timestamp}
	if t.k.avro {
		r.Value = appendAvroFlumeEvent(nil, e.Headers, e.Body)
	} else {
		r.Value = e.Body
		keys := make([]string, 0, len(e.Headers))
		for h := range e.Headers {
			keys = append(keys, h)
		}
		sort.Strings(keys)
		for _, h := range keys {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: h, Value: []byte(e.Headers[h])})
		}
	}
	t.puts = append(t.puts, r)
	return nil
}

// Take implements flow.Transaction: it returns the next buffered record,
// polling for up to pollTimeout when none is buffered (as Flume does). While
// another take transaction is open it returns no event.
func (t *kafkaTx) Take(ctx context.Context) (flow.Event, bool, error) {
	switch {
	case t.done:
		return flow.Event{}, false, errors.New("kafka channel: take after the transaction ended")
	case len(t.puts) > 0:
		return flow.Event{}, false, errors.New("kafka channel: take in a put transaction")
	case len(t.takes) >= t.k.txCap:
		return flow.Event{}, false, fmt.Errorf("taking event %d of a transaction of capacity %d: %w", len(t.takes)+1, t.k.txCap, flow.ErrTransactionFull)
	}
	k := t.k
	if !t.holding {
		// Another take transaction is open: report empty rather than wait
		// for it (Take does not wait).
		if !k.takeMu.TryLock() {
			return flow.Event{}, false, nil
		}
		t.holding = true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.buf) == 0 {
		if err := k.fill(ctx); err != nil {
			return flow.Event{}, false, err
		}
		if len(k.buf) == 0 {
			return flow.Event{}, false, nil
		}
	}
	r := k.buf[0]
	e, err := k.event(r)
	if err != nil {
		return flow.Event{}, false, err
	}
	k.buf = k.buf[1:]
	t.takes = append(t.takes, r)
	return e, true, nil
}

// event converts a record back into the event that was put.
func (k *Kafka) event(r *kgo.Record) (flow.Event, error) {
	e := flow.Event{Key: r.Key, Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp}
	if k.avro {
		h, body, err := decodeAvroFlumeEvent(r.Value)
		if err != nil {
			return flow.Event{}, fmt.Errorf("kafka channel: record %s/%d@%d is not an Avro Flume event (parseAsFlumeEvent=true): %w", r.Topic, r.Partition, r.Offset, err)
		}
		e.Headers, e.Body = h, body
		return e, nil
	}
	e.Body = r.Value
	if len(r.Headers) > 0 {
		e.Headers = make(map[string]string, len(r.Headers))
		for _, h := range r.Headers {
			e.Headers[h.Key] = string(h.Value)
		}
	}
	return e, nil
}

// fill polls records into buf, waiting up to pollTimeout. Expects k.mu held.
func (k *Kafka) fill(ctx context.Context) error {
	if k.consumer == nil {
		cl, err := kgo.NewClient(k.consumerOpts...)
		if err != nil {
			return fmt.Errorf("kafka channel: creating the consumer: %w", err)
		}
		k.consumer = cl
	}
	pctx, cancel := context.WithTimeout(ctx, k.poll)
	defer cancel()
	fs := k.consumer.PollRecords(pctx, 10000)
	for _, fe := range fs.Errors() {
		if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
			continue
		}
		return fmt.Errorf("kafka channel: polling topic %s: %w", k.topic, fe.Err)
	}
	k.buf = append(k.buf, fs.Records()...)
	return nil
}

// Commit implements flow.Transaction: a put produces and waits for every
// acknowledgement; a take commits the consumer offsets past its events.
func (t *kafkaTx) Commit() error {
	if t.done {
		return errors.New("kafka channel: commit after the transaction ended")
	}
	t.done = true
	defer t.release()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	switch {
	case len(t.puts) > 0:
		if err := t.k.producer.ProduceSync(ctx, t.puts...).FirstErr(); err != nil {
			return fmt.Errorf("kafka channel: producing %d events to %s: %w", len(t.puts), t.k.topic, err)
		}
	case len(t.takes) > 0:
		t.k.mu.Lock()
		cl := t.k.consumer
		t.k.mu.Unlock()
		if cl == nil {
			return errors.New("kafka channel: committing takes after Close")
		}
		if err := cl.CommitRecords(ctx, t.takes...); err != nil {
			// Not committed: the events are read again after a restart
			// (at-least-once).
			return fmt.Errorf("kafka channel: committing the offsets of %d taken events: %w", len(t.takes), err)
		}
	}
	return nil
}

// Rollback implements flow.Transaction: puts are dropped; taken records
// go back to the head of the buffer, so the next Take reads them again
// (the rewind, without a round trip to the broker).
func (t *kafkaTx) Rollback() error {
	if t.done {
		return errors.New("kafka channel: rollback after the transaction ended")
	}
	t.done = true
	defer t.release()
	if len(t.takes) > 0 {
		k := t.k
		k.mu.Lock()
		if k.consumer != nil {
			k.buf = append(append([]*kgo.Record(nil), t.takes...), k.buf...)
		}
		k.mu.Unlock()
	}
	return nil
}
