// Package hadoopcodec writes (and, for tests, reads) the framing of
// Hadoop's block compression streams (org.apache.hadoop.io.compress.
// BlockCompressorStream), which Hadoop's SnappyCodec uses for .snappy files
// and which Flume's HDFS sink produces with fileType CompressedStream and
// codeC snappy:
//
//	block  int32 uncompressed length of the block
//	       chunks until that many bytes are decoded:
//	         int32 compressed length, then that many bytes of raw
//	         (unframed) snappy
//
// All integers big-endian. A writer emits one chunk per block and at most
// BlockSize uncompressed bytes per block, below the 256 KiB buffer Hadoop's
// SnappyDecompressor holds by default (io.compression.codec.snappy.buffersize).
// The format is Hadoop's and frozen.
package hadoopcodec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/snappy"
)

// BlockSize is the most uncompressed bytes the writer puts in one block.
const BlockSize = 64 << 10

// SnappyExtension is SnappyCodec's default file extension.
const SnappyExtension = ".snappy"

// SnappyWriter compresses into Hadoop's snappy block stream. Not safe for
// concurrent use.
type SnappyWriter struct {
	w   io.Writer
	buf []byte
	enc []byte
}

// NewSnappyWriter returns a writer that writes blocks to w.
func NewSnappyWriter(w io.Writer) *SnappyWriter {
	return &SnappyWriter{w: w, buf: make([]byte, 0, BlockSize)}
}

// Write buffers p, writing a block each time BlockSize bytes are buffered.
func (s *SnappyWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), BlockSize-len(s.buf))
		s.buf = append(s.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(s.buf) == BlockSize {
			if err := s.Flush(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// Flush writes what is buffered as one block (nothing when empty), like
// Hadoop's finish(): after it, the stream ends on a block boundary.
func (s *SnappyWriter) Flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	s.enc = snappy.Encode(s.enc[:cap(s.enc)], s.buf)
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(s.buf)))
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(s.enc)))
	s.buf = s.buf[:0]
	if _, err := s.w.Write(hdr[:]); err != nil {
		return fmt.Errorf("writing snappy block header: %w", err)
	}
	if _, err := s.w.Write(s.enc); err != nil {
		return fmt.Errorf("writing snappy block: %w", err)
	}
	return nil
}

// ErrCorrupt is wrapped by errors about bytes that are not a valid stream.
var ErrCorrupt = errors.New("corrupt hadoop block stream")

// maxBlock bounds the lengths the reader accepts (Hadoop's buffers are far
// smaller), so corrupt input cannot make it allocate without limit.
const maxBlock = 64 << 20

// ReadSnappy decodes a whole snappy block stream.
func ReadSnappy(r io.Reader) ([]byte, error) {
	var out []byte
	_, err := ScanSnappy(r, func(block []byte) { out = append(out, block...) })
	return out, err
}

// ScanSnappy decodes a snappy block stream block by block, calling fn with
// each whole block, and returns the offset just after the last whole block:
// where a stream torn by a crash can be cut. err is nil at a clean end.
func ScanSnappy(r io.Reader, fn func(block []byte)) (end int64, err error) {
	var hdr [4]byte
	var pos int64
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF {
				return end, nil
			}
			return end, fmt.Errorf("reading block length: %w", err)
		}
		pos += 4
		raw := int64(binary.BigEndian.Uint32(hdr[:]))
		if raw > maxBlock {
			return end, fmt.Errorf("block of %d bytes: %w", raw, ErrCorrupt)
		}
		var block []byte
		for int64(len(block)) < raw {
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				return end, fmt.Errorf("reading chunk length: %w", noEOF(err))
			}
			n := int64(binary.BigEndian.Uint32(hdr[:]))
			if n > maxBlock {
				return end, fmt.Errorf("chunk of %d bytes: %w", n, ErrCorrupt)
			}
			chunk, err := io.ReadAll(io.LimitReader(r, n))
			if err != nil {
				return end, err
			}
			if int64(len(chunk)) < n {
				return end, fmt.Errorf("reading chunk: %w", io.ErrUnexpectedEOF)
			}
			pos += 4 + n
			dl, err := snappy.DecodedLen(chunk)
			if err != nil || int64(dl) > raw-int64(len(block)) {
				return end, fmt.Errorf("chunk decodes past its block: %w", ErrCorrupt)
			}
			dec, err := snappy.Decode(nil, chunk)
			if err != nil {
				return end, fmt.Errorf("decoding chunk: %v: %w", err, ErrCorrupt)
			}
			block = append(block, dec...)
		}
		fn(block)
		end = pos
	}
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
