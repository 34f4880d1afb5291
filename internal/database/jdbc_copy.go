package database

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/stdlib"
)

// copyMinRows is the smallest run written with COPY; shorter runs are one
// multi-row INSERT, which costs fewer round trips for them.
const copyMinRows = 16

// copies says whether run goes through PostgreSQL's COPY: inserts and
// upserts of enough rows (updates and deletes are statements).
func (s *JDBCSink) copies(run []*row) bool {
	return s.d.pg() && !run[0].delete && s.mode != "update" && len(run) >= copyMinRows
}

// copyRun writes one run with COPY ... FROM STDIN in CSV, inside the
// batch's transaction on conn. Inserts copy straight into the table;
// upserts copy into a temporary table dropped at commit and merge from it
// with INSERT ... ON CONFLICT, so a replay still changes nothing. The
// server parses the text into whatever the column types are, as psql's
// \copy does.
//
// s.mu is held (it numbers the staging tables).
func (s *JDBCSink) copyRun(ctx context.Context, conn *sql.Conn, tx *sql.Tx, run []*row) error {
	first := run[0]
	cols := make([]string, len(first.cols))
	for i, c := range first.cols {
		cols[i] = quote(c)
	}
	colList := strings.Join(cols, ", ")
	target := quote(first.table)
	upsert := s.mode == "upsert" && first.nkey > 0
	if upsert {
		s.stages++ // unique within the transaction
		stage := quote(fmt.Sprintf("runnel_stage_%d", s.stages))
		if _, err := tx.ExecContext(ctx, "CREATE TEMP TABLE "+stage+" ON COMMIT DROP AS SELECT "+colList+" FROM "+target+" WITH NO DATA"); err != nil {
			return fmt.Errorf("creating a staging table for table %s: %w", first.table, err)
		}
		target = stage
	}
	body := csvRows(run)
	stmt := "COPY " + target + " (" + colList + ") FROM STDIN WITH (FORMAT csv)"
	err := conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("COPY needs the pgx driver, have %T", dc)
		}
		_, err := c.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(body), stmt)
		return err
	})
	if err != nil {
		return fmt.Errorf("copying %d rows into table %s: %w", len(run), first.table, err)
	}
	if !upsert {
		return nil
	}
	merge := "INSERT INTO " + quote(first.table) + " (" + colList + ") SELECT " + colList + " FROM " + target +
		" ON CONFLICT (" + strings.Join(cols[:first.nkey], ", ") + ")"
	if len(cols) == first.nkey {
		merge += " DO NOTHING"
	} else {
		sets := make([]string, 0, len(cols)-first.nkey)
		for _, c := range cols[first.nkey:] {
			sets = append(sets, c+" = EXCLUDED."+c)
		}
		merge += " DO UPDATE SET " + strings.Join(sets, ", ")
	}
	if _, err := tx.ExecContext(ctx, merge); err != nil {
		return fmt.Errorf("merging %d rows into table %s: %w", len(run), first.table, err)
	}
	return nil
}

// csvRows renders rows as COPY's CSV: NULL is an empty unquoted field, every
// text value is quoted (so an empty string stays a string), bytes are bytea
// hex.
func csvRows(run []*row) []byte {
	var b []byte
	for _, r := range run {
		for i, v := range r.vals {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCSV(b, v)
		}
		b = append(b, '\n')
	}
	return b
}

func appendCSV(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return b
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(b, x)
	case []byte:
		b = append(b, `"\x`...)
		b = hex.AppendEncode(b, x)
		return append(b, '"')
	case string:
		b = append(b, '"')
		for i := 0; i < len(x); i++ {
			if x[i] == '"' {
				b = append(b, '"')
			}
			b = append(b, x[i])
		}
		return append(b, '"')
	}
	return appendCSV(b, fmt.Sprint(v))
}
