package database

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runnel/runnel/internal/flow"
)

// memOffsets is an in-memory flow.OffsetStore.
type memOffsets struct {
	mu sync.Mutex
	m  map[string]map[string]any
}

func (o *memOffsets) key(p map[string]any) string {
	b, _ := json.Marshal(p)
	return string(b)
}

func (o *memOffsets) Get(_ context.Context, p map[string]any) (map[string]any, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.m[o.key(p)], nil
}

func (o *memOffsets) Put(_ context.Context, p, off map[string]any) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[string]map[string]any{}
	}
	o.m[o.key(p)] = off
	return nil
}

// recorder is an Emitter that keeps every event; failures > 0 makes that
// many Emit calls fail first.
type recorder struct {
	mu       sync.Mutex
	events   []flow.Event
	failures int
}

var errEmit = errors.New("emit refused by the test")

func (r *recorder) Emit(_ context.Context, batch []flow.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures > 0 {
		r.failures--
		return errEmit
	}
	r.events = append(r.events, batch...)
	return nil
}

// changeEvent is a decoded Debezium-style value.
type changeEvent struct {
	Topic  string
	Key    map[string]any
	Op     string
	Before map[string]any
	After  map[string]any
	Source map[string]any
}

func (r *recorder) changes(t testing.TB) []changeEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []changeEvent
	for _, e := range r.events {
		if e.Body == nil {
			continue // tombstone
		}
		var v struct {
			Before, After, Source map[string]any
			Op                    string
		}
		if err := json.Unmarshal(e.Body, &v); err != nil {
			t.Fatalf("event body %s: %v", e.Body, err)
		}
		c := changeEvent{Topic: e.Topic, Op: v.Op, Before: v.Before, After: v.After, Source: v.Source}
		if e.Key != nil {
			if err := json.Unmarshal(e.Key, &c.Key); err != nil {
				t.Fatalf("event key %s: %v", e.Key, err)
			}
		}
		out = append(out, c)
	}
	return out
}

func (r *recorder) waitChanges(t testing.TB, n int) []changeEvent {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := r.changes(t)
		if len(c) >= n {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d change events after 30s, want %d", len(c), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runCDC runs a CDC source with the given extra keys until the returned
// stop is called; stop returns Run's error.
func runCDC(t testing.TB, pg pgServer, out flow.Emitter, offsets flow.OffsetStore, extra map[string]string) (stop func() error) {
	t.Helper()
	raw := map[string]string{
		CDCHost: "127.0.0.1", CDCPort: fmt.Sprint(pg.Port()), CDCUser: pg.User(), CDCDBName: pg.DB(),
		CDCTopicPrefix: "shop", CDCTableInclude: `public\.(customers|notes)`, CDCBatchSize: "1000", CDCStatusInterval: "200",
	}
	for k, v := range extra {
		raw[k] = v
	}
	cfg, _, err := CDCSpec.Validate("cdc", raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Offsets = offsets
	src, err := NewCDC(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, out) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				runErr = errors.New("CDC source did not stop within 30s")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func execSQL(t testing.TB, db *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := db.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestCDC(t *testing.T) {
	pg := startPostgres(t)
	db := pg.Conn(t)
	execSQL(t, db, `CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, balance numeric(10,2), created timestamptz, active bool, born date)`)
	execSQL(t, db, `ALTER TABLE customers REPLICA IDENTITY FULL`)
	execSQL(t, db, `CREATE TABLE notes (id int PRIMARY KEY, body text)`)
	execSQL(t, db, `CREATE TABLE ignored (id int PRIMARY KEY)`)
	execSQL(t, db, `INSERT INTO customers (name, balance, created, active, born) VALUES
		('ada', 10.50, '2026-01-02 03:04:05+00', true, '1815-12-10'), ('bob', NULL, NULL, false, NULL), ('cy', 0, now(), true, '2000-01-01')`)

	rec := &recorder{}
	offsets := &memOffsets{}
	stop := runCDC(t, pg, rec, offsets, nil)

	// Snapshot: the three existing rows as reads.
	snap := rec.waitChanges(t, 3)
	for i, c := range snap {
		if c.Op != "r" || c.Topic != "shop.public.customers" || c.Before != nil || c.After["id"] != float64(i+1) {
			t.Fatalf("snapshot event %d: %+v", i, c)
		}
	}
	if snap[0].After["balance"] != "10.50" || snap[0].After["created"] != "2026-01-02T03:04:05Z" || snap[0].After["active"] != true ||
		snap[0].After["born"] != float64(-56270) || snap[1].After["balance"] != nil || snap[0].Key["id"] != float64(1) {
		t.Fatalf("snapshot row values: %+v key %v", snap[0].After, snap[0].Key)
	}
	if snap[2].Source["snapshot"] != "last" || snap[0].Source["snapshot"] != "true" {
		t.Fatalf("snapshot flags: %v %v", snap[0].Source["snapshot"], snap[2].Source["snapshot"])
	}

	// Streaming: single statements, a multi-statement transaction, a change
	// to a table not included, and a large transaction.
	execSQL(t, db, `INSERT INTO notes VALUES (1, 'first')`)
	execSQL(t, db, `UPDATE customers SET balance = 99.99 WHERE id = 1`)
	execSQL(t, db, `DELETE FROM customers WHERE id = 2`)
	execSQL(t, db, `INSERT INTO ignored VALUES (1)`)
	execSQL(t, db, `BEGIN; INSERT INTO notes VALUES (2, 'two'); UPDATE notes SET body = 'one' WHERE id = 1; DELETE FROM notes WHERE id = 2; COMMIT`)
	execSQL(t, db, `INSERT INTO notes SELECT g, 'bulk ' || g FROM generate_series(100, 5099) g`)
	all := rec.waitChanges(t, 3+3+3+5000)
	stream := all[3:]
	want := []struct {
		op, topic string
		id        float64
	}{{"c", "notes", 1}, {"u", "customers", 1}, {"d", "customers", 2}, {"c", "notes", 2}, {"u", "notes", 1}, {"d", "notes", 2}}
	for i, w := range want {
		c := stream[i]
		id := c.Key["id"]
		if c.Op != w.op || c.Topic != "shop.public."+w.topic || id != w.id {
			t.Fatalf("stream event %d = %s %s key %v, want %s %s %v", i, c.Op, c.Topic, c.Key, w.op, w.topic, w.id)
		}
	}
	// REPLICA IDENTITY FULL: full before images.
	if stream[1].Before["balance"] != "10.50" || stream[1].After["balance"] != "99.99" || stream[1].Before["name"] != "ada" {
		t.Fatalf("update before/after: %+v / %+v", stream[1].Before, stream[1].After)
	}
	if stream[2].Before["name"] != "bob" || stream[2].After != nil {
		t.Fatalf("delete before/after: %+v / %+v", stream[2].Before, stream[2].After)
	}
	// Default identity: the delete's before has the key only.
	if stream[5].Before["id"] != float64(2) || stream[5].Before["body"] != nil {
		t.Fatalf("delete with default identity: before %+v", stream[5].Before)
	}
	// One transaction shares a txId; commit order is kept.
	if stream[3].Source["txId"] != stream[5].Source["txId"] || stream[3].Source["txId"] == stream[2].Source["txId"] {
		t.Fatalf("txIds: %v %v %v", stream[2].Source["txId"], stream[3].Source["txId"], stream[5].Source["txId"])
	}
	for i, c := range stream[6:] {
		if c.Op != "c" || c.After["id"] != float64(100+i) {
			t.Fatalf("bulk event %d: %+v", i, c)
		}
	}
	// Tombstones follow deletes.
	rec.mu.Lock()
	tombstones := 0
	for _, e := range rec.events {
		if e.Body == nil {
			tombstones++
		}
	}
	rec.mu.Unlock()
	if tombstones != 2 {
		t.Fatalf("%d tombstones, want 2 (one per delete)", tombstones)
	}

	// The slot's confirmed LSN reaches the end of the last transaction.
	var endLSN string
	if err := db.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&endLSN); err != nil {
		t.Fatal(err)
	}
	waitConfirmed(t, db, "debezium", endLSN)

	// Stop; change while stopped; restart: the changes arrive once, the
	// snapshot is not repeated.
	if err := stop(); err != nil {
		t.Fatalf("Run returned %v", err)
	}
	execSQL(t, db, `INSERT INTO notes VALUES (9000, 'while stopped')`)
	execSQL(t, db, `UPDATE customers SET name = 'cyrus' WHERE id = 3`)
	rec2 := &recorder{}
	stop2 := runCDC(t, pg, rec2, offsets, nil)
	got := rec2.waitChanges(t, 2)
	if got[0].Op != "c" || got[0].After["id"] != float64(9000) || got[1].Op != "u" || got[1].After["name"] != "cyrus" {
		t.Fatalf("after restart: %+v", got)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(rec2.changes(t)); n != 2 {
		t.Fatalf("after restart %d events, want 2 (no snapshot again, no replay)", n)
	}
	if err := stop2(); err != nil {
		t.Fatal(err)
	}

	// An Emit that fails: Run returns the error and the change is not
	// confirmed, so the next run delivers it.
	execSQL(t, db, `INSERT INTO notes VALUES (9001, 'retry me')`)
	failing := &recorder{failures: 1}
	stop3 := runCDC(t, pg, failing, offsets, nil)
	deadline := time.Now().Add(30 * time.Second)
	for {
		failing.mu.Lock()
		f := failing.failures
		failing.mu.Unlock()
		if f == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := stop3(); !errors.Is(err, errEmit) {
		t.Fatalf("Run after a failed Emit returned %v, want the emit error", err)
	}
	rec4 := &recorder{}
	runCDC(t, pg, rec4, offsets, nil)
	if got := rec4.waitChanges(t, 1); got[0].After["id"] != float64(9001) {
		t.Fatalf("redelivered %+v", got[0])
	}
}

// waitConfirmed waits until slot's confirmed_flush_lsn is at least lsn.
func waitConfirmed(t testing.TB, db *pgx.Conn, slot, lsn string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ok bool
		var confirmed string
		err := db.QueryRow(context.Background(),
			"SELECT confirmed_flush_lsn >= $2::pg_lsn, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", slot, lsn).Scan(&ok, &confirmed)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot %s confirmed_flush_lsn %s did not reach %s", slot, confirmed, lsn)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestCDCConfigErrors(t *testing.T) {
	base := map[string]string{CDCUser: "u", CDCDBName: "d", CDCTopicPrefix: "p"}
	tests := []struct {
		key, value, want string
	}{
		{CDCSlotName, "My-Slot", "identifier"},
		{CDCSnapshotMode, "always", "snapshot mode"},
		{CDCPlugin, "wal2json", "pgoutput"},
		{CDCDecimalMode, "precise", "decimal"},
		{CDCTableInclude, "public.(", "regular expression"},
		{CDCPublicationMode, "some", "unknown mode"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			raw := map[string]string{tt.key: tt.value}
			for k, v := range base {
				raw[k] = v
			}
			cfg, _, err := CDCSpec.Validate("cdc", raw)
			if err == nil {
				_, err = NewCDC(cfg)
			}
			var ke *flow.KeyError
			if !errors.As(err, &ke) || ke.Key != tt.key || !strings.Contains(ke.Error(), tt.want) {
				t.Fatalf("error %v, want a KeyError on %s mentioning %q", err, tt.key, tt.want)
			}
		})
	}
	if _, _, err := CDCSpec.Validate("cdc", map[string]string{CDCUser: "u"}); err == nil {
		t.Fatal("missing database.dbname accepted")
	}
}

// FuzzParseMessage: malformed replication messages are errors, never panics.
func FuzzParseMessage(f *testing.F) {
	f.Add([]byte("B\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05"))
	f.Add([]byte("R\x00\x00\x40\x00public\x00t\x00d\x00\x01\x01id\x00\x00\x00\x00\x17\xff\xff\xff\xff"))
	f.Add([]byte("I\x00\x00\x40\x00N\x00\x01t\x00\x00\x00\x011"))
	f.Add([]byte("U\x00\x00\x40\x00K\x00\x02n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src := &CDC{prefix: "p"}
		d := &decoder{src: src, relations: map[uint32]*relation{0x4000: {schema: "public", table: "t", captured: true, columns: []column{{name: "id", oid: oidInt4, key: true}}}}}
		_, _ = d.handle(1, data)
	})
}

func TestCheckWALLevel(t *testing.T) {
	for _, tc := range []struct {
		level string
		ok    bool
	}{{"logical", true}, {"replica", false}, {"minimal", false}} {
		err := checkWALLevel(tc.level)
		if (err == nil) != tc.ok {
			t.Errorf("wal_level=%s: %v", tc.level, err)
		}
		if err != nil && !strings.Contains(err.Error(), "wal_level=logical") {
			t.Errorf("wal_level=%s: message %q does not say what to set", tc.level, err)
		}
	}
}
