package flow_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/runnel/runnel/internal/channel"
	"github.com/runnel/runnel/internal/flow"
	_ "github.com/runnel/runnel/internal/sink"
	_ "github.com/runnel/runnel/internal/source"
	"github.com/runnel/runnel/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testSpec = flow.Spec{
	Kind:  flow.KindSource,
	Names: []string{"demo"},
	Keys: []flow.Key{
		{Name: "port", Type: flow.Int, Required: true, Min: 0, Max: 65535, Doc: "TCP port"},
		{Name: "size", Type: flow.Int, Default: "7", Doc: "a size"},
		{Name: "on", Type: flow.Bool, Default: "true", Doc: "a switch"},
		{Name: "later", NotImplemented: true, Doc: "not yet"},
		{Name: "kafka.producer.*", Doc: "passed to the producer"},
	},
}

func TestSpecValidate(t *testing.T) {
	cases := []struct {
		name         string
		raw          map[string]string
		wantErr      string // substring of the error; "" = no error
		wantWarnings []string
		check        func(t *testing.T, c flow.Config)
	}{
		{name: "defaults", raw: map[string]string{"port": "1"},
			check: func(t *testing.T, c flow.Config) {
				if c.Int("port") != 1 || c.Int("size") != 7 || !c.Bool("on") {
					t.Errorf("port %d size %d on %v", c.Int("port"), c.Int("size"), c.Bool("on"))
				}
			}},
		{name: "values override defaults, spaces trimmed", raw: map[string]string{"port": " 2 ", "size": "9", "on": "FALSE"},
			check: func(t *testing.T, c flow.Config) {
				if c.Int("port") != 2 || c.Int("size") != 9 || c.Bool("on") {
					t.Errorf("port %d size %d on %v", c.Int("port"), c.Int("size"), c.Bool("on"))
				}
			}},
		{name: "missing required key", raw: map[string]string{}, wantErr: "port: required key is missing; fix: set port (TCP port)"},
		{name: "empty required key", raw: map[string]string{"port": " "}, wantErr: "port: required key is empty; fix: give port a value (TCP port)"},
		{name: "not a number", raw: map[string]string{"port": "1", "size": "abc"}, wantErr: `size = "abc": not a whole number; fix: set it to an integer such as 7`},
		{name: "out of range", raw: map[string]string{"port": "70000"}, wantErr: `out of range [0, 65535]`},
		{name: "not a boolean", raw: map[string]string{"port": "1", "on": "yes"}, wantErr: `on = "yes": not a boolean`},
		{name: "unknown and unimplemented keys warn", raw: map[string]string{"port": "1", "bogus": "x", "later": "y"},
			wantWarnings: []string{"bogus", "later"}},
		{name: "prefix keys match", raw: map[string]string{"port": "1", "kafka.producer.acks": "all"},
			check: func(t *testing.T, c flow.Config) {
				if c.String("kafka.producer.acks") != "all" {
					t.Errorf("acks %q", c.String("kafka.producer.acks"))
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, warnings, err := testSpec.Validate("r1", tc.raw)
			if tc.wantErr != "" {
				var ke *flow.KeyError
				if err == nil || !errors.As(err, &ke) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want KeyError containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, w := range warnings {
				keys = append(keys, w.Key)
			}
			if strings.Join(keys, ",") != strings.Join(tc.wantWarnings, ",") {
				t.Errorf("warnings for %q, want %q", keys, tc.wantWarnings)
			}
			if tc.check != nil {
				tc.check(t, cfg)
			}
		})
	}
}

func TestLookupIsCaseInsensitiveAndKnowsClassNames(t *testing.T) {
	for _, tc := range []struct {
		kind flow.Kind
		name string
	}{
		{flow.KindSource, "netcat"}, {flow.KindSource, "NETCAT"}, {flow.KindSource, "org.apache.flume.source.NetcatSource"},
		{flow.KindChannel, "Memory"}, {flow.KindChannel, "org.apache.flume.channel.MemoryChannel"},
		{flow.KindSink, "logger"}, {flow.KindSink, "org.apache.flume.sink.LoggerSink"},
	} {
		if _, ok := flow.Lookup(tc.kind, tc.name); !ok {
			t.Errorf("%s %q not found", tc.kind, tc.name)
		}
	}
	if _, ok := flow.Lookup(flow.KindSink, "netcat"); ok {
		t.Error("a source name resolved as a sink")
	}
}

func batch(bodies ...string) []flow.Event {
	var out []flow.Event
	for _, b := range bodies {
		out = append(out, flow.Event{Body: []byte(b)})
	}
	return out
}

// A batch goes to every required channel or to none.
func TestChannelProcessorAllOrNone(t *testing.T) {
	roomy := channel.NewMemory(10, 10, 0, 0)
	tight := channel.NewMemory(2, 10, 0, 0)
	optional := channel.NewMemory(1, 10, 0, 0)
	p := &flow.ChannelProcessor{Selector: &flow.Replicating{
		Required: []flow.NamedChannel{{Name: "roomy", Channel: roomy}, {Name: "tight", Channel: tight}},
		Optional: []flow.NamedChannel{{Name: "optional", Channel: optional}},
	}}
	ctx := context.Background()
	if err := p.Emit(ctx, batch("a", "b", "c")); !errors.Is(err, flow.ErrChannelFull) || !strings.Contains(err.Error(), "channel tight") {
		t.Fatalf("emit of 3 into a channel of 2: err = %v", err)
	}
	if roomy.Len() != 0 || tight.Len() != 0 || optional.Len() != 0 {
		t.Fatalf("failed batch left events: roomy %d tight %d optional %d", roomy.Len(), tight.Len(), optional.Len())
	}
	// The optional channel is too small for the batch; that does not fail it.
	if err := p.Emit(ctx, batch("a", "b")); err != nil {
		t.Fatal(err)
	}
	if got := testutil.TakeBodies(t, roomy); strings.Join(got, "") != "ab" {
		t.Errorf("roomy %q", got)
	}
	if got := testutil.TakeBodies(t, tight); strings.Join(got, "") != "ab" {
		t.Errorf("tight %q", got)
	}
	if optional.Len() != 0 {
		t.Errorf("optional got a partial batch")
	}
}

func TestChannelProcessorTransforms(t *testing.T) {
	ch := channel.NewMemory(10, 10, 0, 0)
	upper := flow.TransformFunc(func(e flow.Event) (flow.Event, bool) {
		e.Body = []byte(strings.ToUpper(string(e.Body)))
		return e, true
	})
	dropX := flow.TransformFunc(func(e flow.Event) (flow.Event, bool) { return e, string(e.Body) != "X" })
	p := &flow.ChannelProcessor{Transforms: []flow.Transform{upper, dropX},
		Selector: &flow.Replicating{Required: []flow.NamedChannel{{Name: "c", Channel: ch}}}}
	if err := p.Emit(context.Background(), batch("a", "x", "b")); err != nil {
		t.Fatal(err)
	}
	if got := testutil.TakeBodies(t, ch); strings.Join(got, ",") != "A,B" {
		t.Fatalf("channel holds %q", got)
	}
}

// flakySink fails its first `fails` deliveries, then records batches.
type flakySink struct {
	mu        sync.Mutex
	fails     int
	attempts  int
	delivered []string
}

func (s *flakySink) Deliver(_ context.Context, b []flow.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.fails > 0 {
		s.fails--
		return errors.New("target down")
	}
	for _, e := range b {
		s.delivered = append(s.delivered, string(e.Body))
	}
	return nil
}
func (s *flakySink) Close() error { return nil }

func TestSinkRunner(t *testing.T) {
	cases := []struct {
		name      string
		fails     int
		batchSize int
		txCap     int // default 100
		events    []string
		// wantBatches is the number of successful deliveries (default:
		// events / batchSize, rounded up).
		wantBatches int
	}{
		{name: "delivers in batches", batchSize: 2, events: []string{"a", "b", "c", "d", "e"}},
		{name: "failed batches are rolled back and retried in order", fails: 3, batchSize: 2, events: []string{"a", "b", "c"}},
		{name: "batch size above transactionCapacity is cut to it", txCap: 2, batchSize: 5, events: []string{"a", "b", "c"}, wantBatches: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			txCap := tc.txCap
			if txCap == 0 {
				txCap = 100
			}
			ch := channel.NewMemory(100, txCap, 0, 0)
			for _, b := range tc.events {
				tx := ch.Begin()
				if err := tx.Put(context.Background(), flow.Event{Body: []byte(b)}); err != nil {
					t.Fatal(err)
				}
				tx.Commit()
			}
			sink := &flakySink{fails: tc.fails}
			r := &flow.SinkRunner{Name: "k1", Channel: ch, Sink: sink, BatchSize: tc.batchSize,
				FailMin: time.Millisecond, FailMax: 2 * time.Millisecond, IdleMin: time.Millisecond, IdleMax: time.Millisecond}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { r.Run(ctx) })
			deadline := time.Now().Add(10 * time.Second)
			for {
				sink.mu.Lock()
				n := len(sink.delivered)
				sink.mu.Unlock()
				if n >= len(tc.events) || time.Now().After(deadline) {
					break
				}
				time.Sleep(time.Millisecond)
			}
			cancel()
			wg.Wait()
			if strings.Join(sink.delivered, ",") != strings.Join(tc.events, ",") {
				t.Fatalf("delivered %q, want %q", sink.delivered, tc.events)
			}
			batches := tc.wantBatches
			if batches == 0 {
				batches = (len(tc.events) + tc.batchSize - 1) / tc.batchSize
			}
			wantAttempts := batches + tc.fails
			if sink.attempts != wantAttempts {
				t.Errorf("attempts %d, want %d", sink.attempts, wantAttempts)
			}
			if ch.Len() != 0 {
				t.Errorf("channel still holds %d", ch.Len())
			}
		})
	}
}

// An idle runner on a channel with a Notifier wakes on the commit instead of
// sleeping out its idle backoff (here an hour).
func TestSinkRunnerWakesOnCommit(t *testing.T) {
	ch := channel.NewMemory(10, 10, 0, 0)
	sink := &flakySink{}
	r := &flow.SinkRunner{Name: "k1", Channel: ch, Sink: sink, IdleMin: time.Hour, IdleMax: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { r.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	for i, b := range []string{"a", "b"} {
		time.Sleep(20 * time.Millisecond) // let the runner go idle
		tx := ch.Begin()
		tx.Put(ctx, flow.Event{Body: []byte(b)})
		tx.Commit()
		for deadline := time.Now().Add(10 * time.Second); ; {
			sink.mu.Lock()
			n := len(sink.delivered)
			sink.mu.Unlock()
			if n == i+1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("event %q not delivered: the runner did not wake on commit", b)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// A stopping Loop with Drain delivers what is left in its channel; a step
// stuck in a delivery is cancelled once Drain has passed.
func TestLoopDrain(t *testing.T) {
	ch := channel.NewMemory(100, 100, 0, 0)
	for _, b := range []string{"a", "b", "c", "d", "e"} {
		tx := ch.Begin()
		tx.Put(context.Background(), flow.Event{Body: []byte(b)})
		tx.Commit()
	}
	sink := &flakySink{}
	r := &flow.SinkRunner{Name: "k1", Channel: ch, Sink: sink, BatchSize: 1}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // stopped before it starts: only the drain runs
	l := &flow.Loop{Step: r.Process, Drain: 10 * time.Second}
	l.Run(ctx)
	if strings.Join(sink.delivered, "") != "abcde" || ch.Len() != 0 {
		t.Fatalf("drained %q, %d left", sink.delivered, ch.Len())
	}

	blocked := func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() }
	ctx, cancel = context.WithCancel(context.Background())
	l = &flow.Loop{Step: blocked, Drain: 50 * time.Millisecond, IdleMin: time.Millisecond}
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	time.Sleep(10 * time.Millisecond)
	start := time.Now()
	cancel()
	select {
	case <-done:
		if d := time.Since(start); d < 40*time.Millisecond {
			t.Fatalf("a step in progress was cancelled after %v, before the drain time", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a blocked step was never cancelled")
	}
}
