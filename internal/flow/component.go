package flow

import (
	"context"
	"errors"
)

// ErrChannelFull is returned (wrapped) by Transaction.Put when the channel had
// no room for the event within its wait (memory channel: keep-alive).
var ErrChannelFull = errors.New("channel is full")

// ErrTransactionFull is returned (wrapped) by Put or Take when the
// transaction already holds the channel's transactionCapacity events.
var ErrTransactionFull = errors.New("transaction capacity reached")

// Channel is a transactional buffer between sources and sinks.
//
// Implementations must be safe for concurrent use: several sources put and
// several sinks take at the same time, each in its own Transaction.
type Channel interface {
	// Begin starts a transaction. A transaction is used by one goroutine and
	// must end with exactly one Commit or Rollback.
	Begin() Transaction
	// Close releases the channel's resources; no transaction may be open.
	Close() error
}

// Transaction is one put batch or one take batch on a Channel. Mixing Put and
// Take in one transaction is not supported.
type Transaction interface {
	// Put stages e. It may wait for room (bounded by the channel's own
	// timeout and ctx); the event becomes visible to takers on Commit.
	// Channels reserve room at Put, so Commit of a put transaction does not
	// fail for lack of room: that lets a ChannelProcessor commit one batch to
	// several channels all-or-none.
	Put(ctx context.Context, e Event) error
	// Take removes the next committed event. It does not wait: ok is false
	// when the channel is empty.
	Take(ctx context.Context) (e Event, ok bool, err error)
	// Commit makes puts visible, or makes takes permanent.
	Commit() error
	// Rollback discards puts, or returns taken events to the head of the
	// channel in their original order.
	Rollback() error
}

// Notifier is implemented by channels that can wake an idle taker: Ready
// returns a channel that is closed once events may have become available
// after the call (a put committed, a take rolled back). Without it the
// SinkRunner polls an empty channel with backoff.
type Notifier interface {
	Ready() <-chan struct{}
}

// TransactionCapacitor is implemented by channels that bound the number of
// events per transaction; the agent checks sink batch sizes against it.
type TransactionCapacitor interface {
	TransactionCapacity() int
}

// Emitter accepts a source's batch. Emit returns nil only once every event
// (after transforms) is committed to every required channel; on error none
// of them is, and the source must not acknowledge its upstream.
type Emitter interface {
	Emit(ctx context.Context, batch []Event) error
}

// Source produces events.
type Source interface {
	// Run produces batches into out until ctx is done, then releases every
	// resource and returns after all goroutines it started have ended. It
	// returns nil (or ctx.Err()) on cancellation; any other error means the
	// source failed and its owner may restart it with a new Run.
	Run(ctx context.Context, out Emitter) error
}

// Sink delivers events to a target.
type Sink interface {
	// Deliver writes batch to the target and returns nil only when the
	// target has it (durably, if the target can be durable). On error the
	// runner rolls the batch back and calls Deliver again later with the
	// same events, so a sink sees at-least-once delivery.
	Deliver(ctx context.Context, batch []Event) error
	// Close flushes and releases the sink.
	Close() error
}

// BatchSizer is implemented by sinks with a batch size (Flume's batchSize);
// the SinkRunner takes at most that many events per transaction.
type BatchSizer interface {
	BatchSize() int
}

// Transform is a pure function on one event: it returns the (possibly
// changed) event, or keep=false to drop it. Flume interceptors and Kafka
// Connect single message transforms are Transforms.
type Transform interface {
	Apply(e Event) (out Event, keep bool)
}

// TransformFunc adapts a function to Transform.
type TransformFunc func(Event) (Event, bool)

// Apply calls f.
func (f TransformFunc) Apply(e Event) (Event, bool) { return f(e) }
