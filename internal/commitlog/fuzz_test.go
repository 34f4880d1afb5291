package commitlog

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// FuzzParseBatch feeds arbitrary bytes to the append-side batch checker and
// the record decoder: they must reject or accept without panicking, and
// anything accepted must survive an append and read back byte for byte.
func FuzzParseBatch(f *testing.F) {
	for _, c := range []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()} {
		f.Add(makeBatch(f, simpleRecords(3, 20, 1000), batchOpts{codec: c}))
		f.Add(makeBatch(f, []testRecord{{key: []byte("k"), value: nil, ts: 5}}, batchOpts{codec: c, pid: 3, epoch: 1, seq: 4}))
	}
	two := append(makeBatch(f, simpleRecords(1, 1, 1), batchOpts{}), makeBatch(f, simpleRecords(2, 1, 2), batchOpts{})...)
	f.Add(two)
	decompressLimit = 1 << 20
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseBatchHeader(b)
		infos, err := validateBatches(b, 1<<20)
		if err != nil {
			return
		}
		for _, in := range infos {
			bb := b[in.start : in.start+int(in.h.Size())]
			_ = forEachRecord(in.h, bb, func(*Record) bool { return true })
		}
		cp := append([]byte(nil), b...)
		l := openTest(t, t.TempDir(), DefaultConfig())
		defer l.Close()
		res, err := l.Append(cp, false)
		if err != nil {
			t.Fatalf("validated batch failed to append: %v", err)
		}
		got := readAll(t, l)
		if len(got) != len(b) || res.BaseOffset != 0 {
			t.Fatalf("read back %d bytes of %d", len(got), len(b))
		}
	})
}
