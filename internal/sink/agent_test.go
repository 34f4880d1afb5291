package sink_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/seqfile"
	"github.com/runnel/runnel/internal/testutil/agenttest"
)

// TestAgentNetcatToHDFS runs a Flume config through `runnel agent`'s
// loader: netcat → memory → hdfs (SequenceFile, Flume's default, and
// DataStream) and netcat → memory → file_roll; every line sent over TCP
// lands in a finished file once.
func TestAgentNetcatToHDFS(t *testing.T) {
	for _, ft := range []string{"SequenceFile", "DataStream"} {
		t.Run(ft, func(t *testing.T) { testAgentNetcatToHDFS(t, ft) })
	}
}

func testAgentNetcatToHDFS(t *testing.T, fileType string) {
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
a1.sinks.k1.hdfs.fileType = %s
a1.sinks.k2.type = file_roll
a1.sinks.k2.channel = c2
a1.sinks.k2.sink.directory = %s/roll
`, port, dir, fileType, dir)
	stop := agenttest.Start(t, agenttest.WriteConf(t, dir, conf))

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
			if re != nil && !re.MatchString(filepath.ToSlash(rel)) {
				t.Errorf("unexpected file %s", rel)
			}
			// While waiting (re == nil) a file may be mid-write: read leniently.
			for _, l := range fileEvents(t, p, strings.Contains(rel, "events-") && fileType == "SequenceFile", re != nil) {
				got[l]++
			}
			return nil
		})
		return got
	}
	// Both sinks have every line (in-use files hold synced batches too).
	deadline := time.Now().Add(10 * time.Second)
	for (len(collect(filepath.Join(dir, "roll"), nil)) < n || len(collect(filepath.Join(dir, "flume"), nil)) < n) && time.Now().Before(deadline) {
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

// fileEvents returns the event bodies of a file: SequenceFile values, or
// text lines.
func fileEvents(t *testing.T, path string, seq, strict bool) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !seq {
		b, _ := io.ReadAll(f)
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	r, err := seqfile.NewReader(f)
	if err != nil && !strict {
		return nil
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for {
		_, v, err := r.Next()
		if err == io.EOF || (err != nil && !strict) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		body, err := seqfile.Bytes(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(body))
	}
}
