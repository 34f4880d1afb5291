package sink

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/fsutil"
)

// FileStreamSink config keys (Kafka Connect's names).
const (
	FileStreamFile        = "file"
	FileStreamTopics      = "topics"
	FileStreamTopicsRegex = "topics.regex"
)

// FileStreamSinkSpec documents the Kafka Connect file sink.
var FileStreamSinkSpec = flow.Spec{
	Names:   []string{"FileStreamSink", "org.apache.kafka.connect.file.FileStreamSinkConnector"},
	Summary: "appends each record's value and a newline to a file (standard output when no file is set); a batch is written and fsynced before it counts as delivered",
	Keys: []flow.Key{
		{Name: FileStreamFile, Doc: "the file to append to; standard output when absent"},
		{Name: FileStreamTopics, Doc: "comma-separated topics to read (the worker subscribes)"},
		{Name: FileStreamTopicsRegex, Doc: "regular expression of topics to read (the worker subscribes)"},
	},
}

func init() {
	flow.RegisterSink(FileStreamSinkSpec, func(c flow.Config) (flow.Sink, error) {
		return NewFileStreamSink(c.String(FileStreamFile), os.Stdout), nil
	})
}

// FileStreamSink is Kafka Connect's FileStreamSinkConnector: Deliver
// appends Body + "\n" per event to the file and returns once the bytes are
// written and fsynced. A batch whose write fails is cut off again (the file
// is truncated back to its size before the batch), so a redelivery does not
// leave a torn line.
type FileStreamSink struct {
	path   string
	stdout io.Writer
	fs     fsutil.FS

	mu  sync.Mutex // guards f and buf; Deliver and Close hold it
	f   fsutil.File
	buf []byte
}

// NewFileStreamSink returns a sink appending to path, or writing to stdout
// when path is empty. The file is opened (and created) on the first
// Deliver.
func NewFileStreamSink(path string, stdout io.Writer) *FileStreamSink {
	return &FileStreamSink{path: path, stdout: stdout, fs: fsutil.OS()}
}

// Deliver implements flow.Sink.
func (s *FileStreamSink) Deliver(_ context.Context, batch []flow.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = s.buf[:0]
	for _, e := range batch {
		s.buf = append(s.buf, e.Body...)
		s.buf = append(s.buf, '\n')
	}
	if s.path == "" {
		if _, err := s.stdout.Write(s.buf); err != nil {
			return fmt.Errorf("file sink: writing to standard output: %w", err)
		}
		return nil
	}
	if s.f == nil {
		f, err := s.fs.OpenFile(s.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			// The file may be new: make its name durable too.
			if err = s.fs.SyncDir(filepath.Dir(s.path)); err != nil {
				f.Close()
			}
		}
		if err != nil {
			return fmt.Errorf("file sink: opening %s: %w", s.path, err)
		}
		s.f = f
	}
	fi, err := s.f.Stat()
	if err != nil {
		return fmt.Errorf("file sink: checking %s: %w", s.path, err)
	}
	before := fi.Size()
	_, err = s.f.Write(s.buf)
	if err == nil {
		err = s.f.Datasync()
	}
	if err != nil {
		// Cut the partial batch off so the redelivery starts on a clean
		// line; if even that fails, reopen on the next try.
		if terr := s.f.Truncate(before); terr != nil {
			s.f.Close()
			s.f = nil
		}
		return fmt.Errorf("file sink: appending %d records to %s: %w", len(batch), s.path, err)
	}
	return nil
}

// Close implements flow.Sink.
func (s *FileStreamSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	if err != nil {
		return fmt.Errorf("file sink: closing %s: %w", s.path, err)
	}
	return nil
}
