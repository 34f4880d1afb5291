package source

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/kafkaopts"
)

// Kafka source config keys (Flume's names).
const (
	KafkaSrcBootstrap             = "kafka.bootstrap.servers"
	KafkaSrcTopics                = "kafka.topics"
	KafkaSrcTopicsRegex           = "kafka.topics.regex"
	KafkaSrcGroupID               = "kafka.consumer.group.id"
	KafkaSrcConsumerPrefix        = "kafka.consumer."
	KafkaSrcBatchSize             = "batchSize"
	KafkaSrcBatchDurationMillis   = "batchDurationMillis"
	KafkaSrcBackoffSleepIncrement = "backoffSleepIncrement"
	KafkaSrcMaxBackoffSleep       = "maxBackoffSleep"
	KafkaSrcSetTopicHeader        = "setTopicHeader"
	KafkaSrcTopicHeader           = "topicHeader"
	KafkaSrcUseFlumeEventFormat   = "useFlumeEventFormat"

	// Headers the source sets, as Flume's KafkaSource.
	KafkaSrcKeyHeader       = "key"
	KafkaSrcTimestampHeader = "timestamp"
	KafkaSrcPartitionHeader = "partition"
	KafkaSrcOffsetHeader    = "offset"
)

// KafkaSourceSpec documents the kafka source (Flume gives it only a class
// name).
var KafkaSourceSpec = flow.Spec{
	Names:   []string{"org.apache.flume.source.kafka.KafkaSource"},
	Summary: "consumes Kafka topics in a consumer group; offsets are committed only after the channels committed the batch",
	Keys: []flow.Key{
		{Name: KafkaSrcBootstrap, Required: true, Doc: "comma-separated host:port list of brokers"},
		{Name: KafkaSrcTopics, Doc: "comma-separated topics to consume"},
		{Name: KafkaSrcTopicsRegex, Doc: "regular expression of topics to consume (wins over kafka.topics)"},
		{Name: KafkaSrcGroupID, Default: "flume", Doc: "consumer group"},
		{Name: KafkaSrcBatchSize, Type: flow.Int, Default: "1000", Min: 1, Max: 1 << 20, Doc: "most records per batch put to the channels"},
		{Name: KafkaSrcBatchDurationMillis, Type: flow.Int, Default: "1000", Min: 1, Max: 1 << 40, Doc: "longest time in milliseconds a batch is filled before it is put"},
		{Name: KafkaSrcBackoffSleepIncrement, Type: flow.Int, Default: "1000", Min: 1, Max: 1 << 40, Doc: "milliseconds added to the wait after each refused batch"},
		{Name: KafkaSrcMaxBackoffSleep, Type: flow.Int, Default: "5000", Min: 1, Max: 1 << 40, Doc: "longest wait in milliseconds between retries of a refused batch"},
		{Name: KafkaSrcSetTopicHeader, Type: flow.Bool, Default: "true", Doc: "add a header naming the record's topic"},
		{Name: KafkaSrcTopicHeader, Default: "topic", Doc: "name of the topic header"},
		{Name: KafkaSrcUseFlumeEventFormat, Type: flow.Bool, Default: "false", Doc: "read values as Avro Flume events (not implemented: true is refused)"},
		{Name: KafkaSrcConsumerPrefix + "*", Doc: "Kafka consumer settings: auto.offset.reset (default earliest), client.id, session.timeout.ms, heartbeat.interval.ms, max.poll.interval.ms, fetch.min.bytes, fetch.max.bytes, fetch.max.wait.ms, max.partition.fetch.bytes, isolation.level, group.instance.id; others are warned about and ignored"},
		{Name: "migrateZookeeperOffsets", Type: flow.Bool, NotImplemented: true, Doc: "Flume's ZooKeeper offset migration (there is no ZooKeeper)"},
		{Name: "zookeeperConnect", NotImplemented: true, Doc: "Flume's old ZooKeeper setting"},
		{Name: "topic", Doc: "Flume's old name of kafka.topics"},
		{Name: "groupId", Doc: "Flume's old name of kafka.consumer.group.id"},
	},
}

func init() {
	flow.RegisterSource(KafkaSourceSpec, func(c flow.Config) (flow.Source, error) { return NewKafkaSource(c) })
}

// KafkaSource is Flume's KafkaSource over a franz-go consumer group with
// auto-commit off. A batch (batchSize records or batchDurationMillis) is
// put to the channels, retried with backoff while they refuse it, and only
// then are its offsets committed, so a crash or rebalance redelivers at
// most the batches not yet committed. Rebalances wait while a batch is
// in flight.
//
// Each event has the record value as body and key as Key; Topic, Partition
// and Offset are set; Timestamp is the record's. Headers: the record's
// headers, then Flume's: topic (setTopicHeader/topicHeader), partition,
// offset, key (when the record has one) and timestamp (the time the record
// was read, in ms, as Flume does, unless a record header named timestamp
// exists).
//
// Counters, as Flume's: KafkaEventGetTimer and KafkaCommitTimer (ms spent
// polling and committing), KafkaEmptyCount (polls that found nothing);
// runnel adds KafkaCommitFailCount.
type KafkaSource struct {
	cfg         flow.Config
	opts        []kgo.Opt
	batchSize   int
	batchDur    time.Duration
	backoffInc  time.Duration
	backoffMax  time.Duration
	topicHeader string
}

// NewKafkaSource builds the source from its validated config.
func NewKafkaSource(c flow.Config) (*KafkaSource, error) {
	if c.Bool(KafkaSrcUseFlumeEventFormat) {
		return nil, keyErr(KafkaSrcUseFlumeEventFormat, "true", "Avro Flume events are not supported", "set useFlumeEventFormat = false (records are read as plain values with headers)")
	}
	seeds := splitList(c.String(KafkaSrcBootstrap))
	if len(seeds) == 0 {
		return nil, keyErr(KafkaSrcBootstrap, c.String(KafkaSrcBootstrap), "no brokers", "list host:port of at least one broker")
	}
	group := c.String(KafkaSrcGroupID)
	if _, explicit := c.Prefixed(KafkaSrcConsumerPrefix)["group.id"]; !explicit {
		if g, ok := c.Raw("groupId"); ok {
			group = g
		}
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ConsumerGroup(group),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
	if re := c.String(KafkaSrcTopicsRegex); re != "" {
		if _, err := regexp.Compile(re); err != nil {
			return nil, keyErr(KafkaSrcTopicsRegex, re, err.Error(), "give a valid regular expression")
		}
		opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics(re))
	} else {
		topics := splitList(c.String(KafkaSrcTopics))
		if len(topics) == 0 {
			topics = splitList(c.String("topic"))
		}
		if len(topics) == 0 {
			return nil, keyErr(KafkaSrcTopics, "", "no topics", "set kafka.topics (comma-separated) or kafka.topics.regex")
		}
		opts = append(opts, kgo.ConsumeTopics(topics...))
	}
	more, err := kafkaConsumerOpts(c)
	if err != nil {
		return nil, err
	}
	opts = append(opts, more...)
	s := &KafkaSource{
		cfg:        c,
		opts:       opts,
		batchSize:  int(c.Int(KafkaSrcBatchSize)),
		batchDur:   time.Duration(c.Int(KafkaSrcBatchDurationMillis)) * time.Millisecond,
		backoffInc: time.Duration(c.Int(KafkaSrcBackoffSleepIncrement)) * time.Millisecond,
		backoffMax: time.Duration(c.Int(KafkaSrcMaxBackoffSleep)) * time.Millisecond,
	}
	if c.Bool(KafkaSrcSetTopicHeader) {
		s.topicHeader = c.String(KafkaSrcTopicHeader)
	}
	return s, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// kafkaConsumerOpts maps kafka.consumer.* settings to franz-go options
// (see kafkaopts.Map). group.id is read by NewKafkaSource;
// enable.auto.commit=false is what the source does anyway, so only true is
// warned about.
func kafkaConsumerOpts(c flow.Config) ([]kgo.Opt, error) {
	props := c.Prefixed(KafkaSrcConsumerPrefix)
	fixed := []string{"group.id"}
	if !strings.EqualFold(props["enable.auto.commit"], "true") {
		fixed = append(fixed, "enable.auto.commit")
	}
	return kafkaopts.Map(props, kafkaopts.Options{Role: kafkaopts.Consumer, Prefix: KafkaSrcConsumerPrefix, Fixed: fixed, Log: c.Log()})
}

// Run implements flow.Source: it consumes until ctx is done, then leaves
// the group and closes the client.
func (s *KafkaSource) Run(ctx context.Context, out flow.Emitter) error {
	cl, err := kgo.NewClient(s.opts...)
	if err != nil {
		return fmt.Errorf("kafka source %s: creating the consumer: %w", s.cfg.Name, err)
	}
	// With BlockRebalanceOnPoll a plain Close would wait for a rebalance
	// the source no longer allows.
	defer cl.CloseAllowingRebalance()
	log := s.cfg.Log()
	for ctx.Err() == nil {
		pollStart := time.Now()
		recs := s.poll(ctx, cl)
		if len(recs) == 0 {
			s.cfg.Counters.Add("KafkaEmptyCount", 1)
			cl.AllowRebalance()
			continue
		}
		s.cfg.Counters.Add("KafkaEventGetTimer", time.Since(pollStart).Milliseconds())
		batch := make([]flow.Event, len(recs))
		now := strconv.FormatInt(time.Now().UnixMilli(), 10)
		for i, r := range recs {
			batch[i] = s.event(r, now)
		}
		if err := emitBackoff(ctx, out, batch, s.cfg, "kafka", retryBackoff{first: s.backoffInc, step: s.backoffInc, max: s.backoffMax}); err != nil {
			return nil // not committed: the next owner of the partitions reads it again
		}
		commitStart := time.Now()
		err := cl.CommitRecords(context.WithoutCancel(ctx), recs...)
		s.cfg.Counters.Add("KafkaCommitTimer", time.Since(commitStart).Milliseconds())
		if err != nil {
			s.cfg.Counters.Add("KafkaCommitFailCount", 1)
			log.Warn("kafka source could not commit offsets; the batch may be delivered again", "err", err)
		}
		cl.AllowRebalance()
	}
	return nil
}

// poll collects up to batchSize records, waiting at most batchDurationMillis
// once the first record arrived.
func (s *KafkaSource) poll(ctx context.Context, cl *kgo.Client) []*kgo.Record {
	var recs []*kgo.Record
	var deadline time.Time
	for len(recs) < s.batchSize {
		var pctx context.Context
		var cancel context.CancelFunc
		if !deadline.IsZero() {
			if time.Until(deadline) <= 0 {
				break
			}
			pctx, cancel = context.WithDeadline(ctx, deadline)
		} else {
			pctx, cancel = context.WithTimeout(ctx, s.batchDur)
		}
		fetches := cl.PollRecords(pctx, s.batchSize-len(recs))
		cancel()
		if ctx.Err() != nil {
			return recs
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			s.cfg.Log().Warn("kafka source fetch error", "topic", topic, "partition", p, "err", err)
		})
		n := len(recs)
		recs = append(recs, fetches.Records()...)
		if n == 0 && len(recs) > 0 {
			deadline = time.Now().Add(s.batchDur)
		}
		if len(recs) == 0 {
			return nil // nothing within batchDurationMillis
		}
	}
	return recs
}

// event converts a record as Flume's KafkaSource does.
func (s *KafkaSource) event(r *kgo.Record, now string) flow.Event {
	h := make(map[string]string, len(r.Headers)+5)
	for _, rh := range r.Headers {
		h[rh.Key] = string(rh.Value)
	}
	if _, ok := h[KafkaSrcTimestampHeader]; !ok {
		h[KafkaSrcTimestampHeader] = now
	}
	if s.topicHeader != "" {
		h[s.topicHeader] = r.Topic
	}
	h[KafkaSrcPartitionHeader] = strconv.Itoa(int(r.Partition))
	h[KafkaSrcOffsetHeader] = strconv.FormatInt(r.Offset, 10)
	if r.Key != nil {
		h[KafkaSrcKeyHeader] = string(r.Key)
	}
	return flow.Event{
		Headers:   h,
		Body:      r.Value,
		Key:       r.Key,
		Timestamp: r.Timestamp,
		Topic:     r.Topic,
		Partition: r.Partition,
		Offset:    r.Offset,
	}
}
