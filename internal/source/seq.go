package source

import (
	"context"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// Sequence generator source config keys (Flume's names).
const (
	SeqTotalEvents = "totalEvents"
	SeqBatchSize   = "batchSize"
)

// SeqSpec documents the seq source.
var SeqSpec = flow.Spec{
	Names:   []string{"seq", "org.apache.flume.source.SequenceGeneratorSource"},
	Summary: "emits the numbers 0, 1, 2, ... as text, one event each, until totalEvents are committed",
	Keys: []flow.Key{
		{Name: SeqTotalEvents, Type: flow.Int, Default: strconv.FormatInt(math.MaxInt64, 10), Min: 0, Max: math.MaxInt64, Doc: "how many events to emit (default: no limit)"},
		{Name: SeqBatchSize, Type: flow.Int, Default: "1", Min: 1, Max: 1 << 20, Doc: "events per batch put to the channels"},
	},
}

func init() {
	flow.RegisterSource(SeqSpec, func(c flow.Config) (flow.Source, error) {
		return &Seq{TotalEvents: c.Int(SeqTotalEvents), BatchSize: int(c.Int(SeqBatchSize)), cfg: c}, nil
	})
}

// Seq is Flume's sequence generator source: event n has the decimal text of
// n (from 0) as body and no headers. A batch the channels refused is offered
// again with the same numbers, so every number is committed exactly once
// per run (a restarted source starts again from 0, as Flume's does).
type Seq struct {
	TotalEvents int64
	BatchSize   int
	cfg         flow.Config
}

// Run implements flow.Source. Once TotalEvents are committed it idles until
// ctx is done.
func (s *Seq) Run(ctx context.Context, out flow.Emitter) error {
	var next int64
	for next < s.TotalEvents {
		n := int64(max(s.BatchSize, 1))
		n = min(n, s.TotalEvents-next)
		batch := make([]flow.Event, n)
		for i := range batch {
			batch[i] = flow.Event{Headers: map[string]string{}, Body: strconv.AppendInt(nil, next+int64(i), 10)}
		}
		if err := emitRetry(ctx, out, batch, s.cfg, "seq"); err != nil {
			return nil
		}
		next += n
	}
	<-ctx.Done()
	return nil
}

// Backoff bounds for sources that retry a batch the channels refused.
const (
	retryBackoffMin = 10 * time.Millisecond
	retryBackoffMax = time.Second
)

// emitRetry offers batch to out until it is committed, waiting with
// exponential backoff (10ms doubling to 1s) after each refusal. It returns
// ctx's error only when ctx ends first; the batch is then not committed.
func emitRetry(ctx context.Context, out flow.Emitter, batch []flow.Event, cfg flow.Config, kind string) error {
	return emitBackoff(ctx, out, batch, cfg, kind, retryBackoff{first: retryBackoffMin, max: retryBackoffMax})
}

// retryBackoff is how a source waits between offers of a refused batch:
// from first, doubled (or, with step set, increased by step) up to max.
type retryBackoff struct {
	first, step, max time.Duration
}

// emitBackoff is emitRetry with the source's own backoff. A batch larger
// than a channel's transactionCapacity is committed in smaller parts.
func emitBackoff(ctx context.Context, out flow.Emitter, batch []flow.Event, cfg flow.Config, kind string, b retryBackoff) error {
	wait := b.first
	for {
		err := out.Emit(ctx, batch)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, flow.ErrTransactionFull) && len(batch) > 1 {
			// More events than a channel takes in one transaction (a
			// syslog read or datagram with many lines): commit in halves.
			h := len(batch) / 2
			if err := emitBackoff(ctx, out, batch[:h], cfg, kind, b); err != nil {
				return err
			}
			return emitBackoff(ctx, out, batch[h:], cfg, kind, b)
		}
		cfg.Log().Warn(kind+" source could not commit a batch; retrying", "events", len(batch), "err", err, "wait", wait)
		if !sleepCtx(ctx, wait) {
			return ctx.Err()
		}
		if b.step > 0 {
			wait = min(wait+b.step, b.max)
		} else {
			wait = min(wait*2, b.max)
		}
	}
}

// emitSplit offers batch once; a batch refused with ErrTransactionFull is
// offered again in halves. It is for sources that cannot wait (UDP): on
// any other error the rest of the batch is not committed.
func emitSplit(ctx context.Context, out flow.Emitter, batch []flow.Event) error {
	err := out.Emit(ctx, batch)
	if err != nil && errors.Is(err, flow.ErrTransactionFull) && len(batch) > 1 {
		h := len(batch) / 2
		if err := emitSplit(ctx, out, batch[:h]); err != nil {
			return err
		}
		return emitSplit(ctx, out, batch[h:])
	}
	return err
}

// sleepCtx waits d; it returns false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
