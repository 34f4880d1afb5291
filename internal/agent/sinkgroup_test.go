package agent

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// shortPenalty makes failover and load_balance penalties start at d for one
// test.
func shortPenalty(t *testing.T, d time.Duration) {
	old := failurePenalty
	failurePenalty = d
	t.Cleanup(func() { failurePenalty = old })
}

func groupConf(t *testing.T, group string, sinks ...string) string {
	conf := fmt.Sprintf(`a1.sources = r1
a1.channels = c1
a1.sinks = %s
a1.sources.r1.type = agenttest_feed
a1.sources.r1.id = %s
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinkgroups = g1
a1.sinkgroups.g1.sinks = %s
%s`, strings.Join(sinks, " "), uid(t, "r1"), strings.Join(sinks, " "), group)
	for _, k := range sinks {
		conf += fmt.Sprintf("a1.sinks.%s.type = agenttest_collect\na1.sinks.%s.id = %s\na1.sinks.%s.channel = c1\na1.sinks.%s.batchSize = 1\n", k, k, uid(t, k), k, k)
	}
	return conf
}

// Failover: the highest-priority sink takes the batches; when its target is
// down the next one does, and once it is back (after its penalty) it takes
// over again. Nothing is lost or delivered twice.
func TestFailoverGroup(t *testing.T) {
	shortPenalty(t, 10*time.Millisecond)
	conf := groupConf(t, `a1.sinkgroups.g1.processor.type = failover
a1.sinkgroups.g1.processor.priority.k1 = 10
a1.sinkgroups.g1.processor.priority.k2 = 5
a1.sinkgroups.g1.processor.maxpenalty = 50
`, "k2", "k1")
	a := runAgent(t, "f.conf", conf, nil)
	k1, k2 := uid(t, "k1"), uid(t, "k2")
	send := func(body string) {
		t.Helper()
		if err := feed(t, uid(t, "r1"), ev(body)); err != nil {
			t.Fatal(err)
		}
		waitDrained(t, a)
	}
	send("a")
	setDown(k1, true)
	send("b")
	send("c")
	setDown(k1, false)
	time.Sleep(100 * time.Millisecond) // longer than maxpenalty
	send("d")
	send("e")
	if got := strings.Join(bodies(k1), " "); got != "a d e" {
		t.Errorf("k1 (priority 10) got %q, want a d e", got)
	}
	if got := strings.Join(bodies(k2), " "); got != "b c" {
		t.Errorf("k2 (priority 5) got %q, want b c", got)
	}
	snap := a.g.sinks["k1"].counters.Snapshot()
	if snap["EventWriteFail"] < 1 || snap["ConnectionFailedCount"] < 1 || snap["EventDrainSuccessCount"] != 3 {
		t.Errorf("k1 counters %v", snap)
	}
}

// A failover group whose sinks all fail keeps the events in the channel and
// delivers them once a sink is back.
func TestFailoverGroupAllDown(t *testing.T) {
	shortPenalty(t, 5*time.Millisecond)
	conf := groupConf(t, "a1.sinkgroups.g1.processor.type = FAILOVER\na1.sinkgroups.g1.processor.maxpenalty = 20\n", "k1", "k2")
	a := runAgent(t, "f.conf", conf, nil)
	k1, k2 := uid(t, "k1"), uid(t, "k2")
	setDown(k1, true)
	setDown(k2, true)
	if err := feed(t, uid(t, "r1"), ev("a"), ev("b")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if len(bodies(k1))+len(bodies(k2)) != 0 {
		t.Fatal("delivered while every target was down")
	}
	setDown(k2, false)
	waitDrained(t, a)
	if got := strings.Join(bodies(k2), " "); got != "a b" {
		t.Errorf("k2 got %q", got)
	}
}

// loadGroup loads conf without running it, so a test can step a group's
// loop itself.
func loadGroup(t *testing.T, conf string) *Agent {
	t.Helper()
	a, err := LoadBytes("f.conf", []byte(conf), "a1", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.closeAll)
	return a
}

func evs(bodies ...string) []flow.Event {
	var out []flow.Event
	for _, b := range bodies {
		out = append(out, ev(b))
	}
	return out
}

// put commits each body in its own batch through source r1's processor.
func put(t *testing.T, a *Agent, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		if err := a.g.sources[0].proc.Emit(context.Background(), evs(b)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadBalanceGroup(t *testing.T) {
	shortPenalty(t, time.Hour)
	cases := []struct {
		name    string
		keys    string
		down    string // collector down during the steps
		want    [3]string
		k2tries int64 // attempts of k2, -1 = do not check
	}{
		{name: "round robin per batch", keys: "a1.sinkgroups.g1.processor.type = load_balance\n",
			want: [3]string{"1 4", "2 5", "3 6"}, k2tries: 2},
		{name: "a failed sink passes the batch on", keys: "a1.sinkgroups.g1.processor.type = load_balance\n", down: "k2",
			want: [3]string{"1 4", "", "2 3 5 6"}, k2tries: 2},
		{name: "backoff leaves a failed sink out", keys: "a1.sinkgroups.g1.processor.type = org.apache.flume.sink.LoadBalancingSinkProcessor\na1.sinkgroups.g1.processor.backoff = true\na1.sinkgroups.g1.processor.selector = round_robin\n",
			down: "k2", want: [3]string{"1 3 5", "", "2 4 6"}, k2tries: 1},
		{name: "random order", keys: "a1.sinkgroups.g1.processor.type = load_balance\na1.sinkgroups.g1.processor.selector = random\n", k2tries: -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := loadGroup(t, groupConf(t, tc.keys, "k1", "k2", "k3"))
			if tc.down != "" {
				setDown(uid(t, tc.down), true)
			}
			put(t, a, "1", "2", "3", "4", "5", "6")
			loop := a.g.runners[0].loop
			for i := 0; i < 6; i++ {
				if n, err := loop.Step(context.Background()); n != 1 || err != nil {
					t.Fatalf("step %d: %d events, %v", i, n, err)
				}
			}
			total := 0
			for i, want := range tc.want {
				got := bodies(uid(t, fmt.Sprint("k", i+1)))
				total += len(got)
				if tc.k2tries >= 0 && strings.Join(got, " ") != want {
					t.Errorf("k%d got %q, want %q", i+1, got, want)
				}
			}
			if total != 6 {
				t.Errorf("%d events delivered, want 6", total)
			}
			collectMu.Lock()
			tries := attempts[uid(t, "k2")]
			collectMu.Unlock()
			if tc.k2tries >= 0 && (tries == nil && tc.k2tries != 0 || tries != nil && tries.Load() != tc.k2tries) {
				t.Errorf("k2 attempted %v times, want %d", tries, tc.k2tries)
			}
		})
	}
}
