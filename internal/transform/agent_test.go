package transform_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/agent"
	"github.com/runnel/runnel/internal/testutil/agenttest"
)

// TestAgentInterceptorChain runs a Flume config through `runnel agent`'s
// loader with an interceptor chain that mixes Flume interceptors and a
// Connect SMT: netcat → (regex_filter, search_replace, static, InsertHeader)
// → memory → file_roll with header_and_text; the file holds exactly the kept
// lines, rewritten and with the headers set.
func TestAgentInterceptorChain(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	conf := fmt.Sprintf(`
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = %d
a1.sources.r1.channels = c1
a1.sources.r1.interceptors = drop mask dc via
a1.sources.r1.interceptors.drop.type = regex_filter
a1.sources.r1.interceptors.drop.regex = ^DEBUG
a1.sources.r1.interceptors.drop.excludeEvents = true
a1.sources.r1.interceptors.mask.type = org.apache.flume.interceptor.SearchAndReplaceInterceptor$Builder
a1.sources.r1.interceptors.mask.searchPattern = password=\\S+
# (\\S in a .properties file is the regex \S)
a1.sources.r1.interceptors.mask.replaceString = password=***
a1.sources.r1.interceptors.dc.type = static
a1.sources.r1.interceptors.dc.key = dc
a1.sources.r1.interceptors.dc.value = eu-1
a1.sources.r1.interceptors.via.type = org.apache.kafka.connect.transforms.InsertHeader
a1.sources.r1.interceptors.via.header = via
a1.sources.r1.interceptors.via.value.literal = runnel
a1.channels.c1.type = memory
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.directory = %s/roll
a1.sinks.k1.sink.serializer = header_and_text
`, port, dir)
	agenttest.Start(t, agenttest.WriteConf(t, dir, conf))

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
	defer conn.Close()
	r := bufio.NewReader(conn)
	for _, l := range []string{"login user=a password=hunter2 ok", "DEBUG noise", "plain"} {
		fmt.Fprintf(conn, "%s\n", l)
		if reply, _ := r.ReadString('\n'); reply != "OK\n" {
			t.Fatalf("reply %q to %q", reply, l)
		}
	}
	want := []string{
		"{dc=eu-1, via=runnel} login user=a password=*** ok",
		"{dc=eu-1, via=runnel} plain",
	}
	var got []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got = nil
		files, _ := filepath.Glob(filepath.Join(dir, "roll", "*"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
				if l != "" {
					got = append(got, l)
				}
			}
		}
		if len(got) >= len(want) {
			break
		}
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("file_roll output\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestAgentInterceptorConfigError: a bad interceptor key is refused before
// anything starts, naming the file, line and full key.
func TestAgentInterceptorConfigError(t *testing.T) {
	conf := `a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = 0
a1.sources.r1.channels = c1
a1.sources.r1.interceptors = i1
a1.sources.r1.interceptors.i1.type = regex_filter
a1.sources.r1.interceptors.i1.regex = (?!lookahead)
a1.channels.c1.type = memory
a1.sinks.k1.type = null
a1.sinks.k1.channel = c1
`
	_, err := agent.LoadBytes("flume.conf", []byte(conf), "a1", nil)
	if err == nil {
		t.Fatal("an interceptor regex Go cannot run was accepted")
	}
	for _, want := range []string{"flume.conf:10", "a1.sources.r1.interceptors.i1.regex", "RE2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}
