package interop

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDurabilityKill9 produces with acks=all (franz-go, idempotent), first a
// synchronous batch and then a stream that is still in flight when the
// server gets SIGKILL. After a restart on the same data dir every
// acknowledged record must be readable at its acknowledged offset,
// byte-equal, and the broker must accept new producers.
func TestDurabilityKill9(t *testing.T) {
	const (
		topic      = "durable"
		partitions = 4
		syncN      = 3000 // acknowledged before the kill, producer idle
		streamMin  = 3000 // at least this many more acknowledged while streaming
	)
	srv := startServer(t)
	createTopic(t, srv.Addr, topic, partitions, nil)

	var (
		mu    sync.Mutex
		acked []testRecord // guarded by mu
	)
	onAck := func(r *kgo.Record, err error) {
		if err != nil {
			return // not acknowledged: may or may not survive
		}
		mu.Lock()
		acked = append(acked, testRecord{Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value})
		mu.Unlock()
	}
	ackedN := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	recs := makeRecords(syncN, partitions, 42)
	toKgo := func(r testRecord) *kgo.Record {
		return &kgo.Record{Topic: topic, Partition: r.Partition, Key: r.Key, Value: r.Value}
	}

	cl, err := kgo.NewClient(
		kgo.SeedBrokers(srv.Addr),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(time.Millisecond),
	)
	if err != nil {
		t.Fatalf("creating franz-go client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Phase 1: synchronous, all acknowledged.
	batch := make([]*kgo.Record, syncN)
	for i := range batch {
		batch[i] = toKgo(recs[i])
	}
	for _, res := range cl.ProduceSync(ctx, batch...) {
		onAck(res.Record, res.Err)
		if res.Err != nil {
			t.Fatalf("producing with acks=all before the kill: %v", res.Err)
		}
	}

	// Phase 2: stream until enough more are acknowledged, then kill -9
	// with records still in flight.
	streamCtx, stopStream := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // owned by this test: ends when streamCtx is cancelled
		defer wg.Done()
		for i := syncN; streamCtx.Err() == nil; i++ {
			r := testRecord{
				Partition: int32(i % partitions),
				Key:       fmt.Appendf(nil, "key-%d", i),
				Value:     fmt.Appendf(nil, "streamed value %d %0100d", i, i),
			}
			cl.Produce(streamCtx, toKgo(r), onAck)
		}
	}()
	deadline := time.Now().Add(time.Minute)
	for ackedN() < syncN+streamMin {
		if time.Now().After(deadline) {
			t.Fatalf("only %d records acknowledged within a minute", ackedN())
		}
		time.Sleep(5 * time.Millisecond)
	}
	kill9(t, srv)
	stopStream()
	wg.Wait()
	cl.Close() // fails whatever was still buffered; those were never acknowledged

	mu.Lock()
	survivors := append([]testRecord(nil), acked...)
	mu.Unlock()
	t.Logf("%d records acknowledged before kill -9", len(survivors))

	restart(t, srv)
	ends := endOffsets(t, srv.Addr, topic)
	total := 0
	for _, e := range ends {
		total += int(e)
	}
	if total < len(survivors) {
		t.Errorf("after restart the log holds %d records, but %d were acknowledged", total, len(survivors))
	}
	got := map[string]testRecord{}
	for _, r := range consumeAll(t, srv.Addr, topic, total, time.Minute) {
		got[fmt.Sprintf("%d/%d", r.Partition, r.Offset)] = testRecord{Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value}
	}
	missing := 0
	for _, w := range survivors {
		g, ok := got[fmt.Sprintf("%d/%d", w.Partition, w.Offset)]
		switch {
		case !ok:
			missing++
			if missing <= 5 {
				t.Errorf("acknowledged record %q at %d/%d is gone after kill -9", w.Key, w.Partition, w.Offset)
			}
		case string(g.Key) != string(w.Key) || string(g.Value) != string(w.Value):
			t.Errorf("record at %d/%d: key %q, want the acknowledged %q (or its value differs)", w.Partition, w.Offset, g.Key, w.Key)
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged records lost", missing, len(survivors))
	}

	// The restarted broker takes new idempotent producers.
	cl2 := newClient(t, srv.Addr, kgo.DefaultProduceTopic(topic))
	if err := cl2.ProduceSync(ctx, &kgo.Record{Key: []byte("after"), Value: []byte("restart")}).FirstErr(); err != nil {
		t.Fatalf("producing after restart: %v", err)
	}
}

// TestIdempotentProducerAcrossKill9 keeps one idempotent franz-go producer
// running while the server is killed with SIGKILL and restarted on the same
// port: the client retries its in-flight batches against the new process,
// whose producer state is rebuilt from the log tail. Every record must end
// up in the log exactly once, in order.
func TestIdempotentProducerAcrossKill9(t *testing.T) {
	const (
		topic      = "idempotent-restart"
		partitions = 2
		n          = 20000
	)
	srv := startServer(t)
	createTopic(t, srv.Addr, topic, partitions, nil)
	cl := newClient(t, srv.Addr,
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(time.Millisecond),
		kgo.RetryTimeout(time.Minute),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error // guarded by mu
		acked    int   // guarded by mu
	)
	wg.Add(1)
	go func() { // owned by this test: ends when all n records are answered
		defer wg.Done()
		for i := 0; i < n; i++ {
			r := &kgo.Record{
				Partition: int32(i % partitions),
				Key:       fmt.Appendf(nil, "key-%d", i),
				Value:     fmt.Appendf(nil, "value %d", i),
			}
			cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				acked++
			})
		}
		if err := cl.Flush(ctx); err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
	}()
	// Kill once a part is acknowledged, with more in flight.
	for {
		mu.Lock()
		a := acked
		mu.Unlock()
		if a >= n/4 {
			t.Logf("kill -9 with %d of %d records answered", a, n)
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("only %d records answered before the kill", a)
		}
		time.Sleep(2 * time.Millisecond)
	}
	kill9(t, srv)
	time.Sleep(200 * time.Millisecond) // let the client see the dead connection and retry
	restart(t, srv)
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("idempotent producer across kill -9: %v", firstErr)
	}

	recs := consumeAll(t, srv.Addr, topic, n, time.Minute)
	seen := make(map[string]int, n)
	last := map[int32]int{}
	for _, r := range recs {
		seen[string(r.Key)]++
		i := keyIndex(r.Key)
		if l, ok := last[r.Partition]; ok && i <= l {
			t.Errorf("partition %d: key-%d after key-%d (reordered or duplicated)", r.Partition, i, l)
		}
		last[r.Partition] = i
	}
	dups := 0
	for _, c := range seen {
		if c > 1 {
			dups++
		}
	}
	if len(seen) != n || dups > 0 || len(recs) != n {
		t.Errorf("log holds %d records, %d distinct keys of %d, %d keys duplicated", len(recs), len(seen), n, dups)
	}
	// consumeAll stops at n records; make sure nothing extra is in the log.
	var total int64
	for _, e := range endOffsets(t, srv.Addr, topic) {
		total += e
	}
	if total != n {
		t.Errorf("log end offsets sum to %d, want exactly %d (duplicates written)", total, n)
	}
}
