package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestRecordFormat(t *testing.T) {
	r := &kgo.Record{
		Topic: "fred", Partition: 2, Offset: 41,
		Key: []byte("user-7"), Value: []byte("hello world"),
		Timestamp: time.UnixMilli(1767366245123).UTC(),
		Headers:   []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}},
	}
	tests := []struct {
		format string
		want   string
	}{
		{`%v\n`, "hello world\n"},
		{`%s`, "hello world"},
		{`%t/%p@%o`, "fred/2@41"},
		{`%k=%v`, "user-7=hello world"},
		{`%K %V %S`, "6 11 11"},
		{`%T`, "1767366245123"},
		{`%d`, "2026-01-02T15:04:05.123Z"},
		{`%h`, "a=1,b=2"},
		{`100%%\t\\\r`, "100%\t\\\r"},
		{`plain text`, "plain text"},
		{`\x`, `\x`},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			f, err := parseFormat(tc.format)
			if err != nil {
				t.Fatalf("parseFormat(%q): %v", tc.format, err)
			}
			if got := string(f.Append(nil, r)); got != tc.want {
				t.Errorf("format %q = %q, want %q", tc.format, got, tc.want)
			}
		})
	}
}

func TestParseFormatErrors(t *testing.T) {
	tests := []struct {
		format, wantErr string
	}{
		{`%`, "trailing %"},
		{`%x`, "unknown verb %x"},
		{`ok %v then %z`, "unknown verb %z"},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			_, err := parseFormat(tc.format)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseFormat(%q) error = %v, want %q", tc.format, err, tc.wantErr)
			}
		})
	}
}

func TestAppendJSONBinary(t *testing.T) {
	r := &kgo.Record{Topic: "t", Value: []byte{0xff, 0x00, 0x01}, Headers: []kgo.RecordHeader{{Key: "h", Value: []byte{0xfe}}}}
	b, err := appendJSON(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"topic":"t","partition":0,"offset":0,"timestamp":` // then the zero time in ms
	got := string(b)
	for _, w := range []string{want, `"key":null`, `"value":"/wAB","value_encoding":"base64"`, `{"key":"h","value":"/g==","value_encoding":"base64"}`} {
		if !strings.Contains(got, w) {
			t.Errorf("JSON %s does not contain %s", got, w)
		}
	}
}

func TestParseFromTime(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"2026-05-01T11:00:00Z", now.Add(-time.Hour), false},
		{"2026-05-01T13:00:00+02:00", now.Add(-time.Hour), false},
		{"1777633200000", now.Add(-time.Hour), false},
		{"1h", now.Add(-time.Hour), false},
		{"-90m", now.Add(-90 * time.Minute), false},
		{"yesterday", time.Time{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseFromTime(tc.in, now)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseFromTime(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if !tc.wantErr && !got.Equal(tc.want) {
				t.Errorf("parseFromTime(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzParseFormat(f *testing.F) {
	for _, s := range []string{`%v\n`, `%k=%v %h`, `%%`, `\`, `%`, `%t%p%o%T%d`} {
		f.Add(s)
	}
	r := &kgo.Record{Topic: "t", Key: []byte("k"), Value: []byte("v")}
	f.Fuzz(func(t *testing.T, s string) {
		fm, err := parseFormat(s)
		if err != nil {
			return
		}
		fm.Append(nil, r)
	})
}
