package database

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/runnel/runnel/internal/flow"
)

// PostgreSQL type OIDs the CDC source converts to typed JSON values; every
// other type is sent as its text form.
const (
	oidBool        = 16
	oidBytea       = 17
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidOID         = 26
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidNumeric     = 1700
	oidUUID        = 2950
	oidJSONB       = 3802
)

// unavailable is Debezium's placeholder for an unchanged TOASTed column the
// server did not send.
const unavailable = "__debezium_unavailable_value"

// column is one column of a captured table.
type column struct {
	name string
	oid  uint32
	key  bool
}

// relation is a captured table's shape.
type relation struct {
	schema, table string
	columns       []column
	captured      bool
	keySchema     json.RawMessage // JsonConverter schemas, built once
	valueSchema   json.RawMessage
}

func (r *relation) topic(prefix string) string { return prefix + "." + r.schema + "." + r.table }

// converter turns PostgreSQL text values into JSON values.
type converter struct {
	decimalDouble bool
	schemas       bool
}

// value converts one text-format value of type oid.
func (c converter) value(oid uint32, text string) (any, error) {
	switch oid {
	case oidBool:
		return text == "t", nil
	case oidInt2, oidInt4, oidInt8, oidOID:
		return strconv.ParseInt(text, 10, 64)
	case oidFloat4, oidFloat8:
		switch text {
		case "NaN", "Infinity", "-Infinity":
			return text, nil // not representable in JSON
		}
		return strconv.ParseFloat(text, 64)
	case oidNumeric:
		if c.decimalDouble {
			if f, err := strconv.ParseFloat(text, 64); err == nil {
				return f, nil
			}
		}
		return text, nil
	case oidBytea:
		b, err := decodeBytea(text)
		if err != nil {
			return nil, err
		}
		return base64.StdEncoding.EncodeToString(b), nil
	case oidDate:
		t, err := time.Parse("2006-01-02", text)
		if err != nil {
			return text, nil // infinity, BC dates
		}
		return t.Unix() / 86400, nil // io.debezium.time.Date: days since the epoch
	case oidTimestamp:
		t, err := time.Parse("2006-01-02 15:04:05.999999", text)
		if err != nil {
			return text, nil
		}
		return t.UnixMicro(), nil // io.debezium.time.MicroTimestamp
	case oidTimestamptz:
		t, err := time.Parse("2006-01-02 15:04:05.999999-07", text)
		if err != nil {
			if t, err = time.Parse("2006-01-02 15:04:05.999999-07:00", text); err != nil {
				return text, nil
			}
		}
		return t.UTC().Format(time.RFC3339Nano), nil // io.debezium.time.ZonedTimestamp
	}
	return text, nil
}

// fieldSchema is the Connect schema of a column of type oid.
func (c converter) fieldSchema(col column) map[string]any {
	f := map[string]any{"field": col.name, "optional": !col.key}
	switch col.oid {
	case oidBool:
		f["type"] = "boolean"
	case oidInt2:
		f["type"] = "int16"
	case oidInt4, oidOID:
		f["type"] = "int32"
	case oidInt8:
		f["type"] = "int64"
	case oidFloat4:
		f["type"] = "float"
	case oidFloat8:
		f["type"] = "double"
	case oidNumeric:
		f["type"] = "string"
		if c.decimalDouble {
			f["type"] = "double"
		}
	case oidBytea:
		f["type"] = "bytes"
	case oidDate:
		f["type"], f["name"], f["version"] = "int32", "io.debezium.time.Date", 1
	case oidTimestamp:
		f["type"], f["name"], f["version"] = "int64", "io.debezium.time.MicroTimestamp", 1
	case oidTimestamptz:
		f["type"], f["name"], f["version"] = "string", "io.debezium.time.ZonedTimestamp", 1
	case oidJSON, oidJSONB:
		f["type"], f["name"], f["version"] = "string", "io.debezium.data.Json", 1
	case oidUUID:
		f["type"], f["name"], f["version"] = "string", "io.debezium.data.Uuid", 1
	default:
		f["type"] = "string"
	}
	return f
}

// buildSchemas fills r's key and value envelope schemas.
func (c converter) buildSchemas(r *relation, prefix string) {
	if !c.schemas {
		return
	}
	name := r.topic(prefix)
	var keyFields, rowFields []any
	for _, col := range r.columns {
		rowFields = append(rowFields, c.fieldSchema(col))
		if col.key {
			keyFields = append(keyFields, c.fieldSchema(col))
		}
	}
	row := func(field string) map[string]any {
		return map[string]any{"type": "struct", "fields": rowFields, "optional": true, "name": name + ".Value", "field": field}
	}
	source := map[string]any{"type": "struct", "optional": false, "name": "io.debezium.connector.postgresql.Source", "field": "source",
		"fields": []any{
			map[string]any{"type": "string", "optional": false, "field": "version"},
			map[string]any{"type": "string", "optional": false, "field": "connector"},
			map[string]any{"type": "string", "optional": false, "field": "name"},
			map[string]any{"type": "int64", "optional": false, "field": "ts_ms"},
			map[string]any{"type": "string", "optional": true, "field": "snapshot"},
			map[string]any{"type": "string", "optional": false, "field": "db"},
			map[string]any{"type": "string", "optional": false, "field": "schema"},
			map[string]any{"type": "string", "optional": false, "field": "table"},
			map[string]any{"type": "int64", "optional": true, "field": "txId"},
			map[string]any{"type": "int64", "optional": true, "field": "lsn"},
		}}
	value := map[string]any{"type": "struct", "optional": false, "name": name + ".Envelope", "version": 1,
		"fields": []any{row("before"), row("after"), source,
			map[string]any{"type": "string", "optional": false, "field": "op"},
			map[string]any{"type": "int64", "optional": true, "field": "ts_ms"}}}
	r.valueSchema = mustJSON(value)
	if len(keyFields) > 0 {
		r.keySchema = mustJSON(map[string]any{"type": "struct", "optional": false, "name": name + ".Key", "fields": keyFields})
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("database: encoding a schema cannot fail: " + err.Error())
	}
	return b
}

// decodeBytea reads PostgreSQL's hex bytea output (\x0102...).
func decodeBytea(text string) ([]byte, error) {
	h, ok := strings.CutPrefix(text, `\x`)
	if !ok {
		return []byte(text), nil // escape format: keep as is
	}
	b := make([]byte, len(h)/2)
	for i := range b {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("decoding bytea: %w", err)
		}
		b[i] = byte(v)
	}
	return b, nil
}

// change is one row change ready to become an event.
type change struct {
	rel           *relation
	op            string // c u d r
	before, after map[string]any
	key           map[string]any
	lsn           uint64
	txID          uint32
	commitTime    time.Time
	snapshot      string // "true", "last" or "false"
}

// events turns c into its change event (and, for deletes with tombstones
// on, the tombstone that follows it).
func (s *CDC) events(c change) []flow.Event {
	var keyBytes []byte
	if c.key != nil {
		keyBytes = s.wrap(c.rel.keySchema, c.key)
	}
	var before, after any
	if c.before != nil {
		before = c.before
	}
	if c.after != nil {
		after = c.after
	}
	src := map[string]any{"version": "runnel", "connector": "postgresql", "name": s.prefix, "ts_ms": c.commitTime.UnixMilli(),
		"snapshot": c.snapshot, "db": s.cfg.String(CDCDBName), "schema": c.rel.schema, "table": c.rel.table,
		"txId": nil, "lsn": nil}
	if c.txID != 0 {
		src["txId"] = int64(c.txID)
	}
	if c.lsn != 0 {
		src["lsn"] = int64(c.lsn)
	}
	now := time.Now()
	value := map[string]any{"before": before, "after": after, "source": src, "op": c.op, "ts_ms": now.UnixMilli()}
	topic := c.rel.topic(s.prefix)
	hdr := flumeTopic(s.cfg, topic, map[string]string{"op": c.op})
	evs := []flow.Event{{Topic: topic, Key: keyBytes, Body: s.wrap(c.rel.valueSchema, value), Timestamp: c.commitTime, Headers: hdr}}
	if c.op == "d" && s.tombstone && keyBytes != nil {
		evs = append(evs, flow.Event{Topic: topic, Key: keyBytes, Body: nil, Timestamp: c.commitTime, Headers: flumeTopic(s.cfg, topic, nil)})
	}
	return evs
}

// wrap encodes v, inside the JsonConverter envelope when schemas are on.
func (s *CDC) wrap(schema json.RawMessage, v any) []byte {
	if s.conv.schemas && schema != nil {
		return mustJSON(map[string]any{"schema": schema, "payload": v})
	}
	return mustJSON(v)
}

// decoder holds the streaming state: relations seen, the open transaction
// and the events not yet emitted.
type decoder struct {
	src *CDC
	// pk looks up a relation's primary-key columns (the replica identity
	// flags mark every column under REPLICA IDENTITY FULL).
	pk        func(relID uint32) (map[string]bool, error)
	relations map[uint32]*relation
	inTx      bool
	xid       uint32
	commitAt  time.Time
	pending   []flow.Event
	emittedTx bool // the current transaction produced events
}

// handle decodes one pgoutput message at WAL position lsn. It returns the
// transaction's end LSN when the message is a commit, else 0.
func (d *decoder) handle(lsn pglogrepl.LSN, data []byte) (pglogrepl.LSN, error) {
	msg, err := parseMessage(data)
	if err != nil {
		return 0, err
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		r := &relation{schema: m.Namespace, table: m.RelationName, captured: d.src.captured(m.Namespace, m.RelationName)}
		var pk map[string]bool
		if d.pk != nil && r.captured {
			if pk, err = d.pk(m.RelationID); err != nil {
				return 0, err
			}
		}
		for _, c := range m.Columns {
			key := c.Flags&1 != 0
			if pk != nil {
				key = pk[c.Name]
			}
			r.columns = append(r.columns, column{name: c.Name, oid: c.DataType, key: key})
		}
		d.src.conv.buildSchemas(r, d.src.prefix)
		d.relations[m.RelationID] = r
	case *pglogrepl.BeginMessage:
		d.inTx, d.xid, d.commitAt = true, m.Xid, m.CommitTime
	case *pglogrepl.CommitMessage:
		d.inTx = false
		return m.TransactionEndLSN, nil
	case *pglogrepl.InsertMessage:
		return 0, d.row(m.RelationID, "c", lsn, nil, 0, m.Tuple)
	case *pglogrepl.UpdateMessage:
		return 0, d.row(m.RelationID, "u", lsn, m.OldTuple, m.OldTupleType, m.NewTuple)
	case *pglogrepl.DeleteMessage:
		return 0, d.row(m.RelationID, "d", lsn, m.OldTuple, m.OldTupleType, nil)
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			if r := d.relations[id]; r != nil && r.captured {
				d.src.cfg.Log().Warn("TRUNCATE is not emitted as change events", "table", r.schema+"."+r.table)
			}
		}
	}
	return 0, nil
}

// row builds the change event of one row message.
func (d *decoder) row(relID uint32, op string, lsn pglogrepl.LSN, old *pglogrepl.TupleData, oldType uint8, new *pglogrepl.TupleData) error {
	r := d.relations[relID]
	if r == nil {
		return fmt.Errorf("%w: change for relation %d before its relation message", errDecode, relID)
	}
	if !r.captured {
		return nil
	}
	c := change{rel: r, op: op, lsn: uint64(lsn), txID: d.xid, commitTime: d.commitAt, snapshot: "false"}
	var err error
	if new != nil {
		if c.after, err = d.src.tuple(r, new, false); err != nil {
			return err
		}
	}
	if old != nil {
		// 'K' carries only key columns (others null), 'O' the full row
		// (REPLICA IDENTITY FULL).
		if c.before, err = d.src.tuple(r, old, oldType == 'K'); err != nil {
			return err
		}
	}
	switch {
	case c.after != nil:
		c.key = keyOf(r, c.after)
	case c.before != nil:
		c.key = keyOf(r, c.before)
	}
	d.pending = append(d.pending, d.src.events(c)...)
	d.emittedTx = true
	return nil
}

// tuple converts a row's columns; keyOnly tuples leave non-key columns nil.
func (s *CDC) tuple(r *relation, t *pglogrepl.TupleData, keyOnly bool) (map[string]any, error) {
	if len(t.Columns) != len(r.columns) {
		return nil, fmt.Errorf("%w: table %s.%s has %d columns, the row %d", errDecode, r.schema, r.table, len(r.columns), len(t.Columns))
	}
	row := make(map[string]any, len(r.columns))
	for i, col := range t.Columns {
		rc := r.columns[i]
		switch col.DataType {
		case pglogrepl.TupleDataTypeNull:
			row[rc.name] = nil
		case pglogrepl.TupleDataTypeToast:
			row[rc.name] = unavailable
		case pglogrepl.TupleDataTypeText:
			v, err := s.conv.value(rc.oid, string(col.Data))
			if err != nil {
				return nil, fmt.Errorf("column %s.%s.%s: %w", r.schema, r.table, rc.name, err)
			}
			row[rc.name] = v
		default:
			return nil, fmt.Errorf("%w: column %s has tuple type %q", errDecode, rc.name, col.DataType)
		}
		if keyOnly && !rc.key {
			row[rc.name] = nil
		}
	}
	return row, nil
}

// keyOf returns the key columns of row, or nil for a table without a key.
func keyOf(r *relation, row map[string]any) map[string]any {
	var key map[string]any
	for _, c := range r.columns {
		if c.key {
			if key == nil {
				key = map[string]any{}
			}
			key[c.name] = row[c.name]
		}
	}
	return key
}
