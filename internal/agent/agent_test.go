package agent

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const exampleConf = "../../examples/agent/example.conf"

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestExampleConfParses(t *testing.T) {
	a, err := Load(exampleConf, "a1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.closeAll()
	if len(a.g.sources) != 1 || len(a.g.channels) != 1 || len(a.g.sinks) != 1 || len(a.Warnings) != 0 {
		t.Fatalf("sources %d channels %d sinks %d warnings %v", len(a.g.sources), len(a.g.channels), len(a.g.sinks), a.Warnings)
	}
	if bs := a.g.sinks["k1"].runner.BatchSize; bs != 0 && bs > 100 {
		t.Fatalf("sink batch %d exceeds transactionCapacity", bs)
	}
}

// Every example config loads without errors or warnings.
func TestEveryExampleLoads(t *testing.T) {
	files, err := filepath.Glob("../../examples/agent/*.conf")
	if err != nil || len(files) < 5 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			a, err := Load(f, "a1", nil)
			if err != nil {
				t.Fatal(err)
			}
			a.closeAll()
			if len(a.Warnings) != 0 {
				t.Fatalf("warnings: %v", a.Warnings)
			}
		})
	}
}

// The Flume tutorial: lines sent over TCP are answered OK and logged by the
// logger sink in Flume's format.
func TestTutorialAgentEndToEnd(t *testing.T) {
	data, err := os.ReadFile(exampleConf)
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(freePort(t))
	data = bytes.Replace(data, []byte("= 44444"), []byte("= "+port), 1)
	var logs testutil.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	a, err := LoadBytes(exampleConf, data, "a1", log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { a.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()

	var conn net.Conn
	for deadline := time.Now().Add(10 * time.Second); ; {
		conn, err = net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent never listened: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	for _, line := range []string{"Hello world!\r\n", "second\n"} {
		conn.Write([]byte(line))
		if reply, err := r.ReadString('\n'); reply != "OK\n" {
			t.Fatalf("reply to %q: %q, %v", line, reply, err)
		}
	}
	want := []string{
		`msg="Event: { headers:{} body: 48 65 6C 6C 6F 20 77 6F 72 6C 64 21 0D          Hello world!. }" sink=k1`,
		`msg="Event: { headers:{} body: 73 65 63 6F 6E 64                               second }" sink=k1`,
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		out := logs.String()
		if strings.Contains(out, want[0]) && strings.Contains(out, want[1]) {
			if strings.Index(out, want[0]) > strings.Index(out, want[1]) {
				t.Fatalf("events logged out of order:\n%s", out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logger output lacks the events:\n%s", out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConfigErrors(t *testing.T) {
	const base = `a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = 0
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
`
	cases := []struct {
		name  string
		agent string
		edit  func(string) string
		want  string // the whole error; "" = valid
	}{
		{name: "valid", edit: func(s string) string { return s }},
		{name: "type names are case-insensitive and Java class names", edit: func(s string) string {
			s = strings.Replace(s, "type = netcat", "type = NetCat", 1)
			return strings.Replace(s, "type = memory", "type = org.apache.flume.channel.MemoryChannel", 1)
		}},
		{name: "unknown agent", agent: "agent2", edit: func(s string) string { return s },
			want: `f.conf: no keys for agent "agent2" (agents in this file: a1); fix: pass the agent's name with --name, the prefix of its keys (e.g. a1 for a1.sources = r1)`},
		{name: "unknown type", edit: func(s string) string { return strings.Replace(s, "type = memory", "type = memroy", 1) },
			want: `f.conf:8: a1.channels.c1.type = "memroy": unknown channel type; fix: use one of: ` + strings.Join(flow.Names(flow.KindChannel), ", ") + ` (aliases, case-insensitive, or their Java class names)`},
		{name: "bad number", edit: func(s string) string { return s + "a1.channels.c1.capacity = abc\n" },
			want: `f.conf:11: a1.channels.c1.capacity = "abc": not a whole number; fix: set it to an integer such as 100 (most events stored in the channel)`},
		{name: "transactionCapacity above capacity", edit: func(s string) string {
			return s + "a1.channels.c1.capacity = 10\na1.channels.c1.transactionCapacity = 20\n"
		},
			want: `f.conf:12: a1.channels.c1.transactionCapacity = "20": larger than capacity 10; fix: make transactionCapacity at most capacity`},
		{name: "missing required key", edit: func(s string) string { return strings.Replace(s, "a1.sources.r1.port = 0\n", "", 1) },
			want: `f.conf:1: a1.sources.r1.port: required key is missing; fix: set port (TCP port to listen on)`},
		{name: "source without channels", edit: func(s string) string { return strings.Replace(s, "a1.sources.r1.channels = c1\n", "", 1) },
			want: `f.conf:1: a1.sources.r1.channels: source "r1" is not bound to a channel; fix: set a1.sources.r1.channels to one or more of: c1`},
		{name: "sink without channel", edit: func(s string) string { return strings.Replace(s, "a1.sinks.k1.channel = c1\n", "", 1) },
			want: `f.conf:3: a1.sinks.k1.channel: sink "k1" is not bound to a channel; fix: set a1.sinks.k1.channel to one of: c1`},
		{name: "sink with plural channels", edit: func(s string) string {
			return strings.Replace(s, "a1.sinks.k1.channel = c1", "a1.sinks.k1.channels = c1", 1)
		},
			want: `f.conf:3: a1.sinks.k1.channel: sink "k1" is not bound to a channel; fix: a sink takes from exactly one channel: rename a1.sinks.k1.channels to a1.sinks.k1.channel (singular)`},
		{name: "dangling channel reference", edit: func(s string) string {
			return strings.Replace(s, "a1.sinks.k1.channel = c1", "a1.sinks.k1.channel = c2", 1)
		},
			want: `f.conf:10: a1.sinks.k1.channel = "c2": channel "c2" is not listed in a1.channels; fix: use one of: c1, or add c2 to a1.channels`},
		{name: "listed component without type", edit: func(s string) string { return strings.Replace(s, "a1.sinks = k1", "a1.sinks = k1 k2", 1) },
			want: `f.conf:3: a1.sinks.k2.type: sink "k2" is listed but has no type; fix: set a1.sinks.k2.type (one of: ` + strings.Join(flow.Names(flow.KindSink), ", ") + `)`},
		{name: "component not listed", edit: func(s string) string { return s + "a1.sinks.k9.type = logger\n" },
			want: `f.conf:11: a1.sinks.k9.type = "logger": sink "k9" has keys but is not listed in a1.sinks; fix: add k9 to a1.sinks, or remove its keys`},
		{name: "unused channel", edit: func(s string) string {
			return strings.Replace(s, "a1.channels = c1", "a1.channels = c1 c2", 1) + "a1.channels.c2.type = memory\n"
		},
			want: `f.conf:2: a1.channels = "c1 c2": channel "c2" is not used by any source or sink; fix: bind it to a source (.channels) or a sink (.channel), or remove c2 from a1.channels`},
		{name: "sink group without sinks", edit: func(s string) string { return s + "a1.sinkgroups = g1\n" },
			want: `f.conf:11: a1.sinkgroups.g1.sinks: sink group "g1" is listed but has no sinks; fix: set a1.sinkgroups.g1.sinks to two or more of: k1`},
		{name: "sink group with an unknown sink", edit: func(s string) string {
			return s + "a1.sinkgroups = g1\na1.sinkgroups.g1.sinks = k1 k2\n"
		},
			want: `f.conf:12: a1.sinkgroups.g1.sinks = "k1 k2": sink "k2" is not listed in a1.sinks; fix: use sinks of a1.sinks (k1)`},
		{name: "sink in two groups", edit: func(s string) string {
			return s + "a1.sinkgroups = g1 g2\na1.sinkgroups.g1.sinks = k1\na1.sinkgroups.g2.sinks = k1\n"
		},
			want: `f.conf:13: a1.sinkgroups.g2.sinks = "k1": sink "k1" is already in sink group g1; fix: put each sink in one group at most`},
		{name: "unknown sink processor", edit: func(s string) string {
			return s + "a1.sinkgroups = g1\na1.sinkgroups.g1.sinks = k1\na1.sinkgroups.g1.processor.type = fallover\n"
		},
			want: `f.conf:13: a1.sinkgroups.g1.processor.type = "fallover": unknown sink processor type; fix: use default, failover or load_balance (or Flume's class names DefaultSinkProcessor, FailoverSinkProcessor, LoadBalancingSinkProcessor)`},
		{name: "unknown selector", edit: func(s string) string { return s + "a1.sources.r1.selector.type = multiplex\n" },
			want: `f.conf:11: a1.sources.r1.selector.type = "multiplex": unknown channel selector type; fix: use replicating (the default) or multiplexing, or their class names org.apache.flume.channel.ReplicatingChannelSelector / MultiplexingChannelSelector`},
		{name: "multiplexing mapping to a channel the source lacks", edit: func(s string) string {
			return s + "a1.sources.r1.selector.type = multiplexing\na1.sources.r1.selector.mapping.CZ = c2\n"
		},
			want: `f.conf:12: a1.sources.r1.selector.mapping.CZ = "c2": channel "c2" is not one of source r1's channels (c1); fix: use one of: c1, or add c2 to a1.sources.r1.channels`},
		{name: "replicating optional channel the source lacks", edit: func(s string) string { return s + "a1.sources.r1.selector.optional = c3\n" },
			want: `f.conf:11: a1.sources.r1.selector.optional = "c3": channel "c3" is not one of source r1's channels (c1); fix: use one of: c1, or add c3 to a1.sources.r1.channels`},
		{name: "interceptor without type", edit: func(s string) string { return s + "a1.sources.r1.interceptors = i1\n" },
			want: `f.conf:11: a1.sources.r1.interceptors.i1.type: interceptor "i1" has no type; fix: set a1.sources.r1.interceptors.i1.type (one of: ` + strings.Join(flow.Names(flow.KindTransform), ", ") + `)`},
		{name: "unknown interceptor type", edit: func(s string) string {
			return s + "a1.sources.r1.interceptors = i1\na1.sources.r1.interceptors.i1.type = timestmp\n"
		},
			want: `f.conf:12: a1.sources.r1.interceptors.i1.type = "timestmp": unknown interceptor type; fix: use one of: ` + strings.Join(flow.Names(flow.KindTransform), ", ") + ` (aliases, case-insensitive, or their Java class names)`},
		{name: "interceptor keys not listed", edit: func(s string) string {
			return s + "a1.sources.r1.interceptors = i1\na1.sources.r1.interceptors.i1.type = agenttest_tag\na1.sources.r1.interceptors.i2.type = agenttest_tag\n"
		},
			want: `f.conf:13: a1.sources.r1.interceptors.i2.type = "agenttest_tag": interceptor "i2" has keys but is not listed in a1.sources.r1.interceptors; fix: add i2 to a1.sources.r1.interceptors, or remove its keys`},
		{name: "interceptor's own key error", edit: func(s string) string {
			return s + "a1.sources.r1.interceptors = i1\na1.sources.r1.interceptors.i1.type = agenttest_tag\na1.sources.r1.interceptors.i1.n = x\n"
		},
			want: `f.conf:13: a1.sources.r1.interceptors.i1.n = "x": not a whole number; fix: set it to an integer such as 1 (a number)`},
		{name: "source batchSize above transactionCapacity", edit: func(s string) string {
			s = strings.Replace(s, "type = netcat\na1.sources.r1.bind = 127.0.0.1\na1.sources.r1.port = 0", "type = agenttest_feed\na1.sources.r1.id = x\na1.sources.r1.batchSize = 500", 1)
			return s + "a1.channels.c1.transactionCapacity = 50\n"
		},
			want: `f.conf:6: a1.sources.r1.batchSize = "500": larger than channel c1's transactionCapacity 50; fix: make batchSize at most the channel's transactionCapacity, or raise transactionCapacity`},
		{name: "no channels", edit: func(s string) string { return strings.Replace(s, "a1.channels = c1\n", "", 1) },
			want: `f.conf: a1.channels: the agent lists no channels; fix: list its channels, e.g. a1.channels = c1`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			agent := tc.agent
			if agent == "" {
				agent = "a1"
			}
			a, err := LoadBytes("f.conf", []byte(tc.edit(base)), agent, nil)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				a.closeAll()
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want a *ConfigError", err, err)
			}
			if err.Error() != tc.want {
				t.Fatalf("error\n%s\nwant\n%s", err, tc.want)
			}
		})
	}
}

func TestWarningsForUnknownAndUnimplementedKeys(t *testing.T) {
	conf := `a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = 0
a1.sources.r1.encoding = latin1
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacityy = 5
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
`
	var logs testutil.SyncBuffer
	a, err := LoadBytes("f.conf", []byte(conf), "a1", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a.closeAll()
	for _, want := range []string{
		`f.conf:10: memory channel does not know key \"capacityy\"; it is ignored" key=a1.channels.c1.capacityy`,
		`f.conf:7: netcat source accepts key \"encoding\" but does not implement it yet; it has no effect" key=a1.sources.r1.encoding`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// A sink's batch is capped to its channel's transactionCapacity.
func TestSinkBatchCappedToTransactionCapacity(t *testing.T) {
	data, err := os.ReadFile(exampleConf)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte("transactionCapacity = 100"), []byte("transactionCapacity = 10"), 1)
	a, err := LoadBytes(exampleConf, data, "a1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.closeAll()
	if got := a.g.sinks["k1"].runner.BatchSize; got != 10 {
		t.Fatalf("sink batch size %d, want 10", got)
	}
}
