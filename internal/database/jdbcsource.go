package database

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

// JDBC polling source config keys: the Kafka Connect JDBC source
// connector's names.
const (
	JSrcMode           = "mode"
	JSrcIncrementing   = "incrementing.column.name"
	JSrcTimestamp      = "timestamp.column.name"
	JSrcPollInterval   = "poll.interval.ms"
	JSrcTables         = "table.whitelist"
	JSrcTablesInclude  = "table.include.list"
	JSrcQuery          = "query"
	JSrcTopicPrefix    = "topic.prefix"
	JSrcBatchMaxRows   = "batch.max.rows"
	JSrcTimestampDelay = "timestamp.delay.interval.ms"
)

// JDBCSourceSpec documents the polling source.
var JDBCSourceSpec = flow.Spec{
	Names: []string{"jdbc-poll", "io.confluent.connect.jdbc.JdbcSourceConnector", "JdbcSourceConnector", "runnel.source.jdbc"},
	Summary: "polls PostgreSQL or SQLite tables (or a query) for new and changed rows by an incrementing id and/or a timestamp column " +
		"(for databases without logical replication)",
	Keys: []flow.Key{
		{Name: JDBCURL, Required: true, Doc: "jdbc:postgresql://..., postgres://..., jdbc:sqlite:/path or a file path"},
		{Name: JDBCUser, Doc: "database user (PostgreSQL)"},
		{Name: JDBCPassword, Doc: "database password (PostgreSQL)"},
		{Name: JSrcMode, Required: true, Doc: "incrementing | timestamp | timestamp+incrementing"},
		{Name: JSrcIncrementing, Doc: "strictly increasing integer column (incrementing modes)"},
		{Name: JSrcTimestamp, Doc: "last-modified timestamp column (timestamp modes)"},
		{Name: JSrcPollInterval, Type: flow.Int, Default: "5000", Min: 1, Max: 1 << 31, Doc: "ms between polls"},
		{Name: JSrcTables, Doc: "comma-separated tables to poll"},
		{Name: JSrcTablesInclude, Doc: "newer name of table.whitelist"},
		{Name: JSrcQuery, Doc: "a SELECT to poll instead of tables (its rows go to topic.prefix)"},
		{Name: JSrcTopicPrefix, Default: "", Doc: "topic = prefix + table (or the prefix alone with query)"},
		{Name: JSrcBatchMaxRows, Type: flow.Int, Default: "100", Min: 1, Max: 1 << 20, Doc: "most rows per emitted batch"},
		{Name: JSrcTimestampDelay, Type: flow.Int, Default: "0", Min: 0, Max: 1 << 31, Doc: "ms a row's timestamp must be old before it is read (lets slow transactions commit)"},
	},
}

func init() {
	flow.RegisterSource(JDBCSourceSpec, func(c flow.Config) (flow.Source, error) { return NewJDBCSource(c) })
}

// JDBCSource polls tables for rows past its stored offset.
type JDBCSource struct {
	cfg      flow.Config
	d        dialect
	incCol   string
	tsCol    string
	tables   []string
	query    string
	prefix   string
	interval time.Duration
	batch    int
	delay    time.Duration
	mem      map[string]map[string]any // offsets when cfg.Offsets is nil
}

// NewJDBCSource validates c.
func NewJDBCSource(c flow.Config) (*JDBCSource, error) {
	d, err := parseURL(c.String(JDBCURL), c.String(JDBCUser), c.String(JDBCPassword))
	if err != nil {
		return nil, &flow.KeyError{Key: JDBCURL, Value: c.String(JDBCURL), Problem: err.Error(), Fix: "use jdbc:postgresql://host:port/db or jdbc:sqlite:/path/to/file.db"}
	}
	s := &JDBCSource{cfg: c, d: d, incCol: c.String(JSrcIncrementing), tsCol: c.String(JSrcTimestamp), query: c.String(JSrcQuery),
		prefix: c.String(JSrcTopicPrefix), interval: time.Duration(c.Int(JSrcPollInterval)) * time.Millisecond,
		batch: int(c.Int(JSrcBatchMaxRows)), delay: time.Duration(c.Int(JSrcTimestampDelay)) * time.Millisecond, mem: map[string]map[string]any{}}
	switch m := c.String(JSrcMode); m {
	case "incrementing":
		s.tsCol = ""
		if s.incCol == "" {
			return nil, &flow.KeyError{Key: JSrcIncrementing, Problem: "mode=incrementing needs the column", Fix: "set incrementing.column.name, e.g. id"}
		}
	case "timestamp":
		s.incCol = ""
		if s.tsCol == "" {
			return nil, &flow.KeyError{Key: JSrcTimestamp, Problem: "mode=timestamp needs the column", Fix: "set timestamp.column.name, e.g. updated_at"}
		}
	case "timestamp+incrementing":
		if s.incCol == "" || s.tsCol == "" {
			return nil, &flow.KeyError{Key: JSrcMode, Value: m, Problem: "needs both incrementing.column.name and timestamp.column.name", Fix: "set both columns"}
		}
	default:
		return nil, &flow.KeyError{Key: JSrcMode, Value: m, Problem: "unsupported mode (bulk would re-read everything each poll)", Fix: "use incrementing, timestamp or timestamp+incrementing"}
	}
	s.tables = splitFields(c.String(JSrcTables) + "," + c.String(JSrcTablesInclude))
	if (len(s.tables) == 0) == (s.query == "") {
		return nil, &flow.KeyError{Key: JSrcTables, Problem: "give exactly one of table.whitelist and query", Fix: "list the tables to poll, or set query"}
	}
	if s.query != "" && s.prefix == "" {
		return nil, &flow.KeyError{Key: JSrcTopicPrefix, Problem: "with query, topic.prefix is the topic", Fix: "set topic.prefix"}
	}
	return s, nil
}

// Run implements flow.Source: poll every interval, emit new rows in
// order, store the offset after each emitted batch.
func (s *JDBCSource) Run(ctx context.Context, out flow.Emitter) error {
	db, err := sql.Open(s.d.driver, s.d.dsn)
	if err != nil {
		return fmt.Errorf("opening %s: %w", s.d.name, err)
	}
	defer db.Close()
	sources := s.tables
	if s.query != "" {
		sources = []string{""}
	}
	for {
		for _, table := range sources {
			for {
				n, err := s.pollOnce(ctx, db, table, out)
				if err != nil {
					return err
				}
				if n < s.batch {
					break
				}
			}
		}
		t := time.NewTimer(s.interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

func (s *JDBCSource) partition(table string) map[string]any {
	if table == "" {
		return map[string]any{"query": "query"}
	}
	return map[string]any{"table": table}
}

// noOffset marks "nothing read yet" for the incrementing column.
const noOffset = -1 << 62

// offset returns the stored (timestamp, incrementing) position.
func (s *JDBCSource) offset(ctx context.Context, table string) (ts string, inc int64, err error) {
	var m map[string]any
	if s.cfg.Offsets != nil {
		if m, err = s.cfg.Offsets.Get(ctx, s.partition(table)); err != nil {
			return "", 0, fmt.Errorf("reading the stored position of %s: %w", table, err)
		}
	} else {
		m = s.mem[table]
	}
	inc = noOffset
	if v, ok := m["incrementing"].(float64); ok {
		inc = int64(v)
	}
	if v, ok := m["incrementing"].(int64); ok {
		inc = v
	}
	ts, _ = m["timestamp"].(string)
	return ts, inc, nil
}

// pollOnce emits up to batch rows after the stored offset and returns how
// many it emitted.
func (s *JDBCSource) pollOnce(ctx context.Context, db *sql.DB, table string, out flow.Emitter) (int, error) {
	ts, inc, err := s.offset(ctx, table)
	if err != nil {
		return 0, err
	}
	from := "(" + s.query + ") AS q"
	if table != "" {
		from = quote(table)
	}
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return s.d.placeholder(len(args)) }
	var order []string
	if s.tsCol != "" {
		tsExpr := quote(s.tsCol)
		upper := ""
		if s.delay > 0 {
			upper = " AND " + tsExpr + " < " + arg(time.Now().Add(-s.delay).UTC().Format("2006-01-02 15:04:05.999999"))
		}
		if ts == "" {
			where = append(where, "1=1"+upper)
		} else if s.incCol != "" && inc != noOffset {
			where = append(where, "("+tsExpr+" > "+arg(ts)+" OR ("+tsExpr+" = "+arg(ts)+" AND "+quote(s.incCol)+" > "+arg(inc)+"))"+upper)
		} else {
			where = append(where, tsExpr+" > "+arg(ts)+upper)
		}
		order = append(order, tsExpr)
	} else if inc != noOffset {
		where = append(where, quote(s.incCol)+" > "+arg(inc))
	} else {
		where = append(where, "1=1")
	}
	if s.incCol != "" {
		order = append(order, quote(s.incCol))
	}
	q := "SELECT * FROM " + from + " WHERE " + strings.Join(where, " AND ") + " ORDER BY " + strings.Join(order, ", ") +
		fmt.Sprintf(" LIMIT %d", s.batch)
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil
		}
		return 0, fmt.Errorf("polling %s (%s): %w", orQuery(table), q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	topic := s.prefix + table
	var batch []flow.Event
	lastTS, lastInc := ts, inc
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return 0, fmt.Errorf("reading a row of %s: %w", orQuery(table), err)
		}
		rec := make(map[string]any, len(cols))
		for i, c := range cols {
			rec[c] = jsonValue(vals[i])
			if c == s.incCol {
				if n, ok := toInt64(vals[i]); ok {
					lastInc = n
				}
			}
			if c == s.tsCol {
				lastTS = tsString(vals[i])
			}
		}
		body, _ := json.Marshal(rec)
		e := flow.Event{Topic: topic, Body: body, Partition: -1, Offset: -1, Headers: flumeTopic(s.cfg, topic, nil)}
		if s.incCol != "" {
			e.Key = []byte(fmt.Sprint(rec[s.incCol]))
		}
		batch = append(batch, e)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("polling %s: %w", orQuery(table), err)
	}
	if len(batch) == 0 {
		return 0, nil
	}
	if err := out.Emit(ctx, batch); err != nil {
		return 0, fmt.Errorf("emitting %d rows of %s: %w", len(batch), orQuery(table), err)
	}
	off := map[string]any{}
	if s.incCol != "" {
		off["incrementing"] = lastInc
	}
	if s.tsCol != "" {
		off["timestamp"] = lastTS
	}
	if s.cfg.Offsets != nil {
		if err := s.cfg.Offsets.Put(ctx, s.partition(table), off); err != nil {
			return 0, fmt.Errorf("storing the position of %s: %w", orQuery(table), err)
		}
	} else {
		s.mem[table] = off
	}
	return len(batch), nil
}

func orQuery(table string) string {
	if table == "" {
		return "the query"
	}
	return "table " + table
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case int:
		return int64(x), true
	case float64:
		return int64(x), true
	case []byte:
		var n int64
		_, err := fmt.Sscan(string(x), &n)
		return n, err == nil
	case string:
		var n int64
		_, err := fmt.Sscan(x, &n)
		return n, err == nil
	}
	return 0, false
}

// tsString renders a timestamp column value so the database compares it
// back correctly as a parameter.
func tsString(v any) string {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05.999999")
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

// jsonValue makes a scanned value JSON-friendly.
func jsonValue(v any) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}
