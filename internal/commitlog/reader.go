package commitlog

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
)

// Slice is a byte range of one segment holding whole batches. It pins the
// segment's file until Close, so retention or compaction cannot pull the
// bytes away while they are being sent.
type Slice struct {
	seg    *segment
	pos, n int64
	closed bool
}

// Len is the number of bytes in the slice.
func (s *Slice) Len() int64 { return s.n }

// AppendTo preads the bytes and appends them to dst.
func (s *Slice) AppendTo(dst []byte) ([]byte, error) {
	if s.n == 0 {
		return dst, nil
	}
	if s.closed {
		return dst, ErrClosed
	}
	l := len(dst)
	dst = append(dst, make([]byte, s.n)...)
	if _, err := s.seg.file.ReadAt(dst[l:], s.pos); err != nil {
		return dst[:l], storageErr("reading segment "+s.seg.path, err)
	}
	return dst, nil
}

// WriteTo writes the bytes to w, with sendfile(2) when w is a *net.TCPConn.
func (s *Slice) WriteTo(w io.Writer) (int64, error) {
	if s.n == 0 {
		return 0, nil
	}
	if s.closed {
		return 0, ErrClosed
	}
	if tc, ok := w.(*net.TCPConn); ok {
		return sendfile(tc, s.seg.file.Fd(), s.pos, s.n)
	}
	return io.Copy(w, io.NewSectionReader(s.seg.file, s.pos, s.n))
}

// Close releases the segment.
func (s *Slice) Close() error {
	if s.closed || s.seg == nil {
		s.closed = true
		return nil
	}
	s.closed = true
	s.seg.release()
	return nil
}

// Read returns whole batches starting at the batch that contains offset, up
// to maxBytes but always at least one whole batch when one exists there.
// offset == LogEndOffset returns an empty Slice; offsets outside
// [LogStartOffset, LogEndOffset] are ErrOffsetOutOfRange.
func (l *Log) Read(offset int64, maxBytes int32) (*Slice, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, ErrClosed
	}
	if l.failed {
		return nil, fmt.Errorf("reading offset %d: the log failed to sync and is not rolled back yet: %w", offset, ErrStorage)
	}
	start, end := l.logStart.Load(), l.next.Load()
	if offset < start || offset > end {
		return nil, fmt.Errorf("reading offset %d of log [%d, %d]: %w", offset, start, end, ErrOffsetOutOfRange)
	}
	// The segment holding offset is the last with base <= offset; when
	// compaction left a gap at its end, the batch is in a later segment.
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset }) - 1
	if i < 0 {
		i = 0
	}
	for ; i < len(l.segs); i++ {
		seg := l.segs[i]
		pos, h, found, err := findBatch(seg, offset)
		if err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		n, err := extendRead(seg, pos, h, maxBytes)
		if err != nil {
			return nil, err
		}
		seg.acquire()
		return &Slice{seg: seg, pos: pos, n: n}, nil
	}
	return &Slice{}, nil
}

// findBatch finds the first batch in seg whose last offset is >= offset.
// Caller holds Log.mu.
func findBatch(seg *segment, offset int64) (int64, BatchHeader, bool, error) {
	if offset >= seg.next || seg.size == 0 {
		return 0, BatchHeader{}, false, nil
	}
	pos := seg.lookup(offset)
	var hb [batchHeaderLen]byte
	for pos < seg.size {
		h, err := seg.readHeader(pos, seg.size, &hb)
		if err != nil {
			return 0, h, false, fmt.Errorf("reading offset %d: %w", offset, err)
		}
		if h.LastOffset() >= offset {
			return pos, h, true, nil
		}
		pos += h.Size()
	}
	return 0, BatchHeader{}, false, nil
}

// extendRead returns how many bytes from pos (where batch h starts) hold
// whole batches within maxBytes, at least h. It jumps with the index to the
// last indexed batch boundary within the limit and walks headers from there.
// Caller holds Log.mu.
func extendRead(seg *segment, pos int64, h BatchHeader, maxBytes int32) (int64, error) {
	end := pos + h.Size()
	limit := pos + int64(max(maxBytes, 0))
	if limit > seg.size {
		limit = seg.size
	}
	if end >= limit {
		return end - pos, nil
	}
	// Last index entry at or below limit is a batch boundary.
	j := sort.Search(len(seg.entries), func(j int) bool { return int64(seg.entries[j].pos) > limit }) - 1
	if j >= 0 && int64(seg.entries[j].pos) > end {
		end = int64(seg.entries[j].pos)
	}
	var hb [batchHeaderLen]byte
	for end < limit {
		nh, err := seg.readHeader(end, seg.size, &hb)
		if err != nil {
			return 0, fmt.Errorf("reading batches after position %d: %w", pos, err)
		}
		if end+nh.Size() > limit {
			break
		}
		end += nh.Size()
	}
	return end - pos, nil
}

// OffsetForTimestamp returns the first offset whose record timestamp is >=
// ts and that record's timestamp; (-1, -1, nil) when there is none.
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return -1, -1, ErrClosed
	}
	start := l.logStart.Load()
	for _, seg := range l.segs {
		if seg.next <= start || seg.maxTs < ts || seg.size == 0 {
			continue
		}
		// Last index slot whose max-so-far is still below ts: every batch
		// up to it is too old, so the scan starts there.
		pos := int64(0)
		j := sort.Search(len(seg.entries), func(j int) bool { return seg.entries[j].maxTs >= ts }) - 1
		if j >= 0 {
			pos = int64(seg.entries[j].pos)
		}
		var hb [batchHeaderLen]byte
		for pos < seg.size {
			h, err := seg.readHeader(pos, seg.size, &hb)
			if err != nil {
				return -1, -1, err
			}
			if h.MaxTimestamp >= ts && h.LastOffset() >= start {
				off, rts, found, err := recordAtOrAfter(seg, pos, h, ts, start)
				if err != nil {
					return -1, -1, err
				}
				if found {
					return off, rts, nil
				}
			}
			pos += h.Size()
		}
	}
	return -1, -1, nil
}

// recordAtOrAfter finds the first record in the batch at pos with
// timestamp >= ts and offset >= minOff.
func recordAtOrAfter(seg *segment, pos int64, h BatchHeader, ts, minOff int64) (int64, int64, bool, error) {
	if h.Attributes&attrTimestampType != 0 {
		off := max(h.BaseOffset, minOff)
		return off, h.MaxTimestamp, true, nil
	}
	b := make([]byte, h.Size())
	if _, err := seg.file.ReadAt(b, pos); err != nil {
		return 0, 0, false, storageErr("reading batch for timestamp lookup", err)
	}
	var found bool
	var off, rts int64
	err := forEachRecord(h, b, func(r *Record) bool {
		t := h.FirstTimestamp + r.TimestampDelta
		o := h.BaseOffset + int64(r.OffsetDelta)
		if t >= ts && o >= minOff {
			off, rts, found = o, t, true
			return false
		}
		return true
	})
	if err != nil {
		return 0, 0, false, err
	}
	return off, rts, found, nil
}

// recordsBytes returns the (decompressed) records section of batch b.
func recordsBytes(h BatchHeader, b []byte) ([]byte, error) {
	raw := b[batchHeaderLen:]
	codec := h.Attributes & attrCompressionMask
	if codec == 0 {
		return raw, nil
	}
	out, err := decompress(codec, raw)
	if err != nil {
		return nil, fmt.Errorf("decompressing batch at offset %d (codec %d): %w", h.BaseOffset, codec, errors.Join(ErrCorrupt, err))
	}
	return out, nil
}

// forEachRecord calls fn for every record of batch b until fn returns false.
func forEachRecord(h BatchHeader, b []byte, fn func(*Record) bool) error {
	rest, err := recordsBytes(h, b)
	if err != nil {
		return err
	}
	var r Record
	for i := int32(0); i < h.NumRecords; i++ {
		if rest, err = readRecord(rest, &r); err != nil {
			return fmt.Errorf("record %d of batch at offset %d: %w", i, h.BaseOffset, err)
		}
		if !fn(&r) {
			return nil
		}
	}
	return nil
}
