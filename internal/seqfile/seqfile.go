// Package seqfile writes and reads Hadoop SequenceFiles (version 6, records
// not compressed), the default file type of Flume's HDFS sink, so files the
// hdfs sink writes on a local or mounted path are readable by Hadoop tools
// (hadoop fs -text, Hive, Spark).
//
// Layout (all integers big-endian; docs/format/sequencefile.md has the
// details):
//
//	header  "SEQ" 0x06
//	        key class name    Text: vint length, UTF-8 bytes
//	        value class name  Text
//	        compressed        1 byte boolean (0 here)
//	        block compressed  1 byte boolean (0 here)
//	        [codec class name Text, only when compressed]
//	        metadata          int32 count, then count pairs of Text
//	        sync marker       16 bytes, random per file
//	record  int32 record length (key + value bytes)
//	        int32 key length
//	        key bytes, value bytes (the classes' Writable serializations)
//	sync    int32 -1, then the file's 16-byte sync marker; written between
//	        records at least every SyncInterval bytes and on Writer.Sync
//
// The format is Hadoop's and frozen; this package writes exactly that.
package seqfile

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Class names of the Writables Flume's HDFS sink uses.
const (
	LongWritable  = "org.apache.hadoop.io.LongWritable"
	BytesWritable = "org.apache.hadoop.io.BytesWritable"
	Text          = "org.apache.hadoop.io.Text"
)

// Format constants; frozen (they are Hadoop's).
const (
	// Version is the SequenceFile version written and read (with metadata).
	Version = 6
	// SyncSize is the length of a sync marker.
	SyncSize = 16
	// SyncInterval is the fewest bytes between sync markers Hadoop's writer
	// keeps (100 * SyncSize).
	SyncInterval = 100 * SyncSize
	syncEscape   = -1
	// MaxRecord bounds a record the reader accepts (1 GiB), so a corrupt
	// length cannot make it allocate without limit.
	MaxRecord = 1 << 30
)

var magic = []byte{'S', 'E', 'Q', Version}

// Writer appends records to a SequenceFile. Not safe for concurrent use.
type Writer struct {
	w        io.Writer
	pos      int64
	lastSync int64
	sync     [SyncSize]byte
	hdr      [8]byte

	// Block compression: records are buffered and written as one block
	// per Sync (or BlockSize buffered bytes).
	codec                        *Codec
	n                            int
	keyLens, keys, valLens, vals []byte
	cbuf                         bytes.Buffer
}

// BlockSize is how many key and value bytes a block-compressed writer
// buffers before it writes a block on its own (Hadoop's
// io.seqfile.compress.blocksize default).
const BlockSize = 1000000

// Pair is one metadata entry.
type Pair struct{ Key, Value string }

// NewWriter writes the header of an uncompressed SequenceFile with the given
// key and value class names to w and returns the writer.
func NewWriter(w io.Writer, keyClass, valueClass string, meta ...Pair) (*Writer, error) {
	var sync [SyncSize]byte
	if _, err := rand.Read(sync[:]); err != nil {
		return nil, fmt.Errorf("making sync marker: %w", err)
	}
	return NewWriterSync(w, sync, keyClass, valueClass, meta...)
}

// NewWriterSync is NewWriter with a given sync marker instead of a random
// one (for byte-exact tests).
func NewWriterSync(w io.Writer, sync [SyncSize]byte, keyClass, valueClass string, meta ...Pair) (*Writer, error) {
	return newWriter(w, sync, keyClass, valueClass, nil, meta)
}

// NewBlockWriter writes the header of a block-compressed SequenceFile
// (what Flume's HDFS sink writes with hdfs.codeC and fileType
// SequenceFile): records are buffered and each Sync writes them as one
// block of four compressed buffers.
func NewBlockWriter(w io.Writer, codec Codec, keyClass, valueClass string, meta ...Pair) (*Writer, error) {
	var sync [SyncSize]byte
	if _, err := rand.Read(sync[:]); err != nil {
		return nil, fmt.Errorf("making sync marker: %w", err)
	}
	return newWriter(w, sync, keyClass, valueClass, &codec, meta)
}

func newWriter(w io.Writer, sync [SyncSize]byte, keyClass, valueClass string, codec *Codec, meta []Pair) (*Writer, error) {
	sw := &Writer{w: w, sync: sync, codec: codec}
	var b []byte
	b = append(b, magic...)
	b = AppendText(b, []byte(keyClass))
	b = AppendText(b, []byte(valueClass))
	if codec == nil {
		b = append(b, 0, 0) // not compressed, not block compressed
	} else {
		b = append(b, 1, 1)
		b = AppendText(b, []byte(codec.Class))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(meta)))
	for _, p := range meta {
		b = AppendText(b, []byte(p.Key))
		b = AppendText(b, []byte(p.Value))
	}
	b = append(b, sw.sync[:]...)
	if err := sw.write(b); err != nil {
		return nil, fmt.Errorf("writing sequence file header: %w", err)
	}
	sw.lastSync = sw.pos
	return sw, nil
}

func (w *Writer) write(b []byte) error {
	n, err := w.w.Write(b)
	w.pos += int64(n)
	return err
}

// Append writes one record of serialized key and value bytes, preceded by a
// sync marker when SyncInterval bytes were written since the last one.
func (w *Writer) Append(key, value []byte) error {
	if w.codec != nil {
		w.keyLens = AppendVLong(w.keyLens, int64(len(key)))
		w.keys = append(w.keys, key...)
		w.valLens = AppendVLong(w.valLens, int64(len(value)))
		w.vals = append(w.vals, value...)
		w.n++
		if len(w.keys)+len(w.vals) >= BlockSize {
			return w.writeBlock()
		}
		return nil
	}
	if w.pos >= w.lastSync+SyncInterval {
		if err := w.writeSync(); err != nil {
			return err
		}
	}
	binary.BigEndian.PutUint32(w.hdr[:4], uint32(len(key)+len(value)))
	binary.BigEndian.PutUint32(w.hdr[4:], uint32(len(key)))
	if err := w.write(w.hdr[:]); err != nil {
		return fmt.Errorf("writing record header: %w", err)
	}
	if err := w.write(key); err != nil {
		return fmt.Errorf("writing record key: %w", err)
	}
	if err := w.write(value); err != nil {
		return fmt.Errorf("writing record value: %w", err)
	}
	return nil
}

// Sync writes a sync marker unless one was just written, as Hadoop's
// Writer.sync; Flume's sink calls it at the end of every batch.
func (w *Writer) Sync() error {
	if w.codec != nil {
		return w.writeBlock()
	}
	if w.pos == w.lastSync {
		return nil
	}
	return w.writeSync()
}

func (w *Writer) writeSync() error {
	var b [4 + SyncSize]byte
	binary.BigEndian.PutUint32(b[:4], uint32(0xffffffff)) // int32 -1
	copy(b[4:], w.sync[:])
	if err := w.write(b[:]); err != nil {
		return fmt.Errorf("writing sync marker: %w", err)
	}
	w.lastSync = w.pos
	return nil
}

// writeBlock writes the buffered records as one block: a sync marker (the
// reader expects one before every block), the record count, then the
// compressed key lengths, keys, value lengths and values, each a vint
// length and the bytes.
func (w *Writer) writeBlock() error {
	if w.n == 0 {
		return nil
	}
	if err := w.writeSync(); err != nil {
		return err
	}
	b := AppendVLong(nil, int64(w.n))
	for _, buf := range [][]byte{w.keyLens, w.keys, w.valLens, w.vals} {
		w.cbuf.Reset()
		if err := w.codec.compress(&w.cbuf, buf); err != nil {
			return fmt.Errorf("compressing block with %s: %w", w.codec.Class, err)
		}
		b = AppendVLong(b, int64(w.cbuf.Len()))
		b = append(b, w.cbuf.Bytes()...)
	}
	if err := w.write(b); err != nil {
		return fmt.Errorf("writing block: %w", err)
	}
	w.n = 0
	w.keyLens, w.keys, w.valLens, w.vals = w.keyLens[:0], w.keys[:0], w.valLens[:0], w.vals[:0]
	return nil
}

// Size is the number of bytes written so far.
func (w *Writer) Size() int64 { return w.pos }

// AppendLong appends a LongWritable: 8 bytes big-endian.
func AppendLong(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

// AppendBytes appends a BytesWritable: int32 length, then the bytes.
func AppendBytes(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// AppendText appends a Text: vint length, then the (UTF-8) bytes.
func AppendText(b, v []byte) []byte {
	b = AppendVLong(b, int64(len(v)))
	return append(b, v...)
}

// AppendVLong appends Hadoop's WritableUtils variable-length long: values in
// [-112, 127] as one byte; otherwise a length byte (-113..-120 for positive
// numbers of 1..8 bytes, -121..-128 for negative ones, stored complemented)
// followed by the big-endian bytes.
func AppendVLong(b []byte, i int64) []byte {
	if i >= -112 && i <= 127 {
		return append(b, byte(i))
	}
	l := int64(-112)
	if i < 0 {
		i = ^i
		l = -120
	}
	for tmp := i; tmp != 0; tmp >>= 8 {
		l--
	}
	b = append(b, byte(l))
	n := -(l + 112)
	if l < -120 {
		n = -(l + 120)
	}
	for idx := n; idx != 0; idx-- {
		b = append(b, byte(i>>((idx-1)*8)))
	}
	return b
}

// ReadVLong reads a WritableUtils variable-length long.
func ReadVLong(r io.ByteReader) (int64, error) {
	first, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	v := int8(first)
	if v >= -112 {
		return int64(v), nil
	}
	n := int(-111 - int(v))
	neg := v < -120
	if neg {
		n = int(-119 - int(v))
	}
	var i int64
	for range n - 1 {
		c, err := r.ReadByte()
		if err != nil {
			return 0, noEOF(err)
		}
		i = i<<8 | int64(c)
	}
	if neg {
		i = ^i
	}
	return i, nil
}

// ErrCorrupt is wrapped by every error about bytes that are not a valid
// SequenceFile.
var ErrCorrupt = errors.New("corrupt sequence file")

// ErrUnsupported is wrapped when a valid SequenceFile uses something this
// reader does not read (compression, another version).
var ErrUnsupported = errors.New("unsupported sequence file")

// Reader reads records of an uncompressed version-6 SequenceFile.
type Reader struct {
	KeyClass   string
	ValueClass string
	Metadata   []Pair
	Sync       [SyncSize]byte
	r          *bufio.Reader
	cr         *countReader
	n          int64 // records read
	end        int64 // offset after the last whole record (or the header)

	// Block-compressed files: the current block's decompressed buffers and
	// how many of its records are left.
	codec                        *Codec
	left                         int64
	blockEnd                     int64
	keyLens, keys, valLens, vals sliceReader
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Offset is the file offset just after the last whole record Next returned
// (after the header before the first): where a torn file can be cut.
func (r *Reader) Offset() int64 { return r.end }

func (r *Reader) pos() int64 { return r.cr.n - int64(r.r.Buffered()) }

// NewReader reads the header from r.
func NewReader(r io.Reader) (*Reader, error) {
	cr := &countReader{r: r}
	sr := &Reader{r: bufio.NewReader(cr), cr: cr}
	var m [4]byte
	if _, err := io.ReadFull(sr.r, m[:]); err != nil {
		return nil, fmt.Errorf("reading sequence file magic: %w", noEOF(err))
	}
	if string(m[:3]) != "SEQ" {
		return nil, fmt.Errorf("reading sequence file magic %q: %w", m[:3], ErrCorrupt)
	}
	if m[3] != Version {
		return nil, fmt.Errorf("sequence file version %d (only %d is read): %w", m[3], Version, ErrUnsupported)
	}
	var err error
	if sr.KeyClass, err = sr.readText("key class"); err != nil {
		return nil, err
	}
	if sr.ValueClass, err = sr.readText("value class"); err != nil {
		return nil, err
	}
	var flags [2]byte
	if _, err := io.ReadFull(sr.r, flags[:]); err != nil {
		return nil, fmt.Errorf("reading compression flags: %w", noEOF(err))
	}
	switch {
	case flags[0] > 1 || flags[1] > 1 || (flags[0] == 0 && flags[1] == 1):
		return nil, fmt.Errorf("compression flags %v: %w", flags, ErrCorrupt)
	case flags[0] == 1 && flags[1] == 0:
		return nil, fmt.Errorf("record-compressed sequence file: %w", ErrUnsupported)
	case flags[0] == 1:
		class, err := sr.readText("codec class")
		if err != nil {
			return nil, err
		}
		c, ok := CodecByClass(class)
		if !ok {
			return nil, fmt.Errorf("codec %s: %w", class, ErrUnsupported)
		}
		sr.codec = &c
	}
	var cnt [4]byte
	if _, err := io.ReadFull(sr.r, cnt[:]); err != nil {
		return nil, fmt.Errorf("reading metadata count: %w", noEOF(err))
	}
	count := int32(binary.BigEndian.Uint32(cnt[:]))
	if count < 0 || count > 1<<16 {
		return nil, fmt.Errorf("metadata count %d: %w", count, ErrCorrupt)
	}
	for range count {
		k, err := sr.readText("metadata key")
		if err != nil {
			return nil, err
		}
		v, err := sr.readText("metadata value")
		if err != nil {
			return nil, err
		}
		sr.Metadata = append(sr.Metadata, Pair{k, v})
	}
	if _, err := io.ReadFull(sr.r, sr.Sync[:]); err != nil {
		return nil, fmt.Errorf("reading sync marker: %w", noEOF(err))
	}
	sr.end = sr.pos()
	return sr, nil
}

func (r *Reader) readText(what string) (string, error) {
	n, err := ReadVLong(r.r)
	if err != nil {
		return "", fmt.Errorf("reading %s length: %w", what, noEOF(err))
	}
	if n < 0 || n > 1<<20 {
		return "", fmt.Errorf("%s length %d: %w", what, n, ErrCorrupt)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r.r, b); err != nil {
		return "", fmt.Errorf("reading %s: %w", what, noEOF(err))
	}
	return string(b), nil
}

// Next returns the next record's serialized key and value, or io.EOF after
// the last one. A file cut inside a record returns an error wrapping
// io.ErrUnexpectedEOF.
func (r *Reader) Next() (key, value []byte, err error) {
	if r.codec != nil {
		return r.nextInBlock()
	}
	var h [4]byte
	for {
		if _, err := io.ReadFull(r.r, h[:]); err != nil {
			if err == io.EOF {
				return nil, nil, io.EOF
			}
			return nil, nil, fmt.Errorf("reading record %d length: %w", r.n, noEOF(err))
		}
		if int32(binary.BigEndian.Uint32(h[:])) != syncEscape {
			break
		}
		var s [SyncSize]byte
		if _, err := io.ReadFull(r.r, s[:]); err != nil {
			return nil, nil, fmt.Errorf("reading sync marker before record %d: %w", r.n, noEOF(err))
		}
		if s != r.Sync {
			return nil, nil, fmt.Errorf("sync marker before record %d differs from the header's: %w", r.n, ErrCorrupt)
		}
	}
	recLen := int32(binary.BigEndian.Uint32(h[:]))
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		return nil, nil, fmt.Errorf("reading record %d key length: %w", r.n, noEOF(err))
	}
	keyLen := int32(binary.BigEndian.Uint32(h[:]))
	if recLen < 0 || recLen > MaxRecord || keyLen < 0 || keyLen > recLen {
		return nil, nil, fmt.Errorf("record %d: length %d, key length %d: %w", r.n, recLen, keyLen, ErrCorrupt)
	}
	// Grow with the bytes actually there rather than trusting the length.
	buf, err := io.ReadAll(io.LimitReader(r.r, int64(recLen)))
	if err != nil {
		return nil, nil, fmt.Errorf("reading record %d: %w", r.n, err)
	}
	if len(buf) < int(recLen) {
		return nil, nil, fmt.Errorf("reading record %d: %w", r.n, io.ErrUnexpectedEOF)
	}
	r.n++
	r.end = r.pos()
	return buf[:keyLen:keyLen], buf[keyLen:], nil
}

// Long decodes a LongWritable.
func Long(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("LongWritable of %d bytes, want 8: %w", len(b), ErrCorrupt)
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// Bytes decodes a BytesWritable.
func Bytes(b []byte) ([]byte, error) {
	if len(b) < 4 || int64(binary.BigEndian.Uint32(b)) != int64(len(b)-4) {
		return nil, fmt.Errorf("BytesWritable length prefix does not match its %d bytes: %w", len(b), ErrCorrupt)
	}
	return b[4:], nil
}

// TextBytes decodes a Text.
func TextBytes(b []byte) ([]byte, error) {
	br := &sliceReader{b: b}
	n, err := ReadVLong(br)
	if err != nil || n != int64(len(b)-br.i) {
		return nil, fmt.Errorf("Text length prefix does not match its %d bytes: %w", len(b), ErrCorrupt)
	}
	return b[br.i:], nil
}

type sliceReader struct {
	b []byte
	i int
}

func (s *sliceReader) ReadByte() (byte, error) {
	if s.i >= len(s.b) {
		return 0, io.ErrUnexpectedEOF
	}
	s.i++
	return s.b[s.i-1], nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Codec returns the codec of a block-compressed file (nil: uncompressed).
func (r *Reader) Codec() *Codec { return r.codec }

// nextInBlock returns the next record of a block-compressed file, reading
// the next block when the current one is used up.
func (r *Reader) nextInBlock() ([]byte, []byte, error) {
	for r.left == 0 {
		if err := r.readBlock(); err != nil {
			return nil, nil, err
		}
	}
	kl, err := ReadVLong(&r.keyLens)
	if err != nil || kl < 0 || kl > int64(len(r.keys.b)-r.keys.i) {
		return nil, nil, fmt.Errorf("record %d: key length does not fit its block: %w", r.n, ErrCorrupt)
	}
	vl, err := ReadVLong(&r.valLens)
	if err != nil || vl < 0 || vl > int64(len(r.vals.b)-r.vals.i) {
		return nil, nil, fmt.Errorf("record %d: value length does not fit its block: %w", r.n, ErrCorrupt)
	}
	key := r.keys.b[r.keys.i : r.keys.i+int(kl) : r.keys.i+int(kl)]
	val := r.vals.b[r.vals.i : r.vals.i+int(vl) : r.vals.i+int(vl)]
	r.keys.i += int(kl)
	r.vals.i += int(vl)
	r.n++
	if r.left--; r.left == 0 {
		r.end = r.blockEnd
	}
	return key, val, nil
}

// readBlock reads a sync marker, the record count and the four compressed
// buffers of the next block.
func (r *Reader) readBlock() error {
	var h [4]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		if err == io.EOF {
			return io.EOF
		}
		return fmt.Errorf("reading block %d sync: %w", r.n, noEOF(err))
	}
	if int32(binary.BigEndian.Uint32(h[:])) != syncEscape {
		return fmt.Errorf("block before record %d does not start with a sync marker: %w", r.n, ErrCorrupt)
	}
	var s [SyncSize]byte
	if _, err := io.ReadFull(r.r, s[:]); err != nil {
		return fmt.Errorf("reading sync marker before record %d: %w", r.n, noEOF(err))
	}
	if s != r.Sync {
		return fmt.Errorf("sync marker before record %d differs from the header's: %w", r.n, ErrCorrupt)
	}
	count, err := ReadVLong(r.r)
	if err != nil {
		return fmt.Errorf("reading block record count: %w", noEOF(err))
	}
	if count < 0 || count > MaxRecord {
		return fmt.Errorf("block of %d records: %w", count, ErrCorrupt)
	}
	for _, buf := range []*sliceReader{&r.keyLens, &r.keys, &r.valLens, &r.vals} {
		n, err := ReadVLong(r.r)
		if err != nil {
			return fmt.Errorf("reading block buffer length: %w", noEOF(err))
		}
		if n < 0 || n > MaxRecord {
			return fmt.Errorf("block buffer of %d bytes: %w", n, ErrCorrupt)
		}
		raw, err := io.ReadAll(io.LimitReader(r.r, n))
		if err != nil {
			return fmt.Errorf("reading block buffer: %w", err)
		}
		if int64(len(raw)) < n {
			return fmt.Errorf("reading block buffer: %w", io.ErrUnexpectedEOF)
		}
		b, err := r.codec.inflate(raw)
		if err != nil {
			return err
		}
		*buf = sliceReader{b: b}
	}
	r.left, r.blockEnd = count, r.pos()
	if count == 0 {
		r.end = r.blockEnd
	}
	return nil
}
