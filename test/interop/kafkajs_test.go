package interop

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// kafkajsCodecs are the codecs kafkajs handles in pure JavaScript: its own
// gzip and kafkajs-snappy (lz4 and zstd codecs need native builds).
var kafkajsCodecs = []string{"none", "gzip", "snappy"}

// TestKafkajs produces with kafkajs (idempotent, acks=all) and checks the
// records with franz-go, then produces with franz-go and consumes with
// kafkajs's own Fetch decoding (test/interop/node/interop.js).
func TestKafkajs(t *testing.T) {
	nodePath(t)
	srv := startServer(t)
	const n = 500

	for _, codec := range kafkajsCodecs {
		t.Run("produce/"+codec, func(t *testing.T) {
			topic := "kafkajs-produce-" + codec
			res := runNode(t, 2*time.Minute, "interop.js", "produce", srv.Addr, topic, fmt.Sprint(n), codec).mustOK(t)
			if !strings.Contains(res.Stdout, fmt.Sprintf(`{"acked":%d}`, n)) {
				t.Fatalf("kafkajs produce printed %q", res.Stdout)
			}
			want := make([]testRecord, n)
			for i := range want {
				want[i] = testRecord{
					Partition: int32(i % 2),
					Key:       fmt.Appendf(nil, "key-%d", i),
					Value:     fmt.Appendf(nil, "kafkajs value %d %s", i, strings.Repeat("x", i%100)),
					Headers:   []testHeader{{Key: "index", Value: fmt.Appendf(nil, "%d", i)}},
				}
			}
			var got []testRecord
			for _, r := range consumeAll(t, srv.Addr, topic, n, time.Minute) {
				if c := int8(r.Attrs.CompressionType()); c != kcatCodecIDs[codec] {
					t.Fatalf("record at %d/%d stored with compression %d, want %d (%s)", r.Partition, r.Offset, c, kcatCodecIDs[codec], codec)
				}
				g := testRecord{Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value}
				for _, h := range r.Headers {
					g.Headers = append(g.Headers, testHeader{Key: h.Key, Value: h.Value})
				}
				got = append(got, g)
			}
			checkRecords(t, want, got)
		})
	}

	for i, codec := range kafkajsCodecs {
		t.Run("consume/"+codec, func(t *testing.T) {
			topic := "kafkajs-consume-" + codec
			createTopic(t, srv.Addr, topic, 2, nil)
			want := makeRecords(n, 2, uint64(100+i))
			franzProduce(t, srv.Addr, topic, codec, want)
			res := runNode(t, 2*time.Minute, "interop.js", "consume", srv.Addr, topic, fmt.Sprint(n)).mustOK(t)
			got := parseKafkajsRecords(t, res.Stdout)
			for _, w := range want {
				sort.Slice(w.Headers, func(a, b int) bool { return w.Headers[a].Key < w.Headers[b].Key })
			}
			checkRecords(t, want, got)
		})
	}
}

// parseKafkajsRecords decodes interop.js's JSON lines. Headers come as an
// object, so they are sorted by name to compare with makeRecords' order
// ("bin" < "index").
func parseKafkajsRecords(t testing.TB, out string) []testRecord {
	t.Helper()
	var recs []testRecord
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var line struct {
			Partition int32             `json:"partition"`
			Offset    int64             `json:"offset"`
			Key       []byte            `json:"key"`
			Value     []byte            `json:"value"`
			Headers   map[string]string `json:"headers"`
		}
		if err := dec.Decode(&line); err != nil {
			t.Fatalf("parsing kafkajs output: %v\n%s", err, tail(out, 2000))
		}
		r := testRecord{Partition: line.Partition, Offset: line.Offset, Key: line.Key, Value: line.Value}
		if r.Value == nil {
			r.Value = []byte{}
		}
		for k, v := range line.Headers {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				t.Fatalf("header %q: %v", k, err)
			}
			r.Headers = append(r.Headers, testHeader{Key: k, Value: b})
		}
		sort.Slice(r.Headers, func(a, b int) bool { return r.Headers[a].Key < r.Headers[b].Key })
		recs = append(recs, r)
	}
	return recs
}
