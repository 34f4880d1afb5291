package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/tail"
)

// Taildir source config keys (Flume's names; pollInterval and
// maxLineLength are runnel's).
const (
	TaildirFileGroups            = "filegroups"
	TaildirPositionFile          = "positionFile"
	TaildirWritePosInterval      = "writePosInterval"
	TaildirSkipToEnd             = "skipToEnd"
	TaildirIdleTimeout           = "idleTimeout"
	TaildirByteOffsetHeader      = "byteOffsetHeader"
	TaildirFileHeader            = "fileHeader"
	TaildirFileHeaderKey         = "fileHeaderKey"
	TaildirBatchSize             = "batchSize"
	TaildirMaxBatchCount         = "maxBatchCount"
	TaildirCachePatternMatching  = "cachePatternMatching"
	TaildirBackoffSleepIncrement = "backoffSleepIncrement"
	TaildirMaxBackoffSleep       = "maxBackoffSleep"
	TaildirPollInterval          = "pollInterval"
	TaildirMaxLineLength         = "maxLineLength"

	// TaildirByteOffsetHeaderKey is the header byteOffsetHeader sets.
	TaildirByteOffsetHeaderKey = "byteoffset"
	// TaildirDefaultPositionFile is Flume's default positionFile.
	TaildirDefaultPositionFile = "~/.flume/taildir_position.json"
)

// TaildirSpec documents the taildir source.
var TaildirSpec = flow.Spec{
	Names:   []string{"TAILDIR", "org.apache.flume.source.taildir.TaildirSource"},
	Summary: "follows groups of files (directory + file-name regex) line by line, across rotation and restarts, recording positions in a JSON file",
	Keys: []flow.Key{
		{Name: TaildirFileGroups, Required: true, Doc: "space-separated names of file groups"},
		{Name: TaildirFileGroups + ".*", Doc: "filegroups.<g> = absolute path of the files of group g; the file-name part is a regular expression, the directory is literal"},
		{Name: "headers.*", Doc: "headers.<g>.<key> = value: a header set on every event of group g"},
		{Name: TaildirPositionFile, Default: TaildirDefaultPositionFile, Doc: "JSON file of each file's inode, fingerprint and committed position"},
		{Name: TaildirWritePosInterval, Type: flow.Int, Default: "3000", Min: 1, Max: 1 << 31, Doc: "milliseconds between writes of the position file (it is also written on stop)"},
		{Name: TaildirSkipToEnd, Type: flow.Bool, Default: "false", Doc: "start files that have no position at their end instead of their start (only files present at start-up; files created later are read whole)"},
		{Name: TaildirIdleTimeout, Type: flow.Int, Default: "120000", Min: 1, Max: 1 << 40, Doc: "milliseconds after which a file not written is closed (reopened when it grows), and a rotated-away file is dropped once read and committed"},
		{Name: TaildirByteOffsetHeader, Type: flow.Bool, Default: "false", Doc: `add header "byteoffset" with the line's byte offset in its file`},
		{Name: TaildirFileHeader, Type: flow.Bool, Default: "false", Doc: "add a header with the file's absolute path"},
		{Name: TaildirFileHeaderKey, Default: "file", Doc: "name of the fileHeader header"},
		{Name: TaildirBatchSize, Type: flow.Int, Default: "100", Min: 1, Max: 1 << 20, Doc: "most lines per batch put to the channels"},
		{Name: TaildirMaxBatchCount, Type: flow.Int, Default: "0", Min: 0, Max: 1 << 62, Doc: "most consecutive full batches read from one file before other files are served (0: no limit, Flume's Long.MAX_VALUE)"},
		{Name: TaildirCachePatternMatching, Type: flow.Bool, Default: "true", Doc: "list a directory again only when its modification time changed"},
		{Name: TaildirBackoffSleepIncrement, Type: flow.Int, Default: "1000", Min: 1, Max: 1 << 31, Doc: "milliseconds added to the wait after each failed put to the channels"},
		{Name: TaildirMaxBackoffSleep, Type: flow.Int, Default: "5000", Min: 1, Max: 1 << 31, Doc: "longest wait in milliseconds between retries of a failed put"},
		{Name: TaildirPollInterval, Type: flow.Int, Default: "250", Min: 1, Max: 1 << 31, Doc: "runnel: milliseconds between checks of the directories and files for new data, rotation and truncation (inotify events trigger a check sooner)"},
		{Name: TaildirMaxLineLength, Type: flow.Int, Default: strconv.Itoa(tail.DefaultMaxLineLength), Min: 1, Max: 1 << 30, Doc: "runnel: longer lines are split into events of this many bytes"},
	},
}

func init() {
	flow.RegisterSource(TaildirSpec, func(c flow.Config) (flow.Source, error) { return NewTaildir(c) })
}

// Taildir is Flume's TAILDIR source on tail.Follower: each line of each
// file of its groups is one event. Positions are written to the position
// file only for lines whose batch the channels committed (every
// writePosInterval and on stop), so a restart reads again at most the
// lines of batches not yet committed.
type Taildir struct {
	cfg          flow.Config
	groups       []tail.Group
	groupNames   []string
	headers      []map[string]string // per group
	positionFile string
	writeEvery   time.Duration
	batchSize    int
	backoffStep  time.Duration
	backoffMax   time.Duration
	opts         tail.Options
	offsetHeader bool
	fileHeader   string // "" = none
}

// NewTaildir builds a taildir source from its validated config.
func NewTaildir(c flow.Config) (*Taildir, error) {
	s := &Taildir{
		cfg:          c,
		writeEvery:   time.Duration(c.Int(TaildirWritePosInterval)) * time.Millisecond,
		batchSize:    int(c.Int(TaildirBatchSize)),
		backoffStep:  time.Duration(c.Int(TaildirBackoffSleepIncrement)) * time.Millisecond,
		backoffMax:   time.Duration(c.Int(TaildirMaxBackoffSleep)) * time.Millisecond,
		offsetHeader: c.Bool(TaildirByteOffsetHeader),
	}
	if c.Bool(TaildirFileHeader) {
		s.fileHeader = c.String(TaildirFileHeaderKey)
	}
	pf, err := expandHome(c.String(TaildirPositionFile))
	if err != nil {
		return nil, &flow.KeyError{Key: TaildirPositionFile, Value: c.String(TaildirPositionFile), Problem: err.Error(), Fix: "give an absolute path"}
	}
	s.positionFile = pf
	paths := c.Prefixed(TaildirFileGroups + ".")
	headers := c.Prefixed("headers.")
	for _, g := range strings.Fields(c.String(TaildirFileGroups)) {
		p, ok := paths[g]
		key := TaildirFileGroups + "." + g
		if !ok || p == "" {
			return nil, &flow.KeyError{Key: key, Problem: "file group " + g + " has no path", Fix: fmt.Sprintf("set %s to the files' path, e.g. /var/log/app/.*\\.log", key)}
		}
		if !filepath.IsAbs(p) {
			return nil, &flow.KeyError{Key: key, Value: p, Problem: "not an absolute path", Fix: "give the directory from the root, e.g. /var/log/app/.*\\.log"}
		}
		grp, err := tail.NewGroup(filepath.Dir(p), filepath.Base(p))
		if err != nil {
			return nil, &flow.KeyError{Key: key, Value: p, Problem: "the file name is not a valid regular expression: " + err.Error(), Fix: "write the file-name part as a regular expression (Java syntax, e.g. app-.*\\.log); the directory part is literal"}
		}
		h := map[string]string{}
		for k, v := range headers {
			if name, ok := strings.CutPrefix(k, g+"."); ok && name != "" {
				h[name] = v
			}
		}
		s.groups = append(s.groups, grp)
		s.groupNames = append(s.groupNames, g)
		s.headers = append(s.headers, h)
	}
	if len(s.groups) == 0 {
		return nil, &flow.KeyError{Key: TaildirFileGroups, Problem: "no file group named", Fix: "list group names, e.g. filegroups = f1 f2, and set filegroups.f1 = /var/log/app/.*\\.log"}
	}
	s.opts = tail.Options{
		Groups:        s.groups,
		SkipToEnd:     c.Bool(TaildirSkipToEnd),
		PollInterval:  time.Duration(c.Int(TaildirPollInterval)) * time.Millisecond,
		IdleTimeout:   time.Duration(c.Int(TaildirIdleTimeout)) * time.Millisecond,
		MaxLineLength: int(c.Int(TaildirMaxLineLength)),
		CacheListing:  c.Bool(TaildirCachePatternMatching),
		MaxBatchCount: int(c.Int(TaildirMaxBatchCount)),
		Logger:        c.Log(),
	}
	return s, nil
}

// expandHome replaces a leading "~" with the user's home directory.
func expandHome(p string) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the home directory for %s: %w", p, err)
		}
		return filepath.Join(home, p[1:]), nil
	}
	return p, nil
}

// PositionFile is the path positions are written to.
func (s *Taildir) PositionFile() string { return s.positionFile }

// Run implements flow.Source. It reads batches of lines, emits them,
// commits their positions once Emit returned nil (retrying a failed batch
// with backoff until it succeeds or ctx ends), and writes the position
// file every writePosInterval and on return.
func (s *Taildir) Run(ctx context.Context, out flow.Emitter) (err error) {
	log := s.cfg.Log()
	opts := s.opts
	if opts.Positions, err = tail.ReadPositionFile(s.positionFile); err != nil {
		return fmt.Errorf("taildir source %s: %w", s.cfg.Name, err)
	}
	f, err := tail.New(opts)
	if err != nil {
		return fmt.Errorf("taildir source %s: %w", s.cfg.Name, err)
	}
	log.Info("taildir source started", "groups", strings.Join(s.groupNames, " "), "positionFile", s.positionFile)
	dirty := false
	defer func() {
		if dirty {
			if werr := tail.WritePositionFile(s.positionFile, f.Positions()); werr != nil && err == nil {
				err = fmt.Errorf("taildir source %s: %w", s.cfg.Name, werr)
			}
		}
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("taildir source %s: closing files: %w", s.cfg.Name, cerr)
		}
		log.Info("taildir source stopped")
	}()
	lastWrite := time.Now()
	wait := min(s.writeEvery, time.Second)
	for ctx.Err() == nil {
		lines, rerr := f.Read(ctx, s.batchSize, wait)
		if rerr != nil {
			if ctx.Err() != nil {
				return nil
			}
			var oe *tail.OpenError
			if !errors.As(rerr, &oe) {
				s.cfg.Counters.Add("EventReadFail", 1)
				return fmt.Errorf("taildir source %s: %w", s.cfg.Name, rerr)
			}
			log.Warn("taildir source cannot open a file; it is tried again", "err", rerr)
		}
		if len(lines) > 0 {
			if !s.emit(ctx, out, s.events(lines)) {
				return nil
			}
			f.Commit(lines)
			dirty = true
		}
		if dirty && time.Since(lastWrite) >= s.writeEvery {
			if err := tail.WritePositionFile(s.positionFile, f.Positions()); err != nil {
				return fmt.Errorf("taildir source %s: %w", s.cfg.Name, err)
			}
			dirty, lastWrite = false, time.Now()
		}
	}
	return nil
}

// events turns lines into events with the group's headers.
func (s *Taildir) events(lines []tail.Line) []flow.Event {
	batch := make([]flow.Event, len(lines))
	for i, l := range lines {
		gh := s.headers[l.Group]
		h := make(map[string]string, len(gh)+2)
		for k, v := range gh {
			h[k] = v
		}
		if s.offsetHeader {
			h[TaildirByteOffsetHeaderKey] = strconv.FormatInt(l.Offset, 10)
		}
		if s.fileHeader != "" {
			h[s.fileHeader] = l.Path
		}
		batch[i] = flow.Event{Headers: h, Body: l.Data, Offset: -1}
	}
	return batch
}

// emit puts batch to the channels, retrying after a growing backoff until
// it is committed (true) or ctx ends (false).
func (s *Taildir) emit(ctx context.Context, out flow.Emitter, batch []flow.Event) bool {
	return emitRetrying(ctx, out, batch, s.backoffStep, s.backoffMax, func(err error, wait time.Duration) {
		s.cfg.Log().Warn("taildir source could not put a batch to its channels; retrying the same lines", "retry_in", wait, "err", err)
	})
}

// emitRetrying emits batch until Emit returns nil (true) or ctx ends
// (false), waiting step, 2*step, ... up to most between tries.
func emitRetrying(ctx context.Context, out flow.Emitter, batch []flow.Event, step, most time.Duration, failed func(err error, wait time.Duration)) bool {
	wait := time.Duration(0)
	for {
		err := out.Emit(ctx, batch)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		wait = min(wait+step, most)
		failed(err, wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}
