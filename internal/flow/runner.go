package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// SinkRunner moves events from one channel to one sink: take a batch in a
// transaction, Deliver, Commit; on a failed delivery Rollback (the events go
// back to the channel) and retry after a backoff. When the channel is empty
// it waits for the channel's Notifier, or polls with a shorter backoff.
type SinkRunner struct {
	Name    string
	Channel Channel
	Sink    Sink
	// BatchSize is the most events per transaction (default: the sink's
	// BatchSize, else 100).
	BatchSize int
	// IdleMin/IdleMax bound the poll interval on an empty channel
	// (default 5ms..250ms, doubling).
	IdleMin, IdleMax time.Duration
	// FailMin/FailMax bound the retry interval after a failed delivery
	// (default 100ms..5s, doubling; 5s is Flume's maxBackoffSleep).
	FailMin, FailMax time.Duration
	Logger           *slog.Logger
	// Counters, when set, get Flume's sink counters: BatchEmptyCount,
	// BatchUnderflowCount, BatchCompleteCount, EventDrainAttemptCount,
	// EventDrainSuccessCount, EventWriteFail (failed deliveries) and
	// ChannelReadFail (failed takes).
	Counters *Counters
}

func (r *SinkRunner) defaults() {
	if r.BatchSize <= 0 {
		r.BatchSize = 100
		if b, ok := r.Sink.(BatchSizer); ok && b.BatchSize() > 0 {
			r.BatchSize = b.BatchSize()
		}
	}
	if r.IdleMin <= 0 {
		r.IdleMin = 5 * time.Millisecond
	}
	if r.IdleMax <= 0 {
		r.IdleMax = 250 * time.Millisecond
	}
	if r.FailMin <= 0 {
		r.FailMin = 100 * time.Millisecond
	}
	if r.FailMax <= 0 {
		r.FailMax = 5 * time.Second
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
}

// Run moves batches until ctx is done and returns nil then. It runs in the
// caller's goroutine and starts none of its own.
func (r *SinkRunner) Run(ctx context.Context) error {
	r.defaults()
	l := &Loop{Name: r.Name, Step: r.Process, IdleMin: r.IdleMin, IdleMax: r.IdleMax,
		FailMin: r.FailMin, FailMax: r.FailMax, Logger: r.Logger}
	if n, ok := r.Channel.(Notifier); ok {
		l.Ready = n.Ready
	}
	return l.Run(ctx)
}

// Loop drives a Step (one sink's or one sink group's batch) until its
// context is done: after an empty step it waits (for Ready, or an idle
// backoff), after a failed step it backs off, after a full one it goes on at
// once. SinkRunner.Run and the agent's sink groups use it.
type Loop struct {
	// Name names the sink or group in logs (as "sink"); empty when Logger
	// already says which.
	Name string
	// Step moves at most one batch and returns how many events it moved.
	Step func(ctx context.Context) (int, error)
	// Ready, when set, returns a channel closed once events may be
	// available (see Notifier); an idle loop then wakes on it.
	Ready func() <-chan struct{}
	// IdleMin..IdleMax and FailMin..FailMax bound the waits after empty and
	// failed steps (doubling); zero values take SinkRunner's defaults.
	IdleMin, IdleMax time.Duration
	FailMin, FailMax time.Duration
	Logger           *slog.Logger
	// Drain, when positive, lets a stopping loop go on taking batches after
	// ctx is done, until a step is empty or fails or Drain has passed (the
	// step in progress is not cancelled before then either), so a graceful
	// stop leaves no event behind in a memory channel. A loop whose last
	// step failed does not drain.
	Drain time.Duration
}

// Run runs the loop in the caller's goroutine until ctx is done (and the
// drain is over); it returns nil then.
func (l *Loop) Run(ctx context.Context) error {
	d := SinkRunner{IdleMin: l.IdleMin, IdleMax: l.IdleMax, FailMin: l.FailMin, FailMax: l.FailMax, Logger: l.Logger, BatchSize: 1}
	d.defaults()
	if l.Name != "" {
		d.Logger = d.Logger.With("sink", l.Name)
	}
	stepCtx := ctx
	if l.Drain > 0 {
		var stop func()
		stepCtx, stop = drainContext(ctx, l.Drain)
		defer stop()
	}
	idle, fail := time.Duration(0), time.Duration(0)
	for ctx.Err() == nil {
		// Ask for the wake-up before taking, so a commit between an empty
		// take and the wait is not missed.
		var ready <-chan struct{}
		if l.Ready != nil {
			ready = l.Ready()
		}
		n, err := l.Step(stepCtx)
		var wait time.Duration
		switch {
		case err != nil:
			idle = 0
			fail = next(fail, d.FailMin, d.FailMax)
			wait = fail
			if ctx.Err() == nil {
				d.Logger.Warn("sink delivery failed; batch rolled back, retrying", "retry_in", wait, "err", err)
			}
		case n == 0:
			fail = 0
			idle = next(idle, d.IdleMin, d.IdleMax)
			wait = idle
			if ready != nil {
				wait = d.IdleMax
			}
		default:
			idle, fail = 0, 0
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-readyIf(ready, err == nil):
		}
		t.Stop()
	}
	for l.Drain > 0 && fail == 0 && stepCtx.Err() == nil {
		if n, err := l.Step(stepCtx); n == 0 || err != nil {
			break
		}
	}
	return nil
}

// drainContext returns a context that is done drain after ctx is done, and
// a function that releases it (call it when the loop ends).
func drainContext(ctx context.Context, drain time.Duration) (context.Context, func()) {
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var mu sync.Mutex
	var timer *time.Timer // guarded by mu
	ended := false        // guarded by mu
	stopAfter := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !ended {
			timer = time.AfterFunc(drain, cancel)
		}
	})
	return dctx, func() {
		stopAfter()
		mu.Lock()
		ended = true
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// readyIf returns ready when waking early is wanted (an idle wait, not a
// failure backoff), else nil, which never fires in a select.
func readyIf(ready <-chan struct{}, ok bool) <-chan struct{} {
	if ok {
		return ready
	}
	return nil
}

func next(cur, lo, hi time.Duration) time.Duration {
	if cur == 0 {
		return lo
	}
	return min(cur*2, hi)
}

// Process runs one transaction and returns how many events it delivered.
// Exported so tests and front ends (sink groups) can step a runner.
func (r *SinkRunner) Process(ctx context.Context) (int, error) {
	r.defaults()
	tx := r.Channel.Begin()
	batch := make([]Event, 0, r.BatchSize)
	for len(batch) < r.BatchSize {
		e, ok, err := tx.Take(ctx)
		if errors.Is(err, ErrTransactionFull) && len(batch) > 0 {
			break // BatchSize exceeds the channel's transactionCapacity
		}
		if err != nil {
			r.Counters.Add("ChannelReadFail", 1)
			return 0, errors.Join(fmt.Errorf("taking from channel: %w", err), tx.Rollback())
		}
		if !ok {
			break
		}
		batch = append(batch, e)
	}
	switch {
	case len(batch) == 0:
		r.Counters.Add("BatchEmptyCount", 1)
		return 0, tx.Commit()
	case len(batch) < r.BatchSize:
		r.Counters.Add("BatchUnderflowCount", 1)
	default:
		r.Counters.Add("BatchCompleteCount", 1)
	}
	r.Counters.Add("EventDrainAttemptCount", int64(len(batch)))
	if err := r.Sink.Deliver(ctx, batch); err != nil {
		r.Counters.Add("EventWriteFail", 1)
		return 0, errors.Join(fmt.Errorf("delivering %d events: %w", len(batch), err), tx.Rollback())
	}
	if err := tx.Commit(); err != nil {
		r.Counters.Add("ChannelReadFail", 1)
		return 0, fmt.Errorf("committing take of %d delivered events: %w", len(batch), err)
	}
	r.Counters.Add("EventDrainSuccessCount", int64(len(batch)))
	return len(batch), nil
}
