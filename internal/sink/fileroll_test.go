package sink

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

func TestSerializers(t *testing.T) {
	e := hdrEvent("body", "b", "2", "a", "1")
	cases := []struct {
		name    string
		newline bool
		want    string
	}{
		{"TEXT", true, "body\n"},
		{"text", false, "body"},
		{"org.apache.flume.serialization.BodyTextEventSerializer$Builder", true, "body\n"},
		{"header_and_text", true, "{a=1, b=2} body\n"},
		{"org.apache.flume.serialization.HeaderAndBodyTextEventSerializer$Builder", false, "{a=1, b=2} body"},
	}
	for _, tc := range cases {
		s, err := newSerializer("serializer", tc.name, tc.newline)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := string(s.Append(nil, e)); got != tc.want {
			t.Errorf("%s: %q want %q", tc.name, got, tc.want)
		}
	}
	for _, bad := range []string{"avro_event", "json"} {
		var ke *flow.KeyError
		if _, err := newSerializer("sink.serializer", bad, true); !errors.As(err, &ke) || ke.Key != "sink.serializer" {
			t.Errorf("%s: err = %v", bad, err)
		}
	}
}

func TestNullSink(t *testing.T) {
	s := mustBuildSink(t, "org.apache.flume.sink.NullSink", map[string]string{"batchSize": "500"})
	if s.(flow.BatchSizer).BatchSize() != 500 {
		t.Fatal("batchSize not used")
	}
	if err := s.Deliver(context.Background(), []flow.Event{hdrEvent("x")}); err != nil {
		t.Fatal(err)
	}
}

func TestFileRollNamesAndRolls(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out") // created by the sink
	s := mustBuildSink(t, "file_roll", map[string]string{"sink.directory": dir, "sink.rollInterval": "1",
		"sink.pathManager.prefix": "web-", "sink.pathManager.extension": "log", "sink.serializer": "header_and_text"})
	fr := s.(*FileRoll)
	clock := time.UnixMilli(1700000000000)
	fr.now = func() time.Time { return clock }
	if err := s.Deliver(context.Background(), []flow.Event{hdrEvent("a", "h", "1"), hdrEvent("b")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Deliver(context.Background(), []flow.Event{hdrEvent("c")}); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(1500 * time.Millisecond) // past rollInterval
	if err := s.Deliver(context.Background(), []flow.Event{hdrEvent("d")}); err != nil {
		t.Fatal(err)
	}
	files := filesUnder(t, dir)
	re := regexp.MustCompile(`^web-(\d{13})-([12])\.log$`)
	if len(files) != 2 || !re.MatchString(files[0]) || !re.MatchString(files[1]) {
		t.Fatalf("files %v", files)
	}
	if re.FindStringSubmatch(files[0])[1] != re.FindStringSubmatch(files[1])[1] {
		t.Fatalf("one series timestamp per sink: %v", files)
	}
	// Written and fsynced before Deliver returned: readable without Close.
	one, _ := os.ReadFile(filepath.Join(dir, files[0]))
	two, _ := os.ReadFile(filepath.Join(dir, files[1]))
	if string(one) != "{h=1} a\n{} b\n{} c\n" || string(two) != "{} d\n" {
		t.Fatalf("contents %q %q", one, two)
	}
}

func TestFileRollRollTimeAndNever(t *testing.T) {
	dir := t.TempDir()
	s := mustBuildSink(t, "org.apache.flume.sink.RollingFileSink", map[string]string{"sink.directory": dir, "sink.rollInterval": "0",
		"sink.pathManager": "rolltime", "sink.serializer.appendNewline": "false", "sink.batchSize": "7"})
	if s.(flow.BatchSizer).BatchSize() != 7 {
		t.Fatal("sink.batchSize not used")
	}
	fr := s.(*FileRoll)
	clock := time.Date(2024, 2, 3, 4, 5, 6, 0, time.Local)
	fr.now = func() time.Time { return clock }
	for i := range 3 {
		if err := s.Deliver(context.Background(), []flow.Event{hdrEvent(string(rune('a' + i)))}); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(time.Hour) // rollInterval 0: never rolls
	}
	files := filesUnder(t, dir)
	if len(files) != 1 || files[0] != "20240203040506-1" {
		t.Fatalf("files %v", files)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, files[0])); string(b) != "abc" {
		t.Fatalf("content %q", b)
	}
}

func TestFileRollConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		raw map[string]string
		key string
	}{
		{map[string]string{}, "sink.directory"},
		{map[string]string{"sink.directory": "/tmp/x", "sink.pathManager": "weekly"}, "sink.pathManager"},
		{map[string]string{"sink.directory": "/tmp/x", "sink.serializer": "avro_event"}, "sink.serializer"},
		{map[string]string{"sink.directory": "/tmp/x", "sink.rollInterval": "-1"}, "sink.rollInterval"},
	} {
		_, err := buildSinkFrom("file_roll", tc.raw)
		var ke *flow.KeyError
		if !errors.As(err, &ke) || ke.Key != tc.key || !strings.Contains(err.Error(), "fix") {
			t.Errorf("%v: err = %v, want a KeyError on %s", tc.raw, err, tc.key)
		}
	}
}

func TestFileRollFailedWriteIsCutBack(t *testing.T) {
	dir := t.TempDir()
	s := mustBuildSink(t, "file_roll", map[string]string{"sink.directory": dir, "sink.rollInterval": "0"})
	fr := s.(*FileRoll)
	var full atomic.Bool
	fr.wrapFile = func(w io.Writer) io.Writer { return fullDisk{w: w, on: &full} }
	if err := s.Deliver(context.Background(), []flow.Event{hdrEvent("one"), hdrEvent("two")}); err != nil {
		t.Fatal(err)
	}
	full.Store(true)
	if err := s.Deliver(context.Background(), []flow.Event{hdrEvent("three"), hdrEvent("four")}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("err = %v", err)
	}
	full.Store(false)
	if err := s.Deliver(context.Background(), []flow.Event{hdrEvent("three"), hdrEvent("four")}); err != nil {
		t.Fatal(err)
	}
	files := filesUnder(t, dir)
	if len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, files[0])); string(b) != "one\ntwo\nthree\nfour\n" {
		t.Fatalf("content %q", b)
	}
}
