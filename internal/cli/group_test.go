package cli

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/testutil"
)

// groupRow finds the describe/reset table row for topic and partition.
func groupRow(out, topic, part string) []string {
	for _, l := range lines(out) {
		f := strings.Fields(l)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == topic && f[i+1] == part {
				return f[i:]
			}
		}
	}
	return nil
}

func TestGroupCommands(t *testing.T) {
	brokers := testutil.RunBroker(t, testutil.WithSettings("group.initial.rebalance.delay.ms", "0"))
	mustRun(t, brokers, "", "topic", "create", "clicks", "--partitions", "2")
	mustRun(t, brokers, strings.Join(seq(0, 3), "\n")+"\n", "produce", "clicks", "-p", "0")
	mustRun(t, brokers, strings.Join(seq(4, 9), "\n")+"\n", "produce", "clicks", "-p", "1")
	if got := lines(mustRun(t, brokers, "", "consume", "clicks", "--group", "readers", "-b", "-e")); len(got) != 10 {
		t.Fatalf("consumed %d records, want 10", len(got))
	}

	list := mustRun(t, brokers, "", "group", "list")
	if !strings.Contains(list, "readers") || !strings.Contains(list, "Empty") {
		t.Errorf("group list:\n%s", list)
	}

	desc := mustRun(t, brokers, "", "group", "describe", "readers")
	var total int
	for _, p := range []string{"0", "1"} {
		row := groupRow(desc, "clicks", p)
		if len(row) < 5 || row[2] != row[3] || row[4] != "0" {
			t.Fatalf("describe partition %s: row %q in\n%s", p, row, desc)
		}
		total += atoi(t, row[3])
	}
	if total != 10 {
		t.Errorf("log end offsets sum to %d, want 10", total)
	}

	for _, tc := range []struct {
		name    string
		args    []string
		execute bool
		want    func(end int) int // new offset of partition 0 given its end offset
	}{
		{"plan only", []string{"--to-earliest"}, false, func(end int) int { return end }},
		{"to earliest", []string{"--to-earliest"}, true, func(int) int { return 0 }},
		{"to offset clamped", []string{"--to-offset", "1000"}, true, func(end int) int { return end }},
		{"shift back", []string{"--shift-by", "-1"}, true, func(end int) int { return end - 1 }},
		{"to latest", []string{"--to-latest"}, true, func(end int) int { return end }},
		{"to datetime in the future", []string{"--to-datetime", "2099-01-01T00:00:00Z"}, true, func(end int) int { return end }},
		{"to datetime in the past", []string{"--to-datetime", "2000-01-01T00:00:00Z"}, true, func(int) int { return 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"group", "reset-offsets", "readers", "--topic", "clicks"}, tc.args...)
			if tc.execute {
				args = append(args, "--execute")
			}
			out := mustRun(t, brokers, "", args...)
			if !tc.execute && !strings.Contains(out, "--execute") {
				t.Errorf("plan output does not say how to apply it:\n%s", out)
			}
			desc := mustRun(t, brokers, "", "group", "describe", "readers")
			row := groupRow(desc, "clicks", "0")
			end := atoi(t, row[3])
			if got := row[2]; got != itoa(tc.want(end)) {
				t.Errorf("committed offset of clicks-0 is %s, want %d\n%s", got, tc.want(end), desc)
			}
		})
	}

	// Refused while the group has members.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumerGroup("readers"), kgo.ConsumeTopics("clicks"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !strings.Contains(mustRun(t, brokers, "", "group", "describe", "readers"), "Stable") {
		cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("the group member never became Stable")
		}
	}
	if r := runCLI(t, brokers, "", "group", "reset-offsets", "readers", "--topic", "clicks", "--to-earliest", "--execute"); r.err == nil || !strings.Contains(r.err.Error(), "active members") {
		t.Errorf("reset of an active group: err %v", r.err)
	}
	if r := runCLI(t, brokers, "", "group", "delete", "readers"); r.err == nil {
		t.Error("deleting a group with members succeeded")
	}
	cl.Close() // leaves the group

	if out := mustRun(t, brokers, "", "group", "delete", "readers"); !strings.Contains(out, "Deleted group readers") {
		t.Errorf("delete: %s", out)
	}
	if list := mustRun(t, brokers, "", "group", "list"); strings.Contains(list, "readers") {
		t.Errorf("deleted group still listed:\n%s", list)
	}
	if r := runCLI(t, brokers, "", "group", "describe", "readers"); r.err == nil || !strings.Contains(r.err.Error(), "does not exist") {
		t.Errorf("describing a deleted group: %v", r.err)
	}
	if r := runCLI(t, brokers, "", "group", "reset-offsets", "readers", "--topic", "clicks"); r.err == nil {
		t.Error("reset-offsets without a --to-* flag succeeded")
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

func itoa(n int) string { return strconv.Itoa(n) }
