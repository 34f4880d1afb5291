package channel

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

func openTestFile(t testing.TB, dir string, mod ...func(*FileOptions)) *File {
	t.Helper()
	o := FileOptions{CheckpointDir: filepath.Join(dir, "ckpt"), DataDir: filepath.Join(dir, "data"),
		Capacity: 100000, TransactionCapacity: 1000, CheckpointInterval: time.Hour, MaxFileSize: 1 << 30,
		KeepAlive: 100 * time.Millisecond, CheckpointOnClose: true}
	for _, m := range mod {
		m(&o)
	}
	c, err := OpenFile(o)
	if err != nil {
		t.Fatalf("opening file channel: %v", err)
	}
	return c
}

func putBodies(t testing.TB, ch flow.Channel, bodies ...string) {
	t.Helper()
	tx := ch.Begin()
	for _, b := range bodies {
		e := flow.Event{Body: []byte(b), Headers: map[string]string{"id": b}, Key: []byte("k" + b), Topic: "t", Partition: 2, Offset: -1,
			Timestamp: time.Unix(1700000000, 123)}
		if err := tx.Put(context.Background(), e); err != nil {
			t.Fatalf("put %s: %v", b, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

// takeAll takes every event, committing batches of up to n, and returns
// the bodies.
func takeAll(t testing.TB, ch flow.Channel, n int) []string {
	t.Helper()
	var out []string
	for {
		tx := ch.Begin()
		got := 0
		for got < n {
			e, ok, err := tx.Take(context.Background())
			if err != nil {
				t.Fatalf("take: %v", err)
			}
			if !ok {
				break
			}
			if e.Headers["id"] != string(e.Body) || string(e.Key) != "k"+string(e.Body) || e.Topic != "t" || e.Partition != 2 ||
				e.Offset != -1 || e.Timestamp.UnixNano() != time.Unix(1700000000, 123).UnixNano() {
				t.Fatalf("event read back wrong: %+v", e)
			}
			out = append(out, string(e.Body))
			got++
		}
		if err := tx.Commit(); err != nil {
			t.Fatalf("take commit: %v", err)
		}
		if got == 0 {
			return out
		}
	}
}

func seqBodies(from, to int) []string {
	var s []string
	for i := from; i < to; i++ {
		s = append(s, strconv.Itoa(i))
	}
	return s
}

func TestFileChannelSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	c := openTestFile(t, dir)
	for i := 0; i < 10; i++ {
		putBodies(t, c, seqBodies(i*100, i*100+100)...)
	}
	// Take 250 and commit; take 50 more and roll back; an uncommitted put.
	tx := c.Begin()
	for range 250 {
		if _, ok, err := tx.Take(context.Background()); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	tx = c.Begin()
	for range 50 {
		tx.Take(context.Background())
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	open := c.Begin()
	if err := open.Put(context.Background(), flow.Event{Body: []byte("never")}); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 750 {
		t.Fatalf("Len %d, want 750", c.Len())
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"with checkpoint", "without checkpoint"} {
		if name == "without checkpoint" {
			os.Remove(filepath.Join(dir, "ckpt", ckptName))
		}
		c = openTestFile(t, dir)
		if c.Len() != 750 {
			t.Fatalf("%s: reopened Len %d, want 750", name, c.Len())
		}
		if name == "without checkpoint" {
			got := takeAll(t, c, 100)
			if strings.Join(got, ",") != strings.Join(seqBodies(250, 1000), ",") {
				t.Fatalf("reopened channel holds %d events %v...", len(got), got[:min(5, len(got))])
			}
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	c = openTestFile(t, dir)
	defer c.Close()
	if c.Len() != 0 {
		t.Fatalf("after taking everything and reopening: Len %d", c.Len())
	}
}

// Cutting the data file anywhere inside its last transactions leaves
// exactly the transactions whose commit record is whole.
func TestFileChannelTornTail(t *testing.T) {
	dir := t.TempDir()
	c := openTestFile(t, dir, func(o *FileOptions) { o.CheckpointOnClose = false })
	putBodies(t, c, seqBodies(0, 10)...)
	sizeAfterFirst := c.active.size.Load()
	putBodies(t, c, seqBodies(10, 13)...)
	sizeAfterSecond := c.active.size.Load()
	path := c.active.f.Name()
	c.Close()
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for cut := sizeAfterFirst - 30; cut <= int64(len(full)); cut++ {
		d := t.TempDir()
		os.MkdirAll(filepath.Join(d, "data"), 0o755)
		if err := os.WriteFile(filepath.Join(d, "data", filepath.Base(path)), full[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		c := openTestFile(t, d, func(o *FileOptions) { o.CheckpointOnClose = false })
		want := 0
		switch {
		case cut >= sizeAfterSecond:
			want = 13
		case cut >= sizeAfterFirst:
			want = 10
		}
		got := takeAll(t, c, 100)
		if len(got) != want {
			t.Fatalf("cut at %d of %d: %d events, want %d", cut, len(full), len(got), want)
		}
		c.Close()
	}
}

func TestFileChannelCheckpointDeletesDrainedFiles(t *testing.T) {
	dir := t.TempDir()
	c := openTestFile(t, dir, func(o *FileOptions) { o.MaxFileSize = 8192 })
	for i := 0; i < 50; i++ {
		putBodies(t, c, seqBodies(i*20, i*20+20)...)
	}
	files, _ := dataFiles(filepath.Join(dir, "data"))
	if len(files) < 5 {
		t.Fatalf("only %d data files with maxFileSize 8192", len(files))
	}
	got := takeAll(t, c, 300)
	if len(got) != 1000 {
		t.Fatalf("took %d", len(got))
	}
	if err := c.checkpoint(); err != nil {
		t.Fatal(err)
	}
	after, _ := dataFiles(filepath.Join(dir, "data"))
	if len(after) != 1 {
		t.Fatalf("%d data files after draining and a checkpoint, want 1 (the active one): %v", len(after), after)
	}
	putBodies(t, c, "x")
	c.Close()
	c = openTestFile(t, dir)
	defer c.Close()
	if got := takeAll(t, c, 10); len(got) != 1 || got[0] != "x" {
		t.Fatalf("after reopen: %v", got)
	}
}

func TestFileChannelCapacityAndLock(t *testing.T) {
	dir := t.TempDir()
	c := openTestFile(t, dir, func(o *FileOptions) { o.Capacity = 5; o.TransactionCapacity = 5 })
	defer c.Close()
	putBodies(t, c, "1", "2", "3", "4", "5")
	tx := c.Begin()
	err := tx.Put(context.Background(), flow.Event{Body: []byte("6")})
	if !errors.Is(err, flow.ErrChannelFull) {
		t.Fatalf("put into a full channel: %v", err)
	}
	tx.Rollback()
	if _, err := OpenFile(FileOptions{CheckpointDir: filepath.Join(dir, "ckpt2"), DataDir: filepath.Join(dir, "data"), Capacity: 1, TransactionCapacity: 1}); err == nil ||
		!strings.Contains(err.Error(), "in use") {
		t.Fatalf("second channel on the same data dir: %v", err)
	}
	_, err = OpenFile(FileOptions{CheckpointDir: filepath.Join(dir, "c3"), DataDir: filepath.Join(dir, "d3"), Capacity: 1, TransactionCapacity: 1, MinFreeSpace: 1 << 62})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFileChannelMinimumSpace(t *testing.T) {
	dir := t.TempDir()
	c := openTestFile(t, dir, func(o *FileOptions) { o.MinFreeSpace = 1 << 62 })
	defer c.Close()
	err := c.Begin().Put(context.Background(), flow.Event{Body: []byte("x")})
	if !errors.Is(err, flow.ErrChannelFull) || !strings.Contains(err.Error(), "minimumRequiredSpace") {
		t.Fatalf("put with too little free space: %v", err)
	}
}

// The child process of TestFileChannelKill9 puts numbered events in
// transactions of 10 and prints each committed range; the parent kills it
// with SIGKILL mid-stream and checks every printed id is in the channel
// exactly once.
func TestFileChannelKill9(t *testing.T) {
	if dir := os.Getenv("RUNNEL_FILECHANNEL_CHILD"); dir != "" {
		c, err := OpenFile(FileOptions{CheckpointDir: filepath.Join(dir, "ckpt"), DataDir: filepath.Join(dir, "data"),
			Capacity: 1000000, TransactionCapacity: 100, CheckpointInterval: 20 * time.Millisecond, MaxFileSize: 64 << 10, KeepAlive: time.Second})
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		for i := 0; ; i += 10 {
			tx := c.Begin()
			for j := i; j < i+10; j++ {
				if err := tx.Put(context.Background(), flow.Event{Body: []byte(strconv.Itoa(j))}); err != nil {
					fmt.Println("ERR", err)
					os.Exit(1)
				}
			}
			if err := tx.Commit(); err != nil {
				fmt.Println("ERR", err)
				os.Exit(1)
			}
			fmt.Println("COMMITTED", i+9)
			if i%200 == 0 {
				// Take some too, so replay has takes to apply.
				tx := c.Begin()
				for range 5 {
					tx.Take(context.Background())
				}
				if err := tx.Commit(); err != nil {
					fmt.Println("ERR", err)
					os.Exit(1)
				}
				fmt.Println("TOOK 5")
			}
		}
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileChannelKill9$")
	cmd.Env = append(os.Environ(), "RUNNEL_FILECHANNEL_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	committed, took := -1, 0
	killed := false
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "COMMITTED "); ok {
			committed, _ = strconv.Atoi(v)
		} else if line == "TOOK 5" {
			took += 5
		} else if strings.HasPrefix(line, "ERR") {
			t.Fatal(line)
		}
		if committed >= 20000 && !killed {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true // read on: lines printed before the kill still count
		}
	}
	cmd.Wait()
	c := openTestFile(t, dir, func(o *FileOptions) { o.TransactionCapacity = 1000 })
	defer c.Close()
	got := takeBodies(t, c)
	// Everything committed is there (minus the taken ones), each once; at
	// most the transaction in flight at the kill may also be there.
	seen := map[int]int{}
	for _, b := range got {
		n, _ := strconv.Atoi(b)
		seen[n]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("event %d present %d times", id, n)
		}
	}
	missing := 0
	for i := 0; i <= committed; i++ {
		if seen[i] == 0 {
			missing++
		}
	}
	// A take committed just before the kill may not have been reported.
	if missing != took && missing != took+5 {
		t.Fatalf("%d committed events missing after kill -9, want %d (the ones taken)", missing, took)
	}
	if len(got) > committed+1-took+20 {
		t.Fatalf("%d events after kill -9, committed %d: more than the in-flight transactions", len(got), committed+1-took)
	}
	t.Logf("kill -9 after %d committed events (%d taken): %d replayed", committed+1, took, len(got))
}

// takeBodies takes everything without checking event fields.
func takeBodies(t testing.TB, ch flow.Channel) []string {
	var out []string
	for {
		tx := ch.Begin()
		n := 0
		for n < 1000 {
			e, ok, err := tx.Take(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			out = append(out, string(e.Body))
			n++
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return out
		}
	}
}

func FuzzFileRecord(f *testing.F) {
	ev := encodeEvent(nil, flow.Event{Body: []byte("hello"), Headers: map[string]string{"a": "b"}, Key: []byte{}, Topic: "t"})
	f.Add(appendRecord(nil, recPut, 7, append([]byte{0, 0, 0, 0, 0, 0, 0, 1}, ev...)))
	f.Add(appendRecord(nil, recCommit, 7, nil))
	f.Add(ev)
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := decodeRecord(b); err == nil && r.typ == recPut {
			decodeEvent(r.body)
		}
		if e, err := decodeEvent(b); err == nil {
			again, err := decodeEvent(encodeEvent(nil, e))
			if err != nil || string(again.Body) != string(e.Body) || len(again.Headers) != len(e.Headers) {
				t.Fatalf("event does not round-trip: %v", err)
			}
		}
		decodeCheckpoint(b)
	})
}

func BenchmarkFileChannel(b *testing.B) {
	body := []byte(strings.Repeat("x", 100))
	for _, putters := range []int{1, 4} {
		b.Run(fmt.Sprintf("put-take/putters=%d", putters), func(b *testing.B) {
			c := openTestFile(b, b.TempDir(), func(o *FileOptions) { o.Capacity = 1 << 30; o.TransactionCapacity = 100 })
			defer c.Close()
			b.SetBytes(100)
			b.ResetTimer()
			per := b.N / putters / 100
			done := make(chan struct{}, putters)
			for range putters {
				go func() {
					for range per {
						tx := c.Begin()
						for range 100 {
							tx.Put(context.Background(), flow.Event{Body: body})
						}
						tx.Commit()
					}
					done <- struct{}{}
				}()
			}
			for range putters {
				<-done
			}
			putDur := b.Elapsed()
			taken := 0
			for taken < per*putters*100 {
				tx := c.Begin()
				for range 100 {
					if _, ok, _ := tx.Take(context.Background()); ok {
						taken++
					}
				}
				tx.Commit()
			}
			if n := float64(per * putters * 100); n > 0 {
				b.ReportMetric(n/putDur.Seconds(), "put-events/s")
				b.ReportMetric(n/(b.Elapsed()-putDur).Seconds(), "take-events/s")
			}
		})
	}
}
