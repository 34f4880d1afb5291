package connect

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/testutil"
)

// distWorker is one RunDistributed in this process.
type distWorker struct {
	*testWorker
	cancel context.CancelFunc
	done   chan error
}

func startDistributed(t *testing.T, brokers, dir, name string) *distWorker {
	t.Helper()
	file := filepath.Join(dir, name+".properties")
	content := fmt.Sprintf("bootstrap.servers=%s\ngroup.id=connect-cluster\nconfig.storage.topic=cfg\noffset.storage.topic=offs\nstatus.storage.topic=stat\n"+
		"offset.flush.interval.ms=200\nlisteners=http://127.0.0.1:0\ntask.restart.backoff.ms=100\nheartbeat.interval.ms=500\nrebalance.timeout.ms=10000\n", brokers)
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	d := &distWorker{cancel: cancel, done: make(chan error, 1)}
	go func() { // owned by d: ends when d.cancel is called
		d.done <- RunDistributed(ctx, file, slog.New(slog.NewTextHandler(testLogWriter{t}, nil)).With("worker", name), func(addr string) { ready <- addr })
	}()
	select {
	case addr := <-ready:
		d.testWorker = &testWorker{url: "http://" + addr, dir: dir}
	case err := <-d.done:
		t.Fatalf("worker %s: %v", name, err)
	}
	t.Cleanup(d.stop)
	return d
}

func (d *distWorker) stop() {
	if d.cancel == nil {
		return
	}
	d.cancel()
	d.cancel = nil
	<-d.done
}

func (w *testWorker) owner(t *testing.T, name string) string {
	t.Helper()
	code, data := w.call(t, http.MethodGet, "/connectors/"+name+"/status", nil)
	if code != http.StatusOK {
		return ""
	}
	var s Status
	json.Unmarshal(data, &s)
	if len(s.Tasks) == 0 || s.Tasks[0].State != StateRunning {
		return ""
	}
	return s.Tasks[0].WorkerID
}

// TestDistributed: two workers in one group split two connectors; a
// connector created through one worker is visible on both; when a worker
// leaves, its connector moves to the other and continues from the stored
// source offsets (no line twice, none lost).
func TestDistributed(t *testing.T) {
	brokers := testutil.RunBroker(t)
	dir := t.TempDir()
	a := startDistributed(t, brokers, dir, "a")
	b := startDistributed(t, brokers, dir, "b")
	in := filepath.Join(dir, "in.log")
	out := filepath.Join(dir, "out.txt")
	appendLines(t, in, numbered("first", 0, 100)...)
	a.create(t, "src", map[string]string{"connector.class": "FileStreamSource", "file": in, "topic": "dist"})
	b.create(t, "sink", map[string]string{"connector.class": "FileStreamSink", "file": out, "topics": "dist"})
	waitFor(t, "the first lines", 30*time.Second, func() bool { return len(readLines(out)) == 100 })

	var ownSrc, ownSink string
	waitFor(t, "both connectors running", 30*time.Second, func() bool {
		ownSrc, ownSink = a.owner(t, "src"), b.owner(t, "sink")
		return ownSrc != "" && ownSink != ""
	})
	if ownSrc == ownSink {
		t.Errorf("both connectors run on %s; two workers should split them", ownSrc)
	}
	// Both workers list both connectors and answer for either.
	for _, w := range []*distWorker{a, b} {
		var names []string
		json.Unmarshal(w.mustCall(t, http.MethodGet, "/connectors", nil, http.StatusOK), &names)
		if strings.Join(names, ",") != "sink,src" {
			t.Errorf("worker %s lists %v", w.url, names)
		}
		if w.owner(t, "src") != ownSrc {
			t.Errorf("worker %s reports another owner for src", w.url)
		}
	}

	// Stop the worker running the source; it moves to the other.
	gone, stay := a, b
	if strings.TrimPrefix(b.url, "http://") == ownSrc {
		gone, stay = b, a
	}
	appendLines(t, in, numbered("second", 0, 100)...)
	waitFor(t, "the second lines", 30*time.Second, func() bool { return len(readLines(out)) >= 200 })
	gone.stop()
	appendLines(t, in, numbered("third", 0, 100)...)
	waitFor(t, "src to move", 30*time.Second, func() bool { return stay.owner(t, "src") == strings.TrimPrefix(stay.url, "http://") })
	waitFor(t, "the third lines after the move", 30*time.Second, func() bool { return len(readLines(out)) >= 300 })
	time.Sleep(500 * time.Millisecond)
	got := readLines(out)
	seen := map[string]int{}
	for _, l := range got {
		seen[l]++
	}
	for _, l := range append(append(numbered("first", 0, 100), numbered("second", 0, 100)...), numbered("third", 0, 100)...) {
		if seen[l] != 1 {
			t.Errorf("line %q seen %d times", l, seen[l])
		}
	}

	// Pause through the config topic, from the surviving worker.
	stay.mustCall(t, http.MethodPut, "/connectors/sink/pause", nil, http.StatusAccepted)
	waitFor(t, "the sink PAUSED", 10*time.Second, func() bool { return stay.taskState(t, "sink").State == StatePaused })
	stay.mustCall(t, http.MethodDelete, "/connectors/sink", nil, http.StatusNoContent)
	stay.mustCall(t, http.MethodGet, "/connectors/sink", nil, http.StatusNotFound)
}

// statusRecord is a status.storage.topic value.
type statusRecord struct {
	State      string  `json:"state"`
	Trace      *string `json:"trace"`
	WorkerID   string  `json:"worker_id"`
	Generation int32   `json:"generation"`
}

// readStatusTopic reads the status topic "stat" to its end: the latest
// record by key (nil for a tombstone).
func readStatusTopic(t *testing.T, brokers string) map[string]*statusRecord {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics("stat"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), "stat")
	if err != nil {
		t.Fatal(err)
	}
	end := ends["stat"][0].Offset
	m := map[string]*statusRecord{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for read := int64(0); read < end && ctx.Err() == nil; {
		for _, r := range cl.PollFetches(ctx).Records() {
			read = r.Offset + 1
			if r.Value == nil {
				m[string(r.Key)] = nil
				continue
			}
			var s statusRecord
			if err := json.Unmarshal(r.Value, &s); err != nil {
				t.Fatalf("status record %s = %s: %v", r.Key, r.Value, err)
			}
			m[string(r.Key)] = &s
		}
	}
	return m
}

// The status topic holds each connector's and task's latest state as Kafka
// Connect writes it, UNASSIGNED once the worker running them stops, and
// tombstones once a connector is deleted.
func TestDistributedStatusTopic(t *testing.T) {
	brokers := testutil.RunBroker(t)
	dir := t.TempDir()
	a := startDistributed(t, brokers, dir, "a")
	out := filepath.Join(dir, "out.txt")
	a.create(t, "s", map[string]string{"connector.class": "FileStreamSink", "file": out, "topics": "st", "tasks.max": "2"})
	a.create(t, "gone", map[string]string{"connector.class": "FileStreamSink", "file": out + "2", "topics": "st"})
	keys := []string{"status-connector-s", "status-task-s-0", "status-task-s-1", "status-connector-gone", "status-task-gone-0"}
	state := func(m map[string]*statusRecord, k string) string {
		if s, ok := m[k]; !ok {
			return "missing"
		} else if s == nil {
			return "tombstone"
		} else {
			return s.State
		}
	}
	waitFor(t, "RUNNING in the status topic", 30*time.Second, func() bool {
		m := readStatusTopic(t, brokers)
		for _, k := range keys {
			if state(m, k) != StateRunning {
				return false
			}
		}
		return true
	})
	m := readStatusTopic(t, brokers)
	if s := m["status-task-s-1"]; s.WorkerID != strings.TrimPrefix(a.url, "http://") || s.Generation < 1 || s.Trace != nil {
		t.Errorf("task status %+v (worker %s)", *s, a.url)
	}
	a.mustCall(t, http.MethodDelete, "/connectors/gone", nil, http.StatusNoContent)
	waitFor(t, "tombstones for the deleted connector", 30*time.Second, func() bool {
		m := readStatusTopic(t, brokers)
		return state(m, "status-connector-gone") == "tombstone" && state(m, "status-task-gone-0") == "tombstone"
	})
	a.stop()
	m = readStatusTopic(t, brokers)
	for _, k := range keys[:3] {
		if got := state(m, k); got != StateUnassigned {
			t.Errorf("%s after the worker stopped: %s, want UNASSIGNED", k, got)
		}
	}
}

// Two workers share a tasks.max=4 sink two tasks each; any worker answers
// for every task and restarts one running on the other; when one worker
// stops, all four tasks run on the survivor and records keep flowing.
func TestDistributedSinkTasks(t *testing.T) {
	brokers := testutil.RunBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.DefaultProduceTopic("wide"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 8, 1, nil, "wide"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[string(b)] = true
		mu.Unlock()
	}))
	defer srv.Close()
	received := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			cl.Produce(context.Background(), &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "record %d", i)}, nil)
		}
		if err := cl.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	a := startDistributed(t, brokers, dir, "a")
	b := startDistributed(t, brokers, dir, "b")
	cfg := map[string]string{"connector.class": "org.apache.flume.sink.http.HttpSink", "tasks.max": "4", "topics": "wide", "endpoint": srv.URL,
		"backoff.2XX": "false", "rollback.2XX": "false", "value.converter": "org.apache.kafka.connect.storage.StringConverter"}
	a.create(t, "s", cfg)
	status := func(w *distWorker) Status {
		var s Status
		json.Unmarshal(w.mustCall(t, http.MethodGet, "/connectors/s/status", nil, http.StatusOK), &s)
		return s
	}
	// perWorker counts RUNNING tasks by worker id, "" when not all four run.
	perWorker := func(s Status) map[string]int {
		n := map[string]int{}
		if len(s.Tasks) != 4 {
			return nil
		}
		for i, ts := range s.Tasks {
			if ts.ID != i || ts.State != StateRunning {
				return nil
			}
			n[ts.WorkerID]++
		}
		return n
	}
	aID, bID := strings.TrimPrefix(a.url, "http://"), strings.TrimPrefix(b.url, "http://")
	waitFor(t, "four tasks spread 2/2", 30*time.Second, func() bool {
		n := perWorker(status(a))
		return n[aID] == 2 && n[bID] == 2
	})
	if n := perWorker(status(b)); n[aID] != 2 || n[bID] != 2 {
		t.Errorf("worker b reports %v", n)
	}
	produce(0, 400)
	waitFor(t, "400 records over HTTP", 30*time.Second, func() bool { return received() == 400 })

	// A task running on b, addressed through a: its status comes from b
	// and restarting it restarts it on b.
	s := status(a)
	remote := -1
	for _, ts := range s.Tasks {
		if ts.WorkerID == bID {
			remote = ts.ID
		}
	}
	var ts TaskStatus
	json.Unmarshal(a.mustCall(t, http.MethodGet, fmt.Sprintf("/connectors/s/tasks/%d/status", remote), nil, http.StatusOK), &ts)
	if ts.ID != remote || ts.WorkerID != bID || ts.State != StateRunning {
		t.Errorf("task %d status through a: %+v", remote, ts)
	}
	a.mustCall(t, http.MethodPost, fmt.Sprintf("/connectors/s/tasks/%d/restart", remote), nil, http.StatusNoContent)
	a.mustCall(t, http.MethodPost, "/connectors/s/restart?includeTasks=true", nil, http.StatusAccepted)

	// b stops: its tasks move to a.
	b.stop()
	waitFor(t, "all four tasks on a", 30*time.Second, func() bool { return perWorker(status(a))[aID] == 4 })
	produce(400, 800)
	waitFor(t, "800 records after b left", 60*time.Second, func() bool { return received() == 800 })
	// tasks.max down to 2: the worker runs tasks 0 and 1, and still
	// delivers.
	cfg["tasks.max"] = "2"
	a.mustCall(t, http.MethodPut, "/connectors/s/config", cfg, http.StatusOK)
	waitFor(t, "two tasks", 30*time.Second, func() bool {
		s := status(a)
		return len(s.Tasks) == 2 && s.Tasks[0].State == StateRunning && s.Tasks[1].State == StateRunning
	})
	produce(800, 900)
	waitFor(t, "900 records with two tasks", 60*time.Second, func() bool { return received() == 900 })
	cfg["tasks.max"] = "4"
	a.mustCall(t, http.MethodPut, "/connectors/s/config", cfg, http.StatusOK)
	waitFor(t, "four tasks again", 30*time.Second, func() bool { return perWorker(status(a))[aID] == 4 })
	// The status topic says the same.
	waitFor(t, "the status topic to show every task on a", 30*time.Second, func() bool {
		m := readStatusTopic(t, brokers)
		for _, k := range []string{"status-connector-s", "status-task-s-0", "status-task-s-1", "status-task-s-2", "status-task-s-3"} {
			if r := m[k]; r == nil || r.State != StateRunning || r.WorkerID != aID {
				return false
			}
		}
		return true
	})
}
