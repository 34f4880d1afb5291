package commitlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Compression codecs in the batch attributes (frozen: Kafka's values).
const (
	codecNone   = 0
	codecGzip   = 1
	codecSnappy = 2
	codecLz4    = 3
	codecZstd   = 4
)

// decompressLimit bounds how large one batch's records may decompress to,
// so a small hostile batch cannot expand into gigabytes when compaction or
// a timestamp lookup reads it. Tests lower it.
var decompressLimit = 256 << 20

var errTooBig = errors.New("decompressed records exceed the limit")

var zstdDec = sync.OnceValue(func() *zstd.Decoder {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(2), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxMemory(uint64(decompressLimit)))
	if err != nil {
		panic(fmt.Sprintf("creating zstd decoder: %v", err))
	}
	return d
})

// xerialMagic starts snappy data framed the way the Java client writes it.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// decompress returns the records section of a batch compressed with codec.
func decompress(codec int16, src []byte) ([]byte, error) {
	limit := decompressLimit
	switch codec {
	case codecGzip:
		r, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, err
		}
		return readLimited(r, limit)
	case codecSnappy:
		if len(src) >= 16 && bytes.HasPrefix(src, xerialMagic) {
			return xerialDecode(src[16:], limit)
		}
		return snappyDecode(nil, src, limit)
	case codecLz4:
		return readLimited(lz4.NewReader(bytes.NewReader(src)), limit)
	case codecZstd:
		out, err := zstdDec().DecodeAll(src, nil)
		if err != nil {
			return nil, err
		}
		if len(out) > limit {
			return nil, errTooBig
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown compression codec %d", codec)
}

func readLimited(r io.Reader, limit int) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(out) > limit {
		return nil, errTooBig
	}
	return out, nil
}

func snappyDecode(dst, src []byte, limit int) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return nil, err
	}
	if n+len(dst) > limit {
		return nil, errTooBig
	}
	out, err := snappy.Decode(nil, src)
	if err != nil {
		return nil, err
	}
	return append(dst, out...), nil
}

// xerialDecode decodes the blocks after the 16-byte xerial header: each a
// big-endian uint32 length and a raw snappy block.
func xerialDecode(src []byte, limit int) ([]byte, error) {
	var out []byte
	for len(src) > 0 {
		if len(src) < 4 {
			return nil, errors.New("truncated xerial block length")
		}
		n := binary.BigEndian.Uint32(src)
		src = src[4:]
		if uint64(n) > uint64(len(src)) {
			return nil, errors.New("xerial block runs past the data")
		}
		var err error
		if out, err = snappyDecode(out, src[:n], limit); err != nil {
			return nil, err
		}
		src = src[n:]
	}
	return out, nil
}
