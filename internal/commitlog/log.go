package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runnel/runnel/internal/fsutil"
)

// Log is one partition's log. All methods are safe for concurrent use.
//
// Lock order: maintMu (one Maintain at a time), syncMu, mu, ckptMu, and
// last a segment's idxMu.
type Log struct {
	dir    string
	fs     fsutil.FS
	logger *slog.Logger
	clock  func() time.Time

	cfg atomic.Pointer[Config]

	maintMu sync.Mutex // serializes Maintain / compaction

	syncMu sync.Mutex   // one fdatasync at a time (group commit leader)
	synced atomic.Int64 // offsets below are durable

	mu            sync.RWMutex
	segs          []*segment // guarded by mu; ordered by base; the last is active
	producers     map[int64]*producerState
	changed       chan struct{}
	closed        bool
	maxTs         int64 // guarded by mu
	maxTsOff      int64
	maxTsSeg      *segment // guarded by mu: when set, maxTsOff is the last offset of the
	maxTsPos      int64    // compressed batch at maxTsPos, to be refined on demand
	cleanerOffset int64    // guarded by mu
	unflushedMsgs int64
	lastFlush     time.Time
	badTail       int64 // guarded by mu: size to truncate the active segment to before the next write, or -1
	durPos        int64 // guarded by mu: bytes of the active segment known fdatasync'ed (they hold offsets below synced)
	failed        bool  // guarded by mu: a sync failed and the rollback to durPos is not done yet

	// rolled marks the last rollback after a failed sync (nil before the
	// first). Stored with mu held, before anything is truncated, so a
	// waiter that sees the mark it captured at append time unchanged
	// after seeing synced >= its target knows its bytes are durable.
	rolled atomic.Pointer[rollbackMark]

	next     atomic.Int64 // log end offset; written with mu held
	logStart atomic.Int64 // written with mu held

	ckptMu       sync.Mutex // guards writing the checkpoint file
	lastCkptNext int64      // guarded by ckptMu
	lastCkptAt   time.Time  // guarded by ckptMu
}

// AppendResult describes a successful Append.
type AppendResult struct {
	BaseOffset     int64 // offset assigned to the first record
	LastOffset     int64
	LogAppendTime  int64 // ms since epoch if LogAppendTime was applied, else -1
	LogStartOffset int64
	Duplicate      bool // idempotent retry of an already-appended batch: offsets are the original ones, nothing was written
}

// batchInfo is a validated batch inside an Append call.
type batchInfo struct {
	h          BatchHeader
	start      int
	maxTsDelta int32
}

// Append validates and appends one or more concatenated v2 record batches.
// It rewrites, in place in batches, only baseOffset and partitionLeaderEpoch
// (and for LogAppendTime maxTimestamp, the timestamp-type attribute bit and
// the CRC). durable=true returns after the bytes are fdatasync'ed, sharing
// one fdatasync among concurrent appenders; durable=false returns after
// write(2).
func (l *Log) Append(batches []byte, durable bool) (AppendResult, error) {
	cfg := l.cfg.Load()
	infos, err := validateBatches(batches, cfg.MaxMessageBytes)
	if err != nil {
		return AppendResult{}, err
	}
	res, needSync, mark, err := l.appendLocked(batches, infos, cfg)
	if err != nil {
		return res, err
	}
	// A duplicate is acknowledged like the original would be: only once
	// the original bytes are durable.
	if durable || needSync {
		if err := l.syncTo(res.LastOffset+1, mark); err != nil {
			return AppendResult{}, err
		}
	}
	return res, nil
}

// validateBatches checks every batch before anything is allocated or
// written: framing, size limit, magic, CRC and record counts.
func validateBatches(b []byte, maxBytes int32) ([]batchInfo, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("appending: no record batch: %w", ErrCorrupt)
	}
	var one [1]batchInfo
	infos := one[:0]
	for pos := 0; pos < len(b); {
		h, err := ParseBatchHeader(b[pos:])
		if err != nil {
			return nil, fmt.Errorf("appending batch at byte %d: %w", pos, err)
		}
		if h.Size() > int64(maxBytes) {
			return nil, fmt.Errorf("appending batch of %d bytes, max.message.bytes is %d: %w", h.Size(), maxBytes, ErrTooLarge)
		}
		if int64(pos)+h.Size() > int64(len(b)) {
			return nil, fmt.Errorf("appending batch at byte %d: length %d runs past the %d bytes given: %w", pos, h.Size(), len(b), ErrCorrupt)
		}
		d, err := checkForAppend(h, b[pos:pos+int(h.Size())])
		if err != nil {
			return nil, fmt.Errorf("appending batch at byte %d: %w", pos, err)
		}
		infos = append(infos, batchInfo{h: h, start: pos, maxTsDelta: d})
		pos += int(h.Size())
	}
	return infos, nil
}

// appendLocked writes the batches under mu and returns, besides the
// result, whether a flush.messages sync is due and the rollback mark the
// append happened under (for syncTo).
func (l *Log) appendLocked(b []byte, infos []batchInfo, cfg *Config) (AppendResult, bool, *rollbackMark, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	res, needSync, err := l.appendMuLocked(b, infos, cfg)
	return res, needSync, l.rolled.Load(), err
}

// appendMuLocked does the work of appendLocked. Caller holds mu for writing.
func (l *Log) appendMuLocked(b []byte, infos []batchInfo, cfg *Config) (AppendResult, bool, error) {
	if l.closed {
		return AppendResult{}, false, ErrClosed
	}
	if l.failed {
		if err := l.repairLocked(); err != nil {
			return AppendResult{}, false, err
		}
	}
	// Idempotence checks, against a scratch copy for multi-batch appends.
	var scratch map[int64]*producerState
	for i := range infos {
		h := infos[i].h
		if h.ProducerID < 0 {
			continue
		}
		st := l.producers[h.ProducerID]
		if scratch != nil {
			if s, ok := scratch[h.ProducerID]; ok {
				st = s
			}
		}
		dup, err := checkProducer(st, h)
		if err != nil {
			return AppendResult{}, false, err
		}
		if dup != nil {
			if len(infos) != 1 {
				return AppendResult{}, false, fmt.Errorf("appending: batch %d of %d repeats producer %d sequence %d: %w", i, len(infos), h.ProducerID, h.BaseSequence, ErrOutOfOrderSequence)
			}
			return AppendResult{BaseOffset: dup.firstOffset, LastOffset: dup.lastOffset, LogAppendTime: -1, LogStartOffset: l.logStart.Load(), Duplicate: true}, false, nil
		}
		if len(infos) > 1 {
			if scratch == nil {
				scratch = map[int64]*producerState{}
			}
			var c *producerState
			if st != nil {
				c = st.clone()
			}
			m := map[int64]*producerState{}
			if c != nil {
				m[h.ProducerID] = c
			}
			hh := h
			hh.BaseOffset = 0
			applyProducer(m, hh)
			scratch[h.ProducerID] = m[h.ProducerID]
		}
	}

	if l.badTail >= 0 {
		if err := l.repairTail(); err != nil {
			return AppendResult{}, false, err
		}
	}
	active := l.segs[len(l.segs)-1]
	next := l.next.Load()
	var records int64
	for _, in := range infos {
		records += int64(in.h.LastOffsetDelta) + 1
	}
	if active.size > 0 && (active.size+int64(len(b)) > cfg.SegmentBytes || next+records-active.base > math.MaxUint32/2 ||
		active.size+int64(len(b)) > math.MaxUint32) {
		if err := l.roll(); err != nil {
			return AppendResult{}, false, err
		}
		active = l.segs[len(l.segs)-1]
	}

	res := AppendResult{BaseOffset: next, LogAppendTime: -1}
	var now int64 = -1
	if cfg.logAppendTime() {
		now = l.clock().UnixMilli()
		res.LogAppendTime = now
	}
	off := next
	for i := range infos {
		in := &infos[i]
		bb := b[in.start : in.start+int(in.h.Size())]
		binary.BigEndian.PutUint64(bb[offBaseOffset:], uint64(off))
		binary.BigEndian.PutUint32(bb[offLeaderEpoch:], 0)
		in.h.BaseOffset, in.h.PartitionLeaderEpoch = off, 0
		if now >= 0 {
			attr := uint16(in.h.Attributes) | attrTimestampType
			binary.BigEndian.PutUint16(bb[offAttributes:], attr)
			binary.BigEndian.PutUint64(bb[offMaxTimestamp:], uint64(now))
			binary.BigEndian.PutUint32(bb[offCRC:], crc32.Checksum(bb[offAttributes:], castagnoli))
			in.h.Attributes, in.h.MaxTimestamp, in.maxTsDelta = int16(attr), now, 0
		}
		off = in.h.LastOffset() + 1
	}
	res.LastOffset = off - 1

	pos := active.size
	if n, err := active.file.Write(b); err != nil {
		if n > 0 {
			l.badTail = pos
			_ = l.repairTail()
		}
		return AppendResult{}, false, storageErr(fmt.Sprintf("appending %d bytes to segment %s", len(b), filepath.Base(active.path)), err)
	}
	interval := cfg.IndexIntervalBytes
	for _, in := range infos {
		mto := in.h.BaseOffset + int64(in.maxTsDelta)
		active.noteBatch(in.h, pos+int64(in.start), mto, interval)
		if in.h.MaxTimestamp > l.maxTs || l.maxTs < 0 {
			l.maxTs, l.maxTsOff, l.maxTsSeg = in.h.MaxTimestamp, mto, nil
			if in.h.Attributes&attrCompressionMask != 0 && in.h.Attributes&attrTimestampType == 0 {
				l.maxTsSeg, l.maxTsPos = active, pos+int64(in.start)
			}
		}
		applyProducer(l.producers, in.h)
	}
	if active.rollAtMs < 0 {
		active.rollAtMs = l.clock().UnixMilli()
	}
	l.next.Store(off)
	res.LogStartOffset = l.logStart.Load()
	l.unflushedMsgs += records
	needSync := cfg.FlushMessages > 0 && l.unflushedMsgs >= cfg.FlushMessages
	close(l.changed)
	l.changed = make(chan struct{})
	return res, needSync, nil
}

// repairTail truncates the active segment back to l.badTail after a
// failed write. Caller holds mu for writing.
func (l *Log) repairTail() error {
	active := l.segs[len(l.segs)-1]
	if err := active.file.Truncate(l.badTail); err != nil {
		return storageErr("truncating segment "+filepath.Base(active.path)+" after a failed write", err)
	}
	if _, err := active.file.Seek(l.badTail, 0); err != nil {
		return storageErr("seeking segment "+filepath.Base(active.path), err)
	}
	l.badTail = -1
	return nil
}

// rollbackMark records one rollback of the log after a failed sync.
type rollbackMark struct {
	gen   int64 // 1 for the first rollback of this Log, then 2, ...
	point int64 // log end offset rolled back to: offsets below it stayed
	cause error // the failed sync (matches ErrStorage)
}

// durableCheck reports whether the outcome for an append whose bytes end
// before target, written under rollback mark m0, is known: nil when they
// are durable, an ErrStorage error when they were rolled back.
func (l *Log) durableCheck(target int64, m0 *rollbackMark) (bool, error) {
	synced := l.synced.Load() // before rolled: see the comment on Log.rolled
	m := l.rolled.Load()
	if m == m0 {
		return synced >= target, nil
	}
	g0 := int64(0)
	if m0 != nil {
		g0 = m0.gen
	}
	if m.gen == g0+1 && target <= m.point {
		return true, nil // durable before the one rollback since the append
	}
	return true, fmt.Errorf("making offsets below %d durable: rolled back to offset %d after a failed sync: %w", target, m.point, m.cause)
}

// syncTo makes every offset below target durable, sharing the fdatasync
// with concurrent callers: whoever holds syncMu syncs everything written so
// far, and the waiters behind it find their offsets already covered. m0 is
// the rollback mark the bytes were appended under: if a sync failed since
// and the bytes were rolled back, syncTo reports ErrStorage.
func (l *Log) syncTo(target int64, m0 *rollbackMark) error {
	if done, err := l.durableCheck(target, m0); done {
		return err
	}
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if done, err := l.durableCheck(target, m0); done {
		return err
	}
	if err := l.syncLocked(); err != nil {
		return err
	}
	if done, err := l.durableCheck(target, m0); done {
		return err
	}
	return fmt.Errorf("making offsets below %d durable: the sync did not cover them: %w", target, ErrStorage)
}

// syncLocked fdatasyncs the active segment. Caller holds syncMu (not mu).
// When the fdatasync fails, the log is rolled back to what the last
// successful sync covered.
func (l *Log) syncLocked() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if l.failed {
		if err := l.repairLocked(); err != nil {
			l.mu.Unlock()
			return err
		}
	}
	seg := l.segs[len(l.segs)-1]
	end, pos, m0 := l.next.Load(), seg.size, l.rolled.Load()
	seg.acquire()
	l.mu.Unlock()
	err := seg.file.Datasync()
	seg.release()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		err = storageErr("syncing segment "+filepath.Base(seg.path), err)
		l.rollbackLocked(err)
		return err
	}
	if !l.noteSyncedLocked(m0, seg, end, pos) && l.rolled.Load() != m0 {
		return fmt.Errorf("syncing segment %s: %w", filepath.Base(seg.path), l.rolled.Load().cause)
	}
	l.unflushedMsgs = 0
	l.lastFlush = l.clock()
	return nil
}

// noteSyncedLocked records that a sync of seg, started under rollback mark
// m0 when the log ended at offset end and seg at byte pos, succeeded. It
// reports false, recording nothing, when the log was rolled back or rolled
// to a new segment meanwhile (a roll syncs everything itself). Caller holds
// mu for writing.
func (l *Log) noteSyncedLocked(m0 *rollbackMark, seg *segment, end, pos int64) bool {
	if l.rolled.Load() != m0 || l.closed || seg != l.segs[len(l.segs)-1] {
		return false
	}
	if end >= l.synced.Load() {
		l.synced.Store(end)
		l.durPos = pos
	}
	return true
}

// rollbackLocked handles a failed fdatasync of the active segment: nothing
// written since the last successful sync may be acknowledged as durable,
// because the kernel may have dropped those pages (and a later fdatasync
// would not report it again). It publishes a new rollback mark, so every
// waiter on bytes past the durable point fails with cause, then truncates
// the active segment back to the durable point (repairLocked); if that
// fails too, the log stays failed and the next Append, sync or Flush
// retries the repair. Caller holds mu for writing.
func (l *Log) rollbackLocked(cause error) {
	if l.closed {
		return
	}
	var gen int64 = 1
	if m := l.rolled.Load(); m != nil {
		gen = m.gen + 1
	}
	l.rolled.Store(&rollbackMark{gen: gen, point: l.synced.Load(), cause: cause})
	l.failed = true
	l.logger.Error("sync failed; rolling the log back to its last synced offset", "dir", l.dir,
		"offset", l.synced.Load(), "logEndOffset", l.next.Load(), "err", cause)
	if err := l.repairLocked(); err != nil {
		l.logger.Error("rolling the log back after a failed sync", "dir", l.dir, "err", err)
	}
}

// repairLocked truncates the active segment to durPos and rewinds the
// in-memory state to the synced offset: index entries, log end offset,
// timestamps and producer state (rebuilt from the recovery checkpoint and
// the batches after it). Caller holds mu for writing and l.failed is set.
func (l *Log) repairLocked() error {
	active := l.segs[len(l.segs)-1]
	pos, next := l.durPos, l.synced.Load()
	if err := active.file.Truncate(pos); err != nil {
		return storageErr("truncating segment "+filepath.Base(active.path)+" after a failed sync", err)
	}
	if _, err := active.file.Seek(pos, io.SeekStart); err != nil {
		return storageErr("seeking segment "+filepath.Base(active.path), err)
	}
	l.badTail = -1
	// Index files only ever hold entries below durPos (they are written
	// after a successful sync), so only the memory copy is cut; the full
	// slice expression keeps snapshots taken by flushLocked intact.
	n := sort.Search(len(active.entries), func(i int) bool { return int64(active.entries[i].pos) >= pos })
	active.entries = active.entries[:n:n]
	active.maxTs, active.maxTsOff, active.next = -1, -1, active.base
	if err := l.tailStateFromIndex(active, pos); err != nil {
		return err
	}
	active.next = next
	if pos == 0 {
		active.rollAtMs = -1
	}
	if l.maxTsOff >= next || (l.maxTsSeg == active && l.maxTsPos >= pos) {
		l.maxTs, l.maxTsOff, l.maxTsSeg = -1, -1, nil
		for _, s := range l.segs {
			if s.maxTs > l.maxTs || (s.maxTs >= 0 && l.maxTs < 0) {
				l.maxTs, l.maxTsOff = s.maxTs, s.maxTsOff
			}
		}
	}
	if err := l.rebuildProducersLocked(); err != nil {
		return err
	}
	l.next.Store(next)
	if l.logStart.Load() > next {
		l.logStart.Store(next)
	}
	l.unflushedMsgs = 0
	l.failed = false
	close(l.changed) // wake long polls: the log end offset moved back
	l.changed = make(chan struct{})
	l.logger.Warn("log rolled back after a failed sync", "dir", l.dir, "logEndOffset", next)
	return nil
}

// rebuildProducersLocked rebuilds the producer state from the recovery
// checkpoint (which never describes more than the synced bytes) and the
// batches after it, as Open does. Caller holds mu for writing.
func (l *Log) rebuildProducersLocked() error {
	ck, err := readCheckpointFile(l.fs, l.dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		l.logger.Warn("ignoring unreadable checkpoint; replaying producer state from every segment", "dir", l.dir, "err", err)
	}
	ckIdx := -1
	if err == nil {
		for i, s := range l.segs {
			if s.base == ck.segBase && ck.pos <= s.size {
				ckIdx = i
			}
		}
	}
	prods := map[int64]*producerState{}
	from := 0
	if ckIdx >= 0 {
		for id, st := range ck.producers {
			prods[id] = st.clone()
		}
		from = ckIdx
	} else {
		ck = nil
	}
	saved := l.producers
	l.producers = prods
	for i := from; i < len(l.segs); i++ {
		if err := l.replayProducers(l.segs[i], ck, i == ckIdx); err != nil {
			l.producers = saved
			return err
		}
	}
	return nil
}

// roll syncs the active segment, writes its index and starts a new one at
// the log end offset. Caller holds mu for writing.
func (l *Log) roll() error {
	if l.failed {
		if err := l.repairLocked(); err != nil {
			return err
		}
	}
	active := l.segs[len(l.segs)-1]
	next := l.next.Load()
	if active.size == 0 {
		return nil
	}
	if err := active.file.Datasync(); err != nil {
		err = storageErr("syncing segment "+filepath.Base(active.path)+" before rolling", err)
		l.rollbackLocked(err)
		return err
	}
	if next > l.synced.Load() {
		l.synced.Store(next)
		l.durPos = active.size
	}
	if err := active.flushIndex(active.entries, false); err != nil {
		return err
	}
	seg, err := openSegmentFile(l.fs, l.dir, next, true)
	if err != nil {
		return err
	}
	seg.rollAtMs = -1
	l.segs = append(l.segs, seg)
	l.durPos = 0
	if err := l.fs.SyncDir(l.dir); err != nil {
		return storageErr("syncing directory after rolling", err)
	}
	return l.writeCheckpoint(l.captureCheckpoint())
}

// captureCheckpoint records the current state. Caller holds mu and has
// made everything up to the active segment's size durable.
func (l *Log) captureCheckpoint() *checkpoint {
	active := l.segs[len(l.segs)-1]
	c := &checkpoint{
		segBase: active.base, pos: active.size, next: l.next.Load(),
		maxTs: l.maxTs, maxTsOff: l.maxTsOff, logStart: l.logStart.Load(),
		cleanerOffset: l.cleanerOffset, producers: make(map[int64]*producerState, len(l.producers)),
	}
	for id, st := range l.producers {
		c.producers[id] = st.clone()
	}
	return c
}

// writeCheckpoint writes c unless a newer checkpoint was already written.
// Caller may hold mu; takes ckptMu.
func (l *Log) writeCheckpoint(c *checkpoint) error {
	l.ckptMu.Lock()
	defer l.ckptMu.Unlock()
	if c.next < l.lastCkptNext {
		return nil
	}
	if err := writeCheckpointFile(l.fs, l.dir, c); err != nil {
		return err
	}
	l.lastCkptNext, l.lastCkptAt = c.next, l.clock()
	return nil
}

// Flush fsyncs everything written so far and records a recovery checkpoint.
func (l *Log) Flush() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	return l.flushLocked()
}

// flushLocked syncs the active segment and its index and writes the
// checkpoint. It holds mu only to capture the state, so appends and reads
// go on during the fdatasyncs. Caller holds syncMu.
func (l *Log) flushLocked() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if l.failed {
		if err := l.repairLocked(); err != nil {
			l.mu.Unlock()
			return err
		}
	}
	active := l.segs[len(l.segs)-1]
	ck := l.captureCheckpoint()
	ents := active.entries
	m0 := l.rolled.Load()
	active.acquire()
	l.mu.Unlock()
	defer active.release()

	if err := active.file.Datasync(); err != nil {
		err = storageErr("syncing segment "+filepath.Base(active.path), err)
		l.mu.Lock()
		l.rollbackLocked(err)
		l.mu.Unlock()
		return err
	}
	// Index entries and the checkpoint are written only for a state
	// recorded as synced, so a later rollback never cuts below them.
	l.mu.Lock()
	ok := l.noteSyncedLocked(m0, active, ck.next, ck.pos)
	m := l.rolled.Load()
	l.mu.Unlock()
	if !ok {
		if m != m0 {
			return fmt.Errorf("syncing segment %s: %w", filepath.Base(active.path), m.cause)
		}
		return nil // rolled to a new segment, which synced and checkpointed this one
	}
	if err := active.flushIndex(ents, false); err != nil {
		return err
	}
	if err := l.writeCheckpoint(ck); err != nil {
		return err
	}
	l.mu.Lock()
	l.unflushedMsgs = 0
	l.lastFlush = l.clock()
	l.mu.Unlock()
	return nil
}

// LogStartOffset is the first offset still readable.
func (l *Log) LogStartOffset() int64 { return l.logStart.Load() }

// LogEndOffset is the next offset to be assigned; also the high watermark.
func (l *Log) LogEndOffset() int64 { return l.next.Load() }

// MaxTimestamp returns the largest record timestamp so far and its offset;
// (-1, -1) when the log is empty.
//
// For a compressed batch the offset is found by decompressing the batch on
// the first call after it was appended (Kafka's KIP-734 semantics).
func (l *Log) MaxTimestamp() (timestamp, offset int64) {
	l.mu.RLock()
	ts, off, seg, pos := l.maxTs, l.maxTsOff, l.maxTsSeg, l.maxTsPos
	if seg != nil && !seg.removed && !l.closed {
		seg.acquire()
	} else {
		seg = nil
	}
	l.mu.RUnlock()
	if ts < 0 && off < 0 {
		if seg != nil {
			seg.release()
		}
		return -1, -1
	}
	if seg == nil {
		return ts, off
	}
	defer seg.release()
	var hb [batchHeaderLen]byte
	h, err := seg.readHeader(pos, pos+1<<31, &hb)
	if err != nil {
		return ts, off
	}
	exact, _, found, err := recordAtOrAfter(seg, pos, h, ts, 0)
	if err != nil || !found {
		return ts, off
	}
	l.mu.Lock()
	if l.maxTsSeg == seg && l.maxTsPos == pos {
		l.maxTsOff, l.maxTsSeg = exact, nil
	}
	l.mu.Unlock()
	return ts, exact
}

// Changed returns a channel closed at the next successful append.
func (l *Log) Changed() <-chan struct{} {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.changed
}

// SetConfig changes the settings at run time.
func (l *Log) SetConfig(cfg Config) {
	c := cfg.normalized()
	l.cfg.Store(&c)
}

// Config returns the current settings.
func (l *Log) Config() Config { return *l.cfg.Load() }

// Size is the number of bytes on disk across segments.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.segs {
		n += s.size
	}
	return n
}

// Close flushes, writes the recovery checkpoint and releases the files.
func (l *Log) Close() error {
	l.maintMu.Lock()
	defer l.maintMu.Unlock()
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	err := l.flushLocked()
	if err == ErrClosed {
		return ErrClosed
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	for _, s := range l.segs {
		s.release()
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return err
}

// Delete closes the log and removes its directory.
func (l *Log) Delete() error {
	if err := l.Close(); err != nil && err != ErrClosed {
		l.logger.Warn("closing log before delete", "dir", l.dir, "err", err)
	}
	return storageErr("removing log directory", l.fs.RemoveAll(l.dir))
}
