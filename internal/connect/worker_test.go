package connect

import (
	"bytes"
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
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/testutil"
)

// testWorker is a worker against an in-process broker with its REST API on
// an httptest server.
type testWorker struct {
	*Worker
	url string
	dir string
}

func startWorker(t *testing.T, brokers string, extra ...string) *testWorker {
	t.Helper()
	dir := t.TempDir()
	raw := map[string]string{
		KeyBootstrapServers:  brokers,
		KeyOffsetFile:        filepath.Join(dir, "offsets.json"),
		KeyOffsetFlush:       "200",
		KeyRestartBackoff:    "100",
		KeyRestartBackoffMax: "400",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		raw[extra[i]] = extra[i+1]
	}
	cfg, _, err := ParseWorkerConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWorker(cfg, slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := w.Close(); err != nil {
			t.Errorf("closing worker: %v", err)
		}
	})
	return &testWorker{Worker: w, url: srv.URL, dir: dir}
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// call sends a REST request and returns the status and body.
func (w *testWorker) call(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, w.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func (w *testWorker) mustCall(t *testing.T, method, path string, body any, want int) []byte {
	t.Helper()
	code, data := w.call(t, method, path, body)
	if code != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, data)
	}
	return data
}

func (w *testWorker) create(t *testing.T, name string, cfg map[string]string) {
	t.Helper()
	w.mustCall(t, http.MethodPost, "/connectors", map[string]any{"name": name, "config": cfg}, http.StatusCreated)
}

func (w *testWorker) taskState(t *testing.T, name string) TaskStatus {
	t.Helper()
	var s Status
	if err := json.Unmarshal(w.mustCall(t, http.MethodGet, "/connectors/"+name+"/status", nil, http.StatusOK), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Tasks) == 0 {
		return TaskStatus{State: "NONE"}
	}
	return s.Tasks[0]
}

func waitFor(t *testing.T, what string, timeout time.Duration, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func appendLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			t.Fatal(err)
		}
	}
}

func readLines(path string) []string {
	data, _ := os.ReadFile(path)
	s := strings.TrimSuffix(string(data), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func numbered(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s %04d", prefix, i))
	}
	return out
}

// TestTutorial is Kafka's Connect quickstart: a file source tailing an
// access log into log-test and a file sink writing log-test to a file, with
// the worker's default JsonConverter (schemas enabled). Lines appended
// appear in the output within a second; a rename rotation loses nothing.
func TestTutorial(t *testing.T) {
	brokers := testutil.RunBroker(t)
	w := startWorker(t, brokers)
	in := filepath.Join(w.dir, "access.log")
	out := filepath.Join(w.dir, "out.txt")
	first := numbered("GET /index.html", 0, 50)
	appendLines(t, in, first...)
	w.create(t, "local-file-source", map[string]string{"connector.class": "FileStreamSource", "tasks.max": "1", "file": in, "topic": "log-test"})
	w.create(t, "local-file-sink", map[string]string{"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "tasks.max": "1", "file": out, "topics": "log-test"})
	waitFor(t, "the first lines in the output", 20*time.Second, func() bool { return len(readLines(out)) >= len(first) })

	// An appended line shows up within a second.
	start := time.Now()
	appendLines(t, in, "appended line")
	waitFor(t, "the appended line", 5*time.Second, func() bool { return len(readLines(out)) == len(first)+1 })
	if d := time.Since(start); d > time.Second {
		t.Errorf("an appended line took %s to reach the output, want under 1s", d)
	}
	t.Logf("append → output latency: %s", time.Since(start))

	// Rotate by rename; lines written to both files arrive.
	appendLines(t, in, numbered("before rotation", 0, 20)...)
	if err := os.Rename(in, in+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, in+".1", "late line to the rotated file")
	appendLines(t, in, numbered("after rotation", 0, 20)...)
	want := append(append(append(append(append([]string{}, first...), "appended line"), numbered("before rotation", 0, 20)...), "late line to the rotated file"), numbered("after rotation", 0, 20)...)
	waitFor(t, "every line after rotation", 20*time.Second, func() bool { return len(readLines(out)) >= len(want) })
	time.Sleep(300 * time.Millisecond)
	got := readLines(out)
	seen := map[string]int{}
	for _, l := range got {
		seen[l]++
	}
	for _, l := range want {
		if seen[l] != 1 {
			t.Errorf("line %q is in the output %d times, want once", l, seen[l])
		}
	}
	if len(got) != len(want) {
		t.Errorf("output has %d lines, want %d", len(got), len(want))
	}

	// The topic holds JsonConverter envelopes; the file holds the payloads.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics("log-test"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fs := cl.PollRecords(ctx, 1)
	if recs := fs.Records(); len(recs) != 1 || string(recs[0].Value) != `{"schema":{"type":"string","optional":false},"payload":"GET /index.html 0000"}` {
		t.Errorf("first record on log-test = %v, want the JsonConverter envelope of the first line", fs.Records())
	}

	// Source offsets were flushed to the offset file.
	waitFor(t, "the offset file", 5*time.Second, func() bool {
		data, _ := os.ReadFile(filepath.Join(w.dir, "offsets.json"))
		return bytes.Contains(data, []byte(`"connector":"local-file-source"`))
	})
}

func endOffset(t testing.TB, brokers, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return listEnd(ctx, cl, topic)
}

func listEnd(ctx context.Context, cl *kgo.Client, topic string) int64 {
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return 0
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			n += o.Offset
		}
	})
	return n
}
