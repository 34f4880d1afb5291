package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/fsutil"
)

// File roll sink config keys (Flume's names).
const (
	FileRollDirectory     = "sink.directory"
	FileRollInterval      = "sink.rollInterval"
	FileRollPathManager   = "sink.pathManager"
	FileRollPrefix        = "sink.pathManager.prefix"
	FileRollExtension     = "sink.pathManager.extension"
	FileRollSerializer    = "sink.serializer"
	FileRollAppendNewline = "sink.serializer.appendNewline"
	FileRollBatchSize     = "batchSize"
	FileRollSinkBatchSize = "sink.batchSize"
)

// FileRollSpec documents the file_roll sink.
var FileRollSpec = flow.Spec{
	Names:   []string{"file_roll", "org.apache.flume.sink.RollingFileSink"},
	Summary: "appends events to files in a local directory, starting a new file every rollInterval seconds",
	Keys: []flow.Key{
		{Name: FileRollDirectory, Required: true, Doc: "directory the files are written to (created if missing)"},
		{Name: FileRollInterval, Type: flow.Int, Default: "30", Min: 0, Max: 1 << 31, Doc: "seconds before starting a new file; 0 never rolls"},
		{Name: FileRollPathManager, Default: "DEFAULT", Doc: "file naming: DEFAULT (<prefix><start ms>-<n>) or rolltime (<prefix><yyyyMMddHHmmss>-<n>)"},
		{Name: FileRollPrefix, Doc: "text before every file name"},
		{Name: FileRollExtension, Doc: "file name extension, after a dot (none when empty)"},
		{Name: FileRollSerializer, Default: "TEXT", Doc: "TEXT (the body) or header_and_text (headers, a space, the body)"},
		{Name: FileRollAppendNewline, Type: flow.Bool, Default: "true", Doc: "write a newline after every event"},
		{Name: FileRollBatchSize, Type: flow.Int, Default: "100", Min: 1, Max: 1 << 20, Doc: "most events taken per transaction"},
		{Name: FileRollSinkBatchSize, Type: flow.Int, Min: 1, Max: 1 << 20, Doc: "the name Flume's code reads for batchSize; wins when both are set"},
	},
}

func init() {
	flow.RegisterSink(FileRollSpec, newFileRoll)
}

func newFileRoll(c flow.Config) (flow.Sink, error) {
	ser, err := newSerializer(FileRollSerializer, c.String(FileRollSerializer), c.Bool(FileRollAppendNewline))
	if err != nil {
		return nil, err
	}
	s := &FileRoll{
		Dir:      c.String(FileRollDirectory),
		Interval: time.Duration(c.Int(FileRollInterval)) * time.Second,
		Prefix:   c.String(FileRollPrefix),
		Ext:      c.String(FileRollExtension),
		ser:      ser,
		batch:    int(c.Int(FileRollBatchSize)),
		now:      time.Now,
		cfg:      c,
	}
	if _, ok := c.Raw(FileRollSinkBatchSize); ok {
		s.batch = int(c.Int(FileRollSinkBatchSize))
	}
	switch pm := strings.ToLower(c.String(FileRollPathManager)); pm {
	case "default", "org.apache.flume.formatter.output.defaultpathmanager$builder":
	case "rolltime", "org.apache.flume.formatter.output.rolltimepathmanager$builder":
		s.RollTime = true
	default:
		return nil, &flow.KeyError{Key: FileRollPathManager, Value: c.String(FileRollPathManager), Problem: "unknown path manager", Fix: "use DEFAULT or rolltime"}
	}
	s.series = s.now().UnixMilli()
	return s, nil
}

// FileRoll is Flume's RollingFileSink: events are appended to one file in
// Dir, fsynced before Deliver returns; after Interval a new file is started.
// Files are named as Flume's path managers name them: DEFAULT gives
// <prefix><ms when the sink started>-<n>[.<ext>], rolltime gives
// <prefix><yyyyMMddHHmmss, local time>-<n>[.<ext>] with n restarting at 1
// each second. Unlike Flume, a file is created with the first event after a
// roll, so an idle sink does not leave a trail of empty files.
type FileRoll struct {
	Dir      string
	Interval time.Duration
	RollTime bool
	Prefix   string
	Ext      string
	ser      eventSerializer
	batch    int
	now      func() time.Time
	cfg      flow.Config

	mu       sync.Mutex // guards everything below; held by Deliver and Close
	series   int64
	index    int
	lastRoll string
	f        *os.File
	size     int64
	opened   time.Time
	buf      []byte
	// w writes to f; wrapFile, when set (tests), wraps it.
	w        io.Writer
	wrapFile func(io.Writer) io.Writer
}

// BatchSize implements flow.BatchSizer.
func (s *FileRoll) BatchSize() int { return s.batch }

// nextName returns the next file's name. Expects s.mu.
func (s *FileRoll) nextName() string {
	var b strings.Builder
	b.WriteString(s.Prefix)
	if s.RollTime {
		date := s.now().Format("20060102150405")
		if date != s.lastRoll {
			s.index, s.lastRoll = 0, date
		}
		b.WriteString(date)
	} else {
		b.WriteString(strconv.FormatInt(s.series, 10))
	}
	s.index++
	b.WriteString("-" + strconv.Itoa(s.index))
	if s.Ext != "" {
		b.WriteString("." + s.Ext)
	}
	return b.String()
}

// Deliver implements flow.Sink: the batch is appended and fsynced. On a
// failed write the file is cut back to its size before the batch, so the
// redelivered batch is not written twice.
func (s *FileRoll) Deliver(_ context.Context, batch []flow.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil && s.Interval > 0 && s.now().Sub(s.opened) >= s.Interval {
		if err := s.closeFile(); err != nil {
			return err
		}
	}
	if s.f == nil {
		if err := s.openFile(); err != nil {
			s.cfg.Counters.Add("ConnectionFailedCount", 1)
			return err
		}
	}
	s.buf = s.buf[:0]
	for _, e := range batch {
		s.buf = s.ser.Append(s.buf, e)
	}
	_, err := s.w.Write(s.buf)
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		err = fmt.Errorf("writing %d events to %s: %w", len(batch), s.f.Name(), err)
		if terr := s.f.Truncate(s.size); terr != nil {
			// The file's end is unknown: start a new one for the retry.
			err = errors.Join(err, fmt.Errorf("cutting %s back to %d bytes: %w", s.f.Name(), s.size, terr), s.closeFile())
		}
		return err
	}
	s.size += int64(len(s.buf))
	return nil
}

// openFile creates the next file. Expects s.mu.
func (s *FileRoll) openFile() error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("creating file_roll directory: %w", err)
	}
	name := filepath.Join(s.Dir, s.nextName())
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening file_roll file: %w", err)
	}
	st, err := f.Stat()
	if err == nil {
		err = fsutil.SyncDir(s.Dir)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("opening file_roll file: %w", err)
	}
	s.f, s.size, s.opened, s.w = f, st.Size(), s.now(), f
	if s.wrapFile != nil {
		s.w = s.wrapFile(f)
	}
	s.cfg.Counters.Add("ConnectionCreatedCount", 1)
	return nil
}

// closeFile closes the current file. Expects s.mu.
func (s *FileRoll) closeFile() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	s.cfg.Counters.Add("ConnectionClosedCount", 1)
	if err != nil {
		return fmt.Errorf("closing file_roll file: %w", err)
	}
	return nil
}

// Close implements flow.Sink.
func (s *FileRoll) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeFile()
}
