package cli

import (
	"regexp"
	"strconv"
	"testing"
	"time"
)

func TestPerfProduceThenConsume(t *testing.T) {
	brokers := startBroker(t)
	tests := []struct {
		name        string
		produceArgs []string
		records     int
		consumeArgs []string
	}{
		{"one partition acks all", []string{"--records", "3000", "--record-size", "100", "--acks", "all", "--partitions", "1"}, 3000, nil},
		{"four partitions acks 1 two producers", []string{"--records", "3000", "--record-size", "1024", "--acks", "1", "--partitions", "4", "--producers", "2"}, 3000, nil},
		{"compressed", []string{"--records", "1000", "--record-size", "200", "--compression", "zstd", "--partitions", "2"}, 1000, nil},
		{"consumed in a group", []string{"--records", "500", "--partitions", "3"}, 500, []string{"--group", "perf"}},
	}
	sent := regexp.MustCompile(`^(\d+) records sent in [\d.]+s, [\d.]+ records/s, [\d.]+ MiB/s, latency avg [\d.]+ms, p50 [\d.]+ms, p95 [\d.]+ms, p99 [\d.]+ms, p99.9 [\d.]+ms, max [\d.]+ms\n$`)
	read := regexp.MustCompile(`^(\d+) records \([\d.]+ MiB\) consumed in [\d.]+s, [\d.]+ records/s, [\d.]+ MiB/s, first record after [\d.]+ms\n$`)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			topic := "perf-" + strconv.Itoa(i)
			out := mustRun(t, brokers, "", append([]string{"perf", "produce", topic, "--progress=false"}, tc.produceArgs...)...)
			m := sent.FindStringSubmatch(out)
			if m == nil || m[1] != strconv.Itoa(tc.records) {
				t.Fatalf("perf produce summary %q, want %d records sent", out, tc.records)
			}
			out = mustRun(t, brokers, "", append([]string{"perf", "consume", topic, "--progress=false", "--timeout", "20s"}, tc.consumeArgs...)...)
			m = read.FindStringSubmatch(out)
			if m == nil || m[1] != strconv.Itoa(tc.records) {
				t.Fatalf("perf consume summary %q, want %d records", out, tc.records)
			}
		})
	}
}

// TestPerfProduceThroughputCap checks the cap holds the rate down: 400
// records at 1000/s cannot finish in much less than 0.4s.
func TestPerfProduceThroughputCap(t *testing.T) {
	brokers := startBroker(t)
	start := time.Now()
	mustRun(t, brokers, "", "perf", "produce", "capped", "--records", "400", "--throughput", "1000", "--progress=false")
	if d := time.Since(start); d < 350*time.Millisecond {
		t.Errorf("400 records at 1000/s took %s, want at least ~400ms", d)
	}
}

func TestPerfConsumeEmptyTopic(t *testing.T) {
	brokers := startBroker(t)
	mustRun(t, brokers, "", "topic", "create", "empty")
	r := runCLI(t, brokers, "", "perf", "consume", "empty", "--progress=false")
	if r.err == nil {
		t.Fatalf("perf consume of an empty topic succeeded: %s", r.stdout)
	}
}

func TestQuantile(t *testing.T) {
	var xs []time.Duration
	for i := 1; i <= 1000; i++ {
		xs = append(xs, time.Duration(i))
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{{0.5, 500}, {0.99, 990}, {0.999, 999}, {1, 1000}, {0, 1}}
	for _, tc := range tests {
		if got := quantile(xs, tc.q); got != tc.want {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := quantile(nil, 0.5); got != 0 {
		t.Errorf("quantile of nothing = %v", got)
	}
}
