package interop

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/testutil/pgtest"
)

// pacedProducer produces JSON records {"id":i,...} keyed by id for ids
// [from, to) at about perSec records a second; wait blocks until all are
// acknowledged.
type pacedProducer struct {
	wg  sync.WaitGroup
	err error
}

func producePaced(t testing.TB, addr, topic string, from, to, perSec int) *pacedProducer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	p := &pacedProducer{}
	p.wg.Go(func() { // owned by p: ends when every record is acknowledged
		defer cl.Close()
		start := time.Now()
		for i := from; i < to; i++ {
			if due := start.Add(time.Duration(i-from) * time.Second / time.Duration(perSec)); time.Until(due) > 0 {
				time.Sleep(time.Until(due))
			}
			rec := &kgo.Record{Key: fmt.Appendf(nil, "%d", i), Value: fmt.Appendf(nil, `{"id":%d,"name":"person %d","score":%d.25}`, i, i, i)}
			cl.Produce(context.Background(), rec, func(_ *kgo.Record, err error) {
				if err != nil && p.err == nil {
					p.err = err
				}
			})
		}
		if err := cl.Flush(context.Background()); err != nil && p.err == nil {
			p.err = err
		}
	})
	return p
}

// queryInt runs a query of one integer; -1 when it fails (e.g. the table
// does not exist yet, or the server is restarting).
func queryInt(db *sql.DB, q string) int {
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		return -1
	}
	return n
}

func (p *pacedProducer) wait(t testing.TB) {
	t.Helper()
	p.wg.Wait()
	if p.err != nil {
		t.Fatalf("producing: %v", p.err)
	}
}

// A topic streamed into PostgreSQL by two JDBC sink connectors in one
// `runnel connect standalone` process, one upserting by id, one inserting
// plain rows; the worker is killed with SIGKILL mid-stream and restarted,
// and later PostgreSQL itself is restarted mid-stream. Afterwards the
// upsert table holds every record exactly once, the insert table every
// record at least once (its duplicates are counted and logged: records
// written but not yet committed as consumer offsets when the worker died).
func TestJDBCSinkIntoPostgresKill9(t *testing.T) {
	srv := startServer(t)
	pg := pgtest.Start(t)
	createTopic(t, srv.Addr, "people", 3, nil)
	dir := t.TempDir()
	sink := func(name, table, mode, pk string) string {
		return fmt.Sprintf("name=%s\nconnector.class=io.confluent.connect.jdbc.JdbcSinkConnector\ntopics=people\n"+
			"connection.url=%s\ntable.name.format=%s\nauto.create=true\ninsert.mode=%s\n%s\nbatch.size=500\n"+
			"consumer.override.session.timeout.ms=6000\n", name, pg.JDBCURL(), table, mode, pk)
	}
	conns := map[string]string{
		"upsert.properties": sink("pg-upsert", "people_upsert", "upsert", "pk.mode=record_value\npk.fields=id"),
		"insert.properties": sink("pg-insert", "people_insert", "insert", "pk.mode=none"),
	}
	worker, files, url := writeConnectFiles(t, dir, srv.Addr,
		"key.converter=org.apache.kafka.connect.storage.StringConverter\nvalue.converter=org.apache.kafka.connect.storage.StringConverter\n", conns)
	p := startConnect(t, url, nil, runnelBin, append([]string{worker}, files...)...)

	db, err := sql.Open("pgx", pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	query := func(q string) int { return queryInt(db, q) }
	settled := func(what string, n int) (dups int) {
		t.Helper()
		connectWait(t, what, 120*time.Second, func() bool {
			return query(`SELECT count(*) FROM people_upsert`) == n && query(`SELECT count(DISTINCT id) FROM people_insert`) == n
		})
		time.Sleep(2 * time.Second) // nothing more arrives
		if got := query(`SELECT count(*) FROM people_upsert`); got != n {
			t.Fatalf("%s: upsert table has %d rows, want exactly %d", what, got, n)
		}
		if got := query(`SELECT count(*) FROM people_upsert WHERE name = 'person ' || id AND score = id + 0.25`); got != n {
			t.Fatalf("%s: %d of %d upserted rows have the record's values", what, got, n)
		}
		if got := query(`SELECT count(DISTINCT id) FROM people_insert WHERE id < ` + fmt.Sprint(n)); got != n {
			t.Fatalf("%s: insert table has %d distinct ids below %d", what, got, n)
		}
		return query(`SELECT count(*) FROM people_insert`) - n
	}

	// Kill -9 of the worker mid-stream; records keep arriving while it is down.
	const n1 = 30000
	prod := producePaced(t, srv.Addr, "people", 0, n1, 6000)
	connectWait(t, "the sinks to be writing", 60*time.Second, func() bool {
		return query(`SELECT count(*) FROM people_upsert`) > 5000 && query(`SELECT count(*) FROM people_insert`) > 5000
	})
	before := query(`SELECT count(*) FROM people_upsert`)
	p.kill9()
	time.Sleep(time.Second)
	p.spawn()
	prod.wait(t)
	dups := settled("every record after kill -9 and restart", n1)
	t.Logf("kill -9 of the worker at %d of %d records: upsert table exactly %d rows; insert table %d duplicates", before, n1, n1, dups)

	// PostgreSQL restarted mid-stream: the sinks retry and lose nothing.
	const n2 = 60000
	prod = producePaced(t, srv.Addr, "people", n1, n2, 6000)
	connectWait(t, "the sinks to be writing again", 60*time.Second, func() bool { return query(`SELECT count(*) FROM people_upsert`) > n1+5000 })
	pg.Restart(t)
	prod.wait(t)
	dups2 := settled("every record after the PostgreSQL restart", n2)
	t.Logf("PostgreSQL restart mid-stream: upsert table exactly %d rows; insert table %d duplicates in total (%d new)", n2, dups2, dups2-dups)
}
