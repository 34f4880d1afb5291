package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func get(t *testing.T, url, accept string) (string, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return resp.Header.Get("Content-Type"), string(body)
}

// The counters are served as Flume's JSON and as Prometheus text over a real
// HTTP server, counted by the agent's wrappers (source, channel, sink) and
// by the component itself (ConnectionFailedCount).
func TestMetricsEndpoints(t *testing.T) {
	conf := fmt.Sprintf(`a1.sources = r1
a1.channels = c1 c2
a1.sinks = k1
a1.sources.r1.type = agenttest_feed
a1.sources.r1.id = %s
a1.sources.r1.channels = c1 c2
a1.channels.c1.type = memory
a1.channels.c2.type = memory
a1.channels.c2.capacity = 8
a1.channels.c2.transactionCapacity = 8
a1.sinks.k1.type = agenttest_collect
a1.sinks.k1.id = %s
a1.sinks.k1.channel = c1
a1.sinks.k1.batchSize = 2
`, uid(t, "r1"), uid(t, "k1"))
	a := runAgent(t, "f.conf", conf, func(a *Agent) { a.MetricsAddr = "127.0.0.1:0" })
	if err := feed(t, uid(t, "r1"), ev("a"), ev("b"), ev("c")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3 events at k1", func() bool { return len(bodies(uid(t, "k1"))) == 3 })
	waitFor(t, "k1's commit", func() bool { return a.current().sinks["k1"].counters.Snapshot()["EventDrainSuccessCount"] == 3 })
	waitFor(t, "metrics server", func() bool { return a.MetricsListenAddr() != nil })
	base := "http://" + a.MetricsListenAddr().String()

	ctype, body := get(t, base+"/metrics", "")
	if ctype != "application/json" {
		t.Errorf("content type %q", ctype)
	}
	var m map[string]map[string]string
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	checks := []struct{ comp, key, want string }{
		{"SOURCE.r1", "Type", "SOURCE"},
		{"SOURCE.r1", "EventReceivedCount", "3"},
		{"SOURCE.r1", "EventAcceptedCount", "3"},
		{"SOURCE.r1", "AppendBatchAcceptedCount", "1"},
		{"SOURCE.r1", "OpenConnectionCount", "0"},
		{"CHANNEL.c1", "Type", "CHANNEL"},
		{"CHANNEL.c1", "EventPutSuccessCount", "3"},
		{"CHANNEL.c1", "EventTakeSuccessCount", "3"},
		{"CHANNEL.c1", "ChannelSize", "0"},
		{"CHANNEL.c1", "ChannelCapacity", "100"},
		{"CHANNEL.c2", "ChannelSize", "3"},
		{"CHANNEL.c2", "ChannelCapacity", "8"},
		{"CHANNEL.c2", "ChannelFillPercentage", "37.5"},
		{"CHANNEL.c1", "ChannelFillPercentage", "0.0"},
		{"SINK.k1", "Type", "SINK"},
		{"SINK.k1", "EventDrainAttemptCount", "3"},
		{"SINK.k1", "EventDrainSuccessCount", "3"},
		{"SINK.k1", "BatchCompleteCount", "1"},
		{"SINK.k1", "BatchUnderflowCount", "1"},
		{"SINK.k1", "ConnectionFailedCount", "0"},
	}
	for _, c := range checks {
		if got := m[c.comp][c.key]; got != c.want {
			t.Errorf("%s %s = %q, want %q", c.comp, c.key, got, c.want)
		}
	}
	if m["SOURCE.r1"]["StartTime"] == "0" || m["SINK.k1"]["StartTime"] == "0" || m["CHANNEL.c1"]["StartTime"] == "0" {
		t.Errorf("StartTime not set: %v", m)
	}

	for _, tc := range []struct{ path, accept string }{
		{"/metrics", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"},
		{"/metrics", "text/plain"},
		{"/metrics/prometheus", ""},
	} {
		_, text := get(t, base+tc.path, tc.accept)
		for _, want := range []string{
			`runnel_agent_source_event_accepted_total{agent="a1",component="r1"} 3`,
			`runnel_agent_channel_size{agent="a1",component="c2"} 3`,
			`runnel_agent_channel_fill_percentage{agent="a1",component="c2"} 37.5`,
			`runnel_agent_sink_event_drain_success_total{agent="a1",component="k1"} 3`,
			`# TYPE runnel_agent_channel_event_put_success_total counter`,
			`# TYPE runnel_agent_source_open_connections gauge`,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("%s (Accept %q) lacks %q:\n%s", tc.path, tc.accept, want, text)
			}
		}
	}
}
