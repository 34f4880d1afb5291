package database

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// BenchmarkCDCThroughput measures change events per second decoded from
// the replication stream: b.N rows inserted in transactions of 1000 rows.
func BenchmarkCDCThroughput(b *testing.B) {
	pg := startPostgres(b)
	db := pg.Conn(b)
	execSQL(b, db, `CREATE TABLE notes (id int PRIMARY KEY, body text)`)
	rec := &countEmitter{}
	runCDC(b, pg, rec, &memOffsets{}, map[string]string{CDCSnapshotMode: "never", CDCBatchSize: "2048"})
	base := warmUp(b, pg, rec)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += 1000 {
		n := min(1000, b.N-i)
		execSQL(b, db, fmt.Sprintf(`INSERT INTO notes SELECT g, repeat('x', 100) FROM generate_series(%d, %d) g`, i, i+n-1))
	}
	rec.wait(b, base+b.N)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "changes/s")
}

// BenchmarkCDCLatency measures the latency of single-row autocommit
// INSERTs from sending the statement to the change event reaching the
// emitter (the walsender often delivers it before the client has read the
// commit's reply), as p50/p99.
func BenchmarkCDCLatency(b *testing.B) {
	pg := startPostgres(b)
	db := pg.Conn(b)
	execSQL(b, db, `CREATE TABLE notes (id int PRIMARY KEY, body text)`)
	rec := &countEmitter{}
	runCDC(b, pg, rec, &memOffsets{}, map[string]string{CDCSnapshotMode: "never"})
	base := warmUp(b, pg, rec)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		sent := time.Now()
		execSQL(b, db, `INSERT INTO notes VALUES ($1, 'x')`, i)
		rec.wait(b, base+1+i)
		lat = append(lat, rec.lastAt().Sub(sent))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// warmUp inserts rows with negative ids until one arrives (the slot is
// created asynchronously by Run) and returns how many events arrived.
func warmUp(t testing.TB, pg pgServer, rec *countEmitter) int {
	db := pg.Conn(t)
	for i := 1; ; i++ {
		execSQL(t, db, `INSERT INTO notes VALUES ($1, 'warm-up')`, -i)
		time.Sleep(100 * time.Millisecond)
		rec.mu.Lock()
		n := rec.n
		rec.mu.Unlock()
		if n > 0 {
			time.Sleep(200 * time.Millisecond)
			rec.mu.Lock()
			defer rec.mu.Unlock()
			return rec.n
		}
		if i > 300 {
			t.Fatal("no change event within 30s of starting the CDC source")
		}
	}
}

// countEmitter counts events and notes when the last batch arrived.
type countEmitter struct {
	mu   sync.Mutex
	n    int
	last time.Time
	cond *sync.Cond
}

func (c *countEmitter) Emit(_ context.Context, batch []flow.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += len(batch)
	c.last = time.Now()
	if c.cond != nil {
		c.cond.Broadcast()
	}
	return nil
}

func (c *countEmitter) lastAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

func (c *countEmitter) wait(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cond == nil {
		c.cond = sync.NewCond(&c.mu)
	}
	for c.n < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d events after 60s, want %d", c.n, n)
		}
		go func() { time.Sleep(100 * time.Millisecond); c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() }()
		c.cond.Wait()
	}
}
