package database

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// PostgreSQL restarted under a running CDC source: Run fails, a new Run
// resumes from the slot, and every change arrives.
func TestCDCServerRestart(t *testing.T) {
	pg := startPostgres(t)
	db := pg.Conn(t)
	execSQL(t, db, `CREATE TABLE notes (id int PRIMARY KEY, body text)`)
	offsets := &memOffsets{}
	rec := &recorder{}
	stop := runCDC(t, pg, rec, offsets, map[string]string{CDCTableInclude: `public\.notes`})
	execSQL(t, db, `INSERT INTO notes SELECT g, 'before' FROM generate_series(1, 100) g`)
	rec.waitChanges(t, 100)
	pg.Restart(t)
	if err := stop(); err == nil {
		t.Log("CDC Run returned nil after the server restarted (it was cancelled first)")
	}
	db = pg.Conn(t)
	execSQL(t, db, `INSERT INTO notes SELECT g, 'after' FROM generate_series(101, 200) g`)
	rec2 := &recorder{}
	runCDC(t, pg, rec2, offsets, map[string]string{CDCTableInclude: `public\.notes`})
	got := rec2.waitChanges(t, 100)
	ids := map[float64]bool{}
	for _, c := range append(rec.changes(t), got...) {
		ids[c.After["id"].(float64)] = true
	}
	for i := 1; i <= 200; i++ {
		if !ids[float64(i)] {
			t.Fatalf("change of row %d lost across the server restart", i)
		}
	}
}

// PostgreSQL restarted between batches: Deliver fails with a plain error
// (not a rejection), then succeeds; upserts leave each row once.
func TestJDBCSinkServerRestart(t *testing.T) {
	pg := startPostgres(t)
	url := fmt.Sprintf("jdbc:postgresql://127.0.0.1:%d/%s?user=postgres", pg.Port(), pg.DB())
	s := newJDBCSink(t, map[string]string{JDBCURL: url, JDBCInsertMode: "upsert", JDBCPKMode: "record_value", JDBCPKFields: "id", JDBCAutoCreate: "true"})
	ctx := context.Background()
	if err := s.Deliver(ctx, jsonEvents(0, 500)); err != nil {
		t.Fatal(err)
	}
	pg.Restart(t)
	batch := jsonEvents(400, 1000)
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := s.Deliver(ctx, batch)
		if err == nil {
			break
		}
		var re *flow.RejectedError
		if errors.As(err, &re) {
			t.Fatalf("a restart made the sink reject records: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink still failing 30s after the restart: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	db := pg.Conn(t)
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM people`).Scan(&n); err != nil || n != 1000 {
		t.Fatalf("%d rows after the restart (want 1000): %v", n, err)
	}
}
