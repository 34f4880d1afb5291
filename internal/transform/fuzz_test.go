package transform

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/runnel/runnel/internal/flow"
)

// fuzzChains are SMT configs run on every fuzzed value: none may panic,
// whatever the bytes.
var fuzzChains = []map[string]string{
	smt("InsertField$Value", "topic.field", "t", "partition.field", "p!", "timestamp.field", "ts", "static.field", "s", "static.value", "v"),
	smt("ReplaceField$Value", "exclude", "a", "renames", "b:c"),
	smt("MaskField$Value", "fields", "a,b,c,id,name"),
	smt("MaskField$Value", "fields", "a,b,c,id,name", "replacement", "1"),
	smt("ValueToKey", "fields", "a,id"),
	smt("ExtractField$Value", "field", "a"),
	smt("HoistField$Key", "field", "k"),
	smt("Cast$Value", "spec", "a:int8,b:string,c:boolean,id:float32,name:int64"),
	smt("Cast$Value", "spec", "float64"),
	smt("Flatten$Value", "delimiter", "_"),
	smt("TimestampConverter$Value", "field", "a", "target.type", "string", "format", "yyyy-MM-dd"),
	smt("TimestampConverter$Value", "target.type", "Date"),
	smt("HeaderFrom$Value", "fields", "a,b", "headers", "x,y", "operation", "move"),
}

// FuzzDecodeRecord feeds arbitrary bytes to the JsonConverter envelope /
// schemaless JSON decoder and to every SMT. Decoding never panics, encoding
// a decoded envelope or non-string value is stable (decode(encode(x))
// encodes to the same bytes), and no SMT panics.
func FuzzDecodeRecord(f *testing.F) {
	for _, s := range []string{
		person, `{"a":1,"b":{"c":[1,2.5,"x",null,true]}}`, "plain text", `"quoted"`, `42`, `-1.5e300`,
		envelope(`{"type":"array","items":{"type":"string"}}`, `["a"]`),
		envelope(`{"type":"map","keys":{"type":"string"},"values":{"type":"int64"}}`, `{"a":1}`),
		envelope(`null`, `{"a":1}`), envelope(`{"type":"bytes"}`, `"AAE="`), `{"schema":{},"payload":1}`,
		`{"a":"\u0000\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	var chains []Chain
	for _, p := range fuzzChains {
		c, _, err := FromConnect(p)
		if err != nil {
			f.Fatal(err)
		}
		chains = append(chains, c)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err == nil {
			once := r.encode()
			// A top-level string is written raw (StringConverter's way), so
			// it reads back as whatever JSON it looks like: not checked.
			if _, isString := r.value.(string); r.envelope || r.value != nil && !isString {
				r2, err := decodeRecord(once)
				if err != nil {
					t.Fatalf("re-reading %q: %v", once, err)
				}
				if twice := r2.encode(); !bytes.Equal(once, twice) {
					t.Fatalf("encoding is not stable:\n%q\n%q", once, twice)
				}
			}
		}
		for _, c := range chains {
			c.Apply(flow.Event{Topic: "t", Body: b, Key: b, Headers: hdr("h", "1")})
		}
	})
}

// plain converts parseJSON's result to what encoding/json (UseNumber)
// decodes into, for comparison.
func plain(v any) any {
	switch v := v.(type) {
	case *Object:
		m := map[string]any{}
		for _, k := range v.Keys() {
			x, _ := v.Get(k)
			m[k] = plain(x)
		}
		return m
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = plain(x)
		}
		return out
	}
	return v
}

// FuzzParseJSON checks the hand-written JSON reader against encoding/json:
// it accepts exactly what json.Valid accepts and reads the same values.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		person, `{"a":1,"a":2}`, `[1,-0.5e+3,"\u00e9\ud83d\ude00\ud800x\u0041",true,false,null,{}]`, `"\xff"`, `01`, `1.`, `-`, ` [ ] `, `{"a" 1}`, `"\u12"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseJSON(b)
		if valid := json.Valid(b); valid != (err == nil) {
			t.Fatalf("json.Valid = %v but parseJSON error = %v for %q", valid, err, b)
		}
		if err != nil {
			return
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var want any
		if err := d.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(plain(got), want) {
			t.Fatalf("parseJSON(%q) = %#v, encoding/json reads %#v", b, plain(got), want)
		}
	})
}
