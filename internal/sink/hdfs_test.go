package sink

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"go.uber.org/goleak"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/hadoopcodec"
	"github.com/runnel/runnel/internal/seqfile"
)

// buildSink builds a registered sink from Flume-style keys.
func mustBuildSink(t testing.TB, typeName string, raw map[string]string) flow.Sink {
	t.Helper()
	s, err := buildSinkFrom(typeName, raw)
	if err != nil {
		t.Fatalf("building %s sink: %v", typeName, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func buildSinkFrom(typeName string, raw map[string]string) (flow.Sink, error) {
	reg, ok := flow.Lookup(flow.KindSink, typeName)
	if !ok {
		return nil, errors.New("not registered: " + typeName)
	}
	cfg, _, err := reg.Spec.Validate("k1", raw)
	if err != nil {
		return nil, err
	}
	v, err := reg.Build(cfg)
	if err != nil {
		return nil, err
	}
	return v.(flow.Sink), nil
}

func hdrEvent(body string, kv ...string) flow.Event {
	h := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = kv[i+1]
	}
	return flow.Event{Headers: h, Body: []byte(body)}
}

// listFiles returns every file under dir, relative, sorted.
func filesUnder(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func readSeq(t testing.TB, path string) (keys []int64, bodies []string, vc string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := seqfile.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for {
		k, v, err := r.Next()
		if err == io.EOF {
			return keys, bodies, r.ValueClass
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		kv, _ := seqfile.Long(k)
		var b []byte
		if r.ValueClass == seqfile.Text {
			b, err = seqfile.TextBytes(v)
		} else {
			b, err = seqfile.Bytes(v)
		}
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, kv)
		bodies = append(bodies, string(b))
	}
}

func TestHDFSConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		raw  map[string]string
		key  string
		want string
	}{
		{"hdfs url", map[string]string{"hdfs.path": "hdfs://nn:8020/flume"}, "hdfs.path", "mount"},
		{"bzip2", map[string]string{"hdfs.path": "/x", "hdfs.fileType": "CompressedStream", "hdfs.codeC": "bzip2"}, "hdfs.codeC", "bzip2"},
		{"compressed without codec", map[string]string{"hdfs.path": "/x", "hdfs.fileType": "CompressedStream"}, "hdfs.codeC", "needs a codec"},
		{"datastream with codec", map[string]string{"hdfs.path": "/x", "hdfs.fileType": "DataStream", "hdfs.codeC": "gzip"}, "hdfs.codeC", "does not compress"},
		{"lzo", map[string]string{"hdfs.path": "/x", "hdfs.codeC": "lzo"}, "hdfs.codeC", "not supported"},
		{"unknown file type", map[string]string{"hdfs.path": "/x", "hdfs.fileType": "Parquet"}, "hdfs.fileType", "unknown file type"},
		{"round unit", map[string]string{"hdfs.path": "/x", "hdfs.round": "true", "hdfs.roundUnit": "day"}, "hdfs.roundUnit", "unknown unit"},
		{"round value hours", map[string]string{"hdfs.path": "/x", "hdfs.round": "true", "hdfs.roundUnit": "hour", "hdfs.roundValue": "30"}, "hdfs.roundValue", "24"},
		{"time zone", map[string]string{"hdfs.path": "/x", "hdfs.timeZone": "Mars/Base"}, "hdfs.timeZone", "Mars"},
		{"write format", map[string]string{"hdfs.path": "/x", "hdfs.writeFormat": "Avro"}, "hdfs.writeFormat", "unknown write format"},
		{"avro serializer", map[string]string{"hdfs.path": "/x", "hdfs.fileType": "DataStream", "serializer": "avro_event"}, "serializer", "Avro"},
		{"static escape", map[string]string{"hdfs.path": "/x/%[host]"}, "hdfs.path", "%[localhost]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := buildSinkFrom("hdfs", tc.raw)
			var ke *flow.KeyError
			if !errors.As(err, &ke) || ke.Key != tc.key || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a KeyError on %s containing %q", err, tc.key, tc.want)
			}
		})
	}
	for _, ok := range []map[string]string{
		{"hdfs.path": "file:///tmp/x"},
		{"hdfs.path": "/x", "hdfs.codeC": "org.apache.hadoop.io.compress.SnappyCodec"},
		{"hdfs.path": "/x", "hdfs.codeC": "GzipCodec", "hdfs.fileType": "CompressedStream"},
		{"hdfs.path": "/x", "hdfs.codeC": "default", "hdfs.fileType": "CompressedStream"},
	} {
		if _, err := buildSinkFrom("org.apache.flume.sink.hdfs.HDFSEventSink", ok); err != nil {
			t.Fatalf("%v: %v", ok, err)
		}
	}
}

// TestHDFSBucketsLikeFlume is the classic log-directory layout:
// %y-%m-%d/%H%M/%S with 10-minute rounding, prefix events-, DataStream.
func TestHDFSBucketsLikeFlume(t *testing.T) {
	dir := t.TempDir()
	s := mustBuildSink(t, "hdfs", map[string]string{
		"hdfs.path": "file://" + dir + "/flume/%y-%m-%d/%H%M/%S", "hdfs.filePrefix": "events-",
		"hdfs.round": "true", "hdfs.roundValue": "10", "hdfs.roundUnit": "minute", "hdfs.timeZone": "UTC",
		"hdfs.fileType": "DataStream", "hdfs.rollCount": "0", "hdfs.rollSize": "0", "hdfs.rollInterval": "0",
	})
	// 2023-11-14 22:13:20 and 22:19:59 share the 22:10 bucket; 22:20:00 does not.
	batch := []flow.Event{
		hdrEvent("a", "timestamp", "1700000000123"), hdrEvent("b", "timestamp", "1700000399000"),
		hdrEvent("c", "timestamp", "1700000400000"), hdrEvent("d", "timestamp", "1700000000999"),
	}
	if err := s.Deliver(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	// Before close: in-use files, already holding the batch (flushed and synced).
	files := filesUnder(t, dir)
	re := regexp.MustCompile(`^flume/23-11-14/(2210|2220)/00/events-\.(\d{13})\.tmp$`)
	if len(files) != 2 {
		t.Fatalf("files before close: %v", files)
	}
	for _, f := range files {
		m := re.FindStringSubmatch(f)
		if m == nil {
			t.Fatalf("file %q does not match %s", f, re)
		}
		if ctr, _ := strconv.ParseInt(m[2], 10, 64); time.Since(time.UnixMilli(ctr)) > time.Minute {
			t.Fatalf("counter %d is not a recent ms timestamp", ctr)
		}
	}
	got, _ := os.ReadFile(filepath.Join(dir, files[0]))
	if string(got) != "a\nb\nd\n" {
		t.Fatalf("2210 bucket holds %q before close", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files = filesUnder(t, dir)
	if len(files) != 2 || strings.HasSuffix(files[0], ".tmp") || strings.HasSuffix(files[1], ".tmp") {
		t.Fatalf("files after close: %v", files)
	}
	got, _ = os.ReadFile(filepath.Join(dir, files[1]))
	if !strings.HasPrefix(files[1], "flume/23-11-14/2220/00/events-.") || string(got) != "c\n" {
		t.Fatalf("%s holds %q", files[1], got)
	}
}

func TestHDFSSequenceFile(t *testing.T) {
	for _, tc := range []struct{ format, class string }{{"Writable", seqfile.BytesWritable}, {"Text", seqfile.Text}} {
		t.Run(tc.format, func(t *testing.T) {
			dir := t.TempDir()
			s := mustBuildSink(t, "hdfs", map[string]string{"hdfs.path": dir, "hdfs.writeFormat": tc.format, "hdfs.rollCount": "0", "hdfs.rollSize": "0"})
			var want []string
			for b := range 3 {
				var batch []flow.Event
				for i := range 50 {
					body := strings.Repeat(strconv.Itoa(b*50+i), 20)
					want = append(want, body)
					batch = append(batch, hdrEvent(body, "timestamp", strconv.Itoa(1700000000000+b*50+i)))
				}
				if err := s.Deliver(context.Background(), batch); err != nil {
					t.Fatal(err)
				}
			}
			// Readable while in use: every batch ends with a sync marker and fsync.
			files := filesUnder(t, dir)
			if len(files) != 1 || !regexp.MustCompile(`^FlumeData\.\d+\.tmp$`).MatchString(files[0]) {
				t.Fatalf("files: %v", files)
			}
			_, bodies, _ := readSeq(t, filepath.Join(dir, files[0]))
			if len(bodies) != 150 {
				t.Fatalf("in-use file has %d records", len(bodies))
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			files = filesUnder(t, dir)
			keys, bodies, vc := readSeq(t, filepath.Join(dir, files[0]))
			if vc != tc.class || strings.Join(bodies, ",") != strings.Join(want, ",") || keys[7] != 1700000000007 {
				t.Fatalf("value class %s, %d bodies, key[7] %d", vc, len(bodies), keys[7])
			}
		})
	}
}

func TestHDFSRollCountAndSize(t *testing.T) {
	t.Run("count", func(t *testing.T) {
		dir := t.TempDir()
		s := mustBuildSink(t, "hdfs", map[string]string{"hdfs.path": dir, "hdfs.fileType": "DataStream", "hdfs.rollCount": "3", "hdfs.rollSize": "0", "hdfs.useLocalTimeStamp": "true"})
		var batch []flow.Event
		for i := range 10 {
			batch = append(batch, hdrEvent(strconv.Itoa(i)))
		}
		if err := s.Deliver(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		files := filesUnder(t, dir)
		var done, inUse []string
		for _, f := range files {
			if strings.HasSuffix(f, ".tmp") {
				inUse = append(inUse, f)
			} else {
				done = append(done, f)
			}
		}
		if len(done) != 3 || len(inUse) != 1 {
			t.Fatalf("files: %v", files)
		}
		var all []byte
		for _, f := range files { // counters increase, so name order is write order
			b, _ := os.ReadFile(filepath.Join(dir, f))
			all = append(all, b...)
		}
		if string(all) != "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n" {
			t.Fatalf("contents %q", all)
		}
	})
	t.Run("bytes written", func(t *testing.T) {
		dir := t.TempDir()
		s := mustBuildSink(t, "hdfs", map[string]string{"hdfs.path": dir, "hdfs.rollCount": "0", "hdfs.rollSize": "300"})
		var batch []flow.Event
		for range 10 {
			batch = append(batch, hdrEvent(strings.Repeat("x", 30)))
		}
		if err := s.Deliver(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		s.Close()
		files := filesUnder(t, dir)
		// A SequenceFile header is ~98 bytes and each record 8+8+4+30 = 50:
		// 5 records reach 300 bytes, so 10 events make 2 files.
		if len(files) != 2 {
			t.Fatalf("files: %v", files)
		}
		for _, f := range files {
			st, _ := os.Stat(filepath.Join(dir, f))
			if _, b, _ := readSeq(t, filepath.Join(dir, f)); len(b) != 5 || st.Size() < 300 || st.Size() > 400 {
				t.Fatalf("%s: %d records, %d bytes", f, len(b), st.Size())
			}
		}
	})
}

func TestHDFSTimersCloseAndRename(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, key := range []string{"hdfs.idleTimeout", "hdfs.rollInterval"} {
		t.Run(key, func(t *testing.T) {
			dir := t.TempDir()
			raw := map[string]string{"hdfs.path": dir, "hdfs.fileType": "DataStream", "hdfs.rollInterval": "0", "hdfs.useLocalTimeStamp": "true"}
			raw[key] = "1"
			s, err := buildSinkFrom("hdfs", raw)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Deliver(context.Background(), []flow.Event{hdrEvent("x")}); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				files := filesUnder(t, dir)
				if len(files) == 1 && !strings.HasSuffix(files[0], ".tmp") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("files after %s: %v", key, files)
				}
				time.Sleep(50 * time.Millisecond)
			}
			// The bucket keeps working after the timed close.
			if err := s.Deliver(context.Background(), []flow.Event{hdrEvent("y")}); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if files := filesUnder(t, dir); len(files) != 2 {
				t.Fatalf("files: %v", files)
			}
		})
	}
}

func TestHDFSMissingTimestampRejected(t *testing.T) {
	dir := t.TempDir()
	s := mustBuildSink(t, "hdfs", map[string]string{"hdfs.path": dir + "/%Y"})
	err := s.Deliver(context.Background(), []flow.Event{hdrEvent("ok", "timestamp", "1700000000000"), hdrEvent("no time")})
	var rej *flow.RejectedError
	if !errors.As(err, &rej) || len(rej.Rejected) != 1 || rej.Rejected[0].Index != 1 || !strings.Contains(err.Error(), "useLocalTimeStamp") {
		t.Fatalf("err = %v", err)
	}
	if files := filesUnder(t, dir); len(files) != 0 {
		t.Fatalf("nothing may be written on rejection: %v", files)
	}
}

func TestHDFSGzip(t *testing.T) {
	dir := t.TempDir()
	s := mustBuildSink(t, "hdfs", map[string]string{"hdfs.path": dir, "hdfs.fileType": "CompressedStream", "hdfs.codeC": "gzip",
		"hdfs.rollCount": "0", "hdfs.rollSize": "0", "hdfs.useLocalTimeStamp": "true", "serializer": "header_and_text"})
	for b := range 3 {
		if err := s.Deliver(context.Background(), []flow.Event{hdrEvent("line"+strconv.Itoa(b), "h", "v")}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	files := filesUnder(t, dir)
	if len(files) != 1 || !strings.HasSuffix(files[0], ".gz") {
		t.Fatalf("files: %v", files)
	}
	f, _ := os.Open(filepath.Join(dir, files[0]))
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr) // three members, one per batch
	const want = "{h=v} line0\n{h=v} line1\n{h=v} line2\n"
	if err != nil || string(got) != want {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := exec.LookPath("gzip"); err == nil {
		out, err := exec.Command("gzip", "-dc", filepath.Join(dir, files[0])).Output()
		if err != nil || string(out) != want {
			t.Fatalf("gzip -dc: %q, %v", out, err)
		}
	}
}

func TestHDFSMaxOpenFiles(t *testing.T) {
	dir := t.TempDir()
	s := mustBuildSink(t, "hdfs", map[string]string{"hdfs.path": dir + "/%{k}", "hdfs.maxOpenFiles": "1", "hdfs.fileType": "DataStream", "hdfs.rollCount": "0", "hdfs.rollSize": "0"})
	for _, k := range []string{"a", "b", "a"} {
		if err := s.Deliver(context.Background(), []flow.Event{hdrEvent(k, "k", k)}); err != nil {
			t.Fatal(err)
		}
	}
	files := filesUnder(t, dir)
	var inUse int
	for _, f := range files {
		if strings.HasSuffix(f, ".tmp") {
			inUse++
		}
	}
	if len(files) != 3 || inUse != 1 {
		t.Fatalf("files: %v", files)
	}
}

// TestHDFSRecoversLeftovers plays a crash: in-use files with torn tails are
// cut back to their last whole record and renamed on start.
func TestHDFSRecoversLeftovers(t *testing.T) {
	dir := t.TempDir()
	day := filepath.Join(dir, "2023-11-14")
	os.MkdirAll(day, 0o755)
	var buf bytes.Buffer
	w, _ := seqfile.NewWriter(&buf, seqfile.LongWritable, seqfile.BytesWritable)
	for i := range 3 {
		w.Append(seqfile.AppendLong(nil, int64(i)), seqfile.AppendBytes(nil, []byte("rec"+strconv.Itoa(i))))
	}
	torn := append(bytes.Clone(buf.Bytes()), 0, 0, 0, 40, 0, 0) // a record cut short
	os.WriteFile(filepath.Join(day, "FlumeData.1700000000001.tmp"), torn, 0o644)
	os.WriteFile(filepath.Join(day, "FlumeData.1700000000002.tmp"), []byte("SE"), 0o644) // not even a header
	os.WriteFile(filepath.Join(day, "other.tmp"), []byte("not ours"), 0o644)

	s := mustBuildSink(t, "hdfs", map[string]string{"hdfs.path": dir + "/%Y-%m-%d", "hdfs.timeZone": "UTC"})
	if err := s.Deliver(context.Background(), []flow.Event{hdrEvent("new", "timestamp", "1700000000000")}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	files := filesUnder(t, dir)
	if len(files) != 3 || files[0] != "2023-11-14/FlumeData.1700000000001" || files[2] != "2023-11-14/other.tmp" {
		t.Fatalf("files: %v", files)
	}
	if _, bodies, _ := readSeq(t, filepath.Join(dir, files[0])); strings.Join(bodies, ",") != "rec0,rec1,rec2" {
		t.Fatalf("recovered records %v", bodies)
	}
}

func fileLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestHDFSRecoversTornTextLine(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "_web.1700000000001.log.inuse"), []byte("one\ntwo\nthr"), 0o644)
	os.WriteFile(filepath.Join(dir, "_web.1700000000002.log.inuse"), []byte("partial"), 0o644)
	os.MkdirAll(filepath.Join(dir, "deeper"), 0o755) // below the fixed path: not looked at
	os.WriteFile(filepath.Join(dir, "deeper", "_web.1700000000003.log.inuse"), []byte("x\n"), 0o644)
	s := mustBuildSink(t, "hdfs", map[string]string{"hdfs.path": dir, "hdfs.fileType": "DataStream", "hdfs.filePrefix": "web",
		"hdfs.fileSuffix": ".log", "hdfs.inUsePrefix": "_", "hdfs.inUseSuffix": ".inuse", "hdfs.useLocalTimeStamp": "true"})
	if err := s.Deliver(context.Background(), []flow.Event{hdrEvent("new")}); err != nil {
		t.Fatal(err)
	}
	files := filesUnder(t, dir)
	if len(files) != 3 || files[0] != "_web."+files[0][5:] || files[2] != "web.1700000000001.log" {
		t.Fatalf("files %v", files)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, files[2])); string(b) != "one\ntwo\n" {
		t.Fatalf("recovered %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "deeper", "_web.1700000000003.log.inuse")); err != nil {
		t.Fatal("a file below the sink's path was touched")
	}
}

func TestHDFSPrefixWithDirectory(t *testing.T) {
	dir := t.TempDir()
	s := mustBuildSink(t, "hdfs", map[string]string{"hdfs.path": dir, "hdfs.filePrefix": "%{app}/events", "hdfs.inUsePrefix": "inprogress/",
		"hdfs.fileType": "DataStream", "hdfs.useLocalTimeStamp": "true"})
	if err := s.Deliver(context.Background(), []flow.Event{hdrEvent("x", "app", "web")}); err != nil {
		t.Fatal(err)
	}
	files := filesUnder(t, dir)
	if len(files) != 1 || !regexp.MustCompile(`^inprogress/web/events\.\d+\.tmp$`).MatchString(files[0]) {
		t.Fatalf("in use: %v", files)
	}
	s.Close()
	files = filesUnder(t, dir)
	if len(files) != 1 || !regexp.MustCompile(`^web/events\.\d+$`).MatchString(files[0]) {
		t.Fatalf("closed: %v", files)
	}
}

// fullDisk writes half of what it is given, then fails with ENOSPC, while
// on is set.
type fullDisk struct {
	w  io.Writer
	on *atomic.Bool
}

func (d fullDisk) Write(p []byte) (int, error) {
	if !d.on.Load() {
		return d.w.Write(p)
	}
	n, _ := d.w.Write(p[:len(p)/2])
	return n, syscall.ENOSPC
}

// TestHDFSFailedWriteIsCutBack fills the disk in the middle of a batch: the
// file is cut back to the last synced batch, so redelivering the failed
// batch writes every event exactly once.
func TestHDFSFailedWriteIsCutBack(t *testing.T) {
	for _, ft := range []string{"DataStream", "SequenceFile"} {
		t.Run(ft, func(t *testing.T) {
			dir := t.TempDir()
			reg, _ := flow.Lookup(flow.KindSink, "hdfs")
			cfg, _, err := reg.Spec.Validate("k1", map[string]string{"hdfs.path": dir, "hdfs.fileType": ft, "hdfs.rollCount": "0", "hdfs.rollSize": "0", "hdfs.useLocalTimeStamp": "true"})
			if err != nil {
				t.Fatal(err)
			}
			cfg.Counters = flow.NewCounters()
			s, err := NewHDFS(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var full atomic.Bool
			s.wrapFile = func(w io.Writer) io.Writer { return fullDisk{w: w, on: &full} }
			batch := func(from int) []flow.Event {
				var b []flow.Event
				for i := from; i < from+200; i++ {
					b = append(b, hdrEvent(fmt.Sprintf("event %04d %s", i, strings.Repeat("p", 80))))
				}
				return b
			}
			if err := s.Deliver(context.Background(), batch(0)); err != nil {
				t.Fatal(err)
			}
			full.Store(true)
			if err := s.Deliver(context.Background(), batch(200)); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Deliver on a full disk: %v", err)
			}
			if cfg.Counters.Snapshot()["ConnectionFailedCount"] != 1 {
				t.Fatalf("counters %v", cfg.Counters.Snapshot())
			}
			full.Store(false)
			if err := s.Deliver(context.Background(), batch(200)); err != nil { // the runner's redelivery
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for _, f := range filesUnder(t, dir) {
				var lines []string
				if ft == "DataStream" {
					lines = fileLines(t, filepath.Join(dir, f))
				} else {
					_, lines, _ = readSeq(t, filepath.Join(dir, f))
				}
				for _, l := range lines {
					seen[l]++
				}
			}
			if len(seen) != 400 {
				t.Fatalf("%d distinct events, want 400", len(seen))
			}
			for l, n := range seen {
				if n != 1 {
					t.Fatalf("%q written %d times", l[:10], n)
				}
			}
		})
	}
}

func TestHDFSSnappy(t *testing.T) {
	dir := t.TempDir()
	s := mustBuildSink(t, "hdfs", map[string]string{"hdfs.path": dir, "hdfs.fileType": "CompressedStream", "hdfs.codeC": "snappy",
		"hdfs.rollCount": "0", "hdfs.rollSize": "0", "hdfs.useLocalTimeStamp": "true"})
	var want strings.Builder
	for b := range 3 {
		var batch []flow.Event
		for i := range 1000 {
			line := fmt.Sprintf("batch %d line %d %s", b, i, strings.Repeat("z", i%90))
			want.WriteString(line + "\n")
			batch = append(batch, hdrEvent(line))
		}
		if err := s.Deliver(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	files := filesUnder(t, dir)
	if len(files) != 1 || !strings.HasSuffix(files[0], ".snappy") {
		t.Fatalf("files: %v", files)
	}
	f, _ := os.Open(filepath.Join(dir, files[0]))
	defer f.Close()
	got, err := hadoopcodec.ReadSnappy(f)
	if err != nil || string(got) != want.String() {
		t.Fatalf("decoded %d bytes (want %d): %v", len(got), want.Len(), err)
	}
}

// TestHDFSCompressedSequenceFile: with hdfs.codeC a SequenceFile is
// block-compressed, one block per batch, named with the codec's extension
// as Flume names it; rollSize counts the compressed bytes.
func TestHDFSCompressedSequenceFile(t *testing.T) {
	for _, codec := range []string{"gzip", "snappy", "default"} {
		t.Run(codec, func(t *testing.T) {
			dir := t.TempDir()
			s := mustBuildSink(t, "hdfs", map[string]string{"hdfs.path": dir, "hdfs.codeC": codec, "hdfs.rollCount": "0", "hdfs.rollSize": "3000"})
			var want []string
			for b := range 4 {
				var batch []flow.Event
				for i := range 100 {
					noise := make([]byte, 30)
					rand.Read(noise)
					body := fmt.Sprintf("batch %d event %d %x", b, i, noise)
					want = append(want, body)
					batch = append(batch, hdrEvent(body, "timestamp", "1700000000000"))
				}
				if err := s.Deliver(context.Background(), batch); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			files := filesUnder(t, dir)
			ext := map[string]string{"gzip": ".gz", "snappy": ".snappy", "default": ".deflate"}[codec]
			var got []string
			for i, f := range files {
				if !regexp.MustCompile(`^FlumeData\.\d+` + regexp.QuoteMeta(ext) + `$`).MatchString(f) {
					t.Fatalf("file %q", f)
				}
				_, bodies, _ := readSeq(t, filepath.Join(dir, f))
				got = append(got, bodies...)
				// Rolled at batch ends, once the compressed bytes reach rollSize.
				st, _ := os.Stat(filepath.Join(dir, f))
				if len(bodies)%100 != 0 || (i < len(files)-1 && st.Size() < 3000) {
					t.Fatalf("%s: %d events, %d bytes", f, len(bodies), st.Size())
				}
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("%d events back, want %d", len(got), len(want))
			}
			if len(files) < 2 {
				t.Fatalf("files %v", files)
			}
		})
	}
}

// TestHDFSRecoversTornCompressedStreams: a crash mid-batch leaves a
// compressed stream with a partial last member/block; it is cut back to the
// last whole one and renamed.
func TestHDFSRecoversTornCompressedStreams(t *testing.T) {
	for _, codec := range []string{"gzip", "default", "snappy"} {
		t.Run(codec, func(t *testing.T) {
			dir := t.TempDir()
			raw := map[string]string{"hdfs.path": dir, "hdfs.fileType": "CompressedStream", "hdfs.codeC": codec,
				"hdfs.rollCount": "0", "hdfs.rollSize": "0", "hdfs.useLocalTimeStamp": "true"}
			// Write two batches and a third, then tear the third off.
			s := mustBuildSink(t, "hdfs", raw)
			var sizes []int64
			for b := range 3 {
				if err := s.Deliver(context.Background(), []flow.Event{hdrEvent(fmt.Sprintf("batch %d", b))}); err != nil {
					t.Fatal(err)
				}
				files := filesUnder(t, dir)
				st, _ := os.Stat(filepath.Join(dir, files[0]))
				sizes = append(sizes, st.Size())
			}
			tmp := filepath.Join(dir, filesUnder(t, dir)[0])
			data, _ := os.ReadFile(tmp)
			s.(*HDFS).abandon() // the crash: nothing closed or renamed
			os.WriteFile(tmp, data[:sizes[1]+(sizes[2]-sizes[1])/2], 0o644)

			s2 := mustBuildSink(t, "hdfs", raw)
			if err := s2.Deliver(context.Background(), []flow.Event{hdrEvent("after")}); err != nil {
				t.Fatal(err)
			}
			recovered := strings.TrimSuffix(filepath.Base(tmp), ".tmp")
			st, err := os.Stat(filepath.Join(dir, recovered))
			if err != nil || st.Size() != sizes[1] {
				t.Fatalf("recovered %s: %v, size %v want %d", recovered, err, st, sizes[1])
			}
		})
	}
}

// abandon plays a crash: the timer stops and every file is closed as it
// is, without finishing, syncing or renaming it.
func (s *HDFS) abandon() {
	s.mu.Lock()
	s.closed = true
	stop, stopped := s.stop, s.stopped
	for _, bw := range s.buckets {
		if bw.f != nil {
			bw.f.Close()
			bw.f = nil
		}
	}
	s.mu.Unlock()
	if stop != nil {
		close(stop)
		<-stopped
	}
}

// TestHDFSRecoveryLeavesOtherSinksFiles: two sinks on the same path and
// prefix (a load-balancing group); the second one's start-up recovery must
// not take the first one's open file for a leftover.
func TestHDFSRecoveryLeavesOtherSinksFiles(t *testing.T) {
	dir := t.TempDir()
	raw := map[string]string{"hdfs.path": dir, "hdfs.fileType": "DataStream", "hdfs.rollCount": "0", "hdfs.rollSize": "0", "hdfs.useLocalTimeStamp": "true"}
	k1 := mustBuildSink(t, "hdfs", raw)
	if err := k1.Deliver(context.Background(), []flow.Event{hdrEvent("from k1")}); err != nil {
		t.Fatal(err)
	}
	k2 := mustBuildSink(t, "hdfs", raw)
	if err := k2.Deliver(context.Background(), []flow.Event{hdrEvent("from k2")}); err != nil {
		t.Fatal(err)
	}
	if err := k1.Deliver(context.Background(), []flow.Event{hdrEvent("k1 again")}); err != nil {
		t.Fatal(err)
	}
	for _, f := range filesUnder(t, dir) {
		if !strings.HasSuffix(f, ".tmp") {
			t.Fatalf("k2 finished %s, an open file of k1", f)
		}
	}
	k1.Close()
	k2.Close()
	var lines []string
	for _, f := range filesUnder(t, dir) {
		lines = append(lines, fileLines(t, filepath.Join(dir, f))...)
	}
	sort.Strings(lines)
	if strings.Join(lines, ",") != "from k1,from k2,k1 again" {
		t.Fatalf("lines %v", lines)
	}
}
