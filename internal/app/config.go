package app

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runnel/runnel/internal/properties"
	"github.com/runnel/runnel/internal/topic"
)

// Broker setting names runnel reads itself (Kafka names). Topic defaults
// (log.retention.*, log.segment.bytes, message.max.bytes, ...) are read by
// topic.BrokerDefaults.
const (
	settingNodeID            = "node.id"
	settingBrokerID          = "broker.id"
	settingClusterID         = "cluster.id"
	settingListeners         = "listeners"
	settingAdvertised        = "advertised.listeners"
	settingLogDirs           = "log.dirs"
	settingLogDir            = "log.dir"
	settingNumPartitions     = "num.partitions"
	settingAutoCreate        = "auto.create.topics.enable"
	settingMaxRequestBytes   = "socket.request.max.bytes"
	settingRetentionCheckMs  = "log.retention.check.interval.ms"
	settingInitialRebalance  = "group.initial.rebalance.delay.ms"
	settingMinSessionTimeout = "group.min.session.timeout.ms"
	settingMaxSessionTimeout = "group.max.session.timeout.ms"
	settingOffsetsRetention  = "offsets.retention.minutes"
)

// defaultSettings are reported by DescribeConfigs when not overridden.
var defaultSettings = map[string]string{
	settingNodeID:                "0",
	settingNumPartitions:         "1",
	settingAutoCreate:            "true",
	settingMaxRequestBytes:       "104857600",
	settingRetentionCheckMs:      "300000",
	settingInitialRebalance:      "3000",
	settingMinSessionTimeout:     "6000",
	settingMaxSessionTimeout:     "1800000",
	settingOffsetsRetention:      "10080",
	"log.retention.hours":        "168",
	"log.segment.bytes":          "1073741824",
	"message.max.bytes":          "1048588",
	"default.replication.factor": "1",
}

// settings is the merged broker configuration: the config file, then
// explicit overrides. Defaults are not in it (withDefaults adds them for
// reporting), so topic configs report DEFAULT_CONFIG unless a setting was
// really given.
type settings map[string]string

func loadSettings(file string, overrides map[string]string) (settings, error) {
	s := settings{}
	if file != "" {
		m, err := properties.LoadFile(file)
		if err != nil {
			return nil, fmt.Errorf("loading broker config: %w", err)
		}
		for k, v := range m {
			s[k] = strings.TrimSpace(v)
		}
	}
	for k, v := range overrides {
		s[k] = strings.TrimSpace(v)
	}
	return s, nil
}

// unused lists the settings runnel does not read (sorted), so a
// server.properties brought from Kafka is accepted but nothing in it is
// silently dropped.
func (s settings) unused() []string {
	var out []string
	for k := range s {
		if _, ok := defaultSettings[k]; ok || knownSettings[k] || topic.IsBrokerDefault(k) {
			continue
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// knownSettings are the settings read here that have no reported default.
var knownSettings = map[string]bool{
	settingBrokerID: true, settingClusterID: true, settingListeners: true, settingAdvertised: true,
	settingLogDirs: true, settingLogDir: true, "offsets.retention.check.interval.ms": true,
}

// withDefaults returns the settings with defaults filled in, as
// DescribeConfigs reports them.
func (s settings) withDefaults() map[string]string {
	out := maps.Clone(defaultSettings)
	maps.Copy(out, s)
	return out
}

func (s settings) int(name string) (int64, error) {
	v, ok := s[name]
	if !ok {
		v = defaultSettings[name]
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("broker setting %s: not an integer: %q", name, v)
	}
	return n, nil
}

func (s settings) bool(name string) (bool, error) {
	v, ok := s[name]
	if !ok {
		v = defaultSettings[name]
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("broker setting %s: not true or false: %q", name, v)
	}
	return b, nil
}

func (s settings) millis(name string) (time.Duration, error) {
	n, err := s.int(name)
	return time.Duration(n) * time.Millisecond, err
}

// firstListener returns host:port of the first entry of a Kafka listener
// list such as "PLAINTEXT://localhost:9092,SSL://:9093".
func firstListener(v string) (host, port string, err error) {
	first := strings.TrimSpace(strings.Split(v, ",")[0])
	if i := strings.Index(first, "://"); i >= 0 {
		first = first[i+3:]
	}
	host, port, err = net.SplitHostPort(first)
	if err != nil {
		return "", "", fmt.Errorf("parsing listener %q: %w", v, err)
	}
	return host, port, nil
}
