package tail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// scan checks every open file for truncation and growth, lists the groups'
// directories, opens new files, marks files no longer named as rotated,
// looks for the content of orphans, and closes idle files.
func (f *Follower) scan(now time.Time) error {
	first := !f.scanned
	f.scanned, f.last, f.rescan = true, now, false
	for _, t := range f.files {
		if t.f != nil {
			if err := f.check(t, now); err != nil {
				return err
			}
		}
	}

	matches := f.list(now)
	seen := make(map[uint64]bool, len(matches))
	var fresh []match
	for _, m := range matches {
		if seen[m.inode] {
			continue // a second name (hard link) of a file already seen
		}
		seen[m.inode] = true
		if t := f.byIno[m.inode]; t != nil {
			if t.path != m.path {
				f.log.Debug("followed file renamed; keeping its position", "from", t.path, "to", m.path)
				t.path, t.group = m.path, m.group
			}
			t.rotated = false
			if t.f == nil && (m.size != t.size || !m.mtime.Equal(t.mtime)) {
				if err := f.reopen(t, now); err != nil {
					return err
				}
			}
			continue
		}
		if f.storedFor(m) {
			if err := f.openNew(m, first, now); err != nil {
				return err
			}
			continue
		}
		fresh = append(fresh, m)
	}
	// Files without a stored position come second, so a copy made while
	// we were down finds its original's position already turned into an
	// orphan.
	for _, m := range fresh {
		if err := f.openNew(m, first, now); err != nil {
			return err
		}
	}

	kept := f.files[:0]
	for _, t := range f.files {
		if !seen[t.ino] {
			if t.f == nil {
				// Closed for idleness, then renamed away or deleted: look
				// for it by inode below.
				f.orphans = append(f.orphans, orphan{kind: stored, cur: t.cur, path: t.path, off: t.handed(), seen: -1})
				delete(f.byIno, t.ino)
				continue
			}
			if !t.rotated {
				f.log.Debug("followed file rotated or deleted; reading it to its end", "file", t.path)
				t.rotated, t.changed = true, now
			}
		}
		kept = append(kept, t)
	}
	clear(f.files[len(kept):])
	f.files = kept

	if err := f.settleCopies(now); err != nil {
		return err
	}
	if len(f.orphans) > 0 {
		if err := f.resolveOrphans(now); err != nil {
			return err
		}
	}
	f.closeIdle(now)
	return nil
}

// check compares t's size with what was seen: a file shorter than the read
// position, or whose first bytes changed, was truncated. It extends the
// fingerprint as the file grows.
func (f *Follower) check(t *file, now time.Time) error {
	fi, err := t.f.Stat()
	if err != nil {
		return fmt.Errorf("checking %s: %w", t.path, err)
	}
	size, mtime := fi.Size(), fi.ModTime()
	if size == t.size && mtime.Equal(t.mtime) {
		return nil
	}
	t.mtime = mtime
	truncated := size < t.readOff
	if !truncated {
		same, err := sameContent(t.f, t.cur.fp, size)
		if err != nil {
			return fmt.Errorf("checking %s: %w", t.path, err)
		}
		truncated = !same
	}
	seen := max(t.size, t.readOff)
	t.size, t.changed = size, now
	if truncated {
		f.truncated(t, seen)
	}
	return f.extend(t)
}

// truncated restarts t at offset 0 and leaves its old content (of which
// seen bytes were known) to be found in a copy (copytruncate).
func (f *Follower) truncated(t *file, seen int64) {
	off := t.handed()
	f.log.Debug("followed file truncated; reading it again from the start", "file", t.path, "was_at", off)
	f.rescan = true
	if t.cur.fp.Len > 0 {
		// Lines from off to the truncation (even all of them, off 0) are
		// only in the copy, which the fingerprint identifies.
		f.orphans = append(f.orphans, orphan{kind: copied, cur: t.cur, path: t.path, off: off, seen: seen})
	}
	t.cur = &cursor{inode: t.ino}
	t.readOff, t.buf, t.head = 0, t.buf[:0], 0
}

// extend recomputes t's fingerprint over up to FingerprintSize bytes when
// the file has grown past what it covers.
func (f *Follower) extend(t *file) error {
	fp := t.cur.fp
	if fp.Known() && (fp.Len >= FingerprintSize || t.size <= int64(fp.Len)) {
		return nil
	}
	n := int(min(t.size, FingerprintSize))
	nfp, ok, err := readFingerprint(t.f, n)
	if err != nil {
		return fmt.Errorf("fingerprinting %s: %w", t.path, err)
	}
	if ok {
		t.cur.fp = nfp
	}
	return nil
}

// sameContent reports whether the first fp.Len bytes of r (of the given
// size) hash to fp. An unknown or empty fingerprint matches anything.
func sameContent(r io.ReaderAt, fp Fingerprint, size int64) (bool, error) {
	if !fp.Known() || fp.Len == 0 {
		return true, nil
	}
	if size < int64(fp.Len) {
		return false, nil
	}
	got, ok, err := readFingerprint(r, fp.Len)
	return ok && got == fp, err
}

// list returns the matching regular files of every group's directory.
func (f *Follower) list(now time.Time) []match {
	var out []match
	done := map[string]bool{}
	for _, g := range f.opts.Groups {
		if done[g.Dir] {
			continue
		}
		done[g.Dir] = true
		if f.notify != nil {
			f.notify.watch(g.Dir)
		}
		out = append(out, f.listDir(g.Dir, now)...)
	}
	return out
}

func (f *Follower) listDir(dir string, now time.Time) []match {
	st, err := os.Stat(dir)
	if err != nil {
		delete(f.dirs, dir)
		return nil
	}
	ds := f.dirs[dir]
	// A directory changed within the last second may change again within
	// the same mtime tick, so it is listed again (as Flume does).
	if f.opts.CacheListing && ds != nil && st.ModTime().Equal(ds.mtime) && now.Sub(st.ModTime()) > time.Second {
		for i := range ds.matches {
			m := &ds.matches[i]
			if t := f.byIno[m.inode]; t == nil || t.f == nil {
				if fi, err := os.Stat(m.path); err == nil {
					m.inode, m.size, m.mtime = inodeOf(fi), fi.Size(), fi.ModTime()
				}
			}
		}
		return ds.matches
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		delete(f.dirs, dir)
		return nil
	}
	var ms []match
	for _, e := range entries {
		for gi, g := range f.opts.Groups {
			if g.Dir != dir || !g.Pattern.MatchString(e.Name()) {
				continue
			}
			p := filepath.Join(dir, e.Name())
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				ms = append(ms, match{path: p, group: gi, inode: inodeOf(fi), size: fi.Size(), mtime: fi.ModTime()})
			}
			break
		}
	}
	f.dirs[dir] = &dirState{mtime: st.ModTime(), matches: ms}
	return ms
}

// storedFor reports whether an orphan (stored position) is waiting for m.
func (f *Follower) storedFor(m match) bool {
	for _, o := range f.orphans {
		if (o.kind == stored && o.cur.inode == m.inode) || (o.kind == legacy && o.path == m.path) {
			return true
		}
	}
	return false
}

// takeOrphan removes and returns the first orphan pred accepts.
func (f *Follower) takeOrphan(pred func(o orphan) (bool, error)) (orphan, bool, error) {
	for i, o := range f.orphans {
		ok, err := pred(o)
		if err != nil {
			return orphan{}, false, err
		}
		if ok {
			f.orphans = append(f.orphans[:i], f.orphans[i+1:]...)
			return o, true, nil
		}
	}
	return orphan{}, false, nil
}

// openFile opens path and checks it is still the file with inode ino;
// ok is false (and nothing is open) when it is gone or another file now.
func (f *Follower) openFile(path string, ino uint64) (fd *os.File, size int64, ok bool) {
	fd, err := os.Open(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && !f.failed[path] {
			f.failed[path] = true
			f.errs = append(f.errs, &OpenError{Path: path, Err: err})
		}
		return nil, 0, false
	}
	delete(f.failed, path)
	fi, err := fd.Stat()
	if err != nil || inodeOf(fi) != ino {
		fd.Close()
		return nil, 0, false
	}
	return fd, fi.Size(), true
}

// openNew starts following m, a file not followed yet: from a stored
// position for its inode, from the position of a truncated file it is a
// copy of, held as a copy of a followed file, or as a new file.
func (f *Follower) openNew(m match, first bool, now time.Time) error {
	fd, size, ok := f.openFile(m.path, m.inode)
	if !ok {
		return nil
	}
	t := &file{ino: m.inode, path: m.path, group: m.group, f: fd, size: size, changed: now}
	o, found, _ := f.takeOrphan(func(o orphan) (bool, error) {
		return (o.kind == stored && o.cur.inode == m.inode) || (o.kind == legacy && o.path == m.path), nil
	})
	if found {
		same := true
		if o.kind == stored {
			var err error
			if same, err = sameContent(fd, o.cur.fp, size); err != nil {
				fd.Close()
				return fmt.Errorf("matching %s to its stored position: %w", m.path, err)
			}
		}
		if !same || size < o.off {
			// The inode now holds other content, or the file was truncated
			// while we were down: its old content may be in a copy.
			f.log.Debug("followed file changed while stopped; reading it from the start", "file", m.path, "position", o.off)
			if o.kind == stored && o.cur.fp.Known() {
				f.orphans = append(f.orphans, orphan{kind: copied, cur: o.cur, path: o.path, off: o.off, seen: -1})
			}
			found = false
		}
	}
	if !found {
		var err error
		o, found, err = f.takeOrphan(func(o orphan) (bool, error) {
			if o.kind != copied || !o.cur.fp.Known() || o.cur.fp.Len == 0 || size < o.off {
				return false, nil
			}
			return sameContent(fd, o.cur.fp, size)
		})
		if err != nil {
			fd.Close()
			return fmt.Errorf("checking whether %s is a copy: %w", m.path, err)
		}
		if found {
			f.log.Debug("found the copy of a truncated file; reading the rest of it", "file", m.path, "copy_of", o.path, "from", o.off)
		}
	}
	switch {
	case found:
		t.cur = o.cur
		t.cur.inode = m.inode
		t.readOff = o.off
	default:
		t.cur = &cursor{inode: m.inode}
		if orig, prefix, err := f.originalOf(fd, size, m.path); err != nil {
			fd.Close()
			return fmt.Errorf("checking whether %s is a copy: %w", m.path, err)
		} else if orig != nil {
			t.copyOf, t.prefixOnly = orig, prefix
		} else if first && f.opts.SkipToEnd {
			start, err := lastLineEnd(fd, size)
			if err != nil {
				fd.Close()
				return fmt.Errorf("skipping to the end of %s: %w", m.path, err)
			}
			t.readOff, t.cur.committed = start, start
		}
	}
	if err := f.extend(t); err != nil {
		fd.Close()
		return err
	}
	f.files = append(f.files, t)
	f.byIno[t.ino] = t
	return nil
}

// originalOf returns the followed file that the new file r (of size, at
// path) may be a copy of: one whose full fingerprint it shares, or, while
// r is shorter than a fingerprint (a copy being written, or a new file
// that has not written its first distinct bytes yet), one in the same
// directory whose content starts with all of r's (prefix true).
func (f *Follower) originalOf(r io.ReaderAt, size int64, path string) (orig *file, prefix bool, err error) {
	if size >= FingerprintSize {
		fp, ok, err := readFingerprint(r, FingerprintSize)
		if err != nil || !ok {
			return nil, false, err
		}
		for _, t := range f.files {
			if t.copyOf == nil && t.cur.fp == fp {
				return t, false, nil
			}
		}
		return nil, false, nil
	}
	dir := filepath.Dir(path)
	for _, t := range f.files {
		if t.copyOf != nil || t.size < size || filepath.Dir(t.path) != dir {
			continue
		}
		same, err := f.startsLike(r, t, size)
		if err != nil {
			return nil, false, err
		}
		if same {
			return t, true, nil
		}
	}
	return nil, false, nil
}

// startsLike reports whether the first n bytes of r and of t are equal.
func (f *Follower) startsLike(r io.ReaderAt, t *file, n int64) (bool, error) {
	if n == 0 {
		return true, nil
	}
	var same bool
	err := f.withReader(t, func(tr io.ReaderAt) error {
		a, b := make([]byte, n), make([]byte, n)
		if k, err := r.ReadAt(a, 0); int64(k) < n {
			return ignoreEOF(err)
		}
		if k, err := tr.ReadAt(b, 0); int64(k) < n {
			return ignoreEOF(err)
		}
		same = bytes.Equal(a, b)
		return nil
	})
	return same, err
}

// withReader calls fn with t's open descriptor, or with t opened again
// for the call when it is closed for idleness; fn is not called when t
// cannot be opened.
func (f *Follower) withReader(t *file, fn func(io.ReaderAt) error) error {
	if t.f != nil {
		return fn(t.f)
	}
	fd, _, ok := f.openFile(t.path, t.ino)
	if !ok {
		return nil
	}
	defer fd.Close()
	return fn(fd)
}

func ignoreEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// settleCopies ends the hold of files held as copies: when their original
// was truncated they take over its position; when they stopped growing for
// CopyHold while the original was not truncated, they are read from where
// their content stops being the original's. A file held because it was a
// prefix of a followed file is decided again as it grows: it is read from
// its start as soon as its content differs.
func (f *Follower) settleCopies(now time.Time) error {
	for _, t := range f.files {
		if t.copyOf == nil {
			continue
		}
		o, found, err := f.takeOrphan(func(o orphan) (bool, error) {
			if o.kind != copied || o.cur.fp.Len == 0 || t.size < o.off {
				return false, nil
			}
			return sameContent(t.f, o.cur.fp, t.size)
		})
		if err != nil {
			return fmt.Errorf("checking whether %s is a copy: %w", t.path, err)
		}
		if found {
			f.log.Debug("found the copy of a truncated file; reading the rest of it", "file", t.path, "copy_of", o.path, "from", o.off)
			o.cur.inode = t.ino
			t.cur, t.readOff, t.copyOf, t.prefixOnly = o.cur, o.off, nil, false
			if err := f.extend(t); err != nil {
				return err
			}
			continue
		}
		orig := t.copyOf
		alive := f.byIno[orig.ino] == orig
		if t.prefixOnly && alive {
			now, prefix, err := f.originalOf(t.f, t.size, t.path)
			if err != nil {
				return fmt.Errorf("checking whether %s is a copy: %w", t.path, err)
			}
			if now == nil {
				t.copyOf, t.prefixOnly = nil, false // its own content: read it whole
				continue
			}
			t.copyOf, t.prefixOnly = now, prefix
		}
		if now.Sub(t.changed) < f.opts.CopyHold && alive {
			continue
		}
		start := int64(0)
		if alive && !t.prefixOnly {
			err := f.withReader(orig, func(or io.ReaderAt) (err error) {
				start, err = commonLines(t.f, or, min(t.size, orig.handed()))
				return err
			})
			if err != nil {
				return fmt.Errorf("comparing %s with %s: %w", t.path, orig.path, err)
			}
		}
		f.log.Debug("file is a copy of a followed file; reading what the original does not have", "file", t.path, "copy_of", orig.path, "from", start)
		t.copyOf, t.prefixOnly, t.readOff, t.cur.committed = nil, false, start, start
	}
	return nil
}

// resolveOrphans looks for the content of orphans left after matching:
// a stored position's file by inode among all names of its directory
// (rotated away while we were down), else a copy of it; a truncated file's
// copy among the names that start with its name. What is found is read as
// a rotated file; what is not is dropped.
func (f *Follower) resolveOrphans(now time.Time) error {
	orphans := f.orphans
	f.orphans = nil
	for _, o := range orphans {
		if o.kind == legacy {
			f.log.Warn("file of a stored position not found; starting over when it appears", "file", o.path)
			continue
		}
		dir, base := filepath.Dir(o.path), filepath.Base(o.path)
		entries, err := os.ReadDir(dir)
		if err != nil {
			f.log.Warn("directory of a followed file not readable; the file's unread lines are lost", "file", o.path, "err", err)
			continue
		}
		var t *file
		if o.kind == stored {
			for _, e := range entries {
				p := filepath.Join(dir, e.Name())
				fi, err := os.Stat(p)
				if err != nil || !fi.Mode().IsRegular() || inodeOf(fi) != o.cur.inode || f.byIno[o.cur.inode] != nil {
					continue
				}
				t, err = f.adopt(o, p, fi)
				if err != nil {
					return err
				}
				break
			}
		}
		if t == nil && o.cur.fp.Known() && o.cur.fp.Len > 0 {
			for _, e := range entries {
				if !strings.HasPrefix(e.Name(), base) {
					continue
				}
				p := filepath.Join(dir, e.Name())
				fi, err := os.Stat(p)
				if err != nil || !fi.Mode().IsRegular() || f.byIno[inodeOf(fi)] != nil || fi.Size() < o.off {
					continue
				}
				if t, err = f.adopt(o, p, fi); err != nil {
					return err
				}
				if t != nil {
					break
				}
			}
		}
		if t == nil {
			if o.kind == copied && o.seen >= 0 && o.off >= o.seen {
				// Read to its end before it was truncated, as far as we
				// know: nothing to look for.
				f.log.Debug("truncated file had been read to its end", "file", o.path, "position", o.off)
				continue
			}
			f.log.Warn("content of a followed file not found (deleted, or its copy not found); lines after its position are lost", "file", o.path, "position", o.off)
			continue
		}
		f.log.Debug("reading the rest of a rotated file", "file", t.path, "was", o.path, "from", o.off)
		t.rotated, t.changed = true, now
		f.files = append(f.files, t)
		f.byIno[t.ino] = t
	}
	return nil
}

// adopt opens the file at p for orphan o if its content is o's; nil when
// it is not.
func (f *Follower) adopt(o orphan, p string, fi fs.FileInfo) (*file, error) {
	ino := inodeOf(fi)
	fd, size, ok := f.openFile(p, ino)
	if !ok {
		return nil, nil
	}
	same, err := sameContent(fd, o.cur.fp, size)
	if err != nil || !same || size < o.off {
		fd.Close()
		if err != nil {
			return nil, fmt.Errorf("checking whether %s holds %s: %w", p, o.path, err)
		}
		return nil, nil
	}
	o.cur.inode = ino
	t := &file{cur: o.cur, ino: ino, path: p, group: f.groupOf(o.path), f: fd, size: size, readOff: o.off}
	if err := f.extend(t); err != nil {
		fd.Close()
		return nil, err
	}
	return t, nil
}

// groupOf is the index of the group path belongs to (0 if none).
func (f *Follower) groupOf(path string) int {
	dir, base := filepath.Dir(path), filepath.Base(path)
	for i, g := range f.opts.Groups {
		if g.Dir == dir && g.Pattern.MatchString(base) {
			return i
		}
	}
	return 0
}

// reopen opens t again after it was closed for idleness and has changed.
func (f *Follower) reopen(t *file, now time.Time) error {
	fd, _, ok := f.openFile(t.path, t.ino)
	if !ok {
		return nil
	}
	t.f, t.size = fd, -1
	return f.check(t, now)
}

// closeIdle closes files that have not changed for IdleTimeout: a followed
// file's descriptor (it is opened again when it grows), and a rotated
// file's entry once it is read to its end and every line is committed.
func (f *Follower) closeIdle(now time.Time) {
	kept := f.files[:0]
	for _, t := range f.files {
		idle := t.f != nil && t.copyOf == nil && now.Sub(t.changed) >= f.opts.IdleTimeout && t.size == t.readOff
		switch {
		case idle && t.rotated && t.head == len(t.buf) && t.cur.committed == t.readOff:
			t.f.Close()
			delete(f.byIno, t.ino)
			continue
		case idle && !t.rotated && !bytes.Contains(t.buf[t.head:], []byte{'\n'}) && len(t.buf)-t.head <= f.opts.MaxLineLength:
			// Only a partial line (if anything) is left: it is read again
			// when the file grows.
			t.f.Close()
			t.f = nil
			t.readOff = t.handed()
			t.buf, t.head = nil, 0
		}
		kept = append(kept, t)
	}
	clear(f.files[len(kept):])
	f.files = kept
}

// lastLineEnd returns the offset just after the last '\n' in the last
// readChunk bytes of r (of size), or size when there is none.
func lastLineEnd(r io.ReaderAt, size int64) (int64, error) {
	from := max(0, size-readChunk)
	buf := make([]byte, size-from)
	if _, err := r.ReadAt(buf, from); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		return from + int64(i) + 1, nil
	}
	return size, nil
}

// commonLines returns the end of the last complete line within the common
// prefix of a and b, looking at no more than n bytes.
func commonLines(a, b io.ReaderAt, n int64) (int64, error) {
	ba, bb := make([]byte, readChunk), make([]byte, readChunk)
	var end int64
	for off := int64(0); off < n; off += readChunk {
		k := min(readChunk, n-off)
		if _, err := a.ReadAt(ba[:k], off); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if _, err := b.ReadAt(bb[:k], off); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		same := k
		for i := range k {
			if ba[i] != bb[i] {
				same = i
				break
			}
		}
		if i := bytes.LastIndexByte(ba[:same], '\n'); i >= 0 {
			end = off + int64(i) + 1
		}
		if same < k {
			break
		}
	}
	return end, nil
}
