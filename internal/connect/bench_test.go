package connect

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/testutil"
)

// line100 is a 100-byte line (with its newline) numbered i.
func line100(i int) []byte {
	l := fmt.Appendf(nil, "line %09d ", i)
	l = append(l, bytes.Repeat([]byte("x"), 99-len(l))...)
	return append(l, '\n')
}

// benchWorker is startWorker for benchmarks (no REST server, logs
// discarded) with the StringConverter, so the numbers measure the worker.
func benchWorker(b *testing.B, brokers string) (*Worker, string) {
	dir := b.TempDir()
	cfg, _, err := ParseWorkerConfig(map[string]string{KeyBootstrapServers: brokers, KeyOffsetFile: filepath.Join(dir, "offsets.json"),
		KeyValueConverter: "org.apache.kafka.connect.storage.StringConverter", KeyOffsetFlush: "1000"})
	if err != nil {
		b.Fatal(err)
	}
	w, err := NewWorker(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close() })
	return w, dir
}

// BenchmarkFileToTopic: a FileStreamSource publishes b.N 100-byte lines of
// a file to a topic (acks=all, idempotent); the clock stops when the last
// record is on the topic.
func BenchmarkFileToTopic(b *testing.B) {
	brokers := testutil.RunBroker(b)
	w, dir := benchWorker(b, brokers)
	in := filepath.Join(dir, "in.log")
	var buf bytes.Buffer
	for i := 0; i < b.N; i++ {
		buf.Write(line100(i))
	}
	if err := os.WriteFile(in, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(100)
	b.ResetTimer()
	start := time.Now()
	if _, err := w.Create(map[string]string{"name": "src", "connector.class": "FileStreamSource", "file": in, "topic": "bench"}); err != nil {
		b.Fatal(err)
	}
	for endOffset(b, brokers, "bench") < int64(b.N) {
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "lines/s")
}

// BenchmarkTopicToFile: a FileStreamSink writes b.N 100-byte records of a
// topic to a file (fsync per batch, offsets committed per batch); the clock
// stops when the file holds every line. lines/s includes starting the task
// and joining the consumer group; lines/s-after-join counts from the first
// line in the file.
func BenchmarkTopicToFile(b *testing.B) {
	brokers := testutil.RunBroker(b)
	w, dir := benchWorker(b, brokers)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]*kgo.Record, b.N)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: "bench", Value: bytes.TrimSuffix(line100(i), []byte("\n"))}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	cl.Close()
	out := filepath.Join(dir, "out.txt")
	b.SetBytes(100)
	b.ResetTimer()
	start := time.Now()
	if _, err := w.Create(map[string]string{"name": "sink", "connector.class": "FileStreamSink", "file": out, "topics": "bench"}); err != nil {
		b.Fatal(err)
	}
	var first time.Time // when the first batch was in the file (the group joined)
	var firstSize int64
	for {
		fi, err := os.Stat(out)
		if err == nil && first.IsZero() && fi.Size() > 0 {
			first, firstSize = time.Now(), fi.Size()
		}
		if err == nil && fi.Size() >= int64(b.N)*100 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "lines/s")
	if d := time.Since(first); d > 0 {
		b.ReportMetric(float64(int64(b.N)*100-firstSize)/100/d.Seconds(), "lines/s-after-join")
	}
}
