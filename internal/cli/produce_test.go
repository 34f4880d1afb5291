package cli

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
)

// TestProduceConsumeRoundTrip produces lines with each option and reads them
// back with consume, comparing what a user would see.
func TestProduceConsumeRoundTrip(t *testing.T) {
	brokers := startBroker(t)
	input := "alpha\nbravo\ncharlie delta\n\nécho ✓\n"
	inputLines := []string{"alpha", "bravo", "charlie delta", "", "écho ✓"}
	tests := []struct {
		name        string
		partitions  string
		stdin       string
		produceArgs []string
		consumeArgs []string
		want        []string
		sorted      bool // compare sorted (records spread over partitions)
	}{
		{
			name:       "plain lines",
			partitions: "1",
			stdin:      input,
			want:       inputLines,
		},
		{name: "gzip", partitions: "1", stdin: input, produceArgs: []string{"--compression", "gzip"}, want: inputLines},
		{name: "snappy", partitions: "1", stdin: input, produceArgs: []string{"--compression", "snappy"}, want: inputLines},
		{name: "lz4", partitions: "1", stdin: input, produceArgs: []string{"--compression", "lz4"}, want: inputLines},
		{name: "zstd", partitions: "1", stdin: input, produceArgs: []string{"--compression", "zstd"}, want: inputLines},
		// With acks=0 the produce command returns before the broker has
		// appended, so read by count rather than up to the end offsets.
		{name: "acks 0", partitions: "1", stdin: input, produceArgs: []string{"--acks", "0"}, consumeArgs: []string{"-n", "5"}, want: inputLines},
		{name: "acks 1", partitions: "1", stdin: input, produceArgs: []string{"--acks", "1"}, want: inputLines},
		{
			name:        "keys and headers",
			partitions:  "1",
			stdin:       "k1:v1\nk2:v:2\n",
			produceArgs: []string{"--key-separator", ":", "--header", "source=test", "--header", "n=1"},
			consumeArgs: []string{"--format", `%k|%v|%h|%t|%p|%o\n`},
			want:        []string{"k1|v1|source=test,n=1|T|0|0", "k2|v:2|source=test,n=1|T|0|1"},
		},
		{
			name:        "fixed partition",
			partitions:  "3",
			stdin:       "a\nb\nc\nd\n",
			produceArgs: []string{"--partition", "2"},
			consumeArgs: []string{"--format", `%p:%v\n`},
			want:        []string{"2:a", "2:b", "2:c", "2:d"},
		},
		{
			name:        "keyed records spread over partitions",
			partitions:  "4",
			stdin:       "a=1\nb=2\nc=3\nd=4\ne=5\nf=6\n",
			produceArgs: []string{"-K", "="},
			consumeArgs: []string{"--format", `%k%v\n`},
			want:        []string{"a1", "b2", "c3", "d4", "e5", "f6"},
			sorted:      true,
		},
		{
			name:        "sizes and timestamps",
			partitions:  "1",
			stdin:       "hello\n",
			consumeArgs: []string{"--format", `%K %V %S %%\n`},
			want:        []string{"0 5 5 %"},
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			topic := fmt.Sprintf("roundtrip-%d", i)
			mustRun(t, brokers, "", "topic", "create", topic, "--partitions", tc.partitions)
			mustRun(t, brokers, tc.stdin, append([]string{"produce", topic}, tc.produceArgs...)...)
			args := []string{"consume", topic, "--from-beginning"}
			if !slices.Contains(tc.consumeArgs, "-n") {
				args = append(args, "--exit-at-end")
			}
			out := mustRun(t, brokers, "", append(args, tc.consumeArgs...)...)
			got := lines(strings.ReplaceAll(out, "|"+topic+"|", "|T|"))
			want := tc.want
			if tc.sorted {
				slices.Sort(got)
				want = slices.Sorted(slices.Values(want))
			}
			if !slices.Equal(got, want) {
				t.Errorf("consumed\n%q\nwant\n%q", got, want)
			}
		})
	}
}

func TestProduceReportsFailedRecords(t *testing.T) {
	brokers := startBroker(t)
	huge := strings.Repeat("x", 2<<20) // over the producer's 1 MB batch limit
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantStderr []string
		wantErr    string
		wantStored []string
	}{
		{
			name:       "missing key separator",
			args:       []string{"-K", ":"},
			stdin:      "a:1\nno separator\nb:2\n",
			wantStderr: []string{`line 2: no key separator ":" in line`},
			wantErr:    "1 of 3 records failed",
			wantStored: []string{"1", "2"},
		},
		{
			name:       "record too large",
			stdin:      "small\n" + huge + "\nsmall again\n",
			wantStderr: []string{"line 2: ", "MESSAGE_TOO_LARGE"},
			wantErr:    "1 of 3 records failed",
			wantStored: []string{"small", "small again"},
		},
		{
			name:    "bad compression",
			args:    []string{"--compression", "brotli"},
			stdin:   "x\n",
			wantErr: "want none, gzip, snappy, lz4 or zstd",
		},
		{
			name:    "bad acks",
			args:    []string{"--acks", "2"},
			stdin:   "x\n",
			wantErr: "want 0, 1 or all",
		},
		{
			name:    "bad header",
			args:    []string{"--header", "novalue"},
			stdin:   "x\n",
			wantErr: "want key=value",
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			topic := fmt.Sprintf("failures-%d", i)
			mustRun(t, brokers, "", "topic", "create", topic, "--partitions", "1")
			r := runCLI(t, brokers, tc.stdin, append([]string{"produce", topic, "--max-line-bytes", "4194304"}, tc.args...)...)
			if r.err == nil || !strings.Contains(r.err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", r.err, tc.wantErr)
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not contain %q:\n%s", w, r.stderr)
				}
			}
			if tc.wantStored == nil {
				return
			}
			got := lines(mustRun(t, brokers, "", "consume", topic, "-b", "-e"))
			if !slices.Equal(got, tc.wantStored) {
				t.Errorf("stored %q, want %q", got, tc.wantStored)
			}
		})
	}
}

func TestConsumeJSON(t *testing.T) {
	brokers := startBroker(t)
	mustRun(t, brokers, "", "topic", "create", "j", "--partitions", "1")
	mustRun(t, brokers, "k:v1\nk:v2\n", "produce", "j", "-K", ":", "-H", "h=x")
	out := mustRun(t, brokers, "", "consume", "j", "-b", "-e", "--json")
	var got []jsonRecord
	for _, l := range lines(out) {
		var r jsonRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		got = append(got, r)
	}
	if len(got) != 2 {
		t.Fatalf("got %d records, want 2:\n%s", len(got), out)
	}
	for i, r := range got {
		if r.Topic != "j" || r.Partition != 0 || r.Offset != int64(i) || r.Timestamp <= 0 ||
			r.Key == nil || *r.Key != "k" || r.Value == nil || *r.Value != fmt.Sprintf("v%d", i+1) ||
			len(r.Headers) != 1 || r.Headers[0].Key != "h" || *r.Headers[0].Value != "x" {
			t.Errorf("record %d = %+v", i, r)
		}
	}
}

// TestProduceBrokerUnreachable: with no broker listening, every line fails
// after --delivery-timeout with the dial error, instead of hanging.
func TestProduceBrokerUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now
	r := runCLI(t, addr, "a\nb\n", "produce", "fred", "--delivery-timeout", "1s")
	if r.err == nil || !strings.Contains(r.err.Error(), "2 of 2 records failed") {
		t.Fatalf("error %v, want 2 of 2 records failed", r.err)
	}
	for _, want := range []string{"line 1:", "line 2:", "connection refused"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}
