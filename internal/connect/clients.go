package connect

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// clientOpts turns Kafka producer / consumer properties (producer.*,
// consumer.*, and the connector's *.override.*, later ones winning) into
// franz-go options. Keys it does not map are logged once and ignored.
func clientOpts(log *slog.Logger, what string, props ...map[string]string) ([]kgo.Opt, error) {
	merged := map[string]string{}
	for _, p := range props {
		for k, v := range p {
			merged[k] = v
		}
	}
	var opts []kgo.Opt
	for k, v := range merged {
		ms := func() (time.Duration, error) {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("%s %s=%q: not a number of milliseconds", what, k, v)
			}
			return time.Duration(n) * time.Millisecond, nil
		}
		num := func() (int32, error) {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("%s %s=%q: not a positive number", what, k, v)
			}
			return int32(n), nil
		}
		switch k {
		case "client.id":
			opts = append(opts, kgo.ClientID(v))
		case "linger.ms":
			d, err := ms()
			if err != nil {
				return nil, err
			}
			opts = append(opts, kgo.ProducerLinger(d))
		case "batch.size":
			n, err := num()
			if err != nil {
				return nil, err
			}
			opts = append(opts, kgo.ProducerBatchMaxBytes(n))
		case "compression.type":
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
				return nil, fmt.Errorf("%s compression.type=%q: use none, gzip, snappy, lz4 or zstd", what, v)
			}
			opts = append(opts, kgo.ProducerBatchCompression(c))
		case "fetch.max.bytes":
			n, err := num()
			if err != nil {
				return nil, err
			}
			opts = append(opts, kgo.FetchMaxBytes(n))
		case "max.partition.fetch.bytes":
			n, err := num()
			if err != nil {
				return nil, err
			}
			opts = append(opts, kgo.FetchMaxPartitionBytes(n))
		case "fetch.max.wait.ms":
			d, err := ms()
			if err != nil {
				return nil, err
			}
			opts = append(opts, kgo.FetchMaxWait(d))
		case "session.timeout.ms":
			d, err := ms()
			if err != nil {
				return nil, err
			}
			opts = append(opts, kgo.SessionTimeout(d))
		case "heartbeat.interval.ms":
			d, err := ms()
			if err != nil {
				return nil, err
			}
			opts = append(opts, kgo.HeartbeatInterval(d))
		case "auto.offset.reset":
			switch strings.ToLower(v) {
			case "earliest":
				opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			case "latest":
				opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
			default:
				return nil, fmt.Errorf("%s auto.offset.reset=%q: use earliest or latest", what, v)
			}
		case "isolation.level":
			if strings.EqualFold(v, "read_committed") {
				opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
			}
		case "max.poll.records", "acks", "enable.idempotence", "enable.auto.commit", "group.id", "key.serializer", "value.serializer", "key.deserializer", "value.deserializer":
			// read by the worker or fixed by it (acks=all, idempotence on,
			// auto-commit off, group connect-<name>)
		default:
			log.Warn("client property is not supported by runnel's Kafka client; it is ignored", "client", what, "key", k)
		}
	}
	return opts, nil
}

// maxPollRecords reads max.poll.records (default 500, as Kafka).
func maxPollRecords(props ...map[string]string) int {
	n := 500
	for _, p := range props {
		if v, ok := p["max.poll.records"]; ok {
			if m, err := strconv.Atoi(v); err == nil && m > 0 {
				n = m
			}
		}
	}
	return n
}
