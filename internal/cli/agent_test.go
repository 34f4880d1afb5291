package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runnel agent with flume-ng's spellings runs the tutorial config: lines are
// answered OK, and cancelling (Ctrl-C) ends the command without an error.
func TestAgentCommandFlumeSpellings(t *testing.T) {
	data, err := os.ReadFile("../../examples/agent/example.conf")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpPort := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	conf := filepath.Join(t.TempDir(), "example.conf")
	if err := os.WriteFile(conf, []byte(strings.Replace(string(data), "= 44444", "= "+port, 1)), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := NewRoot()
	root.SetArgs([]string{"--log-level", "error", "agent", "-c", "conf", "-f", conf, "-n", "a1", "-Dflume.root.logger=INFO,console",
		"-Dflume.monitoring.type=http", "-Dflume.monitoring.port=" + httpPort})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	var conn net.Conn
	for deadline := time.Now().Add(10 * time.Second); ; {
		conn, err = net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("agent exited early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent never listened: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	conn.Write([]byte("hello\n"))
	if reply, err := bufio.NewReader(conn).ReadString('\n'); reply != "OK\n" {
		t.Fatalf("reply %q, %v", reply, err)
	}
	// Flume's monitoring properties serve the counters as JSON.
	resp, err := http.Get("http://127.0.0.1:" + httpPort + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]map[string]string
	err = json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if err != nil || m["SOURCE.r1"]["EventAcceptedCount"] != "1" || m["CHANNEL.c1"]["ChannelCapacity"] != "1000" {
		t.Fatalf("/metrics: %v %v", m, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent after Ctrl-C: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not stop on cancel")
	}
}

func TestAgentCommandErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.conf")
	os.WriteFile(bad, []byte("a1.channels = c1\na1.sinks = k1\na1.channels.c1.type = memory\na1.channels.c1.capacity = abc\na1.sinks.k1.type = logger\na1.sinks.k1.channel = c1\n"), 0o644)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no name", []string{"agent", "-f", bad}, "both --conf-file (-f) and --name (-n) are required"},
		{"missing file", []string{"agent", "--conf-file", "/nonexistent.conf", "--name", "a1"}, "reading agent config: open /nonexistent.conf"},
		{"bad value", []string{"agent", "-f", bad, "-n", "a1"}, bad + `:4: a1.channels.c1.capacity = "abc": not a whole number`},
		{"ganglia monitoring", []string{"agent", "-f", bad, "-n", "a1", "-Dflume.monitoring.type=ganglia"}, "only http monitoring is supported"},
		{"monitoring without port", []string{"agent", "-f", bad, "-n", "a1", "-Dflume.monitoring.type=http"}, "needs -Dflume.monitoring.port=PORT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, "127.0.0.1:1", "", tc.args...)
			if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", r.err, tc.want)
			}
		})
	}
}
