package commitlog

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/fsutil"
)

// TestSyncFailureRollsBack drives one idempotent producer through a script
// of appends, flushes and fdatasync failures and checks that nothing whose
// sync failed is acknowledged, now or as a duplicate later, and that the
// log, live and reopened, holds exactly what a model of "rolled back to
// the last successful sync" predicts.
//
// Script letters: D durable append (fails while the fault is on), N
// non-durable append, F Flush, ! fdatasync of .log files starts failing
// with the given errno, . the fault clears.
func TestSyncFailureRollsBack(t *testing.T) {
	cases := []struct {
		name     string
		script   string
		segBytes int64
		errno    syscall.Errno
	}{
		{"durable append fails then succeeds", "D!D.D", 0, syscall.EIO},
		{"retries while failing are refused", "DD!DDD.DD", 0, syscall.ENOSPC},
		{"rollback on an empty log", "!D.D", 0, syscall.EIO},
		{"unsynced non-durable appends are rolled back", "DNN!D.DN", 0, syscall.EIO},
		{"non-durable appends while failing are rolled back", "D!NND.D", 0, syscall.EIO},
		{"failed flush rolls back", "DNN!F.FD", 0, syscall.ENOSPC},
		{"failed sync while rolling a segment", "DDD!DD.DDDD", 300, syscall.ENOSPC},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ffs := fsutil.NewFaultFS(nil)
			var failing atomic.Bool
			ffs.Inject(func(op fsutil.Op, path string) error {
				if failing.Load() && op == fsutil.OpSync && strings.HasSuffix(path, logSuffix) {
					return tc.errno
				}
				return nil
			})
			cfg := DefaultConfig()
			cfg.IndexIntervalBytes = 1 // an index entry per batch, so rollbacks cut entries
			if tc.segBytes > 0 {
				cfg.SegmentBytes = tc.segBytes
			}
			dir := t.TempDir()
			l := openTest(t, dir, cfg, WithFS(ffs), WithClock(func() time.Time { return fixedNow }))
			defer func() { l.Close() }()

			var (
				model  []string // values the log should hold, in offset order
				synced int      // model[:synced] is durable
				n      int
			)
			// Every append is producer 7's, so its next sequence is the
			// record count; a rollback also rewinds it (records acknowledged
			// with acks=1 after the last sync are lost, and a producer
			// continuing past them gets OutOfOrderSequence, as from Kafka
			// after losing an unreplicated tail).
			var (
				seq int32
			)
			appendOne := func(durable bool) (AppendResult, error) {
				n++
				seq = int32(len(model))
				v := fmt.Sprintf("v%d-seq%d", n, seq)
				b := makeBatch(t, []testRecord{{key: []byte("k"), value: []byte(v), ts: fixedNow.UnixMilli()}}, batchOpts{pid: 7, seq: seq})
				res, err := l.Append(b, durable)
				if res.Duplicate {
					t.Fatalf("append %s of sequence %d: acknowledged as a duplicate (offsets %d-%d)", v, seq, res.BaseOffset, res.LastOffset)
				}
				if err == nil {
					if res.BaseOffset != int64(len(model)) {
						t.Fatalf("append of %s: base offset %d, want %d", v, res.BaseOffset, len(model))
					}
					model = append(model, v)
				}
				return res, err
			}
			for i, c := range tc.script {
				switch c {
				case '!':
					failing.Store(true)
				case '.':
					failing.Store(false)
				case 'D':
					_, err := appendOne(true)
					switch {
					case failing.Load() && !errors.Is(err, ErrStorage):
						t.Fatalf("step %d: durable append while fdatasync fails: err %v, want ErrStorage", i, err)
					case failing.Load():
						model = model[:synced]
					case err != nil:
						t.Fatalf("step %d: durable append: %v", i, err)
					default:
						synced = len(model)
					}
				case 'N':
					if _, err := appendOne(false); err != nil {
						t.Fatalf("step %d: non-durable append: %v", i, err)
					}
				case 'F':
					err := l.Flush()
					switch {
					case failing.Load() && !errors.Is(err, ErrStorage):
						t.Fatalf("step %d: flush while fdatasync fails: err %v, want ErrStorage", i, err)
					case failing.Load():
						model = model[:synced]
					case err != nil:
						t.Fatalf("step %d: flush: %v", i, err)
					default:
						synced = len(model)
					}
				}
				if got := l.LogEndOffset(); got != int64(len(model)) {
					t.Fatalf("step %d (%c): log end offset %d, want %d", i, c, got, len(model))
				}
			}

			check := func(l *Log, when string) {
				t.Helper()
				got := decodeAll(t, readAll(t, l))
				var vals []string
				for i, r := range got {
					if r.Offset != int64(i) {
						t.Fatalf("%s: record %d has offset %d", when, i, r.Offset)
					}
					vals = append(vals, r.Value)
				}
				if strings.Join(vals, ",") != strings.Join(model, ",") {
					t.Fatalf("%s: log holds %v, want %v", when, vals, model)
				}
				if ts, off := l.MaxTimestamp(); len(model) > 0 && (ts != fixedNow.UnixMilli() || off < 0 || off >= int64(len(model))) {
					t.Fatalf("%s: max timestamp %d at offset %d", when, ts, off)
				}
			}
			check(l, "live")
			if l.mu.RLock(); tc.segBytes > 0 && len(l.segs) < 3 {
				t.Errorf("only %d segments: the script did not roll", len(l.segs))
			}
			l.mu.RUnlock()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openTest(t, dir, cfg, WithFS(ffs), WithClock(func() time.Time { return fixedNow }))
			check(l, "reopened")
			// The producer state survived: the last acknowledged batch is a
			// duplicate, the next sequence appends.
			if len(model) > 0 {
				last := model[len(model)-1]
				var lastSeq int32
				fmt.Sscanf(last[strings.Index(last, "seq")+3:], "%d", &lastSeq)
				b := makeBatch(t, []testRecord{{key: []byte("k"), value: []byte(last), ts: fixedNow.UnixMilli()}}, batchOpts{pid: 7, seq: lastSeq})
				res, err := l.Append(b, true)
				if err != nil || !res.Duplicate || res.BaseOffset != int64(len(model)-1) {
					t.Fatalf("reopened: retry of the last batch: %+v, %v; want duplicate at %d", res, err, len(model)-1)
				}
			}
			if _, err := appendOne(true); err != nil {
				t.Fatalf("reopened: append: %v", err)
			}
			check(l, "after reopening and appending")
		})
	}
}

// TestSyncFailureFailsEveryWaiter runs concurrent durable appenders against
// a slow fdatasync that fails: every one of them must get ErrStorage, none
// a success; after the fault clears they all succeed, and the reopened log
// holds exactly the acknowledged records.
func TestSyncFailureFailsEveryWaiter(t *testing.T) {
	ffs := fsutil.NewFaultFS(nil)
	var failing atomic.Bool
	ffs.Inject(func(op fsutil.Op, path string) error {
		if op == fsutil.OpSync && strings.HasSuffix(path, logSuffix) {
			time.Sleep(time.Millisecond) // let appends queue behind the sync
			if failing.Load() {
				return syscall.EIO
			}
		}
		return nil
	})
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 1
	l := openTest(t, dir, cfg, WithFS(ffs))
	defer func() { l.Close() }()

	const appenders, each = 8, 10
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		seqs  [appenders]int32 // next sequence per producer; each entry owned by one appender at a time
	)
	run := func(round string, wantOK bool) {
		var wg sync.WaitGroup
		for w := range appenders {
			wg.Go(func() {
				pid := int64(100 + w)
				for i := range each {
					v := fmt.Sprintf("%s-%d-%d", round, w, i)
					b := makeBatch(t, []testRecord{{value: []byte(v), ts: 1}}, batchOpts{pid: pid, seq: seqs[w]})
					res, err := l.Append(b, true)
					if res.Duplicate {
						t.Errorf("%s: append %s acknowledged as a duplicate", round, v)
					}
					if wantOK != (err == nil) || (err != nil && !errors.Is(err, ErrStorage)) {
						t.Errorf("%s: append %s: %v", round, v, err)
					}
					if err == nil {
						seqs[w]++
						mu.Lock()
						acked[v] = true
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
	}
	run("good1", true)
	failing.Store(true)
	run("bad", false)
	failing.Store(false)
	run("good2", true)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg, WithFS(ffs))
	got := decodeAll(t, readAll(t, l))
	if len(got) != len(acked) {
		t.Fatalf("reopened log holds %d records, %d were acknowledged", len(got), len(acked))
	}
	for i, r := range got {
		if r.Offset != int64(i) || !acked[r.Value] {
			t.Fatalf("record %d: offset %d value %q: not acknowledged or misplaced", i, r.Offset, r.Value)
		}
	}
}

// TestSyncFailureReaders documents what a reader that fetched unsynced
// bytes sees after the rollback: the offsets it read past are beyond the
// new log end (OffsetOutOfRange), and the offsets are reused by later
// appends.
func TestSyncFailureReaders(t *testing.T) {
	ffs := fsutil.NewFaultFS(nil)
	var failing atomic.Bool
	ffs.Inject(func(op fsutil.Op, path string) error {
		if failing.Load() && op == fsutil.OpSync && strings.HasSuffix(path, logSuffix) {
			return syscall.EIO
		}
		return nil
	})
	l := openTest(t, t.TempDir(), DefaultConfig(), WithFS(ffs))
	defer l.Close()
	if _, err := l.Append(makeBatch(t, simpleRecords(2, 10, 1), batchOpts{}), true); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(makeBatch(t, simpleRecords(3, 10, 1), batchOpts{}), false); err != nil {
		t.Fatal(err)
	}
	s, err := l.Read(2, 1<<20) // a fetch sees the unsynced batch
	if err != nil || s.Len() == 0 {
		t.Fatalf("read of the unsynced batch: %v", err)
	}
	s.Close()
	ch := l.Changed()
	failing.Store(true)
	if err := l.Flush(); !errors.Is(err, ErrStorage) {
		t.Fatalf("flush: %v, want ErrStorage", err)
	}
	failing.Store(false)
	select {
	case <-ch:
	default:
		t.Fatal("rollback did not wake Changed waiters")
	}
	if got := l.LogEndOffset(); got != 2 {
		t.Fatalf("log end offset after rollback %d, want 2", got)
	}
	if _, err := l.Read(5, 1<<20); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read past the rolled-back end: %v, want ErrOffsetOutOfRange", err)
	}
}
