package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// collector is an Emitter that keeps every committed event; fail, when
// set, decides whether an Emit fails (nothing of the batch is kept then).
type collector struct {
	mu     sync.Mutex
	events []flow.Event
	calls  int
	failed int
	fail   func(call int) bool
}

func (c *collector) Emit(_ context.Context, batch []flow.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.fail != nil && c.fail(c.calls) {
		c.failed++
		return errors.New("channel is full (injected)")
	}
	c.events = append(c.events, batch...)
	return nil
}

func (c *collector) bodies() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.events))
	for i, e := range c.events {
		out[i] = string(e.Body)
	}
	return out
}

// waitFor waits until c holds n events.
func (c *collector) waitFor(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		got := len(c.events)
		c.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events after 10s, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// running is a source run in the background until stop.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func runSource(src flow.Source, out flow.Emitter) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- src.Run(ctx, out) }()
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// build validates raw against the registered source typeName and builds it.
func build(t *testing.T, typeName string, raw map[string]string, offsets flow.OffsetStore) (flow.Source, error) {
	t.Helper()
	reg, ok := flow.Lookup(flow.KindSource, typeName)
	if !ok {
		t.Fatalf("%s not registered", typeName)
	}
	cfg, _, err := reg.Spec.Validate("r1", raw)
	if err != nil {
		return nil, err
	}
	cfg.Offsets = offsets
	v, err := reg.Build(cfg)
	if err != nil {
		return nil, err
	}
	return v.(flow.Source), nil
}

func writeLines(t *testing.T, path, prefix string, from, to int) {
	t.Helper()
	fd, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s-%05d %s\n", prefix, i, strings.Repeat("y", 30))
	}
	if _, err := fd.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
}

// checkOnce checks that got holds every line prefix-i, i in [0, n), exactly
// once (and no other line of that prefix).
func checkOnce(t *testing.T, got []string, prefix string, n int) {
	t.Helper()
	count := map[int]int{}
	for _, g := range got {
		var i int
		if _, err := fmt.Sscanf(g, prefix+"-%05d", &i); err == nil && strings.HasPrefix(g, prefix+"-") {
			count[i]++
		}
	}
	var missing, dup []int
	for i := range n {
		switch count[i] {
		case 0:
			missing = append(missing, i)
		case 1:
		default:
			dup = append(dup, i)
		}
	}
	if len(missing) > 0 || len(dup) > 0 || len(count) > n {
		t.Fatalf("%s: missing %d %v, duplicated %d %v", prefix, len(missing), missing[:min(5, len(missing))], len(dup), dup[:min(5, len(dup))])
	}
}

func copyTruncate(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(from, 0); err != nil {
		t.Fatal(err)
	}
}

func TestTaildirConfigErrors(t *testing.T) {
	cases := []struct {
		name    string
		raw     map[string]string
		wantKey string
	}{
		{name: "no filegroups", raw: map[string]string{}, wantKey: "filegroups"},
		{name: "group without path", raw: map[string]string{"filegroups": "f1 f2", "filegroups.f1": "/var/log/a.log"}, wantKey: "filegroups.f2"},
		{name: "relative path", raw: map[string]string{"filegroups": "f1", "filegroups.f1": "logs/a.log"}, wantKey: "filegroups.f1"},
		{name: "bad regex", raw: map[string]string{"filegroups": "f1", "filegroups.f1": "/var/log/(a.log"}, wantKey: "filegroups.f1"},
		{name: "bad batchSize", raw: map[string]string{"filegroups": "f1", "filegroups.f1": "/var/log/a.log", "batchSize": "x"}, wantKey: "batchSize"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build(t, "taildir", tc.raw, nil)
			var ke *flow.KeyError
			if !errors.As(err, &ke) || ke.Key != tc.wantKey {
				t.Fatalf("error %v, want a KeyError on %s", err, tc.wantKey)
			}
			if ke.Fix == "" {
				t.Errorf("KeyError without a fix: %v", ke)
			}
		})
	}
	if _, ok := flow.Lookup(flow.KindSource, "org.apache.flume.source.taildir.TaildirSource"); !ok {
		t.Error("taildir not registered under its Java class name")
	}
}

// taildirConfig is a two-group config over dir with fast timings.
func taildirConfig(dir, posFile string) map[string]string {
	return map[string]string{
		"filegroups":         "app other",
		"filegroups.app":     filepath.Join(dir, `app\.log`),
		"filegroups.other":   filepath.Join(dir, `other-.*\.log`),
		"headers.app.kind":   "application",
		"headers.other.kind": "misc",
		"positionFile":       posFile,
		"fileHeader":         "true",
		"byteOffsetHeader":   "true",
		"batchSize":          "7",
		"writePosInterval":   "20",
		"pollInterval":       "5",
		"idleTimeout":        "200",
	}
}

// The acceptance story of issue 5: append to, rename-rotate and
// copytruncate-rotate a log while the source runs and across a restart:
// every line once, with its group's headers.
func TestTaildirRotationAndRestart(t *testing.T) {
	dir := t.TempDir()
	posFile := filepath.Join(t.TempDir(), "pos", "taildir_position.json")
	app := filepath.Join(dir, "app.log")
	writeLines(t, app, "A", 0, 100)
	writeLines(t, filepath.Join(dir, "other-1.log"), "O", 0, 10)
	writeLines(t, filepath.Join(dir, "ignored.txt"), "X", 0, 10)

	src, err := build(t, "TAILDIR", taildirConfig(dir, posFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := &collector{}
	r := runSource(src, out)
	out.waitFor(t, 110)
	writeLines(t, app, "A", 100, 150)
	if err := os.Rename(app, app+".1"); err != nil { // rename rotation
		t.Fatal(err)
	}
	writeLines(t, app+".1", "A", 150, 160) // the writer has not reopened yet
	writeLines(t, app, "A", 160, 200)
	out.waitFor(t, 210)
	writeLines(t, app, "A", 200, 230)
	copyTruncate(t, app, app+".2") // copytruncate rotation
	writeLines(t, app, "A", 230, 260)
	out.waitFor(t, 270)
	r.stop(t)

	// While stopped: more lines and a rename rotation; restart.
	writeLines(t, app, "A", 260, 280)
	if err := os.Rename(app, app+".3"); err != nil {
		t.Fatal(err)
	}
	writeLines(t, app, "A", 280, 300)
	writeLines(t, filepath.Join(dir, "other-2.log"), "O", 10, 20)
	r = restartTaildir(t, dir, posFile, out)
	out.waitFor(t, 320)
	r.stop(t)
	// While stopped: more lines and a copytruncate rotation; restart.
	writeLines(t, app, "A", 300, 310)
	copyTruncate(t, app, app+".4")
	writeLines(t, app, "A", 310, 320)
	r = restartTaildir(t, dir, posFile, out)
	out.waitFor(t, 340)
	time.Sleep(100 * time.Millisecond) // nothing more may come
	r.stop(t)

	got := out.bodies()
	checkOnce(t, got, "A", 320)
	checkOnce(t, got, "O", 20)
	if len(got) != 340 {
		t.Fatalf("%d events, want 340", len(got))
	}
	for _, e := range out.events {
		wantKind := map[byte]string{'A': "application", 'O': "misc"}[e.Body[0]]
		if e.Headers["kind"] != wantKind || !strings.HasPrefix(e.Headers["file"], dir) || e.Headers["byteoffset"] == "" {
			t.Fatalf("event %q headers %v", e.Body, e.Headers)
		}
	}
	first := out.events[0]
	if first.Headers["byteoffset"] != "0" || first.Headers["file"] != app && first.Headers["file"] != filepath.Join(dir, "other-1.log") {
		t.Errorf("first event headers %v", first.Headers)
	}

	// The position file is Flume's JSON with the fingerprint added.
	b, err := os.ReadFile(posFile)
	if err != nil {
		t.Fatal(err)
	}
	var entries []map[string]any
	if err := json.Unmarshal(b, &entries); err != nil {
		t.Fatalf("position file %s: %v", b, err)
	}
	for _, e := range entries {
		for _, k := range []string{"inode", "pos", "file", "fingerprint", "fingerprintLength"} {
			if _, ok := e[k]; !ok {
				t.Errorf("position entry %v has no %q", e, k)
			}
		}
	}
}

func restartTaildir(t *testing.T, dir, posFile string, out flow.Emitter) *running {
	t.Helper()
	src, err := build(t, "TAILDIR", taildirConfig(dir, posFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	return runSource(src, out)
}

// An Emitter that fails every third batch: the source retries the same
// lines, so every line arrives exactly once; after a crash that loses the
// position writes since some point, lines are delivered again only from
// that point (at-least-once).
func TestTaildirFailingEmitterAndCrash(t *testing.T) {
	dir := t.TempDir()
	posFile := filepath.Join(t.TempDir(), "pos.json")
	app := filepath.Join(dir, "app.log")
	writeLines(t, app, "A", 0, 200)
	raw := taildirConfig(dir, posFile)
	raw["backoffSleepIncrement"], raw["maxBackoffSleep"] = "1", "5"
	src, err := build(t, "taildir", raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := &collector{fail: func(call int) bool { return call%3 == 0 }}
	r := runSource(src, out)
	out.waitFor(t, 200)
	time.Sleep(50 * time.Millisecond) // a position write
	saved, err := os.ReadFile(posFile)
	if err != nil {
		t.Fatal(err)
	}
	writeLines(t, app, "A", 200, 300)
	out.waitFor(t, 300)
	r.stop(t)
	if out.failed == 0 {
		t.Fatal("no Emit failed; the test proves nothing")
	}
	checkOnce(t, out.bodies(), "A", 300)

	// Crash: the position file as it was before lines 200..299.
	if err := os.WriteFile(posFile, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err = build(t, "taildir", raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	again := &collector{}
	r = runSource(src, again)
	again.waitFor(t, 100)
	time.Sleep(50 * time.Millisecond)
	r.stop(t)
	got := again.bodies()
	if len(got) != 100 || !strings.HasPrefix(got[0], "A-00200") {
		t.Fatalf("after the crash %d lines again, first %q; want lines 200..299", len(got), got[:min(1, len(got))])
	}
}

func TestTaildirSkipToEndAndManyFiles(t *testing.T) {
	dir := t.TempDir()
	for i := range 30 {
		writeLines(t, filepath.Join(dir, fmt.Sprintf("other-%d.log", i)), fmt.Sprintf("old%d", i), 0, 5)
	}
	raw := taildirConfig(dir, filepath.Join(t.TempDir(), "pos.json"))
	raw["skipToEnd"] = "true"
	src, err := build(t, "taildir", raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := &collector{}
	r := runSource(src, out)
	time.Sleep(50 * time.Millisecond)
	for i := range 30 {
		writeLines(t, filepath.Join(dir, fmt.Sprintf("other-%d.log", i)), fmt.Sprintf("N%d", i), 0, 20)
	}
	writeLines(t, filepath.Join(dir, "other-new.log"), "NEW", 0, 5) // created later: read whole
	out.waitFor(t, 30*20+5)
	time.Sleep(50 * time.Millisecond)
	r.stop(t)
	got := out.bodies()
	if len(got) != 605 {
		t.Fatalf("%d events, want 605", len(got))
	}
	for i := range 30 {
		checkOnce(t, got, fmt.Sprintf("N%d", i), 20)
	}
	checkOnce(t, got, "NEW", 5)
}

// BenchmarkTaildir measures lines/s of 100-byte lines from a growing file
// through the taildir source into an Emitter that drops them.
func BenchmarkTaildir(b *testing.B) {
	dir := b.TempDir()
	app := filepath.Join(dir, "app.log")
	raw := map[string]string{"filegroups": "f", "filegroups.f": filepath.Join(dir, `app\.log`), "positionFile": filepath.Join(dir, "pos.json"), "batchSize": "1000"}
	reg, _ := flow.Lookup(flow.KindSource, "taildir")
	cfg, _, err := reg.Spec.Validate("r1", raw)
	if err != nil {
		b.Fatal(err)
	}
	src, err := NewTaildir(cfg)
	if err != nil {
		b.Fatal(err)
	}
	benchGrowingFile(b, src, app)
}

// benchGrowingFile runs src while b.N 100-byte lines are appended to path,
// until the Emitter (which drops them) has them all.
func benchGrowingFile(b *testing.B, src flow.Source, path string) {
	line := strings.Repeat("z", 99) + "\n"
	chunk := strings.Repeat(line, 1000)
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	out := &countingEmitter{want: int64(b.N), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	b.SetBytes(int64(len(line)))
	b.ResetTimer()
	go func() { runDone <- src.Run(ctx, out) }()
	fd, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	for n := 0; n < b.N; n += 1000 {
		if _, err := fd.WriteString(chunk[:min(1000, b.N-n)*len(line)]); err != nil {
			b.Fatal(err)
		}
	}
	fd.Close()
	<-out.done
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	cancel()
	if err := <-runDone; err != nil {
		b.Fatal(err)
	}
}

// countingEmitter drops events and closes done once want arrived.
type countingEmitter struct {
	mu   sync.Mutex
	n    int64
	want int64
	done chan struct{}
}

func (c *countingEmitter) Emit(_ context.Context, batch []flow.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	before := c.n
	c.n += int64(len(batch))
	if before < c.want && c.n >= c.want {
		close(c.done)
	}
	return nil
}

// A position file written by Flume's taildir (inode, pos, file; no
// fingerprint) is honoured: reading resumes at pos, and the file written
// back carries fingerprints.
func TestTaildirFlumePositionFile(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "app.log")
	writeLines(t, app, "A", 0, 20)
	fi, err := os.Stat(app)
	if err != nil {
		t.Fatal(err)
	}
	lineLen := fi.Size() / 20
	posFile := filepath.Join(t.TempDir(), "taildir_position.json")
	flume := fmt.Sprintf(`[{"inode":%d,"pos":%d,"file":"%s"}]`, fi.Sys().(*syscall.Stat_t).Ino, 12*lineLen, app)
	if err := os.WriteFile(posFile, []byte(flume), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := build(t, "taildir", taildirConfig(dir, posFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := &collector{}
	r := runSource(src, out)
	out.waitFor(t, 8)
	time.Sleep(50 * time.Millisecond)
	r.stop(t)
	got := out.bodies()
	if len(got) != 8 || !strings.HasPrefix(got[0], "A-00012") {
		t.Fatalf("read %d lines from %q, want lines 12..19", len(got), got[0])
	}
	b, _ := os.ReadFile(posFile)
	if !strings.Contains(string(b), `"fingerprint"`) || !strings.Contains(string(b), fmt.Sprintf(`"pos":%d`, 20*lineLen)) {
		t.Fatalf("position file %s", b)
	}
}
