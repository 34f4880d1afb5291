package agent

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// uid makes feed and collector ids unique per test, since the test
// components keep them in package-level maps.
func uid(t *testing.T, id string) string { return t.Name() + "/" + id }

// Interceptors run in the listed order, before the selector, and may drop
// events.
func TestInterceptorChain(t *testing.T) {
	conf := fmt.Sprintf(`a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = agenttest_feed
a1.sources.r1.id = %s
a1.sources.r1.channels = c1
a1.sources.r1.interceptors = second first
a1.sources.r1.interceptors.first.type = agenttest_tag
a1.sources.r1.interceptors.first.value = 1
a1.sources.r1.interceptors.first.drop = x
a1.sources.r1.interceptors.second.type = AGENTTEST_TAG
a1.sources.r1.interceptors.second.value = 2
a1.channels.c1.type = memory
a1.sinks.k1.type = agenttest_collect
a1.sinks.k1.id = %s
a1.sinks.k1.channel = c1
`, uid(t, "r1"), uid(t, "k1"))
	runAgent(t, "f.conf", conf, nil)
	if err := feed(t, uid(t, "r1"), ev("a"), ev("x"), ev("b", "tag", "0")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two events", func() bool { return len(bodies(uid(t, "k1"))) == 2 })
	var got []string
	for _, e := range events(uid(t, "k1")) {
		got = append(got, string(e.Body)+":"+e.Header("tag"))
	}
	// "second" is listed first, so it runs first: its value is appended
	// before first's; x is dropped by first.
	if strings.Join(got, ",") != "a:21,b:021" {
		t.Fatalf("delivered %q", got)
	}
}

func TestSelectors(t *testing.T) {
	cases := []struct {
		name     string
		selector string
		batch    []string // body/header-value pairs: "body=value" or "body" without header
		// want is what each of k1, k2, k3 (on c1, c2, c3) receives.
		want [3]string
	}{
		{name: "replicating to every channel", batch: []string{"a", "b"},
			want: [3]string{"a b", "a b", "a b"}},
		{name: "replicating with an optional channel", selector: "a1.sources.r1.selector.type = replicating\na1.sources.r1.selector.optional = c3\n",
			batch: []string{"a"}, want: [3]string{"a", "a", "a"}},
		{name: "multiplexing by header", selector: `a1.sources.r1.selector.type = multiplexing
a1.sources.r1.selector.header = state
a1.sources.r1.selector.mapping.CZ = c1
a1.sources.r1.selector.mapping.US = c2 c3
a1.sources.r1.selector.default = c3
`, batch: []string{"a=CZ", "b=US", "c=XX", "d", "e="}, want: [3]string{"a", "b", "b c d e"}},
		{name: "multiplexing optional channels, class name, default header", selector: `a1.sources.r1.selector.type = org.apache.flume.channel.MultiplexingChannelSelector
a1.sources.r1.selector.mapping.CZ = c1
a1.sources.r1.selector.optional.CZ = c1 c2
a1.sources.r1.selector.optional.US = c3
a1.sources.r1.selector.default = c2
`, batch: []string{"a=CZ", "b=US"}, want: [3]string{"a", "a b", "b"}},
		{name: "multiplexing without default drops unmapped events", selector: `a1.sources.r1.selector.type = multiplexing
a1.sources.r1.selector.header = state
a1.sources.r1.selector.mapping.CZ = c1
`, batch: []string{"a=CZ", "b=US"}, want: [3]string{"a", "", ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			header := "state"
			if strings.Contains(tc.selector, "org.apache") {
				header = "flume.selector.header"
			}
			conf := fmt.Sprintf(`a1.sources = r1
a1.channels = c1 c2 c3
a1.sinks = k1 k2 k3
a1.sources.r1.type = agenttest_feed
a1.sources.r1.id = %s
a1.sources.r1.channels = c1 c2 c3
%s`, uid(t, "r1"), tc.selector)
			for i := 1; i <= 3; i++ {
				conf += fmt.Sprintf("a1.channels.c%d.type = memory\na1.sinks.k%d.type = agenttest_collect\na1.sinks.k%d.id = %s\na1.sinks.k%d.channel = c%d\n",
					i, i, i, uid(t, fmt.Sprint("k", i)), i, i)
			}
			a := runAgent(t, filepath.Join(t.TempDir(), "f.conf"), conf, nil)
			for _, b := range tc.batch {
				body, value, has := strings.Cut(b, "=")
				e := ev(body)
				if has {
					e = ev(body, header, value)
				}
				if err := feed(t, uid(t, "r1"), e); err != nil {
					t.Fatal(err)
				}
			}
			waitDrained(t, a)
			for i, want := range tc.want {
				got := bodies(uid(t, fmt.Sprint("k", i+1)))
				if strings.Join(got, " ") != want {
					t.Errorf("k%d got %q, want %q", i+1, got, want)
				}
			}
		})
	}
}

// waitDrained waits until every event committed to a channel of a has been
// delivered: each channel's committed takes (counted after the sink's
// delivery) equal its committed puts.
func waitDrained(t *testing.T, a *Agent) {
	t.Helper()
	waitFor(t, "channels drained", func() bool {
		a.mu.Lock()
		g := a.g
		a.mu.Unlock()
		for _, ch := range g.channels {
			s := ch.counters.Snapshot()
			if s["EventPutSuccessCount"] != s["EventTakeSuccessCount"] {
				return false
			}
		}
		return true
	})
}
