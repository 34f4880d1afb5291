package commitlog

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/<name>.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create): %v", err)
	}
	if string(want) != got {
		t.Fatalf("%s differs from golden file %s:\n--- got\n%s\n--- want\n%s", name, p, got, want)
	}
}

// describe renders the log's segments and records for golden files.
func describe(t *testing.T, l *Log) string {
	t.Helper()
	var sb strings.Builder
	l.mu.RLock()
	fmt.Fprintf(&sb, "logStart=%d logEnd=%d\n", l.LogStartOffset(), l.LogEndOffset())
	for _, s := range l.segs {
		fmt.Fprintf(&sb, "segment %s size=%d next=%d\n", segmentName(s.base), s.size, s.next)
	}
	l.mu.RUnlock()
	for _, r := range decodeAll(t, readAll(t, l)) {
		fmt.Fprintf(&sb, "%d %s=%s @%d\n", r.Offset, r.Key, r.Value, r.Ts)
	}
	return sb.String()
}

func TestRetention(t *testing.T) {
	base := fixedNow.UnixMilli()
	cases := []struct {
		name   string
		cfg    func(*Config)
		at     time.Duration // Maintain at fixedNow+at
		delete int64         // DeleteRecords(before) first when >= 0
	}{
		{"time", func(c *Config) { c.RetentionMs = 30 * time.Second }, 0, -2},
		{"time-all-expired", func(c *Config) { c.RetentionMs = time.Second }, time.Hour, -2},
		{"size", func(c *Config) { c.RetentionBytes = 1000 }, 0, -2},
		{"unlimited", func(c *Config) { c.RetentionMs = -1 }, 365 * 24 * time.Hour, -2},
		{"compact-only-keeps-old", func(c *Config) { c.RetentionMs = time.Second; c.CleanupPolicy = "compact" }, time.Hour, -2},
		{"delete-records", func(c *Config) {}, 0, 17},
		{"delete-records-all", func(c *Config) {}, 0, -1},
		{"segment-ms-roll", func(c *Config) { c.SegmentBytes = 1 << 20; c.SegmentMs = time.Minute; c.RetentionMs = 10 * time.Minute }, 2 * time.Minute, -2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.SegmentBytes = 400
			c.cfg(&cfg)
			clock := fixedNow
			dir := filepath.Join(t.TempDir(), "r-0")
			l := openTest(t, dir, cfg, WithClock(func() time.Time { return clock }))
			defer l.Close()
			// 10 batches of 3 records, 10 s apart, the newest at fixedNow.
			for i := range 10 {
				recs := simpleRecords(3, 30, base-int64(9-i)*10_000)
				if _, err := l.Append(makeBatch(t, recs, batchOpts{}), false); err != nil {
					t.Fatal(err)
				}
			}
			if c.delete != -2 {
				if _, err := l.DeleteRecords(c.delete); err != nil {
					t.Fatal(err)
				}
			}
			clock = fixedNow.Add(c.at)
			if err := l.Maintain(clock); err != nil {
				t.Fatal(err)
			}
			got := describe(t, l)
			golden(t, "retention_"+c.name, got)
			// The state survives a restart.
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openTest(t, dir, cfg, WithClock(func() time.Time { return clock }))
			if again := describe(t, l); again != got {
				t.Fatalf("after reopen:\n%s\nbefore:\n%s", again, got)
			}
		})
	}
}

func TestCompaction(t *testing.T) {
	base := fixedNow.UnixMilli()
	type rec struct {
		key, value string // value "" = tombstone
		age        time.Duration
	}
	cases := []struct {
		name  string
		codec kgo.CompressionCodec
		cfg   func(*Config)
		recs  []rec
	}{
		{"last-value-per-key", kgo.NoCompression(), func(*Config) {}, []rec{
			{"a", "1", 0}, {"b", "1", 0}, {"a", "2", 0}, {"c", "1", 0}, {"b", "2", 0}, {"a", "3", 0},
			{"d", "1", 0}, {"e", "1", 0}, {"a", "4", 0}, {"f", "1", 0}, {"b", "3", 0}, {"g", "1", 0},
		}},
		{"compressed-batches", kgo.ZstdCompression(), func(*Config) {}, []rec{
			{"a", "1", 0}, {"b", "1", 0}, {"a", "2", 0}, {"c", "1", 0}, {"b", "2", 0}, {"a", "3", 0},
			{"d", "1", 0}, {"e", "1", 0}, {"a", "4", 0}, {"f", "1", 0}, {"b", "3", 0}, {"g", "1", 0},
		}},
		{"tombstones", kgo.SnappyCompression(), func(c *Config) { c.DeleteRetentionMs = time.Hour }, []rec{
			{"a", "1", 3 * time.Hour}, {"b", "1", 3 * time.Hour}, {"a", "", 2 * time.Hour}, {"c", "1", 2 * time.Hour},
			{"b", "", 30 * time.Minute}, {"d", "1", 0}, {"e", "1", 0}, {"c", "2", 0}, {"f", "1", 0},
			{"g", "1", 0}, {"h", "1", 0}, {"i", "1", 0},
		}},
		{"compact-delete", kgo.Lz4Compression(), func(c *Config) { c.CleanupPolicy = "compact,delete"; c.RetentionMs = 2 * time.Hour }, []rec{
			{"a", "1", 3 * time.Hour}, {"b", "1", 3 * time.Hour}, {"a", "2", 3 * time.Hour}, {"c", "1", 0},
			{"b", "2", 0}, {"d", "1", 0}, {"d", "2", 0}, {"e", "1", 0}, {"f", "1", 0},
			{"g", "1", 0}, {"h", "1", 0}, {"i", "1", 0},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.CleanupPolicy = "compact"
			cfg.SegmentBytes = 150
			cfg.RetentionMs = -1
			c.cfg(&cfg)
			dir := filepath.Join(t.TempDir(), "c-0")
			l := openTest(t, dir, cfg, WithClock(func() time.Time { return fixedNow }))
			defer l.Close()
			// Two records per batch.
			for i := 0; i < len(c.recs); i += 2 {
				var trs []testRecord
				for _, r := range c.recs[i : i+2] {
					tr := testRecord{key: []byte(r.key), ts: base - r.age.Milliseconds()}
					if r.value != "" {
						tr.value = []byte(r.value)
					}
					trs = append(trs, tr)
				}
				if _, err := l.Append(makeBatch(t, trs, batchOpts{codec: c.codec}), false); err != nil {
					t.Fatal(err)
				}
			}
			before := l.LogEndOffset()
			// Keep a reader open across compaction: it must still see the old bytes.
			s, err := l.Read(0, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			oldBytes, _ := s.AppendTo(nil)
			if err := l.Maintain(fixedNow); err != nil {
				t.Fatal(err)
			}
			after, err := s.AppendTo(nil)
			if err != nil || string(after) != string(oldBytes) {
				t.Fatalf("open slice changed under compaction: %v", err)
			}
			s.Close()
			if l.LogEndOffset() != before {
				t.Fatalf("compaction moved the end offset %d → %d", before, l.LogEndOffset())
			}
			got := describe(t, l)
			golden(t, "compaction_"+c.name, got)
			// Appends keep working, and offsets go on from the end.
			res, err := l.Append(makeBatch(t, []testRecord{{key: []byte("z"), value: []byte("1"), ts: base}}, batchOpts{}), false)
			if err != nil || res.BaseOffset != before {
				t.Fatalf("append after compaction: %+v %v", res, err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openTest(t, dir, cfg, WithClock(func() time.Time { return fixedNow }))
			all := decodeAll(t, readAll(t, l))
			if last := all[len(all)-1]; last.Key != "z" || last.Offset != before {
				t.Fatalf("after reopen the last record is %+v", last)
			}
		})
	}
}
