package interop

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/testutil"
)

// connectProc is one `runnel connect standalone` process (and its
// restarts) with its REST API on a fixed port.
type connectProc struct {
	t      testing.TB
	bin    string
	args   []string
	url    string
	prefix []string // command prefix (e.g. setpriv to drop root)
	mode   string   // "standalone" (default) or "distributed"
	cmd    *exec.Cmd
	done   chan struct{}
	log    *testutil.SyncBuffer
}

// writeConnectFiles writes the worker config (REST on a free port) and the
// given connector configs into dir; it returns the worker file, the
// connector files and the REST URL.
func writeConnectFiles(t testing.TB, dir, brokers string, extra string, conns map[string]string) (string, []string, string) {
	t.Helper()
	rest := freeAddr(t)
	worker := filepath.Join(dir, "worker.properties")
	content := fmt.Sprintf("bootstrap.servers=%s\noffset.storage.file.filename=%s\noffset.flush.interval.ms=1000\nlisteners=http://%s\n"+
		"key.converter=org.apache.kafka.connect.json.JsonConverter\nvalue.converter=org.apache.kafka.connect.json.JsonConverter\n"+
		"task.restart.backoff.ms=200\ntask.restart.backoff.max.ms=1000\n%s",
		brokers, filepath.Join(dir, "connect.offsets"), rest, extra)
	if err := os.WriteFile(worker, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	var files []string
	for name, c := range conns {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	return worker, files, "http://" + rest
}

func startConnect(t testing.TB, url string, prefix []string, bin string, args ...string) *connectProc {
	t.Helper()
	return startConnectMode(t, "standalone", url, prefix, bin, args...)
}

func startConnectMode(t testing.TB, mode, url string, prefix []string, bin string, args ...string) *connectProc {
	t.Helper()
	p := &connectProc{t: t, bin: bin, args: args, url: url, prefix: prefix, mode: mode, log: &testutil.SyncBuffer{}}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("runnel connect log:\n%s", tail(p.log.String(), 20000))
		}
	})
	p.spawn()
	return p
}

func (p *connectProc) spawn() {
	p.t.Helper()
	mode := p.mode
	if mode == "" {
		mode = "standalone"
	}
	argv := append(append(append([]string{}, p.prefix...), p.bin, "connect", mode), p.args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	fmt.Fprintf(p.log, "--- %s\n", strings.Join(argv, " "))
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("starting runnel connect: %v", err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func(done chan struct{}) { // owned by p: ends when the process exits
		cmd.Wait()
		close(done)
	}(p.done)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			p.t.Fatalf("runnel connect exited at start:\n%s", p.log.String())
		default:
		}
		if resp, err := http.Get(p.url + "/connectors"); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("runnel connect REST API not up within 30s:\n%s", p.log.String())
}

func (p *connectProc) kill9() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *connectProc) stop() {
	if p.done == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			p.t.Errorf("runnel connect exited with %d after SIGTERM", code)
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Errorf("runnel connect still running 30s after SIGTERM")
	}
}

// cli runs `runnel connect <args> --url URL`.
func (p *connectProc) cli(args ...string) cmdResult {
	p.t.Helper()
	return runCmd(p.t, 60*time.Second, "", nil, p.bin, append(append([]string{"connect"}, args...), "--url", p.url)...)
}

func (p *connectProc) taskState(name string) (string, string) {
	p.t.Helper()
	r := p.cli("status", name)
	if r.Err != nil {
		return "ERR", r.Err.Error()
	}
	var s struct {
		Tasks []struct{ State, Trace string }
	}
	if err := json.Unmarshal([]byte(r.Stdout), &s); err != nil || len(s.Tasks) == 0 {
		return "NONE", r.Stdout
	}
	return s.Tasks[0].State, s.Tasks[0].Trace
}

func connectWait(t testing.TB, what string, timeout time.Duration, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// connectWaitAll waits until path holds total distinct lines, gives late
// duplicates a second to arrive, and returns the lines and their counts.
func connectWaitAll(t testing.TB, path string, total int) ([]string, map[string]int) {
	t.Helper()
	connectWait(t, "every line in the output", 60*time.Second, func() bool {
		seen := map[string]bool{}
		for _, l := range connectReadLines(t, path) {
			seen[l] = true
		}
		return len(seen) == total
	})
	time.Sleep(time.Second)
	got := connectReadLines(t, path)
	count := map[string]int{}
	for _, l := range got {
		count[l]++
	}
	return got, count
}

func connectReadLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

const connectTutorialSource = "name=local-file-source\nconnector.class=FileStreamSource\ntasks.max=1\nfile=%s\ntopic=connect-test\n"
const connectTutorialSink = "name=local-file-sink\nconnector.class=FileStreamSink\ntasks.max=1\nfile=%s\ntopics=connect-test\n"

// TestConnectStandaloneKill9 runs Kafka's Connect quickstart with the real
// binary: a file source tailing a growing log into a topic, a file sink
// writing it out. The worker is killed with SIGKILL mid-stream and
// restarted: every line arrives, in order, and the only duplicates are a
// re-delivered tail (source offsets not flushed, sink offsets not
// committed), which the test counts and logs.
func TestConnectStandaloneKill9(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "test.txt"), filepath.Join(dir, "test.sink.txt")
	// A killed sink's consumer stays in the group until its session times
	// out; a short session lets the restarted one take over sooner.
	worker, conns, url := writeConnectFiles(t, dir, srv.Addr, "consumer.session.timeout.ms=6000\n", map[string]string{
		"connect-file-source.properties": fmt.Sprintf(connectTutorialSource, in),
		"connect-file-sink.properties":   fmt.Sprintf(connectTutorialSink, out),
	})
	p := startConnect(t, url, nil, runnelBin, append([]string{worker}, conns...)...)

	// A writer appends lines steadily (about 2000/s) and rotates the log
	// by rename halfway; the worker is killed with SIGKILL while it runs.
	const total = 20000
	writerDone := make(chan error, 1)
	go func() { // owned by this test: ends after total lines
		writerDone <- func() error {
			f, err := os.OpenFile(in, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				return err
			}
			for i := 0; i < total; i++ {
				if i == total/2 {
					f.Close()
					if err := os.Rename(in, in+".1"); err != nil {
						return err
					}
					if f, err = os.OpenFile(in, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
						return err
					}
				}
				fmt.Fprintf(f, "line %06d %s\n", i, strings.Repeat("x", 88))
				if i%20 == 19 {
					time.Sleep(10 * time.Millisecond)
				}
			}
			return f.Close()
		}()
	}()
	connectWait(t, "some lines in the output", 30*time.Second, func() bool { return len(connectReadLines(t, out)) > total/5 })
	p.kill9()
	before := len(connectReadLines(t, out))
	time.Sleep(300 * time.Millisecond)
	p.spawn()
	if err := <-writerDone; err != nil {
		t.Fatalf("writing the log: %v", err)
	}
	got, count := connectWaitAll(t, out, total)
	dups := 0
	for _, n := range count {
		dups += n - 1
	}
	if len(count) != total {
		t.Errorf("output has %d distinct lines, want %d", len(count), total)
	}
	var produced int64
	for _, n := range endOffsets(t, srv.Addr, "connect-test") {
		produced += n
	}
	t.Logf("records on connect-test: %d for %d lines", produced, total)
	t.Logf("kill -9 after %d lines written out: %d lines in the output, %d distinct, %d duplicates (the re-delivered tail)", before, len(got), len(count), dups)
	if dups > total/4 {
		t.Errorf("%d duplicates: more than the unflushed tail", dups)
	}
	// Order: after removing repeats the lines come in the order written.
	last := -1
	for _, l := range got {
		var n int
		fmt.Sscanf(l, "line %d", &n)
		if n < last-total/4 {
			t.Errorf("line %d after %d: out of order beyond a re-delivery", n, last)
			break
		}
		last = max(last, n)
	}

	// The CLI over the REST API.
	if r := p.cli("list").mustOK(t); !strings.Contains(r.Stdout, "local-file-source") || !strings.Contains(r.Stdout, "RUNNING") {
		t.Errorf("connect list:\n%s", r.Stdout)
	}
	p.cli("pause", "local-file-sink").mustOK(t)
	if st, _ := p.taskState("local-file-sink"); st != "PAUSED" {
		t.Errorf("paused sink task is %s", st)
	}
	p.cli("resume", "local-file-sink").mustOK(t)
	p.cli("restart", "local-file-sink").mustOK(t)
	connectWait(t, "the sink RUNNING after restart", 10*time.Second, func() bool { st, _ := p.taskState("local-file-sink"); return st == "RUNNING" })
	if r := p.cli("offsets", "local-file-source").mustOK(t); !strings.Contains(r.Stdout, in) {
		t.Errorf("connect offsets:\n%s", r.Stdout)
	}
	p.cli("delete", "local-file-sink").mustOK(t)
	if r := p.cli("status", "local-file-sink"); r.Err == nil || !strings.Contains(r.Stderr, "404") {
		t.Errorf("status of a deleted connector: %v %s", r.Err, r.Stderr)
	}
	cfg := filepath.Join(dir, "again.json")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{"name":"again","config":{"connector.class":"FileStreamSink","topics":"connect-test","file":%q}}`, filepath.Join(dir, "again.txt"))), 0o644)
	p.cli("create", cfg).mustOK(t)
	connectWait(t, "the re-created sink to copy the topic", 30*time.Second, func() bool { return len(connectReadLines(t, filepath.Join(dir, "again.txt"))) >= total })
}

// TestConnectUnreadableSourceRecovers: a worker running as an unprivileged
// user (setpriv) tails a file it may not read: the task shows FAILED with
// a trace, and runs again by itself once the file is readable.
func TestConnectUnreadableSourceRecovers(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and setpriv to run the worker as another user (root reads any file)")
	}
	srv := startServer(t)
	dir, err := os.MkdirTemp("", "runnel-connect-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	bin := filepath.Join(dir, "runnel")
	copyFile(t, runnelBin, bin, 0o755)
	in, out := filepath.Join(dir, "secret.log"), filepath.Join(dir, "out.txt")
	os.WriteFile(in, []byte("first\nsecond\n"), 0o600)
	worker, conns, url := writeConnectFiles(t, dir, srv.Addr, "", map[string]string{
		"src.properties":  fmt.Sprintf(connectTutorialSource, in),
		"sink.properties": fmt.Sprintf(connectTutorialSink, out),
	})
	p := startConnect(t, url, []string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"}, bin, append([]string{worker}, conns...)...)
	var trace string
	connectWait(t, "the source FAILED", 20*time.Second, func() bool {
		var st string
		st, trace = p.taskState("local-file-source")
		return st == "FAILED"
	})
	if !strings.Contains(trace, "permission denied") {
		t.Errorf("trace does not say why: %q", trace)
	}
	if err := os.Chmod(in, 0o644); err != nil {
		t.Fatal(err)
	}
	connectWait(t, "the source RUNNING by itself", 20*time.Second, func() bool { st, _ := p.taskState("local-file-source"); return st == "RUNNING" })
	connectWait(t, "the lines in the output", 20*time.Second, func() bool { return len(connectReadLines(t, out)) == 2 })
}

func copyFile(t testing.TB, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestConnectDistributedKill9: two `runnel connect distributed` processes
// in one group split a file source and a file sink; the worker running the
// source is killed with SIGKILL; after its session times out the source
// moves to the survivor and continues from the offsets in the offset topic
// (duplicates only of the unflushed tail, counted), every line arriving.
func TestConnectDistributedKill9(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "dist.log"), filepath.Join(dir, "dist.out")
	var procs []*connectProc
	for _, name := range []string{"w1", "w2"} {
		wdir := filepath.Join(dir, name)
		os.MkdirAll(wdir, 0o755)
		worker, _, url := writeConnectFiles(t, wdir, srv.Addr, "group.id=connect-cluster\nconfig.storage.topic=connect-configs\noffset.storage.topic=connect-offsets\nstatus.storage.topic=connect-status\nheartbeat.interval.ms=1000\nrebalance.timeout.ms=10000\n", nil)
		procs = append(procs, startConnectMode(t, "distributed", url, nil, runnelBin, worker))
	}
	src := filepath.Join(dir, "src.properties")
	os.WriteFile(src, []byte(fmt.Sprintf(connectTutorialSource, in)), 0o644)
	sink := filepath.Join(dir, "sink.json")
	os.WriteFile(sink, []byte(fmt.Sprintf(`{"name":"local-file-sink","config":{"connector.class":"FileStreamSink","topics":"connect-test","file":%q}}`, out)), 0o644)
	procs[0].cli("create", src).mustOK(t)
	procs[1].cli("create", sink).mustOK(t)

	owner := func(p *connectProc, name string) string {
		r := p.cli("status", name)
		var s struct {
			Tasks []struct {
				State    string
				WorkerID string `json:"worker_id"`
			}
		}
		if r.Err != nil || json.Unmarshal([]byte(r.Stdout), &s) != nil || len(s.Tasks) == 0 || s.Tasks[0].State != "RUNNING" {
			return ""
		}
		return s.Tasks[0].WorkerID
	}
	var srcOwner, sinkOwner string
	connectWait(t, "both connectors RUNNING", 60*time.Second, func() bool {
		srcOwner, sinkOwner = owner(procs[0], "local-file-source"), owner(procs[1], "local-file-sink")
		return srcOwner != "" && sinkOwner != ""
	})
	if srcOwner == sinkOwner {
		t.Errorf("both connectors on %s; the two workers should split them", srcOwner)
	}
	victim, survivor := procs[0], procs[1]
	if strings.TrimPrefix(procs[1].url, "http://") == srcOwner {
		victim, survivor = procs[1], procs[0]
	}

	const total = 6000
	writerDone := make(chan error, 1)
	go func() { // owned by this test: ends after total lines
		writerDone <- func() error {
			f, err := os.OpenFile(in, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				return err
			}
			defer f.Close()
			for i := 0; i < total; i++ {
				fmt.Fprintf(f, "line %06d %s\n", i, strings.Repeat("x", 88))
				if i%20 == 19 {
					time.Sleep(10 * time.Millisecond)
				}
			}
			return nil
		}()
	}()
	connectWait(t, "lines flowing", 30*time.Second, func() bool { return len(connectReadLines(t, out)) > total/5 })
	victim.kill9()
	killedAt := time.Now()
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
	me := strings.TrimPrefix(survivor.url, "http://")
	connectWait(t, "the source to move to the survivor", 60*time.Second, func() bool { return owner(survivor, "local-file-source") == me })
	moved := time.Since(killedAt)
	got, count := connectWaitAll(t, out, total)
	t.Logf("source moved %s after the kill; output %d lines, %d distinct, %d duplicates", moved.Round(100*time.Millisecond), len(got), len(count), len(got)-len(count))
	if len(count) != total {
		t.Errorf("%d distinct lines, want %d", len(count), total)
	}
	if len(got)-len(count) > total/2 {
		t.Errorf("%d duplicates: the move did not continue from the stored offsets", len(got)-len(count))
	}
}
