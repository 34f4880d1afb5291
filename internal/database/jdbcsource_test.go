package database

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

func TestJDBCSourcePolls(t *testing.T) {
	for name, backend := range backends(t) {
		t.Run(name, func(t *testing.T) {
			url, open := backend(t)
			db := open(name)
			tsType := "TIMESTAMP"
			mustExec := func(q string) {
				t.Helper()
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			mustExec(`CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT, updated ` + tsType + `)`)
			for i := 1; i <= 250; i++ {
				mustExec(fmt.Sprintf(`INSERT INTO orders VALUES (%d, 'item %d', '2026-01-01 00:00:%02d')`, i, i, i%60))
			}
			offsets := &memOffsets{}
			src := func(mode string) *JDBCSource {
				cfg, _, err := JDBCSourceSpec.Validate("poll", map[string]string{JDBCURL: url, JSrcMode: mode, JSrcIncrementing: "id",
					JSrcTimestamp: "updated", JSrcTables: "orders", JSrcTopicPrefix: "db-", JSrcPollInterval: "20", JSrcBatchMaxRows: "100"})
				if err != nil {
					t.Fatal(err)
				}
				cfg.Offsets = offsets
				s, err := NewJDBCSource(cfg)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			run := func(s *JDBCSource, rec *recorder, until func() bool) {
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- s.Run(ctx, rec) }()
				deadline := time.Now().Add(20 * time.Second)
				for !until() && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				cancel()
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			ids := func(rec *recorder) []int {
				rec.mu.Lock()
				defer rec.mu.Unlock()
				var out []int
				for _, e := range rec.events {
					var m map[string]any
					json.Unmarshal(e.Body, &m)
					out = append(out, int(m["id"].(float64)))
					if e.Topic != "db-orders" {
						t.Fatalf("topic %q", e.Topic)
					}
				}
				return out
			}
			rec := &recorder{failures: 1} // the first emit fails: the offset must not move
			s := src("incrementing")
			ctx, cancel := context.WithCancel(context.Background())
			if err := s.Run(ctx, rec); err == nil {
				t.Fatal("Run succeeded although Emit failed")
			}
			cancel()
			run(s, rec, func() bool { return len(ids(rec)) >= 250 })
			got := ids(rec)
			for i, id := range got {
				if id != i+1 {
					t.Fatalf("row %d has id %d (rows out of order or repeated)", i, id)
				}
			}
			if len(got) != 250 {
				t.Fatalf("%d rows, want 250", len(got))
			}
			// New rows only, after a restart from the stored offset.
			mustExec(`INSERT INTO orders VALUES (251, 'late', '2026-01-02 00:00:00')`)
			rec2 := &recorder{}
			run(src("incrementing"), rec2, func() bool { return len(ids(rec2)) >= 1 })
			time.Sleep(100 * time.Millisecond)
			if got := ids(rec2); len(got) != 1 || got[0] != 251 {
				t.Fatalf("after restart: %v", got)
			}
			// timestamp+incrementing sees an updated row again.
			offsets2 := &memOffsets{}
			offsets = offsets2
			rec3 := &recorder{}
			run(src("timestamp+incrementing"), rec3, func() bool { return len(ids(rec3)) >= 251 })
			mustExec(`UPDATE orders SET item = 'changed', updated = '2026-02-01 00:00:00' WHERE id = 5`)
			run(src("timestamp+incrementing"), rec3, func() bool { return len(ids(rec3)) >= 252 })
			if got := ids(rec3); got[len(got)-1] != 5 {
				t.Fatalf("updated row not seen: last ids %v", got[len(got)-3:])
			}
		})
	}
}
