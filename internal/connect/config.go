package connect

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// Worker config keys (Kafka Connect's names).
const (
	KeyBootstrapServers = "bootstrap.servers"
	KeyKeyConverter     = "key.converter"
	KeyValueConverter   = "value.converter"
	KeyOffsetFile       = "offset.storage.file.filename"
	KeyOffsetFlush      = "offset.flush.interval.ms"
	KeyListeners        = "listeners"
	KeyRestPort         = "rest.port"
	KeyRestHost         = "rest.host.name"
	KeyGroupID          = "group.id"
	KeyConfigTopic      = "config.storage.topic"
	KeyOffsetTopic      = "offset.storage.topic"
	KeyStatusTopic      = "status.storage.topic"
	KeySessionTimeout   = "session.timeout.ms"
	KeyHeartbeat        = "heartbeat.interval.ms"
	KeyRebalanceTimeout = "rebalance.timeout.ms"
	// KeyRestartBackoff and KeyRestartBackoffMax are runnel's: the first
	// and longest wait before a failed task is started again.
	KeyRestartBackoff    = "task.restart.backoff.ms"
	KeyRestartBackoffMax = "task.restart.backoff.max.ms"
)

// DefaultListener is Kafka Connect's default REST address (on loopback).
const DefaultListener = "http://127.0.0.1:8083"

// acceptedWorkerKeys are worker keys Kafka Connect defines that runnel
// accepts without effect (they configure Java things: plugin paths, the
// internal converters, REST extensions, metrics reporters).
var acceptedWorkerKeys = map[string]bool{
	"plugin.path": true, "internal.key.converter": true, "internal.value.converter": true,
	"internal.key.converter.schemas.enable": true, "internal.value.converter.schemas.enable": true,
	"rest.advertised.host.name": true, "rest.advertised.port": true, "rest.advertised.listener": true,
	"rest.extension.classes": true, "metric.reporters": true, "client.id": true,
	"config.storage.replication.factor": true, "offset.storage.replication.factor": true,
	"status.storage.replication.factor": true, "offset.storage.partitions": true, "status.storage.partitions": true,
	"scheduled.rebalance.max.delay.ms": true, "connect.protocol": true, "header.converter": true,
	"task.shutdown.graceful.timeout.ms": true, "offset.flush.timeout.ms": true,
	"connector.client.config.override.policy": true, "exactly.once.source.support": true,
	"topic.creation.enable": true, "plugin.discovery": true,
}

// WorkerConfig is a parsed Kafka Connect worker .properties file.
type WorkerConfig struct {
	// Brokers are the bootstrap.servers.
	Brokers []string
	// Key and Value are the worker's default converters.
	Key, Value Converter
	// OffsetFile is offset.storage.file.filename (standalone).
	OffsetFile string
	// OffsetFlush is offset.flush.interval.ms (default 60 s as Kafka).
	OffsetFlush time.Duration
	// Listen is the REST host:port.
	Listen string
	// Producer and Consumer are the producer.* / consumer.* client keys
	// (prefix cut off).
	Producer, Consumer map[string]string
	// GroupID and the topics are the distributed-mode keys.
	GroupID, ConfigTopic, OffsetTopic, StatusTopic string
	// SessionTimeout, Heartbeat and RebalanceTimeout are the distributed
	// group's timings (Kafka's defaults 10 s, 3 s, 60 s).
	SessionTimeout, Heartbeat, RebalanceTimeout time.Duration
	// RestartBackoff is the first wait before a failed task is started
	// again; it doubles up to RestartBackoffMax.
	RestartBackoff, RestartBackoffMax time.Duration
	// Raw is every key as given.
	Raw map[string]string
}

// ParseWorkerConfig reads a worker config. It returns warnings naming every
// key it does not know or accepts without effect.
func ParseWorkerConfig(raw map[string]string) (*WorkerConfig, []flow.Warning, error) {
	c := &WorkerConfig{
		Raw:               raw,
		Producer:          map[string]string{},
		Consumer:          map[string]string{},
		OffsetFlush:       time.Minute,
		Listen:            "127.0.0.1:8083",
		RestartBackoff:    time.Second,
		RestartBackoffMax: time.Minute,
		SessionTimeout:    10 * time.Second,
		Heartbeat:         3 * time.Second,
		RebalanceTimeout:  time.Minute,
		ConfigTopic:       "connect-configs",
		OffsetTopic:       "connect-offsets",
		StatusTopic:       "connect-status",
	}
	var warnings []flow.Warning
	get := func(k string) string { return strings.TrimSpace(raw[k]) }
	bs := get(KeyBootstrapServers)
	if bs == "" {
		bs = "127.0.0.1:9092"
	}
	for _, b := range strings.Split(bs, ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.Brokers = append(c.Brokers, b)
		}
	}
	var err error
	if c.Key, err = ConverterFromProps(KeyKeyConverter, raw, Converter{Kind: ConvJSON, SchemasEnable: true}); err != nil {
		return nil, warnings, err
	}
	if c.Value, err = ConverterFromProps(KeyValueConverter, raw, Converter{Kind: ConvJSON, SchemasEnable: true}); err != nil {
		return nil, warnings, err
	}
	c.OffsetFile = get(KeyOffsetFile)
	if v := get(KeyOffsetFlush); v != "" {
		if c.OffsetFlush, err = millis(KeyOffsetFlush, v); err != nil {
			return nil, warnings, err
		}
	}
	for k, dst := range map[string]*time.Duration{KeySessionTimeout: &c.SessionTimeout, KeyHeartbeat: &c.Heartbeat, KeyRebalanceTimeout: &c.RebalanceTimeout} {
		if v := get(k); v != "" {
			if *dst, err = millis(k, v); err != nil {
				return nil, warnings, err
			}
		}
	}
	if v := get(KeyRestartBackoff); v != "" {
		if c.RestartBackoff, err = millis(KeyRestartBackoff, v); err != nil {
			return nil, warnings, err
		}
	}
	if v := get(KeyRestartBackoffMax); v != "" {
		if c.RestartBackoffMax, err = millis(KeyRestartBackoffMax, v); err != nil {
			return nil, warnings, err
		}
	}
	if c.Listen, err = listenAddr(get(KeyListeners), get(KeyRestHost), get(KeyRestPort)); err != nil {
		return nil, warnings, err
	}
	c.GroupID = get(KeyGroupID)
	for k, dst := range map[string]*string{KeyConfigTopic: &c.ConfigTopic, KeyOffsetTopic: &c.OffsetTopic, KeyStatusTopic: &c.StatusTopic} {
		if v := get(k); v != "" {
			*dst = v
		}
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch {
		case strings.HasPrefix(k, "producer."):
			c.Producer[strings.TrimPrefix(k, "producer.")] = get(k)
		case strings.HasPrefix(k, "consumer."):
			c.Consumer[strings.TrimPrefix(k, "consumer.")] = get(k)
		case k == KeyBootstrapServers, k == KeyOffsetFile, k == KeyOffsetFlush, k == KeyListeners, k == KeyRestPort,
			k == KeyRestHost, k == KeyGroupID, k == KeyConfigTopic, k == KeyOffsetTopic, k == KeyStatusTopic,
			k == KeyRestartBackoff, k == KeyRestartBackoffMax, k == KeySessionTimeout, k == KeyHeartbeat, k == KeyRebalanceTimeout,
			strings.HasPrefix(k, KeyKeyConverter), strings.HasPrefix(k, KeyValueConverter):
		case acceptedWorkerKeys[k]:
			warnings = append(warnings, flow.Warning{Key: k, Message: fmt.Sprintf("worker key %q is accepted for Kafka Connect compatibility and has no effect", k)})
		default:
			warnings = append(warnings, flow.Warning{Key: k, Message: fmt.Sprintf("worker key %q is unknown; it is ignored", k)})
		}
	}
	return c, warnings, nil
}

func millis(key, v string) (time.Duration, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, &flow.KeyError{Key: key, Value: v, Problem: "not a non-negative number of milliseconds", Fix: "set it to milliseconds, e.g. 10000"}
	}
	return time.Duration(n) * time.Millisecond, nil
}

// listenAddr turns listeners (the first http:// one) or rest.host.name and
// rest.port into host:port. An empty host listens on 127.0.0.1.
func listenAddr(listeners, host, port string) (string, error) {
	if listeners != "" {
		first := strings.TrimSpace(strings.Split(listeners, ",")[0])
		u, err := url.Parse(first)
		if err != nil || u.Scheme != "http" || u.Port() == "" {
			return "", &flow.KeyError{Key: KeyListeners, Value: listeners, Problem: "not an http://host:port listener", Fix: "set it to e.g. http://127.0.0.1:8083 (https is not supported)"}
		}
		h := u.Hostname()
		if h == "" {
			h = "127.0.0.1"
		}
		return net.JoinHostPort(h, u.Port()), nil
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "8083"
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", &flow.KeyError{Key: KeyRestPort, Value: port, Problem: "not a port number", Fix: "set it to a port such as 8083"}
	}
	return net.JoinHostPort(host, port), nil
}
