package topic

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/runnel/runnel/internal/commitlog"
)

// ConfigSource says where a topic config value comes from, numbered as
// Kafka's DescribeConfigs ConfigSource.
type ConfigSource int8

// Config sources, as in the DescribeConfigs protocol.
const (
	SourceTopic        ConfigSource = 1 // DYNAMIC_TOPIC_CONFIG: set on the topic
	SourceStaticBroker ConfigSource = 4 // STATIC_BROKER_CONFIG: from the broker's settings
	SourceDefault      ConfigSource = 5 // DEFAULT_CONFIG
	configTypeString                = 2
	configTypeInt                   = 3
	configTypeLong                  = 5
	configTypeDouble                = 6
	configTypeList                  = 7
	configTypeBoolean               = 1
)

// spec describes one topic config: its default, the broker setting that
// overrides the default for every topic, and how to check a value.
type spec struct {
	def       string
	broker    string // Kafka broker setting name supplying the default
	typ       int8   // DescribeConfigs config type
	validate  func(string) error
	doc       string
	readOnly  bool
	sensitive bool
}

func isLong(min int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer: %q", v)
		}
		if n < min {
			return fmt.Errorf("%d is below the minimum %d", n, min)
		}
		return nil
	}
}

func isInt(min int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return fmt.Errorf("not a 32-bit integer: %q", v)
		}
		if n < min {
			return fmt.Errorf("%d is below the minimum %d", n, min)
		}
		return nil
	}
}

func isRatio(v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 {
		return fmt.Errorf("not a number in [0, 1]: %q", v)
	}
	return nil
}

func isBool(v string) error {
	if v != "true" && v != "false" {
		return fmt.Errorf("not true or false: %q", v)
	}
	return nil
}

func oneOf(allowed ...string) func(string) error {
	return func(v string) error {
		for _, a := range allowed {
			if strings.EqualFold(v, a) {
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
	}
}

func isCleanupPolicy(v string) error {
	parts := strings.Split(v, ",")
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p != "delete" && p != "compact" {
			return fmt.Errorf("%q is not delete, compact or both", v)
		}
	}
	return nil
}

const maxLong = "9223372036854775807"

// specs lists every topic config runnel accepts, named as Kafka names them.
// Configs that only matter for replication are accepted and reported so
// Kafka tools work, but have no effect on a single node.
var specs = map[string]spec{
	"cleanup.policy":                          {def: "delete", broker: "log.cleanup.policy", typ: configTypeList, validate: isCleanupPolicy},
	"compression.type":                        {def: "producer", broker: "compression.type", typ: configTypeString, validate: oneOf("producer", "uncompressed", "gzip", "snappy", "lz4", "zstd")},
	"delete.retention.ms":                     {def: "86400000", broker: "log.cleaner.delete.retention.ms", typ: configTypeLong, validate: isLong(0)},
	"file.delete.delay.ms":                    {def: "60000", broker: "log.segment.delete.delay.ms", typ: configTypeLong, validate: isLong(0)},
	"flush.messages":                          {def: maxLong, broker: "log.flush.interval.messages", typ: configTypeLong, validate: isLong(1)},
	"flush.ms":                                {def: maxLong, broker: "log.flush.interval.ms", typ: configTypeLong, validate: isLong(0)},
	"index.interval.bytes":                    {def: "4096", broker: "log.index.interval.bytes", typ: configTypeInt, validate: isInt(0)},
	"max.compaction.lag.ms":                   {def: maxLong, broker: "log.cleaner.max.compaction.lag.ms", typ: configTypeLong, validate: isLong(1)},
	"max.message.bytes":                       {def: "1048588", broker: "message.max.bytes", typ: configTypeInt, validate: isInt(0)},
	"message.timestamp.type":                  {def: "CreateTime", broker: "log.message.timestamp.type", typ: configTypeString, validate: oneOf("CreateTime", "LogAppendTime")},
	"message.timestamp.after.max.ms":          {def: maxLong, broker: "log.message.timestamp.after.max.ms", typ: configTypeLong, validate: isLong(0)},
	"message.timestamp.before.max.ms":         {def: maxLong, broker: "log.message.timestamp.before.max.ms", typ: configTypeLong, validate: isLong(0)},
	"message.timestamp.difference.max.ms":     {def: maxLong, broker: "log.message.timestamp.difference.max.ms", typ: configTypeLong, validate: isLong(0)},
	"message.downconversion.enable":           {def: "true", broker: "log.message.downconversion.enable", typ: configTypeBoolean, validate: isBool},
	"min.cleanable.dirty.ratio":               {def: "0.5", broker: "log.cleaner.min.cleanable.ratio", typ: configTypeDouble, validate: isRatio},
	"min.compaction.lag.ms":                   {def: "0", broker: "log.cleaner.min.compaction.lag.ms", typ: configTypeLong, validate: isLong(0)},
	"min.insync.replicas":                     {def: "1", broker: "min.insync.replicas", typ: configTypeInt, validate: isInt(1)},
	"preallocate":                             {def: "false", broker: "log.preallocate", typ: configTypeBoolean, validate: isBool},
	"retention.bytes":                         {def: "-1", broker: "log.retention.bytes", typ: configTypeLong, validate: isLong(math.MinInt64)},
	"retention.ms":                            {def: "604800000", broker: "log.retention.ms", typ: configTypeLong, validate: isLong(-1)},
	"segment.bytes":                           {def: "1073741824", broker: "log.segment.bytes", typ: configTypeInt, validate: isInt(14)},
	"segment.index.bytes":                     {def: "10485760", broker: "log.index.size.max.bytes", typ: configTypeInt, validate: isInt(4)},
	"segment.jitter.ms":                       {def: "0", broker: "log.roll.jitter.ms", typ: configTypeLong, validate: isLong(0)},
	"segment.ms":                              {def: "604800000", broker: "log.roll.ms", typ: configTypeLong, validate: isLong(1)},
	"unclean.leader.election.enable":          {def: "false", broker: "unclean.leader.election.enable", typ: configTypeBoolean, validate: isBool},
	"local.retention.bytes":                   {def: "-2", broker: "log.local.retention.bytes", typ: configTypeLong, validate: isLong(-2)},
	"local.retention.ms":                      {def: "-2", broker: "log.local.retention.ms", typ: configTypeLong, validate: isLong(-2)},
	"remote.storage.enable":                   {def: "false", typ: configTypeBoolean, validate: oneOf("false")},
	"follower.replication.throttled.replicas": {def: "", typ: configTypeList, validate: func(string) error { return nil }},
	"leader.replication.throttled.replicas":   {def: "", typ: configTypeList, validate: func(string) error { return nil }},
}

// ConfigNames lists every topic config name in sorted order.
func ConfigNames() []string {
	names := make([]string, 0, len(specs))
	for n := range specs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ValidateConfig checks one topic config name and value.
func ValidateConfig(name, value string) error {
	s, ok := specs[name]
	if !ok {
		return fmt.Errorf("%w: unknown topic config %q", ErrInvalidConfig, name)
	}
	if err := s.validate(value); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidConfig, name, err)
	}
	return nil
}

// IsBrokerDefault reports whether a Kafka broker setting is one that
// BrokerDefaults turns into a topic config default.
func IsBrokerDefault(setting string) bool {
	switch setting {
	case "log.retention.hours", "log.retention.minutes", "log.roll.hours", "log.roll.jitter.hours":
		return true
	}
	for _, s := range specs {
		if s.broker == setting {
			return true
		}
	}
	return false
}

// BrokerDefaults derives the broker-wide topic config defaults from Kafka
// broker settings (log.retention.hours, log.segment.bytes, message.max.bytes,
// ...). Settings that are not topic defaults are ignored. The hours and
// minutes variants of retention and roll are converted to milliseconds, with
// the more precise setting winning as in Kafka.
func BrokerDefaults(settings map[string]string) (map[string]string, error) {
	out := map[string]string{}
	byBroker := map[string]string{}
	for name, s := range specs {
		if s.broker != "" {
			byBroker[s.broker] = name
		}
	}
	type scaled struct {
		setting string
		topic   string
		unit    int64
		rank    int // larger wins
	}
	for _, sc := range []scaled{
		{"log.retention.hours", "retention.ms", int64(time.Hour / time.Millisecond), 1},
		{"log.retention.minutes", "retention.ms", int64(time.Minute / time.Millisecond), 2},
		{"log.roll.hours", "segment.ms", int64(time.Hour / time.Millisecond), 1},
		{"log.roll.jitter.hours", "segment.jitter.ms", int64(time.Hour / time.Millisecond), 1},
	} {
		v, ok := settings[sc.setting]
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("broker setting %s: not an integer: %q", sc.setting, v)
		}
		if n > 0 {
			n *= sc.unit
		}
		// Only overwrite a value from a less precise unit.
		if _, set := out[sc.topic]; !set || sc.rank > 1 {
			out[sc.topic] = strconv.FormatInt(n, 10)
		}
	}
	for setting, v := range settings {
		name, ok := byBroker[setting]
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if err := ValidateConfig(name, v); err != nil {
			return nil, fmt.Errorf("broker setting %s: %w", setting, err)
		}
		out[name] = v
	}
	return out, nil
}

// ConfigEntry is one described topic config.
type ConfigEntry struct {
	Name      string
	Value     string
	Source    ConfigSource
	Type      int8
	ReadOnly  bool
	Sensitive bool
	// Synonyms lists the lower-precedence values, as DescribeConfigs v1+ reports.
	Synonyms []Synonym
}

// Synonym is a lower-precedence source of a config value.
type Synonym struct {
	Name   string
	Value  string
	Source ConfigSource
}

// effective merges defaults, broker defaults and topic overrides.
func effective(brokerDefaults, overrides map[string]string) map[string]string {
	m := make(map[string]string, len(specs))
	for name, s := range specs {
		m[name] = s.def
	}
	for k, v := range brokerDefaults {
		m[k] = v
	}
	for k, v := range overrides {
		m[k] = v
	}
	return m
}

func describe(brokerDefaults, overrides map[string]string) []ConfigEntry {
	var out []ConfigEntry
	for _, name := range ConfigNames() {
		s := specs[name]
		e := ConfigEntry{Name: name, Value: s.def, Source: SourceDefault, Type: s.typ, ReadOnly: s.readOnly, Sensitive: s.sensitive}
		var syn []Synonym
		if v, ok := overrides[name]; ok {
			syn = append(syn, Synonym{name, v, SourceTopic})
		}
		if v, ok := brokerDefaults[name]; ok {
			syn = append(syn, Synonym{s.broker, v, SourceStaticBroker})
		}
		syn = append(syn, Synonym{name, s.def, SourceDefault})
		e.Value, e.Source = syn[0].Value, syn[0].Source
		e.Synonyms = syn
		out = append(out, e)
	}
	return out
}

// LogConfig converts effective topic configs into the partition log's settings.
func LogConfig(eff map[string]string) commitlog.Config {
	c := commitlog.DefaultConfig()
	ms := func(name string) time.Duration {
		n, _ := strconv.ParseInt(eff[name], 10, 64)
		if n < 0 {
			return -1
		}
		if n > math.MaxInt64/int64(time.Millisecond) {
			return time.Duration(math.MaxInt64)
		}
		return time.Duration(n) * time.Millisecond
	}
	i64 := func(name string) int64 {
		n, _ := strconv.ParseInt(eff[name], 10, 64)
		return n
	}
	c.SegmentBytes = i64("segment.bytes")
	c.SegmentMs = ms("segment.ms")
	c.RetentionMs = ms("retention.ms")
	c.RetentionBytes = i64("retention.bytes")
	c.MaxMessageBytes = int32(i64("max.message.bytes"))
	c.IndexIntervalBytes = int32(i64("index.interval.bytes"))
	c.CleanupPolicy = strings.ReplaceAll(eff["cleanup.policy"], " ", "")
	c.DeleteRetentionMs = ms("delete.retention.ms")
	c.MinCompactionLagMs = ms("min.compaction.lag.ms")
	c.MinCleanableDirtyRatio, _ = strconv.ParseFloat(eff["min.cleanable.dirty.ratio"], 64)
	c.MessageTimestampType = eff["message.timestamp.type"]
	// Kafka's "never" (Long.MAX_VALUE) means no forced flush: 0 for the log.
	if v := i64("flush.messages"); v != math.MaxInt64 {
		c.FlushMessages = v
	} else {
		c.FlushMessages = 0
	}
	if v := ms("flush.ms"); v != time.Duration(math.MaxInt64) {
		c.FlushMs = v
	} else {
		c.FlushMs = 0
	}
	return c
}
