package sink

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/fsutil"
	"github.com/runnel/runnel/internal/hadoopcodec"
	"github.com/runnel/runnel/internal/pathfmt"
	"github.com/runnel/runnel/internal/seqfile"
)

// bucketWriter is one bucket (resolved path + prefix) of the hdfs sink and
// its open file, if any. Every method expects the owning HDFS's mu.
type bucketWriter struct {
	key, dir, name string
	counter        int64 // last file counter used

	f                *os.File
	bw               *bufio.Writer
	cw               countingWriter
	format           fileFormat
	tmpPath          string
	finalPath        string
	opened, lastUsed time.Time
	events           int64
	synced           int64 // file size at the last successful sync
	touched          bool  // part of the batch being delivered
}

// countingWriter counts the bytes written through it: the bytes that reach
// the file, so rollSize counts what is actually written (headers, sync
// markers, compressed bytes).
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// fileFormat writes events in one hdfs.fileType.
type fileFormat interface {
	// begin writes the file header, if any.
	begin(w io.Writer) error
	append(e flow.Event, now time.Time) error
	// sync makes what was appended a readable whole (a SequenceFile sync
	// marker, a finished gzip member) before the file is flushed.
	sync() error
	// end finishes the file.
	end() error
}

func newFormat(set hdfsSettings) fileFormat {
	switch set.fileType {
	case dataStream:
		return &streamFormat{ser: set.ser}
	case compressedStream:
		switch set.codec.Class {
		case seqfile.SnappyCodec.Class:
			return &snappyFormat{streamFormat: streamFormat{ser: set.ser}}
		case seqfile.DefaultCodec.Class:
			return &memberFormat{streamFormat: streamFormat{ser: set.ser}, open: func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) }}
		}
		return &memberFormat{streamFormat: streamFormat{ser: set.ser}, open: func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }}
	}
	return &seqFormat{text: set.textValues, codec: set.codec}
}

// open starts the bucket's next file. It fails if the file exists (the
// counter moves on first).
func (b *bucketWriter) open(set hdfsSettings, now time.Time, wrap func(io.Writer) io.Writer) error {
	var f *os.File
	for range 1000 {
		b.counter++
		full := b.name + "." + strconv.FormatInt(b.counter, 10) + set.suffix
		b.finalPath = filepath.Join(b.dir, full)
		b.tmpPath = filepath.Join(b.dir, set.inUsePrefix+full+set.inUseSuffix)
		// filePrefix or inUsePrefix may hold a '/': Flume then writes a
		// level deeper.
		for _, d := range []string{filepath.Dir(b.finalPath), filepath.Dir(b.tmpPath)} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("creating hdfs sink directory: %w", err)
			}
		}
		if _, err := os.Lstat(b.finalPath); err == nil {
			continue
		}
		var err error
		f, err = os.OpenFile(b.tmpPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("creating hdfs sink file: %w", err)
		}
		break
	}
	if f == nil {
		return fmt.Errorf("creating hdfs sink file in %s: 1000 names taken after %s", b.dir, b.finalPath)
	}
	// Best effort: a filesystem without flock still works, only recovery
	// cannot tell this file from a leftover.
	_ = lockInUse(f)
	b.f = f
	var w io.Writer = f
	if wrap != nil {
		w = wrap(f)
	}
	b.cw = countingWriter{w: w}
	if b.bw == nil {
		b.bw = bufio.NewWriterSize(&b.cw, 64<<10)
	} else {
		b.bw.Reset(&b.cw)
	}
	b.format = newFormat(set)
	b.opened, b.events, b.synced = now, 0, 0
	if err := b.format.begin(b.bw); err != nil {
		return errors.Join(fmt.Errorf("writing header of %s: %w", b.tmpPath, err), b.discard())
	}
	if err := fsutil.SyncDir(filepath.Dir(b.tmpPath)); err != nil {
		return errors.Join(err, b.discard())
	}
	return nil
}

// size is the number of bytes written to the file, buffered or not.
func (b *bucketWriter) size() int64 { return b.cw.n + int64(b.bw.Buffered()) }

func (b *bucketWriter) append(e flow.Event, now time.Time) error {
	if err := b.format.append(e, now); err != nil {
		return err
	}
	b.events++
	return nil
}

func (b *bucketWriter) shouldRoll(set hdfsSettings) bool {
	return (set.rollCount > 0 && b.events >= set.rollCount) || (set.rollSize > 0 && b.size() >= set.rollSize)
}

// sync makes everything appended durable.
func (b *bucketWriter) sync() error {
	if err := b.format.sync(); err != nil {
		return err
	}
	if err := b.bw.Flush(); err != nil {
		return err
	}
	if err := b.f.Sync(); err != nil {
		return err
	}
	b.synced = b.cw.n
	return nil
}

// close finishes, syncs and closes the file (the caller renames it).
func (b *bucketWriter) close() error {
	err := b.format.end()
	if err == nil {
		err = b.sync()
	}
	if cerr := b.f.Close(); err == nil {
		err = cerr
	}
	b.f = nil
	return err
}

// abort cuts the file back to its last sync and closes it; keep reports
// whether anything synced is left (the caller renames it) — otherwise the
// file is removed.
func (b *bucketWriter) abort() (keep bool, err error) {
	f, path := b.f, b.tmpPath
	b.f = nil
	if terr := f.Truncate(b.synced); terr != nil {
		err = fmt.Errorf("cutting %s back to %d bytes after a failed write: %w", path, b.synced, terr)
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if b.synced == 0 {
		return false, errors.Join(err, os.Remove(path))
	}
	return err == nil, err
}

// discard closes and removes a file that was just created.
func (b *bucketWriter) discard() error {
	err := b.f.Close()
	b.f = nil
	return errors.Join(err, os.Remove(b.tmpPath))
}

// renameSynced renames a closed file to its final name and syncs the
// directory, so the rename survives a crash.
func renameSynced(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("renaming closed file: %w", err)
	}
	return fsutil.SyncDir(filepath.Dir(to))
}

// streamFormat is DataStream: serialized events one after another.
type streamFormat struct {
	ser eventSerializer
	w   io.Writer
	buf []byte
}

func (s *streamFormat) begin(w io.Writer) error { s.w = w; return nil }

func (s *streamFormat) append(e flow.Event, _ time.Time) error {
	s.buf = s.ser.Append(s.buf[:0], e)
	_, err := s.w.Write(s.buf)
	return err
}

func (s *streamFormat) sync() error { return nil }
func (s *streamFormat) end() error  { return nil }

// memberFormat is CompressedStream with gzip or default (zlib): every sync
// finishes a compressed stream (a gzip member, a zlib stream) and the next
// append starts another, as Flume finishes its compressor on every flush,
// so the file is whole after each batch; gzip(1) and Hadoop's codecs read
// the concatenation.
type memberFormat struct {
	streamFormat
	open func(io.Writer) io.WriteCloser
	out  io.Writer
	cur  io.WriteCloser
}

func (g *memberFormat) begin(w io.Writer) error { g.out = w; return nil }

func (g *memberFormat) append(e flow.Event, now time.Time) error {
	if g.cur == nil {
		g.cur = g.open(g.out)
		g.w = g.cur
	}
	return g.streamFormat.append(e, now)
}

func (g *memberFormat) sync() error {
	if g.cur == nil {
		return nil
	}
	err := g.cur.Close()
	g.cur = nil
	return err
}

func (g *memberFormat) end() error { return g.sync() }

// snappyFormat is CompressedStream with snappy: Hadoop's block stream
// (internal/hadoopcodec), a block finished on every sync, as Flume finishes
// its compressor on every flush.
type snappyFormat struct {
	streamFormat
	sw *hadoopcodec.SnappyWriter
}

func (s *snappyFormat) begin(w io.Writer) error {
	s.sw = hadoopcodec.NewSnappyWriter(w)
	s.w = s.sw
	return nil
}

func (s *snappyFormat) sync() error { return s.sw.Flush() }
func (s *snappyFormat) end() error  { return s.sw.Flush() }

// seqFormat is SequenceFile: LongWritable keys (the event's timestamp
// header, else the time it was written, as Flume) and BytesWritable or Text
// values (hdfs.writeFormat Writable or Text).
type seqFormat struct {
	text     bool
	codec    *seqfile.Codec // block-compressed when set
	w        *seqfile.Writer
	key, val []byte
}

func (s *seqFormat) begin(w io.Writer) error {
	vc := seqfile.BytesWritable
	if s.text {
		vc = seqfile.Text
	}
	var err error
	if s.codec != nil {
		s.w, err = seqfile.NewBlockWriter(w, *s.codec, seqfile.LongWritable, vc)
	} else {
		s.w, err = seqfile.NewWriter(w, seqfile.LongWritable, vc)
	}
	return err
}

func (s *seqFormat) append(e flow.Event, now time.Time) error {
	ts, err := strconv.ParseInt(e.Headers[pathfmt.TimestampHeader], 10, 64)
	if err != nil {
		ts = now.UnixMilli()
	}
	s.key = seqfile.AppendLong(s.key[:0], ts)
	if s.text {
		s.val = seqfile.AppendText(s.val[:0], e.Body)
	} else {
		s.val = seqfile.AppendBytes(s.val[:0], e.Body)
	}
	return s.w.Append(s.key, s.val)
}

func (s *seqFormat) sync() error { return s.w.Sync() }
func (s *seqFormat) end() error  { return nil }
