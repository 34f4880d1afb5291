package commitlog

import (
	"os"
	"path/filepath"
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

// FuzzDecodeCheckpoint: any bytes decode to a checkpoint or an error, and
// a decoded checkpoint re-encodes to the same bytes.
func FuzzDecodeCheckpoint(f *testing.F) {
	f.Add(encodeCheckpoint(&checkpoint{segBase: 5, pos: 100, next: 9, maxTs: -1, maxTsOff: -1}))
	f.Add(encodeCheckpoint(&checkpoint{producers: map[int64]*producerState{
		3: {epoch: 1, batches: []producerBatch{{firstSeq: 0, lastSeq: 4, firstOffset: 10, lastOffset: 14, maxTs: 99}}},
	}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCheckpoint(b)
		if err != nil {
			return
		}
		if again := encodeCheckpoint(c); string(again) != string(b) {
			t.Fatalf("re-encoded checkpoint differs")
		}
	})
}

// FuzzRecoverSegment writes arbitrary bytes after a valid prefix of the
// active segment (no checkpoint) and opens the log: Open never fails on bad
// data, keeps the valid prefix, and every batch it serves passes its CRC.
func FuzzRecoverSegment(f *testing.F) {
	prefix := append(makeBatch(f, simpleRecords(2, 10, 1), batchOpts{}), makeBatch(f, simpleRecords(1, 5, 2), batchOpts{codec: kgo.GzipCompression()})...)
	// Fix the second batch's base offset (2) as Append would.
	h, _ := ParseBatchHeader(prefix)
	prefix[h.Size()+7] = 2
	f.Add([]byte{})
	f.Add(makeBatch(f, simpleRecords(3, 7, 5), batchOpts{}))
	f.Add(prefix[:40])
	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		data := append(append([]byte(nil), prefix...), tail...)
		if err := os.WriteFile(filepath.Join(dir, segmentName(0)+logSuffix), data, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Open(dir, DefaultConfig())
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer l.Close()
		if l.LogEndOffset() < 3 {
			t.Fatalf("valid prefix lost: end offset %d", l.LogEndOffset())
		}
		got := readAll(t, l)
		for pos := 0; pos < len(got); {
			h, err := ParseBatchHeader(got[pos:])
			if err != nil {
				t.Fatal(err)
			}
			if err := checkStored(h, got[pos:pos+int(h.Size())]); err != nil {
				t.Fatalf("served a bad batch: %v", err)
			}
			pos += int(h.Size())
		}
	})
}
