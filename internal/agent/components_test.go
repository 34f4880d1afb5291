package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/channel"
	"github.com/runnel/runnel/internal/flow"
)

// Test components, registered under names no real component uses:
//
//	agenttest_feed source (key id): emits the batches a test sends with feed(id, ...)
//	agenttest_collect sink (keys id, batchSize): records delivered bodies under id;
//	    setDown(id, true) makes its deliveries fail, as a sink whose target is down
//	agenttest_tag interceptor (keys header, value, drop, n): sets header=value,
//	    drops events whose body is drop
func init() {
	flow.RegisterSource(flow.Spec{Names: []string{"agenttest_feed"}, Keys: []flow.Key{{Name: "id", Required: true, Doc: "feed id"},
		{Name: "batchSize", Type: flow.Int, Default: "1", Min: 1, Max: 1 << 20, Doc: "events per batch"}}},
		func(c flow.Config) (flow.Source, error) { return &feedSource{id: c.String("id")}, nil })
	flow.RegisterSink(flow.Spec{Names: []string{"agenttest_collect"}, Keys: []flow.Key{
		{Name: "id", Required: true, Doc: "collector id"},
		{Name: "batchSize", Type: flow.Int, Default: "100", Min: 1, Max: 1 << 20, Doc: "events per batch"}}},
		func(c flow.Config) (flow.Sink, error) {
			return &collectSink{id: c.String("id"), batch: int(c.Int("batchSize")), counters: c.Counters}, nil
		})
	flow.RegisterChannel(flow.Spec{Names: []string{"agenttest_exclusive"}, Keys: []flow.Key{
		{Name: "dir", Required: true, Doc: "what it holds exclusively"},
		{Name: "capacity", Type: flow.Int, Default: "100", Min: 1, Max: 1 << 20, Doc: "events"},
		{Name: "fail", Type: flow.Bool, Default: "false", Doc: "fail to open"}}},
		func(c flow.Config) (flow.Channel, error) {
			dir := c.String("dir")
			exclusiveMu.Lock()
			defer exclusiveMu.Unlock()
			if exclusive[dir] {
				return nil, fmt.Errorf("%s is in use by another channel", dir)
			}
			if c.Bool("fail") {
				return nil, fmt.Errorf("opening %s: disk on fire", dir)
			}
			exclusive[dir] = true
			return &exclusiveChannel{Memory: channel.NewMemory(int(c.Int("capacity")), 100, 0, time.Second), dir: dir}, nil
		})
	flow.RegisterTransform(flow.Spec{Names: []string{"agenttest_tag"}, Keys: []flow.Key{
		{Name: "header", Default: "tag", Doc: "header to set"},
		{Name: "value", Doc: "its value"},
		{Name: "drop", Doc: "body of events to drop"},
		{Name: "n", Type: flow.Int, Doc: "a number"}}},
		func(c flow.Config) (flow.Transform, error) {
			h, v, drop := c.String("header"), c.String("value"), c.String("drop")
			return flow.TransformFunc(func(e flow.Event) (flow.Event, bool) {
				if drop != "" && string(e.Body) == drop {
					return e, false
				}
				return e.WithHeader(h, e.Header(h)+v), true
			}), nil
		})
}

var (
	exclusiveMu sync.Mutex
	// exclusive holds the dirs of open agenttest_exclusive channels;
	// guarded by exclusiveMu.
	exclusive = map[string]bool{}
)

// exclusiveChannel is a memory channel that, like a file channel, holds its
// directory exclusively until closed.
type exclusiveChannel struct {
	*channel.Memory
	dir string
}

func (e *exclusiveChannel) Close() error {
	exclusiveMu.Lock()
	defer exclusiveMu.Unlock()
	delete(exclusive, e.dir)
	return e.Memory.Close()
}

type feedReq struct {
	batch []flow.Event
	reply chan error
}

var (
	feedMu sync.Mutex
	// feeds maps a feed id to the channel its running source reads;
	// guarded by feedMu.
	feeds = map[string]chan feedReq{}
)

func feedChan(id string) chan feedReq {
	feedMu.Lock()
	defer feedMu.Unlock()
	ch := feeds[id]
	if ch == nil {
		ch = make(chan feedReq)
		feeds[id] = ch
	}
	return ch
}

type feedSource struct{ id string }

func (f *feedSource) Run(ctx context.Context, out flow.Emitter) error {
	in := feedChan(f.id)
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-in:
			r.reply <- out.Emit(ctx, r.batch)
		}
	}
}

// feed sends one batch of events (body, headers as k=v pairs) to source id
// and returns Emit's result.
func feed(t *testing.T, id string, events ...flow.Event) error {
	t.Helper()
	r := feedReq{batch: events, reply: make(chan error, 1)}
	select {
	case feedChan(id) <- r:
	case <-time.After(10 * time.Second):
		t.Fatalf("feed %s: no running source took the batch", id)
	}
	return <-r.reply
}

func ev(body string, headers ...string) flow.Event {
	h := map[string]string{}
	for i := 0; i+1 < len(headers); i += 2 {
		h[headers[i]] = headers[i+1]
	}
	return flow.Event{Headers: h, Body: []byte(body)}
}

var (
	collectMu sync.Mutex
	// collected and down are per collector id; guarded by collectMu.
	collected = map[string][]flow.Event{}
	down      = map[string]bool{}
	attempts  = map[string]*atomic.Int64{}
)

type collectSink struct {
	id       string
	batch    int
	counters *flow.Counters
}

var errTargetDown = errors.New("target is down")

func (s *collectSink) Deliver(_ context.Context, b []flow.Event) error {
	collectMu.Lock()
	defer collectMu.Unlock()
	if attempts[s.id] == nil {
		attempts[s.id] = new(atomic.Int64)
	}
	attempts[s.id].Add(1)
	if down[s.id] {
		s.counters.Add("ConnectionFailedCount", 1)
		return fmt.Errorf("collector %s: %w", s.id, errTargetDown)
	}
	collected[s.id] = append(collected[s.id], b...)
	return nil
}

func (s *collectSink) BatchSize() int { return s.batch }
func (s *collectSink) Close() error   { return nil }

func setDown(id string, d bool) {
	collectMu.Lock()
	defer collectMu.Unlock()
	down[id] = d
}

// bodies returns the bodies collector id has received so far.
func bodies(id string) []string {
	collectMu.Lock()
	defer collectMu.Unlock()
	var out []string
	for _, e := range collected[id] {
		out = append(out, string(e.Body))
	}
	return out
}

func events(id string) []flow.Event {
	collectMu.Lock()
	defer collectMu.Unlock()
	return append([]flow.Event(nil), collected[id]...)
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// runAgent loads conf (as file path, which reload reads) and runs it until
// the test ends.
func runAgent(t *testing.T, path string, conf string, setup func(a *Agent)) *Agent {
	t.Helper()
	a, err := LoadBytes(path, []byte(conf), "a1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(a)
	}
	runLoaded(t, a, a.ReloadInterval)
	return a
}
