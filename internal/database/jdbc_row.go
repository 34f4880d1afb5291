package database

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/runnel/runnel/internal/flow"
)

// colType is a column's SQL type family.
type colType int

const (
	tText colType = iota
	tInt
	tFloat
	tBool
	tBytes
)

func (t colType) sql(d dialect) string {
	switch t {
	case tInt:
		if d.pg() {
			return "BIGINT"
		}
		return "INTEGER"
	case tFloat:
		if d.pg() {
			return "DOUBLE PRECISION"
		}
		return "REAL"
	case tBool:
		return "BOOLEAN"
	case tBytes:
		if d.pg() {
			return "BYTEA"
		}
		return "BLOB"
	}
	return "TEXT"
}

// row is one record ready for SQL.
type row struct {
	index  int
	table  string
	delete bool
	cols   []string // key columns first, then the rest by name
	vals   []any
	types  []colType
	nkey   int // how many of cols are the primary key
}

func (r *row) keyString() string {
	b, _ := json.Marshal(r.vals[:r.nkey])
	return string(b)
}

// field is one decoded record field.
type field struct {
	val any
	typ colType
}

// decodeRecord reads a JSON object, with or without the JsonConverter
// envelope, into fields; ok is false when b is not a JSON object (a plain
// string value). Only the top level is decoded into a map of raw values;
// scalars are then read directly, nested objects and arrays are kept as
// their (compacted) JSON text.
func decodeRecord(b []byte) (map[string]field, bool, error) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '{' {
		return nil, false, nil
	}
	m := map[string][]byte{}
	if !scanObject(t, func(k string, raw []byte) { m[k] = raw }) {
		return nil, false, nil // not JSON: a plain string
	}
	var schema struct {
		Fields []struct {
			Field string `json:"field"`
			Type  string `json:"type"`
		} `json:"fields"`
	}
	hasSchema := false
	if s, hasS := m["schema"]; hasS && len(m) == 2 {
		if p, hasP := m["payload"]; hasP {
			pm := map[string][]byte{}
			if !scanObject(p, func(k string, raw []byte) { pm[k] = raw }) {
				return nil, false, nil // an envelope of a non-struct value
			}
			hasSchema = json.Unmarshal(s, &schema) == nil
			m = pm
		}
	}
	types := map[string]colType{}
	if hasSchema {
		for _, f := range schema.Fields {
			switch f.Type {
			case "int8", "int16", "int32", "int64":
				types[f.Field] = tInt
			case "float", "double":
				types[f.Field] = tFloat
			case "boolean":
				types[f.Field] = tBool
			case "bytes":
				types[f.Field] = tBytes
			default:
				types[f.Field] = tText
			}
		}
	}
	out := make(map[string]field, len(m))
	for k, raw := range m {
		f, err := rawField(raw)
		if err != nil {
			return nil, false, fmt.Errorf("field %q: %w", k, err)
		}
		if t, ok := types[k]; ok {
			f.typ = t
			if t == tBytes {
				if s, ok := f.val.(string); ok {
					raw, err := base64.StdEncoding.DecodeString(s)
					if err != nil {
						return nil, false, fmt.Errorf("field %q: bytes value is not base64: %w", k, err)
					}
					f.val = raw
				}
			}
		}
		out[k] = f
	}
	return out, true, nil
}

// rawField converts one JSON value (already validated by scanObject).
func rawField(raw []byte) (field, error) {
	if len(raw) == 0 {
		return field{typ: tText}, nil
	}
	switch c := raw[0]; {
	case c == 'n':
		return field{val: nil, typ: tText}, nil
	case c == 't' || c == 'f':
		return field{val: c == 't', typ: tBool}, nil
	case c == '"':
		s, _ := unquote(raw)
		return field{val: s, typ: tText}, nil
	case c == '-' || c >= '0' && c <= '9':
		return toField(json.Number(raw))
	default: // objects and arrays are stored as JSON text
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return field{}, err
		}
		return field{val: buf.String(), typ: tText}, nil
	}
}

// toField converts a decoded JSON value.
func toField(v any) (field, error) {
	switch x := v.(type) {
	case nil:
		return field{val: nil, typ: tText}, nil
	case bool:
		return field{val: x, typ: tBool}, nil
	case string:
		return field{val: x, typ: tText}, nil
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return field{val: n, typ: tInt}, nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return field{}, fmt.Errorf("number %s out of range", x)
		}
		return field{val: f, typ: tFloat}, nil
	default: // objects and arrays are stored as JSON text
		b, err := json.Marshal(x)
		if err != nil {
			return field{}, err
		}
		return field{val: string(b), typ: tText}, nil
	}
}

// toRow turns an event into a row, nil when the event writes nothing (a
// tombstone with deletes off).
func (s *JDBCSink) toRow(e flow.Event) (*row, error) {
	topic := e.Topic
	if topic == "" { // a Flume event: its topic header, if any
		topic = e.Headers["topic"]
	}
	table := strings.ReplaceAll(s.tableFormat, "${topic}", topic)
	if table == "" {
		return nil, fmt.Errorf("table.name.format %q gives an empty table name for topic %q", s.tableFormat, topic)
	}
	r := &row{table: table}
	key := map[string]field{}
	switch s.pkMode {
	case "kafka":
		key[s.pkFields[0]] = field{val: e.Topic, typ: tText}
		key[s.pkFields[1]] = field{val: int64(e.Partition), typ: tInt}
		key[s.pkFields[2]] = field{val: e.Offset, typ: tInt}
	case "record_key":
		if e.Key == nil {
			return nil, fmt.Errorf("record has no key, but pk.mode=record_key")
		}
		kf, obj, err := decodeRecord(e.Key)
		if err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
		if !obj {
			name := "__connect_key"
			if len(s.pkFields) > 0 {
				name = s.pkFields[0]
			}
			var v any
			if err := json.Unmarshal(e.Key, &v); err == nil && v != nil {
				f, _ := toField(normalizeNumber(e.Key, v))
				key[name] = f
			} else {
				key[name] = field{val: string(e.Key), typ: tText}
			}
		} else {
			for k, f := range kf {
				if len(s.pkFields) == 0 || slices.Contains(s.pkFields, k) {
					key[k] = f
				}
			}
			for _, k := range s.pkFields {
				if _, ok := key[k]; !ok {
					return nil, fmt.Errorf("column %q: primary-key field missing from the record key", k)
				}
			}
		}
	}
	if e.Body == nil {
		if !s.deletes {
			return nil, nil
		}
		r.delete = true
		r.addFields(key, nil)
		r.nkey = len(r.cols)
		return r, nil
	}
	val, obj, err := decodeRecord(e.Body)
	if err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	if !obj {
		val = map[string]field{s.valueColumn: {val: string(e.Body), typ: tText}}
	}
	if s.fields != nil {
		for k := range val {
			if !s.fields[k] && !slices.Contains(s.pkFields, k) {
				delete(val, k)
			}
		}
	}
	if s.pkMode == "record_value" {
		for _, k := range s.pkFields {
			f, ok := val[k]
			if !ok || f.val == nil {
				return nil, fmt.Errorf("column %q: primary-key field missing or null in the record value", k)
			}
			key[k] = f
			delete(val, k)
		}
	}
	for k := range key {
		delete(val, k)
	}
	r.addFields(key, val)
	r.nkey = len(key)
	return r, nil
}

// normalizeNumber re-reads a JSON number key as json.Number.
func normalizeNumber(raw []byte, v any) any {
	if _, ok := v.(float64); ok {
		return json.Number(strings.TrimSpace(string(raw)))
	}
	return v
}

// addFields appends key fields (in pk.fields order when given, else by
// name), then value fields by name.
func (r *row) addFields(key, val map[string]field) {
	n := len(key) + len(val)
	r.cols = make([]string, 0, n)
	r.vals = make([]any, 0, n)
	r.types = make([]colType, 0, n)
	add := func(m map[string]field) {
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			r.cols = append(r.cols, k)
			r.vals = append(r.vals, m[k].val)
			r.types = append(r.types, m[k].typ)
		}
	}
	add(key)
	add(val)
}

// tableInfo is what the sink knows of a table.
type tableInfo struct {
	cols map[string]bool
}

func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// columns reads a table's column names (none: the table does not exist).
func (s *JDBCSink) columns(ctx context.Context, db *sql.DB, table string) (map[string]bool, error) {
	var rows *sql.Rows
	var err error
	if s.d.pg() {
		rows, err = db.QueryContext(ctx, `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`, table)
	} else {
		rows, err = db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, table)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the columns of table %s: %w", table, err)
	}
	defer rows.Close()
	cols := map[string]bool{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols[c] = true
	}
	return cols, rows.Err()
}

// ensureTable creates the table or adds columns as auto.create and
// auto.evolve allow, or says what is missing.
func (s *JDBCSink) ensureTable(ctx context.Context, db *sql.DB, r *row) error {
	ti := s.tables[r.table]
	if ti == nil {
		cols, err := s.columns(ctx, db, r.table)
		if err != nil {
			return err
		}
		if len(cols) == 0 {
			if !s.autoCreate {
				return fmt.Errorf("table %s does not exist; create it or set auto.create=true", r.table)
			}
			var defs []string
			for i, c := range r.cols {
				def := quote(c) + " " + r.types[i].sql(s.d)
				if i < r.nkey {
					def += " NOT NULL"
				}
				defs = append(defs, def)
			}
			if r.nkey > 0 {
				var pk []string
				for _, c := range r.cols[:r.nkey] {
					pk = append(pk, quote(c))
				}
				defs = append(defs, "PRIMARY KEY ("+strings.Join(pk, ", ")+")")
			}
			stmt := "CREATE TABLE IF NOT EXISTS " + quote(r.table) + " (" + strings.Join(defs, ", ") + ")"
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("creating table (%s): %w", stmt, err)
			}
			s.cfg.Log().Info("created table", "table", r.table, "statement", stmt)
			if cols, err = s.columns(ctx, db, r.table); err != nil {
				return err
			}
		}
		ti = &tableInfo{cols: cols}
		s.tables[r.table] = ti
	}
	for i, c := range r.cols {
		if ti.cols[c] {
			continue
		}
		if r.delete {
			return fmt.Errorf("column %q: table %s has no such key column", c, r.table)
		}
		if !s.autoEvolve {
			return fmt.Errorf("column %q: table %s has no such column; add it or set auto.evolve=true", c, r.table)
		}
		stmt := "ALTER TABLE " + quote(r.table) + " ADD COLUMN " + quote(c) + " " + r.types[i].sql(s.d)
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("adding a column (%s): %w", stmt, err)
		}
		s.cfg.Log().Info("added column", "table", r.table, "column", c)
		ti.cols[c] = true
	}
	return nil
}

// execRun writes one run (same table, operation and columns).
func (s *JDBCSink) execRun(ctx context.Context, tx *sql.Tx, run []*row) error {
	first := run[0]
	if s.mode == "update" && !first.delete {
		for _, r := range run {
			var sets []string
			var args []any
			for i := r.nkey; i < len(r.cols); i++ {
				args = append(args, r.vals[i])
				sets = append(sets, quote(r.cols[i])+" = "+s.d.placeholder(len(args)))
			}
			if len(sets) == 0 {
				continue
			}
			var where []string
			for i := 0; i < r.nkey; i++ {
				args = append(args, r.vals[i])
				where = append(where, quote(r.cols[i])+" = "+s.d.placeholder(len(args)))
			}
			stmt := "UPDATE " + quote(r.table) + " SET " + strings.Join(sets, ", ") + " WHERE " + strings.Join(where, " AND ")
			if _, err := tx.ExecContext(ctx, stmt, args...); err != nil {
				return err
			}
		}
		return nil
	}
	per := max(1, s.d.maxParams()/max(1, len(first.cols)))
	for start := 0; start < len(run); start += per {
		chunk := run[start:min(len(run), start+per)]
		var stmt string
		var args []any
		if first.delete {
			var ors []string
			for _, r := range chunk {
				var ands []string
				for i := 0; i < r.nkey; i++ {
					args = append(args, r.vals[i])
					ands = append(ands, quote(r.cols[i])+" = "+s.d.placeholder(len(args)))
				}
				ors = append(ors, "("+strings.Join(ands, " AND ")+")")
			}
			stmt = "DELETE FROM " + quote(first.table) + " WHERE " + strings.Join(ors, " OR ")
		} else {
			cols := make([]string, len(first.cols))
			for i, c := range first.cols {
				cols[i] = quote(c)
			}
			var tuples []string
			for _, r := range chunk {
				ph := make([]string, len(r.vals))
				for i, v := range r.vals {
					args = append(args, v)
					ph[i] = s.d.placeholder(len(args))
				}
				tuples = append(tuples, "("+strings.Join(ph, ", ")+")")
			}
			stmt = "INSERT INTO " + quote(first.table) + " (" + strings.Join(cols, ", ") + ") VALUES " + strings.Join(tuples, ", ")
			if s.mode == "upsert" && first.nkey > 0 {
				var sets []string
				for _, c := range cols[first.nkey:] {
					sets = append(sets, c+" = EXCLUDED."+c)
				}
				stmt += " ON CONFLICT (" + strings.Join(cols[:first.nkey], ", ") + ")"
				if len(sets) == 0 {
					stmt += " DO NOTHING"
				} else {
					stmt += " DO UPDATE SET " + strings.Join(sets, ", ")
				}
			}
		}
		if _, err := tx.ExecContext(ctx, stmt, args...); err != nil {
			return err
		}
	}
	return nil
}
