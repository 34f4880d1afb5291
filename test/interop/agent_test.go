package interop

// Acceptance tests of `runnel agent` (issue 5): real agent processes run
// Flume configuration files; data goes in over real sockets and files and is
// checked where the sinks put it (files, a runnel server).

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	// The components the runnel binary links, so flow.Lookup answers as
	// the agent does.
	_ "github.com/runnel/runnel/internal/components"
	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/seqfile"
	"github.com/runnel/runnel/internal/testutil"
)

// agentProc is one `runnel agent` process.
type agentProc struct {
	t       testing.TB
	conf    string // path of its config file
	metrics string // http://127.0.0.1:PORT
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error // valid once done is closed
	log     *testutil.SyncBuffer
}

// startAgent writes conf to a file and runs `runnel agent -f FILE -n a1
// --http 127.0.0.1:PORT` with extra args, until t ends (SIGTERM, exit 0
// required). It returns once the metrics endpoint answers.
func startAgent(t testing.TB, conf string, args ...string) *agentProc {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &agentProc{t: t, conf: path, log: &testutil.SyncBuffer{}}
	t.Cleanup(func() {
		a.stop()
		if t.Failed() {
			t.Logf("runnel agent log:\n%s", tail(a.log.String(), 8000))
		}
	})
	a.spawn(args...)
	return a
}

func (a *agentProc) spawn(args ...string) {
	a.t.Helper()
	httpAddr := freeAddr(a.t)
	a.metrics = "http://" + httpAddr
	cmd := exec.Command(runnelBin, append([]string{"agent", "-f", a.conf, "-n", "a1", "--http", httpAddr}, args...)...)
	cmd.Stdout, cmd.Stderr = a.log, a.log
	if err := cmd.Start(); err != nil {
		a.t.Fatalf("starting runnel agent: %v", err)
	}
	a.cmd, a.done = cmd, make(chan struct{})
	go func(done chan struct{}) { // owned by a: ends when the process exits
		a.waitErr = cmd.Wait()
		close(done)
	}(a.done)
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case <-a.done:
			a.t.Fatalf("runnel agent exited early: %v\n%s", a.waitErr, a.log.String())
		default:
		}
		if resp, err := http.Get(a.metrics + "/metrics"); err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("runnel agent did not serve /metrics within 30s\n%s", a.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and requires a clean exit within 30 s.
func (a *agentProc) stop() {
	a.t.Helper()
	if a.done == nil {
		return
	}
	select {
	case <-a.done:
		return
	default:
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
		if a.waitErr != nil {
			a.t.Errorf("runnel agent did not exit cleanly after SIGTERM: %v", a.waitErr)
		}
	case <-time.After(30 * time.Second):
		a.cmd.Process.Kill()
		<-a.done
		a.t.Errorf("runnel agent still running 30s after SIGTERM; killed it")
	}
}

// counters fetches /metrics (Flume's JSON).
func (a *agentProc) counters() map[string]map[string]string {
	a.t.Helper()
	resp, err := http.Get(a.metrics + "/metrics")
	if err != nil {
		a.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	var m map[string]map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		a.t.Fatalf("decoding /metrics: %v", err)
	}
	return m
}

// waitCounter waits until comp's counter key reaches at least want.
func (a *agentProc) waitCounter(comp, key string, want int64, timeout time.Duration) {
	a.t.Helper()
	var got string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got = a.counters()[comp][key]
		if n, _ := strconv.ParseInt(got, 10, 64); n >= want {
			return
		}
	}
	a.t.Fatalf("%s %s = %q after %v, want %d", comp, key, got, timeout, want)
}

// waitLog waits until the agent's log contains s.
func (a *agentProc) waitLog(s string, timeout time.Duration) {
	a.t.Helper()
	for deadline := time.Now().Add(timeout); !strings.Contains(a.log.String(), s); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			a.t.Fatalf("agent log lacks %q after %v", s, timeout)
		}
	}
}

// ncConn is a netcat-style client: lines out, "OK" replies in.
type ncConn struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

// dialNetcat connects to a netcat source, retrying while it starts.
func dialNetcat(t testing.TB, addr string) *ncConn {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			t.Cleanup(func() { c.Close() })
			return &ncConn{t: t, c: c, r: bufio.NewReader(c)}
		}
		if time.Now().After(deadline) {
			t.Fatalf("netcat source on %s never listened: %v", addr, err)
		}
	}
}

// send writes each line and requires Flume's "OK" for it.
func (n *ncConn) send(lines ...string) {
	n.t.Helper()
	n.c.SetDeadline(time.Now().Add(30 * time.Second))
	for _, l := range lines {
		if _, err := n.c.Write([]byte(l + "\n")); err != nil {
			n.t.Fatalf("sending %q: %v", l, err)
		}
		if reply, err := n.r.ReadString('\n'); reply != "OK\n" {
			n.t.Fatalf("reply to %q: %q, %v", l, reply, err)
		}
	}
}

// lines returns n numbered lines with prefix.
func lines(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s-%04d", prefix, i))
	}
	return out
}

// dirLines returns the lines of every file in dir, files in name order.
func dirLines(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")...)
	}
	if len(out) == 1 && out[0] == "" {
		return nil
	}
	return out
}

// The Flume user guide's first config, unchanged but for the port: lines
// sent over TCP are answered OK and logged in Flume's format.
func TestAgentTutorial(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "examples", "agent", "example.conf"))
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	a := startAgent(t, strings.Replace(string(data), "= 44444", "= "+port, 1))
	nc := dialNetcat(t, addr)
	nc.send("Hello world!", "second line")
	a.waitLog(`msg="Event: { headers:{} body: 48 65 6C 6C 6F 20 77 6F 72 6C 64 21`, 10*time.Second)
	a.waitLog(`second line }" sink=k1`, 10*time.Second)
	c := a.counters()
	if c["SOURCE.r1"]["EventAcceptedCount"] != "2" || c["CHANNEL.c1"]["ChannelCapacity"] != "1000" {
		t.Errorf("counters %v", c)
	}
}

// Replicating fan-out: one netcat source, two channels, two file_roll sinks;
// each directory gets every line, in order.
func TestAgentReplicatingFanOut(t *testing.T) {
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	d1, d2 := t.TempDir(), t.TempDir()
	a := startAgent(t, fmt.Sprintf(`a1.sources = r1
a1.channels = c1 c2
a1.sinks = k1 k2
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = %s
a1.sources.r1.channels = c1 c2
a1.sources.r1.selector.type = replicating
a1.channels.c1.type = memory
a1.channels.c2.type = memory
a1.sinks.k1.type = file_roll
a1.sinks.k1.sink.directory = %s
a1.sinks.k1.channel = c1
a1.sinks.k2.type = file_roll
a1.sinks.k2.sink.directory = %s
a1.sinks.k2.channel = c2
`, port, d1, d2))
	want := lines("fan", 0, 200)
	dialNetcat(t, addr).send(want...)
	a.waitCounter("SINK.k1", "EventDrainSuccessCount", 200, 20*time.Second)
	a.waitCounter("SINK.k2", "EventDrainSuccessCount", 200, 20*time.Second)
	for _, d := range []string{d1, d2} {
		if got := dirLines(t, d); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s holds %d lines, want the 200 sent in order (first %q)", d, len(got), got[:min(3, len(got))])
		}
	}
}

// Reload: the sink's directory is changed in the running agent's file;
// only the sink restarts, so the same client connection goes on, and later
// lines land in the new directory. An invalid edit is refused and logged.
func TestAgentReloadChangesSink(t *testing.T) {
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	d1, d2 := t.TempDir(), t.TempDir()
	conf := `a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = ` + port + `
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = file_roll
a1.sinks.k1.sink.directory = %s
a1.sinks.k1.channel = c1
`
	a := startAgent(t, fmt.Sprintf(conf, d1), "--reload-interval", "100ms")
	nc := dialNetcat(t, addr)
	nc.send(lines("before", 0, 10)...)
	a.waitCounter("SINK.k1", "EventDrainSuccessCount", 10, 20*time.Second)

	if err := os.WriteFile(a.conf, []byte(fmt.Sprintf(conf, d1)+"a1.channels.c1.capacity = many\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a.waitLog("config reload refused; keeping the running config", 10*time.Second)
	a.waitLog(`a1.channels.c1.capacity = \"many\": not a whole number`, time.Second)
	nc.send("still-running")

	if err := os.WriteFile(a.conf, []byte(fmt.Sprintf(conf, d2)), 0o644); err != nil {
		t.Fatal(err)
	}
	a.waitLog(`msg="config reloaded"`, 10*time.Second)
	a.waitLog(`restarted="[sink k1]" kept="[source r1]"`, time.Second)
	nc.send(lines("after", 0, 10)...)
	a.waitCounter("SINK.k1", "EventDrainSuccessCount", 10, 20*time.Second)
	got1, got2 := dirLines(t, d1), dirLines(t, d2)
	want1 := append(lines("before", 0, 10), "still-running")
	if strings.Join(got1, ",") != strings.Join(want1, ",") {
		t.Errorf("old directory holds %q", got1)
	}
	if strings.Join(got2, ",") != strings.Join(lines("after", 0, 10), ",") {
		t.Errorf("new directory holds %q", got2)
	}
}

// Failover between two kafka sinks on two runnel servers: the preferred
// server is stopped, the lines go to the other one; it comes back and takes
// the lines again. Every line is in exactly one of the two topics.
func TestAgentFailoverKafka(t *testing.T) {
	s1, s2 := startServer(t), startServer(t)
	createTopic(t, s1.Addr, "events", 1, nil)
	createTopic(t, s2.Addr, "events", 1, nil)
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	sink := func(k, srv string) string {
		return fmt.Sprintf(`a1.sinks.%[1]s.type = org.apache.flume.sink.kafka.KafkaSink
a1.sinks.%[1]s.kafka.bootstrap.servers = %[2]s
a1.sinks.%[1]s.kafka.topic = events
a1.sinks.%[1]s.kafka.producer.acks = all
a1.sinks.%[1]s.kafka.producer.request.timeout.ms = 1000
a1.sinks.%[1]s.kafka.producer.delivery.timeout.ms = 2000
a1.sinks.%[1]s.kafka.producer.enable.idempotence = false
a1.sinks.%[1]s.channel = c1
`, k, srv)
	}
	a := startAgent(t, `a1.sources = r1
a1.channels = c1
a1.sinks = k1 k2
a1.sinkgroups = g1
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = `+port+`
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinkgroups.g1.sinks = k1 k2
a1.sinkgroups.g1.processor.type = failover
a1.sinkgroups.g1.processor.priority.k1 = 10
a1.sinkgroups.g1.processor.priority.k2 = 5
a1.sinkgroups.g1.processor.maxpenalty = 2000
`+sink("k1", s1.Addr)+sink("k2", s2.Addr))
	nc := dialNetcat(t, addr)
	nc.send(lines("one", 0, 20)...)
	a.waitCounter("SINK.k1", "EventDrainSuccessCount", 20, 30*time.Second)

	stopServer(t, s1)
	nc.send(lines("two", 0, 20)...)
	a.waitCounter("SINK.k2", "EventDrainSuccessCount", 20, 60*time.Second)
	a.waitLog("sink failed; failing over to the next sink", time.Second)

	restart(t, s1)
	time.Sleep(3 * time.Second) // past maxpenalty: k1 is tried again
	nc.send(lines("three", 0, 20)...)
	a.waitCounter("SINK.k1", "EventDrainSuccessCount", 40, 60*time.Second)
	a.waitCounter("CHANNEL.c1", "EventTakeSuccessCount", 60, 10*time.Second)

	seen := map[string]int{}
	var on1, on2 []string
	for _, r := range consumeAll(t, s1.Addr, "events", 40, 30*time.Second) {
		on1 = append(on1, string(r.Value))
	}
	for _, r := range consumeAll(t, s2.Addr, "events", 20, 30*time.Second) {
		on2 = append(on2, string(r.Value))
	}
	for _, v := range append(append([]string{}, on1...), on2...) {
		seen[v]++
	}
	for _, l := range append(append(lines("one", 0, 20), lines("two", 0, 20)...), lines("three", 0, 20)...) {
		if seen[l] != 1 {
			t.Errorf("line %s delivered %d times", l, seen[l])
		}
	}
	if strings.Join(on2, ",") != strings.Join(lines("two", 0, 20), ",") {
		t.Errorf("the standby server got %q, want exactly the lines sent while the preferred one was down", on2)
	}
	if !strings.Contains(a.log.String(), "sink delivers again; back in the failover group") {
		t.Errorf("no log of k1 coming back")
	}
}

// Multiplexing by header: a regex_extractor interceptor puts the line's
// first word in the "state" header; CZ lines go to one directory, US lines
// to another (and optionally to the third), anything else to the third.
func TestAgentMultiplexingByHeader(t *testing.T) {
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	cz, us, other := t.TempDir(), t.TempDir(), t.TempDir()
	a := startAgent(t, fmt.Sprintf(`a1.sources = r1
a1.channels = c1 c2 c3
a1.sinks = k1 k2 k3
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = %s
a1.sources.r1.channels = c1 c2 c3
a1.sources.r1.interceptors = i1
a1.sources.r1.interceptors.i1.type = regex_extractor
a1.sources.r1.interceptors.i1.regex = ^(\\w+) 
a1.sources.r1.interceptors.i1.serializers = s1
a1.sources.r1.interceptors.i1.serializers.s1.name = state
a1.sources.r1.selector.type = multiplexing
a1.sources.r1.selector.header = state
a1.sources.r1.selector.mapping.CZ = c1
a1.sources.r1.selector.mapping.US = c2
a1.sources.r1.selector.optional.US = c3
a1.sources.r1.selector.default = c3
a1.channels.c1.type = memory
a1.channels.c2.type = memory
a1.channels.c3.type = memory
a1.sinks.k1.type = file_roll
a1.sinks.k1.sink.directory = %s
a1.sinks.k1.channel = c1
a1.sinks.k2.type = file_roll
a1.sinks.k2.sink.directory = %s
a1.sinks.k2.channel = c2
a1.sinks.k3.type = file_roll
a1.sinks.k3.sink.directory = %s
a1.sinks.k3.channel = c3
`, port, cz, us, other))
	nc := dialNetcat(t, addr)
	nc.send("CZ praha 1", "US boston 1", "DE berlin 1", "CZ brno 2", "nostate", "US austin 2")
	a.waitCounter("SINK.k1", "EventDrainSuccessCount", 2, 20*time.Second)
	a.waitCounter("SINK.k2", "EventDrainSuccessCount", 2, 20*time.Second)
	a.waitCounter("SINK.k3", "EventDrainSuccessCount", 4, 20*time.Second)
	for _, tc := range []struct {
		dir  string
		want []string
	}{
		{cz, []string{"CZ praha 1", "CZ brno 2"}},
		{us, []string{"US boston 1", "US austin 2"}},
		{other, []string{"US boston 1", "DE berlin 1", "nostate", "US austin 2"}},
	} {
		if got := dirLines(t, tc.dir); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s holds %q, want %q", tc.dir, got, tc.want)
		}
	}
}

// Taildir: a log is appended to, rename-rotated and copytruncate-rotated
// while the agent runs, and appended to and rotated again while it is
// stopped (SIGTERM); after the restart every line is delivered exactly once.
func TestAgentTaildirRotationAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	logs, out := filepath.Join(dir, "logs"), filepath.Join(dir, "out")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(logs, "app.log")
	write := func(path string, from, to int) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, l := range lines("app", from, to) {
			fmt.Fprintln(f, l)
		}
	}
	write(app, 0, 500)
	a := startAgent(t, fmt.Sprintf(`a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = TAILDIR
a1.sources.r1.filegroups = f1
a1.sources.r1.filegroups.f1 = %s/app\\.log
a1.sources.r1.positionFile = %s/taildir_position.json
a1.sources.r1.pollInterval = 20
a1.sources.r1.writePosInterval = 200
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 10000
a1.channels.c1.transactionCapacity = 100
a1.sinks.k1.type = file_roll
a1.sinks.k1.sink.directory = %s
a1.sinks.k1.sink.rollInterval = 0
a1.sinks.k1.channel = c1
`, logs, dir, out))
	a.waitCounter("SINK.k1", "EventDrainSuccessCount", 500, 30*time.Second)

	write(app, 500, 700) // maybe not read before the rename
	if err := os.Rename(app, app+".1"); err != nil {
		t.Fatal(err)
	}
	write(app, 700, 1000)
	a.waitCounter("SINK.k1", "EventDrainSuccessCount", 1000, 30*time.Second)

	// copytruncate: copy, then cut the live file to zero and go on writing.
	data, err := os.ReadFile(app)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(app+".2", data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(app, 0); err != nil {
		t.Fatal(err)
	}
	write(app, 1000, 1350)
	a.waitCounter("SINK.k1", "EventDrainSuccessCount", 1350, 30*time.Second)

	a.stop()
	write(app, 1350, 1400)
	if err := os.Rename(app, app+".3"); err != nil {
		t.Fatal(err)
	}
	write(app, 1400, 1600)
	a.spawn()
	a.waitCounter("SINK.k1", "EventDrainSuccessCount", 250, 30*time.Second)
	time.Sleep(500 * time.Millisecond) // let any duplicate arrive
	a.stop()

	got := dirLines(t, out)
	seen := map[string]int{}
	for _, l := range got {
		seen[l]++
	}
	for _, l := range lines("app", 0, 1600) {
		if seen[l] != 1 {
			t.Errorf("%s delivered %d times", l, seen[l])
		}
	}
	if len(got) != 1600 {
		t.Errorf("%d lines delivered, want 1600", len(got))
	}
}

// The classic log-directory config: spooldir (fileHeader) and a timestamp
// interceptor → memory → hdfs with hdfs.path .../flume/%y-%m-%d/%H%M/%S,
// filePrefix events-, round down to 10 minutes. Two sinks write the same
// events: SequenceFile (the default) and DataStream. Every line of the
// dropped files lands once in each, under the 10-minute bucket directory,
// and the spooled files are renamed .COMPLETED.
func TestAgentSpooldirToHDFS(t *testing.T) {
	dir := t.TempDir()
	spool, seqRoot, textRoot := filepath.Join(dir, "spool"), filepath.Join(dir, "seq"), filepath.Join(dir, "text")
	if err := os.Mkdir(spool, 0o755); err != nil {
		t.Fatal(err)
	}
	var want []string
	for f := 0; f < 3; f++ {
		ls := lines(fmt.Sprintf("file%d", f), 0, 300)
		want = append(want, ls...)
		tmp := filepath.Join(dir, fmt.Sprintf("app-%d.log", f))
		if err := os.WriteFile(tmp, []byte(strings.Join(ls, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		// Files appear in the spool directory whole, by rename.
		if err := os.Rename(tmp, filepath.Join(spool, filepath.Base(tmp))); err != nil {
			t.Fatal(err)
		}
	}
	hdfs := func(k, root, extra string) string {
		return fmt.Sprintf(`a1.sinks.%[1]s.type = hdfs
a1.sinks.%[1]s.hdfs.path = %[2]s/flume/%%y-%%m-%%d/%%H%%M/%%S
a1.sinks.%[1]s.hdfs.filePrefix = events-
a1.sinks.%[1]s.hdfs.round = true
a1.sinks.%[1]s.hdfs.roundValue = 10
a1.sinks.%[1]s.hdfs.roundUnit = minute
a1.sinks.%[1]s.hdfs.rollCount = 0
a1.sinks.%[1]s.hdfs.rollSize = 0
a1.sinks.%[1]s.hdfs.rollInterval = 0
%[3]s`, k, root, extra)
	}
	before := time.Now()
	a := startAgent(t, `a1.sources = r1
a1.channels = c1 c2
a1.sinks = k1 k2
a1.sources.r1.type = spooldir
a1.sources.r1.spoolDir = `+spool+`
a1.sources.r1.fileHeader = true
a1.sources.r1.pollDelay = 50
a1.sources.r1.interceptors = i1
a1.sources.r1.interceptors.i1.type = timestamp
a1.sources.r1.channels = c1 c2
a1.channels.c1.type = memory
a1.channels.c1.capacity = 10000
a1.channels.c2.type = memory
a1.channels.c2.capacity = 10000
`+hdfs("k1", seqRoot, "a1.sinks.k1.channel = c1\n")+hdfs("k2", textRoot, "a1.sinks.k2.hdfs.fileType = DataStream\na1.sinks.k2.channel = c2\n"))
	a.waitCounter("SINK.k1", "EventDrainSuccessCount", int64(len(want)), 30*time.Second)
	a.waitCounter("SINK.k2", "EventDrainSuccessCount", int64(len(want)), 30*time.Second)
	after := time.Now()
	a.stop() // closes the open files (.tmp renamed)

	for f := 0; f < 3; f++ {
		if _, err := os.Stat(filepath.Join(spool, fmt.Sprintf("app-%d.log.COMPLETED", f))); err != nil {
			t.Errorf("spooled file not renamed .COMPLETED: %v", err)
		}
	}
	// The bucket of every event is its ingestion time rounded down to 10
	// minutes; the test ran within at most two buckets.
	bucket := func(tm time.Time) string {
		tm = tm.Truncate(time.Minute)
		tm = tm.Add(-time.Duration(tm.Minute()%10) * time.Minute)
		return tm.Format("06-01-02/1504/05")
	}
	okBucket := map[string]bool{bucket(before): true, bucket(after): true}
	read := func(root string, decode func(t *testing.T, path string) []string) []string {
		var got []string
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(filepath.Join(root, "flume"), filepath.Dir(path))
			if !okBucket[rel] {
				t.Errorf("%s is not under a 10-minute bucket (%v)", path, okBucket)
			}
			if !strings.HasPrefix(d.Name(), "events-.") || strings.HasSuffix(d.Name(), ".tmp") {
				t.Errorf("file name %s: want events-.<counter>, closed", d.Name())
			}
			got = append(got, decode(t, path)...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	seqLines := read(seqRoot, func(t *testing.T, path string) []string {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r, err := seqfile.NewReader(f)
		if err != nil {
			t.Fatalf("%s is not a SequenceFile: %v", path, err)
		}
		var out []string
		for {
			k, v, err := r.Next()
			if err == io.EOF {
				return out
			}
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			ts, err1 := seqfile.Long(k)
			body, err2 := seqfile.Bytes(v)
			if err1 != nil || err2 != nil || ts < before.UnixMilli() || ts > after.UnixMilli() {
				t.Fatalf("%s: record key %d (%v), value %v", path, ts, err1, err2)
			}
			out = append(out, string(body))
		}
	})
	textLines := read(textRoot, func(t *testing.T, path string) []string {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	})
	for name, got := range map[string][]string{"SequenceFile": seqLines, "DataStream": textLines} {
		seen := map[string]int{}
		for _, l := range got {
			seen[l]++
		}
		for _, l := range want {
			if seen[l] != 1 {
				t.Errorf("%s: line %s delivered %d times", name, l, seen[l])
				break
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d lines, want %d", name, len(got), len(want))
		}
	}
}

// kill9 kills the agent with SIGKILL and waits for it to be gone.
func (a *agentProc) kill9() {
	a.t.Helper()
	a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.done
}

// File channel durability: seq → file channel → kafka sink whose server is
// down; the agent is killed with SIGKILL while the channel fills; it is
// restarted without the source and with the server up. Every event the
// channel committed is delivered, each once, with no gap.
func TestAgentFileChannelKill9(t *testing.T) {
	if _, ok := flow.Lookup(flow.KindChannel, "file"); !ok {
		t.Skip("no file channel registered yet")
	}
	srv := startServer(t)
	createTopic(t, srv.Addr, "ids", 1, nil)
	stopServer(t, srv)
	dir := t.TempDir()
	channelAndSink := fmt.Sprintf(`a1.channels = c1
a1.sinks = k1
a1.channels.c1.type = file
a1.channels.c1.checkpointDir = %[1]s/checkpoint
a1.channels.c1.dataDirs = %[1]s/data
a1.channels.c1.capacity = 100000
a1.channels.c1.transactionCapacity = 100
a1.sinks.k1.type = org.apache.flume.sink.kafka.KafkaSink
a1.sinks.k1.kafka.bootstrap.servers = %[2]s
a1.sinks.k1.kafka.topic = ids
a1.sinks.k1.kafka.producer.acks = all
a1.sinks.k1.kafka.producer.request.timeout.ms = 1000
a1.sinks.k1.kafka.producer.delivery.timeout.ms = 2000
a1.sinks.k1.kafka.producer.enable.idempotence = false
a1.sinks.k1.channel = c1
`, dir, srv.Addr)
	a := startAgent(t, channelAndSink+`a1.sources = r1
a1.sources.r1.type = seq
a1.sources.r1.batchSize = 50
a1.sources.r1.channels = c1
`)
	a.waitCounter("CHANNEL.c1", "EventPutSuccessCount", 2000, 60*time.Second)
	committed, _ := strconv.ParseInt(a.counters()["CHANNEL.c1"]["EventPutSuccessCount"], 10, 64)
	a.kill9()

	restart(t, srv)
	if err := os.WriteFile(a.conf, []byte(channelAndSink), 0o644); err != nil {
		t.Fatal(err)
	}
	a.spawn()
	a.waitCounter("SINK.k1", "EventDrainSuccessCount", committed, 60*time.Second)
	time.Sleep(time.Second)
	end := endOffsets(t, srv.Addr, "ids")[0]
	if end < committed {
		t.Fatalf("%d records on the topic, want at least the %d committed before the kill", end, committed)
	}
	seen := map[int64]int{}
	for _, r := range consumeAll(t, srv.Addr, "ids", int(end), 30*time.Second) {
		id, err := strconv.ParseInt(string(r.Value), 10, 64)
		if err != nil {
			t.Fatalf("record %q is not a seq id", r.Value)
		}
		seen[id]++
	}
	for id := int64(0); id < end; id++ {
		if seen[id] != 1 {
			t.Errorf("id %d delivered %d times (ids 0..%d expected once each; %d committed before kill -9)", id, seen[id], end-1, committed)
			break
		}
	}
}
