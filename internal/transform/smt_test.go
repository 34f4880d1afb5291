package transform

import (
	"bytes"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// smt is a connector config with one transform t of type typ and keys kv.
func smt(typ string, kv ...string) map[string]string {
	p := map[string]string{"transforms": "t", "transforms.t.type": typ}
	for i := 0; i+1 < len(kv); i += 2 {
		p["transforms.t."+kv[i]] = kv[i+1]
	}
	return p
}

var testTime = time.Date(2024, 1, 31, 12, 34, 56, 789e6, time.UTC)

func testEvent(body string) flow.Event {
	e := flow.Event{Topic: "orders", Partition: 3, Offset: 42, Timestamp: testTime, Headers: hdr("h", "1")}
	if body != "<nil>" {
		e.Body = []byte(body)
	}
	return e
}

// envelope wraps a schema and payload the way JsonConverter writes them.
func envelope(schema, payload string) string {
	return `{"schema":` + schema + `,"payload":` + payload + `}`
}

const personSchema = `{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":"name"},{"type":"struct","fields":[{"type":"string","optional":false,"field":"city"},{"type":"int64","optional":false,"field":"since"}],"optional":true,"name":"Address","field":"address"}],"optional":false,"name":"com.example.Person","version":2}`
const personPayload = `{"id":7,"name":"Ann","address":{"city":"Oslo","since":1706704496789}}`

var person = envelope(personSchema, personPayload)

func TestSMTs(t *testing.T) {
	tests := []struct {
		name    string
		props   map[string]string
		in      flow.Event
		body    string // want body; "<nil>" for none; "" when golden or unchanged
		golden  bool   // want body in testdata/golden/<name>.json
		key     string // want key ("" = unchanged)
		topic   string // want topic ("" = unchanged)
		headers map[string]string
		drop    bool
		err     string // want an error containing this
	}{
		// InsertField
		{name: "InsertField schemaless", props: smt("org.apache.kafka.connect.transforms.InsertField$Value", "topic.field", "topic", "partition.field", "part", "offset.field", "off", "timestamp.field", "ts", "static.field", "src", "static.value", "web"),
			in: testEvent(`{"a":1}`), body: `{"a":1,"topic":"orders","part":3,"off":42,"ts":1706704496789,"src":"web"}`},
		{name: "InsertField envelope", props: smt("InsertField$Value", "topic.field", "topic!", "partition.field", "part", "timestamp.field", "ts", "static.field", "src", "static.value", "web"),
			in: testEvent(person), golden: true},
		{name: "InsertField key", props: smt("InsertField$Key", "static.field", "k", "static.value", "v"),
			in: func() flow.Event { e := testEvent("x"); e.Key = []byte(`{"id":1}`); return e }(), key: `{"id":1,"k":"v"}`, body: "x"},
		{name: "InsertField string value", props: smt("InsertField$Value", "topic.field", "topic"),
			in: testEvent("plain line"), err: "only map values are supported for field insertion in absence of schema, found: string"},
		{name: "InsertField primitive envelope", props: smt("InsertField$Value", "topic.field", "topic"),
			in: testEvent(envelope(`{"type":"string","optional":false}`, `"x"`)), err: "only struct values are supported for field insertion, found: string"},
		{name: "InsertField replaces a field", props: smt("InsertField$Value", "topic.field", "name"),
			in: testEvent(person), body: envelope(strings.Replace(personSchema, `{"type":"string","optional":true,"field":"name"}`, `{"type":"string","optional":true,"field":"name"}`, 1), `{"id":7,"name":"orders","address":{"city":"Oslo","since":1706704496789}}`)},
		{name: "InsertField no partition", props: smt("InsertField$Value", "partition.field", "p", "timestamp.field", "ts"),
			in: flow.Event{Body: []byte(`{}`)}, body: `{"p":null,"ts":null}`},
		{name: "InsertField tombstone", props: smt("InsertField$Value", "topic.field", "topic"), in: testEvent("<nil>"), body: "<nil>"},
		{name: "InsertField offset without Kafka", props: smt("InsertField$Value", "offset.field", "o"),
			in: func() flow.Event { e := testEvent(`{}`); e.Offset = -1; return e }(), err: "offset.field"},

		// ReplaceField
		{name: "ReplaceField include rename", props: smt("ReplaceField$Value", "include", "a,b", "renames", "a:x"),
			in: testEvent(`{"a":1,"b":2,"c":3}`), body: `{"x":1,"b":2}`},
		{name: "ReplaceField exclude wins", props: smt("ReplaceField$Value", "exclude", "b", "include", "a,b"),
			in: testEvent(`{"a":1,"b":2,"c":3}`), body: `{"a":1}`},
		{name: "ReplaceField old names", props: smt("ReplaceField$Value", "blacklist", "c", "whitelist", "a,c"),
			in: testEvent(`{"a":1,"b":2,"c":3}`), body: `{"a":1}`},
		{name: "ReplaceField envelope", props: smt("ReplaceField$Value", "exclude", "address", "renames", "id:person_id"),
			in: testEvent(person), golden: true},

		// MaskField
		{name: "MaskField schemaless", props: smt("MaskField$Value", "fields", "s,i,f,b,a,m,n"),
			in: testEvent(`{"s":"x","i":5,"f":1.5,"b":true,"a":[1],"m":{"k":1},"n":null,"keep":"y"}`), body: `{"s":"","i":0,"f":0.0,"b":false,"a":[],"m":{},"n":null,"keep":"y"}`},
		{name: "MaskField replacement", props: smt("MaskField$Value", "fields", "s,i,f", "replacement", "9"),
			in: testEvent(`{"s":"secret","i":5,"f":2.5}`), body: `{"s":"9","i":9,"f":9.0}`},
		{name: "MaskField struct", props: smt("MaskField$Value", "fields", "address"), in: testEvent(person), err: "cannot mask a value of type struct"},
		{name: "MaskField replacement boolean", props: smt("MaskField$Value", "fields", "b", "replacement", "x"),
			in: testEvent(`{"b":true}`), err: "cannot mask a value of type boolean with a custom replacement"},
		{name: "MaskField envelope", props: smt("MaskField$Value", "fields", "id,name"), in: testEvent(person), golden: true},

		// ValueToKey
		{name: "ValueToKey schemaless", props: smt("ValueToKey", "fields", "id"), in: testEvent(`{"id":7,"n":"x"}`), key: `{"id":7}`},
		{name: "ValueToKey envelope", props: smt("org.apache.kafka.connect.transforms.ValueToKey", "fields", "id,name"), in: testEvent(person), key: envelope(`{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":"name"}],"optional":false}`, `{"id":7,"name":"Ann"}`)},
		{name: "ValueToKey missing field", props: smt("ValueToKey", "fields", "nope"), in: testEvent(person), err: "field does not exist: nope"},

		// ExtractField
		{name: "ExtractField struct", props: smt("ExtractField$Value", "field", "a"), in: testEvent(`{"a":{"b":1}}`), body: `{"b":1}`},
		{name: "ExtractField string", props: smt("ExtractField$Value", "field", "msg"), in: testEvent(`{"msg":"hello"}`), body: `hello`},
		{name: "ExtractField null", props: smt("ExtractField$Value", "field", "x"), in: testEvent(`{"a":1}`), body: `<nil>`},
		{name: "ExtractField envelope", props: smt("ExtractField$Value", "field", "address"), in: testEvent(person),
			body: envelope(`{"type":"struct","fields":[{"type":"string","optional":false,"field":"city"},{"type":"int64","optional":false,"field":"since"}],"optional":true,"name":"Address"}`, `{"city":"Oslo","since":1706704496789}`)},
		{name: "ExtractField V2 path", props: smt("ExtractField$Value", "field", "address.city", "field.syntax.version", "V2"), in: testEvent(person),
			body: envelope(`{"type":"string","optional":false}`, `"Oslo"`)},
		{name: "ExtractField V2 backticks", props: smt("ExtractField$Value", "field", "`a.b`.c", "field.syntax.version", "V2"), in: testEvent(`{"a.b":{"c":"x"},"a":{"b":{"c":"wrong"}}}`), body: `x`},
		{name: "ExtractField V2 null parent", props: smt("ExtractField$Value", "field", "a.b", "field.syntax.version", "V2"), in: testEvent(`{"a":null}`), body: `<nil>`},
		{name: "ExtractField V2 unknown", props: smt("ExtractField$Value", "field", "address.zip", "field.syntax.version", "V2"), in: testEvent(person), err: "unknown field: address.zip"},
		{name: "ExtractField V1 dotted name", props: smt("ExtractField$Value", "field", "a.b"), in: testEvent(`{"a.b":1,"a":{"b":2}}`), body: `1`},
		{name: "ExtractField unknown", props: smt("ExtractField$Value", "field", "nope"), in: testEvent(person), err: "unknown field: nope"},
		{name: "ExtractField key", props: smt("ExtractField$Key", "field", "id"),
			in: func() flow.Event { e := testEvent("v"); e.Key = []byte(`{"id":12}`); return e }(), key: `12`},

		// HoistField
		{name: "HoistField line", props: smt("HoistField$Value", "field", "line"), in: testEvent(`a "quoted" line`), body: `{"line":"a \"quoted\" line"}`},
		{name: "HoistField envelope", props: smt("HoistField$Value", "field", "person"), in: testEvent(person), golden: true},
		{name: "HoistField null", props: smt("HoistField$Value", "field", "v"), in: testEvent("<nil>"), body: `{"v":null}`},

		// Cast
		{name: "Cast fields", props: smt("Cast$Value", "spec", "i:string,s:int32,b:int8,f:int16,big:int8,t:boolean,x:float32"),
			in: testEvent(`{"i":42,"s":"17","b":true,"f":-3.9,"big":300,"t":"TRUE","x":"1e10","o":1}`), body: `{"i":"42","s":17,"b":1,"f":-3,"big":44,"t":true,"x":1.0E10,"o":1}`},
		{name: "Cast like Java", props: smt("Cast$Value", "spec", "half:boolean,m:string,a:string,gone:int8"),
			in: testEvent(`{"half":0.5,"m":{"k":[1,"x"]},"a":[true]}`), body: `{"half":false,"m":"{\"k\":[1,\"x\"]}","a":"[true]","gone":null}`},
		{name: "Cast whole value", props: smt("Cast$Value", "spec", "int64"), in: testEvent(`42.9`), body: `42`},
		{name: "Cast float to string", props: smt("Cast$Value", "spec", "string"), in: testEvent(`0.5`), body: `0.5`},
		{name: "Cast bad string", props: smt("Cast$Value", "spec", "n:int32"), in: testEvent(`{"n":"x"}`), err: `value "x" is not a valid int32`},
		{name: "Cast envelope", props: smt("Cast$Value", "spec", "id:string,name:boolean"), in: testEvent(person), golden: true},

		// Flatten
		{name: "Flatten schemaless", props: smt("Flatten$Value"), in: testEvent(`{"a":{"b":{"c":1},"d":[1,{"e":2}]},"f":null}`), body: `{"a.b.c":1,"a.d":[1,{"e":2}],"f":null}`},
		{name: "Flatten delimiter", props: smt("Flatten$Value", "delimiter", "_"), in: testEvent(`{"a":{"b":1}}`), body: `{"a_b":1}`},
		{name: "Flatten envelope", props: smt("Flatten$Value"), in: testEvent(person), golden: true},

		// TimestampConverter
		{name: "TimestampConverter unix to string", props: smt("TimestampConverter$Value", "field", "ts", "target.type", "string", "format", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"),
			in: testEvent(`{"ts":1706704496789}`), body: `{"ts":"2024-01-31T12:34:56.789Z"}`},
		{name: "TimestampConverter string to unix seconds", props: smt("TimestampConverter$Value", "field", "ts", "target.type", "unix", "format", "yyyy-MM-dd HH:mm:ss", "unix.precision", "seconds"),
			in: testEvent(`{"ts":"2024-01-31 12:34:56"}`), body: `{"ts":1706704496}`},
		{name: "TimestampConverter whole value", props: smt("TimestampConverter$Value", "target.type", "string", "format", "yyyyMMdd"),
			in: testEvent(`1706704496789`), body: `20240131`},
		{name: "TimestampConverter envelope", props: smt("TimestampConverter$Value", "field", "since", "target.type", "Timestamp"),
			in:   testEvent(envelope(`{"type":"struct","fields":[{"type":"int64","optional":false,"field":"since"}],"optional":false}`, `{"since":1706704496789}`)),
			body: envelope(`{"type":"struct","fields":[{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"since"}],"optional":false}`, `{"since":1706704496789}`)},
		{name: "TimestampConverter to Date", props: smt("TimestampConverter$Value", "field", "since", "target.type", "Date"),
			in:   testEvent(envelope(`{"type":"struct","fields":[{"type":"int64","optional":true,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"since"}],"optional":false}`, `{"since":1706704496789}`)),
			body: envelope(`{"type":"struct","fields":[{"type":"int32","optional":true,"name":"org.apache.kafka.connect.data.Date","version":1,"field":"since"}],"optional":false}`, `{"since":19753}`)},
		{name: "TimestampConverter micros to Time", props: smt("TimestampConverter$Value", "field", "t", "target.type", "Time", "unix.precision", "microseconds"),
			in: testEvent(`{"t":1706704496789123}`), body: `{"t":45296789}`},
		{name: "TimestampConverter to nanos", props: smt("TimestampConverter$Value", "target.type", "unix", "unix.precision", "nanoseconds"),
			in:   testEvent(envelope(`{"type":"int64","optional":true,"name":"org.apache.kafka.connect.data.Timestamp","version":1}`, `1706704496789`)),
			body: envelope(`{"type":"int64","optional":true}`, `1706704496789000000`)},
		{name: "Cast whole envelope", props: smt("Cast$Value", "spec", "string"),
			in: testEvent(envelope(`{"type":"int32","optional":false,"default":5}`, `42`)), body: envelope(`{"type":"string","optional":false,"default":"5"}`, `"42"`)},
		{name: "null fields get their schema default", props: smt("ReplaceField$Value", "exclude", "x"),
			in:   testEvent(envelope(`{"type":"struct","fields":[{"type":"string","optional":true,"default":"d","field":"a"},{"type":"int32","optional":true,"field":"b"},{"type":"int32","optional":false,"default":3,"field":"c"}],"optional":false}`, `{"a":null,"b":null}`)),
			body: envelope(`{"type":"struct","fields":[{"type":"string","optional":true,"default":"d","field":"a"},{"type":"int32","optional":true,"field":"b"},{"type":"int32","optional":false,"default":3,"field":"c"}],"optional":false}`, `{"a":"d","b":null,"c":3}`)},
		{name: "HeaderFrom key", props: smt("HeaderFrom$Key", "fields", "id", "headers", "k", "operation", "copy"),
			in: func() flow.Event { e := testEvent("v"); e.Key = []byte(`{"id":9}`); return e }(), headers: hdr("h", "1", "k", "9")},
		{name: "TimestampConverter bad type", props: smt("TimestampConverter$Value", "field", "ts", "target.type", "unix"),
			in: testEvent(`{"ts":true}`), err: "cannot read a boolean value as a timestamp"},

		// Routers and Filter
		{name: "TimestampRouter", props: smt("TimestampRouter"), in: testEvent("x"), topic: "orders-20240131"},
		{name: "TimestampRouter format", props: smt("TimestampRouter", "topic.format", "${timestamp}/${topic}", "timestamp.format", "yyyy-MM"), in: testEvent("x"), topic: "2024-01/orders"},
		{name: "TimestampRouter no timestamp", props: smt("TimestampRouter"), in: flow.Event{Topic: "t", Body: []byte("x")}, err: "timestamp missing"},
		{name: "RegexRouter", props: smt("RegexRouter", "regex", "(ord)(.*)", "replacement", "$2-$1"), in: testEvent("x"), topic: "ers-ord"},
		{name: "RegexRouter replaceFirst searches again", props: smt("RegexRouter", "regex", "o|orders", "replacement", "X"), in: testEvent("x"), topic: "Xrders"},
		{name: "RegexRouter whole name only", props: smt("RegexRouter", "regex", "ord", "replacement", "x"), in: testEvent("x")},
		{name: "Filter", props: smt("org.apache.kafka.connect.transforms.Filter"), in: testEvent("x"), drop: true},

		// Headers
		{name: "HeaderFrom copy", props: smt("HeaderFrom$Value", "fields", "id,address", "headers", "person-id,addr", "operation", "copy"),
			in: testEvent(person), headers: hdr("h", "1", "person-id", "7", "addr", `{"city":"Oslo","since":1706704496789}`)},
		{name: "HeaderFrom move", props: smt("HeaderFrom$Value", "fields", "a", "headers", "ha", "operation", "move"),
			in: testEvent(`{"a":"x","b":2}`), body: `{"b":2}`, headers: hdr("h", "1", "ha", "x")},
		{name: "HeaderFrom move envelope", props: smt("HeaderFrom$Value", "fields", "address", "headers", "addr", "operation", "move"),
			in: testEvent(person), golden: true, headers: hdr("h", "1", "addr", `{"city":"Oslo","since":1706704496789}`)},
		{name: "InsertHeader", props: smt("InsertHeader", "header", "source", "value.literal", "web"), in: testEvent("x"), headers: hdr("h", "1", "source", "web")},
		{name: "DropHeaders", props: smt("DropHeaders", "headers", "h,none"), in: testEvent("x"), headers: hdr()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chain, warnings, err := FromConnect(tc.props)
			if err != nil {
				t.Fatalf("FromConnect: %v", err)
			}
			for _, w := range warnings {
				t.Errorf("unexpected warning %s: %s", w.Key, w.Message)
			}
			inHeaders := maps.Clone(tc.in.Headers)
			out, keep, err := chain.Apply(tc.in)
			if !maps.Equal(tc.in.Headers, inHeaders) {
				t.Errorf("input headers changed in place: %v", tc.in.Headers)
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if keep == tc.drop {
				t.Fatalf("keep = %v, want %v", keep, !tc.drop)
			}
			if tc.drop {
				return
			}
			switch {
			case tc.golden:
				checkGolden(t, strings.ReplaceAll(tc.name, " ", "_")+".json", out.Body)
			case tc.body == "<nil>":
				if out.Body != nil {
					t.Errorf("body = %q, want none (a tombstone)", out.Body)
				}
			case tc.body != "":
				if string(out.Body) != tc.body {
					t.Errorf("body\n got %s\nwant %s", out.Body, tc.body)
				}
			default:
				if !bytes.Equal(out.Body, tc.in.Body) {
					t.Errorf("body changed to %s", out.Body)
				}
			}
			wantKey, wantTopic, wantHeaders := string(tc.in.Key), tc.in.Topic, tc.in.Headers
			if tc.key != "" {
				wantKey = tc.key
			}
			if tc.topic != "" {
				wantTopic = tc.topic
			}
			if tc.headers != nil {
				wantHeaders = tc.headers
			}
			if string(out.Key) != wantKey {
				t.Errorf("key\n got %s\nwant %s", out.Key, wantKey)
			}
			if out.Topic != wantTopic {
				t.Errorf("topic = %q, want %q", out.Topic, wantTopic)
			}
			if !maps.Equal(out.Headers, wantHeaders) {
				t.Errorf("headers = %v, want %v", out.Headers, wantHeaders)
			}
		})
	}
}

// checkGolden compares got with testdata/golden/name, rewriting it with
// -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if string(got)+"\n" != string(want) {
		t.Errorf("%s differs\n got %s\nwant %s", path, got, want)
	}
}
