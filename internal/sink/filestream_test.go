package sink

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/fsutil"
)

func events(bodies ...string) []flow.Event {
	out := make([]flow.Event, len(bodies))
	for i, b := range bodies {
		out[i] = flow.Event{Body: []byte(b), Topic: "log-test"}
	}
	return out
}

func buildFileStreamSink(t *testing.T, raw map[string]string) flow.Sink {
	t.Helper()
	reg, ok := flow.Lookup(flow.KindSink, "org.apache.kafka.connect.file.FileStreamSinkConnector")
	if !ok {
		t.Fatal("FileStreamSink not registered under its class name")
	}
	cfg, warnings, err := reg.Spec.Validate("k1", raw)
	if err != nil || len(warnings) > 0 {
		t.Fatalf("validate: %v %v", err, warnings)
	}
	v, err := reg.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v.(flow.Sink)
}

func TestFileStreamSinkAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	if err := os.WriteFile(path, []byte("existing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := buildFileStreamSink(t, map[string]string{"file": path, "topics": "log-test"})
	ctx := context.Background()
	for _, batch := range [][]flow.Event{events("a", "b"), events(), events("", "c d")} {
		if err := s.Deliver(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A new sink on the same file appends too.
	s = buildFileStreamSink(t, map[string]string{"file": path, "topics.regex": "log-.*"})
	if err := s.Deliver(ctx, events("e")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	b, _ := os.ReadFile(path)
	if string(b) != "existing\na\nb\n\nc d\ne\n" {
		t.Fatalf("file holds %q", b)
	}
}

func TestFileStreamSinkStdout(t *testing.T) {
	var out bytes.Buffer
	s := NewFileStreamSink("", &out)
	if err := s.Deliver(context.Background(), events("x", "y")); err != nil {
		t.Fatal(err)
	}
	if out.String() != "x\ny\n" {
		t.Fatalf("stdout %q", out.String())
	}
	if _, ok := flow.Lookup(flow.KindSink, "FileStreamSink"); !ok {
		t.Fatal("FileStreamSink not registered")
	}
}

// A write or fsync that fails leaves the file as it was before the batch,
// so the redelivered batch lands whole, once.
func TestFileStreamSinkFailedBatchIsCutOff(t *testing.T) {
	for _, op := range []fsutil.Op{fsutil.OpWrite, fsutil.OpSync} {
		t.Run(string(op), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.txt")
			ffs := fsutil.NewFaultFS(nil)
			ffs.PartialWrite(true)
			s := NewFileStreamSink(path, nil)
			s.fs = ffs
			ctx := context.Background()
			if err := s.Deliver(ctx, events("one")); err != nil {
				t.Fatal(err)
			}
			ffs.Inject(func(o fsutil.Op, _ string) error {
				if o == op {
					return syscall.ENOSPC
				}
				return nil
			})
			err := s.Deliver(ctx, events("two", "three"))
			if err == nil || !strings.Contains(err.Error(), "no space") {
				t.Fatalf("Deliver with %s failing: %v", op, err)
			}
			if b, _ := os.ReadFile(path); string(b) != "one\n" {
				t.Fatalf("after the failed batch the file holds %q", b)
			}
			ffs.Inject(nil)
			if err := s.Deliver(ctx, events("two", "three")); err != nil {
				t.Fatal(err)
			}
			s.Close()
			if b, _ := os.ReadFile(path); string(b) != "one\ntwo\nthree\n" {
				t.Fatalf("file holds %q", b)
			}
		})
	}
}

// BenchmarkFileStreamSink measures 100-byte records appended (and fsynced)
// in batches of 500.
func BenchmarkFileStreamSink(b *testing.B) {
	s := NewFileStreamSink(filepath.Join(b.TempDir(), "out.txt"), nil)
	defer s.Close()
	batch := make([]flow.Event, 500)
	for i := range batch {
		batch[i] = flow.Event{Body: []byte(fmt.Sprintf("%099d", i))}
	}
	b.SetBytes(100)
	for n := 0; n < b.N; n += len(batch) {
		if err := s.Deliver(context.Background(), batch[:min(len(batch), b.N-n)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
