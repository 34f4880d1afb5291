package transform

import (
	"testing"

	"github.com/runnel/runnel/internal/flow"
)

// BenchmarkSMT measures one event through one transform, for the data
// shapes the Connect worker and the agents see.
func BenchmarkSMT(b *testing.B) {
	line := "127.0.0.1 - - [31/Jan/2024:12:34:56 +0000] \"GET /index.html HTTP/1.1\" 200 1043 \"-\" \"curl/8.5.0\""
	benches := []struct {
		name  string
		props map[string]string
		body  string
	}{
		{"InsertHeader", smt("InsertHeader", "header", "via", "value.literal", "runnel"), line},
		{"RegexRouter", smt("RegexRouter", "regex", "(.*)s", "replacement", "$1"), line},
		{"HoistField/line", smt("HoistField$Value", "field", "line"), line},
		{"InsertField/schemaless", smt("InsertField$Value", "topic.field", "topic", "timestamp.field", "ts"), `{"id":7,"name":"Ann","address":{"city":"Oslo","since":1706704496789}}`},
		{"InsertField/envelope", smt("InsertField$Value", "topic.field", "topic", "timestamp.field", "ts"), person},
		{"Flatten/envelope", smt("Flatten$Value"), person},
		{"Cast/envelope", smt("Cast$Value", "spec", "id:string"), person},
		{"search_replace", smt("search_replace", "searchPattern", `\d+\.\d+\.\d+\.\d+`, "replaceString", "x.x.x.x"), line},
		{"regex_filter", smt("regex_filter", "regex", "GET", "excludeEvents", "true"), line},
	}
	for _, bc := range benches {
		b.Run(bc.name, func(b *testing.B) {
			chain, _, err := FromConnect(bc.props)
			if err != nil {
				b.Fatal(err)
			}
			e := flow.Event{Topic: "orders", Timestamp: testTime, Body: []byte(bc.body), Headers: hdr("h", "1")}
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := chain.Apply(e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkChainEnvelope measures a four-SMT chain (InsertField,
// ReplaceField, Cast, Flatten) on a JsonConverter envelope: the steps share
// one decoding.
func BenchmarkChainEnvelope(b *testing.B) {
	chain, _, err := FromConnect(map[string]string{
		"transforms":               "a,b,c,d",
		"transforms.a.type":        "InsertField$Value",
		"transforms.a.topic.field": "topic",
		"transforms.b.type":        "ReplaceField$Value",
		"transforms.b.renames":     "name:who",
		"transforms.c.type":        "Cast$Value",
		"transforms.c.spec":        "id:string",
		"transforms.d.type":        "Flatten$Value",
	})
	if err != nil {
		b.Fatal(err)
	}
	e := flow.Event{Topic: "orders", Body: []byte(person)}
	b.SetBytes(int64(len(person)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := chain.Apply(e); err != nil {
			b.Fatal(err)
		}
	}
}
