package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kcatCodecIDs maps a codec name to the record-batch attribute it must set.
var kcatCodecIDs = map[string]int8{"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

// kcatWarnings are stderr fragments that mean librdkafka downgraded or failed.
var kcatWarnings = []string{"not compressing", "not supported by broker", "ERROR", "Failed", "% "}

func checkKcatStderr(t testing.TB, stderr string) {
	t.Helper()
	for _, w := range kcatWarnings {
		if strings.Contains(stderr, w) {
			t.Errorf("kcat stderr contains %q:\n%s", w, tail(stderr, 3000))
			return
		}
	}
}

// TestKcat drives the broker with kcat (librdkafka): produce a file with each
// codec (no "not compressing" warning, batches really compressed), consume
// it with -e, list metadata with -L and query offsets by timestamp with -Q.
func TestKcat(t *testing.T) {
	kcat := needKcat(t)
	srv := startServer(t)
	const partitions = 3
	const lines = 1000

	for _, codec := range codecs {
		t.Run("produce_consume/"+codec, func(t *testing.T) {
			topic := "kcat-" + codec
			createTopic(t, srv.Addr, topic, partitions, nil)
			var file strings.Builder
			want := map[string]string{}
			for i := 0; i < lines; i++ {
				k := fmt.Sprintf("key-%d", i)
				v := fmt.Sprintf("line %d: the quick brown fox jumps over the lazy dog %s", i, strings.Repeat("z", i%50))
				want[k] = v
				fmt.Fprintf(&file, "%s\t%s\n", k, v)
			}
			path := filepath.Join(t.TempDir(), "input.txt")
			if err := os.WriteFile(path, []byte(file.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			res := runCmd(t, 2*time.Minute, "", nil, kcat,
				"-b", srv.Addr, "-t", topic, "-P", "-z", codec, "-K", "\t",
				"-H", "source=kcat", "-X", "linger.ms=20", "-l", path).mustOK(t)
			checkKcatStderr(t, res.Stderr)

			// kcat -C: every line back, with key and header. -c bounds the
			// run by count; the end-of-partition exit of -e alone is
			// checked separately (consume_e_exits_at_end) so that a broken
			// EOF costs one short timeout, not one per codec.
			res = runCmd(t, time.Minute, "", nil, kcat,
				"-b", srv.Addr, "-t", topic, "-C", "-o", "beginning", "-e", "-q",
				"-c", fmt.Sprint(lines), "-f", "%p|%o|%k|%h|%s\n").mustOK(t)
			checkKcatStderr(t, res.Stderr)
			got := strings.Split(strings.TrimSuffix(res.Stdout, "\n"), "\n")
			if len(got) != lines {
				t.Fatalf("kcat -C -e printed %d lines, want %d; first: %q", len(got), lines, got[0])
			}
			for _, l := range got {
				f := strings.SplitN(l, "|", 5)
				if len(f) != 5 {
					t.Fatalf("kcat output line %q", l)
				}
				if want[f[2]] != f[4] {
					t.Errorf("key %q: value %q, want %q", f[2], f[4], want[f[2]])
				}
				if f[3] != "source=kcat" {
					t.Errorf("key %q: headers %q, want source=kcat", f[2], f[3])
				}
				delete(want, f[2])
			}
			if len(want) != 0 {
				t.Errorf("%d produced lines never consumed", len(want))
			}

			// The batches librdkafka sent are really compressed with codec.
			for _, r := range consumeAll(t, srv.Addr, topic, lines, time.Minute) {
				if got := int8(r.Attrs.CompressionType()); got != kcatCodecIDs[codec] {
					t.Fatalf("record at %d/%d stored with compression %d, want %d (%s)", r.Partition, r.Offset, got, kcatCodecIDs[codec], codec)
				}
			}
		})
	}

	// kcat -e must exit once every partition is consumed to its end: this
	// needs empty Fetch partitions answered the way librdkafka parses them.
	t.Run("consume_e_exits_at_end", func(t *testing.T) {
		const topic = "kcat-eof"
		createTopic(t, srv.Addr, topic, 3, nil)
		cl := newClient(t, srv.Addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Partition 0 gets records; 1 and 2 stay empty.
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("a")}, &kgo.Record{Value: []byte("b")}).FirstErr(); err != nil {
			t.Fatalf("producing: %v", err)
		}
		res := runCmd(t, 30*time.Second, "", nil, kcat,
			"-b", srv.Addr, "-t", topic, "-C", "-o", "beginning", "-e", "-f", "%s\n").mustOK(t)
		if got := strings.Count(res.Stdout, "\n"); got != 2 {
			t.Errorf("kcat -e printed %d records, want 2:\n%s", got, res.Stdout)
		}
		checkKcatStderr(t, strings.ReplaceAll(res.Stderr, "% Reached end of topic", ""))
	})

	t.Run("metadata_L", func(t *testing.T) {
		const topic = "kcat-meta"
		createTopic(t, srv.Addr, topic, 5, nil)
		res := runCmd(t, time.Minute, "", nil, kcat, "-b", srv.Addr, "-L", "-J").mustOK(t)
		var md struct {
			Brokers []struct {
				ID   int32  `json:"id"`
				Name string `json:"name"`
			} `json:"brokers"`
			Topics []struct {
				Topic      string `json:"topic"`
				Partitions []struct {
					Partition int32 `json:"partition"`
					Leader    int32 `json:"leader"`
				} `json:"partitions"`
			} `json:"topics"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &md); err != nil {
			t.Fatalf("parsing kcat -L -J output: %v\n%s", err, res.Stdout)
		}
		if len(md.Brokers) != 1 || md.Brokers[0].Name != srv.Addr {
			t.Errorf("brokers %+v, want one named %s", md.Brokers, srv.Addr)
		}
		found := false
		for _, tp := range md.Topics {
			if tp.Topic != topic {
				continue
			}
			found = true
			if len(tp.Partitions) != 5 {
				t.Errorf("topic %s has %d partitions in metadata, want 5", topic, len(tp.Partitions))
			}
			for _, p := range tp.Partitions {
				if len(md.Brokers) > 0 && p.Leader != md.Brokers[0].ID {
					t.Errorf("partition %d leader %d, want broker %d", p.Partition, p.Leader, md.Brokers[0].ID)
				}
			}
		}
		if !found {
			t.Errorf("kcat -L does not list topic %s:\n%s", topic, res.Stdout)
		}
	})

	t.Run("offsets_by_timestamp_Q", func(t *testing.T) {
		const topic = "kcat-times"
		createTopic(t, srv.Addr, topic, 1, nil)
		base := time.Now().Add(-time.Hour).Truncate(time.Second)
		cl := newClient(t, srv.Addr, kgo.DefaultProduceTopic(topic))
		var recs []*kgo.Record
		for i := 0; i < 100; i++ {
			recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "v%d", i), Timestamp: base.Add(time.Duration(i) * time.Second)})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("producing timestamped records: %v", err)
		}
		for _, tc := range []struct {
			name string
			ts   int64
			want int64
		}{
			{"exact", base.Add(50 * time.Second).UnixMilli(), 50},
			{"between", base.Add(50*time.Second + 500*time.Millisecond).UnixMilli(), 51},
			{"before_all", base.Add(-time.Minute).UnixMilli(), 0},
			{"latest", -1, 100},
			{"earliest", -2, 0},
		} {
			res := runCmd(t, time.Minute, "", nil, kcat, "-b", srv.Addr, "-Q", "-t", fmt.Sprintf("%s:0:%d", topic, tc.ts)).mustOK(t)
			want := fmt.Sprintf("%s [0] offset %d", topic, tc.want)
			if !strings.Contains(res.Stdout, want) {
				t.Errorf("%s: kcat -Q printed %q, want %q (stderr %q)", tc.name, strings.TrimSpace(res.Stdout), want, res.Stderr)
			}
		}
	})
}
