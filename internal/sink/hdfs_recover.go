package sink

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"

	"github.com/runnel/runnel/internal/hadoopcodec"
	"github.com/runnel/runnel/internal/seqfile"
)

// recoverInUse finishes the in-use files a crashed run left behind, which
// Flume leaves in place: under the fixed part of hdfs.path (up to its first
// escape), every file named <inUsePrefix><prefix>.<counter><suffix><inUseSuffix>
// is cut back to its last whole record (a SequenceFile's last complete
// record or block, a text stream's last newline, a compressed stream's last
// whole gzip member, zlib stream or snappy block) and
// renamed to its final name; a file left empty is removed. Nothing is done
// when in-use files cannot be told apart (no inUsePrefix and no
// inUseSuffix). Expects s.mu.
func (s *HDFS) recoverInUse() {
	set := s.set
	if set.inUsePrefix == "" && set.inUseSuffix == "" {
		return
	}
	root, depth := set.root, 0
	if i := strings.IndexByte(root, '%'); i >= 0 {
		root = filepath.Dir(root[:i] + "x")
		// Directories the escapes make: one per '/' after the root, two
		// more per %D (mm/dd/yy), and some room for headers holding '/'.
		rest := set.root[len(root):]
		depth = strings.Count(rest, "/") + 2*strings.Count(rest, "%D") + 2
	}
	if filepath.Clean(root) == "/" {
		s.cfg.Log().Warn("hdfs.path has an escape right under /; leftover in-use files are not looked for", "path", set.root)
		return
	}
	root = filepath.Clean(root)
	rootDepth := strings.Count(root, string(filepath.Separator))
	prefix := ".*"
	if set.prefix.IsStatic() {
		if p, err := set.prefix.Expand(nil, s.now()); err == nil {
			prefix = regexp.QuoteMeta(p)
		}
	}
	re := regexp.MustCompile("^" + regexp.QuoteMeta(set.inUsePrefix) + "(" + prefix + `\.[0-9]+` + regexp.QuoteMeta(set.suffix) + ")" + regexp.QuoteMeta(set.inUseSuffix) + "$")
	log := s.cfg.Log()
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a missing root: nothing to recover
		}
		if d.IsDir() {
			if strings.Count(filepath.Clean(path), string(filepath.Separator))-rootDepth > depth {
				return filepath.SkipDir
			}
			return nil
		}
		m := re.FindStringSubmatch(d.Name())
		if m == nil {
			return nil
		}
		final := filepath.Join(filepath.Dir(path), m[1])
		if _, err := os.Lstat(final); err == nil {
			log.Warn("leftover in-use file has a finished twin; left alone", "file", path)
			return nil
		}
		size, err := s.recoverFile(path)
		switch {
		case errors.Is(err, errInUse):
			log.Info("in-use file is being written by another running sink; left alone", "file", path)
			return nil
		case err != nil:
			log.Warn("recovering leftover in-use file", "file", path, "err", err)
		case size == 0:
			err = os.Remove(path)
		default:
			err = renameSynced(path, final)
		}
		if err != nil {
			log.Warn("finishing leftover in-use file", "file", path, "err", err)
			return nil
		}
		log.Info("finished leftover in-use file from an earlier run", "file", path, "bytes", size)
		return nil
	})
}

// recoverFile cuts path back to its last whole record and returns its size.
func (s *HDFS) recoverFile(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := lockInUse(f); errors.Is(err, errInUse) {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end := st.Size()
	switch s.set.fileType {
	case sequenceFile:
		r, err := seqfile.NewReader(f)
		if err != nil {
			end = 0 // not even a whole header
			break
		}
		for {
			if _, _, err := r.Next(); err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					return 0, fmt.Errorf("reading %s: %w", path, err)
				}
				break
			}
		}
		end = r.Offset()
	case compressedStream:
		end = compressedEnd(f, s.set.codec.Class)
	case dataStream:
		if !s.set.ser.newline {
			break
		}
		if end, err = lastNewlineEnd(f, end); err != nil {
			return 0, err
		}
	}
	if end != st.Size() {
		if err := f.Truncate(end); err != nil {
			return 0, err
		}
	}
	return end, f.Sync()
}

// lastNewlineEnd returns the offset just after the last '\n' of the first
// size bytes of f (0 if none), reading backwards in chunks.
func lastNewlineEnd(f io.ReaderAt, size int64) (int64, error) {
	buf := make([]byte, 64<<10)
	for end := size; end > 0; {
		start := max(0, end-int64(len(buf)))
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

// compressedEnd returns the offset after the last whole gzip member, zlib
// stream or snappy block of r (CompressedStream files end one per batch).
func compressedEnd(r io.Reader, class string) int64 {
	cr := &countingByteReader{r: bufio.NewReaderSize(r, 64<<10)}
	if class == seqfile.SnappyCodec.Class {
		end, _ := hadoopcodec.ScanSnappy(cr, func([]byte) {})
		return end
	}
	var end int64
	for {
		if _, err := cr.r.Peek(1); err != nil {
			return end // clean end of the file
		}
		var zr io.Reader
		var err error
		if class == seqfile.DefaultCodec.Class {
			zr, err = zlib.NewReader(cr)
		} else {
			var g *gzip.Reader
			if g, err = gzip.NewReader(cr); err == nil {
				g.Multistream(false)
				zr = g
			}
		}
		if err != nil {
			return end
		}
		if _, err := io.Copy(io.Discard, zr); err != nil {
			return end
		}
		end = cr.n
	}
}

// countingByteReader counts the bytes consumed from r. It is an
// io.ByteReader, so the decompressors read exactly up to the end of a
// stream instead of buffering past it.
type countingByteReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingByteReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingByteReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// errInUse is returned by lockInUse when another open file holds the lock.
var errInUse = errors.New("file is locked by a running writer")
