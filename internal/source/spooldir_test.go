package source

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/testutil"
)

// spoolSource builds a spooldir source over dir with extra keys; its log
// goes to logs when not nil.
func spoolSource(t *testing.T, dir string, keys map[string]string, logs *testutil.SyncBuffer) *SpoolDir {
	t.Helper()
	raw := map[string]string{"spoolDir": dir, "pollDelay": "20"}
	for k, v := range keys {
		raw[k] = v
	}
	cfg, _, err := SpoolDirSpec.Validate("r1", raw)
	if err != nil {
		t.Fatal(err)
	}
	if logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	s, err := NewSpoolDir(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeFile(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFor polls cond for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

func bodiesOf(ev []flow.Event) string {
	var b []string
	for _, e := range ev {
		b = append(b, string(e.Body))
	}
	return strings.Join(b, "|")
}

func TestSpoolDir(t *testing.T) {
	base := time.Now().Add(-time.Hour)
	cases := []struct {
		name      string
		keys      map[string]string
		files     map[string]string // name → content; mtimes follow name order
		failFirst int
		want      string
		left      []string // files expected afterwards
	}{
		{name: "oldest first, renamed when done, retried batches",
			keys:      map[string]string{"batchSize": "2"},
			files:     map[string]string{"a.log": "a1\na2\na3\n", "b.log": "b1\r\nb2"},
			failFirst: 2,
			want:      "a1|a2|a3|b1\r|b2",
			left:      []string{"a.log.COMPLETED", "b.log.COMPLETED"}},
		{name: "youngest first",
			keys:  map[string]string{"consumeOrder": "youngest"},
			files: map[string]string{"a.log": "a\n", "b.log": "b\n"},
			want:  "b|a",
			left:  []string{"a.log.COMPLETED", "b.log.COMPLETED"}},
		{name: "include, ignore, hidden and completed files",
			keys:  map[string]string{"includePattern": `^.*\.log$`, "ignorePattern": `^skip`},
			files: map[string]string{"a.log": "a\n", "skip.log": "s\n", "c.txt": "c\n", ".hidden.log": "h\n", "d.log.COMPLETED": "d\n"},
			want:  "a",
			left:  []string{"a.log.COMPLETED", "skip.log", "c.txt", ".hidden.log", "d.log.COMPLETED"}},
		{name: "recursive search",
			keys:  map[string]string{"recursiveDirectorySearch": "true"},
			files: map[string]string{"a.log": "a\n", "sub/b.log": "b\n"},
			want:  "a|b",
			left:  []string{"a.log.COMPLETED", "sub/b.log.COMPLETED"}},
		{name: "not recursive by default",
			files: map[string]string{"a.log": "a\n", "sub/b.log": "b\n"},
			want:  "a",
			left:  []string{"a.log.COMPLETED", "sub/b.log"}},
		{name: "delete immediately",
			keys:  map[string]string{"deletePolicy": "immediate"},
			files: map[string]string{"a.log": "a\n", "empty.log": ""},
			want:  "a"},
		{name: "tracker_dir leaves files in place",
			keys:  map[string]string{"trackingPolicy": "tracker_dir"},
			files: map[string]string{"a.log": "a\n"},
			want:  "a",
			left:  []string{"a.log", ".flumespool/a.log.COMPLETED"}},
		{name: "long lines cut by characters",
			keys:  map[string]string{"deserializer.maxLineLength": "3"},
			files: map[string]string{"a.log": "abcdefg\néèêëx\n"},
			want:  "abc|def|g|éèê|ëx",
			left:  []string{"a.log.COMPLETED"}},
		{name: "latin-1 input to UTF-8 bodies",
			keys:  map[string]string{"inputCharset": "ISO-8859-1"},
			files: map[string]string{"a.log": "caf\xe9\n"},
			want:  "café",
			left:  []string{"a.log.COMPLETED"}},
		{name: "UTF-8 to latin-1 bodies",
			keys:  map[string]string{"deserializer.outputCharset": "ISO-8859-1"},
			files: map[string]string{"a.log": "café\n"},
			want:  "caf\xe9",
			left:  []string{"a.log.COMPLETED"}},
		{name: "decode errors replaced",
			keys:  map[string]string{"decodeErrorPolicy": "REPLACE"},
			files: map[string]string{"a.log": "a\xffb\n"},
			want:  "a\uFFFDb",
			left:  []string{"a.log.COMPLETED"}},
		{name: "decode errors ignored",
			keys:  map[string]string{"decodeErrorPolicy": "IGNORE"},
			files: map[string]string{"a.log": "a\xffb\n"},
			want:  "ab",
			left:  []string{"a.log.COMPLETED"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var names []string
			for n := range tc.files {
				names = append(names, n)
			}
			slicesSort(names)
			for i, n := range names {
				writeFile(t, filepath.Join(dir, n), tc.files[n], base.Add(time.Duration(i)*time.Minute))
			}
			rec := newRecorder(tc.failFirst)
			src := spoolSource(t, dir, tc.keys, nil)
			stop := startSource(t, src, rec)
			wantN := len(strings.Split(tc.want, "|"))
			rec.waitEvents(t, wantN)
			for _, l := range tc.left {
				waitFor(t, l, func() bool { return exists(filepath.Join(dir, l)) })
			}
			time.Sleep(100 * time.Millisecond) // a few more polls: nothing read twice
			stop()
			if got := bodiesOf(rec.events()); got != tc.want {
				t.Fatalf("events %q, want %q", got, tc.want)
			}
			for _, n := range names {
				p := filepath.Join(dir, n)
				if exists(p) && !contains(tc.left, n) {
					t.Errorf("%s still there", n)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func slicesSort(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestSpoolDirHeaders(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.log"), "x\n", time.Time{})
	rec := newRecorder(0)
	startSource(t, spoolSource(t, dir, map[string]string{"fileHeader": "true", "basenameHeader": "true", "basenameHeaderKey": "bn"}, nil), rec)
	e := rec.waitEvents(t, 1)[0]
	if e.Headers["file"] != filepath.Join(dir, "a.log") || e.Headers["bn"] != "a.log" {
		t.Fatalf("headers %v", e.Headers)
	}
}

// TestSpoolDirResume stops the source after some batches were committed
// and others refused: a new source resumes after the last committed event,
// inside a long line too, and nothing is renamed before the end.
func TestSpoolDirResume(t *testing.T) {
	dir := t.TempDir()
	var content strings.Builder
	for i := 1; i <= 7; i++ {
		fmt.Fprintf(&content, "l%d\n", i)
	}
	content.WriteString("abcdefghij\nlast\n")
	writeFile(t, filepath.Join(dir, "a.log"), content.String(), time.Time{})
	keys := map[string]string{"batchSize": "3", "deserializer.maxLineLength": "4"}

	// Run 1 commits 3 batches (9 events: l1..l7, abcd, efgh), then
	// every batch is refused.
	rec1 := newRecorder(0)
	rec1.limit = 3
	stop := startSource(t, spoolSource(t, dir, keys, nil), rec1)
	rec1.waitEvents(t, 9)
	time.Sleep(100 * time.Millisecond)
	stop()
	if exists(filepath.Join(dir, "a.log.COMPLETED")) {
		t.Fatal("file completed although its last events were never committed")
	}
	// Run 2 resumes inside "abcdefghij".
	rec2 := newRecorder(1)
	startSource(t, spoolSource(t, dir, keys, nil), rec2)
	rec2.waitEvents(t, 2)
	waitFor(t, "completion", func() bool { return exists(filepath.Join(dir, "a.log.COMPLETED")) })
	got := bodiesOf(rec1.events()) + "||" + bodiesOf(rec2.events())
	want := "l1|l2|l3|l4|l5|l6|l7|abcd|efgh||ij|last"
	if got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
	tr, err := readSpoolTracker(filepath.Join(dir, ".flumespool", spoolTrackerName))
	if err != nil || tr != nil {
		t.Fatalf("tracker after completion: %+v, %v", tr, err)
	}
}

// TestSpoolDirStaleTracker: the tracker names a file that was completed
// before the tracker was cleared, and a new file now has that name (another
// inode): the new file is read from its start, not reported as modified.
func TestSpoolDirStaleTracker(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	writeFile(t, path, "new1\nnew2\n", time.Time{})
	id, err := statID(path)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, ".flumespool"), 0o755)
	stale := &spoolTracker{File: path, ID: fileID{Inode: id.Inode + 1, Size: 4, Mtime: 1}, Pos: spoolPos{Offset: 4}}
	if err := writeSpoolTracker(filepath.Join(dir, ".flumespool", spoolTrackerName), stale); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(0)
	startSource(t, spoolSource(t, dir, nil, nil), rec)
	rec.waitEvents(t, 2)
	waitFor(t, "completion", func() bool { return exists(path + ".COMPLETED") })
	if got := bodiesOf(rec.events()); got != "new1|new2" {
		t.Fatalf("events %q", got)
	}
}

// modifyingEmitter appends to a file on its first Emit: the file changes
// after the source picked it up.
type modifyingEmitter struct {
	*recorder
	path string
	done bool
}

func (m *modifyingEmitter) Emit(ctx context.Context, batch []flow.Event) error {
	if !m.done && len(batch) > 0 && strings.HasPrefix(string(batch[0].Body), "m") {
		m.done = true
		f, err := os.OpenFile(m.path, os.O_APPEND|os.O_WRONLY, 0)
		if err == nil {
			f.WriteString("appended\n")
			f.Close()
		}
	}
	return m.recorder.Emit(ctx, batch)
}

func TestSpoolDirReportsBadFilesAndGoesOn(t *testing.T) {
	cases := []struct {
		name    string
		keys    map[string]string
		files   map[string]string
		setup   func(dir string)
		modify  string // file the emitter appends to
		wantLog string
		bad     string // file left in place
	}{
		{name: "file changed after pickup",
			files: map[string]string{"a.log": "m1\nm2\n", "b.log": "b\n"}, modify: "a.log",
			wantLog: "file has changed size since being read", bad: "a.log"},
		{name: "name re-used with different content",
			files:   map[string]string{"a.log": "new\n", "a.log.COMPLETED": "old\n", "b.log": "b\n"},
			wantLog: "file name has been re-used with different files", bad: "a.log"},
		{name: "malformed input under FAIL",
			files:   map[string]string{"a.log": "ok\n\xff\n", "b.log": "b\n"},
			wantLog: "malformed input", bad: "a.log"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			base := time.Now().Add(-time.Hour)
			writeFile(t, filepath.Join(dir, "a.log"), tc.files["a.log"], base)
			for n, c := range tc.files {
				if n != "a.log" {
					writeFile(t, filepath.Join(dir, n), c, base.Add(time.Minute))
				}
			}
			var logs testutil.SyncBuffer
			rec := newRecorder(0)
			var out flow.Emitter = rec
			if tc.modify != "" {
				out = &modifyingEmitter{recorder: rec, path: filepath.Join(dir, tc.modify)}
			}
			stop := startSource(t, spoolSource(t, dir, tc.keys, &logs), out)
			waitFor(t, "b.log completed", func() bool { return exists(filepath.Join(dir, "b.log.COMPLETED")) })
			time.Sleep(100 * time.Millisecond)
			stop()
			if !strings.Contains(logs.String(), tc.wantLog) || !strings.Contains(logs.String(), filepath.Join(dir, tc.bad)) {
				t.Fatalf("log does not report %q naming %s:\n%s", tc.wantLog, tc.bad, logs.String())
			}
			if !exists(filepath.Join(dir, tc.bad)) {
				t.Fatalf("%s was not left in place", tc.bad)
			}
			if n := strings.Count(logs.String(), tc.wantLog); n != 1 {
				t.Fatalf("reported %d times, want once", n)
			}
		})
	}
}

func TestSpoolDirConfigErrors(t *testing.T) {
	cases := map[string]map[string]string{
		"deletePolicy":      {"deletePolicy": "sometimes"},
		"consumeOrder":      {"consumeOrder": "newest"},
		"deserializer":      {"deserializer": "AVRO"},
		"inputCharset":      {"inputCharset": "UTF-16"},
		"decodeErrorPolicy": {"decodeErrorPolicy": "SKIP"},
		"includePattern":    {"includePattern": "("},
	}
	for key, keys := range cases {
		t.Run(key, func(t *testing.T) {
			raw := map[string]string{"spoolDir": t.TempDir()}
			for k, v := range keys {
				raw[k] = v
			}
			err := buildErr(t, "spooldir", raw)
			if err == nil || !strings.Contains(err.Error(), key) {
				t.Fatalf("got %v, want an error naming %s", err, key)
			}
		})
	}
}

// BenchmarkSpoolDir measures the spooldir source alone: b.N lines of 100
// bytes in one file, read into an Emitter that drops them. The tracker is
// written and fsynced after every batch, so batchSize sets the cost.
func BenchmarkSpoolDir(b *testing.B) {
	for _, batch := range []string{"100", "1000"} {
		b.Run("batchSize="+batch, func(b *testing.B) { benchSpoolDir(b, batch) })
	}
}

func benchSpoolDir(b *testing.B, batchSize string) {
	dir := b.TempDir()
	line := strings.Repeat("x", 100) + "\n"
	f, err := os.Create(filepath.Join(dir, "bench.log"))
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for range b.N {
		w.WriteString(line)
	}
	w.Flush()
	f.Close()
	cfg, _, err := SpoolDirSpec.Validate("r1", map[string]string{"spoolDir": dir, "pollDelay": "5", "batchSize": batchSize})
	if err != nil {
		b.Fatal(err)
	}
	src, err := NewSpoolDir(cfg)
	if err != nil {
		b.Fatal(err)
	}
	out := &countingEmitter{want: int64(b.N), done: make(chan struct{})}
	b.SetBytes(int64(len(line)))
	b.ResetTimer()
	stop := startSource(b, src, out)
	<-out.done
	b.StopTimer()
	stop()
}

// FuzzSpoolReader reads arbitrary file content as the LINE deserializer
// and checks that reopening at the position recorded after any event
// yields exactly the events that followed it, and that no piece is longer
// than maxLineLength characters.
func FuzzSpoolReader(f *testing.F) {
	for _, s := range []string{"a\nbb\n", "abcdefgh\n\nxyz", "é€😀abc\r\n", "\xff\xfe\n", ""} {
		f.Add([]byte(s), uint8(3), uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, maxLine, at uint8) {
		max := int(maxLine%8) + 1
		path := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		codec, err := newTextCodec("UTF-8", "UTF-8", DecodeReplace)
		if err != nil {
			t.Fatal(err)
		}
		readAll := func(pos spoolPos) ([]string, []spoolPos) {
			r, err := openSpoolReader(path, pos, max, codec)
			if err != nil {
				t.Fatalf("opening at %+v: %v", pos, err)
			}
			defer r.close()
			var bodies []string
			var positions []spoolPos
			for {
				b, p, err := r.next()
				if err == errSpoolEOF {
					return bodies, positions
				}
				if err != nil {
					t.Fatal(err)
				}
				if n := len([]rune(string(b))); n > max {
					t.Fatalf("piece %q has %d characters, max %d", b, n, max)
				}
				bodies = append(bodies, string(b))
				positions = append(positions, p)
			}
		}
		all, positions := readAll(spoolPos{})
		if len(all) == 0 {
			return
		}
		k := int(at) % len(all)
		rest, _ := readAll(positions[k])
		if strings.Join(rest, "\x00") != strings.Join(all[k+1:], "\x00") || len(rest) != len(all)-k-1 {
			t.Fatalf("resuming after event %d at %+v: %q, want %q", k, positions[k], rest, all[k+1:])
		}
	})
}
