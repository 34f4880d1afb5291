package flow

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// OffsetStore persists where a source is in its upstream, in Kafka Connect's
// model: a source partition (e.g. {"filename": "/var/log/a.log"}) maps to a
// source offset (e.g. {"position": 1234}). Values are JSON-compatible
// (string, float64/int64, bool, nil, map[string]any, []any).
//
// A source calls Put only after Emit returned nil for the events up to that
// offset, so a stored offset never points past data that is not committed
// downstream. The owner (the Connect worker: a file or a compacted topic)
// flushes puts periodically and on Close; after a crash a source resumes
// from the last flushed offset, so the unflushed tail is delivered again
// (at-least-once). Flume sources keep their own files (taildir's
// positionFile) and get a nil OffsetStore.
type OffsetStore interface {
	Get(ctx context.Context, partition map[string]any) (offset map[string]any, err error)
	Put(ctx context.Context, partition, offset map[string]any) error
}

// Rejection is one event of a batch that a sink can never deliver (it does
// not fit the target: wrong type, missing primary key, ...).
type Rejection struct {
	// Index is the event's position in the batch passed to Deliver.
	Index int
	// Reason names what is wrong, e.g. `column "age": invalid input syntax
	// for type integer: "x"`.
	Reason string
}

// RejectedError is returned by Sink.Deliver when some events of the batch
// can never be delivered. Nothing of the batch was delivered (a database
// sink rolled its transaction back). The caller decides: stop with this
// error (Connect errors.tolerance=none), or drop / dead-letter the rejected
// events and Deliver the rest again.
type RejectedError struct {
	Rejected []Rejection
}

func (e *RejectedError) Error() string {
	if len(e.Rejected) == 0 {
		return "sink rejected no events"
	}
	r := e.Rejected[0]
	if len(e.Rejected) == 1 {
		return fmt.Sprintf("sink rejected event %d of the batch: %s", r.Index, r.Reason)
	}
	return fmt.Sprintf("sink rejected %d events of the batch; first, event %d: %s", len(e.Rejected), r.Index, r.Reason)
}

// Sizer is implemented by channels that know how full they are (Flume's
// ChannelSize and ChannelFillPercentage counters).
type Sizer interface {
	// Len is the number of committed events in the channel.
	Len() int
	// Cap is the channel's capacity in events.
	Cap() int
}

// Counters are a component's monitoring counters under Flume's names
// (EventReceivedCount, ConnectionFailedCount, ...). The front end creates
// one per component and exports them (JSON /metrics, Prometheus); a
// component adds to the ones only it can know (e.g. a sink's
// ConnectionFailedCount). Safe for concurrent use; a nil *Counters ignores
// every call, so components need not check.
type Counters struct {
	mu sync.Mutex
	m  map[string]*atomic.Int64
}

// NewCounters returns an empty set of counters.
func NewCounters() *Counters { return &Counters{m: map[string]*atomic.Int64{}} }

func (c *Counters) get(name string) *atomic.Int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.m[name]
	if v == nil {
		v = new(atomic.Int64)
		c.m[name] = v
	}
	return v
}

// Add adds n to counter name.
func (c *Counters) Add(name string, n int64) {
	if c == nil {
		return
	}
	c.get(name).Add(n)
}

// Set sets gauge name to v.
func (c *Counters) Set(name string, v int64) {
	if c == nil {
		return
	}
	c.get(name).Store(v)
}

// Snapshot returns every counter's current value.
func (c *Counters) Snapshot() map[string]int64 {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.m))
	for k, v := range c.m {
		out[k] = v.Load()
	}
	return out
}

// Prefixed returns every configured key that starts with prefix, with the
// prefix cut off (e.g. Prefixed("kafka.producer.") for Flume's producer
// overrides, Prefixed("filegroups.") for taildir). Defaults are not
// included.
func (c Config) Prefixed(prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range c.values {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			out[rest] = strings.TrimSpace(v)
		}
	}
	return out
}

// Keys returns every configured key, sorted.
func (c Config) Keys() []string {
	keys := make([]string, 0, len(c.values))
	for k := range c.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
