package source

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/tail"
)

// jsonOffsets is an OffsetStore that keeps offsets as JSON, as a Connect
// worker's file or topic store does, so numbers come back as float64.
type jsonOffsets struct {
	mu   sync.Mutex
	m    map[string][]byte
	puts int
}

func (s *jsonOffsets) key(p map[string]any) string {
	b, _ := json.Marshal(p)
	return string(b)
}

func (s *jsonOffsets) Get(_ context.Context, p map[string]any) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[s.key(p)]
	if !ok {
		return nil, nil
	}
	var off map[string]any
	err := json.Unmarshal(b, &off)
	return off, err
}

func (s *jsonOffsets) Put(_ context.Context, p, off map[string]any) error {
	b, err := json.Marshal(off)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[s.key(p)] = b
	s.puts++
	return nil
}

func (s *jsonOffsets) snapshot() map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := map[string][]byte{}
	for k, v := range s.m {
		c[k] = v
	}
	return c
}

func fileStreamSource(t *testing.T, file string, offsets flow.OffsetStore) flow.Source {
	t.Helper()
	src, err := build(t, "org.apache.kafka.connect.file.FileStreamSourceConnector", map[string]string{"file": file, "topic": "log-test", "batch.size": "9"}, offsets)
	if err != nil {
		t.Fatal(err)
	}
	fs := src.(*FileStreamSource)
	fs.PollInterval, fs.IdleTimeout = 5*time.Millisecond, 200*time.Millisecond
	return fs
}

// Every line of the file, then appended lines, across rename and
// copytruncate rotation, and across restarts from the stored offset, with
// a sink that fails sometimes: every line exactly once, on the topic.
func TestFileStreamSourceRotationAndRestart(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "access.log")
	writeLines(t, file, "F", 0, 100)
	offsets := &jsonOffsets{}
	out := &collector{fail: func(call int) bool { return call%4 == 0 }}
	r := runSource(fileStreamSource(t, file, offsets), out)
	out.waitFor(t, 100)
	writeLines(t, file, "F", 100, 120)
	if err := os.Rename(file, file+".1"); err != nil {
		t.Fatal(err)
	}
	writeLines(t, file+".1", "F", 120, 125)
	writeLines(t, file, "F", 125, 150)
	out.waitFor(t, 150)
	writeLines(t, file, "F", 150, 170)
	copyTruncate(t, file, file+".2")
	writeLines(t, file, "F", 170, 200)
	out.waitFor(t, 200)
	r.stop(t)

	// Stopped: a rename rotation with the old file still being written.
	writeLines(t, file, "F", 200, 220)
	if err := os.Rename(file, file+".3"); err != nil {
		t.Fatal(err)
	}
	writeLines(t, file, "F", 220, 240)
	r = runSource(fileStreamSource(t, file, offsets), out)
	out.waitFor(t, 240)
	r.stop(t)

	// Stopped: a copytruncate rotation.
	writeLines(t, file, "F", 240, 260)
	copyTruncate(t, file, file+".4")
	writeLines(t, file, "F", 260, 280)
	r = runSource(fileStreamSource(t, file, offsets), out)
	out.waitFor(t, 280)
	time.Sleep(100 * time.Millisecond)
	r.stop(t)

	if out.failed == 0 {
		t.Fatal("no Emit failed; the test proves nothing")
	}
	checkOnce(t, out.bodies(), "F", 280)
	if len(out.events) != 280 {
		t.Fatalf("%d events, want 280", len(out.events))
	}
	for _, e := range out.events {
		if e.Topic != "log-test" || strings.HasSuffix(string(e.Body), "\n") {
			t.Fatalf("event %+v", e)
		}
	}
	var off map[string]any
	json.Unmarshal(offsets.snapshot()[`{"filename":"`+file+`"}`], &off)
	if off["position"] == nil || off["inode"] == nil || off["fingerprint"] == nil {
		t.Fatalf("stored offset %v", off)
	}
}

// Without an OffsetStore the source starts at the file's beginning every
// time; with Kafka's own offset ({"position": N}) it resumes at N.
func TestFileStreamSourceStart(t *testing.T) {
	cases := []struct {
		name    string
		offsets flow.OffsetStore
		want    int // first line number delivered
	}{
		{name: "no offset store", want: 0},
		{name: "empty store", offsets: &jsonOffsets{}, want: 0},
		{name: "kafka's offset", offsets: &jsonOffsets{m: map[string][]byte{}}, want: 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "a.log")
			writeLines(t, file, "F", 0, 20)
			if s, ok := tc.offsets.(*jsonOffsets); ok && s.m != nil {
				lineLen := len("F-00000 ") + 30 + 1
				s.Put(context.Background(), map[string]any{"filename": file}, map[string]any{"position": 10 * lineLen})
			}
			out := &collector{}
			r := runSource(fileStreamSource(t, file, tc.offsets), out)
			out.waitFor(t, 20-tc.want)
			time.Sleep(30 * time.Millisecond)
			r.stop(t)
			got := out.bodies()
			if len(got) != 20-tc.want || !strings.HasPrefix(got[0], "F-000"+map[int]string{0: "00", 10: "10"}[tc.want]) {
				t.Fatalf("%d lines from %q", len(got), got[0])
			}
		})
	}
}

// A file that is not there yet is waited for.
func TestFileStreamSourceWaitsForFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "later.log")
	out := &collector{}
	r := runSource(fileStreamSource(t, file, nil), out)
	time.Sleep(30 * time.Millisecond)
	writeLines(t, file, "F", 0, 5)
	out.waitFor(t, 5)
	r.stop(t)
}

func TestFileStreamOffsetRoundTrip(t *testing.T) {
	ps := []tail.Position{
		{Path: "/l/a.log", Inode: 12, Fingerprint: tail.Fingerprint{Len: 1024, Sum: 1<<63 + 5}, Offset: 4096},
		{Path: "/l/a.log", Inode: 13, Fingerprint: tail.Fingerprint{Len: 1024, Sum: 9}, Offset: 2000, Rotated: true},
		{Path: "/l/a.log.1", Inode: 11, Fingerprint: tail.Fingerprint{Len: 300, Sum: 7}, Offset: 300},
	}
	off := OffsetFromPositions("/l/a.log", ps)
	if off["inode"] != int64(12) {
		t.Fatalf("the current file's offset is not the one at the name: %v", off)
	}
	ps[1].Rotated = false // not stored: decoded rotated files are found by inode
	b, err := json.Marshal(off)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got, err := PositionsFromOffset("/l/a.log", back)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, ps) {
		t.Fatalf("round trip: %+v, want %+v (via %s)", got, ps, b)
	}
	for _, bad := range []map[string]any{
		{"position": "x"},
		{"position": -1.0},
		{"position": 1.5},
		{"position": 1.0, "inode": "x"},
		{"position": 1.0, "fingerprint": "zz", "fingerprintLength": 2.0},
		{"position": 1.0, "rotated": "x"},
		{"position": 1.0, "rotated": []any{map[string]any{"position": 1.0}}},
	} {
		if _, err := PositionsFromOffset("/l/a.log", bad); err == nil {
			t.Errorf("offset %v accepted", bad)
		}
	}
}

// BenchmarkFileStreamSource measures lines/s of 100-byte lines from a
// growing file into an Emitter that drops them (batch.size 2000).
func BenchmarkFileStreamSource(b *testing.B) {
	file := filepath.Join(b.TempDir(), "access.log")
	reg, _ := flow.Lookup(flow.KindSource, "FileStreamSource")
	cfg, _, err := reg.Spec.Validate("c1", map[string]string{"file": file, "topic": "t"})
	if err != nil {
		b.Fatal(err)
	}
	cfg.Offsets = &jsonOffsets{}
	src, err := NewFileStreamSource(cfg)
	if err != nil {
		b.Fatal(err)
	}
	benchGrowingFile(b, src, file)
}

// A restart while a renamed-away file is still being read keeps both the
// new file's and the old file's positions: nothing is read twice.
func TestFileStreamSourceRestartDuringRotation(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "access.log")
	writeLines(t, file, "F", 0, 30)
	offsets := &jsonOffsets{}
	out := &collector{}
	start := func() *running {
		src := fileStreamSource(t, file, offsets)
		src.(*FileStreamSource).IdleTimeout = time.Minute // the old file stays followed
		return runSource(src, out)
	}
	r := start()
	out.waitFor(t, 30)
	if err := os.Rename(file, file+".1"); err != nil {
		t.Fatal(err)
	}
	writeLines(t, file, "F", 30, 40)
	out.waitFor(t, 40)
	writeLines(t, file+".1", "F", 40, 45) // the writer is late
	out.waitFor(t, 45)
	r.stop(t)
	var off map[string]any
	json.Unmarshal(offsets.snapshot()[`{"filename":"`+file+`"}`], &off)
	if rot, _ := off["rotated"].([]any); len(rot) != 1 {
		t.Fatalf("stored offset %v: want the rotated file under \"rotated\"", off)
	}
	writeLines(t, file+".1", "F", 45, 50)
	writeLines(t, file, "F", 50, 60)
	r = start()
	out.waitFor(t, 60)
	time.Sleep(50 * time.Millisecond)
	r.stop(t)
	checkOnce(t, out.bodies(), "F", 60)
}
