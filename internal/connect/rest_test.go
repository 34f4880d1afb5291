package connect

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/testutil"
)

// flakySource (registered for these tests only) emits one event whose body
// is the content of its file every 50ms, and fails while the file is
// missing or says "fail": the supervisor's restart with backoff is observed
// through REST.
type flakySource struct{ path, topic string }

func init() {
	flow.RegisterSource(flow.Spec{Names: []string{"ConnectTestFlaky"}, Keys: []flow.Key{{Name: "path", Required: true}, {Name: "topic"}}},
		func(c flow.Config) (flow.Source, error) {
			return &flakySource{path: c.String("path"), topic: c.String("topic")}, nil
		})
}

func (s *flakySource) Run(ctx context.Context, out flow.Emitter) error {
	for {
		data, err := os.ReadFile(s.path)
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(data)) == "fail" {
			return errors.New("flaky source: told to fail")
		}
		if err := out.Emit(ctx, []flow.Event{{Topic: s.topic, Body: data, Offset: -1}}); err != nil && ctx.Err() == nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestRESTLifecycle(t *testing.T) {
	brokers := testutil.RunBroker(t)
	w := startWorker(t, brokers)
	in := filepath.Join(w.dir, "in.log")
	out := filepath.Join(w.dir, "out.txt")
	appendLines(t, in, "one")

	// GET / and an empty list.
	var root map[string]string
	json.Unmarshal(w.mustCall(t, http.MethodGet, "/", nil, http.StatusOK), &root)
	if root["version"] != Version || root["kafka_cluster_id"] == "" {
		t.Errorf("GET / = %v", root)
	}
	if got := string(w.mustCall(t, http.MethodGet, "/connectors", nil, http.StatusOK)); strings.TrimSpace(got) != "[]" {
		t.Errorf("GET /connectors = %s, want []", got)
	}

	// Errors: bad class (400), unknown connector (404), duplicate (409).
	for _, tc := range []struct {
		name, method, path string
		body               any
		code               int
		msg                string
	}{
		{"unknown class", http.MethodPost, "/connectors", map[string]any{"name": "x", "config": map[string]string{"connector.class": "NoSuchConnector"}}, 400, "connector.class"},
		{"missing file key", http.MethodPost, "/connectors", map[string]any{"name": "x", "config": map[string]string{"connector.class": "FileStreamSource", "topic": "t"}}, 400, "file"},
		{"sink without topics", http.MethodPost, "/connectors", map[string]any{"name": "x", "config": map[string]string{"connector.class": "FileStreamSink", "file": out}}, 400, "topics"},
		{"no such connector", http.MethodGet, "/connectors/nope/status", nil, 404, "nope"},
		{"bad json", http.MethodPost, "/connectors", "{", 400, "decoding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, data := w.call(t, tc.method, tc.path, tc.body)
			var e restError
			if err := json.Unmarshal(data, &e); err != nil || code != tc.code || e.Code != tc.code || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("%s %s = %d %s, want %d with error_code and a message naming %q", tc.method, tc.path, code, data, tc.code, tc.msg)
			}
		})
	}

	w.create(t, "src", map[string]string{"connector.class": "FileStreamSource", "file": in, "topic": "rest-test"})
	w.create(t, "sink", map[string]string{"connector.class": "FileStreamSink", "file": out, "topics": "rest-test"})
	if code, data := w.call(t, http.MethodPost, "/connectors", map[string]any{"name": "src", "config": map[string]string{"connector.class": "FileStreamSource", "file": in, "topic": "x"}}); code != http.StatusConflict {
		t.Errorf("creating src twice = %d %s, want 409", code, data)
	}
	waitFor(t, "the first line", 20*time.Second, func() bool { return len(readLines(out)) == 1 })

	var info ConnectorInfo
	json.Unmarshal(w.mustCall(t, http.MethodGet, "/connectors/src", nil, http.StatusOK), &info)
	if info.Type != "source" || info.Config["file"] != in || len(info.Tasks) != 1 {
		t.Errorf("GET /connectors/src = %+v", info)
	}
	var expanded map[string]struct {
		Status Status        `json:"status"`
		Info   ConnectorInfo `json:"info"`
	}
	json.Unmarshal(w.mustCall(t, http.MethodGet, "/connectors?expand=status&expand=info", nil, http.StatusOK), &expanded)
	if expanded["sink"].Status.Type != "sink" || expanded["sink"].Info.Config["topics"] != "rest-test" {
		t.Errorf("expanded list = %+v", expanded)
	}

	// Pause: the task stops and lines wait; resume delivers them.
	w.mustCall(t, http.MethodPut, "/connectors/sink/pause", nil, http.StatusAccepted)
	if s := w.taskState(t, "sink"); s.State != StatePaused {
		t.Errorf("paused sink task state = %s", s.State)
	}
	appendLines(t, in, "two")
	time.Sleep(500 * time.Millisecond)
	if n := len(readLines(out)); n != 1 {
		t.Errorf("a paused sink wrote: %d lines", n)
	}
	w.mustCall(t, http.MethodPut, "/connectors/sink/resume", nil, http.StatusAccepted)
	waitFor(t, "the line written while paused", 20*time.Second, func() bool { return len(readLines(out)) == 2 })

	// Restart with includeTasks answers with the status.
	var st Status
	json.Unmarshal(w.mustCall(t, http.MethodPost, "/connectors/sink/restart?includeTasks=true", nil, http.StatusAccepted), &st)
	if st.Name != "sink" || len(st.Tasks) != 1 {
		t.Errorf("restart answer = %+v", st)
	}
	w.mustCall(t, http.MethodPost, "/connectors/sink/tasks/0/restart", nil, http.StatusNoContent)
	w.mustCall(t, http.MethodPost, "/connectors/sink/tasks/1/restart", nil, http.StatusNotFound)
	appendLines(t, in, "three")
	waitFor(t, "a line after the restarts", 20*time.Second, func() bool { return len(readLines(out)) == 3 })
	if got := readLines(out); strings.Join(got, ",") != "one,two,three" {
		t.Errorf("output after restarts = %q, want one,two,three", got)
	}

	// PATCH config changes the sink's file.
	out2 := filepath.Join(w.dir, "out2.txt")
	w.mustCall(t, http.MethodPatch, "/connectors/sink/config", map[string]any{"file": out2}, http.StatusOK)
	appendLines(t, in, "four")
	waitFor(t, "a line in the new file", 20*time.Second, func() bool { return len(readLines(out2)) == 1 })

	// Offsets: readable; changing them needs STOPPED.
	var offs Offsets
	json.Unmarshal(w.mustCall(t, http.MethodGet, "/connectors/sink/offsets", nil, http.StatusOK), &offs)
	if len(offs.Offsets) != 1 || offs.Offsets[0].Offset[sinkOffset] != float64(4) {
		t.Errorf("sink offsets = %+v, want rest-test/0 at 4", offs)
	}
	json.Unmarshal(w.mustCall(t, http.MethodGet, "/connectors/src/offsets", nil, http.StatusOK), &offs)
	if len(offs.Offsets) != 1 || offs.Offsets[0].Partition["filename"] != in {
		t.Errorf("source offsets = %+v", offs)
	}
	w.mustCall(t, http.MethodDelete, "/connectors/src/offsets", nil, http.StatusBadRequest)
	w.mustCall(t, http.MethodPut, "/connectors/src/stop", nil, http.StatusNoContent)
	w.mustCall(t, http.MethodDelete, "/connectors/src/offsets", nil, http.StatusOK)
	json.Unmarshal(w.mustCall(t, http.MethodGet, "/connectors/src/offsets", nil, http.StatusOK), &offs)
	if len(offs.Offsets) != 0 {
		t.Errorf("source offsets after reset = %+v", offs)
	}
	// Resumed after the reset, the source reads the file from the start again.
	w.mustCall(t, http.MethodPut, "/connectors/src/resume", nil, http.StatusAccepted)
	waitFor(t, "the file read again", 20*time.Second, func() bool { return len(readLines(out2)) == 5 })

	// Plugins and validation.
	var plugins []map[string]string
	json.Unmarshal(w.mustCall(t, http.MethodGet, "/connector-plugins", nil, http.StatusOK), &plugins)
	found := false
	for _, p := range plugins {
		found = found || p["class"] == "org.apache.kafka.connect.file.FileStreamSourceConnector" && p["type"] == "source"
	}
	if !found {
		t.Errorf("connector-plugins lacks FileStreamSourceConnector: %v", plugins)
	}
	var v struct {
		ErrorCount int `json:"error_count"`
	}
	json.Unmarshal(w.mustCall(t, http.MethodPut, "/connector-plugins/FileStreamSource/config/validate", map[string]string{"topic": "t"}, http.StatusOK), &v)
	if v.ErrorCount != 1 {
		t.Errorf("validate without file: error_count %d, want 1", v.ErrorCount)
	}

	// Delete.
	w.mustCall(t, http.MethodDelete, "/connectors/sink", nil, http.StatusNoContent)
	w.mustCall(t, http.MethodGet, "/connectors/sink", nil, http.StatusNotFound)
}

// TestFailedTaskRestarts: a failing source shows FAILED with a trace, and
// the worker starts it again with backoff until it runs.
func TestFailedTaskRestarts(t *testing.T) {
	brokers := testutil.RunBroker(t)
	w := startWorker(t, brokers)
	ctl := filepath.Join(w.dir, "ctl")
	os.WriteFile(ctl, []byte("fail"), 0o644)
	w.create(t, "flaky", map[string]string{"connector.class": "ConnectTestFlaky", "path": ctl, "topic": "flaky"})
	var failed TaskStatus
	waitFor(t, "the task FAILED", 10*time.Second, func() bool {
		failed = w.taskState(t, "flaky")
		return failed.State == StateFailed
	})
	if !strings.Contains(failed.Trace, "told to fail") {
		t.Errorf("trace = %q, want the source's error", failed.Trace)
	}
	// It keeps being retried: RESTARTING or FAILED again, never RUNNING for long.
	seen := map[string]bool{}
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		seen[w.taskState(t, "flaky").State] = true
		time.Sleep(10 * time.Millisecond)
	}
	if !seen[StateFailed] {
		t.Errorf("states seen while failing: %v", seen)
	}
	os.WriteFile(ctl, []byte("ok"), 0o644)
	waitFor(t, "the task RUNNING again by itself", 10*time.Second, func() bool {
		s := w.taskState(t, "flaky")
		return s.State == StateRunning && s.Trace == ""
	})
	// It runs: records reach the topic.
	offs := endOffset(t, brokers, "flaky")
	waitFor(t, "records from the recovered task", 10*time.Second, func() bool { return endOffset(t, brokers, "flaky") > offs })
}
