package tail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fastOpts are options with short timings for tests.
func fastOpts(groups ...Group) Options {
	return Options{Groups: groups, PollInterval: 5 * time.Millisecond, IdleTimeout: 150 * time.Millisecond, CopyHold: 150 * time.Millisecond}
}

func newFollower(t *testing.T, opts Options) *Follower {
	t.Helper()
	f, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// readN reads and commits lines until it has n of them (failing after 10s),
// then checks that no further line arrives within settle.
func readN(t *testing.T, f *Follower, n int, settle time.Duration) []Line {
	t.Helper()
	var got []Line
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("read %d lines, want %d: %q", len(got), n, bodies(got))
		}
		lines, err := f.Read(context.Background(), 100, 20*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		f.Commit(lines)
		got = append(got, lines...)
	}
	if settle > 0 {
		lines, err := f.Read(context.Background(), 100, settle)
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) > 0 {
			t.Fatalf("after the %d expected lines, %d more: %q", n, len(lines), bodies(lines))
		}
	}
	return got
}

func bodies(lines []Line) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = string(l.Data)
	}
	return out
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	fd, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	if _, err := fd.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// numbered returns lines "<prefix>-<i>" for i in [from, to), each ending
// in '\n', padded so the file passes FingerprintSize quickly.
func numbered(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s-%06d %s\n", prefix, i, strings.Repeat("x", 40))
	}
	return b.String()
}

// exactlyOnce checks that got holds every numbered line of prefix in
// [0, n) once.
func exactlyOnce(t *testing.T, got []string, prefix string, n int) {
	t.Helper()
	count := map[string]int{}
	for _, g := range got {
		count[g]++
	}
	var missing, dup []string
	for i := range n {
		l := strings.TrimSuffix(numbered(prefix, i, i+1), "\n")
		switch count[l] {
		case 0:
			missing = append(missing, l[:len(prefix)+7])
		case 1:
		default:
			dup = append(dup, l[:len(prefix)+7])
		}
		delete(count, l)
	}
	if len(missing) > 0 || len(dup) > 0 || len(count) > 0 {
		t.Fatalf("%d lines: missing %d %v, duplicated %d %v, unexpected %d", len(got), len(missing), head(missing), len(dup), head(dup), len(count))
	}
}

func head(s []string) []string { return s[:min(len(s), 5)] }

func TestAppendAndPartialLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "one\ntwo\r\n\nthr")
	f := newFollower(t, fastOpts(FileGroup(path)))
	got := readN(t, f, 3, 30*time.Millisecond)
	if strings.Join(bodies(got), "|") != "one|two|" {
		t.Fatalf("lines %q", bodies(got))
	}
	if got[1].Offset != 4 || got[1].End() != 9 || got[2].Offset != 9 {
		t.Fatalf("offsets %d-%d, %d", got[1].Offset, got[1].End(), got[2].Offset)
	}
	appendFile(t, path, "ee\nfour\n")
	got = readN(t, f, 2, 30*time.Millisecond)
	if strings.Join(bodies(got), "|") != "three|four" || got[0].Offset != 10 {
		t.Fatalf("lines %q at %d", bodies(got), got[0].Offset)
	}
	ps := f.Positions()
	if len(ps) != 1 || ps[0].Offset != 21 || ps[0].Path != path || ps[0].Fingerprint.Len != 21 {
		t.Fatalf("positions %+v", ps)
	}
}

func TestLongLinesAreSplit(t *testing.T) {
	cases := []struct {
		name, data string
		want       []string
	}{
		{name: "fits", data: "abcd\n", want: []string{"abcd"}},
		{name: "fits with CRLF", data: "abcd\r\n", want: []string{"abcd"}},
		{name: "split", data: "abcdefghij\nz\n", want: []string{"abcd", "efgh", "ij", "z"}},
		{name: "exact multiple", data: "abcdefgh\n", want: []string{"abcd", "efgh"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a")
			appendFile(t, path, tc.data)
			opts := fastOpts(FileGroup(path))
			opts.MaxLineLength = 4
			f := newFollower(t, opts)
			got := readN(t, f, len(tc.want), 20*time.Millisecond)
			if strings.Join(bodies(got), "|") != strings.Join(tc.want, "|") {
				t.Fatalf("lines %q, want %q", bodies(got), tc.want)
			}
			if ps := f.Positions(); ps[0].Offset != int64(len(tc.data)) {
				t.Fatalf("position %d, want %d", ps[0].Offset, len(tc.data))
			}
		})
	}
}

// rotation performs one kind of log rotation on path.
type rotation struct {
	name string
	// rotate rotates path; the writer appends to the returned path's file
	// afterwards. late is written to the old file after a rename, as a
	// writer that has not reopened yet would.
	rotate func(t *testing.T, path, late string)
	// gone: the old file's lines are gone when this happens while the
	// follower is stopped.
	gone bool
}

var rotations = []rotation{
	{name: "rename", rotate: func(t *testing.T, path, late string) {
		if err := os.Rename(path, path+".1"); err != nil {
			t.Fatal(err)
		}
		appendFile(t, path+".1", late)
		appendFile(t, path, "")
	}},
	{name: "copytruncate", rotate: func(t *testing.T, path, late string) {
		appendFile(t, path, late)
		copyTruncate(t, path, path+".1")
	}},
	{name: "copytruncate to a matching name", rotate: func(t *testing.T, path, late string) {
		appendFile(t, path, late)
		copyTruncate(t, path, path+"-copy")
	}},
	{name: "delete and recreate", rotate: func(t *testing.T, path, late string) {
		appendFile(t, path, late)
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		appendFile(t, path, "")
	}, gone: true},
}

func copyTruncate(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(from, 0); err != nil {
		t.Fatal(err)
	}
}

// appLog returns a fresh app.log path and the group of it and of
// app.log-copy (a rotated name that still matches).
func appLog(t *testing.T) (string, Group) {
	dir := t.TempDir()
	g, err := NewGroup(dir, `app\.log(-copy)?`)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "app.log"), g
}

// Every rotation, with the reader behind by some lines when it happens,
// delivers every line once: the lines before, the late ones written to the
// old file, and the new file's.
func TestRotationWhileRunning(t *testing.T) {
	for _, rot := range rotations {
		t.Run(rot.name, func(t *testing.T) {
			path, g := appLog(t)
			appendFile(t, path, numbered("L", 0, 50))
			f := newFollower(t, fastOpts(g))
			got := bodies(readN(t, f, 50, 0))
			appendFile(t, path, numbered("L", 50, 100)) // not read before the rotation
			rot.rotate(t, path, numbered("L", 100, 110))
			appendFile(t, path, numbered("L", 110, 200))
			got = append(got, bodies(readN(t, f, 150, 400*time.Millisecond))...)
			exactlyOnce(t, got, "L", 200)
			// The rotated file is dropped once idle and committed.
			time.Sleep(200 * time.Millisecond)
			f.Read(context.Background(), 10, 20*time.Millisecond)
			for _, p := range f.Positions() {
				if p.Path != path && !strings.HasSuffix(p.Path, "-copy") {
					t.Errorf("rotated file still has a position: %+v", p)
				}
			}
		})
	}
}

// A restart from committed positions reads every line once across every
// kind of rotation done while the follower was stopped.
func TestRestartAcrossRotation(t *testing.T) {
	for _, rot := range rotations {
		t.Run(rot.name, func(t *testing.T) {
			path, g := appLog(t)
			appendFile(t, path, numbered("L", 0, 60))
			opts := fastOpts(g)
			f := newFollower(t, opts)
			lines := readN(t, f, 60, 0)
			p := f.Positions()[0]
			f.Close()
			// Resume after line 40, as if the last 20 read were never
			// delivered.
			p.Offset = lines[39].End()
			opts.Positions = []Position{p}
			got := bodies(lines[:40])

			appendFile(t, path, numbered("L", 60, 100))
			rot.rotate(t, path, numbered("L", 100, 110))
			appendFile(t, path, numbered("L", 110, 150))

			f3 := newFollower(t, opts)
			if rot.gone {
				// Lines 40..109 were deleted with the file.
				got = append(got, bodies(readN(t, f3, 40, 300*time.Millisecond))...)
				exactlyOnce(t, append(got, strings.Split(strings.TrimSuffix(numbered("L", 40, 110), "\n"), "\n")...), "L", 150)
				return
			}
			got = append(got, bodies(readN(t, f3, 110, 300*time.Millisecond))...)
			exactlyOnce(t, got, "L", 150)
		})
	}
}

func TestRestartResumesExactly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	appendFile(t, path, numbered("A", 0, 30))
	opts := fastOpts(FileGroup(path))
	f := newFollower(t, opts)
	got := bodies(readN(t, f, 30, 0))
	ps := f.Positions()
	f.Close()
	// Through the position file.
	pf := filepath.Join(dir, "pos", "taildir_position.json")
	if err := WritePositionFile(pf, ps); err != nil {
		t.Fatal(err)
	}
	var err error
	if opts.Positions, err = ReadPositionFile(pf); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, numbered("A", 30, 45))
	f2 := newFollower(t, opts)
	got = append(got, bodies(readN(t, f2, 15, 50*time.Millisecond))...)
	exactlyOnce(t, got, "A", 45)
}

// An inode that now holds other content (deleted and reused, or rewritten
// in place) is read from its start.
func TestStoredPositionOfChangedContent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	appendFile(t, path, numbered("A", 0, 30))
	f := newFollower(t, fastOpts(FileGroup(path)))
	readN(t, f, 30, 0)
	ps := f.Positions()
	f.Close()
	if err := os.WriteFile(path, []byte(numbered("B", 0, 40)), 0o644); err != nil { // same inode, O_TRUNC
		t.Fatal(err)
	}
	opts := fastOpts(FileGroup(path))
	opts.Positions = ps
	f2 := newFollower(t, opts)
	exactlyOnce(t, bodies(readN(t, f2, 40, 50*time.Millisecond)), "B", 40)
}

func TestSkipToEnd(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	appendFile(t, path, "old\nold\npartial")
	opts := fastOpts(FileGroup(path))
	opts.SkipToEnd = true
	f := newFollower(t, opts)
	if lines, _ := f.Read(context.Background(), 10, 30*time.Millisecond); len(lines) != 0 {
		t.Fatalf("skipToEnd read %q", bodies(lines))
	}
	appendFile(t, path, " line\nnew\n")
	got := readN(t, f, 2, 20*time.Millisecond)
	if strings.Join(bodies(got), "|") != "partial line|new" {
		t.Fatalf("lines %q", bodies(got))
	}
}

// A renamed file that still matches the group keeps its position.
func TestRenameWithinGroup(t *testing.T) {
	dir := t.TempDir()
	g, _ := NewGroup(dir, `.*\.log`)
	appendFile(t, filepath.Join(dir, "a.log"), numbered("A", 0, 20))
	f := newFollower(t, fastOpts(g))
	got := bodies(readN(t, f, 20, 0))
	if err := os.Rename(filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")); err != nil {
		t.Fatal(err)
	}
	appendFile(t, filepath.Join(dir, "b.log"), numbered("A", 20, 30))
	got = append(got, bodies(readN(t, f, 10, 50*time.Millisecond))...)
	exactlyOnce(t, got, "A", 30)
	if ps := f.Positions(); len(ps) != 1 || filepath.Base(ps[0].Path) != "b.log" {
		t.Fatalf("positions %+v", ps)
	}
}

func TestManyFilesAndIdleClose(t *testing.T) {
	dir := t.TempDir()
	g, _ := NewGroup(dir, `f\d+\.log`)
	const files, per = 40, 25
	for i := range files {
		appendFile(t, filepath.Join(dir, fmt.Sprintf("f%d.log", i)), numbered(fmt.Sprintf("F%d", i), 0, per))
	}
	appendFile(t, filepath.Join(dir, "other.txt"), "not followed\n")
	opts := fastOpts(g)
	opts.CacheListing = true
	opts.MaxBatchCount = 1
	f := newFollower(t, opts)
	got := bodies(readN(t, f, files*per, 0))
	time.Sleep(200 * time.Millisecond) // every file goes idle and is closed
	f.Read(context.Background(), 10, 20*time.Millisecond)
	open := 0
	for _, t := range f.files {
		if t.f != nil {
			open++
		}
	}
	if open != 0 {
		t.Fatalf("%d files still open after idleTimeout", open)
	}
	for i := range files {
		appendFile(t, filepath.Join(dir, fmt.Sprintf("f%d.log", i)), numbered(fmt.Sprintf("F%d", i), per, per+5))
	}
	got = append(got, bodies(readN(t, f, files*5, 50*time.Millisecond))...)
	for i := range files {
		var mine []string
		for _, g := range got {
			if strings.HasPrefix(g, fmt.Sprintf("F%d-", i)) {
				mine = append(mine, g)
			}
		}
		exactlyOnce(t, mine, fmt.Sprintf("F%d", i), per+5)
	}
}

// A plain copy of a followed file (not followed by a truncation) is not
// read again: only what the original does not have.
func TestCopyIsNotReadAgain(t *testing.T) {
	dir := t.TempDir()
	g, _ := NewGroup(dir, `.*\.log`)
	path := filepath.Join(dir, "a.log")
	appendFile(t, path, numbered("A", 0, 50))
	f := newFollower(t, fastOpts(g))
	got := bodies(readN(t, f, 50, 0))
	b, _ := os.ReadFile(path)
	cp := filepath.Join(dir, "b.log")
	if err := os.WriteFile(cp, append(b, numbered("B", 0, 5)...), 0o644); err != nil {
		t.Fatal(err)
	}
	got = append(got, bodies(readN(t, f, 5, 300*time.Millisecond))...)
	exactlyOnce(t, got[:50], "A", 50)
	exactlyOnce(t, got[50:], "B", 5)
}

func TestPositionFileRoundTrip(t *testing.T) {
	cases := []struct {
		name, in string
		want     []Position
		err      bool
	}{
		{name: "flume", in: `[{"inode":2496001,"pos":1234,"file":"/var/log/app.log"}]`,
			want: []Position{{Path: "/var/log/app.log", Inode: 2496001, Offset: 1234, Fingerprint: Fingerprint{Len: -1}}}},
		{name: "with fingerprint", in: `[{"inode":7,"pos":10,"file":"/a","fingerprint":"00000000000000ff","fingerprintLength":10}]`,
			want: []Position{{Path: "/a", Inode: 7, Offset: 10, Fingerprint: Fingerprint{Len: 10, Sum: 255}}}},
		{name: "empty list", in: `[]`, want: []Position{}},
		{name: "negative pos", in: `[{"inode":1,"pos":-1,"file":"/a"}]`, err: true},
		{name: "no file", in: `[{"inode":1,"pos":1}]`, err: true},
		{name: "bad fingerprint", in: `[{"inode":1,"pos":1,"file":"/a","fingerprint":"xyz","fingerprintLength":3}]`, err: true},
		{name: "fingerprint too long", in: `[{"inode":1,"pos":1,"file":"/a","fingerprint":"00000000000000ff","fingerprintLength":2000}]`, err: true},
		{name: "not json", in: `{`, err: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := UnmarshalPositions([]byte(tc.in))
			if tc.err {
				if err == nil {
					t.Fatalf("decoded %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// FuzzUnmarshalPositions: any input either fails to decode or decodes to
// positions that encode and decode to themselves.
func FuzzUnmarshalPositions(f *testing.F) {
	f.Add([]byte(`[{"inode":2496001,"pos":1234,"file":"/var/log/app.log"}]`))
	f.Add([]byte(`[{"inode":7,"pos":10,"file":"/a","fingerprint":"00000000000000ff","fingerprintLength":10}]`))
	f.Add([]byte(`[{"inode":1,"pos":1,"file":"/a","fingerprintLength":0}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := UnmarshalPositions(data)
		if err != nil {
			return
		}
		b, err := MarshalPositions(ps)
		if err != nil {
			t.Fatalf("encoding decoded positions: %v", err)
		}
		again, err := UnmarshalPositions(b)
		if err != nil {
			t.Fatalf("decoding %s: %v", b, err)
		}
		if fmt.Sprint(again) != fmt.Sprint(ps) {
			t.Fatalf("round trip changed %+v to %+v", ps, again)
		}
	})
}

// A writer appends numbered lines and rotates the file every 250 lines,
// alternating rename and copytruncate, while the follower reads: every
// line arrives exactly once, whether the rotated names match the group
// (followed too) or not.
func TestConcurrentWriterWithRotations(t *testing.T) {
	for _, pattern := range []string{`app\.log`, `app\.log.*`} {
		t.Run(pattern, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			g, _ := NewGroup(dir, pattern)
			const total, every = 3000, 250
			appendFile(t, path, "")
			f := newFollower(t, fastOpts(g))
			done := make(chan error, 1)
			go func() { done <- writeRotating(path, total, every) }()
			got := bodies(readN(t, f, total, 300*time.Millisecond))
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			exactlyOnce(t, got, "W", total)
		})
	}
}

// writeRotating writes total numbered lines to path, rotating every
// `every` lines: odd rotations rename (and write two more lines to the old
// file before reopening), even ones copy and truncate.
func writeRotating(path string, total, every int) error {
	fd, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer func() { fd.Close() }()
	rot := 0
	for i := 0; i < total; i++ {
		if i > 0 && i%every == 0 {
			rot++
			rotated := fmt.Sprintf("%s.%d", path, rot)
			if rot%2 == 1 {
				if err := os.Rename(path, rotated); err != nil {
					return err
				}
				for j := 0; j < 2 && i < total; j, i = j+1, i+1 {
					if _, err := fd.WriteString(numbered("W", i, i+1)); err != nil {
						return err
					}
				}
				fd.Close()
				if fd, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
					return err
				}
			} else {
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				// Copy in pieces, so the follower may see the copy while
				// it is written, as with a large file.
				cp, err := os.Create(rotated)
				if err != nil {
					return err
				}
				for off := 0; off < len(b); off += 700 {
					if _, err := cp.Write(b[off:min(off+700, len(b))]); err != nil {
						return err
					}
					time.Sleep(time.Millisecond)
				}
				cp.Close()
				if err := os.Truncate(path, 0); err != nil {
					return err
				}
			}
			if i >= total {
				break
			}
		}
		if _, err := fd.WriteString(numbered("W", i, i+1)); err != nil {
			return err
		}
		if i%10 == 0 {
			time.Sleep(200 * time.Microsecond)
		}
	}
	return nil
}

// A file read whole into the buffer but handed out slowly (the caller
// waits longer than IdleTimeout between reads) is not closed with lines
// still buffered.
func TestSlowReaderKeepsBufferedLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.log")
	appendFile(t, path, numbered("S", 0, 40))
	f := newFollower(t, fastOpts(FileGroup(path)))
	var got []string
	for len(got) < 40 {
		lines, err := f.Read(context.Background(), 7, time.Second)
		if err != nil || len(lines) == 0 {
			t.Fatalf("after %d lines: %d lines, %v", len(got), len(lines), err)
		}
		f.Commit(lines)
		got = append(got, bodies(lines)...)
		time.Sleep(40 * time.Millisecond) // IdleTimeout passes within the file
	}
	exactlyOnce(t, got, "S", 40)
}

// FuzzNextLine: cutting any input into lines loses and invents no byte:
// the pieces, each followed by what it consumed beyond its content, give
// the input back; no piece is longer than max; a piece only ends without
// consuming a newline when it is exactly max bytes long.
func FuzzNextLine(f *testing.F) {
	f.Add([]byte("one\ntwo\r\n\nthree"), 4)
	f.Add([]byte("abcd\r\nabcde\r\n"), 4)
	f.Add([]byte("\r\r\r\n"), 1)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max < 1 || max > 1<<12 {
			return
		}
		var rebuilt []byte
		buf := data
		for {
			line, n := nextLine(buf, max)
			if n == 0 {
				if len(buf) > max+1 {
					t.Fatalf("%d bytes left without a line (max %d)", len(buf), max)
				}
				rebuilt = append(rebuilt, buf...)
				break
			}
			if len(line) > max {
				t.Fatalf("line of %d bytes, max %d", len(line), max)
			}
			sep := buf[len(line):n]
			switch string(sep) {
			case "\n", "\r\n":
			case "":
				if len(line) != max {
					t.Fatalf("line %q cut without a newline before max %d", line, max)
				}
			default:
				t.Fatalf("line %q followed by %q", line, sep)
			}
			rebuilt = append(rebuilt, buf[:n]...)
			buf = buf[n:]
		}
		if string(rebuilt) != string(data) {
			t.Fatalf("rebuilt %q from %q", rebuilt, data)
		}
	})
}

// A copy that is seen while it is being written (empty, then shorter than
// a fingerprint) is held, not read as a new file, and takes over the
// original's position when the original is truncated (copytruncate of a
// large file), or is read only past the original's content if the
// original is not truncated.
func TestCopySeenWhileBeingWritten(t *testing.T) {
	for _, truncate := range []bool{true, false} {
		t.Run(fmt.Sprintf("truncate=%v", truncate), func(t *testing.T) {
			path, g := appLog(t)
			appendFile(t, path, numbered("L", 0, 60))
			f := newFollower(t, fastOpts(g))
			got := bodies(readN(t, f, 60, 0))
			appendFile(t, path, numbered("L", 60, 70)) // not read before the copy
			content, _ := os.ReadFile(path)
			cp := path + "-copy"
			appendFile(t, cp, "")
			for _, upto := range []int{0, 300, 1500, len(content)} {
				if upto > 0 {
					appendFile(t, cp, string(content[prevLen(cp):upto]))
				}
				lines, err := f.Read(context.Background(), 100, 20*time.Millisecond)
				if err != nil {
					t.Fatal(err)
				}
				f.Commit(lines)
				got = append(got, bodies(lines)...)
			}
			if truncate {
				if err := os.Truncate(path, 0); err != nil {
					t.Fatal(err)
				}
				appendFile(t, path, numbered("L", 70, 80))
				got = append(got, bodies(readN(t, f, 80-len(got), 300*time.Millisecond))...)
				exactlyOnce(t, got, "L", 80)
				return
			}
			appendFile(t, cp, numbered("C", 0, 3))
			got = append(got, bodies(readN(t, f, 73-len(got), 300*time.Millisecond))...)
			exactlyOnce(t, got[:70], "L", 70)
			exactlyOnce(t, got[70:], "C", 3)
		})
	}
}

func prevLen(path string) int {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return int(fi.Size())
}

// With inotify, a waiting Read is woken by the directory's events: lines
// appended, and a rename rotation, are read long before the (here one
// hour) poll interval.
func TestNotifyWakesRead(t *testing.T) {
	if newNotifier() == nil {
		t.Skip("no inotify on this system")
	}
	path, g := appLog(t)
	appendFile(t, path, numbered("L", 0, 5))
	opts := fastOpts(g)
	opts.PollInterval = time.Hour
	f := newFollower(t, opts)
	got := bodies(readN(t, f, 5, 0))
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(20 * time.Millisecond)
		appendFile(t, path, numbered("L", 5, 10))
		time.Sleep(20 * time.Millisecond)
		os.Rename(path, path+".1")
		appendFile(t, path+".1", numbered("L", 10, 12))
		appendFile(t, path, numbered("L", 12, 20))
	}()
	got = append(got, bodies(readN(t, f, 15, 0))...)
	<-done
	exactlyOnce(t, got, "L", 20)

	// Polling only: a new file is not seen before the next poll.
	opts.PollOnly = true
	f2 := newFollower(t, opts)
	readN(t, f2, 8, 0) // app.log holds lines 12..19
	os.Rename(path, path+".2")
	appendFile(t, path, numbered("L", 20, 21))
	if lines, _ := f2.Read(context.Background(), 10, 200*time.Millisecond); len(lines) != 0 {
		t.Fatalf("PollOnly follower read %q from a new file before its poll interval", bodies(lines))
	}
}

// With inotify, a write to a file closed for idleness wakes the follower
// and the file is opened again without waiting for the poll.
func TestNotifyReopensIdleFile(t *testing.T) {
	if newNotifier() == nil {
		t.Skip("no inotify on this system")
	}
	path, g := appLog(t)
	appendFile(t, path, numbered("L", 0, 5))
	opts := fastOpts(g)
	opts.PollInterval = time.Hour
	opts.IdleTimeout = time.Millisecond
	f := newFollower(t, opts)
	got := bodies(readN(t, f, 5, 0))
	// Files created beside it make the follower scan; the scans close the
	// idle file.
	for i := range 3 {
		appendFile(t, filepath.Join(filepath.Dir(path), fmt.Sprint("unrelated", i)), "x\n")
		f.Read(context.Background(), 10, 20*time.Millisecond)
		time.Sleep(5 * time.Millisecond)
	}
	if f.files[0].f != nil {
		t.Fatal("idle file not closed")
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		appendFile(t, path, numbered("L", 5, 10))
	}()
	got = append(got, bodies(readN(t, f, 5, 0))...)
	exactlyOnce(t, got, "L", 10)
}
