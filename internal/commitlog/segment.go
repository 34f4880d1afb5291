package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/runnel/runnel/internal/fsutil"
)

// File name suffixes (frozen: Kafka's layout).
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	cleanedSuffix   = ".cleaned"
	tmpSuffix       = ".tmp"

	indexEntrySize     = 8  // relative offset uint32, position uint32
	timeIndexEntrySize = 12 // timestamp int64, relative offset uint32
)

// segmentName is the 20-digit zero-padded base offset Kafka uses.
func segmentName(base int64) string { return fmt.Sprintf("%020d", base) }

// indexEntry is one sparse index slot: the batch starting at file position
// pos has base offset base+rel; maxTs is the largest timestamp in the
// segment up to and including that batch, found at offset base+maxTsRel.
type indexEntry struct {
	rel      uint32
	pos      uint32
	maxTs    int64
	maxTsRel uint32
}

// segment is one .log file with its in-memory sparse index. Fields below
// "guarded by Log.mu" change only with the log's write lock held; the file
// handle and base are immutable.
type segment struct {
	base int64
	path string // .log path
	file fsutil.File
	fs   fsutil.FS
	refs atomic.Int32 // the log's reference plus one per open Slice

	// guarded by Log.mu
	size            int64
	next            int64 // offset after the last batch (base when empty)
	maxTs           int64 // -1 when no batch
	maxTsOff        int64
	rollAtMs        int64        // time reference for segment.ms
	entries         []indexEntry // append-only while the segment is live
	bytesSinceIndex int64
	removed         bool

	idxMu          sync.Mutex // guards the index files and the two fields below
	flushedEntries int        // entries already in the .index/.timeindex files
	indexStale     bool       // index files hold entries not in memory
}

func (s *segment) indexPath() string     { return trimLog(s.path) + indexSuffix }
func (s *segment) timeIndexPath() string { return trimLog(s.path) + timeIndexSuffix }
func trimLog(p string) string            { return p[:len(p)-len(logSuffix)] }

// acquire takes a reference that keeps the file open.
func (s *segment) acquire() { s.refs.Add(1) }

// release drops a reference; the last one closes the file.
func (s *segment) release() {
	if s.refs.Add(-1) == 0 {
		_ = s.file.Close()
	}
}

func openSegmentFile(fs fsutil.FS, dir string, base int64, create bool) (*segment, error) {
	p := filepath.Join(dir, segmentName(base)+logSuffix)
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE | os.O_TRUNC // a leftover of a failed roll holds nothing valid
	}
	f, err := fs.OpenFile(p, flag, 0o644)
	if err != nil {
		return nil, storageErr("opening segment "+filepath.Base(p), err)
	}
	s := &segment{base: base, path: p, file: f, fs: fs, next: base, maxTs: -1, maxTsOff: -1}
	s.refs.Store(1)
	if !create {
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, storageErr("reading size of segment "+filepath.Base(p), err)
		}
		s.size = st.Size()
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, storageErr("seeking to end of segment "+filepath.Base(p), err)
	}
	return s, nil
}

// readHeader reads the header of the batch at pos, which must end at or
// before limit.
func (s *segment) readHeader(pos, limit int64, buf *[batchHeaderLen]byte) (BatchHeader, error) {
	if limit-pos < batchHeaderLen {
		return BatchHeader{}, &CorruptionError{Segment: filepath.Base(s.path), Position: pos, Err: io.ErrUnexpectedEOF}
	}
	if _, err := s.file.ReadAt(buf[:], pos); err != nil {
		return BatchHeader{}, storageErr("reading batch header in "+filepath.Base(s.path), err)
	}
	h, err := ParseBatchHeader(buf[:])
	if err != nil {
		return h, &CorruptionError{Segment: filepath.Base(s.path), Position: pos, Err: err}
	}
	if pos+h.Size() > limit {
		return h, &CorruptionError{Segment: filepath.Base(s.path), Position: pos, Err: io.ErrUnexpectedEOF}
	}
	return h, nil
}

// lookup returns the file position of the last indexed batch whose base
// offset is <= off (0 when none). Caller holds Log.mu (read or write).
func (s *segment) lookup(off int64) int64 {
	rel := off - s.base
	i := sort.Search(len(s.entries), func(i int) bool { return int64(s.entries[i].rel) > rel })
	if i == 0 {
		return 0
	}
	return int64(s.entries[i-1].pos)
}

// noteBatch updates the segment's in-memory state for a batch written at
// pos. Caller holds Log.mu for writing.
func (s *segment) noteBatch(h BatchHeader, pos int64, maxTsOff int64, interval int32) {
	size := h.Size()
	if h.MaxTimestamp > s.maxTs || s.maxTs < 0 {
		s.maxTs, s.maxTsOff = h.MaxTimestamp, maxTsOff
	}
	if s.bytesSinceIndex >= int64(interval) && pos > 0 {
		s.entries = append(s.entries, indexEntry{
			rel: uint32(h.BaseOffset - s.base), pos: uint32(pos),
			maxTs: s.maxTs, maxTsRel: uint32(s.maxTsOff - s.base),
		})
		s.bytesSinceIndex = 0
	}
	s.bytesSinceIndex += size
	s.size = pos + size
	s.next = h.LastOffset() + 1
}

// flushIndex appends the entries of all (a snapshot of s.entries taken
// under Log.mu) not yet in the .index and .timeindex files, rewriting the
// files when rewrite is set or they are stale, and fsyncs them. It takes
// s.idxMu, so callers may or may not hold Log.mu.
func (s *segment) flushIndex(all []indexEntry, rewrite bool) error {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	from := s.flushedEntries
	if rewrite || s.indexStale {
		from = 0
	}
	if from >= len(all) && !rewrite && !s.indexStale {
		return nil
	}
	ents := all[from:]
	ib := make([]byte, 0, len(ents)*indexEntrySize)
	tb := make([]byte, 0, len(ents)*timeIndexEntrySize)
	for _, e := range ents {
		ib = binary.BigEndian.AppendUint32(ib, e.rel)
		ib = binary.BigEndian.AppendUint32(ib, e.pos)
		tb = binary.BigEndian.AppendUint64(tb, uint64(e.maxTs))
		tb = binary.BigEndian.AppendUint32(tb, e.maxTsRel)
	}
	if err := writeAt(s.fs, s.indexPath(), int64(from)*indexEntrySize, ib); err != nil {
		return err
	}
	if err := writeAt(s.fs, s.timeIndexPath(), int64(from)*timeIndexEntrySize, tb); err != nil {
		return err
	}
	s.flushedEntries, s.indexStale = len(all), false
	return nil
}

// writeAt truncates the file at path to off, appends b and fsyncs.
func writeAt(fs fsutil.FS, path string, off int64, b []byte) error {
	f, err := fs.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return storageErr("opening index "+filepath.Base(path), err)
	}
	err = f.Truncate(off)
	if err == nil {
		_, err = f.Seek(off, io.SeekStart)
	}
	if err == nil {
		_, err = f.Write(b)
	}
	if err == nil {
		err = f.Datasync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return storageErr("writing index "+filepath.Base(path), err)
}

// loadIndex reads the segment's index files, keeping entries that point
// below limit. It reports false when the files are missing or inconsistent
// and the segment must be rescanned instead.
func (s *segment) loadIndex(limit int64) (ok bool, err error) {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	defer func() {
		if !ok { // whatever the files hold is not trusted: rewrite them
			s.entries, s.flushedEntries, s.indexStale = nil, 0, true
		}
	}()
	ib, err := readWhole(s.fs, s.indexPath())
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, storageErr("reading index of "+filepath.Base(s.path), err)
	}
	tb, err := readWhole(s.fs, s.timeIndexPath())
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, storageErr("reading time index of "+filepath.Base(s.path), err)
	}
	if len(ib)%indexEntrySize != 0 || len(tb)%timeIndexEntrySize != 0 || len(ib)/indexEntrySize != len(tb)/timeIndexEntrySize {
		return false, nil
	}
	n := len(ib) / indexEntrySize
	ents := make([]indexEntry, 0, n)
	var prev indexEntry
	for i := range n {
		e := indexEntry{
			rel:      binary.BigEndian.Uint32(ib[i*indexEntrySize:]),
			pos:      binary.BigEndian.Uint32(ib[i*indexEntrySize+4:]),
			maxTs:    int64(binary.BigEndian.Uint64(tb[i*timeIndexEntrySize:])),
			maxTsRel: binary.BigEndian.Uint32(tb[i*timeIndexEntrySize+8:]),
		}
		if int64(e.pos) >= limit {
			break
		}
		if i > 0 && (e.rel <= prev.rel || e.pos <= prev.pos || e.maxTs < prev.maxTs) || e.pos == 0 {
			return false, nil
		}
		ents = append(ents, e)
		prev = e
	}
	// The last entry must point at a batch with the recorded base offset.
	if len(ents) > 0 {
		var buf [batchHeaderLen]byte
		last := ents[len(ents)-1]
		h, err := s.readHeader(int64(last.pos), limit, &buf)
		if err != nil || h.BaseOffset != s.base+int64(last.rel) {
			return false, nil
		}
	}
	s.entries = ents
	s.flushedEntries = len(ents)
	if len(ents) < n { // the files hold entries past limit: rewrite on next flush
		s.flushedEntries, s.indexStale = 0, true
	}
	return true, nil
}

func readWhole(fs fsutil.FS, path string) ([]byte, error) {
	f, err := fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b, nil
}

// removeFiles unlinks the segment's files; open Slices keep reading the
// unlinked inode until they close.
func (s *segment) removeFiles() error {
	var errs []error
	for _, p := range []string{s.path, s.indexPath(), s.timeIndexPath()} {
		if err := s.fs.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return storageErr("removing segment "+filepath.Base(s.path), errors.Join(errs...))
}
