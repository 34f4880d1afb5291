package topic

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"orders", true},
		{"a.b_c-D9", true},
		{strings.Repeat("x", 249), true},
		{strings.Repeat("x", 250), false},
		{"", false},
		{".", false},
		{"..", false},
		{"...", true},
		{"has space", false},
		{"slash/y", false},
		{"ünicode", false},
	}
	for _, tt := range tests {
		err := ValidateName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("ValidateName(%q) error %v is not ErrInvalidTopic", tt.name, err)
		}
	}
}

func TestMetaRoundTripAndCorruption(t *testing.T) {
	m := &metaFile{ProducerIDBlockEnd: 2000, Topics: []metaTopic{{Name: "a", ID: "000102030405060708090a0b0c0d0e0f", Partitions: 2, Configs: map[string]string{"retention.ms": "1"}}}}
	b, err := encodeMeta(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeMeta(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ProducerIDBlockEnd != 2000 || len(got.Topics) != 1 || got.Topics[0].Configs["retention.ms"] != "1" {
		t.Fatalf("round trip: %+v", got)
	}
	flip := func(i int) []byte { c := append([]byte(nil), b...); c[i] ^= 1; return c }
	for name, bad := range map[string][]byte{
		"bad_magic":    flip(0),
		"bad_version":  flip(9),
		"bad_length":   flip(13),
		"bad_checksum": flip(len(b) - 3),
		"torn":         b[:len(b)-5],
		"empty":        nil,
	} {
		if _, err := decodeMeta(bad); !errors.Is(err, ErrCorruptMeta) {
			t.Errorf("%s: error %v, want ErrCorruptMeta", name, err)
		}
	}
}

func FuzzDecodeMeta(f *testing.F) {
	b, _ := encodeMeta(&metaFile{Topics: []metaTopic{{Name: "a", ID: "000102030405060708090a0b0c0d0e0f", Partitions: 1}}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMeta(data)
		if err != nil {
			return
		}
		if _, err := encodeMeta(m); err != nil {
			t.Fatal(err)
		}
	})
}

func TestBrokerDefaults(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]string
		want     map[string]string
		wantErr  bool
	}{
		{"hours", map[string]string{"log.retention.hours": "2"}, map[string]string{"retention.ms": "7200000"}, false},
		{"minutes beat hours", map[string]string{"log.retention.hours": "2", "log.retention.minutes": "3"}, map[string]string{"retention.ms": "180000"}, false},
		{"ms beats all", map[string]string{"log.retention.hours": "2", "log.retention.ms": "5"}, map[string]string{"retention.ms": "5"}, false},
		{"unlimited", map[string]string{"log.retention.hours": "-1"}, map[string]string{"retention.ms": "-1"}, false},
		{"segment and message size", map[string]string{"log.segment.bytes": "1048576", "message.max.bytes": "2000000"},
			map[string]string{"segment.bytes": "1048576", "max.message.bytes": "2000000"}, false},
		{"roll hours", map[string]string{"log.roll.hours": "1"}, map[string]string{"segment.ms": "3600000"}, false},
		{"bad value", map[string]string{"log.segment.bytes": "big"}, nil, true},
		{"unrelated ignored", map[string]string{"num.partitions": "3"}, map[string]string{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BrokerDefaults(tt.settings)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, wantErr %v", err, tt.wantErr)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if tt.want != nil && len(got) != len(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLogConfig(t *testing.T) {
	c := LogConfig(effective(map[string]string{"retention.ms": "-1"}, map[string]string{"segment.bytes": "1000", "cleanup.policy": "compact, delete", "message.timestamp.type": "LogAppendTime"}))
	if c.RetentionMs >= 0 || c.SegmentBytes != 1000 || c.CleanupPolicy != "compact,delete" || c.MessageTimestampType != "LogAppendTime" {
		t.Fatalf("LogConfig = %+v", c)
	}
	if c.FlushMessages != 0 || c.FlushMs != 0 || c.MaxMessageBytes != 1048588 || c.SegmentMs != 7*24*time.Hour {
		t.Fatalf("defaults not mapped: %+v", c)
	}
}

func TestRegistryPersistsAndCleansOrphans(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	created, err := r.Create(CreateRequest{Name: "t.x", Partitions: 2, Configs: map[string]string{"retention.ms": "10"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Create(CreateRequest{Name: "t_x", Partitions: 1}); !errors.Is(err, ErrInvalidTopic) {
		t.Fatalf("colliding name: %v", err)
	}
	if _, err := r.Create(CreateRequest{Name: "gone", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete("gone"); err != nil {
		t.Fatal(err)
	}
	pid, _ := r.NextProducerID()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// A directory left by a crash between the metadata write and the
	// directory removal is cleaned up at the next open.
	os.MkdirAll(filepath.Join(dir, "orphan-0"), 0o755)
	os.MkdirAll(filepath.Join(dir, "t.x-7"), 0o755)

	r, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, ok := r.Get("t.x")
	if !ok || got.ID != created.ID || len(got.Partitions) != 2 || got.Configs["retention.ms"] != "10" {
		t.Fatalf("after reopen: %+v", got)
	}
	if _, ok := r.Get("gone"); ok {
		t.Fatal("deleted topic came back")
	}
	for _, d := range []string{"orphan-0", "t.x-7", "gone-0"} {
		if _, err := os.Stat(filepath.Join(dir, d)); !os.IsNotExist(err) {
			t.Errorf("%s still exists: %v", d, err)
		}
	}
	pid2, _ := r.NextProducerID()
	if pid2 <= pid {
		t.Fatalf("producer id %d after reopen, %d before", pid2, pid)
	}
}
