package interop

// Apache Kafka Connect's own runtime (connect-runtime and connect-file jars
// from Maven Central) against `runnel server`: standalone and distributed.
// The distributed worker exercises what Connect needs from a broker: the
// admin client creating compacted internal topics, the "connect" group
// protocol with incremental cooperative rebalancing, and consumers and
// idempotent producers on the internal topics.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/runnel/runnel/internal/testutil"
)

// javaWorker is one Kafka Connect worker JVM.
type javaWorker struct {
	name string
	url  string // REST base URL, http://127.0.0.1:PORT
	cmd  *exec.Cmd
	done chan struct{}
	log  *testutil.SyncBuffer
}

// startJavaConnect starts mainClass (ConnectStandalone or ConnectDistributed)
// with args; the worker is killed by t.Cleanup. rest is the worker's REST
// address.
func startJavaConnect(t testing.TB, name, rest, mainClass string, args ...string) *javaWorker {
	t.Helper()
	cp := javaClasspath(t)
	jvm := []string{"-cp", cp, "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx512m",
		"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"}
	cmd := exec.Command("java", append(append(jvm, mainClass), args...)...)
	w := &javaWorker{name: name, url: "http://" + rest, cmd: cmd, done: make(chan struct{}), log: &testutil.SyncBuffer{}}
	cmd.Stdout, cmd.Stderr = w.log, w.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting Kafka Connect %s: %v", name, err)
	}
	go func() {
		defer close(w.done)
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		w.kill()
		if t.Failed() {
			t.Logf("Kafka Connect %s output:\n%s", name, tail(w.log.String(), 60))
		}
	})
	return w
}

func (w *javaWorker) kill() {
	select {
	case <-w.done:
		return
	default:
	}
	_ = w.cmd.Process.Signal(syscall.SIGKILL)
	<-w.done
}

// waitREST waits until the worker's REST API answers GET /connectors with
// 200 (Jetty answers 404 while the resources are still being registered).
func (w *javaWorker) waitREST(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-w.done:
			t.Fatalf("Kafka Connect %s exited during start-up:\n%s", w.name, tail(w.log.String(), 40))
		default:
		}
		resp, err := http.Get(w.url + "/connectors")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("Kafka Connect %s REST API not ready after 90s:\n%s", w.name, tail(w.log.String(), 40))
}

// restJSON sends a request with a JSON body (nil: none) and decodes the
// JSON answer into out (nil: ignore); it fails the test on a non-2xx status.
func restJSON(t testing.TB, method, url string, body, out any) {
	t.Helper()
	var rd *strings.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(b))
	} else {
		rd = strings.NewReader("")
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var msg strings.Builder
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			msg.WriteString(sc.Text())
		}
		t.Fatalf("%s %s: status %d: %s", method, url, resp.StatusCode, msg.String())
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: decoding answer: %v", method, url, err)
		}
	}
}

// writeProps writes key=value lines to dir/name and returns the path.
func writeProps(t testing.TB, dir, name string, kv ...string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, "%s=%s\n", kv[i], kv[i+1])
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// appendLines appends line-<from>..line-<to-1> to path.
func appendLines(t testing.TB, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := from; i < to; i++ {
		fmt.Fprintf(w, "line-%06d\n", i)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// waitFileLines waits until path holds at least n distinct lines and returns
// every line read (with duplicates).
func waitFileLines(t testing.TB, path string, n int, timeout time.Duration, workers ...*javaWorker) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lines []string
	for {
		data, _ := os.ReadFile(path)
		lines = strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		if len(data) == 0 {
			lines = nil
		}
		distinct := map[string]bool{}
		for _, l := range lines {
			distinct[l] = true
		}
		if len(distinct) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			for _, w := range workers {
				t.Logf("Kafka Connect %s output:\n%s", w.name, tail(w.log.String(), 40))
			}
			t.Fatalf("%s has %d distinct lines after %v, want %d", path, len(distinct), timeout, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkEveryLine asserts that lines hold line-000000..line-<n-1> each at
// least once and nothing else, and returns how many duplicates there were.
func checkEveryLine(t testing.TB, lines []string, n int) int {
	t.Helper()
	seen := map[string]int{}
	for _, l := range lines {
		seen[l]++
	}
	for i := range n {
		if seen[fmt.Sprintf("line-%06d", i)] == 0 {
			t.Fatalf("line-%06d missing from the sink's file", i)
		}
	}
	if len(seen) != n {
		t.Fatalf("sink file has %d distinct lines, want %d", len(seen), n)
	}
	return len(lines) - n
}

func TestJavaConnectStandalone(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "access.log"), filepath.Join(dir, "out.log")
	appendLines(t, in, 0, 2000)
	rest := freeAddr(t)
	worker := writeProps(t, dir, "worker.properties",
		"bootstrap.servers", srv.Addr,
		"key.converter", "org.apache.kafka.connect.storage.StringConverter",
		"value.converter", "org.apache.kafka.connect.storage.StringConverter",
		"offset.storage.file.filename", filepath.Join(dir, "connect.offsets"),
		"offset.flush.interval.ms", "1000",
		"listeners", "http://"+rest,
		"plugin.discovery", "only_scan")
	src := writeProps(t, dir, "source.properties",
		"name", "local-file-source", "connector.class", "FileStreamSource", "tasks.max", "1",
		"file", in, "topic", "log-test")
	sink := writeProps(t, dir, "sink.properties",
		"name", "local-file-sink", "connector.class", "org.apache.kafka.connect.file.FileStreamSinkConnector", "tasks.max", "1",
		"file", out, "topics", "log-test")
	w := startJavaConnect(t, "standalone", rest, "org.apache.kafka.connect.cli.ConnectStandalone", worker, src, sink)
	waitFileLines(t, out, 2000, 2*time.Minute, w)
	appendLines(t, in, 2000, 2500)
	lines := waitFileLines(t, out, 2500, time.Minute, w)
	if dups := checkEveryLine(t, lines, 2500); dups != 0 {
		t.Fatalf("%d duplicate lines without any failure", dups)
	}
	if got := endOffsets(t, srv.Addr, "log-test")[0]; got != 2500 {
		t.Fatalf("topic log-test ends at offset %d, want 2500", got)
	}
}

// connectorStatus is the part of GET /connectors/{name}/status we check.
type connectorStatus struct {
	Connector struct {
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
	} `json:"connector"`
	Tasks []struct {
		ID       int    `json:"id"`
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
	} `json:"tasks"`
}

func TestJavaConnectDistributed(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "access.log"), filepath.Join(dir, "out.log")
	appendLines(t, in, 0, 1000)

	var workers []*javaWorker
	for i := range 2 {
		rest := freeAddr(t)
		props := writeProps(t, dir, fmt.Sprintf("worker%d.properties", i),
			"bootstrap.servers", srv.Addr,
			"group.id", "runnel-connect-cluster",
			"key.converter", "org.apache.kafka.connect.storage.StringConverter",
			"value.converter", "org.apache.kafka.connect.storage.StringConverter",
			"config.storage.topic", "connect-configs",
			"offset.storage.topic", "connect-offsets",
			"status.storage.topic", "connect-status",
			"config.storage.replication.factor", "1",
			"offset.storage.replication.factor", "1",
			"status.storage.replication.factor", "1",
			"offset.flush.interval.ms", "500",
			// A departed worker's tasks move after this delay (default 5 min).
			"scheduled.rebalance.max.delay.ms", "3000",
			"session.timeout.ms", "6000",
			"heartbeat.interval.ms", "1000",
			"listeners", "http://"+rest,
			"plugin.discovery", "only_scan")
		workers = append(workers, startJavaConnect(t, fmt.Sprintf("worker%d", i), rest, "org.apache.kafka.connect.cli.ConnectDistributed", props))
	}
	for _, w := range workers {
		w.waitREST(t)
	}

	// The internal topics the workers created through runnel are compacted.
	adm := kadm.NewClient(newClient(t, srv.Addr))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfgs, err := adm.DescribeTopicConfigs(ctx, "connect-configs", "connect-offsets", "connect-status")
	if err != nil {
		t.Fatalf("describing Connect's internal topics: %v", err)
	}
	for _, rc := range cfgs {
		if rc.Err != nil {
			t.Fatalf("describing %s: %v", rc.Name, rc.Err)
		}
		policy := ""
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" && c.Value != nil {
				policy = *c.Value
			}
		}
		if policy != "compact" {
			t.Errorf("topic %s has cleanup.policy %q, want compact", rc.Name, policy)
		}
	}

	restJSON(t, "POST", workers[0].url+"/connectors", map[string]any{"name": "src", "config": map[string]string{
		"connector.class": "FileStreamSource", "file": in, "topic": "dist-test", "tasks.max": "1"}}, nil)
	restJSON(t, "POST", workers[1].url+"/connectors", map[string]any{"name": "sink", "config": map[string]string{
		"connector.class": "FileStreamSink", "file": out, "topics": "dist-test", "tasks.max": "1"}}, nil)
	waitFileLines(t, out, 1000, 2*time.Minute, workers...)

	// Both tasks run, and the two workers share them.
	owners := map[string]string{}
	deadline := time.Now().Add(time.Minute)
	for {
		running := 0
		for _, name := range []string{"src", "sink"} {
			var st connectorStatus
			restJSON(t, "GET", workers[0].url+"/connectors/"+name+"/status", nil, &st)
			if len(st.Tasks) == 1 && st.Tasks[0].State == "RUNNING" {
				running++
				owners[name] = st.Tasks[0].WorkerID
			}
		}
		if running == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tasks not both RUNNING after a minute: %v", owners)
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("task owners: %v", owners)

	// Kill -9 the worker that runs the source task; its task moves to the
	// other worker and continues from the committed offsets.
	victim, survivor := workers[0], workers[1]
	if !strings.Contains(victim.url, owners["src"]) {
		victim, survivor = workers[1], workers[0]
	}
	victim.kill()
	appendLines(t, in, 1000, 2000)
	lines := waitFileLines(t, out, 2000, 2*time.Minute, survivor)
	dups := checkEveryLine(t, lines, 2000)
	t.Logf("after kill -9 of %s: 2000 distinct lines, %d duplicates (records produced but not yet in a flushed offset)", victim.name, dups)
	var st connectorStatus
	restJSON(t, "GET", survivor.url+"/connectors/src/status", nil, &st)
	if len(st.Tasks) != 1 || !strings.Contains(survivor.url, st.Tasks[0].WorkerID) {
		t.Fatalf("source task not moved to %s: %+v", survivor.url, st)
	}
}
