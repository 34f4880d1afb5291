package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runnel/runnel/internal/flow"
)

func newJDBCSink(t testing.TB, raw map[string]string) *JDBCSink {
	t.Helper()
	cfg, _, err := JDBCSinkSpec.Validate("jdbc", raw)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewJDBCSink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// backends are the databases the sink tests run against: SQLite always,
// PostgreSQL when a server is available.
func backends(t *testing.T) map[string]func(t *testing.T) (url string, query func(string) *sql.DB) {
	return map[string]func(t *testing.T) (string, func(string) *sql.DB){
		"sqlite": func(t *testing.T) (string, func(string) *sql.DB) {
			path := filepath.Join(t.TempDir(), "test.db")
			return "jdbc:sqlite:" + path, func(string) *sql.DB {
				db, err := sql.Open("sqlite", path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}
		},
		"postgres": func(t *testing.T) (string, func(string) *sql.DB) {
			pg := startPostgres(t)
			url := fmt.Sprintf("jdbc:postgresql://127.0.0.1:%d/%s?user=%s", pg.Port(), pg.DB(), pg.User())
			return url, func(string) *sql.DB {
				db, err := sql.Open("pgx", fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s", pg.User(), pg.Port(), pg.DB()))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}
		},
	}
}

func count(t testing.TB, db *sql.DB, q string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func jsonEvents(from, to int) []flow.Event {
	var out []flow.Event
	for i := from; i < to; i++ {
		out = append(out, flow.Event{Topic: "people", Key: []byte(fmt.Sprintf(`{"id":%d}`, i)),
			Body: []byte(fmt.Sprintf(`{"id":%d,"name":"person %d","score":%d.5,"active":%v,"tags":["a","b"]}`, i, i, i, i%2 == 0))})
	}
	return out
}

func TestJDBCSink(t *testing.T) {
	for backendName, backend := range backends(t) {
		t.Run(backendName, func(t *testing.T) {
			url, open := backend(t)
			s := newJDBCSink(t, map[string]string{JDBCURL: url, JDBCInsertMode: "upsert", JDBCPKMode: "record_key",
				JDBCDelete: "true", JDBCAutoCreate: "true", JDBCAutoEvolve: "true", JDBCTableFormat: "t_${topic}"})
			ctx := context.Background()
			const n = 100000
			events := jsonEvents(0, n)
			for i := 0; i < n; i += 2000 {
				if err := s.Deliver(ctx, events[i:i+2000]); err != nil {
					t.Fatal(err)
				}
			}
			db := open(backendName)
			if got := count(t, db, `SELECT count(*) FROM t_people`); got != n {
				t.Fatalf("%d rows, want %d", got, n)
			}
			// Replay: upsert changes nothing.
			if err := s.Deliver(ctx, events[:3000]); err != nil {
				t.Fatal(err)
			}
			if got := count(t, db, `SELECT count(*) FROM t_people`); got != n {
				t.Fatalf("after replay %d rows, want %d", got, n)
			}
			// Types from the JSON values.
			var name string
			var score float64
			var active bool
			if err := db.QueryRow(`SELECT name, score, active FROM t_people WHERE id = 42`).Scan(&name, &score, &active); err != nil {
				t.Fatal(err)
			}
			if name != "person 42" || score != 42.5 || !active {
				t.Fatalf("row 42: %q %v %v", name, score, active)
			}
			// Tombstones delete; a new field evolves the table; a key repeated
			// in one batch keeps its last value.
			batch := []flow.Event{
				{Topic: "people", Key: []byte(`{"id":1}`)},
				{Topic: "people", Key: []byte(`{"id":2}`)},
				{Topic: "people", Key: []byte(`{"id":3}`), Body: []byte(`{"id":3,"name":"first","email":"x@example.com"}`)},
				{Topic: "people", Key: []byte(`{"id":3}`), Body: []byte(`{"id":3,"name":"second","email":"y@example.com"}`)},
			}
			if err := s.Deliver(ctx, batch); err != nil {
				t.Fatal(err)
			}
			if got := count(t, db, `SELECT count(*) FROM t_people`); got != n-2 {
				t.Fatalf("after two tombstones %d rows, want %d", got, n-2)
			}
			var email string
			if err := db.QueryRow(`SELECT name, email FROM t_people WHERE id = 3`).Scan(&name, &email); err != nil || name != "second" || email != "y@example.com" {
				t.Fatalf("row 3: %q %q %v", name, email, err)
			}
			// Bad records: a missing key and (PostgreSQL) a value of the wrong
			// type; nothing of the batch is written.
			bad := []flow.Event{
				{Topic: "people", Key: []byte(`{"id":200000}`), Body: []byte(`{"id":200000,"name":"ok"}`)},
				{Topic: "people", Body: []byte(`{"id":200001}`)},
			}
			var re *flow.RejectedError
			if err := s.Deliver(ctx, bad); !errors.As(err, &re) || len(re.Rejected) != 1 || re.Rejected[0].Index != 1 {
				t.Fatalf("batch with a keyless record: %v", err)
			}
			if backendName == "postgres" {
				bad = []flow.Event{
					{Topic: "people", Key: []byte(`{"id":200000}`), Body: []byte(`{"id":200000,"name":"ok"}`)},
					{Topic: "people", Key: []byte(`{"id":200001}`), Body: []byte(`{"id":200001,"score":"not a number"}`)},
				}
				err := s.Deliver(ctx, bad)
				if !errors.As(err, &re) || len(re.Rejected) != 1 || re.Rejected[0].Index != 1 || !strings.Contains(re.Rejected[0].Reason, "t_people") || !strings.Contains(re.Rejected[0].Reason, `column "score"`) {
					t.Fatalf("batch with a wrongly typed value: %v", err)
				}
				t.Logf("refused: %s", re.Rejected[0].Reason)
			}
			if got := count(t, db, `SELECT count(*) FROM t_people WHERE id >= 200000`); got != 0 {
				t.Fatalf("a refused batch left %d rows", got)
			}
		})
	}
}

func TestJDBCSinkSchemaEnvelopeAndPlainStrings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	s := newJDBCSink(t, map[string]string{JDBCURL: path, JDBCAutoCreate: "true", JDBCPKMode: "kafka"})
	env := `{"schema":{"type":"struct","fields":[{"field":"n","type":"int32"},{"field":"b","type":"bytes"},{"field":"s","type":"string"}]},"payload":{"n":7,"b":"aGk=","s":null}}`
	err := s.Deliver(context.Background(), []flow.Event{
		{Topic: "env", Partition: 1, Offset: 10, Body: []byte(env)},
		{Topic: "lines", Partition: 0, Offset: 5, Body: []byte("GET / HTTP/1.1")},
	})
	if err != nil {
		t.Fatal(err)
	}
	db, _ := sql.Open("sqlite", path)
	defer db.Close()
	var n int
	var b []byte
	if err := db.QueryRow(`SELECT n, b FROM env WHERE __connect_topic = 'env' AND __connect_partition = 1 AND __connect_offset = 10`).Scan(&n, &b); err != nil || n != 7 || string(b) != "hi" {
		t.Fatalf("envelope row: %d %q %v", n, b, err)
	}
	var typ string
	if err := db.QueryRow(`SELECT type FROM pragma_table_info('env') WHERE name = 'n'`).Scan(&typ); err != nil || typ != "INTEGER" {
		t.Fatalf("column n type %q %v", typ, err)
	}
	var v string
	if err := db.QueryRow(`SELECT value FROM lines`).Scan(&v); err != nil || v != "GET / HTTP/1.1" {
		t.Fatalf("plain string row: %q %v", v, err)
	}
}

func TestJDBCSinkConfigErrors(t *testing.T) {
	tests := []struct {
		raw map[string]string
		key string
	}{
		{map[string]string{JDBCURL: "mysql://x"}, JDBCURL},
		{map[string]string{JDBCURL: "a.db", JDBCInsertMode: "upsert"}, JDBCInsertMode},
		{map[string]string{JDBCURL: "a.db", JDBCDelete: "true", JDBCPKMode: "record_value", JDBCPKFields: "id"}, JDBCDelete},
		{map[string]string{JDBCURL: "a.db", JDBCPKMode: "record_value"}, JDBCPKFields},
		{map[string]string{JDBCURL: "a.db", JDBCPKMode: "sometimes"}, JDBCPKMode},
	}
	for _, tt := range tests {
		cfg, _, err := JDBCSinkSpec.Validate("jdbc", tt.raw)
		if err == nil {
			_, err = NewJDBCSink(cfg)
		}
		var ke *flow.KeyError
		if !errors.As(err, &ke) || ke.Key != tt.key {
			t.Errorf("%v: error %v, want a KeyError on %s", tt.raw, err, tt.key)
		}
	}
}

// TestJDBCSinkValues writes awkward values in a batch long enough for
// PostgreSQL's COPY path and in a one-row batch (an INSERT), and reads back
// exactly what was sent from both.
func TestJDBCSinkValues(t *testing.T) {
	cases := []struct {
		name string
		json string // the value of field "v"
		want any    // what reading column v back gives (nil: NULL)
	}{
		{"empty string", `""`, ""},
		{"null", `null`, nil},
		{"quotes and commas", `"a \"quoted\", value"`, `a "quoted", value`},
		{"newline and tab", `"line1\nline2\tx"`, "line1\nline2\tx"},
		{"backslashes", `"C:\\dir\\n"`, `C:\dir\n`},
		{"end-of-data marker", `"\\."`, `\.`},
		{"unicode", `"grüße 🌊"`, "grüße 🌊"},
		{"nested object", `{"a": [1, 2]}`, `{"a":[1,2]}`},
		{"text that looks like NULL", `"\\N"`, `\N`},
	}
	for name, backend := range backends(t) {
		t.Run(name, func(t *testing.T) {
			url, open := backend(t)
			s := newJDBCSink(t, map[string]string{JDBCURL: url, JDBCAutoCreate: "true", JDBCPKMode: "record_value", JDBCPKFields: "id", JDBCInsertMode: "upsert"})
			var long, single []flow.Event
			for i, c := range cases {
				for j := range copyMinRows + 1 {
					long = append(long, flow.Event{Topic: "vals", Body: []byte(fmt.Sprintf(`{"id":%d,"v":%s}`, i*100+j, c.json))})
				}
				single = append(single, flow.Event{Topic: "vals", Body: []byte(fmt.Sprintf(`{"id":%d,"v":%s}`, i*100+99, c.json))})
			}
			ctx := context.Background()
			if err := s.Deliver(ctx, long); err != nil {
				t.Fatal(err)
			}
			for _, e := range single {
				if err := s.Deliver(ctx, []flow.Event{e}); err != nil {
					t.Fatal(err)
				}
			}
			db := open(name)
			for i, c := range cases {
				for _, id := range []int{i * 100, i*100 + copyMinRows, i*100 + 99} {
					var got sql.NullString
					if err := db.QueryRow(fmt.Sprintf(`SELECT v FROM vals WHERE id = %d`, id)).Scan(&got); err != nil {
						t.Fatalf("%s: row %d: %v", c.name, id, err)
					}
					if c.want == nil {
						if got.Valid {
							t.Errorf("%s: row %d: got %q, want NULL", c.name, id, got.String)
						}
						continue
					}
					if !got.Valid || got.String != c.want {
						t.Errorf("%s: row %d: got %q (valid %v), want %q", c.name, id, got.String, got.Valid, c.want)
					}
				}
			}
			// Replaying the long batch through the upsert merge changes nothing.
			if err := s.Deliver(ctx, long); err != nil {
				t.Fatal(err)
			}
			if got, want := count(t, db, `SELECT count(*) FROM vals`), len(long)+len(single); got != want {
				t.Fatalf("%d rows after replay, want %d", got, want)
			}
		})
	}
}
