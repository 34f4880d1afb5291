package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite" (no cgo)

	"github.com/runnel/runnel/internal/flow"
)

// JDBC sink config keys: the Kafka Connect JDBC sink connector's names.
const (
	JDBCURL          = "connection.url"
	JDBCUser         = "connection.user"
	JDBCPassword     = "connection.password"
	JDBCTopics       = "topics"
	JDBCTopicsRegex  = "topics.regex"
	JDBCTableFormat  = "table.name.format"
	JDBCInsertMode   = "insert.mode"
	JDBCPKMode       = "pk.mode"
	JDBCPKFields     = "pk.fields"
	JDBCDelete       = "delete.enabled"
	JDBCAutoCreate   = "auto.create"
	JDBCAutoEvolve   = "auto.evolve"
	JDBCFields       = "fields.whitelist"
	JDBCFieldsInc    = "fields.include.list"
	JDBCBatchSize    = "batch.size"
	JDBCMaxRetries   = "max.retries"
	JDBCRetryBackoff = "retry.backoff.ms"
	JDBCValueColumn  = "value.column.name"
)

// JDBCSinkSpec documents the database sink.
var JDBCSinkSpec = flow.Spec{
	Names: []string{"jdbc", "io.confluent.connect.jdbc.JdbcSinkConnector", "io.debezium.connector.jdbc.JdbcSinkConnector",
		"JdbcSinkConnector", "runnel.sink.postgres", "runnel.sink.sqlite"},
	Summary: "writes records into PostgreSQL or SQLite tables (Kafka Connect JDBC sink semantics): one transaction per batch, insert/upsert/update, deletes from tombstones, tables and columns created from the records",
	Keys: []flow.Key{
		{Name: JDBCURL, Required: true, Doc: "jdbc:postgresql://host:port/db, postgres://..., jdbc:sqlite:/path or a plain file path"},
		{Name: JDBCUser, Doc: "database user (PostgreSQL)"},
		{Name: JDBCPassword, Doc: "database password (PostgreSQL)"},
		{Name: JDBCTopics, Doc: "topics to read (the Connect worker subscribes)"},
		{Name: JDBCTopicsRegex, Doc: "regular expression of topics to read (the Connect worker subscribes)"},
		{Name: JDBCTableFormat, Default: "${topic}", Doc: "table name; ${topic} is replaced by the record's topic"},
		{Name: JDBCInsertMode, Default: "insert", Doc: "insert | upsert | update"},
		{Name: JDBCPKMode, Default: "none", Doc: "none | kafka | record_key | record_value"},
		{Name: JDBCPKFields, Doc: "comma-separated primary-key fields (record_value: fields of the value; record_key: of the key; kafka: the three column names)"},
		{Name: JDBCDelete, Type: flow.Bool, Default: "false", Doc: "a tombstone (null value) deletes the row with its key (needs pk.mode=record_key)"},
		{Name: JDBCAutoCreate, Type: flow.Bool, Default: "false", Doc: "create a missing table from the record's schema or JSON field types"},
		{Name: JDBCAutoEvolve, Type: flow.Bool, Default: "false", Doc: "add columns for record fields the table lacks"},
		{Name: JDBCFields, Doc: "comma-separated value fields to write (default: all)"},
		{Name: JDBCFieldsInc, Doc: "newer name of fields.whitelist"},
		{Name: JDBCBatchSize, Type: flow.Int, Default: "3000", Min: 1, Max: 1 << 20, Doc: "most records per transaction"},
		{Name: JDBCMaxRetries, Type: flow.Int, Default: "10", Min: 0, Max: 1 << 20, Doc: "accepted; the runner retries a failed batch with backoff until it succeeds"},
		{Name: JDBCRetryBackoff, Type: flow.Int, Default: "3000", Min: 0, Max: 1 << 31, Doc: "accepted; see max.retries"},
		{Name: JDBCValueColumn, Default: "value", Doc: "column a record whose value is not a JSON object (a plain string) is written to"},
	},
}

func init() {
	flow.RegisterSink(JDBCSinkSpec, func(c flow.Config) (flow.Sink, error) { return NewJDBCSink(c) })
}

// dialect is what differs between PostgreSQL and SQLite.
type dialect struct {
	name   string // "postgres" or "sqlite"
	driver string
	dsn    string
}

func (d dialect) pg() bool { return d.name == "postgres" }

func (d dialect) placeholder(n int) string {
	if d.pg() {
		return fmt.Sprintf("$%d", n)
	}
	return "?"
}

// maxParams bounds the placeholders of one statement.
func (d dialect) maxParams() int {
	if d.pg() {
		return 65535
	}
	return 32766
}

// parseURL maps connection.url onto a driver and DSN.
func parseURL(raw, user, password string) (dialect, error) {
	u := strings.TrimSpace(raw)
	switch {
	case strings.HasPrefix(u, "jdbc:postgresql:"), strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		dsn := strings.TrimPrefix(u, "jdbc:")
		dsn = strings.Replace(dsn, "postgresql://", "postgres://", 1)
		pu, err := url.Parse(dsn)
		if err != nil || pu.Host == "" {
			return dialect{}, fmt.Errorf("not a PostgreSQL URL such as jdbc:postgresql://127.0.0.1:5432/db")
		}
		q := pu.Query()
		// JDBC puts credentials in the query; libpq in the userinfo.
		if user == "" {
			user = q.Get("user")
		}
		if password == "" {
			password = q.Get("password")
		}
		q.Del("user")
		q.Del("password")
		if user != "" {
			if password != "" {
				pu.User = url.UserPassword(user, password)
			} else {
				pu.User = url.User(user)
			}
		}
		pu.RawQuery = q.Encode()
		return dialect{name: "postgres", driver: "pgx", dsn: pu.String()}, nil
	case strings.HasPrefix(u, "jdbc:sqlite:"), strings.HasPrefix(u, "sqlite:"), !strings.Contains(u, "://"):
		path := strings.TrimPrefix(strings.TrimPrefix(u, "jdbc:"), "sqlite:")
		if path == "" {
			return dialect{}, fmt.Errorf("no SQLite file path")
		}
		// WAL and a busy timeout let readers (sqlite3 CLI) watch while the
		// sink writes; synchronous=FULL makes each commit durable.
		dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)"
		return dialect{name: "sqlite", driver: "sqlite", dsn: dsn}, nil
	}
	return dialect{}, fmt.Errorf("unsupported database URL; use jdbc:postgresql://..., postgres://..., jdbc:sqlite:/path or a file path")
}

// JDBCSink writes events into database tables.
type JDBCSink struct {
	cfg         flow.Config
	d           dialect
	tableFormat string
	mode        string
	pkMode      string
	pkFields    []string
	deletes     bool
	autoCreate  bool
	autoEvolve  bool
	fields      map[string]bool
	batchSize   int
	valueColumn string

	mu     sync.Mutex // Deliver and Close hold it
	db     *sql.DB
	tables map[string]*tableInfo // known tables: columns, by name
	stages int                   // staging tables made, for unique names
}

// NewJDBCSink validates c; the database is opened on the first Deliver.
func NewJDBCSink(c flow.Config) (*JDBCSink, error) {
	d, err := parseURL(c.String(JDBCURL), c.String(JDBCUser), c.String(JDBCPassword))
	if err != nil {
		return nil, &flow.KeyError{Key: JDBCURL, Value: c.String(JDBCURL), Problem: err.Error(), Fix: "use jdbc:postgresql://host:port/db or jdbc:sqlite:/path/to/file.db"}
	}
	s := &JDBCSink{cfg: c, d: d, tableFormat: c.String(JDBCTableFormat), mode: c.String(JDBCInsertMode), pkMode: c.String(JDBCPKMode),
		deletes: c.Bool(JDBCDelete), autoCreate: c.Bool(JDBCAutoCreate), autoEvolve: c.Bool(JDBCAutoEvolve),
		batchSize: int(c.Int(JDBCBatchSize)), valueColumn: c.String(JDBCValueColumn), tables: map[string]*tableInfo{}}
	switch s.mode {
	case "insert", "upsert", "update":
	default:
		return nil, &flow.KeyError{Key: JDBCInsertMode, Value: s.mode, Problem: "unknown insert mode", Fix: "use insert, upsert or update"}
	}
	switch s.pkMode {
	case "none", "kafka", "record_key", "record_value":
	default:
		return nil, &flow.KeyError{Key: JDBCPKMode, Value: s.pkMode, Problem: "unknown pk mode", Fix: "use none, kafka, record_key or record_value"}
	}
	s.pkFields = splitFields(c.String(JDBCPKFields))
	if s.pkMode == "kafka" && len(s.pkFields) == 0 {
		s.pkFields = []string{"__connect_topic", "__connect_partition", "__connect_offset"}
	}
	if s.pkMode == "kafka" && len(s.pkFields) != 3 {
		return nil, &flow.KeyError{Key: JDBCPKFields, Value: c.String(JDBCPKFields), Problem: "pk.mode=kafka takes three column names (topic, partition, offset)", Fix: "name three columns or leave pk.fields empty"}
	}
	if s.pkMode == "record_value" && len(s.pkFields) == 0 {
		return nil, &flow.KeyError{Key: JDBCPKFields, Problem: "pk.mode=record_value needs the key fields of the value", Fix: "set pk.fields, e.g. pk.fields=id"}
	}
	if (s.mode == "upsert" || s.mode == "update") && s.pkMode == "none" {
		return nil, &flow.KeyError{Key: JDBCInsertMode, Value: s.mode, Problem: "upsert and update need a primary key", Fix: "set pk.mode (record_key, record_value or kafka) and pk.fields"}
	}
	if s.deletes && s.pkMode != "record_key" {
		return nil, &flow.KeyError{Key: JDBCDelete, Value: "true", Problem: "deletes need pk.mode=record_key (a tombstone has only a key)", Fix: "set pk.mode=record_key"}
	}
	if f := splitFields(c.String(JDBCFields) + "," + c.String(JDBCFieldsInc)); len(f) > 0 {
		s.fields = map[string]bool{}
		for _, n := range f {
			s.fields[n] = true
		}
	}
	return s, nil
}

func splitFields(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// BatchSize implements flow.BatchSizer.
func (s *JDBCSink) BatchSize() int { return s.batchSize }

// Close implements flow.Sink.
func (s *JDBCSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}

func (s *JDBCSink) open(ctx context.Context) (*sql.DB, error) {
	if s.db != nil {
		return s.db, nil
	}
	db, err := sql.Open(s.d.driver, s.d.dsn)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", s.d.name, err)
	}
	if s.d.name == "sqlite" {
		db.SetMaxOpenConns(1)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to %s: %w", s.d.name, err)
	}
	s.db = db
	s.tables = map[string]*tableInfo{}
	return db, nil
}

// dropConn forgets the connection pool after a connection-level failure.
func (s *JDBCSink) dropConn() {
	if s.db != nil {
		s.db.Close()
		s.db = nil
	}
}

// Deliver implements flow.Sink: the whole batch is one transaction. Rows
// that can never be written are reported together as a
// *flow.RejectedError with nothing committed; a database that cannot be
// reached is an ordinary error (the runner retries).
func (s *JDBCSink) Deliver(ctx context.Context, batch []flow.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, rejected := s.toRows(batch)
	if len(rejected) > 0 {
		return &flow.RejectedError{Rejected: rejected}
	}
	db, err := s.open(ctx)
	if err != nil {
		return err
	}
	err = s.write(ctx, db, rows, false)
	if err == nil {
		return nil
	}
	if pingErr := db.PingContext(ctx); pingErr != nil || ctx.Err() != nil {
		s.dropConn()
		return fmt.Errorf("writing %d rows: %w", len(rows), err)
	}
	// The database is up: find the rows it refuses, one at a time under
	// savepoints, in a transaction that is rolled back.
	rej, ferr := s.findRejected(ctx, db, rows)
	if ferr != nil {
		s.dropConn()
		return fmt.Errorf("writing %d rows: %w (and while looking for the bad rows: %v)", len(rows), err, ferr)
	}
	if len(rej) == 0 {
		return fmt.Errorf("writing %d rows: %w", len(rows), err)
	}
	return &flow.RejectedError{Rejected: rej}
}

// toRows converts a batch, large ones in parallel (decoding JSON is most of
// the sink's own CPU time); rows keep the batch's order.
func (s *JDBCSink) toRows(batch []flow.Event) ([]*row, []flow.Rejection) {
	all := make([]*row, len(batch))
	errs := make([]error, len(batch))
	workers := min(runtime.GOMAXPROCS(0), len(batch)/parallelRows)
	var wg sync.WaitGroup
	for w := range max(workers, 1) {
		wg.Go(func() {
			for i := w; i < len(batch); i += max(workers, 1) {
				all[i], errs[i] = s.toRow(batch[i])
			}
		})
	}
	wg.Wait()
	rows := all[:0]
	var rejected []flow.Rejection
	for i, r := range all {
		switch {
		case errs[i] != nil:
			rejected = append(rejected, flow.Rejection{Index: i, Reason: errs[i].Error()})
		case r != nil:
			r.index = i
			rows = append(rows, r)
		}
	}
	return rows, rejected
}

// parallelRows is how many records each extra decoding goroutine gets at
// least.
const parallelRows = 256

// write runs rows in one transaction; probe rolls back instead of
// committing.
func (s *JDBCSink) write(ctx context.Context, db *sql.DB, rows []*row, probe bool) error {
	// Tables and columns first (DDL outside the batch transaction, so a
	// failure there is reported on its own).
	for _, r := range rows {
		if err := s.ensureTable(ctx, db, r); err != nil {
			return err
		}
	}
	// One connection for the transaction: COPY runs on its driver
	// connection, between the transaction's statements.
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("getting a connection: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning a transaction: %w", err)
	}
	defer tx.Rollback()
	for _, run := range s.runs(rows) {
		if s.copies(run) {
			err = s.copyRun(ctx, conn, tx, run)
		} else {
			err = s.execRun(ctx, tx, run)
		}
		if err != nil {
			return err
		}
	}
	if probe {
		return nil
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// findRejected replays rows one by one, each under a savepoint, and
// returns those the database refuses.
func (s *JDBCSink) findRejected(ctx context.Context, db *sql.DB, rows []*row) ([]flow.Rejection, error) {
	var rej []flow.Rejection
	for _, r := range rows {
		if err := s.ensureTable(ctx, db, r); err != nil {
			rej = append(rej, flow.Rejection{Index: r.index, Reason: err.Error()})
		}
	}
	if len(rej) > 0 {
		return rej, nil
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	for _, r := range rows {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT runnel_row"); err != nil {
			return nil, err
		}
		if err := s.probeRow(ctx, conn, tx, r); err != nil {
			rej = append(rej, flow.Rejection{Index: r.index, Reason: fmt.Sprintf("table %s: %s", r.table, describeErr(err))})
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT runnel_row"); err != nil {
				return nil, err
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT runnel_row"); err != nil {
			return nil, err
		}
	}
	return rej, nil
}

// probeRow writes one row as the batch would: on PostgreSQL inserts and
// upserts go through COPY, whose errors name the column.
func (s *JDBCSink) probeRow(ctx context.Context, conn *sql.Conn, tx *sql.Tx, r *row) error {
	if s.d.pg() && !r.delete && s.mode != "update" {
		return s.copyRun(ctx, conn, tx, []*row{r})
	}
	return s.execRun(ctx, tx, []*row{r})
}

// describeErr is err with what PostgreSQL says about where it happened
// (the column of a bad value or of a NOT NULL violation).
func describeErr(err error) string {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err.Error()
	}
	msg := pe.Message
	switch {
	case pe.ColumnName != "":
		msg = fmt.Sprintf("column %q: %s", pe.ColumnName, msg)
	case pe.Where != "":
		if i := strings.Index(pe.Where, "column "); i >= 0 {
			col, _, _ := strings.Cut(pe.Where[i+len("column "):], ":")
			msg = fmt.Sprintf("column %q: %s", col, msg)
		}
	}
	if pe.Detail != "" {
		msg += " (" + pe.Detail + ")"
	}
	return msg + " (SQLSTATE " + pe.Code + ")"
}

// runs splits rows into maximal runs of the same table, operation and
// columns, each run one statement. For upserts and updates a key repeated
// inside a run keeps its last row (a statement cannot change a row twice).
func (s *JDBCSink) runs(rows []*row) [][]*row {
	var out [][]*row
	for _, r := range rows {
		if n := len(out); n > 0 {
			last := out[n-1]
			if first := last[0]; first.table == r.table && first.delete == r.delete && slices.Equal(first.cols, r.cols) {
				out[n-1] = append(last, r)
				continue
			}
		}
		out = append(out, []*row{r})
	}
	if s.mode == "insert" {
		return out
	}
	for i, run := range out {
		seen := map[string]int{}
		var kept []*row
		for _, r := range run {
			k := r.keyString()
			if j, ok := seen[k]; ok {
				kept[j] = r
				continue
			}
			seen[k] = len(kept)
			kept = append(kept, r)
		}
		out[i] = kept
	}
	return out
}

var errNoConn = errors.New("no database connection")
