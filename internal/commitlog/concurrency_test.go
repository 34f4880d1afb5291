package commitlog

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCompactionWhileAppendingAndReading runs compaction passes while
// appenders and readers keep going: nothing blocks for long, no read fails,
// and every key's last value survives.
func TestCompactionWhileAppendingAndReading(t *testing.T) {
	cfg := DefaultConfig()
	cfg.CleanupPolicy = "compact"
	cfg.SegmentBytes = 2048
	cfg.MinCleanableDirtyRatio = 0.01
	l := openTest(t, filepath.Join(t.TempDir(), "cc-0"), cfg)
	defer l.Close()
	var stop atomic.Bool
	var wg sync.WaitGroup
	const keys = 20
	lastVal := make([]int, keys)
	wg.Go(func() { // appender
		for i := 0; !stop.Load(); i++ {
			k := i % keys
			b := makeBatch(t, []testRecord{{key: fmt.Appendf(nil, "key%02d", k), value: fmt.Appendf(nil, "%d", i), ts: int64(i)}}, batchOpts{})
			if _, err := l.Append(b, false); err != nil {
				t.Error(err)
				return
			}
			lastVal[k] = i
		}
	})
	wg.Go(func() { // reader
		for !stop.Load() {
			off := l.LogStartOffset()
			for off < l.LogEndOffset() {
				s, err := l.Read(off, 4096)
				if err != nil {
					t.Error(err)
					return
				}
				b, err := s.AppendTo(nil)
				s.Close()
				if err != nil {
					t.Error(err)
					return
				}
				if len(b) == 0 {
					break
				}
				for pos := 0; pos < len(b); {
					h, err := ParseBatchHeader(b[pos:])
					if err != nil || checkStored(h, b[pos:pos+int(h.Size())]) != nil {
						t.Errorf("read a bad batch at offset %d: %v", off, err)
						return
					}
					off = h.LastOffset() + 1
					pos += int(h.Size())
				}
			}
		}
	})
	deadline := time.Now().Add(1500 * time.Millisecond)
	passes := 0
	for time.Now().Before(deadline) {
		if err := l.Maintain(time.Now()); err != nil {
			t.Fatal(err)
		}
		passes++
		time.Sleep(20 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if err := l.Maintain(time.Now()); err != nil {
		t.Fatal(err)
	}
	latest := map[string]string{}
	for _, r := range decodeAll(t, readAll(t, l)) {
		latest[r.Key] = r.Value
	}
	for k, v := range lastVal {
		if got := latest[fmt.Sprintf("key%02d", k)]; got != fmt.Sprint(v) {
			t.Fatalf("key%02d = %q, want %d", k, got, v)
		}
	}
	t.Logf("%d maintenance passes, %d offsets, %d bytes left", passes, l.LogEndOffset(), l.Size())
}

// TestSliceWriteToTCP sends a Slice over a real loopback TCP connection
// (the sendfile path) and over a pipe (the copy path).
func TestSliceWriteToTCP(t *testing.T) {
	l := openTest(t, t.TempDir(), DefaultConfig())
	defer l.Close()
	var want []byte
	for i := range 50 {
		b := makeBatch(t, simpleRecords(4, 2000, int64(i)), batchOpts{})
		if _, err := l.Append(b, false); err != nil {
			t.Fatal(err)
		}
		want = append(want, b...) // after Append assigned the offsets in place
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- b
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Read(0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.WriteTo(c.(*net.TCPConn))
	s.Close()
	c.Close()
	if err != nil || n != int64(len(want)) {
		t.Fatalf("WriteTo wrote %d of %d: %v", n, len(want), err)
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("received %d bytes differing from the log", len(b))
	}
	var buf bytes.Buffer
	s, _ = l.Read(0, 1<<30)
	defer s.Close()
	if _, err := s.WriteTo(&buf); err != nil || !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("copy path: %v", err)
	}
}
