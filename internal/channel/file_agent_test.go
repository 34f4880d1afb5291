package channel_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/agent"
)

const fileAgentChildEnv = "RUNNEL_FILE_AGENT_CHILD_CONF"

// fileAgentConf is seq → file channel → http sink at endpoint.
func fileAgentConf(dir, source, endpoint string) string {
	return fmt.Sprintf(`a1.sources = r1
a1.channels = c1
a1.sinks = k1
%s
a1.sources.r1.channels = c1
a1.channels.c1.type = file
a1.channels.c1.checkpointDir = %s/cp
a1.channels.c1.dataDirs = %s/data
a1.channels.c1.minimumRequiredSpace = 0
a1.channels.c1.checkpointInterval = 300
a1.sinks.k1.type = http
a1.sinks.k1.endpoint = %s
a1.sinks.k1.channel = c1
a1.sinks.k1.rollback.2XX = false
a1.sinks.k1.backoff.2XX = false
`, source, dir, dir, endpoint)
}

func runAgentConf(ctx context.Context, conf string) error {
	a, err := agent.LoadBytes("a.conf", []byte(conf), "a1", slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestFileChannelAgentKill9 is the acceptance run: a child agent runs seq →
// file channel → an http sink whose target is down, and is killed with
// SIGKILL mid-stream; an agent on the same directories with the target up
// then delivers every event the seq source committed (a prefix 0..n-1 of
// its numbers) exactly once.
func TestFileChannelAgentKill9(t *testing.T) {
	if conf := os.Getenv(fileAgentChildEnv); conf != "" {
		err := runAgentConf(context.Background(), conf)
		fmt.Fprintln(os.Stderr, "child agent ended:", err)
		os.Exit(3)
	}
	dir := t.TempDir()
	down := "http://" + freeAddr(t) + "/"
	child := exec.Command(os.Args[0], "-test.run=^TestFileChannelAgentKill9$")
	child.Env = append(os.Environ(), fileAgentChildEnv+"="+fileAgentConf(dir,
		"a1.sources.r1.type = seq\na1.sources.r1.batchSize = 10", down))
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once the log holds some thousands of events (about 50 bytes each).
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if fi, err := os.Stat(dir + "/data/log-00000001"); err == nil && fi.Size() > 200_000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child agent wrote less than 200 kB of log in a minute")
		}
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()

	var mu sync.Mutex
	seen := map[int]int{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		n, err := strconv.Atoi(string(b))
		if err != nil {
			t.Errorf("body %q is not a seq number", b)
		}
		mu.Lock()
		seen[n]++
		mu.Unlock()
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// The restarted agent's source is a netcat source nobody writes to.
	go func() {
		done <- runAgentConf(ctx, fileAgentConf(dir,
			"a1.sources.r1.type = netcat\na1.sources.r1.bind = 127.0.0.1\na1.sources.r1.port = "+portOf(t, freeAddr(t)),
			"http://"+l.Addr().String()+"/"))
	}()
	last, stable := -1, 0
	for deadline := time.Now().Add(2 * time.Minute); stable < 20 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n == last && n > 0 {
			stable++
		} else {
			stable = 0
		}
		last = n
	}
	cancel()
	if err := <-done; err != nil && err != context.Canceled {
		t.Errorf("agent: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 1000 {
		t.Fatalf("only %d events delivered; the log had more than 200 kB of them", len(seen))
	}
	for i := range len(seen) {
		if seen[i] != 1 {
			t.Fatalf("seq number %d delivered %d times (of %d numbers seen)", i, seen[i], len(seen))
		}
	}
	t.Logf("%d committed events delivered exactly once after kill -9", len(seen))
}

func portOf(t *testing.T, addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
