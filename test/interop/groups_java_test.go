package interop

// Kafka's own Java tools against runnel's group coordinator: ConsoleConsumer
// --group, and ConsumerGroupCommand --list, --describe and --reset-offsets
// agreeing with `runnel group describe`.

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// groupOffsets parses "TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG"
// columns out of a describe table (Kafka's or runnel's) into
// partition → [current, end, lag] for topic; "-" is -1.
func groupOffsets(t testing.TB, out, topic string) map[string][3]int64 {
	t.Helper()
	res := map[string][3]int64{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		for i := 0; i+4 < len(f); i++ {
			if f[i] != topic {
				continue
			}
			var v [3]int64
			ok := true
			for j := range 3 {
				s := f[i+2+j]
				if s == "-" {
					v[j] = -1
					continue
				}
				var n int64
				if _, err := fmt.Sscan(s, &n); err != nil {
					ok = false
				}
				v[j] = n
			}
			if ok {
				res[f[i+1]] = v
			}
			break
		}
	}
	return res
}

func runnelCLI(t testing.TB, addr string, args ...string) string {
	t.Helper()
	return runCmd(t, 60*time.Second, "", nil, runnelBin, append([]string{"--brokers", addr}, args...)...).mustOK(t).Stdout
}

func TestGroupsJavaTools(t *testing.T) {
	javaClasspath(t)
	srv := startServer(t, withSettings(groupSettings))
	const topic, total = "javagroups", 300
	createTopic(t, srv.Addr, topic, 3, nil)
	produceValues(t, srv.Addr, topic, 0, total)

	out := runJava(t, "org.apache.kafka.tools.consumer.ConsoleConsumer", "--bootstrap-server", srv.Addr,
		"--topic", topic, "--group", "java-readers", "--from-beginning", "--max-messages", fmt.Sprint(total),
		"--timeout-ms", "60000").mustOK(t)
	if n := len(strings.Fields(out.Stdout)); n != total {
		t.Fatalf("ConsoleConsumer --group printed %d records, want %d\nstderr:\n%s", n, total, tail(out.Stderr, 3000))
	}

	list := runJava(t, "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--bootstrap-server", srv.Addr, "--list").mustOK(t)
	if !strings.Contains(list.Stdout, "java-readers") {
		t.Errorf("ConsumerGroupCommand --list:\n%s", list.Stdout)
	}

	compare := func(stage string, wantCurrent func(end int64) int64) {
		t.Helper()
		jd := runJava(t, "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--bootstrap-server", srv.Addr,
			"--describe", "--group", "java-readers").mustOK(t)
		rd := runnelCLI(t, srv.Addr, "group", "describe", "java-readers")
		java, ours := groupOffsets(t, jd.Stdout, topic), groupOffsets(t, rd, topic)
		if len(java) != 3 || len(ours) != 3 {
			t.Fatalf("%s: partitions: java %v, runnel %v\njava:\n%s\nrunnel:\n%s", stage, java, ours, jd.Stdout, rd)
		}
		var sum int64
		for p, j := range java {
			if ours[p] != j {
				t.Errorf("%s: partition %s: ConsumerGroupCommand says %v, runnel group describe %v", stage, p, j, ours[p])
			}
			if want := wantCurrent(j[1]); j[0] != want || j[2] != j[1]-want {
				t.Errorf("%s: partition %s: current %d lag %d, want current %d", stage, p, j[0], j[2], want)
			}
			sum += j[1]
		}
		if sum != total {
			t.Errorf("%s: log end offsets sum to %d, want %d", stage, sum, total)
		}
	}
	compare("after ConsoleConsumer", func(end int64) int64 { return end })

	reset := runJava(t, "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--bootstrap-server", srv.Addr,
		"--reset-offsets", "--to-earliest", "--execute", "--group", "java-readers", "--topic", topic).mustOK(t)
	if !strings.Contains(reset.Stdout, topic) {
		t.Errorf("--reset-offsets printed:\n%s", reset.Stdout)
	}
	compare("after --reset-offsets --to-earliest", func(int64) int64 { return 0 })

	// runnel's own reset, read back by the Java tool.
	runnelCLI(t, srv.Addr, "group", "reset-offsets", "java-readers", "--topic", topic, "--to-latest", "--execute")
	compare("after runnel group reset-offsets --to-latest", func(end int64) int64 { return end })

	del := runJava(t, "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--bootstrap-server", srv.Addr,
		"--delete", "--group", "java-readers").mustOK(t)
	if !strings.Contains(strings.ToLower(del.Stdout), "deletion") && !strings.Contains(del.Stdout, "java-readers") {
		t.Errorf("--delete printed:\n%s", del.Stdout)
	}
	if l := runnelCLI(t, srv.Addr, "group", "list"); strings.Contains(l, "java-readers") {
		t.Errorf("group still listed after ConsumerGroupCommand --delete:\n%s", l)
	}
}
