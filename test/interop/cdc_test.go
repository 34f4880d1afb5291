package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/testutil/pgtest"
)

// cdcEvent is the part of a Debezium change event the tests check.
type cdcEvent struct {
	Before *cdcRow `json:"before"`
	After  *cdcRow `json:"after"`
	Op     string  `json:"op"`
	Source struct {
		LSN  int64 `json:"lsn"`
		TxID int64 `json:"txId"`
	} `json:"source"`
}

type cdcRow struct {
	ID     int64  `json:"id"`
	Item   string `json:"item"`
	Qty    int64  `json:"qty"`
	SentNs int64  `json:"sent_ns"`
}

// lsnOf reads PostgreSQL's text form of an LSN ("16/B374D848").
func lsnOf(t testing.TB, s string) int64 {
	t.Helper()
	lsn, err := pglogrepl.ParseLSN(s)
	if err != nil {
		t.Fatalf("LSN %q: %v", s, err)
	}
	return int64(lsn)
}

// cdcWorkload writes transactions into table orders: each inserts order n
// (qty 0) and sets its qty to 1, every fifth also deletes order n-3.
type cdcWorkload struct {
	mu      sync.Mutex // guards next
	next    int64
	deleted map[int64]bool
}

func (w *cdcWorkload) txns(t testing.TB, conn *pgx.Conn, count int, pause time.Duration) {
	t.Helper()
	ctx := context.Background()
	for range count {
		w.mu.Lock()
		n := w.next
		w.next++
		w.mu.Unlock()
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Errorf("begin: %v", err)
			return
		}
		_, err = tx.Exec(ctx, `INSERT INTO orders (id, item, qty) VALUES ($1, $2, 0)`, n, fmt.Sprintf("item %d", n))
		if err == nil {
			_, err = tx.Exec(ctx, `UPDATE orders SET qty = 1 WHERE id = $1`, n)
		}
		if err == nil && n%5 == 4 {
			_, err = tx.Exec(ctx, `DELETE FROM orders WHERE id = $1`, n-3)
			w.mu.Lock()
			w.deleted[n-3] = true
			w.mu.Unlock()
		}
		if err == nil {
			err = tx.Commit(ctx)
		}
		if err != nil {
			t.Errorf("transaction for order %d: %v", n, err)
			return
		}
		time.Sleep(pause)
	}
}

// A PostgreSQL table captured by the Debezium-compatible CDC source under
// `runnel connect standalone`: a snapshot of the rows already there, then
// small multi-statement transactions and one of 5000 rows; the worker is
// killed with SIGKILL while changes stream (more commit while it is down),
// then PostgreSQL is restarted mid-stream. The topic then holds every
// change, per order in commit order (c, u, d), with the right before and
// after images, replaying to exactly the table's final contents; the
// slot's confirmed LSN reaches the last commit.
func TestCDCThroughConnectKill9(t *testing.T) {
	srv := startServer(t)
	pg := pgtest.Start(t)
	conn := pg.Conn(t)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `CREATE TABLE orders (id BIGINT PRIMARY KEY, item TEXT NOT NULL, qty BIGINT NOT NULL, sent_ns BIGINT);
		ALTER TABLE orders REPLICA IDENTITY FULL;
		INSERT INTO orders (id, item, qty) SELECT g, 'seed ' || g, 7 FROM generate_series(1000000, 1000099) g`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conns := map[string]string{"cdc.properties": fmt.Sprintf("name=pg-cdc\nconnector.class=io.debezium.connector.postgresql.PostgresConnector\n"+
		"database.hostname=127.0.0.1\ndatabase.port=%d\ndatabase.user=postgres\ndatabase.dbname=%s\ntopic.prefix=shop\n"+
		"table.include.list=public.orders\nslot.name=runnel_it\npublication.autocreate.mode=filtered\nstatus.update.interval.ms=200\n", pg.Port(), pg.DB())}
	worker, files, url := writeConnectFiles(t, dir, srv.Addr,
		"key.converter=org.apache.kafka.connect.storage.StringConverter\nvalue.converter=org.apache.kafka.connect.storage.StringConverter\n", conns)
	p := startConnect(t, url, nil, runnelBin, append([]string{worker}, files...)...)

	cl := newClient(t, srv.Addr)
	adm := kadm.NewClient(cl)
	endOffset := func() int64 {
		ends, err := adm.ListEndOffsets(ctx, "shop.public.orders")
		if err != nil {
			return -1
		}
		var sum int64
		ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
		return sum
	}
	confirmed := func() (lsn int64) {
		var s string
		if err := pg.Conn(t).QueryRow(ctx, `SELECT coalesce(confirmed_flush_lsn, '0/0')::text FROM pg_replication_slots WHERE slot_name = 'runnel_it'`).Scan(&s); err != nil {
			return -1
		}
		return lsnOf(t, s)
	}
	connectWait(t, "the snapshot's 100 rows in the topic", 60*time.Second, func() bool { return endOffset() >= 100 })

	// Changes stream; kill -9 of the worker part way through.
	w := &cdcWorkload{deleted: map[int64]bool{}}
	var wg sync.WaitGroup
	wg.Go(func() { w.txns(t, pg.Conn(t), 600, 2*time.Millisecond) })
	connectWait(t, "changes streaming", 60*time.Second, func() bool { return endOffset() >= 400 })
	lsnBeforeKill := confirmed()
	p.kill9()
	wg.Wait()
	// One large transaction while the worker is down.
	if _, err := conn.Exec(ctx, `INSERT INTO orders (id, item, qty) SELECT g, 'bulk ' || g, 2 FROM generate_series(2000000, 2004999) g`); err != nil {
		t.Fatal(err)
	}
	p.spawn()
	w.txns(t, conn, 200, time.Millisecond)
	pg.Restart(t)
	conn = pg.Conn(t)
	w.txns(t, conn, 200, time.Millisecond)
	var lastLSN string
	if err := conn.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lastLSN); err != nil {
		t.Fatal(err)
	}
	last := lsnOf(t, lastLSN)

	// What the table holds now is what replaying the topic must give.
	want := map[int64]cdcRow{}
	rows, err := conn.Query(ctx, `SELECT id, item, qty FROM orders`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r cdcRow
		if err := rows.Scan(&r.ID, &r.Item, &r.Qty); err != nil {
			t.Fatal(err)
		}
		want[r.ID] = r
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	n := w.next
	// Each order: c + u, and d for the deleted ones; plus the seeds' r and
	// the bulk's c.
	changes := int(2*n) + len(w.deleted) + 100 + 5000

	cons := newClient(t, srv.Addr, kgo.ConsumeTopics("shop.public.orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500*time.Millisecond))
	state := map[int64]cdcRow{}
	seen := map[string]bool{}
	perOrder := map[int64][]string{}
	var events, tombstones, dups int
	var lastTopicLSN int64
	deadline := time.Now().Add(120 * time.Second)
	for len(seen) < changes && time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		fs := cons.PollFetches(pctx)
		cancel()
		for _, r := range fs.Records() {
			if r.Value == nil {
				tombstones++
				continue
			}
			var e cdcEvent
			if err := json.Unmarshal(r.Value, &e); err != nil {
				t.Fatalf("change event %q: %v", r.Value, err)
			}
			events++
			var id int64
			switch {
			case e.After != nil:
				id = e.After.ID
			case e.Before != nil:
				id = e.Before.ID
			}
			k := fmt.Sprintf("%s/%d/%d", e.Op, id, e.Source.LSN)
			if e.Op == "r" {
				k = fmt.Sprintf("r/%d", id)
			}
			if seen[k] {
				dups++ // re-sent after the kill: at-least-once
				continue
			}
			seen[k] = true
			if e.Source.LSN < lastTopicLSN && e.Op != "r" {
				t.Errorf("change %s at LSN %d after LSN %d: not in commit order", k, e.Source.LSN, lastTopicLSN)
			}
			if e.Op != "r" {
				lastTopicLSN = e.Source.LSN
			}
			switch e.Op {
			case "r", "c":
				state[id] = cdcRow{ID: id, Item: e.After.Item, Qty: e.After.Qty}
			case "u":
				if e.Before == nil || e.Before.Qty != 0 || e.After.Qty != 1 {
					t.Errorf("update of order %d: before %+v after %+v, want qty 0 → 1", id, e.Before, e.After)
				}
				state[id] = cdcRow{ID: id, Item: e.After.Item, Qty: e.After.Qty}
			case "d":
				if e.Before == nil || e.Before.Qty != 1 || e.After != nil {
					t.Errorf("delete of order %d: before %+v after %+v", id, e.Before, e.After)
				}
				delete(state, id)
			}
			if id < 1000000 {
				perOrder[id] = append(perOrder[id], e.Op)
			}
		}
	}
	if len(seen) != changes {
		t.Fatalf("%d distinct changes in the topic, want %d (%d events, %d re-sent)", len(seen), changes, events, dups)
	}
	for id, ops := range perOrder {
		wantOps := "[c u]"
		if w.deleted[id] {
			wantOps = "[c u d]"
		}
		if got := fmt.Sprint(ops); got != wantOps {
			t.Errorf("order %d: changes %s, want %s", id, got, wantOps)
		}
	}
	if len(state) != len(want) {
		t.Fatalf("replaying the topic gives %d rows, the table has %d", len(state), len(want))
	}
	for id, r := range want {
		if state[id] != r {
			t.Fatalf("order %d: topic replays to %+v, table has %+v", id, state[id], r)
		}
	}
	if tombstones < len(w.deleted) || tombstones > len(w.deleted)+dups {
		t.Errorf("%d tombstones, want one per delete (%d, and at most %d re-sent)", tombstones, len(w.deleted), dups)
	}
	connectWait(t, "the slot's confirmed LSN to reach the last commit", 60*time.Second, func() bool { return confirmed() >= last })
	if lsnBeforeKill <= 0 {
		t.Errorf("confirmed LSN before the kill: %d", lsnBeforeKill)
	}
	t.Logf("CDC under runnel connect: %d changes (%d transactions, one of 5000 rows), kill -9 and a PostgreSQL restart; %d re-sent after the kill; confirmed LSN %X → %X",
		changes, n, dups, lsnBeforeKill, confirmed())
}
