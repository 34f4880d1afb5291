package commitlog

import (
	"log/slog"
	"strings"
	"time"

	"github.com/runnel/runnel/internal/fsutil"
)

// Config holds per-log settings named after Kafka topic configs.
type Config struct {
	SegmentBytes           int64         // segment.bytes (default 1 GiB)
	SegmentMs              time.Duration // segment.ms (default 7 days)
	RetentionMs            time.Duration // retention.ms; negative = unlimited (default 7 days)
	RetentionBytes         int64         // retention.bytes; negative = unlimited (default -1)
	MaxMessageBytes        int32         // max.message.bytes (default 1048588): max size of one batch
	IndexIntervalBytes     int32         // index.interval.bytes (default 4096)
	CleanupPolicy          string        // "delete" (default), "compact", "compact,delete"
	DeleteRetentionMs      time.Duration // delete.retention.ms (default 1 day): how long tombstones survive compaction
	MinCompactionLagMs     time.Duration // min.compaction.lag.ms (default 0)
	MinCleanableDirtyRatio float64       // min.cleanable.dirty.ratio (default 0.5)
	MessageTimestampType   string        // "CreateTime" (default) or "LogAppendTime"
	FlushMessages          int64         // flush.messages: 0 or negative = fsync only for durable appends (default)
	FlushMs                time.Duration // flush.ms: 0 or negative = as above
}

// DefaultConfig returns Kafka's defaults, except that flushing is driven by
// durable appends (acks=all) rather than never.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:           1 << 30,
		SegmentMs:              7 * 24 * time.Hour,
		RetentionMs:            7 * 24 * time.Hour,
		RetentionBytes:         -1,
		MaxMessageBytes:        1048588,
		IndexIntervalBytes:     4096,
		CleanupPolicy:          "delete",
		DeleteRetentionMs:      24 * time.Hour,
		MinCompactionLagMs:     0,
		MinCleanableDirtyRatio: 0.5,
		MessageTimestampType:   "CreateTime",
	}
}

// normalized fills zero or nonsensical values with defaults.
func (c Config) normalized() Config {
	d := DefaultConfig()
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = d.SegmentBytes
	}
	if c.SegmentMs <= 0 {
		c.SegmentMs = d.SegmentMs
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = d.IndexIntervalBytes
	}
	if c.CleanupPolicy == "" {
		c.CleanupPolicy = d.CleanupPolicy
	}
	if c.MinCleanableDirtyRatio <= 0 || c.MinCleanableDirtyRatio > 1 {
		c.MinCleanableDirtyRatio = d.MinCleanableDirtyRatio
	}
	if c.MessageTimestampType == "" {
		c.MessageTimestampType = d.MessageTimestampType
	}
	return c
}

func (c Config) compact() bool {
	return strings.Contains(c.CleanupPolicy, "compact")
}

func (c Config) deletePolicy() bool {
	return strings.Contains(c.CleanupPolicy, "delete")
}

func (c Config) logAppendTime() bool {
	return strings.EqualFold(c.MessageTimestampType, "LogAppendTime")
}

type options struct {
	logger *slog.Logger
	clock  func() time.Time
	fs     fsutil.FS
}

// Option configures Open.
type Option func(*options)

// WithLogger sets the logger; nil discards.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock sets the clock used for LogAppendTime, segment.ms and retention.
func WithClock(c func() time.Time) Option { return func(o *options) { o.clock = c } }

// WithFS sets the filesystem (fault injection in tests).
func WithFS(fs fsutil.FS) Option { return func(o *options) { o.fs = fs } }
