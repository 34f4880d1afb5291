package tail

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkFollowGrowingFile measures lines/s of 100-byte lines read from a
// file while a goroutine appends them (1000 lines per write), batches of
// 1000 committed as they come.
func BenchmarkFollowGrowingFile(b *testing.B) {
	path := filepath.Join(b.TempDir(), "app.log")
	line := strings.Repeat("z", 99) + "\n"
	chunk := strings.Repeat(line, 1000)
	fd, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer fd.Close()
	f, err := New(Options{Groups: []Group{FileGroup(path)}, PollInterval: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.SetBytes(int64(len(line)))
	b.ResetTimer()
	werr := make(chan error, 1)
	go func() {
		for n := 0; n < b.N; n += 1000 {
			if _, err := fd.WriteString(chunk[:min(1000, b.N-n)*len(line)]); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	for got := 0; got < b.N; {
		lines, err := f.Read(context.Background(), 1000, time.Second)
		if err != nil {
			b.Fatal(err)
		}
		f.Commit(lines)
		got += len(lines)
	}
	b.StopTimer()
	if err := <-werr; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
