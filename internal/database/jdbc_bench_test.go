package database

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// benchRecords returns n JSON records of about 200 bytes.
func benchRecords(n int) []flow.Event {
	pad := strings.Repeat("x", 120)
	out := make([]flow.Event, n)
	for i := range out {
		out[i] = flow.Event{Topic: "bench", Partition: 0, Offset: int64(i),
			Body: []byte(fmt.Sprintf(`{"id":%d,"status":%d,"bytes":%d,"path":"/p/%d","note":"%s"}`, i, 200+i%5, i*7, i, pad))}
	}
	return out
}

// writeCSV writes the same rows as benchRecords as CSV, for the ceiling.
func writeCSV(b *testing.B, path string, n int) {
	pad := strings.Repeat("x", 120)
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "%d,%d,%d,/p/%d,%s\n", i, 200+i%5, i*7, i, pad)
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkJDBCSink measures rows/s delivered in batches of 3000 (one
// transaction each: multi-row INSERT into SQLite, COPY into PostgreSQL), and in the
// same run the database's own bulk loader on the same rows as the ceiling:
// sqlite3 .import and psql \copy.
func BenchmarkJDBCSink(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend+"/sink", func(b *testing.B) {
			url := "jdbc:sqlite:" + filepath.Join(b.TempDir(), "b.db")
			if backend == "postgres" {
				pg := startPostgres(b)
				url = fmt.Sprintf("jdbc:postgresql://127.0.0.1:%d/%s?user=postgres", pg.Port(), pg.DB())
			}
			s := newJDBCSink(b, map[string]string{JDBCURL: url, JDBCAutoCreate: "true", JDBCPKMode: "kafka", JDBCInsertMode: "insert"})
			recs := benchRecords(b.N)
			b.SetBytes(200)
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < len(recs); i += 3000 {
				if err := s.Deliver(context.Background(), recs[i:min(len(recs), i+3000)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
		})
		b.Run(backend+"/ceiling", func(b *testing.B) {
			dir := b.TempDir()
			csv := filepath.Join(dir, "rows.csv")
			writeCSV(b, csv, b.N)
			var cmd *exec.Cmd
			create := `CREATE TABLE bench (id BIGINT PRIMARY KEY, status BIGINT, bytes BIGINT, path TEXT, note TEXT)`
			if backend == "sqlite" {
				if _, err := exec.LookPath("sqlite3"); err != nil {
					b.Skip("sqlite3 CLI not installed (scripts/install-postgres.sh installs it)")
				}
				dbPath := filepath.Join(dir, "c.db")
				if out, err := exec.Command("sqlite3", dbPath, create).CombinedOutput(); err != nil {
					b.Fatalf("%v %s", err, out)
				}
				cmd = exec.Command("sqlite3", dbPath, "-cmd", ".mode csv", ".import "+csv+" bench")
			} else {
				pg := startPostgres(b)
				conn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s", pg.Port(), pg.DB())
				if out, err := exec.Command("psql", conn, "-c", create).CombinedOutput(); err != nil {
					b.Fatalf("%v %s", err, out)
				}
				os.Chmod(dir, 0o755)
				cmd = exec.Command("psql", conn, "-c", `\copy bench FROM '`+csv+`' WITH (FORMAT csv)`)
			}
			b.SetBytes(200)
			b.ResetTimer()
			start := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v %s", err, out)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
		})
	}
}
