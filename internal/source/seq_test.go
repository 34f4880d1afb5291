package source

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// recorder is an Emitter for source tests: it refuses the first failFirst
// Emit calls (and every call while full is set), then keeps every batch it
// accepted. Safe for concurrent use.
type recorder struct {
	mu        sync.Mutex
	failFirst int
	limit     int // most batches accepted, then every call is refused (0: no limit)
	maxBatch  int // larger batches are refused with flow.ErrTransactionFull (0: no limit)
	full      bool
	calls     int
	batches   [][]flow.Event
	changed   chan struct{}
}

func newRecorder(failFirst int) *recorder {
	return &recorder{failFirst: failFirst, changed: make(chan struct{}, 1)}
}

var errRecorderRefused = errors.New("recorder refuses this batch")

func (r *recorder) Emit(ctx context.Context, batch []flow.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.calls <= r.failFirst {
		return fmt.Errorf("emit %d: %w", r.calls, errRecorderRefused)
	}
	if r.maxBatch > 0 && len(batch) > r.maxBatch {
		return fmt.Errorf("putting %d events: %w", len(batch), flow.ErrTransactionFull)
	}
	if r.full || (r.limit > 0 && len(r.batches) >= r.limit) {
		return fmt.Errorf("putting %d events: %w", len(batch), flow.ErrChannelFull)
	}
	r.batches = append(r.batches, append([]flow.Event(nil), batch...))
	select {
	case r.changed <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) setFull(full bool) {
	r.mu.Lock()
	r.full = full
	r.mu.Unlock()
}

// events returns every accepted event in order.
func (r *recorder) events() []flow.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []flow.Event
	for _, b := range r.batches {
		out = append(out, b...)
	}
	return out
}

func (r *recorder) bodies() []string {
	var out []string
	for _, e := range r.events() {
		out = append(out, string(e.Body))
	}
	return out
}

// waitEvents waits until at least n events were accepted and returns them.
func (r *recorder) waitEvents(t testing.TB, n int) []flow.Event {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		if ev := r.events(); len(ev) >= n {
			return ev
		}
		select {
		case <-r.changed:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("waited for %d events, have %d: %q", n, len(r.events()), r.bodies())
		}
	}
}

// buildSrc validates keys against the source registered as typeName and
// builds it, failing the test on any error.
func buildSrc(t testing.TB, typeName string, keys map[string]string) flow.Source {
	t.Helper()
	src, err := tryBuildSrc(t, typeName, keys)
	if err != nil {
		t.Fatalf("building %s: %v", typeName, err)
	}
	return src
}

// tryBuildSrc validates keys against the source registered as typeName and
// builds it.
func tryBuildSrc(t testing.TB, typeName string, keys map[string]string) (flow.Source, error) {
	t.Helper()
	reg, ok := flow.Lookup(flow.KindSource, typeName)
	if !ok {
		t.Fatalf("source %q not registered", typeName)
	}
	cfg, _, err := reg.Spec.Validate("r1", keys)
	if err != nil {
		return nil, err
	}
	v, err := reg.Build(cfg)
	if err != nil {
		return nil, err
	}
	return v.(flow.Source), nil
}

// runSource runs src into out until stop is called (or the test ends) and
// fails the test when Run returns an error. stop waits for Run to return.
func startSource(t testing.TB, src flow.Source, out flow.Emitter) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := src.Run(ctx, out); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Error("source Run did not return after cancellation")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestSeq(t *testing.T) {
	cases := []struct {
		name      string
		keys      map[string]string
		failFirst int
		want      int
	}{
		{name: "batch of one", keys: map[string]string{"totalEvents": "5"}, want: 5},
		{name: "batches with a short last one", keys: map[string]string{"totalEvents": "7", "batchSize": "3"}, want: 7},
		{name: "refused batches offered again", keys: map[string]string{"totalEvents": "10", "batchSize": "4"}, failFirst: 3, want: 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(tc.failFirst)
			startSource(t, buildSrc(t, "SEQ", tc.keys), rec)
			got := rec.waitEvents(t, tc.want)
			time.Sleep(50 * time.Millisecond) // nothing more may come
			got = rec.events()
			if len(got) != tc.want {
				t.Fatalf("got %d events, want %d", len(got), tc.want)
			}
			for i, e := range got {
				if string(e.Body) != strconv.Itoa(i) {
					t.Fatalf("event %d has body %q", i, e.Body)
				}
			}
		})
	}
}

func TestStress(t *testing.T) {
	cases := []struct {
		name      string
		keys      map[string]string
		failFirst int
		want      int
	}{
		{name: "maxTotalEvents", keys: map[string]string{"size": "10", "maxTotalEvents": "25", "batchSize": "10"}, want: 25},
		{name: "refused batches count as attempted", keys: map[string]string{"size": "3", "maxTotalEvents": "10", "batchSize": "5"}, failFirst: 1, want: 5},
		{name: "maxSuccessfulEvents", keys: map[string]string{"maxSuccessfulEvents": "6", "batchSize": "2"}, failFirst: 2, want: 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(tc.failFirst)
			startSource(t, buildSrc(t, "org.apache.flume.source.StressSource", tc.keys), rec)
			rec.waitEvents(t, tc.want)
			time.Sleep(100 * time.Millisecond)
			got := rec.events()
			if len(got) != tc.want {
				t.Fatalf("got %d events, want %d", len(got), tc.want)
			}
			size := 500
			if s, ok := tc.keys["size"]; ok {
				size, _ = strconv.Atoi(s)
			}
			for _, e := range got {
				if len(e.Body) != size {
					t.Fatalf("body of %d bytes, want %d", len(e.Body), size)
				}
			}
		})
	}
	t.Run("maxEventsPerSecond paces", func(t *testing.T) {
		rec := newRecorder(0)
		start := time.Now()
		startSource(t, buildSrc(t, "org.apache.flume.source.StressSource", map[string]string{"maxTotalEvents": "20", "maxEventsPerSecond": "100"}), rec)
		rec.waitEvents(t, 20)
		// 20 events at 100/s cannot all be sent before 200ms.
		if d := time.Since(start); d < 190*time.Millisecond {
			t.Fatalf("20 events at 100/s took %v", d)
		}
	})
}

// buildErr validates and builds the source registered as typeName and
// returns the error (nil when it built).
func buildErr(t testing.TB, typeName string, keys map[string]string) error {
	t.Helper()
	_, err := tryBuildSrc(t, typeName, keys)
	return err
}

// TestSourceNames: every Flume alias, Java class name and Connect-style
// name resolves (case-insensitively) to its source.
func TestSourceNames(t *testing.T) {
	for _, names := range [][]string{
		{"seq", "org.apache.flume.source.SequenceGeneratorSource"},
		{"org.apache.flume.source.StressSource"},
		{"netcatudp", "org.apache.flume.source.NetcatUdpSource"},
		{"exec", "org.apache.flume.source.ExecSource"},
		{"spooldir", "org.apache.flume.source.SpoolDirectorySource", "SpoolDirSource"},
		{"syslogtcp", "org.apache.flume.source.SyslogTcpSource", "SyslogTcpSource"},
		{"syslogudp", "org.apache.flume.source.SyslogUDPSource", "SyslogUdpSource"},
		{"multiport_syslogtcp", "org.apache.flume.source.MultiportSyslogTCPSource", "MultiportSyslogTcpSource"},
		{"http", "org.apache.flume.source.http.HTTPSource", "HttpSource"},
		{"org.apache.flume.source.kafka.KafkaSource"},
	} {
		first, ok := flow.Lookup(flow.KindSource, names[0])
		if !ok {
			t.Errorf("%s not registered", names[0])
			continue
		}
		for _, n := range names[1:] {
			for _, spelling := range []string{n, strings.ToUpper(n)} {
				if r, ok := flow.Lookup(flow.KindSource, spelling); !ok || r != first {
					t.Errorf("%s does not name the same source as %s", spelling, names[0])
				}
			}
		}
	}
}
