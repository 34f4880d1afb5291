package database

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// decodeRef is what decodeRecord's top level must agree with:
// encoding/json's reading of the same bytes.
func decodeRef(b []byte) (map[string]field, bool) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(t, &m); err != nil {
		return nil, false
	}
	out := map[string]field{}
	for k, raw := range m {
		f, err := rawField(raw)
		if err != nil {
			return nil, false
		}
		out[k] = f
	}
	return out, true
}

var jsonSeeds = []string{
	`{}`, ` { } `, `{"a":1}`, `{"a":-0.5e+3,"b":"x","c":true,"d":false,"e":null}`,
	`{"nested":{"a":[1,2,{"b":"}"}]},"s":"q\"uote\\"}`, `{"u":"\u00e9\ud83c\udf0a","bad":"\xff"}`,
	`{"a":1,"a":2}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":tru}`, `{"a":1,}`, `{,}`,
	`{"a" 1}`, `{"a":1}x`, `{"a":1} {"b":2}`, `{"a":"line` + "\n" + `"}`, `{"a":[1,2}`, `{"a":{"b":1]}`,
	`{"schema":{"type":"struct","fields":[{"field":"n","type":"int32"}]},"payload":{"n":7}}`,
	`{"k\u0000ey":"v"}`, `{"a":"\x"}`, `{"a":99999999999999999999}`, `[1,2]`, `"str"`, `{"a":[]}`,
}

// TestScanObject checks decodeRecord against encoding/json on the seeds.
func TestScanObject(t *testing.T) {
	for _, s := range jsonSeeds {
		checkAgainstRef(t, []byte(s))
	}
}

func checkAgainstRef(t *testing.T, b []byte) {
	t.Helper()
	want, wantOK := decodeRef(b)
	got := map[string]field{}
	gotOK := scanObject(bytes.TrimSpace(b), func(k string, raw []byte) {
		f, _ := rawField(raw)
		got[k] = f
	})
	if len(bytes.TrimSpace(b)) == 0 || bytes.TrimSpace(b)[0] != '{' {
		gotOK = false
	}
	if gotOK != wantOK {
		t.Fatalf("%q: valid object %v, encoding/json says %v", b, gotOK, wantOK)
	}
	if gotOK && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: fields %#v, encoding/json gives %#v", b, got, want)
	}
}

// FuzzDecodeRecord: records are untrusted bytes off a topic; the one-pass
// scanner must accept exactly what encoding/json accepts and read the same
// values, and decodeRecord must never panic.
func FuzzDecodeRecord(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkAgainstRef(t, b)
		decodeRecord(b)
	})
}
