package commitlog

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/runnel/runnel/internal/fsutil"
)

// Open opens or creates the log in dir (a directory named
// <topic>-<partition>), recovering the tail after the last recovery
// checkpoint: batches after it are CRC-checked, a torn or corrupt tail is
// cut at the last whole valid batch, and indexes are rebuilt for the
// rescanned part. Segments before the checkpoint are trusted, so opening
// costs time proportional to the unflushed tail.
func Open(dir string, cfg Config, opts ...Option) (*Log, error) {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.clock == nil {
		o.clock = time.Now
	}
	if o.fs == nil {
		o.fs = fsutil.OS()
	}
	l := &Log{
		dir: dir, fs: o.fs, logger: o.logger, clock: o.clock,
		producers: map[int64]*producerState{}, changed: make(chan struct{}),
		maxTs: -1, maxTsOff: -1, badTail: -1, lastFlush: o.clock(),
	}
	l.SetConfig(cfg)
	if err := l.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, storageErr("creating log directory "+dir, err)
	}
	if err := l.recover(); err != nil {
		for _, s := range l.segs {
			s.release()
		}
		return nil, fmt.Errorf("opening log %s: %w", dir, err)
	}
	return l, nil
}

// listSegments returns the base offsets of the .log files in dir, removing
// leftovers of interrupted compactions and checkpoint writes.
func (l *Log) listSegments() ([]int64, error) {
	ents, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return nil, storageErr("listing log directory", err)
	}
	var bases []int64
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, cleanedSuffix) || strings.HasSuffix(name, tmpSuffix) {
			if err := l.fs.Remove(filepath.Join(l.dir, name)); err != nil {
				return nil, storageErr("removing leftover "+name, err)
			}
			continue
		}
		if !strings.HasSuffix(name, logSuffix) || len(name) != 20+len(logSuffix) {
			continue
		}
		base, err := strconv.ParseInt(strings.TrimSuffix(name, logSuffix), 10, 64)
		if err != nil || base < 0 {
			continue
		}
		bases = append(bases, base)
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	return bases, nil
}

func (l *Log) recover() error {
	bases, err := l.listSegments()
	if err != nil {
		return err
	}
	ck, err := readCheckpointFile(l.fs, l.dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			l.logger.Warn("ignoring unreadable checkpoint; rescanning the whole log", "dir", l.dir, "err", err)
		}
		ck = nil
	}
	for _, b := range bases {
		s, err := openSegmentFile(l.fs, l.dir, b, false)
		if err != nil {
			return err
		}
		l.segs = append(l.segs, s)
	}
	// A checkpoint is usable only if its segment exists and is long enough.
	ckIdx := -1
	if ck != nil {
		for i, s := range l.segs {
			if s.base == ck.segBase && s.size >= ck.pos {
				ckIdx = i
			}
		}
		if ckIdx < 0 {
			l.logger.Warn("checkpoint does not match the segments; rescanning the whole log", "dir", l.dir)
			ck = nil
		}
	}

	cut := -1 // index of the segment whose tail was cut; later ones are dropped
	for i, s := range l.segs {
		var err error
		var ok bool
		switch {
		case ck != nil && i < ckIdx:
			ok, err = l.openTrusted(s)
			if err == nil && !ok {
				ok, err = l.scanSegment(s, 0, s.base, false, false)
			}
		case ck != nil && i == ckIdx:
			s.next, s.size = ck.next, ck.pos
			if _, err = s.loadIndex(ck.pos); err == nil {
				if err = l.tailStateFromIndex(s, ck.pos); err == nil {
					ok, err = l.scanSegment(s, ck.pos, ck.next, true, true)
				}
			}
		case ck != nil:
			ok, err = l.scanSegment(s, 0, l.segs[i-1].next, true, true)
		default:
			prev := s.base
			if i > 0 {
				prev = l.segs[i-1].next
			}
			ok, err = l.scanSegment(s, 0, prev, false, true)
		}
		if err != nil {
			return err
		}
		if !ok {
			cut = i
			break
		}
	}
	if cut >= 0 {
		for _, s := range l.segs[cut+1:] {
			l.logger.Warn("dropping segment after a corrupt tail", "segment", filepath.Base(s.path))
			if err := s.removeFiles(); err != nil {
				return err
			}
			s.release()
		}
		l.segs = l.segs[:cut+1]
		if ck != nil && cut < ckIdx {
			// Data the checkpoint describes is gone: rebuild producer
			// state and offsets from what is left.
			l.logger.Warn("corruption below the recovery checkpoint; rebuilding state from the data", "dir", l.dir)
			ck = nil
		}
	}
	if ck != nil {
		l.producers = ck.producers
		l.cleanerOffset = ck.cleanerOffset
		l.maxTs, l.maxTsOff = ck.maxTs, ck.maxTsOff
	}
	if len(l.segs) == 0 {
		base := int64(0)
		if ck != nil {
			base = ck.logStart
		}
		s, err := openSegmentFile(l.fs, l.dir, base, true)
		if err != nil {
			return err
		}
		s.rollAtMs = -1
		l.segs = append(l.segs, s)
	}
	// Log-wide max timestamp and producer state from the segments after the checkpoint.
	for i, s := range l.segs {
		if s.maxTs > l.maxTs || (s.maxTs >= 0 && l.maxTs < 0) {
			l.maxTs, l.maxTsOff = s.maxTs, s.maxTsOff
		}
		if ck == nil || i >= ckIdx {
			if err := l.replayProducers(s, ck, i == ckIdx); err != nil {
				return err
			}
		}
	}
	// Compaction may have emptied a segment's tail: its offsets run up to
	// the next segment's base.
	for i := 0; i+1 < len(l.segs); i++ {
		l.segs[i].next = max(l.segs[i].next, l.segs[i+1].base)
	}
	active := l.segs[len(l.segs)-1]
	l.next.Store(active.next)
	l.synced.Store(active.next)
	l.durPos = active.size
	start := l.segs[0].base
	if ck != nil && ck.logStart > start && ck.logStart <= active.next {
		start = ck.logStart
	}
	l.logStart.Store(start)
	if err := l.initRollTime(active); err != nil {
		return err
	}
	for _, s := range l.segs {
		if err := s.flushIndex(s.entries, false); err != nil {
			return err
		}
	}
	if err := active.file.Datasync(); err != nil {
		return storageErr("syncing recovered segment", err)
	}
	return l.writeCheckpoint(l.captureCheckpoint())
}

// openTrusted loads a segment below the checkpoint from its index files,
// reading only the batch headers after the last index entry. It reports
// false when the index is unusable and the segment must be rescanned.
func (l *Log) openTrusted(s *segment) (bool, error) {
	ok, err := s.loadIndex(s.size)
	if err != nil || !ok {
		return false, err
	}
	return true, l.tailStateFromIndex(s, s.size)
}

// tailStateFromIndex sets next, maxTs and bytesSinceIndex for a segment
// whose bytes before limit are trusted, reading batch headers from the last
// index entry to limit.
func (l *Log) tailStateFromIndex(s *segment, limit int64) error {
	pos := int64(0)
	if n := len(s.entries); n > 0 {
		e := s.entries[n-1]
		pos = int64(e.pos)
		s.maxTs, s.maxTsOff = e.maxTs, s.base+int64(e.maxTsRel)
	}
	var buf [batchHeaderLen]byte
	s.bytesSinceIndex = 0
	for pos < limit {
		h, err := s.readHeader(pos, limit, &buf)
		if err != nil {
			var ce *CorruptionError
			if errors.As(err, &ce) {
				return fmt.Errorf("reading checkpointed segment: %w", err)
			}
			return err
		}
		if h.MaxTimestamp > s.maxTs || s.maxTs < 0 {
			s.maxTs, s.maxTsOff = h.MaxTimestamp, h.LastOffset()
		}
		s.next = h.LastOffset() + 1
		s.bytesSinceIndex += h.Size()
		pos += h.Size()
	}
	s.size = limit
	return nil
}

// scanSegment validates batches from pos to the end of the file, indexing
// them. exact demands each batch start exactly at the previous one's next
// offset (no compaction gaps). It truncates the file at the first invalid
// batch and then reports false.
func (l *Log) scanSegment(s *segment, pos, expect int64, exact, fresh bool) (bool, error) {
	st, err := s.file.Stat()
	if err != nil {
		return false, storageErr("reading size of "+filepath.Base(s.path), err)
	}
	end := st.Size()
	if pos == 0 {
		s.entries, s.bytesSinceIndex, s.maxTs, s.maxTsOff, s.next = nil, 0, -1, -1, s.base
		s.idxMu.Lock()
		s.indexStale = true
		s.idxMu.Unlock()
	}
	interval := l.cfg.Load().IndexIntervalBytes
	var buf []byte
	var hb [batchHeaderLen]byte
	valid := true
	for pos < end {
		h, err := s.readHeader(pos, end, &hb)
		if err == nil {
			if int64(cap(buf)) < h.Size() {
				buf = make([]byte, h.Size())
			}
			buf = buf[:h.Size()]
			if _, rerr := s.file.ReadAt(buf, pos); rerr != nil && !errors.Is(rerr, io.EOF) {
				return false, storageErr("reading "+filepath.Base(s.path), rerr)
			}
			err = checkStored(h, buf)
			if err == nil && (h.BaseOffset < expect || (exact && h.BaseOffset != expect) || h.BaseOffset < s.base) {
				err = fmt.Errorf("batch base offset %d, expected %d: %w", h.BaseOffset, expect, ErrCorrupt)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedMagic) {
				var ce *CorruptionError
				if !errors.As(err, &ce) {
					return false, err
				}
			}
			l.logger.Warn("cutting corrupt log tail", "segment", filepath.Base(s.path), "position", pos, "err", err)
			valid = false
			break
		}
		maxOff := h.LastOffset()
		if h.Attributes&attrCompressionMask == 0 && h.Attributes&attrTimestampType == 0 {
			maxOff = maxTsOffsetOf(h, buf)
		} else if h.Attributes&attrTimestampType != 0 {
			maxOff = h.BaseOffset
		}
		s.noteBatch(h, pos, maxOff, interval)
		expect = h.LastOffset() + 1
		pos += h.Size()
	}
	s.size = pos
	if !valid || pos != end {
		if err := s.file.Truncate(pos); err != nil {
			return false, storageErr("cutting corrupt tail of "+filepath.Base(s.path), err)
		}
		if _, err := s.file.Seek(pos, io.SeekStart); err != nil {
			return false, storageErr("seeking "+filepath.Base(s.path), err)
		}
	}
	if _, err := s.file.Seek(0, io.SeekEnd); err != nil {
		return false, storageErr("seeking "+filepath.Base(s.path), err)
	}
	return valid, nil
}

// maxTsOffsetOf finds the offset of the first record carrying the batch's
// max timestamp in an uncompressed batch (the last offset when not found).
func maxTsOffsetOf(h BatchHeader, b []byte) int64 {
	rest := b[batchHeaderLen:]
	var r Record
	for range h.NumRecords {
		var err error
		if rest, err = readRecord(rest, &r); err != nil {
			break
		}
		if h.FirstTimestamp+r.TimestampDelta == h.MaxTimestamp {
			return h.BaseOffset + int64(r.OffsetDelta)
		}
	}
	return h.LastOffset()
}

// replayProducers rebuilds producer state from the batches of s after the
// checkpoint (from its start when fromCk is false).
func (l *Log) replayProducers(s *segment, ck *checkpoint, fromCk bool) error {
	pos := int64(0)
	if fromCk {
		pos = ck.pos
	}
	var hb [batchHeaderLen]byte
	for pos < s.size {
		h, err := s.readHeader(pos, s.size, &hb)
		if err != nil {
			return fmt.Errorf("replaying producer state: %w", err)
		}
		applyProducer(l.producers, h)
		pos += h.Size()
	}
	return nil
}

// initRollTime sets the segment.ms reference of the active segment: the
// first batch's max timestamp, or now when empty.
func (l *Log) initRollTime(s *segment) error {
	s.rollAtMs = -1
	if s.size == 0 {
		return nil
	}
	var hb [batchHeaderLen]byte
	h, err := s.readHeader(0, s.size, &hb)
	if err != nil {
		return err
	}
	s.rollAtMs = h.MaxTimestamp
	if now := l.clock().UnixMilli(); s.rollAtMs <= 0 || s.rollAtMs > now {
		s.rollAtMs = now
	}
	return nil
}
