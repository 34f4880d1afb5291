// Package channel holds the flow engine's channels, one per file.
package channel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// Memory channel config keys (Flume's names).
const (
	MemoryCapacity            = "capacity"
	MemoryTransactionCapacity = "transactionCapacity"
	MemoryByteCapacity        = "byteCapacity"
	MemoryByteCapacityBuffer  = "byteCapacityBufferPercentage"
	MemoryKeepAlive           = "keep-alive"
)

// MemorySpec documents the memory channel.
var MemorySpec = flow.Spec{
	Names:   []string{"memory", "org.apache.flume.channel.MemoryChannel"},
	Summary: "in-memory queue; fast, but events in it are lost when the agent stops",
	Keys: []flow.Key{
		{Name: MemoryCapacity, Type: flow.Int, Default: "100", Min: 1, Max: 1 << 31, Doc: "most events stored in the channel"},
		{Name: MemoryTransactionCapacity, Type: flow.Int, Default: "100", Min: 1, Max: 1 << 31, Doc: "most events one put or take transaction holds"},
		{Name: MemoryByteCapacity, Type: flow.Int, Default: "0", Min: 0, Max: 1 << 62, Doc: "most body bytes stored; 0 = no limit (Flume: 80% of the JVM heap)"},
		{Name: MemoryByteCapacityBuffer, Type: flow.Int, Default: "20", Min: 0, Max: 100, Doc: "percent of byteCapacity kept free for header overhead"},
		{Name: MemoryKeepAlive, Type: flow.Int, Default: "3", Min: 0, Max: 1 << 31, Doc: "seconds a put waits for room before failing"},
	},
}

func init() {
	flow.RegisterChannel(MemorySpec, func(c flow.Config) (flow.Channel, error) {
		capacity, txCap := c.Int(MemoryCapacity), c.Int(MemoryTransactionCapacity)
		if txCap > capacity {
			return nil, &flow.KeyError{Key: MemoryTransactionCapacity, Value: c.String(MemoryTransactionCapacity),
				Problem: fmt.Sprintf("larger than capacity %d", capacity), Fix: "make transactionCapacity at most capacity"}
		}
		bytes := c.Int(MemoryByteCapacity) * (100 - c.Int(MemoryByteCapacityBuffer)) / 100
		return NewMemory(int(capacity), int(txCap), bytes, time.Duration(c.Int(MemoryKeepAlive))*time.Second), nil
	})
}

// Memory is a bounded in-memory channel with Flume's transaction semantics.
// Room (an event slot and its bytes) is reserved at Put and released at take
// Commit or put Rollback, so a put transaction's Commit never fails.
type Memory struct {
	capacity, txCapacity int
	byteCapacity         int64 // 0 = unlimited
	keepAlive            time.Duration

	mu sync.Mutex
	// queue holds committed events, oldest first; guarded by mu.
	queue []flow.Event
	// used counts events committed or reserved by open puts or held by open
	// takes; usedBytes likewise for body bytes. Guarded by mu.
	used      int
	usedBytes int64
	// roomFreed is closed and replaced whenever room is released; guarded by mu.
	roomFreed chan struct{}
	// ready is closed and replaced whenever events are added to queue;
	// guarded by mu.
	ready chan struct{}
}

// NewMemory returns a memory channel. byteCapacity 0 means no byte limit;
// keepAlive is how long a Put waits for room.
func NewMemory(capacity, txCapacity int, byteCapacity int64, keepAlive time.Duration) *Memory {
	return &Memory{capacity: capacity, txCapacity: txCapacity, byteCapacity: byteCapacity,
		keepAlive: keepAlive, roomFreed: make(chan struct{}), ready: make(chan struct{})}
}

// TransactionCapacity implements flow.TransactionCapacitor.
func (m *Memory) TransactionCapacity() int { return m.txCapacity }

// Len returns the number of committed events waiting to be taken.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.queue)
}

// Ready implements flow.Notifier.
func (m *Memory) Ready() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ready
}

// signalReady wakes takers waiting on Ready. Expects m.mu held.
func (m *Memory) signalReady() {
	close(m.ready)
	m.ready = make(chan struct{})
}

// Begin implements flow.Channel.
func (m *Memory) Begin() flow.Transaction { return &memoryTx{m: m} }

// Close implements flow.Channel; events still queued are dropped, as in Flume.
func (m *Memory) Close() error { return nil }

// release frees n events and b bytes of room. Expects m.mu held.
func (m *Memory) release(n int, b int64) {
	if n == 0 && b == 0 {
		return
	}
	m.used -= n
	m.usedBytes -= b
	close(m.roomFreed)
	m.roomFreed = make(chan struct{})
}

// reserve waits until one event of size b fits, up to keepAlive or ctx.
func (m *Memory) reserve(ctx context.Context, b int64) error {
	if m.byteCapacity > 0 && b > m.byteCapacity {
		return fmt.Errorf("event of %d bytes is larger than the channel's byte capacity %d: %w", b, m.byteCapacity, flow.ErrChannelFull)
	}
	var timer *time.Timer
	for {
		m.mu.Lock()
		if m.used < m.capacity && (m.byteCapacity == 0 || m.usedBytes+b <= m.byteCapacity) {
			m.used++
			m.usedBytes += b
			m.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return nil
		}
		freed := m.roomFreed
		m.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(m.keepAlive)
		}
		select {
		case <-freed:
		case <-timer.C:
			return fmt.Errorf("no room within keep-alive %s (capacity %d events, byteCapacity %d): %w", m.keepAlive, m.capacity, m.byteCapacity, flow.ErrChannelFull)
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
	}
}

// memoryTx is one put or take transaction; used by one goroutine.
type memoryTx struct {
	m     *Memory
	puts  []flow.Event
	takes []flow.Event
	done  bool
}

var errTxDone = errors.New("transaction already committed or rolled back")

func (t *memoryTx) Put(ctx context.Context, e flow.Event) error {
	if t.done {
		return errTxDone
	}
	if len(t.takes) > 0 {
		return errors.New("put in a take transaction")
	}
	if len(t.puts) >= t.m.txCapacity {
		return fmt.Errorf("putting event %d: transactionCapacity is %d: %w", len(t.puts)+1, t.m.txCapacity, flow.ErrTransactionFull)
	}
	if err := t.m.reserve(ctx, int64(e.Size())); err != nil {
		return err
	}
	t.puts = append(t.puts, e)
	return nil
}

func (t *memoryTx) Take(context.Context) (flow.Event, bool, error) {
	if t.done {
		return flow.Event{}, false, errTxDone
	}
	if len(t.puts) > 0 {
		return flow.Event{}, false, errors.New("take in a put transaction")
	}
	if len(t.takes) >= t.m.txCapacity {
		return flow.Event{}, false, fmt.Errorf("taking event %d: transactionCapacity is %d: %w", len(t.takes)+1, t.m.txCapacity, flow.ErrTransactionFull)
	}
	m := t.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.queue) == 0 {
		return flow.Event{}, false, nil
	}
	e := m.queue[0]
	m.queue[0] = flow.Event{}
	m.queue = m.queue[1:]
	t.takes = append(t.takes, e)
	return e, true, nil
}

func (t *memoryTx) Commit() error {
	if t.done {
		return errTxDone
	}
	t.done = true
	m := t.m
	m.mu.Lock()
	defer m.mu.Unlock()
	m.queue = append(m.queue, t.puts...)
	if len(t.puts) > 0 {
		m.signalReady()
	}
	var b int64
	for _, e := range t.takes {
		b += int64(e.Size())
	}
	m.release(len(t.takes), b)
	t.puts, t.takes = nil, nil
	return nil
}

func (t *memoryTx) Rollback() error {
	if t.done {
		return errTxDone
	}
	t.done = true
	m := t.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(t.takes) > 0 {
		// Taken events go back to the head, in order; their room was never
		// released.
		q := make([]flow.Event, 0, len(t.takes)+len(m.queue))
		q = append(q, t.takes...)
		m.queue = append(q, m.queue...)
		m.signalReady()
	}
	var b int64
	for _, e := range t.puts {
		b += int64(e.Size())
	}
	m.release(len(t.puts), b)
	t.puts, t.takes = nil, nil
	return nil
}
