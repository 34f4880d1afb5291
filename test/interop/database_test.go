package interop

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/runnel/runnel/internal/accesslog"
)

// The end-to-end story with the real binary: a growing web access
// log → FileStreamSource → topic → accesslog transform → SQLite table
// access_log, one row per request, readable while it grows; a line that is
// not an access-log line goes to the dead-letter topic; kill -9 of the
// worker and a restart leave every request exactly once (upsert keyed by
// topic/partition/offset).
func TestAccessLogIntoSQLite(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	logPath, dbPath := filepath.Join(dir, "access.log"), filepath.Join(dir, "access.db")
	g := accesslog.NewGenerator(3)
	start := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	write := func(from, to int, extra ...string) {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i := from; i < to; i++ {
			b.WriteString(g.Next(start.Add(time.Duration(i)*time.Second)).String() + "\n")
		}
		for _, l := range extra {
			b.WriteString(l + "\n")
		}
		if _, err := f.WriteString(b.String()); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	write(0, 3000, "this is not an access log line")
	conns := map[string]string{
		"source.properties": fmt.Sprintf("name=access-log-source\nconnector.class=FileStreamSource\nfile=%s\ntopic=access-log\n", logPath),
		"sink.properties": fmt.Sprintf("name=access-log-sqlite\nconnector.class=io.confluent.connect.jdbc.JdbcSinkConnector\ntopics=access-log\n"+
			"connection.url=jdbc:sqlite:%s\ntable.name.format=access_log\nauto.create=true\npk.mode=kafka\ninsert.mode=upsert\n"+
			"transforms=parse\ntransforms.parse.type=accesslog\nerrors.tolerance=all\nerrors.deadletterqueue.topic.name=access-log-dlq\nerrors.deadletterqueue.topic.replication.factor=1\n"+
			"consumer.override.session.timeout.ms=6000\n", dbPath),
	}
	worker, files, url := writeConnectFiles(t, dir, srv.Addr,
		"key.converter=org.apache.kafka.connect.storage.StringConverter\nvalue.converter=org.apache.kafka.connect.storage.StringConverter\n", conns)
	p := startConnect(t, url, nil, runnelBin, append([]string{worker}, files...)...)

	db, err := sql.Open("sqlite", dbPath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows := func() int {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM access_log`).Scan(&n); err != nil {
			return -1
		}
		return n
	}
	connectWait(t, "3000 rows in access_log", 90*time.Second, func() bool { return rows() == 3000 })
	var status, n int
	if err := db.QueryRow(`SELECT status, count(*) FROM access_log GROUP BY status ORDER BY 2 DESC LIMIT 1`).Scan(&status, &n); err != nil || status != 200 {
		t.Fatalf("most frequent status %d (%d rows): %v", status, n, err)
	}
	var path, ts string
	if err := db.QueryRow(`SELECT path, time FROM access_log WHERE __connect_offset = 0`).Scan(&path, &ts); err != nil || !strings.HasPrefix(path, "/") || !strings.HasPrefix(ts, "2026-11-01T12:00:00") {
		t.Fatalf("first row: path %q time %q: %v", path, ts, err)
	}
	dlq := consumeAll(t, srv.Addr, "access-log-dlq", 1, 30*time.Second)
	if string(dlq[0].Value) != "this is not an access log line" {
		t.Fatalf("dead-letter record %q", dlq[0].Value)
	}

	// The log grows while the worker is killed and restarted.
	write(3000, 4000)
	connectWait(t, "rows of the second batch", 60*time.Second, func() bool { return rows() > 3000 })
	p.kill9()
	write(4000, 5000)
	p.spawn()
	// Every request arrives; the generator gives each line its own second,
	// so distinct times count distinct requests. The sink is idempotent
	// (upsert by topic/partition/offset); lines the source re-read after
	// the kill (its last unflushed batch) are new records on the topic and
	// may add rows: at-least-once, counted here.
	distinct := func() int {
		var n int
		if err := db.QueryRow(`SELECT count(DISTINCT time) FROM access_log`).Scan(&n); err != nil {
			return -1
		}
		return n
	}
	connectWait(t, "5000 distinct requests after kill -9 and restart", 120*time.Second, func() bool { return distinct() == 5000 })
	time.Sleep(2 * time.Second)
	total := rows()
	var offsets int
	if err := db.QueryRow(`SELECT count(DISTINCT __connect_offset) FROM access_log`).Scan(&offsets); err != nil || offsets != total {
		t.Fatalf("%d rows but %d distinct offsets: the sink wrote a record twice (%v)", total, offsets, err)
	}
	t.Logf("kill -9 of the worker: 5000 requests, %d rows (%d duplicates re-read by the source)", total, total-5000)
}
