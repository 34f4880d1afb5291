package source

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/fsutil"
)

// Spooling directory source config keys (Flume's names).
const (
	SpoolSpoolDir                 = "spoolDir"
	SpoolFileSuffix               = "fileSuffix"
	SpoolDeletePolicy             = "deletePolicy"
	SpoolFileHeader               = "fileHeader"
	SpoolFileHeaderKey            = "fileHeaderKey"
	SpoolBasenameHeader           = "basenameHeader"
	SpoolBasenameHeaderKey        = "basenameHeaderKey"
	SpoolIncludePattern           = "includePattern"
	SpoolIgnorePattern            = "ignorePattern"
	SpoolTrackerDir               = "trackerDir"
	SpoolTrackingPolicy           = "trackingPolicy"
	SpoolConsumeOrder             = "consumeOrder"
	SpoolRecursiveDirectorySearch = "recursiveDirectorySearch"
	SpoolPollDelay                = "pollDelay"
	SpoolMaxBackoff               = "maxBackoff"
	SpoolBatchSize                = "batchSize"
	SpoolInputCharset             = "inputCharset"
	SpoolDecodeErrorPolicy        = "decodeErrorPolicy"
	SpoolDeserializer             = "deserializer"
	SpoolMaxLineLength            = "deserializer.maxLineLength"
	SpoolOutputCharset            = "deserializer.outputCharset"

	// spoolMaxRawLine bounds one line's bytes in memory before it is cut
	// into maxLineLength pieces.
	spoolMaxRawLine = 64 << 20
)

// SpoolDirSpec documents the spooldir source.
var SpoolDirSpec = flow.Spec{
	Names:   []string{"spooldir", "org.apache.flume.source.SpoolDirectorySource", "SpoolDirSource"},
	Summary: "reads every file dropped in a directory line by line, then renames it with fileSuffix (or deletes it)",
	Keys: []flow.Key{
		{Name: SpoolSpoolDir, Required: true, Doc: "directory to read files from"},
		{Name: SpoolFileSuffix, Default: ".COMPLETED", Doc: "suffix appended to a file once all its events are committed"},
		{Name: SpoolDeletePolicy, Default: "never", Doc: "never (rename with fileSuffix) or immediate (delete once committed)"},
		{Name: SpoolFileHeader, Type: flow.Bool, Default: "false", Doc: "add a header with the file's absolute path"},
		{Name: SpoolFileHeaderKey, Default: "file", Doc: "name of the fileHeader header"},
		{Name: SpoolBasenameHeader, Type: flow.Bool, Default: "false", Doc: "add a header with the file's name"},
		{Name: SpoolBasenameHeaderKey, Default: "basename", Doc: "name of the basenameHeader header"},
		{Name: SpoolIncludePattern, Default: "^.*$", Doc: "regular expression a file name must match to be read"},
		{Name: SpoolIgnorePattern, Default: "^$", Doc: "regular expression of file names to skip (wins over includePattern)"},
		{Name: SpoolTrackerDir, Default: ".flumespool", Doc: "directory (relative to spoolDir unless absolute) holding the position in the current file"},
		{Name: SpoolTrackingPolicy, Default: "rename", Doc: "rename (rename completed files) or tracker_dir (leave them, mark them done in trackerDir)"},
		{Name: SpoolConsumeOrder, Default: "oldest", Doc: "oldest, youngest or random: which file (by modification time) is read next"},
		{Name: SpoolRecursiveDirectorySearch, Type: flow.Bool, Default: "false", Doc: "also read files in sub-directories"},
		{Name: SpoolPollDelay, Type: flow.Int, Default: "500", Min: 1, Max: 1 << 40, Doc: "milliseconds between looks for new files"},
		{Name: SpoolMaxBackoff, Type: flow.Int, Default: "4000", Min: 1, Max: 1 << 40, Doc: "longest wait in milliseconds between retries of a batch the channels refused"},
		{Name: SpoolBatchSize, Type: flow.Int, Default: "100", Min: 1, Max: 1 << 20, Doc: "most events per batch put to the channels"},
		{Name: SpoolInputCharset, Default: "UTF-8", Doc: "character set of the files (an ASCII-compatible one: UTF-16/32 are refused)"},
		{Name: SpoolDecodeErrorPolicy, Default: DecodeFail, Doc: "FAIL (report the file and leave it), REPLACE (U+FFFD) or IGNORE (drop) for bytes not valid in inputCharset"},
		{Name: SpoolDeserializer, Default: "LINE", Doc: "LINE: one event per line (the only deserializer supported)"},
		{Name: SpoolMaxLineLength, Type: flow.Int, Default: "2048", Min: 1, Max: 1 << 30, Doc: "most characters per event; longer lines are cut into several events"},
		{Name: SpoolOutputCharset, Default: "UTF-8", Doc: "character set of event bodies"},
		{Name: "deserializer.*", Doc: "other deserializer settings (ignored by LINE)"},
		{Name: "bufferMaxLines", NotImplemented: true, Doc: "deprecated in Flume; no effect"},
		{Name: "bufferMaxLineLength", NotImplemented: true, Doc: "deprecated in Flume; use deserializer.maxLineLength"},
	},
}

func init() {
	flow.RegisterSource(SpoolDirSpec, func(c flow.Config) (flow.Source, error) { return NewSpoolDir(c) })
}

// SpoolDir is Flume's spooling directory source. Files in the directory
// must not change once there: a file whose size or modification time
// changed after it was picked up, a completed name that is already taken by
// a different file, or (decodeErrorPolicy FAIL) bytes that are not text in
// inputCharset are reported as an error naming the file; that file is left
// where it is and skipped until it is replaced, and the source goes on with
// the others.
//
// The position in the current file is kept in trackerDir (see
// docs/sources.md) and written, with fsync, only after the channels
// committed the batch read up to it, so a restart resumes mid-file and reads
// again at most the batch that was not committed. A file is renamed (or
// deleted) only after all its events are committed.
type SpoolDir struct {
	cfg           flow.Config
	dir           string
	trackerDir    string
	suffix        string
	deleteDone    bool
	trackerPolicy bool // trackingPolicy tracker_dir
	fileHeader    string
	baseHeader    string
	include       *regexp.Regexp
	ignore        *regexp.Regexp
	order         string
	recursive     bool
	pollDelay     time.Duration
	maxBackoff    time.Duration
	batchSize     int
	maxLine       int
	codec         *textCodec

	// failed are files reported once and skipped while unchanged; used
	// only by Run's goroutine.
	failed map[string]fileID
}

// NewSpoolDir builds a spooldir source from its validated config.
func NewSpoolDir(c flow.Config) (*SpoolDir, error) {
	s := &SpoolDir{
		cfg:       c,
		dir:       filepath.Clean(c.String(SpoolSpoolDir)),
		suffix:    c.String(SpoolFileSuffix),
		order:     strings.ToLower(c.String(SpoolConsumeOrder)),
		recursive: c.Bool(SpoolRecursiveDirectorySearch),
		pollDelay: time.Duration(c.Int(SpoolPollDelay)) * time.Millisecond,
		batchSize: int(c.Int(SpoolBatchSize)),
		maxLine:   int(c.Int(SpoolMaxLineLength)),
		failed:    map[string]fileID{},
	}
	s.maxBackoff = time.Duration(c.Int(SpoolMaxBackoff)) * time.Millisecond
	if !filepath.IsAbs(s.dir) {
		abs, err := filepath.Abs(s.dir)
		if err != nil {
			return nil, keyErr(SpoolSpoolDir, s.dir, err.Error(), "give an absolute path")
		}
		s.dir = abs
	}
	s.trackerDir = c.String(SpoolTrackerDir)
	if !filepath.IsAbs(s.trackerDir) {
		s.trackerDir = filepath.Join(s.dir, s.trackerDir)
	}
	switch p := strings.ToLower(c.String(SpoolDeletePolicy)); p {
	case "never":
	case "immediate":
		s.deleteDone = true
	default:
		return nil, keyErr(SpoolDeletePolicy, p, "unknown delete policy", "use never or immediate")
	}
	switch p := strings.ToLower(c.String(SpoolTrackingPolicy)); p {
	case "rename":
	case "tracker_dir":
		s.trackerPolicy = true
	default:
		return nil, keyErr(SpoolTrackingPolicy, p, "unknown tracking policy", "use rename or tracker_dir")
	}
	if s.suffix == "" && !s.deleteDone {
		return nil, keyErr(SpoolFileSuffix, "", "empty suffix: completed files could not be told from new ones", "keep the default .COMPLETED")
	}
	switch s.order {
	case "oldest", "youngest", "random":
	default:
		return nil, keyErr(SpoolConsumeOrder, s.order, "unknown consume order", "use oldest, youngest or random")
	}
	if c.Bool(SpoolFileHeader) {
		s.fileHeader = c.String(SpoolFileHeaderKey)
	}
	if c.Bool(SpoolBasenameHeader) {
		s.baseHeader = c.String(SpoolBasenameHeaderKey)
	}
	var err error
	if s.include, err = regexp.Compile(c.String(SpoolIncludePattern)); err != nil {
		return nil, keyErr(SpoolIncludePattern, c.String(SpoolIncludePattern), err.Error(), "give a valid regular expression")
	}
	if s.ignore, err = regexp.Compile(c.String(SpoolIgnorePattern)); err != nil {
		return nil, keyErr(SpoolIgnorePattern, c.String(SpoolIgnorePattern), err.Error(), "give a valid regular expression")
	}
	switch d := c.String(SpoolDeserializer); strings.ToUpper(d) {
	case "LINE", strings.ToUpper("org.apache.flume.serialization.LineDeserializer$Builder"):
	default:
		return nil, keyErr(SpoolDeserializer, d, "unsupported deserializer", "use LINE (the default); AVRO and BLOB are not supported")
	}
	for _, k := range []string{SpoolInputCharset, SpoolOutputCharset} {
		if err := charsetKeyError(k, c.String(k)); err != nil {
			return nil, err
		}
		if u := strings.ToUpper(c.String(k)); strings.HasPrefix(u, "UTF-16") || strings.HasPrefix(u, "UTF-32") {
			return nil, keyErr(k, c.String(k), "not an ASCII-compatible character set", "use UTF-8, ISO-8859-1, US-ASCII, windows-1252 or similar")
		}
	}
	policy := strings.ToUpper(c.String(SpoolDecodeErrorPolicy))
	switch policy {
	case DecodeFail, DecodeReplace, DecodeIgnore:
	default:
		return nil, keyErr(SpoolDecodeErrorPolicy, policy, "unknown decode error policy", "use FAIL, REPLACE or IGNORE")
	}
	if s.codec, err = newTextCodec(c.String(SpoolInputCharset), c.String(SpoolOutputCharset), policy); err != nil {
		return nil, keyErr(SpoolInputCharset, c.String(SpoolInputCharset), err.Error(), "use an IANA character set name")
	}
	return s, nil
}

// fileID identifies a file's content as picked up: a file that keeps its
// identity must not change.
type fileID struct {
	Inode uint64 `json:"inode"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtimeNanos"`
}

func statID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	return idOf(fi), nil
}

func idOf(fi os.FileInfo) fileID {
	id := fileID{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.Inode = st.Ino
	}
	return id
}

// Run implements flow.Source: it reads files one after the other until ctx
// is done.
func (s *SpoolDir) Run(ctx context.Context, out flow.Emitter) error {
	if fi, err := os.Stat(s.dir); err != nil {
		return fmt.Errorf("spooldir source %s: opening the spool directory: %w", s.cfg.Name, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("spooldir source %s: spool directory %s is not a directory", s.cfg.Name, s.dir)
	}
	if err := os.MkdirAll(s.trackerDir, 0o755); err != nil {
		return fmt.Errorf("spooldir source %s: creating the tracker directory: %w", s.cfg.Name, err)
	}
	log := s.cfg.Log()
	resume, err := readSpoolTracker(s.trackerFile())
	if err != nil {
		log.Warn("spooldir source ignores an unreadable tracker file; files are read from their start", "err", err)
		resume = nil
	}
	for ctx.Err() == nil {
		var path string
		var pos spoolPos
		var id fileID
		if resume != nil {
			path, pos, id = resume.File, resume.Pos, resume.ID
			resume = nil
			cur, err := statID(path)
			if err != nil {
				continue // completed (renamed) before the tracker was cleared, or removed
			}
			if s.done(path) || cur.Inode != id.Inode {
				continue // completed, or another file now has the name: read it fresh
			}
			if cur != id {
				s.fail(path, cur, fmt.Errorf("file has been modified since being read: %s", path))
				continue
			}
		} else {
			path = s.next()
			if path == "" {
				if !sleepCtx(ctx, s.pollDelay) {
					return nil
				}
				continue
			}
			if id, err = statID(path); err != nil {
				continue
			}
			pos = spoolPos{}
		}
		if err := s.consume(ctx, out, path, id, pos); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			cur, _ := statID(path)
			s.fail(path, cur, err)
		}
	}
	return nil
}

// fail reports a file that cannot be spooled and skips it while unchanged.
func (s *SpoolDir) fail(path string, id fileID, err error) {
	s.cfg.Log().Error("spooldir source cannot spool a file; it is left in place and skipped until replaced", "file", path, "err", err)
	s.cfg.Counters.Add("GenericProcessingFail", 1)
	s.failed[path] = id
	if werr := writeSpoolTracker(s.trackerFile(), nil); werr != nil {
		s.cfg.Log().Error("spooldir source could not clear its tracker file", "err", werr)
	}
}

func (s *SpoolDir) trackerFile() string { return filepath.Join(s.trackerDir, spoolTrackerName) }

// markerFile is the trackingPolicy tracker_dir mark of a completed file.
func (s *SpoolDir) markerFile(path string) string {
	rel, err := filepath.Rel(s.dir, path)
	if err != nil {
		rel = filepath.Base(path)
	}
	return filepath.Join(s.trackerDir, rel+s.suffix)
}

// done reports whether path was already completed under tracker_dir.
func (s *SpoolDir) done(path string) bool {
	if !s.trackerPolicy {
		return false
	}
	_, err := os.Stat(s.markerFile(path))
	return err == nil
}

// next picks the file to read next by consumeOrder, "" when there is none.
func (s *SpoolDir) next() string {
	type cand struct {
		path  string
		mtime time.Time
	}
	var cands []cand
	var walk func(dir string)
	walk = func(dir string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			s.cfg.Log().Warn("spooldir source could not list a directory", "dir", dir, "err", err)
			return
		}
		for _, e := range entries {
			name := e.Name()
			p := filepath.Join(dir, name)
			if strings.HasPrefix(name, ".") || p == s.trackerDir {
				continue
			}
			if e.IsDir() {
				if s.recursive {
					walk(p)
				}
				continue
			}
			if !e.Type().IsRegular() || (s.suffix != "" && strings.HasSuffix(name, s.suffix)) {
				continue
			}
			if !s.include.MatchString(name) || s.ignore.MatchString(name) {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue
			}
			if id, bad := s.failed[p]; bad {
				if id == idOf(fi) {
					continue
				}
				delete(s.failed, p) // replaced: try it again
			}
			if s.done(p) {
				continue
			}
			cands = append(cands, cand{p, fi.ModTime()})
		}
	}
	walk(s.dir)
	if len(cands) == 0 {
		return ""
	}
	if s.order == "random" {
		return cands[rand.IntN(len(cands))].path
	}
	best := cands[0]
	for _, c := range cands[1:] {
		switch {
		case s.order == "oldest" && (c.mtime.Before(best.mtime) || (c.mtime.Equal(best.mtime) && c.path < best.path)):
			best = c
		case s.order == "youngest" && (c.mtime.After(best.mtime) || (c.mtime.Equal(best.mtime) && c.path < best.path)):
			best = c
		}
	}
	return best.path
}

// consume reads path from pos to its end, committing batches and recording
// the position after each, then completes the file.
func (s *SpoolDir) consume(ctx context.Context, out flow.Emitter, path string, id fileID, pos spoolPos) error {
	r, err := openSpoolReader(path, pos, s.maxLine, s.codec)
	if err != nil {
		return err
	}
	defer r.close()
	headers := map[string]string{}
	if s.fileHeader != "" {
		headers[s.fileHeader] = path
	}
	if s.baseHeader != "" {
		headers[s.baseHeader] = filepath.Base(path)
	}
	for {
		batch := make([]flow.Event, 0, s.batchSize)
		var end spoolPos
		for len(batch) < s.batchSize {
			body, p, err := r.next()
			if errors.Is(err, errSpoolEOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("reading %s at byte %d: %w", path, r.pos.Offset, err)
			}
			h := make(map[string]string, len(headers))
			for k, v := range headers {
				h[k] = v
			}
			batch = append(batch, flow.Event{Headers: h, Body: body})
			end = p
		}
		if len(batch) == 0 {
			break
		}
		if err := s.emit(ctx, out, batch); err != nil {
			return err
		}
		if err := writeSpoolTracker(s.trackerFile(), &spoolTracker{File: path, ID: id, Pos: end}); err != nil {
			return fmt.Errorf("recording the position in %s: %w", path, err)
		}
	}
	return s.complete(path, id)
}

// emit offers batch until committed, backing off from 250ms up to
// maxBackoff.
func (s *SpoolDir) emit(ctx context.Context, out flow.Emitter, batch []flow.Event) error {
	return emitBackoff(ctx, out, batch, s.cfg, "spooldir", retryBackoff{first: 250 * time.Millisecond, max: s.maxBackoff})
}

// complete checks that path did not change since it was picked up, then
// renames, deletes or marks it and clears the tracker.
func (s *SpoolDir) complete(path string, id fileID) error {
	cur, err := statID(path)
	if err != nil {
		return fmt.Errorf("checking %s before completing it: %w", path, err)
	}
	if cur.Size != id.Size {
		return fmt.Errorf("file has changed size since being read: %s", path)
	}
	if cur != id {
		return fmt.Errorf("file has been modified since being read: %s", path)
	}
	switch {
	case s.deleteDone:
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("deleting completed file %s: %w", path, err)
		}
	case s.trackerPolicy:
		m := s.markerFile(path)
		if err := os.MkdirAll(filepath.Dir(m), 0o755); err != nil {
			return fmt.Errorf("marking %s completed: %w", path, err)
		}
		if err := os.WriteFile(m, nil, 0o644); err != nil {
			return fmt.Errorf("marking %s completed: %w", path, err)
		}
	default:
		dest := path + s.suffix
		if _, err := os.Stat(dest); err == nil {
			same, cerr := sameContent(path, dest)
			if cerr != nil {
				return fmt.Errorf("comparing %s with the completed %s: %w", path, dest, cerr)
			}
			if !same {
				return fmt.Errorf("file name has been re-used with different files; spooling assumptions violated for %s", dest)
			}
			s.cfg.Log().Info("spooldir source: completed file already exists with the same content; removing the source file", "file", path)
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("removing %s: %w", path, err)
			}
		} else if err := os.Rename(path, dest); err != nil {
			return fmt.Errorf("renaming %s to %s: %w", path, dest, err)
		}
		fsutil.SyncDir(filepath.Dir(path))
	}
	return writeSpoolTracker(s.trackerFile(), nil)
}

// sameContent reports whether files a and b hold the same bytes.
func sameContent(a, b string) (bool, error) {
	ab, err := os.ReadFile(a)
	if err != nil {
		return false, err
	}
	bb, err := os.ReadFile(b)
	if err != nil {
		return false, err
	}
	return string(ab) == string(bb), nil
}
