package properties

import (
	"reflect"
	"testing"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"equals", "a=b", map[string]string{"a": "b"}},
		{"colon", "a:b", map[string]string{"a": "b"}},
		{"space", "a b", map[string]string{"a": "b"}},
		{"spaces around equals", "  a  =  b c  ", map[string]string{"a": "b c  "}},
		{"space then colon", "a\t: b", map[string]string{"a": "b"}},
		{"second separator is value", "a==b", map[string]string{"a": "=b"}},
		{"key only", "flag", map[string]string{"flag": ""}},
		{"empty value", "a=", map[string]string{"a": ""}},
		{"comments and blanks", "# c\n! d\n\n   # e\na=1", map[string]string{"a": "1"}},
		{"comment ending in backslash does not continue", "# x \\\na=1", map[string]string{"a": "1"}},
		{"continuation", "a=one, \\\n    two, \\\n\tthree", map[string]string{"a": "one, two, three"}},
		{"even backslashes do not continue", "a=x\\\\\nb=y", map[string]string{"a": `x\`, "b": "y"}},
		{"escaped separator in key", `a\=b\:c\ d=e`, map[string]string{"a=b:c d": "e"}},
		{"escapes", `a=\t\n\r\f\q\\`, map[string]string{"a": "\t\n\r\fq\\"}},
		{"unicode", `a=caf\u00e9 \u0041`, map[string]string{"a": "café A"}},
		{"surrogate pair", `a=\ud83d\ude00`, map[string]string{"a": "😀"}},
		{"crlf and cr", "a=1\r\nb=2\rc=3", map[string]string{"a": "1", "b": "2", "c": "3"}},
		{"last duplicate wins", "a=1\na=2", map[string]string{"a": "2"}},
		{"continuation at eof", "a=1\\", map[string]string{"a": "1"}},
		{"kafka style", "log.dirs=/tmp/kafka-logs\nnum.partitions=3\nlisteners=PLAINTEXT://:9092",
			map[string]string{"log.dirs": "/tmp/kafka-logs", "num.partitions": "3", "listeners": "PLAINTEXT://:9092"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load([]byte(tt.in))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Load(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseErrorsAndLines(t *testing.T) {
	for _, in := range []string{`a=\u12`, `a=\uzzzz`, `\u00g0=1`} {
		if _, err := Load([]byte(in)); err == nil {
			t.Errorf("Load(%q) succeeded, want malformed escape error", in)
		}
	}
	entries, err := Parse([]byte("# head\na=1\nb=2 \\\n 3\nc=4"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{{"a", "1", 2}, {"b", "2 3", 3}, {"c", "4", 5}}
	if !reflect.DeepEqual(entries, want) {
		t.Fatalf("Parse = %+v, want %+v", entries, want)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"a=b", "a\\\n b", `\u0041=\t`, "#x\r\ny:z", "a=\\u"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := Parse(data)
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Line < 1 {
				t.Fatalf("entry %+v has line < 1", e)
			}
		}
	})
}
