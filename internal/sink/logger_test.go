package sink

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/runnel/runnel/internal/flow"
)

func TestDumpEvent(t *testing.T) {
	cases := []struct {
		name     string
		e        flow.Event
		maxBytes int
		want     string
	}{
		{
			// The line printed in the Flume user guide's first example.
			name: "flume user guide", maxBytes: 16,
			e:    flow.Event{Headers: map[string]string{}, Body: []byte("Hello world!\r")},
			want: "{ headers:{} body: 48 65 6C 6C 6F 20 77 6F 72 6C 64 21 0D          Hello world!. }",
		},
		{
			name: "truncated to maxBytes", maxBytes: 16,
			e:    flow.Event{Body: []byte("second line that is longer")},
			want: "{ headers:{} body: 73 65 63 6F 6E 64 20 6C 69 6E 65 20 74 68 61 74 second line that }",
		},
		{
			name: "second hexdump line keeps its offset", maxBytes: 20,
			e: flow.Event{Body: []byte("0123456789abcdefXYZ\x00\xff")},
			want: "{ headers:{} body: 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66 0123456789abcdef\n" +
				"00000010 58 59 5A 00                                     XYZ. }",
		},
		{
			name: "headers like Java's Map.toString, sorted", maxBytes: 16,
			e:    flow.Event{Headers: map[string]string{"timestamp": "1", "host": "h"}, Body: []byte("x")},
			want: "{ headers:{host=h, timestamp=1} body: 78                                              x }",
		},
		{
			name: "empty body", maxBytes: 16,
			e:    flow.Event{},
			want: "{ headers:{} body: }",
		},
		{
			name: "maxBytesToLog 0", maxBytes: 0,
			e:    flow.Event{Body: []byte("abc")},
			want: "{ headers:{} body: }",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := DumpEvent(tc.e, tc.maxBytes); got != tc.want {
				t.Fatalf("DumpEvent =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestLoggerSinkLogsAtInfo(t *testing.T) {
	reg, ok := flow.Lookup(flow.KindSink, "org.apache.flume.sink.LoggerSink")
	if !ok {
		t.Fatal("logger sink not registered under its class name")
	}
	cfg, warnings, err := reg.Spec.Validate("k1", map[string]string{"maxBytesToLog": "4"})
	if err != nil || len(warnings) != 0 {
		t.Fatalf("validate: %v %v", err, warnings)
	}
	var buf bytes.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	v, err := reg.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := v.(flow.Sink)
	if err := s.Deliver(context.Background(), []flow.Event{{Body: []byte("abcdef")}}); err != nil {
		t.Fatal(err)
	}
	want := `level=INFO msg="Event: { headers:{} body: 61 62 63 64                                     abcd }"`
	if !strings.Contains(buf.String(), want) {
		t.Fatalf("log output %q does not contain %q", buf.String(), want)
	}
}
