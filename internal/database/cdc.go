package database

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/runnel/runnel/internal/flow"
)

// CDC source config keys: Debezium's PostgreSQL connector names.
const (
	CDCHost            = "database.hostname"
	CDCPort            = "database.port"
	CDCUser            = "database.user"
	CDCPassword        = "database.password"
	CDCDBName          = "database.dbname"
	CDCTopicPrefix     = "topic.prefix"
	CDCTableInclude    = "table.include.list"
	CDCTableExclude    = "table.exclude.list"
	CDCSlotName        = "slot.name"
	CDCPublication     = "publication.name"
	CDCPublicationMode = "publication.autocreate.mode"
	CDCSnapshotMode    = "snapshot.mode"
	CDCPlugin          = "plugin.name"
	CDCDecimalMode     = "decimal.handling.mode"
	CDCTombstones      = "tombstones.on.delete"
	CDCBatchSize       = "max.batch.size"
	CDCStatusInterval  = "status.update.interval.ms"
	CDCSchemas         = "schemas.enable"
	CDCSlotDropOnStop  = "slot.drop.on.stop"
)

// CDCSpec documents the PostgreSQL change-data-capture source.
var CDCSpec = flow.Spec{
	Names: []string{"postgres-cdc", "io.debezium.connector.postgresql.PostgresConnector", "PostgresConnector", "runnel.source.postgres-cdc"},
	Summary: "streams every INSERT/UPDATE/DELETE of PostgreSQL tables in commit order (logical replication, pgoutput) " +
		"as Debezium-shaped change events, after a consistent snapshot",
	Keys: []flow.Key{
		{Name: CDCHost, Default: "127.0.0.1", Doc: "PostgreSQL host"},
		{Name: CDCPort, Type: flow.Int, Default: "5432", Min: 1, Max: 65535, Doc: "PostgreSQL port"},
		{Name: CDCUser, Required: true, Doc: "user with the REPLICATION attribute (and SELECT on the tables)"},
		{Name: CDCPassword, Doc: "password"},
		{Name: CDCDBName, Required: true, Doc: "database to capture"},
		{Name: CDCTopicPrefix, Required: true, Doc: "topics are <topic.prefix>.<schema>.<table>"},
		{Name: CDCTableInclude, Doc: "comma-separated regular expressions matched against schema.table (default: every table)"},
		{Name: CDCTableExclude, Doc: "comma-separated regular expressions of schema.table to leave out"},
		{Name: CDCSlotName, Default: "debezium", Doc: "logical replication slot, created when missing"},
		{Name: CDCPublication, Default: "dbz_publication", Doc: "publication, created when missing"},
		{Name: CDCPublicationMode, Default: "all_tables", Doc: "all_tables | filtered (only the included tables) | disabled (the publication must exist)"},
		{Name: CDCSnapshotMode, Default: "initial", Doc: "initial (snapshot the tables when the slot is created) | never / no_data (changes only)"},
		{Name: CDCPlugin, Default: "pgoutput", Doc: "logical decoding plugin; only pgoutput"},
		{Name: CDCDecimalMode, Default: "string", Doc: "numeric columns as string | double"},
		{Name: CDCTombstones, Type: flow.Bool, Default: "true", Doc: "after a delete event, emit a tombstone (nil value) with the same key for log compaction"},
		{Name: CDCBatchSize, Type: flow.Int, Default: "2048", Min: 1, Max: 1 << 20, Doc: "most events per emitted batch (a larger transaction is emitted in several batches)"},
		{Name: CDCStatusInterval, Type: flow.Int, Default: "10000", Min: 10, Max: 1 << 31, Doc: "ms between status updates (confirmed LSN) sent to the server"},
		{Name: CDCSchemas, Type: flow.Bool, Default: "false", Doc: "wrap keys and values in Kafka Connect's JsonConverter envelope with their schema"},
		{Name: CDCSlotDropOnStop, Type: flow.Bool, Default: "false", Doc: "drop the slot when the source stops (tests; loses the position)"},
	},
}

func init() {
	flow.RegisterSource(CDCSpec, func(c flow.Config) (flow.Source, error) { return NewCDC(c) })
}

// CDC is the PostgreSQL change-data-capture source.
type CDC struct {
	cfg       flow.Config
	prefix    string
	slot, pub string
	pubMode   string
	snapshot  bool
	include   []*regexp.Regexp
	exclude   []*regexp.Regexp
	batch     int
	interval  time.Duration
	conv      converter
	tombstone bool
	dropSlot  bool
}

var identRe = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// NewCDC validates c and returns the source; nothing connects until Run.
func NewCDC(c flow.Config) (*CDC, error) {
	s := &CDC{cfg: c, prefix: c.String(CDCTopicPrefix), slot: c.String(CDCSlotName), pub: c.String(CDCPublication),
		pubMode: c.String(CDCPublicationMode), batch: int(c.Int(CDCBatchSize)),
		interval: time.Duration(c.Int(CDCStatusInterval)) * time.Millisecond, tombstone: c.Bool(CDCTombstones),
		dropSlot: c.Bool(CDCSlotDropOnStop)}
	for _, k := range []string{CDCSlotName, CDCPublication} {
		if v := c.String(k); !identRe.MatchString(v) {
			return nil, &flow.KeyError{Key: k, Value: v, Problem: "not a plain lower-case PostgreSQL identifier", Fix: "use letters, digits and _ only, starting with a letter or _"}
		}
	}
	switch m := c.String(CDCSnapshotMode); m {
	case "initial":
		s.snapshot = true
	case "never", "no_data":
	default:
		return nil, &flow.KeyError{Key: CDCSnapshotMode, Value: m, Problem: "unsupported snapshot mode", Fix: "use initial, never or no_data"}
	}
	switch s.pubMode {
	case "all_tables", "filtered", "disabled":
	default:
		return nil, &flow.KeyError{Key: CDCPublicationMode, Value: s.pubMode, Problem: "unknown mode", Fix: "use all_tables, filtered or disabled"}
	}
	if p := c.String(CDCPlugin); p != "pgoutput" {
		return nil, &flow.KeyError{Key: CDCPlugin, Value: p, Problem: "only the built-in pgoutput plugin is supported", Fix: "set plugin.name=pgoutput (needs no server extension)"}
	}
	switch m := c.String(CDCDecimalMode); m {
	case "string", "double":
		s.conv.decimalDouble = m == "double"
	default:
		return nil, &flow.KeyError{Key: CDCDecimalMode, Value: m, Problem: "unsupported decimal mode (precise would need Connect's Decimal bytes)", Fix: "use string or double"}
	}
	s.conv.schemas = c.Bool(CDCSchemas)
	var err error
	if s.include, err = regexList(CDCTableInclude, c.String(CDCTableInclude)); err != nil {
		return nil, err
	}
	if s.exclude, err = regexList(CDCTableExclude, c.String(CDCTableExclude)); err != nil {
		return nil, err
	}
	return s, nil
}

func regexList(key, v string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		re, err := regexp.Compile("^(?:" + p + ")$")
		if err != nil {
			return nil, &flow.KeyError{Key: key, Value: v, Problem: fmt.Sprintf("bad regular expression %q: %v", p, err), Fix: "give comma-separated regular expressions such as public\\.orders"}
		}
		out = append(out, re)
	}
	return out, nil
}

// captured reports whether schema.table is selected by the include and
// exclude lists.
func (s *CDC) captured(schema, table string) bool {
	name := schema + "." + table
	ok := len(s.include) == 0
	for _, re := range s.include {
		ok = ok || re.MatchString(name)
	}
	for _, re := range s.exclude {
		ok = ok && !re.MatchString(name)
	}
	return ok
}

// connString is the libpq URL for the configured database; replication adds
// replication=database.
func (s *CDC) connString(replication bool) string {
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(s.cfg.String(CDCHost), strconv.FormatInt(s.cfg.Int(CDCPort), 10)),
		Path: "/" + s.cfg.String(CDCDBName)}
	if p, ok := s.cfg.Raw(CDCPassword); ok {
		u.User = url.UserPassword(s.cfg.String(CDCUser), p)
	} else {
		u.User = url.User(s.cfg.String(CDCUser))
	}
	q := url.Values{"application_name": {"runnel-cdc-" + s.slot}, "connect_timeout": {"10"}}
	if replication {
		q.Set("replication", "database")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// offsetPartition is the source partition under which the position is kept
// in a Connect OffsetStore (Debezium uses the server name the same way).
func (s *CDC) offsetPartition() map[string]any { return map[string]any{"server": s.prefix} }

// Run implements flow.Source: connect, create the publication and slot
// when missing (snapshotting the tables if the slot is new and
// snapshot.mode=initial), then stream changes until ctx is done. The
// slot's confirmed LSN advances only after Emit returned nil for every
// change up to it, so a restart resumes without loss.
func (s *CDC) Run(ctx context.Context, out flow.Emitter) error {
	log := s.cfg.Log()
	db, err := pgx.Connect(ctx, s.connString(false))
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL %s:%d database %s: %w", s.cfg.String(CDCHost), s.cfg.Int(CDCPort), s.cfg.String(CDCDBName), err)
	}
	defer db.Close(context.WithoutCancel(ctx))
	var level string
	if err := db.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil {
		return fmt.Errorf("reading the server's wal_level: %w", err)
	}
	if err := checkWALLevel(level); err != nil {
		return err
	}
	if err := s.ensurePublication(ctx, db); err != nil {
		return err
	}
	repl, err := pgconn.Connect(ctx, s.connString(true))
	if err != nil {
		return fmt.Errorf("opening a replication connection (the user needs the REPLICATION attribute): %w", err)
	}
	defer repl.Close(context.WithoutCancel(ctx))
	if s.dropSlot {
		defer func() {
			// The replication connection is busy streaming; drop through
			// the regular one once it is closed.
			repl.Close(context.WithoutCancel(ctx))
			_, err := db.Exec(context.WithoutCancel(ctx), "SELECT pg_drop_replication_slot($1)", s.slot)
			if err != nil {
				log.Warn("dropping replication slot", "slot", s.slot, "err", err)
			}
		}()
	}

	st, err := s.loadOffset(ctx)
	if err != nil {
		return err
	}
	var exists bool
	if err := db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)", s.slot).Scan(&exists); err != nil {
		return fmt.Errorf("looking up replication slot %s: %w", s.slot, err)
	}
	if exists && s.snapshot && st.known && !st.snapshotDone {
		// A snapshot was cut short: its slot's start point is no longer
		// consistent with what was emitted, so begin again.
		log.Warn("previous snapshot did not complete; dropping the slot and snapshotting again", "slot", s.slot)
		if _, err := db.Exec(ctx, "SELECT pg_drop_replication_slot($1)", s.slot); err != nil {
			return fmt.Errorf("dropping unfinished slot %s: %w", s.slot, err)
		}
		exists = false
	}
	start := pglogrepl.LSN(st.lsn)
	if !exists {
		res, err := pglogrepl.CreateReplicationSlot(ctx, repl, s.slot, "pgoutput",
			pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "EXPORT_SNAPSHOT"})
		if err != nil {
			return fmt.Errorf("creating replication slot %s: %w", s.slot, err)
		}
		consistent, err := pglogrepl.ParseLSN(res.ConsistentPoint)
		if err != nil {
			return fmt.Errorf("reading the slot's consistent point %q: %w", res.ConsistentPoint, err)
		}
		log.Info("created replication slot", "slot", s.slot, "consistent_point", consistent)
		if s.snapshot {
			if err := s.runSnapshot(ctx, db, res.SnapshotName, consistent, out); err != nil {
				return err
			}
		}
		start = consistent
		if err := s.putOffset(ctx, offsetState{lsn: uint64(consistent), snapshotDone: true, known: true}); err != nil {
			return err
		}
	}
	pk := func(relID uint32) (map[string]bool, error) { return primaryKey(ctx, db, relID) }
	return s.stream(ctx, repl, start, pk, out)
}

// checkWALLevel says what to change when the server cannot decode its WAL
// logically (PostgreSQL's own error only comes when the slot is created).
func checkWALLevel(level string) error {
	if level == "logical" {
		return nil
	}
	return fmt.Errorf("PostgreSQL has wal_level=%s; change data capture needs wal_level=logical "+
		"(ALTER SYSTEM SET wal_level = logical, or set it in postgresql.conf, then restart the server)", level)
}

// ensurePublication creates the publication unless it exists or the mode is
// disabled.
func (s *CDC) ensurePublication(ctx context.Context, db *pgx.Conn) error {
	var exists bool
	if err := db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", s.pub).Scan(&exists); err != nil {
		return fmt.Errorf("looking up publication %s: %w", s.pub, err)
	}
	if exists {
		return nil
	}
	var stmt string
	switch s.pubMode {
	case "disabled":
		return fmt.Errorf("publication %s does not exist and %s=disabled: create it (CREATE PUBLICATION %s FOR TABLE ...) or set %s=all_tables",
			s.pub, CDCPublicationMode, s.pub, CDCPublicationMode)
	case "all_tables":
		stmt = "CREATE PUBLICATION " + s.pub + " FOR ALL TABLES"
	default:
		tables, err := s.tables(ctx, db)
		if err != nil {
			return err
		}
		if len(tables) == 0 {
			return fmt.Errorf("no table matches %s; cannot create a filtered publication", CDCTableInclude)
		}
		names := make([]string, len(tables))
		for i, t := range tables {
			names[i] = t.quoted()
		}
		stmt = "CREATE PUBLICATION " + s.pub + " FOR TABLE " + strings.Join(names, ", ")
	}
	if _, err := db.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("creating publication (%s): %w", stmt, err)
	}
	s.cfg.Log().Info("created publication", "statement", stmt)
	return nil
}

// offsetState is the stored position.
type offsetState struct {
	known        bool
	lsn          uint64
	snapshotDone bool
}

func (s *CDC) loadOffset(ctx context.Context) (offsetState, error) {
	if s.cfg.Offsets == nil {
		return offsetState{}, nil
	}
	m, err := s.cfg.Offsets.Get(ctx, s.offsetPartition())
	if err != nil {
		return offsetState{}, fmt.Errorf("reading the stored CDC position: %w", err)
	}
	if m == nil {
		return offsetState{}, nil
	}
	st := offsetState{known: true}
	switch v := m["lsn"].(type) {
	case float64:
		st.lsn = uint64(v)
	case int64:
		st.lsn = uint64(v)
	case string:
		l, err := pglogrepl.ParseLSN(v)
		if err == nil {
			st.lsn = uint64(l)
		}
	}
	st.snapshotDone, _ = m["snapshot_completed"].(bool)
	return st, nil
}

func (s *CDC) putOffset(ctx context.Context, st offsetState) error {
	if s.cfg.Offsets == nil {
		return nil
	}
	err := s.cfg.Offsets.Put(ctx, s.offsetPartition(), map[string]any{
		"lsn": int64(st.lsn), "lsn_text": pglogrepl.LSN(st.lsn).String(), "snapshot_completed": st.snapshotDone})
	if err != nil {
		return fmt.Errorf("storing the CDC position: %w", err)
	}
	return nil
}

// stream runs the replication protocol from start until ctx is done.
func (s *CDC) stream(ctx context.Context, repl *pgconn.PgConn, start pglogrepl.LSN, pk func(uint32) (map[string]bool, error), out flow.Emitter) error {
	log := s.cfg.Log()
	err := pglogrepl.StartReplication(ctx, repl, s.slot, start, pglogrepl.StartReplicationOptions{
		Mode: pglogrepl.LogicalReplication, PluginArgs: []string{"proto_version '1'", "publication_names '" + s.pub + "'"}})
	if err != nil {
		return fmt.Errorf("starting replication from slot %s at %s: %w", s.slot, start, err)
	}
	log.Info("streaming changes", "slot", s.slot, "publication", s.pub, "from", start)
	d := &decoder{src: s, pk: pk, relations: map[uint32]*relation{}}
	confirmed := start
	sendStatus := func() error {
		err := pglogrepl.SendStandbyStatusUpdate(ctx, repl, pglogrepl.StandbyStatusUpdate{WALWritePosition: confirmed})
		if err != nil {
			return fmt.Errorf("sending the confirmed position %s to the server: %w", confirmed, err)
		}
		return nil
	}
	nextStatus := time.Now().Add(s.interval)
	for {
		if time.Now().After(nextStatus) {
			if err := sendStatus(); err != nil {
				return err
			}
			nextStatus = time.Now().Add(s.interval)
		}
		rctx, cancel := context.WithDeadline(ctx, nextStatus)
		msg, err := repl.ReceiveMessage(rctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if pgconn.Timeout(err) {
				continue
			}
			return fmt.Errorf("receiving from the replication stream: %w", err)
		}
		var data []byte
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			data = m.Data
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("replication stream: %w", pgconn.ErrorResponseToPgError(m))
		default:
			continue
		}
		if len(data) == 0 {
			continue
		}
		switch data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
			if err != nil {
				return fmt.Errorf("decoding a keepalive: %w", err)
			}
			// Between transactions everything up to the server's WAL end
			// has been emitted; confirming it lets the server recycle WAL
			// that held no captured change.
			if !d.inTx && len(d.pending) == 0 && ka.ServerWALEnd > confirmed {
				confirmed = ka.ServerWALEnd
			}
			if ka.ReplyRequested {
				if err := sendStatus(); err != nil {
					return err
				}
				nextStatus = time.Now().Add(s.interval)
			}
		case pglogrepl.XLogDataByteID:
			x, err := pglogrepl.ParseXLogData(data[1:])
			if err != nil {
				return fmt.Errorf("decoding XLogData: %w", err)
			}
			commit, err := d.handle(x.WALStart, x.WALData)
			if err != nil {
				return err
			}
			if len(d.pending) >= s.batch || (commit != 0 && len(d.pending) > 0) {
				if err := out.Emit(ctx, d.pending); err != nil {
					return fmt.Errorf("emitting %d change events: %w", len(d.pending), err)
				}
				d.pending = d.pending[:0]
			}
			if commit != 0 && len(d.pending) == 0 {
				confirmed = commit
				if err := s.putOffset(ctx, offsetState{known: true, lsn: uint64(commit), snapshotDone: true}); err != nil {
					return err
				}
				if d.emittedTx {
					// Tell the server right away so its slot reflects
					// what is durable downstream.
					if err := sendStatus(); err != nil {
						return err
					}
					nextStatus = time.Now().Add(s.interval)
				}
				d.emittedTx = false
			}
		}
	}
}

// errDecode wraps malformed replication messages.
var errDecode = errors.New("malformed logical replication message")

// parseMessage is pglogrepl.Parse made safe against malformed input (it
// indexes without bounds checks).
func parseMessage(data []byte) (m pglogrepl.Message, err error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", errDecode)
	}
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("%w: type %q: %v", errDecode, data[0], r)
		}
	}()
	return pglogrepl.Parse(data)
}
