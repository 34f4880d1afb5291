package commitlog

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"
)

// compact runs one cleaning pass when the dirty ratio of the cleanable
// segments reaches min.cleanable.dirty.ratio. It keeps the last record per
// key, drops tombstones older than delete.retention.ms, keeps offsets (with
// gaps) and never touches the active segment. The log lock is held only to
// pick the segments and to swap each cleaned segment in, so appends and
// reads go on meanwhile. Caller holds maintMu.
func (l *Log) compact(cfg *Config, now time.Time) error {
	nowMs := now.UnixMilli()
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	var segs []*segment
	var total, dirty int64
	for _, s := range l.segs[:len(l.segs)-1] {
		if cfg.MinCompactionLagMs > 0 && (s.maxTs < 0 || nowMs-s.maxTs < cfg.MinCompactionLagMs.Milliseconds()) {
			break
		}
		segs = append(segs, s)
		total += s.size
		if s.next > l.cleanerOffset {
			dirty += s.size
		}
	}
	for _, s := range segs {
		s.acquire()
	}
	l.mu.RUnlock()
	defer func() {
		for _, s := range segs {
			s.release()
		}
	}()
	if total == 0 || float64(dirty)/float64(total) < cfg.MinCleanableDirtyRatio {
		return nil
	}

	// Pass 1: the last offset of every key.
	last := map[string]int64{}
	for _, s := range segs {
		err := eachBatch(s, func(h BatchHeader, b []byte) error {
			if h.Attributes&(attrControl|attrTransactional) != 0 {
				return nil
			}
			return forEachRecord(h, b, func(r *Record) bool {
				if r.Key != nil {
					last[string(r.Key)] = h.BaseOffset + int64(r.OffsetDelta)
				}
				return true
			})
		})
		if err != nil {
			return err
		}
	}
	// Pass 2: rewrite each segment that loses records, and swap it in.
	tombstoneCutoff := nowMs - cfg.DeleteRetentionMs.Milliseconds()
	for _, s := range segs {
		if err := l.cleanSegment(s, last, tombstoneCutoff, cfg.IndexIntervalBytes); err != nil {
			return err
		}
	}
	l.mu.Lock()
	if c := segs[len(segs)-1].next; c > l.cleanerOffset {
		l.cleanerOffset = c
	}
	l.mu.Unlock()
	return l.Flush()
}

// eachBatch calls fn with every whole batch of s (up to its size when the
// pass began). The bytes are reused between calls.
func eachBatch(s *segment, fn func(BatchHeader, []byte) error) error {
	var buf []byte
	var hb [batchHeaderLen]byte
	size := s.size // immutable for non-active segments
	for pos := int64(0); pos < size; {
		h, err := s.readHeader(pos, size, &hb)
		if err != nil {
			return err
		}
		if int64(cap(buf)) < h.Size() {
			buf = make([]byte, h.Size())
		}
		buf = buf[:h.Size()]
		if _, err := s.file.ReadAt(buf, pos); err != nil && !errors.Is(err, io.EOF) {
			return storageErr("reading "+filepath.Base(s.path), err)
		}
		if err := checkStored(h, buf); err != nil {
			return &CorruptionError{Segment: filepath.Base(s.path), Position: pos, Err: err}
		}
		if err := fn(h, buf); err != nil {
			return err
		}
		pos += h.Size()
	}
	return nil
}

// cleanSegment writes the retained records of s to a .cleaned file and
// swaps it in place of s. Nothing happens when every record is kept.
func (l *Log) cleanSegment(s *segment, last map[string]int64, tombstoneCutoff int64, interval int32) error {
	var out []byte
	changed := false
	var recs []Record
	err := eachBatch(s, func(h BatchHeader, b []byte) error {
		if h.Attributes&(attrControl|attrTransactional) != 0 {
			out = append(out, b...)
			return nil
		}
		recs = recs[:0]
		dropped := false
		err := forEachRecord(h, b, func(r *Record) bool {
			off := h.BaseOffset + int64(r.OffsetDelta)
			keep := r.Key == nil || last[string(r.Key)] == off
			ts := h.FirstTimestamp + r.TimestampDelta
			if h.Attributes&attrTimestampType != 0 {
				ts = h.MaxTimestamp
			}
			if keep && r.Key != nil && r.Value == nil && ts <= tombstoneCutoff {
				keep = false
			}
			if keep {
				c := *r
				c.Headers = append([][2][]byte(nil), r.Headers...)
				recs = append(recs, c)
			} else {
				dropped = true
			}
			return true
		})
		if err != nil {
			return err
		}
		switch {
		case !dropped:
			out = append(out, b...)
		case len(recs) > 0:
			changed = true
			out = appendRewritten(out, h, b, recs)
		default:
			changed = true
		}
		return nil
	})
	if err != nil || !changed {
		return err
	}

	tmp := s.path + cleanedSuffix
	f, err := l.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return storageErr("creating cleaned segment", err)
	}
	_, err = f.Write(out)
	if err == nil {
		err = f.Datasync()
	}
	f.Close()
	if err != nil {
		_ = l.fs.Remove(tmp)
		return storageErr("writing cleaned segment "+filepath.Base(tmp), err)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	idx := -1
	for i, cur := range l.segs[:len(l.segs)-1] {
		if cur == s {
			idx = i
		}
	}
	if idx < 0 || l.closed { // retention removed it meanwhile
		_ = l.fs.Remove(tmp)
		return nil
	}
	if len(out) == 0 && idx > 0 {
		// Nothing left: drop the segment (the first one stays, empty, to
		// anchor the log start offset).
		_ = l.fs.Remove(tmp)
		l.segs = append(l.segs[:idx:idx], l.segs[idx+1:]...)
		l.segs[idx-1].next = max(l.segs[idx-1].next, s.next)
		s.removed = true
		err := s.removeFiles()
		s.release()
		return err
	}
	// Index files go first: a crash after the rename then finds no index
	// and rebuilds it from the new data.
	for _, p := range []string{s.indexPath(), s.timeIndexPath()} {
		if err := l.fs.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return storageErr("removing index before swapping cleaned segment", err)
		}
	}
	if err := l.fs.Rename(tmp, s.path); err != nil {
		_ = l.fs.Remove(tmp)
		return storageErr("swapping in cleaned segment "+filepath.Base(s.path), err)
	}
	ns, err := openSegmentFile(l.fs, l.dir, s.base, false)
	if err != nil {
		return err
	}
	ns.maxTs, ns.maxTsOff, ns.next = -1, -1, s.base
	for pos := int64(0); pos < int64(len(out)); {
		h, _ := ParseBatchHeader(out[pos:])
		bb := out[pos : pos+h.Size()]
		mto := h.LastOffset()
		if h.Attributes&attrCompressionMask == 0 && h.Attributes&attrTimestampType == 0 {
			mto = maxTsOffsetOf(h, bb)
		}
		ns.noteBatch(h, pos, mto, interval)
		pos += h.Size()
	}
	ns.next = max(ns.next, s.next)
	ns.rollAtMs = s.rollAtMs
	if err := ns.flushIndex(ns.entries, true); err != nil {
		ns.release()
		return err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		ns.release()
		return storageErr("syncing directory after compaction", err)
	}
	l.segs[idx] = ns
	s.removed = true
	s.release() // the log's reference; open Slices keep the old inode
	return nil
}

// appendRewritten appends an uncompressed copy of batch h holding only
// recs, keeping the base offset, lastOffsetDelta, timestamps and producer
// fields so offsets and producer state stay as they were.
func appendRewritten(dst []byte, h BatchHeader, orig []byte, recs []Record) []byte {
	start := len(dst)
	dst = append(dst, orig[:batchHeaderLen]...)
	b := dst[start:]
	attrs := uint16(h.Attributes) &^ attrCompressionMask
	binary.BigEndian.PutUint16(b[offAttributes:], attrs)
	binary.BigEndian.PutUint32(b[offNumRecords:], uint32(len(recs)))
	for i := range recs {
		dst = appendRecord(dst, &recs[i])
	}
	finishBatch(dst[start:])
	return dst
}
