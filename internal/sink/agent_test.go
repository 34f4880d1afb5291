package sink_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/agent"
)

// TestAgentNetcatToHDFS runs a Flume config through `runnel agent`'s
// loader: netcat → memory → hdfs (DataStream) and netcat → memory →
// file_roll; every line sent over TCP lands in a finished file once.
func TestAgentNetcatToHDFS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	conf := fmt.Sprintf(`
a1.sources = r1
a1.channels = c1 c2
a1.sinks = k1 k2
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = %d
a1.sources.r1.channels = c1 c2
a1.channels.c1.type = memory
a1.channels.c2.type = memory
a1.sinks.k1.type = hdfs
a1.sinks.k1.channel = c1
a1.sinks.k1.hdfs.path = file://%s/flume/%%y-%%m-%%d/%%H%%M
a1.sinks.k1.hdfs.filePrefix = events-
a1.sinks.k1.hdfs.round = true
a1.sinks.k1.hdfs.roundValue = 10
a1.sinks.k1.hdfs.roundUnit = minute
a1.sinks.k1.hdfs.useLocalTimeStamp = true
a1.sinks.k1.hdfs.fileType = DataStream
a1.sinks.k2.type = file_roll
a1.sinks.k2.channel = c2
a1.sinks.k2.sink.directory = %s/roll
`, port, dir, dir)
	path := filepath.Join(dir, "agent.conf")
	os.WriteFile(path, []byte(conf), 0o644)
	a, err := agent.Load(path, "a1", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { a.Run(ctx) })
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			wg.Wait()
		}
	}
	defer stop()

	var conn net.Conn
	for deadline := time.Now().Add(10 * time.Second); ; {
		if conn, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent never listened: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	r := bufio.NewReader(conn)
	const n = 25
	for i := range n {
		fmt.Fprintf(conn, "line %d\n", i)
		if reply, _ := r.ReadString('\n'); reply != "OK\n" {
			t.Fatalf("reply %q", reply)
		}
	}
	conn.Close()
	// Flume's defaults roll every 10 events: wait for the finished files.
	want := map[string]bool{}
	for i := range n {
		want[fmt.Sprintf("line %d", i)] = true
	}
	collect := func(root string, re *regexp.Regexp) map[string]int {
		got := map[string]int{}
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			if !re.MatchString(filepath.ToSlash(rel)) {
				t.Errorf("unexpected file %s", rel)
			}
			b, _ := os.ReadFile(p)
			for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
				got[l]++
			}
			return nil
		})
		return got
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(collect(filepath.Join(dir, "roll"), regexp.MustCompile(`.`))) < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	stop() // closes the sinks: the last hdfs file is renamed
	hdfsFiles := collect(filepath.Join(dir, "flume"), regexp.MustCompile(`^\d\d-\d\d-\d\d/\d\d\d0/events-\.\d{13}$`))
	rollFiles := collect(filepath.Join(dir, "roll"), regexp.MustCompile(`^\d{13}-1$`))
	for name, got := range map[string]map[string]int{"hdfs": hdfsFiles, "file_roll": rollFiles} {
		if len(got) != n {
			t.Fatalf("%s: %d distinct lines, want %d: %v", name, len(got), n, got)
		}
		for l, c := range got {
			if !want[l] || c != 1 {
				t.Fatalf("%s: line %q seen %d times", name, l, c)
			}
		}
	}
}
