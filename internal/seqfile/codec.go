package seqfile

import (
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"

	"github.com/runnel/runnel/internal/hadoopcodec"
)

// Codec is a Hadoop compression codec of block-compressed SequenceFiles:
// every buffer of a block (key lengths, keys, value lengths, values) is one
// independent compressed stream.
type Codec struct {
	// Class is the codec's Hadoop class name, written in the header.
	Class string
	// Extension is the codec's default file extension (Flume appends it to
	// file names when hdfs.fileSuffix is empty).
	Extension  string
	compress   func(dst *bytes.Buffer, src []byte) error
	decompress func(src []byte) (io.Reader, error)
}

// The codecs the writer and reader know.
var (
	// DefaultCodec is zlib (deflate with the zlib header).
	DefaultCodec = Codec{Class: "org.apache.hadoop.io.compress.DefaultCodec", Extension: ".deflate",
		compress: func(dst *bytes.Buffer, src []byte) error {
			zw := zlib.NewWriter(dst)
			if _, err := zw.Write(src); err != nil {
				return err
			}
			return zw.Close()
		},
		decompress: func(src []byte) (io.Reader, error) { return zlib.NewReader(bytes.NewReader(src)) },
	}
	// GzipCodec is one gzip member per buffer.
	GzipCodec = Codec{Class: "org.apache.hadoop.io.compress.GzipCodec", Extension: ".gz",
		compress: func(dst *bytes.Buffer, src []byte) error {
			zw := gzip.NewWriter(dst)
			if _, err := zw.Write(src); err != nil {
				return err
			}
			return zw.Close()
		},
		decompress: func(src []byte) (io.Reader, error) { return gzip.NewReader(bytes.NewReader(src)) },
	}
	// SnappyCodec is Hadoop's snappy block stream (internal/hadoopcodec).
	SnappyCodec = Codec{Class: "org.apache.hadoop.io.compress.SnappyCodec", Extension: hadoopcodec.SnappyExtension,
		compress: func(dst *bytes.Buffer, src []byte) error {
			sw := hadoopcodec.NewSnappyWriter(dst)
			if _, err := sw.Write(src); err != nil {
				return err
			}
			return sw.Flush()
		},
		decompress: func(src []byte) (io.Reader, error) {
			b, err := hadoopcodec.ReadSnappy(bytes.NewReader(src))
			return bytes.NewReader(b), err
		},
	}
)

var codecs = map[string]Codec{DefaultCodec.Class: DefaultCodec, GzipCodec.Class: GzipCodec, SnappyCodec.Class: SnappyCodec}

// CodecByClass returns the codec of a Hadoop class name.
func CodecByClass(class string) (Codec, bool) {
	c, ok := codecs[class]
	return c, ok
}

// maxBuffer bounds a decompressed block buffer (Hadoop's blocks are about
// 1 MB), so a corrupt or hostile file cannot make the reader allocate
// without limit.
const maxBuffer = 256 << 20

func (c Codec) inflate(src []byte) ([]byte, error) {
	r, err := c.decompress(src)
	if err != nil {
		return nil, fmt.Errorf("opening %s buffer: %v: %w", c.Class, err, ErrCorrupt)
	}
	b, err := io.ReadAll(io.LimitReader(r, maxBuffer+1))
	if err != nil {
		return nil, fmt.Errorf("decompressing %s buffer: %v: %w", c.Class, err, ErrCorrupt)
	}
	if len(b) > maxBuffer {
		return nil, fmt.Errorf("%s buffer decompresses past %d bytes: %w", c.Class, maxBuffer, ErrCorrupt)
	}
	return b, nil
}
