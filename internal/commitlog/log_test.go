package commitlog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/fsutil"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestAppendReadRoundTrip(t *testing.T) {
	codecs := []struct {
		name  string
		codec kgo.CompressionCodec
	}{
		{"none", kgo.NoCompression()},
		{"gzip", kgo.GzipCompression()},
		{"snappy", kgo.SnappyCompression()},
		{"lz4", kgo.Lz4Compression()},
		{"zstd", kgo.ZstdCompression()},
	}
	sizes := []struct {
		name          string
		records, size int
	}{
		{"one-tiny", 1, 0},
		{"few-100B", 10, 100},
		{"many-1KiB", 16, 1024},
		{"big-64KiB", 4, 64 << 10},
	}
	for _, c := range codecs {
		for _, sz := range sizes {
			t.Run(c.name+"/"+sz.name, func(t *testing.T) {
				cfg := DefaultConfig()
				cfg.SegmentBytes = 64 << 10 // force several segments
				cfg.IndexIntervalBytes = 512
				dir := filepath.Join(t.TempDir(), "t-0")
				l := openTest(t, dir, cfg)
				var want []gotRecord
				var batches [][]byte
				next := int64(0)
				for i := range 12 {
					recs := simpleRecords(sz.records, sz.size, fixedNow.UnixMilli()+int64(i*100))
					b := makeBatch(t, recs, batchOpts{codec: c.codec})
					res, err := l.Append(b, i%2 == 0)
					if err != nil {
						t.Fatalf("append %d: %v", i, err)
					}
					if res.BaseOffset != next || res.LastOffset != next+int64(sz.records)-1 || res.LogAppendTime != -1 {
						t.Fatalf("append %d: result %+v, want base %d", i, res, next)
					}
					for j, r := range recs {
						want = append(want, gotRecord{next + int64(j), string(r.key), string(r.value), r.ts})
					}
					batches = append(batches, b)
					next += int64(sz.records)
				}
				check := func(l *Log) {
					t.Helper()
					if l.LogEndOffset() != next {
						t.Fatalf("end offset %d, want %d", l.LogEndOffset(), next)
					}
					all := readAll(t, l)
					if !bytes.Equal(all, bytes.Join(batches, nil)) {
						t.Fatalf("read bytes differ from appended batches (%d vs %d bytes)", len(all), len(bytes.Join(batches, nil)))
					}
					got := decodeAll(t, all)
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Fatalf("records differ:\n got %v\nwant %v", got, want)
					}
					// Reading from inside a batch returns that whole batch.
					mid := int64(sz.records) + int64(sz.records)/2
					s, err := l.Read(mid, 1)
					if err != nil {
						t.Fatal(err)
					}
					b, _ := s.AppendTo(nil)
					s.Close()
					if !bytes.Equal(b, batches[1]) {
						t.Fatalf("read at %d did not return exactly batch 1", mid)
					}
					s, err = l.Read(next, 100)
					if err != nil || s.Len() != 0 {
						t.Fatalf("read at end: len %v err %v", s, err)
					}
					if _, err := l.Read(next+1, 100); !errors.Is(err, ErrOffsetOutOfRange) {
						t.Fatalf("read past end: %v", err)
					}
				}
				check(l)
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				l = openTest(t, dir, cfg)
				check(l)
				l.Close()
			})
		}
	}
}

func TestAppendValidation(t *testing.T) {
	good := makeBatch(t, simpleRecords(3, 10, 1000), batchOpts{})
	mut := func(f func(b []byte) []byte) []byte {
		b := append([]byte(nil), good...)
		return f(b)
	}
	cases := []struct {
		name string
		in   []byte
		max  int32
		want error
	}{
		{"empty", nil, 0, ErrCorrupt},
		{"short header", good[:30], 0, ErrCorrupt},
		{"truncated", good[:len(good)-1], 0, ErrCorrupt},
		{"bad crc", mut(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), 0, ErrCorrupt},
		{"magic 1", mut(func(b []byte) []byte { b[offMagic] = 1; return b }), 0, ErrUnsupportedMagic},
		{"too large", good, 50, ErrTooLarge},
		{"count mismatch", mut(func(b []byte) []byte {
			b[offNumRecords+3] = 2
			finishBatch(b)
			return b
		}), 0, ErrCorrupt},
		{"trailing garbage", append(append([]byte(nil), good...), 1, 2, 3), 0, ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if c.max > 0 {
				cfg.MaxMessageBytes = c.max
			}
			l := openTest(t, t.TempDir(), cfg)
			defer l.Close()
			_, err := l.Append(c.in, false)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if l.LogEndOffset() != 0 || l.Size() != 0 {
				t.Fatalf("rejected batch changed the log: end %d size %d", l.LogEndOffset(), l.Size())
			}
		})
	}
}

func TestLogAppendTime(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MessageTimestampType = "LogAppendTime"
	l := openTest(t, t.TempDir(), cfg, WithClock(func() time.Time { return fixedNow }))
	defer l.Close()
	res, err := l.Append(makeBatch(t, simpleRecords(3, 5, 1), batchOpts{}), true)
	if err != nil {
		t.Fatal(err)
	}
	if res.LogAppendTime != fixedNow.UnixMilli() {
		t.Fatalf("log append time %d", res.LogAppendTime)
	}
	got := decodeAll(t, readAll(t, l))
	for _, r := range got {
		if r.Ts != fixedNow.UnixMilli() {
			t.Fatalf("record %d has timestamp %d", r.Offset, r.Ts)
		}
	}
	if ts, off := l.MaxTimestamp(); ts != fixedNow.UnixMilli() || off != 0 {
		t.Fatalf("max timestamp %d at %d", ts, off)
	}
}

func TestOffsetsByTime(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 600
	cfg.IndexIntervalBytes = 100
	l := openTest(t, t.TempDir(), cfg)
	defer l.Close()
	if ts, off := l.MaxTimestamp(); ts != -1 || off != -1 {
		t.Fatalf("empty log max timestamp %d %d", ts, off)
	}
	// 20 batches of 3 records, timestamps 1000+10*i+{0,1,2}; batch 7 has
	// a late record to make the max timestamp land mid-log.
	for i := range 20 {
		recs := simpleRecords(3, 20, int64(1000+10*i))
		if i == 7 {
			recs[1].ts = 5000
		}
		if _, err := l.Append(makeBatch(t, recs, batchOpts{codec: kgo.ZstdCompression()}), false); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		ts, wantOff, wantTs int64
	}{
		{0, 0, 1000},
		{1000, 0, 1000},
		{1001, 1, 1001},
		{1003, 3, 1010},
		{1070, 21, 1070},
		{1071, 22, 5000}, // batch 7 holds offsets 21,22,23 at 1070,5000,1072
		{1191, 22, 5000},
		{1193, 22, 5000},
		{6000, -1, -1},
	}
	for _, c := range cases {
		off, ts, err := l.OffsetForTimestamp(c.ts)
		if err != nil {
			t.Fatal(err)
		}
		if off != c.wantOff || ts != c.wantTs {
			t.Errorf("OffsetForTimestamp(%d) = %d,%d want %d,%d", c.ts, off, ts, c.wantOff, c.wantTs)
		}
	}
	// The batch is compressed: the exact offset is found on demand.
	if ts, off := l.MaxTimestamp(); ts != 5000 || off != 22 {
		t.Fatalf("max timestamp %d at %d, want 5000 at 22", ts, off)
	}
}

func TestIdempotentProducer(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, DefaultConfig())
	b := func(epoch int16, seq int32, n int) []byte {
		return makeBatch(t, simpleRecords(n, 4, 1), batchOpts{pid: 7, epoch: epoch, seq: seq})
	}
	steps := []struct {
		name   string
		batch  []byte
		want   error
		dup    bool
		base   int64
		reopen bool
	}{
		{"first", b(0, 0, 2), nil, false, 0, false},
		{"second", b(0, 2, 3), nil, false, 2, false},
		{"retry first", b(0, 0, 2), nil, true, 0, false},
		{"gap", b(0, 9, 1), ErrOutOfOrderSequence, false, 0, false},
		{"retry second after restart", b(0, 2, 3), nil, true, 2, true},
		{"third", b(0, 5, 1), nil, false, 5, false},
		{"stale epoch", b(-0+0, 6, 1), nil, false, 6, false},
		{"new epoch not at zero", b(1, 3, 1), ErrOutOfOrderSequence, false, 0, false},
		{"new epoch", b(1, 0, 1), nil, false, 7, true},
		{"old epoch", b(0, 7, 1), ErrInvalidProducerEpoch, false, 0, false},
	}
	for _, s := range steps {
		if s.reopen {
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openTest(t, dir, DefaultConfig())
		}
		res, err := l.Append(s.batch, true)
		if !errors.Is(err, s.want) {
			t.Fatalf("%s: err %v want %v", s.name, err, s.want)
		}
		if err == nil && (res.Duplicate != s.dup || res.BaseOffset != s.base) {
			t.Fatalf("%s: result %+v, want dup=%v base=%d", s.name, res, s.dup, s.base)
		}
	}
	l.Close()
	// Producer state is rebuilt from the log tail even without a clean close.
	os.Remove(filepath.Join(dir, checkpointName))
	l = openTest(t, dir, DefaultConfig())
	defer l.Close()
	if res, err := l.Append(b(1, 0, 1), true); err != nil || !res.Duplicate || res.BaseOffset != 7 {
		t.Fatalf("after rescan: %+v %v", res, err)
	}
}

func TestChangedAndConcurrentDurableAppends(t *testing.T) {
	l := openTest(t, t.TempDir(), DefaultConfig())
	defer l.Close()
	ch := l.Changed()
	select {
	case <-ch:
		t.Fatal("changed before any append")
	default:
	}
	var wg sync.WaitGroup
	const writers, each = 8, 50
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := l.Append(makeBatch(t, simpleRecords(2, 10, int64(w*1000+i)), batchOpts{}), true); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	<-ch
	wg.Wait()
	if l.LogEndOffset() != writers*each*2 {
		t.Fatalf("end offset %d", l.LogEndOffset())
	}
	if got := len(decodeAll(t, readAll(t, l))); got != writers*each*2 {
		t.Fatalf("read %d records", got)
	}
}

func TestReadMaxBytes(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 300
	l := openTest(t, t.TempDir(), cfg)
	defer l.Close()
	var sizes []int64
	for i := range 30 {
		b := makeBatch(t, simpleRecords(1+i%4, 50, 1), batchOpts{})
		sizes = append(sizes, int64(len(b)))
		if _, err := l.Append(b, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, max := range []int32{0, 1, 100, 500, 1000, 3000, 1 << 20} {
		s, err := l.Read(0, max)
		if err != nil {
			t.Fatal(err)
		}
		want := sizes[0]
		for i := 1; i < len(sizes) && want+sizes[i] <= int64(max); i++ {
			want += sizes[i]
		}
		if s.Len() != want {
			t.Errorf("Read(0, %d) = %d bytes, want %d", max, s.Len(), want)
		}
		s.Close()
	}
}

// TestGroupCommit checks concurrent durable appends share fdatasyncs: with
// 32 appenders the log issues far fewer syncs than appends, and every
// append still returned only after a sync that covered it.
func TestGroupCommit(t *testing.T) {
	ffs := fsutil.NewFaultFS(nil)
	var syncs atomic.Int64
	ffs.Inject(func(op fsutil.Op, path string) error {
		if op == fsutil.OpSync && strings.HasSuffix(path, logSuffix) {
			syncs.Add(1)
			time.Sleep(2 * time.Millisecond) // a slow disk lets appends queue up
		}
		return nil
	})
	l := openTest(t, t.TempDir(), DefaultConfig(), WithFS(ffs))
	defer l.Close()
	before := syncs.Load()
	const appenders, each = 32, 10
	var wg sync.WaitGroup
	for w := range appenders {
		wg.Go(func() {
			for i := range each {
				res, err := l.Append(makeBatch(t, simpleRecords(1, 10, int64(w*100+i)), batchOpts{}), true)
				if err != nil {
					t.Error(err)
					return
				}
				if l.synced.Load() <= res.LastOffset {
					t.Errorf("append of offset %d returned before a covering sync", res.LastOffset)
				}
			}
		})
	}
	wg.Wait()
	n := syncs.Load() - before
	if n >= appenders*each/4 {
		t.Fatalf("%d fdatasyncs for %d durable appends: no group commit", n, appenders*each)
	}
	t.Logf("%d fdatasyncs for %d durable appends", n, appenders*each)
}

func TestFlushMessages(t *testing.T) {
	ffs := fsutil.NewFaultFS(nil)
	var syncs atomic.Int64
	ffs.Inject(func(op fsutil.Op, path string) error {
		if op == fsutil.OpSync && strings.HasSuffix(path, logSuffix) {
			syncs.Add(1)
		}
		return nil
	})
	cfg := DefaultConfig()
	cfg.FlushMessages = 4
	l := openTest(t, t.TempDir(), cfg, WithFS(ffs))
	defer l.Close()
	before := syncs.Load()
	for i := range 10 {
		if _, err := l.Append(makeBatch(t, simpleRecords(1, 10, int64(i)), batchOpts{}), false); err != nil {
			t.Fatal(err)
		}
	}
	if n := syncs.Load() - before; n != 2 {
		t.Fatalf("flush.messages=4 over 10 non-durable appends made %d syncs, want 2", n)
	}
}

func TestProducerExpiry(t *testing.T) {
	l := openTest(t, t.TempDir(), DefaultConfig())
	defer l.Close()
	old := fixedNow.Add(-25 * time.Hour).UnixMilli()
	if _, err := l.Append(makeBatch(t, simpleRecords(1, 1, old), batchOpts{pid: 1, epoch: 0, seq: 0}), false); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(makeBatch(t, simpleRecords(1, 1, fixedNow.UnixMilli()), batchOpts{pid: 2, epoch: 0, seq: 0}), false); err != nil {
		t.Fatal(err)
	}
	if err := l.Maintain(fixedNow); err != nil {
		t.Fatal(err)
	}
	l.mu.RLock()
	_, has1 := l.producers[1]
	_, has2 := l.producers[2]
	l.mu.RUnlock()
	if has1 || !has2 {
		t.Fatalf("after expiry: producer 1 kept=%v, producer 2 kept=%v", has1, has2)
	}
}
