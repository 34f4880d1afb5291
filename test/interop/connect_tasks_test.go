package interop

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/testutil/pgtest"
)

// A JDBC sink with tasks.max=4 over two `runnel connect distributed`
// processes: the tasks split between the workers; SIGKILL of one moves its
// tasks to the other while records keep arriving, and the PostgreSQL table
// (upsert by id) ends with every record exactly once.
func TestConnectDistributedSinkTasksKill9(t *testing.T) {
	srv := startServer(t)
	pg := pgtest.Start(t)
	createTopic(t, srv.Addr, "people", 8, nil)
	dir := t.TempDir()
	var procs []*connectProc
	for _, name := range []string{"w1", "w2"} {
		wdir := filepath.Join(dir, name)
		os.MkdirAll(wdir, 0o755)
		worker, _, url := writeConnectFiles(t, wdir, srv.Addr, "group.id=connect-cluster\nconfig.storage.topic=connect-configs\noffset.storage.topic=connect-offsets\n"+
			"status.storage.topic=connect-status\nheartbeat.interval.ms=1000\nrebalance.timeout.ms=10000\n"+
			"key.converter=org.apache.kafka.connect.storage.StringConverter\nvalue.converter=org.apache.kafka.connect.storage.StringConverter\n", nil)
		procs = append(procs, startConnectMode(t, "distributed", url, nil, runnelBin, worker))
	}
	sink := filepath.Join(dir, "sink.json")
	os.WriteFile(sink, []byte(fmt.Sprintf(`{"name":"pg","config":{"connector.class":"io.confluent.connect.jdbc.JdbcSinkConnector","tasks.max":"4",`+
		`"topics":"people","connection.url":%q,"table.name.format":"people","auto.create":"true","insert.mode":"upsert","pk.mode":"record_value",`+
		`"pk.fields":"id","batch.size":"500","consumer.override.session.timeout.ms":"6000"}}`, pg.JDBCURL())), 0o644)
	procs[0].cli("create", sink).mustOK(t)

	owners := func(p *connectProc) map[string]int {
		r := p.cli("status", "pg")
		var s struct {
			Tasks []struct {
				State    string
				WorkerID string `json:"worker_id"`
			}
		}
		if r.Err != nil || json.Unmarshal([]byte(r.Stdout), &s) != nil || len(s.Tasks) != 4 {
			return nil
		}
		out := map[string]int{}
		for _, task := range s.Tasks {
			if task.State != "RUNNING" {
				return nil
			}
			out[task.WorkerID]++
		}
		return out
	}
	connectWait(t, "four tasks RUNNING over both workers", 60*time.Second, func() bool { return len(owners(procs[0])) == 2 })

	db, err := sql.Open("pgx", pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func(q string) int { return queryInt(db, q) }
	const n = 30000
	prod := producePaced(t, srv.Addr, "people", 0, n, 6000)
	connectWait(t, "rows arriving", 60*time.Second, func() bool { return count(`SELECT count(*) FROM people`) > 5000 })
	victim, survivor := procs[0], procs[1]
	victim.kill9()
	killedAt := time.Now()
	me := strings.TrimPrefix(survivor.url, "http://")
	connectWait(t, "all four tasks on the survivor", 90*time.Second, func() bool { return owners(survivor)[me] == 4 })
	moved := time.Since(killedAt)
	prod.wait(t)
	connectWait(t, "every record in the table", 120*time.Second, func() bool { return count(`SELECT count(*) FROM people`) == n })
	time.Sleep(2 * time.Second)
	if got := count(`SELECT count(*) FROM people`); got != n {
		t.Fatalf("%d rows, want exactly %d", got, n)
	}
	if got := count(`SELECT count(*) FROM people WHERE name = 'person ' || id`); got != n {
		t.Fatalf("%d of %d rows hold their record's values", got, n)
	}
	t.Logf("kill -9 of one of two workers running a 4-task JDBC sink: all tasks on the survivor %s later; %d rows exactly once", moved.Round(100*time.Millisecond), n)
}
