package commitlog

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestHelperAppender is not a test: TestKill9 runs the test binary with
// RUNNEL_KILL_DIR set, and this appends durably from 4 goroutines, printing
// each acknowledged last offset, until it is killed.
func TestHelperAppender(t *testing.T) {
	dir := os.Getenv("RUNNEL_KILL_DIR")
	if dir == "" {
		t.Skip("helper process for TestKill9")
	}
	cfg := DefaultConfig()
	cfg.SegmentBytes = 64 << 10
	l, err := Open(dir, cfg)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				b := makeBatch(t, simpleRecords(1+i%5, 200, int64(w*1_000_000+i)), batchOpts{})
				res, err := l.Append(b, true)
				if err != nil {
					fmt.Println("append:", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintf(out, "%d\n", res.LastOffset)
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestKill9 kills a process that appends durably with SIGKILL at random
// moments, then reopens the log: every acknowledged offset is there, the
// log is whole (every batch passes its CRC) and appends continue.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := filepath.Join(t.TempDir(), "kill-0")
	var acked int64 = -1
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAppender$", "-test.count=1")
		cmd.Env = append(os.Environ(), "RUNNEL_KILL_DIR="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		killAt := time.After(time.Duration(150+100*round) * time.Millisecond)
	read:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					break read
				}
				off, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
				if err != nil {
					t.Fatalf("helper said %q", line)
				}
				acked = max(acked, off)
			case <-killAt:
				cmd.Process.Signal(syscall.SIGKILL)
				killAt = nil
			}
		}
		cmd.Wait()
		l, err := Open(dir, DefaultConfig())
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		if l.LogEndOffset() <= acked {
			t.Fatalf("round %d: acknowledged offset %d lost (end %d)", round, acked, l.LogEndOffset())
		}
		n := len(decodeAll(t, readAll(t, l))) // checks every CRC
		if int64(n) != l.LogEndOffset() {
			t.Fatalf("round %d: %d records for end offset %d", round, n, l.LogEndOffset())
		}
		checkIndexes(t, l)
		t.Logf("round %d: %d acknowledged, %d recovered", round, acked+1, l.LogEndOffset())
		l.Close()
	}
}
