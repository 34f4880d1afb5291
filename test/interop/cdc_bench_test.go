package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/testutil/pgtest"
)

// BenchmarkCDCEndToEnd measures PostgreSQL change data capture through the
// whole path with the real binaries: commit in PostgreSQL → CDC source in
// `runnel connect standalone` (worker defaults) → runnel server → a
// franz-go consumer. Each sub-benchmark uses a new table (a new topic; the
// publication covers all tables). Run it as
//
//	go test -run XXX -bench BenchmarkCDCEndToEnd -benchtime 20000x ./test/interop/
//
// latency: single-row INSERT transactions at a steady 1000/s; each row
// carries the client's clock just before the INSERT, the consumer subtracts
// it on arrival: p50/p99 in ms. throughput: b.N rows in transactions of
// 1000 rows, from the first commit to the last change consumed: changes/s.
func BenchmarkCDCEndToEnd(b *testing.B) {
	srv := startServer(b)
	pg := pgtest.Start(b)
	dir := b.TempDir()
	conns := map[string]string{"cdc.properties": fmt.Sprintf("name=pg-cdc\nconnector.class=io.debezium.connector.postgresql.PostgresConnector\n"+
		"database.hostname=127.0.0.1\ndatabase.port=%d\ndatabase.user=postgres\ndatabase.dbname=%s\ntopic.prefix=bench\n"+
		"slot.name=runnel_bench\nsnapshot.mode=never\n", pg.Port(), pg.DB())}
	worker, files, url := writeConnectFiles(b, dir, srv.Addr,
		"key.converter=org.apache.kafka.connect.storage.StringConverter\nvalue.converter=org.apache.kafka.connect.storage.StringConverter\n", conns)
	startConnect(b, url, nil, runnelBin, append([]string{worker}, files...)...)
	conn := pg.Conn(b)
	ctx := context.Background()
	table := 0
	newTable := func(b *testing.B) string {
		table++
		name := fmt.Sprintf("cdc_bench_%d", table)
		if _, err := conn.Exec(ctx, `CREATE TABLE `+name+` (id BIGINT PRIMARY KEY, sent_ns BIGINT NOT NULL, note TEXT)`); err != nil {
			b.Fatal(err)
		}
		return name
	}
	// consume reads n changes of table's topic, calling on for each.
	consume := func(b *testing.B, table string, n int, on func(sentNs int64)) *sync.WaitGroup {
		cl := newClient(b, srv.Addr, kgo.ConsumeTopics("bench.public."+table), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxWait(time.Second), kgo.AllowAutoTopicCreation())
		var wg sync.WaitGroup
		wg.Go(func() { // owned by the caller: ends after n changes or 2 minutes
			cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			got := 0
			for got < n && cctx.Err() == nil {
				fs := cl.PollFetches(cctx)
				for _, r := range fs.Records() {
					var e struct {
						After struct {
							SentNs int64 `json:"sent_ns"`
						} `json:"after"`
					}
					if json.Unmarshal(r.Value, &e) == nil {
						on(e.After.SentNs)
						got++
					}
				}
			}
			if got < n {
				b.Errorf("consumed %d of %d changes", got, n)
			}
		})
		return &wg
	}
	note := "a change of about two hundred bytes once serialized as a Debezium envelope with its source block"

	b.Run("latency", func(b *testing.B) {
		t := newTable(b)
		lat := make([]time.Duration, 0, b.N)
		var mu sync.Mutex
		wg := consume(b, t, b.N, func(sent int64) {
			mu.Lock()
			lat = append(lat, time.Since(time.Unix(0, sent)))
			mu.Unlock()
		})
		b.ResetTimer()
		start := time.Now()
		for i := range b.N {
			if due := start.Add(time.Duration(i) * time.Millisecond); time.Until(due) > 0 {
				time.Sleep(time.Until(due))
			}
			if _, err := conn.Exec(ctx, `INSERT INTO `+t+` VALUES ($1, $2, $3)`, i, time.Now().UnixNano(), note); err != nil {
				b.Fatal(err)
			}
		}
		wg.Wait()
		b.StopTimer()
		slices.Sort(lat)
		if len(lat) > 0 {
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		}
	})
	b.Run("throughput", func(b *testing.B) {
		t := newTable(b)
		wg := consume(b, t, b.N, func(int64) {})
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i += 1000 {
			batch := &pgx.Batch{}
			for j := i; j < min(b.N, i+1000); j++ {
				batch.Queue(`INSERT INTO `+t+` VALUES ($1, $2, $3)`, j, time.Now().UnixNano(), note)
			}
			tx, err := conn.Begin(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := tx.SendBatch(ctx, batch).Close(); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}
		wg.Wait()
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "changes/s")
	})
}
