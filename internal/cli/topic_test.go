package cli

import (
	"regexp"
	"strings"
	"testing"
)

// TestTopicCommands walks one topic through its life against a real broker;
// each step sees the previous steps' effects.
func TestTopicCommands(t *testing.T) {
	brokers := startBroker(t)
	steps := []struct {
		name    string
		args    []string
		stdin   string
		wantErr string   // substring of the error; "" means success
		want    []string // regexps the stdout must match
		notWant []string // regexps the stdout must not match
	}{
		{
			name: "create",
			args: []string{"topic", "create", "fred", "--partitions", "3", "--config", "retention.ms=3600000"},
			want: []string{`created topic fred \(3 partitions, replication factor 1\)`},
		},
		{
			name:    "create again fails",
			args:    []string{"topic", "create", "fred"},
			wantErr: "TOPIC_ALREADY_EXISTS",
		},
		{
			name: "create again with --if-not-exists",
			args: []string{"topic", "create", "fred", "--if-not-exists"},
			want: []string{`topic fred already exists`},
		},
		{
			name:    "create with a bad config flag",
			args:    []string{"topic", "create", "barney", "--config", "retention.ms"},
			wantErr: "want key=value",
		},
		{
			name:    "create with an invalid name",
			args:    []string{"topic", "create", "bad/name"},
			wantErr: "INVALID_TOPIC_EXCEPTION",
		},
		{
			name: "list",
			args: []string{"topic", "list"},
			want: []string{`(?m)^NAME\s+PARTITIONS\s+REPLICAS$`, `(?m)^fred\s+3\s+1$`},
		},
		{
			name: "describe",
			args: []string{"topic", "describe", "fred"},
			want: []string{
				`(?m)^PARTITIONS\s+3$`,
				`(?m)^PARTITION\s+LEADER\s+EPOCH\s+REPLICAS\s+LOG-START\s+HIGH-WATERMARK\s+SIZE$`,
				`(?m)^0\s+\d+\s+\d+\s+\[\d+\]\s+0\s+0\s+\d+$`,
				`(?m)^2\s+\d+\s+\d+\s+\[\d+\]\s+0\s+0\s+\d+$`,
				`(?m)^retention.ms\s+3600000\s+dynamic_topic_config$`,
			},
		},
		{
			name:  "produce three records to partition 1",
			args:  []string{"produce", "fred", "--partition", "1"},
			stdin: "a\nb\nc\n",
		},
		{
			name: "describe shows offsets and size on disk",
			args: []string{"topic", "describe", "fred"},
			want: []string{
				`(?m)^1\s+\d+\s+\d+\s+\[\d+\]\s+0\s+3\s+[1-9]\d*$`,
				`(?m)^SIZE\s+[1-9]\d*$`,
			},
		},
		{
			name: "alter-config",
			args: []string{"topic", "alter-config", "fred", "--set", "cleanup.policy=compact", "--delete", "retention.ms"},
			want: []string{`altered configs of topic fred`},
		},
		{
			name:    "describe shows the altered configs",
			args:    []string{"topic", "describe", "fred"},
			want:    []string{`(?m)^cleanup.policy\s+compact\s+dynamic_topic_config$`},
			notWant: []string{`(?m)^retention.ms\s+3600000`},
		},
		{
			name:    "alter-config with nothing to do",
			args:    []string{"topic", "alter-config", "fred"},
			wantErr: "nothing to do",
		},
		{
			name:    "describe a missing topic",
			args:    []string{"topic", "describe", "nope"},
			wantErr: "describing topic nope",
		},
		{
			name: "delete",
			args: []string{"topic", "delete", "fred"},
			want: []string{`deleted topic fred`},
		},
		{
			name:    "list after delete",
			args:    []string{"topic", "list"},
			notWant: []string{`(?m)^fred\s`},
		},
		{
			name:    "delete a missing topic",
			args:    []string{"topic", "delete", "fred"},
			wantErr: "UNKNOWN_TOPIC_OR_PARTITION",
		},
	}
	for _, s := range steps {
		r := runCLI(t, brokers, s.stdin, s.args...)
		if s.wantErr != "" {
			if r.err == nil || !strings.Contains(r.err.Error(), s.wantErr) {
				t.Fatalf("%s: runnel %s: error %v, want one containing %q", s.name, strings.Join(s.args, " "), r.err, s.wantErr)
			}
			continue
		}
		if r.err != nil {
			t.Fatalf("%s: runnel %s: %v", s.name, strings.Join(s.args, " "), r.err)
		}
		for _, re := range s.want {
			if !regexp.MustCompile(re).MatchString(r.stdout) {
				t.Errorf("%s: output does not match %q:\n%s", s.name, re, r.stdout)
			}
		}
		for _, re := range s.notWant {
			if regexp.MustCompile(re).MatchString(r.stdout) {
				t.Errorf("%s: output matches %q but should not:\n%s", s.name, re, r.stdout)
			}
		}
	}
}
