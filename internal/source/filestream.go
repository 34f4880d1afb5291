package source

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/tail"
)

// FileStreamSource config keys (Kafka Connect's names).
const (
	FileStreamFile      = "file"
	FileStreamTopic     = "topic"
	FileStreamBatchSize = "batch.size"
)

// FileStreamSource offset keys. Kafka's connector stores
// {"filename": file} → {"position": N}; runnel adds the file's inode and
// fingerprint, and the positions of rotated files still being read.
const (
	FileStreamPartitionKey       = "filename"
	FileStreamOffsetPosition     = "position"
	FileStreamOffsetInode        = "inode"
	FileStreamOffsetFingerprint  = "fingerprint"
	FileStreamOffsetFingerprintN = "fingerprintLength"
	FileStreamOffsetRotated      = "rotated"
	FileStreamOffsetRotatedFile  = "file"
)

// FileStreamSourceSpec documents the Kafka Connect file source.
var FileStreamSourceSpec = flow.Spec{
	Names:   []string{"FileStreamSource", "org.apache.kafka.connect.file.FileStreamSourceConnector"},
	Summary: "publishes every line of a file, then each line appended, like tail -F; survives rotation by rename and by copytruncate and resumes from its stored offset",
	Keys: []flow.Key{
		{Name: FileStreamFile, Required: true, Doc: "the file to read (standard input is not supported)"},
		{Name: FileStreamTopic, Required: true, Doc: "the topic to publish lines to"},
		{Name: FileStreamBatchSize, Type: flow.Int, Default: "2000", Min: 1, Max: 1 << 24, Doc: "most lines per batch"},
	},
}

func init() {
	flow.RegisterSource(FileStreamSourceSpec, func(c flow.Config) (flow.Source, error) { return NewFileStreamSource(c) })
}

// FileStreamSource is Kafka Connect's FileStreamSourceConnector on
// tail.Follower: Event.Topic = topic, Body = the line without its line
// ending. With an OffsetStore it resumes from the stored offset and puts
// the offset after each batch Emit committed; without one it starts at the
// file's beginning.
type FileStreamSource struct {
	cfg       flow.Config
	file      string
	topic     string
	batchSize int
	// PollInterval and IdleTimeout override the follower's defaults (tests).
	PollInterval, IdleTimeout time.Duration
}

// NewFileStreamSource builds the source from its validated config.
func NewFileStreamSource(c flow.Config) (*FileStreamSource, error) {
	file := c.String(FileStreamFile)
	if !filepath.IsAbs(file) {
		abs, err := filepath.Abs(file)
		if err != nil {
			return nil, &flow.KeyError{Key: FileStreamFile, Value: file, Problem: err.Error(), Fix: "give an absolute path"}
		}
		file = abs
	}
	return &FileStreamSource{cfg: c, file: filepath.Clean(file), topic: c.String(FileStreamTopic), batchSize: int(c.Int(FileStreamBatchSize))}, nil
}

// Run implements flow.Source. A file that exists but cannot be opened
// fails Run (the worker restarts the task with backoff); a missing file is
// waited for.
func (s *FileStreamSource) Run(ctx context.Context, out flow.Emitter) error {
	partition := map[string]any{FileStreamPartitionKey: s.file}
	opts := tail.Options{Groups: []tail.Group{tail.FileGroup(s.file)}, PollInterval: s.PollInterval, IdleTimeout: s.IdleTimeout, CacheListing: true, Logger: s.cfg.Log()}
	if s.cfg.Offsets != nil {
		off, err := s.cfg.Offsets.Get(ctx, partition)
		if err != nil {
			return fmt.Errorf("file source %s: reading the stored offset of %s: %w", s.cfg.Name, s.file, err)
		}
		if opts.Positions, err = PositionsFromOffset(s.file, off); err != nil {
			return fmt.Errorf("file source %s: %w", s.cfg.Name, err)
		}
	}
	f, err := tail.New(opts)
	if err != nil {
		return fmt.Errorf("file source %s: %w", s.cfg.Name, err)
	}
	defer f.Close()
	for ctx.Err() == nil {
		lines, err := f.Read(ctx, s.batchSize, time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("file source %s: %w", s.cfg.Name, err)
		}
		if len(lines) == 0 {
			continue
		}
		batch := make([]flow.Event, len(lines))
		for i, l := range lines {
			batch[i] = flow.Event{Topic: s.topic, Body: l.Data, Offset: -1}
		}
		ok := emitRetrying(ctx, out, batch, 100*time.Millisecond, 5*time.Second, func(err error, wait time.Duration) {
			s.cfg.Log().Warn("file source could not send a batch; retrying the same lines", "retry_in", wait, "err", err)
		})
		if !ok {
			return nil
		}
		f.Commit(lines)
		if s.cfg.Offsets != nil {
			if err := s.cfg.Offsets.Put(ctx, partition, OffsetFromPositions(s.file, f.Positions())); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("file source %s: storing the offset of %s: %w", s.cfg.Name, s.file, err)
			}
		}
	}
	return nil
}

// OffsetFromPositions encodes a follower's positions for file as a Connect
// source offset: the position of the file now at that name under Kafka's
// "position" key (0 when there is none), with its inode and fingerprint,
// and rotated files still being read under "rotated" (with the name they
// had, which may be file itself).
func OffsetFromPositions(file string, ps []tail.Position) map[string]any {
	off := map[string]any{FileStreamOffsetPosition: int64(0)}
	var rotated []any
	current := false
	for _, p := range ps {
		m := map[string]any{FileStreamOffsetPosition: p.Offset, FileStreamOffsetInode: int64(p.Inode)}
		if p.Fingerprint.Known() {
			m[FileStreamOffsetFingerprint] = p.Fingerprint.String()
			m[FileStreamOffsetFingerprintN] = int64(p.Fingerprint.Len)
		}
		if p.Path == file && !p.Rotated && !current {
			current = true
			for k, v := range m {
				off[k] = v
			}
			continue
		}
		m[FileStreamOffsetRotatedFile] = p.Path
		rotated = append(rotated, m)
	}
	if len(rotated) > 0 {
		off[FileStreamOffsetRotated] = rotated
	}
	return off
}

// PositionsFromOffset decodes an offset stored by OffsetFromPositions, or
// by Kafka's own connector ({"position": N} only: the file now at that
// name, if it is that long). A nil offset means none.
func PositionsFromOffset(file string, off map[string]any) ([]tail.Position, error) {
	if off == nil {
		return nil, nil
	}
	p, err := positionFromMap(file, off)
	if err != nil {
		return nil, fmt.Errorf("decoding the stored offset of %s: %w", file, err)
	}
	ps := []tail.Position{p}
	if r, ok := off[FileStreamOffsetRotated]; ok {
		list, ok := r.([]any)
		if !ok {
			return nil, fmt.Errorf("decoding the stored offset of %s: %q is %T, not a list", file, FileStreamOffsetRotated, r)
		}
		for i, e := range list {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("decoding the stored offset of %s: rotated entry %d is %T, not an object", file, i, e)
			}
			name, _ := m[FileStreamOffsetRotatedFile].(string)
			if name == "" {
				return nil, fmt.Errorf("decoding the stored offset of %s: rotated entry %d has no file", file, i)
			}
			rp, err := positionFromMap(name, m)
			if err != nil {
				return nil, fmt.Errorf("decoding the stored offset of %s: rotated entry %d: %w", file, i, err)
			}
			if rp.Inode == 0 {
				continue // without an inode a rotated file cannot be found
			}
			ps = append(ps, rp)
		}
	}
	return ps, nil
}

func positionFromMap(file string, m map[string]any) (tail.Position, error) {
	p := tail.Position{Path: file, Fingerprint: tail.Fingerprint{Len: -1}}
	pos, ok := number(m[FileStreamOffsetPosition])
	if !ok || pos < 0 {
		return p, fmt.Errorf("%q is %v, not a non-negative number", FileStreamOffsetPosition, m[FileStreamOffsetPosition])
	}
	p.Offset = pos
	if v, present := m[FileStreamOffsetInode]; present {
		ino, ok := number(v)
		if !ok || ino < 0 {
			return p, fmt.Errorf("%q is %v, not an inode number", FileStreamOffsetInode, v)
		}
		p.Inode = uint64(ino)
	}
	if v, present := m[FileStreamOffsetFingerprint]; present {
		sum, _ := v.(string)
		n, ok := number(m[FileStreamOffsetFingerprintN])
		if !ok {
			return p, fmt.Errorf("%q is %v, not a number", FileStreamOffsetFingerprintN, m[FileStreamOffsetFingerprintN])
		}
		fp, err := tail.ParseFingerprint(sum, int(min(max(n, -1), math.MaxInt32)))
		if err != nil {
			return p, err
		}
		p.Fingerprint = fp
	}
	return p, nil
}

// number reads a JSON-compatible whole number (float64 after a JSON round
// trip, int64 or int as put).
func number(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return 0, false
		}
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}
