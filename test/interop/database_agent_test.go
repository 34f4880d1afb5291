package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/accesslog"
	"github.com/runnel/runnel/internal/testutil/pgtest"
)

// The database components inside a Flume agent (`runnel agent`): access-log
// lines sent to a netcat source, parsed by the accesslog interceptor, land
// as rows of a PostgreSQL table through the jdbc sink; and the postgres-cdc
// source streams a table's changes through a memory channel and Flume's
// Kafka sink into the per-table topic on runnel server.
func TestDatabaseComponentsInAgent(t *testing.T) {
	srv := startServer(t)
	pg := pgtest.Start(t)
	conn := pg.Conn(t)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `CREATE TABLE orders (id BIGINT PRIMARY KEY, item TEXT, qty BIGINT)`); err != nil {
		t.Fatal(err)
	}
	nc := freeAddr(t)
	host, port, err := net.SplitHostPort(nc)
	if err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`a1.sources = cdc lines
a1.channels = c1 c2
a1.sinks = k1 db

a1.sources.cdc.type = postgres-cdc
a1.sources.cdc.database.hostname = 127.0.0.1
a1.sources.cdc.database.port = %d
a1.sources.cdc.database.user = postgres
a1.sources.cdc.database.dbname = %s
a1.sources.cdc.topic.prefix = shop
a1.sources.cdc.table.include.list = public.orders
a1.sources.cdc.slot.name = runnel_agent
a1.sources.cdc.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = org.apache.flume.sink.kafka.KafkaSink
a1.sinks.k1.kafka.bootstrap.servers = %s
a1.sinks.k1.channel = c1

a1.sources.lines.type = netcat
a1.sources.lines.bind = %s
a1.sources.lines.port = %s
a1.sources.lines.interceptors = parse
a1.sources.lines.interceptors.parse.type = accesslog
a1.sources.lines.channels = c2
a1.channels.c2.type = memory
a1.sinks.db.type = jdbc
a1.sinks.db.connection.url = %s
a1.sinks.db.table.name.format = access_log
a1.sinks.db.auto.create = true
a1.sinks.db.channel = c2
`, pg.Port(), pg.DB(), srv.Addr, host, port, pg.JDBCURL())
	startAgent(t, conf)

	g := accesslog.NewGenerator(5)
	start := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var sent []string
	for i := range 500 {
		sent = append(sent, g.Next(start.Add(time.Duration(i)*time.Second)).String())
	}
	dialNetcat(t, nc).send(sent...)
	count := func(q string) int {
		var n int
		if err := pg.Conn(t).QueryRow(ctx, q).Scan(&n); err != nil {
			return -1
		}
		return n
	}
	connectWait(t, "500 access-log rows in PostgreSQL", 60*time.Second, func() bool { return count(`SELECT count(*) FROM access_log`) == 500 })
	if got := count(`SELECT count(DISTINCT time) FROM access_log WHERE status BETWEEN 100 AND 599 AND path LIKE '/%'`); got != 500 {
		t.Fatalf("%d parsed rows with a status, a path and their own time; want 500", got)
	}

	// Changes by hand: insert, update, delete.
	for _, q := range []string{
		`INSERT INTO orders VALUES (1, 'kettle', 1), (2, 'teapot', 3)`,
		`UPDATE orders SET qty = 2 WHERE id = 1`,
		`DELETE FROM orders WHERE id = 2`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	recs := consumeAll(t, srv.Addr, "shop.public.orders", 5, 60*time.Second) // c, c, u, d + tombstone
	var ops []string
	for _, r := range recs {
		if r.Value == nil {
			ops = append(ops, "tombstone "+string(r.Key))
			continue
		}
		var e cdcEvent
		if err := json.Unmarshal(r.Value, &e); err != nil {
			t.Fatalf("change event %q: %v", r.Value, err)
		}
		id := int64(0)
		if e.After != nil {
			id = e.After.ID
		} else if e.Before != nil {
			id = e.Before.ID
		}
		ops = append(ops, fmt.Sprintf("%s %d %s", e.Op, id, r.Key))
	}
	want := `[c 1 {"id":1} c 2 {"id":2} u 1 {"id":1} d 2 {"id":2} tombstone {"id":2}]`
	if got := fmt.Sprint(ops); got != want {
		t.Fatalf("changes in topic shop.public.orders:\n got %s\nwant %s", got, want)
	}
}
