package tail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"
)

// Defaults for Options fields left zero.
const (
	DefaultPollInterval  = 250 * time.Millisecond
	DefaultIdleTimeout   = 2 * time.Minute
	DefaultMaxLineLength = 1 << 20
	DefaultCopyHold      = 5 * time.Second
)

// readChunk is how many bytes one read asks a file for.
const readChunk = 64 << 10

// Group is a set of files to follow: the entries of Dir whose base name
// matches Pattern (as a whole).
type Group struct {
	Dir     string
	Pattern *regexp.Regexp
}

// NewGroup compiles pattern, a regular expression that must match a whole
// file name (as Java's Matcher.matches does), for the files in dir.
func NewGroup(dir, pattern string) (Group, error) {
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return Group{}, fmt.Errorf("compiling file name pattern %q: %w", pattern, err)
	}
	return Group{Dir: filepath.Clean(dir), Pattern: re}, nil
}

// FileGroup is the group of one file, path.
func FileGroup(path string) Group {
	path = filepath.Clean(path)
	return Group{Dir: filepath.Dir(path), Pattern: regexp.MustCompile(`^` + regexp.QuoteMeta(filepath.Base(path)) + `$`)}
}

// Options configure a Follower.
type Options struct {
	// Groups are the files to follow. A file matching several groups
	// belongs to the first.
	Groups []Group
	// Positions are where to resume (from Positions of an earlier run).
	Positions []Position
	// SkipToEnd starts files found by the first scan without a stored
	// position at their end (after their last complete line) instead of
	// their start. Files appearing later are always read from the start.
	SkipToEnd bool
	// PollInterval is how often directories and files are checked
	// (default DefaultPollInterval).
	PollInterval time.Duration
	// IdleTimeout closes a file not written for this long (it is reopened
	// when it grows) and drops a rotated-away file once it stayed idle this
	// long after its last line was committed (default DefaultIdleTimeout).
	IdleTimeout time.Duration
	// MaxLineLength splits longer lines (default DefaultMaxLineLength).
	MaxLineLength int
	// CacheListing lists a directory again only when its modification time
	// changed (Flume's cachePatternMatching).
	CacheListing bool
	// CopyHold is how long a new file whose first FingerprintSize bytes
	// equal a followed file's is held unread, waiting for the original to
	// be truncated (default DefaultCopyHold).
	CopyHold time.Duration
	// MaxBatchCount is how many consecutive full batches one file may fill
	// before the next file is served (0: until it has no more lines).
	MaxBatchCount int
	// PollOnly turns off inotify: without it, a Read waiting for lines is
	// woken by inotify events in the groups' directories and otherwise
	// every PollInterval; with it, only every PollInterval.
	PollOnly bool
	// Logger receives rotation and error notes (nil: discard).
	Logger *slog.Logger
}

// Line is one line read from a file.
type Line struct {
	// Data is the line without its line ending; it stays valid after later
	// Reads (each Read returns fresh memory).
	Data []byte
	// Path is the file's name when the line was read.
	Path string
	// Group is the index in Options.Groups of the file's group.
	Group int
	// Offset is the byte offset of the line's first byte in its file.
	Offset int64

	end int64
	cur *cursor
}

// End is the byte offset just after the line (and its line ending).
func (l Line) End() int64 { return l.end }

// OpenError is a file that matched a group but could not be opened; Read
// returns it once per failure of that path (it is tried again every poll).
type OpenError struct {
	Path string
	Err  error
}

func (e *OpenError) Error() string { return fmt.Sprintf("opening %s: %v", e.Path, e.Err) }
func (e *OpenError) Unwrap() error { return e.Err }

// cursor is the commit state of one file content: lines hold a pointer to
// it, so a commit lands on the right file even after the file was
// truncated (then the old cursor belongs to the copy, or to nothing).
type cursor struct {
	inode     uint64
	fp        Fingerprint
	committed int64
}

// file is one followed file.
type file struct {
	cur     *cursor
	ino     uint64
	path    string
	group   int
	f       *os.File // nil while closed for idleness
	readOff int64    // next byte to read from f
	buf     []byte   // bytes read; buf[head:] not yet handed out
	head    int
	size    int64     // size at the last check
	mtime   time.Time // modification time at the last check
	changed time.Time // last growth, read, open or rotation
	rotated bool      // no longer named by any matching path
	// copyOf is set while the file is held as a copy of a followed file
	// (same full fingerprint): it is not read until the original is
	// truncated (copytruncate: the copy takes over the original's position)
	// or the copy stopped growing for CopyHold (then it is read from where
	// its content stops being the original's).
	copyOf *file
	// prefixOnly: held while shorter than a fingerprint because its content
	// so far is the start of copyOf's.
	prefixOnly bool
}

// handed is the offset after the last byte handed out as a line.
func (t *file) handed() int64 { return t.readOff - int64(len(t.buf)-t.head) }

// orphanKind says how an orphan's content is looked for.
type orphanKind int

const (
	// stored: a position from an earlier run; the file is looked for by
	// inode (first among matching names, then among all names of its
	// directory), else by its copy.
	stored orphanKind = iota
	// legacy: a position without inode (a Kafka FileStreamSource offset):
	// the file now at its path, if long enough.
	legacy
	// copied: a file was truncated; its content up to off is looked for in
	// a copy with the same fingerprint.
	copied
)

// orphan is file content whose position is known but whose file is not
// open: a stored position not matched yet, or the content of a truncated
// file.
type orphan struct {
	kind orphanKind
	cur  *cursor
	path string
	off  int64 // where reading resumes in the file that is found
	// seen is how much of a truncated file's old content was known (its
	// size at the last check); -1 when unknown.
	seen int64
}

// dirState caches one directory's matching names (CacheListing).
type dirState struct {
	mtime   time.Time
	matches []match
}

type match struct {
	path  string
	group int
	inode uint64
	size  int64
	mtime time.Time
}

// Follower follows the files of its groups. It is not safe for concurrent
// use: one goroutine calls Read, Commit and Positions.
type Follower struct {
	opts    Options
	log     *slog.Logger
	files   []*file // rotated files first, then in order of discovery
	byIno   map[uint64]*file
	orphans []orphan
	dirs    map[string]*dirState
	scanned bool
	rescan  bool      // a truncation was seen while reading: scan before reading on
	last    time.Time // last scan
	rr      int       // index among unrotated files served first
	rrCount int       // consecutive full batches served by files[rr]
	failed  map[string]bool
	errs    []error
	closed  bool
	notify  *notifier // nil: polling only
}

// New returns a Follower; it opens nothing until the first Read.
func New(opts Options) (*Follower, error) {
	if len(opts.Groups) == 0 {
		return nil, errors.New("tail: no file groups to follow")
	}
	for i, g := range opts.Groups {
		if g.Pattern == nil || g.Dir == "" {
			return nil, fmt.Errorf("tail: group %d has no directory or pattern", i)
		}
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.CopyHold <= 0 {
		opts.CopyHold = DefaultCopyHold
	}
	if opts.MaxLineLength <= 0 {
		opts.MaxLineLength = DefaultMaxLineLength
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Follower{opts: opts, log: log, byIno: map[uint64]*file{}, dirs: map[string]*dirState{}, failed: map[string]bool{}}
	if !opts.PollOnly {
		f.notify = newNotifier()
	}
	for _, p := range opts.Positions {
		kind := stored
		if p.Inode == 0 {
			kind = legacy
		}
		f.orphans = append(f.orphans, orphan{kind: kind, cur: &cursor{inode: p.Inode, fp: p.Fingerprint, committed: p.Offset}, path: filepath.Clean(p.Path), off: p.Offset, seen: -1})
	}
	return f, nil
}

// Read returns up to max lines, waiting up to wait for the first one. It
// returns (nil, nil) when none arrived in time and ctx.Err() when ctx ends
// first. An *OpenError (possibly joined with others) reports files that
// match but cannot be opened; the other files are still followed.
func (f *Follower) Read(ctx context.Context, max int, wait time.Duration) ([]Line, error) {
	if f.closed {
		return nil, errors.New("tail: reading a closed follower")
	}
	if max <= 0 {
		max = 1
	}
	deadline := time.Now().Add(wait)
	for {
		now := time.Now()
		if !f.scanned || f.rescan || now.Sub(f.last) >= f.opts.PollInterval {
			if err := f.scan(now); err != nil {
				return nil, err
			}
		}
		if len(f.errs) > 0 {
			err := errors.Join(f.errs...)
			f.errs = nil
			return nil, err
		}
		lines, err := f.read(max, now)
		if err != nil || len(lines) > 0 {
			return lines, err
		}
		if !now.Before(deadline) {
			return nil, ctx.Err()
		}
		sleep := min(f.opts.PollInterval-now.Sub(f.last), deadline.Sub(now))
		if sleep <= 0 {
			sleep = time.Millisecond
		}
		if f.notify != nil {
			// A write is read on the next pass; a name that changed, or a
			// write while a file is held as a possible copy or closed for
			// idleness, needs a scan.
			if woke, names := f.notify.wait(ctx, sleep); names || woke && f.scanOnWrite() {
				f.rescan = true
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		timer := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}

// scanOnWrite reports whether a write event calls for a scan: a file is
// held as a possible copy, or closed for idleness (reads do not see it).
func (f *Follower) scanOnWrite() bool {
	for _, t := range f.files {
		if t.copyOf != nil || t.f == nil {
			return true
		}
	}
	return false
}

// Commit records that lines were delivered: each file's position moves to
// the end of its last committed line. Lines must be committed in the order
// Read returned them (a batch at a time is fine).
func (f *Follower) Commit(lines []Line) {
	for _, l := range lines {
		if l.cur != nil && l.end > l.cur.committed {
			l.cur.committed = l.end
		}
	}
}

// Positions returns the committed position of every file followed (and of
// stored positions not yet matched to a file), sorted by path.
func (f *Follower) Positions() []Position {
	ps := make([]Position, 0, len(f.files)+len(f.orphans))
	for _, t := range f.files {
		if t.copyOf != nil && !t.prefixOnly {
			// A copy is known again by its fingerprint after a restart;
			// a file held only because it is short (almost always a new
			// log) keeps its place, so it is found if rotated meanwhile.
			continue
		}
		ps = append(ps, Position{Path: t.path, Inode: t.cur.inode, Fingerprint: t.cur.fp, Offset: t.cur.committed, Rotated: t.rotated})
	}
	for _, o := range f.orphans {
		if o.kind != copied {
			ps = append(ps, Position{Path: o.path, Inode: o.cur.inode, Fingerprint: o.cur.fp, Offset: o.cur.committed})
		}
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Path != ps[j].Path {
			return ps[i].Path < ps[j].Path
		}
		return ps[i].Inode < ps[j].Inode
	})
	return ps
}

// Close closes every open file.
func (f *Follower) Close() error {
	f.closed = true
	var errs []error
	if f.notify != nil {
		errs = append(errs, f.notify.close())
		f.notify = nil
	}
	for _, t := range f.files {
		if t.f != nil {
			errs = append(errs, t.f.Close())
			t.f = nil
		}
	}
	return errors.Join(errs...)
}

// read cuts up to max lines out of the open files: rotated files first (to
// finish the old file before the new one), then the others starting at rr.
func (f *Follower) read(max int, now time.Time) ([]Line, error) {
	var (
		lines []Line
		spans []int // start of each line's data in slab
		slab  []byte
	)
	order := make([]*file, 0, len(f.files))
	var plain []*file
	for _, t := range f.files {
		if t.rotated {
			order = append(order, t)
		} else {
			plain = append(plain, t)
		}
	}
	first := -1
	if len(plain) > 0 {
		f.rr %= len(plain)
		first = len(order)
		order = append(order, plain[f.rr:]...)
		order = append(order, plain[:f.rr]...)
	}
	firstFilled := false
	for i, t := range order {
		if t.f == nil || t.copyOf != nil {
			continue
		}
		n0 := len(lines)
		var err error
		lines, spans, slab, err = f.readFile(t, lines, spans, slab, max, now)
		if err != nil {
			return nil, err
		}
		if i == first && n0 == 0 && len(lines) >= max {
			firstFilled = true
		}
		if len(lines) >= max || f.rescan {
			break
		}
	}
	if first >= 0 {
		if firstFilled && (f.opts.MaxBatchCount <= 0 || f.rrCount+1 < f.opts.MaxBatchCount) {
			f.rrCount++
		} else {
			f.rr++
			f.rrCount = 0
		}
	}
	for i := range lines {
		end := len(slab)
		if i+1 < len(spans) {
			end = spans[i+1]
		}
		lines[i].Data = slab[spans[i]:end:end]
	}
	return lines, nil
}

// readFile appends t's complete lines to lines (their data to slab) until
// max lines or t has no more.
func (f *Follower) readFile(t *file, lines []Line, spans []int, slab []byte, max int, now time.Time) ([]Line, []int, []byte, error) {
	for len(lines) < max {
		line, n := nextLine(t.buf[t.head:], f.opts.MaxLineLength)
		if n == 0 {
			// Check for truncation before every read, so bytes of a file's
			// new content are never read as the continuation of its old.
			if err := f.check(t, now); err != nil {
				return lines, spans, slab, err
			}
			if f.rescan {
				break
			}
			k, err := f.fill(t)
			if k > 0 {
				t.changed = now
			}
			if err != nil {
				return lines, spans, slab, err
			}
			if k > 0 {
				continue
			}
			// End of file. A rotated file that stayed idle gives up its
			// partial last line: nobody will finish it.
			rest := t.buf[t.head:]
			if len(rest) == 0 || !t.rotated || now.Sub(t.changed) < f.opts.IdleTimeout {
				break
			}
			line, n = rest, len(rest)
		}
		off := t.handed()
		t.head += n
		spans = append(spans, len(slab))
		slab = append(slab, line...)
		lines = append(lines, Line{Path: t.path, Group: t.group, Offset: off, end: off + int64(n), cur: t.cur})
	}
	return lines, spans, slab, nil
}

// fill reads the next chunk of t into its buffer and returns how many bytes
// came.
func (f *Follower) fill(t *file) (int, error) {
	if t.head > 0 {
		n := copy(t.buf, t.buf[t.head:])
		t.buf, t.head = t.buf[:n], 0
	}
	if cap(t.buf)-len(t.buf) < readChunk/2 {
		nb := make([]byte, len(t.buf), len(t.buf)+readChunk)
		copy(nb, t.buf)
		t.buf = nb
	}
	k, err := t.f.ReadAt(t.buf[len(t.buf):cap(t.buf)], t.readOff)
	t.buf = t.buf[:len(t.buf)+k]
	t.readOff += int64(k)
	if err != nil && !errors.Is(err, io.EOF) {
		return k, fmt.Errorf("reading %s at offset %d: %w", t.path, t.readOff, err)
	}
	return k, nil
}
