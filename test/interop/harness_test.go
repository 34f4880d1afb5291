package interop

// Shared helpers for the interop suite. Everything here is unexported and
// meant to be reused by any *_test.go file in this package (the consumer-group
// suite builds on it):
//
//	srv := startServer(t)                  // real `runnel server` process, stopped by t.Cleanup
//	srv.Addr                               // "127.0.0.1:PORT"
//	kill9(t, srv); restart(t, srv)         // crash and come back on the same data dir and port
//	kcat := needKcat(t)                    // path of kcat, or skip/fail naming `make deps-kcat`
//	node := nodePath(t)                    // path of node with kafkajs installed (`make deps-node`)
//	res := runJava(t, "org.apache.kafka.tools.TopicCommand", "--bootstrap-server", srv.Addr, "--list")
//
// Tool checks call missingTool: with RUNNEL_INTEROP=1 (make test / make
// interop) a missing tool fails the test, otherwise it skips it.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/testutil"
	"github.com/runnel/runnel/internal/testutil/pgtest"
)

// runnelBin is the runnel binary built once by TestMain.
var runnelBin string

// repoRoot is the module root (where go.mod lives), found by TestMain.
var repoRoot string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	defer pgtest.Stop()
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop: getting working directory:", err)
		return 1
	}
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	if _, err := os.Stat(filepath.Join(repoRoot, "go.mod")); err != nil {
		fmt.Fprintln(os.Stderr, "interop: finding the module root:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "runnel-interop-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop: making a temp dir for the binary:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	runnelBin = filepath.Join(dir, "runnel")
	build := exec.Command("go", "build", "-o", runnelBin, "./cmd/runnel")
	build.Dir = repoRoot
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "interop: building ./cmd/runnel:", err)
		return 1
	}
	return m.Run()
}

// interopRequired reports whether missing tools must fail the suite
// (RUNNEL_INTEROP=1, set by `make test` and `make interop`).
func interopRequired() bool { return os.Getenv("RUNNEL_INTEROP") == "1" }

// missingTool fails (RUNNEL_INTEROP=1) or skips the test because a tool is
// not installed; fix says how to install it (e.g. "run `make deps-kcat`").
func missingTool(t testing.TB, what, fix string) {
	t.Helper()
	msg := fmt.Sprintf("%s is not installed: %s", what, fix)
	if interopRequired() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// ---------------------------------------------------------------------------
// The server process.

// server is one `runnel server` process (and its restarts) on a fixed data
// dir and port. Its methods are not safe for concurrent use; the test
// goroutine drives it.
type server struct {
	t       testing.TB
	Addr    string // "127.0.0.1:PORT", the same across restarts
	DataDir string
	args    []string // extra arguments after the fixed ones

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited; waitErr is then set
	// waitErr is cmd.Wait's result, valid once done is closed.
	waitErr error
	log     *testutil.SyncBuffer // stdout+stderr of every incarnation
}

// serverOption tweaks startServer.
type serverOption func(*server)

// withDataDir runs the server on dir instead of a fresh t.TempDir().
func withDataDir(dir string) serverOption { return func(s *server) { s.DataDir = dir } }

// withArgs appends command-line arguments (e.g. "--config", file).
func withArgs(args ...string) serverOption {
	return func(s *server) { s.args = append(s.args, args...) }
}

// withSettings writes the Kafka-named settings to a server.properties in a
// temp dir and passes it with --config.
func withSettings(settings map[string]string) serverOption {
	return func(s *server) {
		var b strings.Builder
		for k, v := range settings {
			fmt.Fprintf(&b, "%s=%s\n", k, v)
		}
		path := filepath.Join(s.t.TempDir(), "server.properties")
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			s.t.Fatalf("writing %s: %v", path, err)
		}
		s.args = append(s.args, "--config", path)
	}
}

// startServer starts `runnel server --listen 127.0.0.1:<free port>
// --data-dir <t.TempDir()>` as a real process and returns once it accepts
// TCP connections. t.Cleanup stops it with SIGTERM (and checks it exits 0);
// when the test failed the server's log is printed.
func startServer(t testing.TB, opts ...serverOption) *server {
	t.Helper()
	s := &server{t: t, log: &testutil.SyncBuffer{}}
	for _, o := range opts {
		o(s)
	}
	if s.DataDir == "" {
		s.DataDir = t.TempDir()
	}
	t.Cleanup(func() {
		if s.running() {
			s.stop()
		}
		if t.Failed() {
			t.Logf("runnel server log (%s):\n%s", s.Addr, s.log.String())
		}
	})
	// A free port can be taken between probing and binding; retry a few times.
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		s.Addr = freeAddr(t)
		if err = s.spawn(); err == nil {
			return s
		}
	}
	t.Fatalf("starting runnel server: %v\nlog:\n%s", err, s.log.String())
	return nil
}

// spawn starts one incarnation on s.Addr and waits until it accepts.
func (s *server) spawn() error {
	args := append([]string{"server", "--listen", s.Addr, "--data-dir", s.DataDir}, s.args...)
	cmd := exec.Command(runnelBin, args...)
	fmt.Fprintf(s.log, "--- %s %s\n", runnelBin, strings.Join(args, " "))
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("running %s: %w", runnelBin, err)
	}
	s.cmd, s.done, s.waitErr = cmd, make(chan struct{}), nil
	go func(done chan struct{}) { // owned by s: ends when the process exits
		s.waitErr = cmd.Wait()
		close(done)
	}(s.done)

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("runnel server exited before accepting: %v", s.waitErr)
		default:
		}
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.cmd.Process.Kill()
	<-s.done
	return fmt.Errorf("runnel server did not accept on %s within 30s", s.Addr)
}

// running reports whether the current incarnation is still alive.
func (s *server) running() bool {
	if s.done == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits for a clean exit (status 0); after 30s it
// kills the process and fails the test.
func (s *server) stop() {
	s.t.Helper()
	if !s.running() {
		return
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Errorf("sending SIGTERM to runnel server: %v", err)
	}
	select {
	case <-s.done:
		if s.waitErr != nil {
			s.t.Errorf("runnel server did not exit cleanly after SIGTERM: %v", s.waitErr)
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		s.t.Errorf("runnel server still running 30s after SIGTERM; killed it")
	}
}

// kill9 kills the server with SIGKILL (no chance to flush) and waits for it
// to be gone.
func kill9(t testing.TB, s *server) {
	t.Helper()
	if !s.running() {
		t.Fatalf("kill9: runnel server on %s is not running", s.Addr)
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("sending SIGKILL to runnel server: %v", err)
	}
	<-s.done
}

// stopServer stops the server with SIGTERM and requires exit status 0.
func stopServer(t testing.TB, s *server) {
	t.Helper()
	s.stop()
}

// restart starts a new incarnation on the same data dir and port (stopping
// the current one with SIGTERM first if it still runs) and waits until it
// accepts. Clients that cached the address keep working.
func restart(t testing.TB, s *server) {
	t.Helper()
	if s.running() {
		s.stop()
	}
	var err error
	// The old socket may linger briefly; retry binding the same port.
	for attempt := 0; attempt < 10; attempt++ {
		if err = s.spawn(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("restarting runnel server on %s: %v\nlog:\n%s", s.Addr, err, s.log.String())
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// ---------------------------------------------------------------------------
// Go clients against the server.

// newClient returns a franz-go client for s, closed by t.Cleanup.
func newClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatalf("creating franz-go client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates topic with the given partitions through the Kafka
// admin API (franz-go kadm) and fails the test on any error.
func createTopic(t testing.TB, addr, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("creating topic %q with %d partitions: %v", topic, partitions, err)
	}
}

// endOffsets returns each partition's log end offset.
func endOffsets(t testing.TB, addr, topic string) map[int32]int64 {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lo, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		t.Fatalf("listing end offsets of %q: %v", topic, err)
	}
	out := map[int32]int64{}
	lo.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// consumeAll reads every record of topic from the start of every partition
// (no consumer group) until want records arrived, failing after timeout.
func consumeAll(t testing.TB, addr, topic string, want int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr,
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consuming %q: got %d of %d records within %v", topic, len(out), want, timeout)
		}
		fs.EachError(func(tp string, p int32, err error) {
			t.Errorf("fetching %s/%d: %v", tp, p, err)
		})
		if t.Failed() {
			t.FailNow()
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// ---------------------------------------------------------------------------
// External tools.

// cmdResult is what an external command printed and how it ended.
type cmdResult struct {
	Stdout, Stderr string
	Err            error // nil on exit status 0
}

// runCmd runs name with args in dir (repoRoot if empty), feeding stdin (may
// be nil), killing it after timeout. It never fails the test itself.
func runCmd(t testing.TB, timeout time.Duration, dir string, stdin io.Reader, name string, args ...string) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	if dir == "" {
		dir = repoRoot
	}
	cmd.Dir = dir
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("running %s: killed after %v: %w", name, timeout, errors.Join(err, ctx.Err()))
	} else if err != nil {
		err = fmt.Errorf("running %s %s: %w", name, strings.Join(args, " "), err)
	}
	return cmdResult{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}

// mustOK fails the test with the command's output when it did not succeed.
func (r cmdResult) mustOK(t testing.TB) cmdResult {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", r.Err, tail(r.Stdout, 4000), tail(r.Stderr, 4000))
	}
	return r
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// needKcat returns the path of kcat, or fails/skips naming `make deps-kcat`.
func needKcat(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		missingTool(t, "kcat (librdkafka)", "run `make deps-kcat` (scripts/install-kcat.sh)")
	}
	return p
}

// nodeDir is the directory holding the kafkajs scripts and node_modules.
func nodeDir() string { return filepath.Join(repoRoot, "test", "interop", "node") }

// nodePath returns the path of node once kafkajs is installed in
// test/interop/node/node_modules, or fails/skips naming `make deps-node`.
func nodePath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("node")
	if err != nil {
		missingTool(t, "node", "install Node.js 18+ and npm (apt-get install nodejs npm), then run `make deps-node`")
	}
	if _, err := os.Stat(filepath.Join(nodeDir(), "node_modules", "kafkajs", "package.json")); err != nil {
		missingTool(t, "kafkajs (test/interop/node/node_modules)", "run `make deps-node` (scripts/install-node-deps.sh)")
	}
	return p
}

// runNode runs a script from test/interop/node with args, in that directory.
func runNode(t testing.TB, timeout time.Duration, script string, args ...string) cmdResult {
	t.Helper()
	node := nodePath(t)
	return runCmd(t, timeout, nodeDir(), nil, node, append([]string{script}, args...)...)
}

// kafkaJarsDir is where scripts/install-kafka-jars.sh puts the Kafka jars.
func kafkaJarsDir() string { return filepath.Join(repoRoot, ".deps", "kafka-jars") }

// javaClasspath returns a classpath of every jar fetched by `make
// deps-java` (kafka-clients, kafka-tools and dependencies), or fails/skips.
func javaClasspath(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("java"); err != nil {
		missingTool(t, "java", "install a JDK 17+ and Maven (apt-get install openjdk-17-jdk-headless maven), then run `make deps-java`")
	}
	jars, _ := filepath.Glob(filepath.Join(kafkaJarsDir(), "*.jar"))
	hasTools := false
	for _, j := range jars {
		if strings.HasPrefix(filepath.Base(j), "kafka-tools-") {
			hasTools = true
		}
	}
	if !hasTools {
		missingTool(t, "the Kafka jars (.deps/kafka-jars)", "run `make deps-java` (scripts/install-kafka-jars.sh)")
	}
	return strings.Join(jars, string(os.PathListSeparator))
}

// javaTimeout bounds every runJava call.
const javaTimeout = 3 * time.Minute

// runJava runs mainClass from the Kafka jars with args (JVM tuned for quick
// start-up) and returns its output; it does not fail the test itself (use
// mustOK).
func runJava(t testing.TB, mainClass string, args ...string) cmdResult {
	t.Helper()
	return runJavaInput(t, nil, mainClass, args...)
}

// runJavaInput is runJava with stdin.
func runJavaInput(t testing.TB, stdin io.Reader, mainClass string, args ...string) cmdResult {
	t.Helper()
	cp := javaClasspath(t)
	jvm := []string{
		"-cp", cp,
		"-Xshare:auto", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx512m",
		"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
	}
	return runCmd(t, javaTimeout, "", stdin, "java", append(append(jvm, mainClass), args...)...)
}

// atoi parses a decimal integer or fails the test.
func atoi(t testing.TB, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		t.Fatalf("parsing %q as an integer: %v", s, err)
	}
	return n
}
