package agent

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/testutil"
)

// line100 is a 100-byte event body (99 bytes and the newline on the wire).
var line100 = bytes.Repeat([]byte("x"), 99)

// benchAgent runs conf for the benchmark and returns it; it stops when the
// benchmark ends.
func benchAgent(b *testing.B, conf string) *Agent {
	b.Helper()
	a, err := LoadBytes("bench.conf", []byte(conf), "a1", benchLog())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { a.Run(ctx) })
	b.Cleanup(func() { cancel(); wg.Wait() })
	return a
}

// waitDrain waits until sink k has delivered n events (its committed takes).
func waitDrain(b *testing.B, a *Agent, sink string, n int64) {
	b.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if a.current().sinks[sink].counters.Snapshot()["EventDrainSuccessCount"] >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("sink %s did not deliver %d events", sink, n)
		}
	}
}

// netcat → memory → null, 100-byte lines over one connection without
// per-line acks (ack-every-event = false), so the source's per-line
// transaction, the channel and the sink runner are what is measured.
func BenchmarkNetcatMemoryNull(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	a := benchAgent(b, fmt.Sprintf(`a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = %d
a1.sources.r1.ack-every-event = false
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 10000
a1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = null
a1.sinks.k1.batchSize = 1000
a1.sinks.k1.channel = c1
`, port))
	var conn net.Conn
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if conn, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal(err)
		}
	}
	defer conn.Close()
	chunk := bytes.Repeat(append(append([]byte(nil), line100...), '\n'), 1000)
	b.SetBytes(100)
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += 1000 {
		n := min(1000, b.N-sent)
		if _, err := conn.Write(chunk[:n*100]); err != nil {
			b.Fatal(err)
		}
	}
	waitDrain(b, a, "k1", int64(b.N))
}

// taildir → memory → kafka (an in-process runnel broker), 100-byte lines
// appended to one file.
func BenchmarkTaildirMemoryKafka(b *testing.B) {
	if _, ok := flow.Lookup(flow.KindSource, "TAILDIR"); !ok {
		b.Skip("no taildir source registered")
	}
	broker := testutil.RunBroker(b)
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		b.Fatal(err)
	}
	_, err = kadm.NewClient(cl).CreateTopic(context.Background(), 1, 1, nil, "bench")
	cl.Close()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	logFile := filepath.Join(dir, "app.log")
	if err := os.WriteFile(logFile, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	a := benchAgent(b, fmt.Sprintf(`a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = TAILDIR
a1.sources.r1.filegroups = f1
a1.sources.r1.filegroups.f1 = %s
a1.sources.r1.positionFile = %s
a1.sources.r1.batchSize = 1000
a1.sources.r1.pollInterval = 10
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 100000
a1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = org.apache.flume.sink.kafka.KafkaSink
a1.sinks.k1.kafka.bootstrap.servers = %s
a1.sinks.k1.kafka.topic = bench
a1.sinks.k1.flumeBatchSize = 1000
a1.sinks.k1.kafka.producer.linger.ms = 5
a1.sinks.k1.channel = c1
`, logFile, filepath.Join(dir, "pos.json"), broker))
	f, err := os.OpenFile(logFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	chunk := []byte(strings.Repeat(string(line100)+"\n", 1000))
	b.SetBytes(100)
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += 1000 {
		n := min(1000, b.N-sent)
		if _, err := f.Write(chunk[:n*100]); err != nil {
			b.Fatal(err)
		}
	}
	waitDrain(b, a, "k1", int64(b.N))
}

// benchLog logs warnings to stderr with RUNNEL_BENCH_LOG=1, else nothing.
func benchLog() *slog.Logger {
	if os.Getenv("RUNNEL_BENCH_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// spooldir → file channel (memory when asked) → hdfs (DataStream), 100-byte
// lines in files of 10,000 lines dropped in the spool directory.
func benchSpoolHDFS(b *testing.B, channelConf string) {
	if _, ok := flow.Lookup(flow.KindSource, "spooldir"); !ok {
		b.Skip("no spooldir source registered")
	}
	dir := b.TempDir()
	spool, out := filepath.Join(dir, "spool"), filepath.Join(dir, "out")
	if err := os.Mkdir(spool, 0o755); err != nil {
		b.Fatal(err)
	}
	a := benchAgent(b, fmt.Sprintf(`a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = spooldir
a1.sources.r1.spoolDir = %s
a1.sources.r1.deletePolicy = immediate
a1.sources.r1.pollDelay = 10
a1.sources.r1.batchSize = 1000
a1.sources.r1.channels = c1
%s
a1.sinks.k1.type = hdfs
a1.sinks.k1.hdfs.path = %s
a1.sinks.k1.hdfs.fileType = DataStream
a1.sinks.k1.hdfs.batchSize = 1000
a1.sinks.k1.hdfs.rollCount = 0
a1.sinks.k1.hdfs.rollInterval = 0
a1.sinks.k1.hdfs.rollSize = 134217728
a1.sinks.k1.channel = c1
`, spool, strings.ReplaceAll(channelConf, "DIR", dir), out))
	file := []byte(strings.Repeat(string(line100)+"\n", 10000))
	b.SetBytes(100)
	b.ResetTimer()
	for sent, i := 0, 0; sent < b.N; sent, i = sent+10000, i+1 {
		n := min(10000, b.N-sent)
		tmp := filepath.Join(dir, fmt.Sprintf("f%06d.log", i))
		if err := os.WriteFile(tmp, file[:n*100], 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(spool, filepath.Base(tmp))); err != nil {
			b.Fatal(err)
		}
	}
	waitDrain(b, a, "k1", int64(b.N))
}

func BenchmarkSpooldirFileHDFS(b *testing.B) {
	if _, ok := flow.Lookup(flow.KindChannel, "file"); !ok {
		b.Skip("no file channel registered")
	}
	benchSpoolHDFS(b, `a1.channels.c1.type = file
a1.channels.c1.checkpointDir = DIR/checkpoint
a1.channels.c1.dataDirs = DIR/data
a1.channels.c1.capacity = 100000
a1.channels.c1.transactionCapacity = 1000`)
}

func BenchmarkSpooldirMemoryHDFS(b *testing.B) {
	benchSpoolHDFS(b, `a1.channels.c1.type = memory
a1.channels.c1.capacity = 100000
a1.channels.c1.transactionCapacity = 1000`)
}
