package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"log/slog"

	"github.com/runnel/runnel/internal/testutil"
)

func reloadConf(t *testing.T, sinkID, capacity string) string {
	return fmt.Sprintf(`a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = agenttest_feed
a1.sources.r1.id = %s
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = %s
a1.sinks.k1.type = agenttest_collect
a1.sinks.k1.id = %s
a1.sinks.k1.channel = c1
`, uid(t, "r1"), capacity, uid(t, sinkID))
}

// current returns the running graph.
func (a *Agent) current() *graph {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.g
}

// writeConf replaces the config file's content.
func writeConf(t *testing.T, path, conf string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A changed sink is rebuilt; the unchanged source and channel keep running,
// and the events buffered in the channel are delivered by the new sink.
func TestReloadChangedSinkKeepsChannel(t *testing.T) {
	a, path, logs := startReloading(t, reloadConf(t, "old", "100"))
	g0 := a.current()
	if err := feed(t, uid(t, "r1"), ev("a")); err != nil {
		t.Fatal(err)
	}
	waitDrained(t, a)
	setDown(uid(t, "old"), true)
	if err := feed(t, uid(t, "r1"), ev("b"), ev("c")); err != nil {
		t.Fatal(err)
	}

	writeConf(t, path, reloadConf(t, "new", "100"))
	waitFor(t, "reload", func() bool { return a.current() != g0 })
	g1 := a.current()
	if g1.channels["c1"] != g0.channels["c1"] || g1.sources[0] != g0.sources[0] {
		t.Fatal("unchanged channel or source was rebuilt")
	}
	if g1.sinks["k1"] == g0.sinks["k1"] {
		t.Fatal("changed sink was kept")
	}
	waitDrained(t, a)
	if got := strings.Join(bodies(uid(t, "new")), " "); got != "b c" {
		t.Fatalf("new sink got %q, want the buffered b c", got)
	}
	if got := strings.Join(bodies(uid(t, "old")), " "); got != "a" {
		t.Fatalf("old sink got %q", got)
	}
	if !strings.Contains(logs.String(), `msg="config reloaded"`) || !strings.Contains(logs.String(), `restarted="[sink k1]" kept="[source r1]"`) {
		t.Errorf("log lacks the reload:\n%s", logs.String())
	}
}

// An invalid config is refused, logged once, and the running one kept; a
// later valid one is applied. A changed channel restarts what is bound to it.
func TestReloadInvalidThenChangedChannel(t *testing.T) {
	a, path, logs := startReloading(t, reloadConf(t, "k1", "100"))
	g0 := a.current()

	writeConf(t, path, reloadConf(t, "k1", "lots"))
	waitFor(t, "refusal logged", func() bool { return strings.Contains(logs.String(), "config reload refused") })
	time.Sleep(50 * time.Millisecond)
	if n := strings.Count(logs.String(), "config reload refused"); n != 1 {
		t.Errorf("refusal logged %d times, want once", n)
	}
	if !strings.Contains(logs.String(), `agent.conf:8: a1.channels.c1.capacity = \"lots\": not a whole number`) {
		t.Errorf("refusal does not name file, line and key:\n%s", logs.String())
	}
	if a.current() != g0 {
		t.Fatal("invalid config replaced the running one")
	}
	if err := feed(t, uid(t, "r1"), ev("a")); err != nil {
		t.Fatal(err)
	}
	waitDrained(t, a)

	writeConf(t, path, reloadConf(t, "k1", "200"))
	waitFor(t, "reload", func() bool { return a.current() != g0 })
	g1 := a.current()
	if g1.channels["c1"] == g0.channels["c1"] || g1.sources[0] == g0.sources[0] || g1.sinks["k1"] == g0.sinks["k1"] {
		t.Fatal("a changed channel must rebuild it and what is bound to it")
	}
	if err := feed(t, uid(t, "r1"), ev("b")); err != nil {
		t.Fatal(err)
	}
	waitDrained(t, a)
	if got := strings.Join(bodies(uid(t, "k1")), " "); got != "a b" {
		t.Fatalf("k1 got %q", got)
	}
	if c := g1.channels["c1"].capacity; c != 200 {
		t.Fatalf("capacity %d after reload", c)
	}
}

// startReloading writes conf to a file and runs it, checking the file for
// changes every 10ms, until the test ends.
func startReloading(t *testing.T, conf string) (a *Agent, path string, logs *testutil.SyncBuffer) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "agent.conf")
	writeConf(t, path, conf)
	logs = &testutil.SyncBuffer{}
	a, err := LoadBytes(path, []byte(conf), "a1", slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	runLoaded(t, a, 10*time.Millisecond)
	return a, path, logs
}

// runLoaded runs a with reloads every interval until the test ends.
func runLoaded(t *testing.T, a *Agent, interval time.Duration) {
	t.Helper()
	a.ReloadInterval = interval
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// Stopping a component that does not return in time is logged, then waited
// for.
func TestStopLogsSlowComponent(t *testing.T) {
	old := stopWarnAfter
	stopWarnAfter = 10 * time.Millisecond
	defer func() { stopWarnAfter = old }()
	var logs testutil.SyncBuffer
	release := make(chan struct{})
	var tk task
	tk.start(context.Background(), func(context.Context) { <-release })
	go func() { time.Sleep(100 * time.Millisecond); close(release) }()
	tk.stop(slog.New(slog.NewTextHandler(&logs, nil)), "sink k1")
	if !strings.Contains(logs.String(), "still waiting for sink k1 to stop") {
		t.Fatalf("log: %s", logs.String())
	}
	if tk.running() {
		t.Fatal("task still marked running")
	}
}

// A graceful stop delivers what the memory channels still hold.
func TestStopDrainsChannels(t *testing.T) {
	a, err := LoadBytes("f.conf", []byte(reloadConf(t, "k1", "100")), "a1", nil)
	if err != nil {
		t.Fatal(err)
	}
	put(t, a, "a", "b", "c")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a.Run(ctx)
	if got := strings.Join(bodies(uid(t, "k1")), " "); got != "a b c" {
		t.Fatalf("delivered %q at stop", got)
	}
}

// A reload that changes a channel holding files closes the old one before
// opening the new one; when the new one cannot open, the running config is
// restarted.
func TestReloadExclusiveChannel(t *testing.T) {
	conf := func(capacity int, fail bool) string {
		return fmt.Sprintf(`a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = agenttest_feed
a1.sources.r1.id = %s
a1.sources.r1.channels = c1
a1.channels.c1.type = agenttest_exclusive
a1.channels.c1.dir = %s
a1.channels.c1.capacity = %d
a1.channels.c1.fail = %v
a1.sinks.k1.type = agenttest_collect
a1.sinks.k1.id = %s
a1.sinks.k1.channel = c1
`, uid(t, "r1"), t.Name(), capacity, fail, uid(t, "k1"))
	}
	a, path, logs := startReloading(t, conf(100, false))
	send := func(body string) {
		t.Helper()
		if err := feed(t, uid(t, "r1"), ev(body)); err != nil {
			t.Fatal(err)
		}
		waitDrained(t, a)
	}
	send("a")
	g0 := a.current()
	writeConf(t, path, conf(200, false))
	waitFor(t, "reload", func() bool { return a.current() != g0 })
	if c := a.current().channels["c1"]; c.capacity != 200 || c == g0.channels["c1"] {
		t.Fatal("channel not rebuilt")
	}
	send("b")

	g1 := a.current()
	writeConf(t, path, conf(300, true))
	waitFor(t, "fallback", func() bool { return strings.Contains(logs.String(), "running config restarted") })
	if !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("the failure is not logged:\n%s", logs.String())
	}
	if c := a.current().channels["c1"]; c.capacity != 200 || c == g1.channels["c1"] {
		t.Fatalf("channel after a failed reload: capacity %d", c.capacity)
	}
	send("c")
	if got := strings.Join(bodies(uid(t, "k1")), " "); got != "a b c" {
		t.Fatalf("delivered %q", got)
	}
}
