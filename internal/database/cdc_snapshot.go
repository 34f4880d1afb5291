package database

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/runnel/runnel/internal/flow"
)

// tableName is a schema-qualified table.
type tableName struct{ schema, table string }

func (t tableName) quoted() string {
	return pgx.Identifier{t.schema, t.table}.Sanitize()
}

// tables lists the captured base tables, in name order.
func (s *CDC) tables(ctx context.Context, db *pgx.Conn) ([]tableName, error) {
	rows, err := db.Query(ctx, `SELECT table_schema, table_name FROM information_schema.tables
		WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	var out []tableName
	for rows.Next() {
		var t tableName
		if err := rows.Scan(&t.schema, &t.table); err != nil {
			return nil, fmt.Errorf("listing tables: %w", err)
		}
		if s.captured(t.schema, t.table) {
			out = append(out, t)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	return out, nil
}

// primaryKey returns the primary-key column names of the table with OID
// relID (empty for a table without one).
func primaryKey(ctx context.Context, db *pgx.Conn, relID uint32) (map[string]bool, error) {
	rows, err := db.Query(ctx, `SELECT a.attname FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		WHERE i.indrelid = $1 AND i.indisprimary`, relID)
	if err != nil {
		return nil, fmt.Errorf("reading the primary key of relation %d: %w", relID, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("reading the primary key of relation %d: %w", relID, err)
	}
	pk := map[string]bool{}
	for _, n := range names {
		pk[n] = true
	}
	return pk, nil
}

// runSnapshot reads every captured table inside the slot's exported
// snapshot and emits one read ("r") event per row: together with the stream
// from the slot's consistent point this is every row exactly once.
func (s *CDC) runSnapshot(ctx context.Context, db *pgx.Conn, snapshot string, at pglogrepl.LSN, out flow.Emitter) error {
	log := s.cfg.Log()
	if err := s.putOffset(ctx, offsetState{known: true, lsn: uint64(at), snapshotDone: false}); err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("starting the snapshot transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+snapshot+"'"); err != nil {
		return fmt.Errorf("importing snapshot %s: %w", snapshot, err)
	}
	tables, err := s.tables(ctx, db)
	if err != nil {
		return err
	}
	started := time.Now()
	total := 0
	var batch []flow.Event
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := out.Emit(ctx, batch); err != nil {
			return fmt.Errorf("emitting %d snapshot events: %w", len(batch), err)
		}
		batch = batch[:0]
		return nil
	}
	for ti, t := range tables {
		var relID uint32
		if err := tx.QueryRow(ctx, "SELECT $1::regclass::oid", t.quoted()).Scan(&relID); err != nil {
			return fmt.Errorf("looking up table %s: %w", t.quoted(), err)
		}
		pk, err := primaryKey(ctx, db, relID)
		if err != nil {
			return err
		}
		rr := db.PgConn().ExecParams(ctx, "SELECT * FROM "+t.quoted(), nil, nil, nil, nil)
		var rel *relation
		n := 0
		for rr.NextRow() {
			if rel == nil {
				rel = &relation{schema: t.schema, table: t.table, captured: true}
				for _, fd := range rr.FieldDescriptions() {
					rel.columns = append(rel.columns, column{name: fd.Name, oid: fd.DataTypeOID, key: pk[fd.Name]})
				}
				s.conv.buildSchemas(rel, s.prefix)
			}
			row := make(map[string]any, len(rel.columns))
			for i, v := range rr.Values() {
				if v == nil {
					row[rel.columns[i].name] = nil
					continue
				}
				cv, err := s.conv.value(rel.columns[i].oid, string(v))
				if err != nil {
					rr.Close()
					return fmt.Errorf("snapshot of %s, column %s: %w", t.quoted(), rel.columns[i].name, err)
				}
				row[rel.columns[i].name] = cv
			}
			c := change{rel: rel, op: "r", after: row, key: keyOf(rel, row), lsn: uint64(at), commitTime: time.Now(), snapshot: "true"}
			batch = append(batch, s.events(c)...)
			n++
			if len(batch) >= s.batch {
				if err := flush(); err != nil {
					rr.Close()
					return err
				}
			}
		}
		if _, err := rr.Close(); err != nil {
			return fmt.Errorf("snapshot of %s: %w", t.quoted(), err)
		}
		if ti == len(tables)-1 && len(batch) > 0 {
			// Debezium marks the snapshot's last record.
			last := batch[len(batch)-1]
			last.Body = []byte(replaceSnapshotFlag(string(last.Body)))
			batch[len(batch)-1] = last
		}
		total += n
		log.Info("snapshot of table done", "table", t.quoted(), "rows", n)
	}
	if err := flush(); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("ending the snapshot transaction: %w", err)
	}
	log.Info("snapshot done", "tables", len(tables), "rows", total, "took", time.Since(started).Round(time.Millisecond))
	return nil
}

// replaceSnapshotFlag turns "snapshot":"true" into "snapshot":"last" in an
// encoded event (the field appears once, in source).
func replaceSnapshotFlag(body string) string {
	const from, to = `"snapshot":"true"`, `"snapshot":"last"`
	for i := 0; i+len(from) <= len(body); i++ {
		if body[i:i+len(from)] == from {
			return body[:i] + to + body[i+len(from):]
		}
	}
	return body
}
