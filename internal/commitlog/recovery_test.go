package commitlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/fsutil"
	"github.com/twmb/franz-go/pkg/kgo"
)

// crashFixture builds a log of 15 batches whose recovery checkpoint sits
// after batch ckAfter, and returns the directory as a crash left it (no
// Close), the batches and the checkpoint's file position.
func crashFixture(t *testing.T, ckAfter int) (dir string, batches [][]byte) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "crash-0")
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 200
	l := openTest(t, dir, cfg)
	for i := range 15 {
		codec := kgo.NoCompression()
		if i%3 == 1 {
			codec = kgo.SnappyCompression()
		}
		b := makeBatch(t, simpleRecords(1+i%3, 40, int64(1000+i)), batchOpts{codec: codec, pid: 5, epoch: 0, seq: int32(seqBefore(i))})
		if _, err := l.Append(b, false); err != nil {
			t.Fatal(err)
		}
		batches = append(batches, b)
		if i == ckAfter {
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Simulate the crash: copy the files while the log is still open.
	crash := filepath.Join(t.TempDir(), "crash-0")
	copyDir(t, dir, crash)
	l.Close()
	return crash, batches
}

// seqBefore is the producer sequence of batch i (batch j has 1+j%3 records).
func seqBefore(i int) int {
	s := 0
	for j := range i {
		s += 1 + j%3
	}
	return s
}

func copyDir(t testing.TB, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkIndexes verifies every in-memory and on-disk index entry points at
// a batch header with the recorded offset, and that every offset reads
// back the batch holding it.
func checkIndexes(t *testing.T, l *Log) {
	t.Helper()
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, s := range l.segs {
		var hb [batchHeaderLen]byte
		for _, e := range s.entries {
			h, err := s.readHeader(int64(e.pos), s.size, &hb)
			if err != nil || h.BaseOffset != s.base+int64(e.rel) {
				t.Fatalf("index entry %+v of %s: header %+v err %v", e, s.path, h, err)
			}
		}
		s.idxMu.Lock()
		flushed, stale := s.flushedEntries, s.indexStale
		s.idxMu.Unlock()
		disk, err := os.ReadFile(s.indexPath())
		if err != nil && !(errors.Is(err, os.ErrNotExist) && flushed == 0) {
			t.Fatal(err)
		}
		if stale || len(disk) != flushed*indexEntrySize {
			t.Fatalf("%s holds %d bytes for %d entries", s.indexPath(), len(disk), len(s.entries))
		}
		for i, e := range s.entries[:flushed] {
			if binary.BigEndian.Uint32(disk[i*8:]) != e.rel || binary.BigEndian.Uint32(disk[i*8+4:]) != e.pos {
				t.Fatalf("%s entry %d differs from memory", s.indexPath(), i)
			}
		}
	}
}

func checkPrefix(t *testing.T, l *Log, batches [][]byte, n int) {
	t.Helper()
	want := bytes.Join(batches[:n], nil)
	got := readAll(t, l)
	if !bytes.Equal(got, want) {
		t.Fatalf("recovered %d bytes, want the first %d batches (%d bytes)", len(got), n, len(want))
	}
	var end int64
	if n > 0 {
		h, _ := ParseBatchHeader(batches[n-1])
		end = h.LastOffset() + 1
	}
	if l.LogEndOffset() != end {
		t.Fatalf("end offset %d, want %d", l.LogEndOffset(), end)
	}
	for off := int64(0); off < end; off++ {
		s, err := l.Read(off, 1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := s.AppendTo(nil)
		s.Close()
		h, err := ParseBatchHeader(b)
		if err != nil || h.BaseOffset > off || h.LastOffset() < off {
			t.Fatalf("Read(%d) returned batch %+v (%v)", off, h, err)
		}
	}
	checkIndexes(t, l)
}

func TestRecoveryTornTail(t *testing.T) {
	for _, ck := range []struct {
		name  string
		after int
	}{{"checkpoint-before-cut", 9}, {"cut-below-checkpoint", 13}} {
		t.Run(ck.name, func(t *testing.T) {
			dir, batches := crashFixture(t, ck.after)
			seg := filepath.Join(dir, segmentName(0)+logSuffix)
			full, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			// Every cut inside the last four batches.
			start := len(bytes.Join(batches[:11], nil))
			for cut := start; cut <= len(full); cut++ {
				work := filepath.Join(t.TempDir(), "w-0")
				copyDir(t, dir, work)
				if err := os.Truncate(filepath.Join(work, segmentName(0)+logSuffix), int64(cut)); err != nil {
					t.Fatal(err)
				}
				l, err := Open(work, DefaultConfig())
				if err != nil {
					t.Fatalf("cut at %d: %v", cut, err)
				}
				whole := 0
				for n := 0; n <= len(batches) && len(bytes.Join(batches[:n], nil)) <= cut; n++ {
					whole = n
				}
				checkPrefix(t, l, batches, whole)
				// The producer state matches the survivors: the next
				// sequence is accepted, a retry of the last one is a duplicate.
				if whole > 0 {
					res, err := l.Append(append([]byte(nil), batches[whole-1]...), false)
					if err != nil || !res.Duplicate {
						t.Fatalf("cut at %d: retry of last batch: %+v %v", cut, res, err)
					}
				}
				l.Close()
			}
		})
	}
}

func TestRecoveryBitFlips(t *testing.T) {
	dir, batches := crashFixture(t, 9)
	rng := rand.New(rand.NewPCG(1, 2))
	start := len(bytes.Join(batches[:10], nil))
	full := len(bytes.Join(batches, nil))
	for range 150 {
		pos := start + rng.IntN(full-start)
		work := filepath.Join(t.TempDir(), "w-0")
		copyDir(t, dir, work)
		p := filepath.Join(work, segmentName(0)+logSuffix)
		b, _ := os.ReadFile(p)
		b[pos] ^= byte(1 + rng.IntN(255))
		os.WriteFile(p, b, 0o644)
		l, err := Open(work, DefaultConfig())
		if err != nil {
			t.Fatalf("flip at %d: %v", pos, err)
		}
		// The batch holding the flipped byte and everything after it are
		// cut, unless the byte is its partitionLeaderEpoch (outside the CRC
		// and meaningless on one node).
		n, at := 0, 0
		for at+len(batches[n]) <= pos {
			at += len(batches[n])
			n++
		}
		if rel := pos - at; rel >= offLeaderEpoch && rel < offMagic {
			got := readAll(t, l)
			if len(got) != full {
				t.Fatalf("flip in leader epoch at %d cut the log to %d bytes", pos, len(got))
			}
		} else {
			checkPrefix(t, l, batches, n)
		}
		l.Close()
	}
}

func TestRecoveryDamagedFiles(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"no-checkpoint", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, checkpointName)) }},
		{"garbage-checkpoint", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, checkpointName), []byte("RNLC garbage"), 0o644)
		}},
		{"no-index", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, segmentName(0)+indexSuffix))
			os.Remove(filepath.Join(dir, segmentName(0)+timeIndexSuffix))
		}},
		{"garbage-index", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, segmentName(0)+indexSuffix), []byte{0, 0, 0, 9, 0, 0, 0, 7}, 0o644)
		}},
		{"leftover-cleaned", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, segmentName(0)+logSuffix+cleanedSuffix), []byte("half"), 0o644)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, batches := crashFixture(t, 14)
			c.damage(t, dir)
			l, err := Open(dir, DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			checkPrefix(t, l, batches, len(batches))
			if _, err := os.Stat(filepath.Join(dir, segmentName(0)+logSuffix+cleanedSuffix)); err == nil {
				t.Fatal("leftover .cleaned file survived")
			}
		})
	}
}

func TestRecoveryAcrossSegments(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "segs-0")
	cfg := DefaultConfig()
	cfg.SegmentBytes = 500
	cfg.IndexIntervalBytes = 100
	l := openTest(t, dir, cfg)
	var batches [][]byte
	for i := range 40 {
		b := makeBatch(t, simpleRecords(2, 30, int64(i)), batchOpts{})
		if _, err := l.Append(b, i%5 == 0); err != nil {
			t.Fatal(err)
		}
		batches = append(batches, b)
	}
	crash := filepath.Join(t.TempDir(), "segs-0")
	copyDir(t, dir, crash)
	l.Close()
	for _, d := range []string{dir, crash} {
		l := openTest(t, d, cfg)
		checkPrefix(t, l, batches, len(batches))
		l.Close()
	}
}

func TestStorageFaults(t *testing.T) {
	cases := []struct {
		name    string
		op      fsutil.Op
		errno   syscall.Errno
		partial bool
		durable bool
	}{
		{"enospc-write", fsutil.OpWrite, syscall.ENOSPC, false, false},
		{"enospc-partial-write", fsutil.OpWrite, syscall.ENOSPC, true, true},
		{"eio-sync", fsutil.OpSync, syscall.EIO, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ffs := fsutil.NewFaultFS(nil)
			dir := filepath.Join(t.TempDir(), "f-0")
			l := openTest(t, dir, DefaultConfig(), WithFS(ffs))
			var batches [][]byte
			add := func(i int) error {
				b := makeBatch(t, simpleRecords(2, 20, int64(i)), batchOpts{})
				_, err := l.Append(b, c.durable)
				if err == nil {
					batches = append(batches, b)
				}
				return err
			}
			for i := range 5 {
				if err := add(i); err != nil {
					t.Fatal(err)
				}
			}
			ffs.PartialWrite(c.partial)
			ffs.Inject(func(op fsutil.Op, path string) error {
				if op == c.op && strings.HasSuffix(path, logSuffix) {
					return c.errno
				}
				return nil
			})
			err := add(5)
			if !errors.Is(err, ErrStorage) || !errors.Is(err, c.errno) {
				t.Fatalf("append under %s: %v", c.name, err)
			}
			// Still readable.
			if got := readAll(t, l); len(got) < len(bytes.Join(batches, nil)) {
				t.Fatalf("log unreadable after fault: %d bytes", len(got))
			}
			ffs.Inject(nil)
			if c.op == fsutil.OpSync {
				// A failed fdatasync reports the append as failed, but the
				// bytes were written and stay in the log (the producer's
				// idempotent retry is then answered as a duplicate).
				batches = append(batches, nil)
				s, _ := l.Read(10, 1<<20)
				b, _ := s.AppendTo(nil)
				s.Close()
				batches[len(batches)-1] = b
			}
			for i := 6; i < 9; i++ {
				if err := add(i); err != nil {
					t.Fatalf("append after space returned: %v", err)
				}
			}
			checkPrefix(t, l, batches, len(batches))
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openTest(t, dir, DefaultConfig())
			checkPrefix(t, l, batches, len(batches))
			l.Close()
		})
	}
}

func TestOpenErrors(t *testing.T) {
	ffs := fsutil.NewFaultFS(nil)
	dir := filepath.Join(t.TempDir(), "e-0")
	l := openTest(t, dir, DefaultConfig(), WithFS(ffs))
	l.Append(makeBatch(t, simpleRecords(1, 1, 1), batchOpts{}), true)
	l.Close()
	ffs.Inject(func(op fsutil.Op, path string) error {
		if op == fsutil.OpOpen && strings.HasSuffix(path, logSuffix) {
			return syscall.EACCES
		}
		return nil
	})
	if _, err := Open(dir, DefaultConfig(), WithFS(ffs)); !errors.Is(err, ErrStorage) {
		t.Fatalf("open with unreadable segment: %v", err)
	}
	ffs.Inject(func(op fsutil.Op, path string) error {
		if op == fsutil.OpRead {
			return syscall.EIO
		}
		return nil
	})
	l, err := Open(dir, DefaultConfig(), WithFS(ffs))
	if err == nil {
		// Trusted segments need no reads at open; reads then fail cleanly.
		if _, err := l.Read(0, 100); !errors.Is(err, ErrStorage) {
			t.Fatalf("read under EIO: %v", err)
		}
		l.Close()
	} else if !errors.Is(err, ErrStorage) {
		t.Fatalf("open under EIO: %v", err)
	}
}

// TestMaintainCheckpoints checks the janitor's Maintain moves the recovery
// checkpoint forward, so a crash rescans only what came after it.
func TestMaintainCheckpoints(t *testing.T) {
	clock := fixedNow
	dir := filepath.Join(t.TempDir(), "ck-0")
	l := openTest(t, dir, DefaultConfig(), WithClock(func() time.Time { return clock }))
	defer l.Close()
	for i := range 20 {
		if _, err := l.Append(makeBatch(t, simpleRecords(2, 50, int64(i)), batchOpts{}), true); err != nil {
			t.Fatal(err)
		}
	}
	ck, err := readCheckpointFile(fsutil.OS(), dir)
	if err != nil || ck.next != 0 {
		t.Fatalf("checkpoint before Maintain: %+v %v", ck, err)
	}
	clock = clock.Add(checkpointInterval)
	if err := l.Maintain(clock); err != nil {
		t.Fatal(err)
	}
	ck, err = readCheckpointFile(fsutil.OS(), dir)
	if err != nil || ck.next != 40 || ck.pos != l.Size() || len(ck.producers) != 0 {
		t.Fatalf("checkpoint after Maintain: %+v %v (size %d)", ck, err, l.Size())
	}
}

// TestRollFailure: when the new segment cannot be created (disk full), the
// append fails with ErrStorage, nothing is lost, and the next append after
// the fault clears rolls and succeeds.
func TestRollFailure(t *testing.T) {
	ffs := fsutil.NewFaultFS(nil)
	dir := filepath.Join(t.TempDir(), "roll-0")
	b0 := makeBatch(t, simpleRecords(2, 20, 1), batchOpts{})
	cfg := DefaultConfig()
	cfg.SegmentBytes = int64(3 * len(b0))
	l := openTest(t, dir, cfg, WithFS(ffs))
	defer func() { l.Close() }()
	var batches [][]byte
	for i := range 3 {
		b := makeBatch(t, simpleRecords(2, 20, 1), batchOpts{})
		if _, err := l.Append(b, true); err != nil {
			t.Fatal(i, err)
		}
		batches = append(batches, b)
	}
	ffs.Inject(func(op fsutil.Op, path string) error {
		if op == fsutil.OpOpen && strings.HasSuffix(path, segmentName(6)+logSuffix) {
			return syscall.ENOSPC
		}
		return nil
	})
	if _, err := l.Append(makeBatch(t, simpleRecords(2, 20, 1), batchOpts{}), true); !errors.Is(err, ErrStorage) {
		t.Fatalf("append needing a roll on a full disk: %v", err)
	}
	checkPrefix(t, l, batches, 3)
	ffs.Inject(nil)
	b := makeBatch(t, simpleRecords(2, 20, 1), batchOpts{})
	if res, err := l.Append(b, true); err != nil || res.BaseOffset != 6 {
		t.Fatalf("append after the disk recovered: %+v %v", res, err)
	}
	batches = append(batches, b)
	checkPrefix(t, l, batches, 4)
	l.Close()
	l = openTest(t, dir, cfg)
	checkPrefix(t, l, batches, 4)
}
