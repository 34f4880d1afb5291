// Package kafkaopts maps Kafka's Java client properties (the producer and
// consumer keys users already know: acks, linger.ms, compression.type,
// auto.offset.reset, ...) onto franz-go kgo options. It is the one mapper
// behind the Flume kafka sink, source and channel (kafka.producer.*,
// kafka.consumer.*) and the Connect worker (producer.*, consumer.*).
package kafkaopts

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/flow"
)

// Role says which client the properties configure.
type Role uint8

// The two client roles; a property may belong to both.
const (
	Producer Role = 1 << iota
	Consumer
)

func (r Role) String() string {
	switch r {
	case Producer:
		return "producer"
	case Consumer:
		return "consumer"
	}
	return "client"
}

// Options tells Map how its caller uses the properties.
type Options struct {
	// Role is the client being configured. Keys of the other role are
	// accepted with a warning and have no effect.
	Role Role
	// Prefix is how the caller's configuration spells the keys
	// ("kafka.producer.", "consumer."): errors and warnings name
	// Prefix+key so the user finds the line.
	Prefix string
	// Fixed lists keys the caller reads itself or fixes (a Connect
	// worker's acks=all, a channel's group.id): they are accepted without
	// a warning and Map adds no option for them.
	Fixed []string
	// Log receives a warning for every key accepted without effect; nil
	// discards them.
	Log *slog.Logger
}

// Map turns Kafka client properties (keys without the caller's prefix)
// into franz-go options, to be appended after the caller's own defaults
// (later kgo options win). A bad value is a *flow.KeyError naming
// Prefix+key and the value; keys Map does not know, or knows but cannot
// honour, are logged once each as warnings and ignored. Keys are visited in
// sorted order, so the error for a config with several bad keys is stable.
//
// acks and enable.idempotence interact as in the Java producer: acks=0 or
// acks=1, or enable.idempotence=false, turn idempotent writes off (franz-go
// refuses idempotence without acks=all).
func Map(props map[string]string, o Options) ([]kgo.Opt, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	m := &mapping{}
	for _, k := range keys {
		v := props[k]
		if slices.Contains(o.Fixed, k) {
			continue
		}
		p, ok := properties[k]
		switch {
		case !ok:
			log.Warn("Kafka client setting is not supported by runnel; ignored", "key", o.Prefix+k)
			continue
		case p.roles&o.Role == 0:
			log.Warn("Kafka client setting belongs to another client; ignored", "key", o.Prefix+k, "client", o.Role.String())
			continue
		case p.ignored != "":
			log.Warn("Kafka client setting has no effect in runnel; ignored", "key", o.Prefix+k, "why", p.ignored)
			continue
		}
		if bad := p.apply(m, strings.TrimSpace(v)); bad != nil {
			return nil, &flow.KeyError{Key: o.Prefix + k, Value: v, Problem: bad.problem, Fix: bad.fix}
		}
	}
	if m.noIdempotence {
		m.opts = append(m.opts, kgo.DisableIdempotentWrite())
	}
	return m.opts, nil
}

// Brokers splits a bootstrap.servers value (comma-separated host:port)
// into franz-go seed brokers, dropping blanks.
func Brokers(list string) []string {
	var seeds []string
	for s := range strings.SplitSeq(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	return seeds
}

// mapping collects the options of one Map call.
type mapping struct {
	opts          []kgo.Opt
	noIdempotence bool
}

func (m *mapping) add(o kgo.Opt) { m.opts = append(m.opts, o) }

// badValue is why a value was refused: the KeyError's Problem and Fix.
type badValue struct{ problem, fix string }

// property is one known key: the roles it belongs to and either how it
// maps (apply) or why it is accepted without effect (ignored).
type property struct {
	roles   Role
	apply   func(m *mapping, v string) *badValue
	ignored string
}

const both = Producer | Consumer

// properties is every key Map knows, by its Kafka name.
var properties = map[string]property{
	// Both clients.
	"bootstrap.servers": {roles: both, apply: func(m *mapping, v string) *badValue {
		seeds := Brokers(v)
		if len(seeds) == 0 {
			return &badValue{"no broker given", "give a comma-separated host:port list"}
		}
		m.add(kgo.SeedBrokers(seeds...))
		return nil
	}},
	"client.id": {roles: both, apply: func(m *mapping, v string) *badValue {
		m.add(kgo.ClientID(v))
		return nil
	}},
	"security.protocol": {roles: both, apply: func(_ *mapping, v string) *badValue {
		if !strings.EqualFold(v, "PLAINTEXT") {
			return &badValue{"only PLAINTEXT connections are implemented", "use PLAINTEXT (remove the key)"}
		}
		return nil
	}},
	"metadata.max.age.ms":                {roles: both, apply: millis(kgo.MetadataMaxAge)},
	"connections.max.idle.ms":            {roles: both, apply: millis(kgo.ConnIdleTimeout)},
	"socket.connection.setup.timeout.ms": {roles: both, apply: millis(kgo.DialTimeout)},

	// Producer.
	"acks": {roles: Producer, apply: func(m *mapping, v string) *badValue {
		switch strings.ToLower(v) {
		case "0":
			m.add(kgo.RequiredAcks(kgo.NoAck()))
			m.noIdempotence = true
		case "1":
			m.add(kgo.RequiredAcks(kgo.LeaderAck()))
			m.noIdempotence = true
		case "all", "-1":
			m.add(kgo.RequiredAcks(kgo.AllISRAcks()))
		default:
			return &badValue{"not an acks setting", "use 0, 1 or all"}
		}
		return nil
	}},
	"enable.idempotence": {roles: Producer, apply: func(m *mapping, v string) *badValue {
		switch strings.ToLower(v) {
		case "false":
			m.noIdempotence = true
		case "true":
		default:
			return &badValue{"not a boolean", "set it to true or false"}
		}
		return nil
	}},
	"linger.ms":           {roles: Producer, apply: millis(kgo.ProducerLinger)},
	"request.timeout.ms":  {roles: Producer, apply: millis(kgo.ProduceRequestTimeout)},
	"delivery.timeout.ms": {roles: Producer, apply: millis(kgo.RecordDeliveryTimeout)},
	"batch.size":          {roles: Producer, apply: bytes(1, kgo.ProducerBatchMaxBytes)},
	"max.request.size": {roles: Producer, apply: bytes(1, func(n int32) kgo.Opt {
		// The broker connection also carries fetch requests; never bound
		// it below 1 MiB.
		return kgo.BrokerMaxWriteBytes(max(n, 1<<20))
	})},
	"retries": {roles: Producer, apply: func(m *mapping, v string) *badValue {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return &badValue{"not a number of retries", "give a whole number"}
		}
		m.add(kgo.RecordRetries(n))
		return nil
	}},
	"max.in.flight.requests.per.connection": {roles: Producer, apply: func(m *mapping, v string) *badValue {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return &badValue{"not a positive number", "give a whole number of requests, at least 1"}
		}
		m.add(kgo.MaxProduceRequestsInflightPerBroker(n))
		return nil
	}},
	"compression.type": {roles: Producer, apply: func(m *mapping, v string) *badValue {
		var c kgo.CompressionCodec
		switch strings.ToLower(v) {
		case "none":
			c = kgo.NoCompression()
		case "gzip":
			c = kgo.GzipCompression()
		case "snappy":
			c = kgo.SnappyCompression()
		case "lz4":
			c = kgo.Lz4Compression()
		case "zstd":
			c = kgo.ZstdCompression()
		default:
			return &badValue{"not a compression codec", "use none, gzip, snappy, lz4 or zstd"}
		}
		m.add(kgo.ProducerBatchCompression(c))
		return nil
	}},
	"key.serializer":   {roles: Producer, ignored: "records are written as the bytes they carry"},
	"value.serializer": {roles: Producer, ignored: "records are written as the bytes they carry"},
	"transactional.id": {roles: Producer, ignored: "transactional producers are not implemented"},
	"buffer.memory":    {roles: Producer, ignored: "the client bounds buffered records, not bytes"},

	// Consumer.
	"group.id": {roles: Consumer, ignored: "the group is chosen by the component"},
	"group.instance.id": {roles: Consumer, apply: func(m *mapping, v string) *badValue {
		m.add(kgo.InstanceID(v))
		return nil
	}},
	"auto.offset.reset": {roles: Consumer, apply: func(m *mapping, v string) *badValue {
		switch strings.ToLower(v) {
		case "earliest":
			m.add(kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		case "latest":
			m.add(kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
		case "none":
			m.add(kgo.ConsumeResetOffset(kgo.NoResetOffset()))
		default:
			return &badValue{"unknown reset policy", "use earliest, latest or none"}
		}
		return nil
	}},
	"isolation.level": {roles: Consumer, apply: func(m *mapping, v string) *badValue {
		switch strings.ToLower(v) {
		case "read_committed":
			m.add(kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		case "read_uncommitted":
			m.add(kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
		default:
			return &badValue{"unknown isolation level", "use read_committed or read_uncommitted"}
		}
		return nil
	}},
	"session.timeout.ms":        {roles: Consumer, apply: millis(kgo.SessionTimeout)},
	"heartbeat.interval.ms":     {roles: Consumer, apply: millis(kgo.HeartbeatInterval)},
	"max.poll.interval.ms":      {roles: Consumer, apply: millis(kgo.RebalanceTimeout)},
	"fetch.max.wait.ms":         {roles: Consumer, apply: millis(kgo.FetchMaxWait)},
	"fetch.min.bytes":           {roles: Consumer, apply: bytes(0, kgo.FetchMinBytes)},
	"fetch.max.bytes":           {roles: Consumer, apply: bytes(1, kgo.FetchMaxBytes)},
	"max.partition.fetch.bytes": {roles: Consumer, apply: bytes(1, kgo.FetchMaxPartitionBytes)},
	"enable.auto.commit":        {roles: Consumer, ignored: "offsets are committed only after the records were handled"},
	"max.poll.records":          {roles: Consumer, ignored: "not read by this component"},
	"key.deserializer":          {roles: Consumer, ignored: "records are read as the bytes they carry"},
	"value.deserializer":        {roles: Consumer, ignored: "records are read as the bytes they carry"},
}

// millis maps a whole number of milliseconds (0 or more) onto opt.
func millis[O kgo.Opt](opt func(time.Duration) O) func(*mapping, string) *badValue {
	return func(m *mapping, v string) *badValue {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > int64(time.Duration(1<<63-1)/time.Millisecond) {
			return &badValue{"not a number of milliseconds", "give a whole number"}
		}
		m.add(opt(time.Duration(n) * time.Millisecond))
		return nil
	}
}

// bytes maps a byte count of at least least (and at most 2 GiB-1) onto opt.
func bytes[O kgo.Opt](least int64, opt func(int32) O) func(*mapping, string) *badValue {
	return func(m *mapping, v string) *badValue {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < least {
			return &badValue{fmt.Sprintf("not a number of bytes of at least %d", least), "give a whole number of bytes"}
		}
		m.add(opt(int32(n)))
		return nil
	}
}

// MaxPollRecords reads max.poll.records from props, later maps winning
// (default 500, as Kafka's consumer); a value that is not a positive number
// is skipped.
func MaxPollRecords(props ...map[string]string) int {
	n := 500
	for _, p := range props {
		if v, ok := p["max.poll.records"]; ok {
			if m, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && m > 0 {
				n = m
			}
		}
	}
	return n
}
