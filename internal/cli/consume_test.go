package cli

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func seq(from, to int) []string {
	var s []string
	for i := from; i <= to; i++ {
		s = append(s, fmt.Sprint(i))
	}
	return s
}

func TestConsumeStartPositions(t *testing.T) {
	brokers := startBroker(t)
	mustRun(t, brokers, "", "topic", "create", "ten", "--partitions", "1")
	mustRun(t, brokers, strings.Join(seq(0, 9), "\n")+"\n", "produce", "ten")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"from beginning", []string{"-b", "-e"}, seq(0, 9)},
		{"default starts at the end", []string{"-e"}, nil},
		{"absolute offset", []string{"--offset", "7", "-e"}, seq(7, 9)},
		{"offset past the end is the end", []string{"--offset", "99", "-e"}, nil},
		{"relative to the end", []string{"--offset", "-2", "-e"}, seq(8, 9)},
		{"named start", []string{"--offset", "start", "-e"}, seq(0, 9)},
		{"named end", []string{"--offset", "end", "-e"}, nil},
		{"count limit", []string{"-b", "-n", "3"}, seq(0, 2)},
		{"count limit from an offset", []string{"-o", "4", "-n", "2"}, seq(4, 5)},
		{"from a time an hour ago", []string{"--from-time", "1h", "-e"}, seq(0, 9)},
		{"from a time in the future", []string{"--from-time", time.Now().Add(time.Hour).Format(time.RFC3339), "-e"}, nil},
		{"from unix millis", []string{"--from-time", "0", "-e"}, seq(0, 9)},
		{"one partition", []string{"-b", "-e", "--partition", "0"}, seq(0, 9)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := lines(mustRun(t, brokers, "", append([]string{"consume", "ten"}, tc.args...)...))
			if !slices.Equal(got, tc.want) {
				t.Errorf("consume %s = %q, want %q", strings.Join(tc.args, " "), got, tc.want)
			}
		})
	}
}

func TestConsumeErrors(t *testing.T) {
	brokers := startBroker(t)
	mustRun(t, brokers, "", "topic", "create", "t", "--partitions", "2")
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"missing topic", []string{"consume", "nope", "-e"}, "looking up topic nope"},
		{"missing partition", []string{"consume", "t", "-p", "5", "-e"}, "partition 5 does not exist"},
		{"bad offset", []string{"consume", "t", "--offset", "soon"}, "want start, end, N or -N"},
		{"bad time", []string{"consume", "t", "--from-time", "yesterday"}, "parsing --from-time"},
		{"bad format verb", []string{"consume", "t", "--format", "%q"}, "unknown verb %q"},
		{"exclusive flags", []string{"consume", "t", "-b", "--offset", "3"}, "none of the others can be"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, brokers, "", tc.args...)
			if r.err == nil || !strings.Contains(r.err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want one containing %q", r.err, tc.wantErr)
			}
		})
	}
}

// servesGroups reports whether the broker at addr advertises the classic
// consumer-group APIs.
func servesGroups(t *testing.T, addr string) bool {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(t.Context(), cl)
	if err != nil {
		t.Fatalf("asking %s for its API versions: %v", addr, err)
	}
	for _, k := range resp.ApiKeys {
		if k.ApiKey == int16(kmsg.JoinGroup) {
			return true
		}
	}
	return false
}

func TestConsumeGroupCommitsWhatItPrinted(t *testing.T) {
	brokers := startBroker(t)
	if !servesGroups(t, brokers) {
		t.Skip("the broker does not advertise the consumer-group APIs yet (internal/group not wired in)")
	}
	mustRun(t, brokers, "", "topic", "create", "g", "--partitions", "2")
	mustRun(t, brokers, strings.Join(seq(0, 9), "\n")+"\n", "produce", "g")
	steps := []struct {
		name  string
		args  []string
		count int
	}{
		{"first member reads four", []string{"-b", "-n", "4"}, 4},
		{"next run resumes after the commit", []string{"-b", "-e"}, 6},
		{"nothing left", []string{"-b", "-e"}, 0},
	}
	var all []string
	for _, s := range steps {
		got := lines(mustRun(t, brokers, "", append([]string{"consume", "g", "--group", "readers"}, s.args...)...))
		if len(got) != s.count {
			t.Fatalf("%s: got %d records %q, want %d", s.name, len(got), got, s.count)
		}
		all = append(all, got...)
	}
	slices.Sort(all)
	if want := slices.Sorted(slices.Values(seq(0, 9))); !slices.Equal(all, want) {
		t.Errorf("over all runs the group read %q, want each of %q once", all, want)
	}
}
