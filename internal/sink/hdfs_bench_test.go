package sink

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/channel"
	"github.com/runnel/runnel/internal/flow"
)

// BenchmarkHDFS measures events/s and MB/s of 100-byte events into the hdfs
// sink, one Deliver (written, synced, fdatasynced) per batch, with Flume's
// default rolling turned off so the numbers are the write path's. Bodies
// are a repeated alphabet, so compressed numbers are on very compressible
// text.
//
//	go test -run XXX -bench BenchmarkHDFS -benchtime 200000x ./internal/sink/
func BenchmarkHDFS(b *testing.B) {
	for _, ft := range []struct{ name, fileType, codec string }{
		{"SequenceFile", "SequenceFile", ""}, {"DataStream", "DataStream", ""},
		{"SequenceFile+snappy", "SequenceFile", "snappy"}, {"CompressedStream+gzip", "CompressedStream", "gzip"},
	} {
		for _, batch := range []int{100, 1000} {
			b.Run(ft.name+"/batch="+strconv.Itoa(batch), func(b *testing.B) {
				raw := map[string]string{"hdfs.path": b.TempDir() + "/%Y%m%d/%H", "hdfs.fileType": ft.fileType,
					"hdfs.rollCount": "0", "hdfs.rollSize": "0", "hdfs.rollInterval": "0", "hdfs.batchSize": strconv.Itoa(batch)}
				if ft.codec != "" {
					raw["hdfs.codeC"] = ft.codec
				}
				s := mustBuildSink(b, "hdfs", raw)
				body := make([]byte, 99)
				for i := range body {
					body[i] = 'a' + byte(i%26)
				}
				events := make([]flow.Event, batch)
				ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
				for i := range events {
					events[i] = flow.Event{Headers: map[string]string{"timestamp": ts}, Body: body}
				}
				b.SetBytes(100) // 99 bytes + the newline of a DataStream line
				b.ResetTimer()
				for done := 0; done < b.N; done += batch {
					n := min(batch, b.N-done)
					if err := s.Deliver(context.Background(), events[:n]); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// TestHDFSThroughRunner runs memory channel → SinkRunner → hdfs sink: every
// event committed to the channel lands in a file once, and the channel is
// drained.
func TestHDFSThroughRunner(t *testing.T) {
	dir := t.TempDir()
	ch := channel.NewMemory(10000, 100, 0, time.Second)
	s := mustBuildSink(t, "hdfs", map[string]string{"hdfs.path": dir + "/%{part}", "hdfs.fileType": "DataStream", "hdfs.batchSize": "100", "hdfs.useLocalTimeStamp": "true"})
	const n = 1000
	tx := ch.Begin()
	for i := range n {
		if err := tx.Put(context.Background(), hdrEvent(strconv.Itoa(i), "part", strconv.Itoa(i%3))); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			tx = ch.Begin()
		}
	}
	tx.Commit()
	r := &flow.SinkRunner{Name: "k1", Channel: ch, Sink: s}
	for ch.Len() > 0 {
		if _, err := r.Process(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, f := range filesUnder(t, dir) {
		for _, line := range fileLines(t, dir+"/"+f) {
			seen[line]++
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct events in files, want %d", len(seen), n)
	}
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("event %s written %d times", k, c)
		}
	}
}
