package transform

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/runnel/runnel/internal/flow"
)

func TestFromConnectPredicates(t *testing.T) {
	props := map[string]string{
		"transforms":                      "dropTmp, route ,mark",
		"transforms.dropTmp.type":         "org.apache.kafka.connect.transforms.Filter",
		"transforms.dropTmp.predicate":    "isTmp",
		"transforms.route.type":           "RegexRouter",
		"transforms.route.regex":          "(.*)",
		"transforms.route.replacement":    "out-$1",
		"transforms.route.predicate":      "hasRoute",
		"transforms.route.negate":         "true",
		"transforms.mark.type":            "InsertHeader",
		"transforms.mark.header":          "tomb",
		"transforms.mark.value.literal":   "yes",
		"transforms.mark.predicate":       "tomb",
		"predicates":                      "isTmp,hasRoute,tomb",
		"predicates.isTmp.type":           "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
		"predicates.isTmp.pattern":        "tmp-.*",
		"predicates.hasRoute.type":        "HasHeaderKey",
		"predicates.hasRoute.name":        "route",
		"predicates.tomb.type":            "RecordIsTombstone",
		"transforms.unlisted.type":        "Filter",
		"predicates.unused.type":          "RecordIsTombstone",
		"transforms.route.not.a.real.key": "x",
	}
	chain, warnings, err := FromConnect(props)
	if err != nil {
		t.Fatal(err)
	}
	var wk []string
	for _, w := range warnings {
		wk = append(wk, w.Key)
	}
	if got := strings.Join(wk, " "); got != "transforms.route.not.a.real.key transforms.unlisted.type predicates.unused.type" {
		t.Errorf("warnings for %s", got)
	}
	if len(chain) != 3 || chain[0].Name != "dropTmp" || chain[1].Name != "route" || chain[2].Name != "mark" {
		t.Fatalf("chain %+v", chain)
	}
	tests := []struct {
		name  string
		in    flow.Event
		keep  bool
		topic string
		tomb  bool
	}{
		{"tmp topic dropped", flow.Event{Topic: "tmp-1", Body: []byte("x")}, false, "", false},
		{"routed without header", flow.Event{Topic: "a", Body: []byte("x")}, true, "out-a", false},
		{"not routed with header (negate)", flow.Event{Topic: "a", Body: []byte("x"), Headers: hdr("route", "")}, true, "a", false},
		{"tombstone marked", flow.Event{Topic: "a"}, true, "out-a", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, keep, err := chain.Apply(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if keep != tc.keep {
				t.Fatalf("keep = %v", keep)
			}
			if !keep {
				return
			}
			if out.Topic != tc.topic {
				t.Errorf("topic %q, want %q", out.Topic, tc.topic)
			}
			if _, ok := out.Headers["tomb"]; ok != tc.tomb {
				t.Errorf("tomb header %v, want %v", ok, tc.tomb)
			}
		})
	}
}

func TestChainError(t *testing.T) {
	chain, _, err := FromConnect(smt("InsertField$Value", "static.field", "f", "static.value", "v"))
	if err != nil {
		t.Fatal(err)
	}
	_, keep, err := chain.Apply(flow.Event{Body: []byte("text")})
	var se *StepError
	if !errors.As(err, &se) || se.Name != "t" || se.Type != "InsertField$Value" || keep {
		t.Fatalf("err = %v keep = %v, want a *StepError for step t", err, keep)
	}
	// As a Flume interceptor the same transform passes the event on.
	out, keep := chain[0].Transform.Apply(flow.Event{Body: []byte("text")})
	if !keep || string(out.Body) != "text" {
		t.Fatalf("Apply = %q %v, want the event unchanged", out.Body, keep)
	}
}

func TestFromConnectErrors(t *testing.T) {
	tests := []struct {
		name  string
		props map[string]string
		key   string
	}{
		{"no type", map[string]string{"transforms": "a"}, "transforms.a.type"},
		{"unknown type", map[string]string{"transforms": "a", "transforms.a.type": "com.example.Nope"}, "transforms.a.type"},
		{"listed twice", map[string]string{"transforms": "a,a", "transforms.a.type": "Filter"}, "transforms"},
		{"missing required key", smt("ExtractField$Value"), "transforms.t.field"},
		{"bad regex", smt("RegexRouter", "regex", "(?<=x)", "replacement", "y"), "transforms.t.regex"},
		{"bad cast type", smt("Cast$Value", "spec", "a:date"), "transforms.t.spec"},
		{"bad target type", smt("TimestampConverter$Value", "target.type", "epoch"), "transforms.t.target.type"},
		{"string target without format", smt("TimestampConverter$Value", "target.type", "string"), "transforms.t.format"},
		{"nothing to insert", smt("InsertField$Value"), "transforms.t.topic.field"},
		{"static without value", smt("InsertField$Value", "static.field", "s"), "transforms.t.static.value"},
		{"bad rename", smt("ReplaceField$Value", "renames", "a"), "transforms.t.renames"},
		{"header count", smt("HeaderFrom$Value", "fields", "a,b", "headers", "h", "operation", "copy"), "transforms.t.headers"},
		{"header operation", smt("HeaderFrom$Value", "fields", "a", "headers", "h", "operation", "swap"), "transforms.t.operation"},
		{"unknown predicate", map[string]string{"transforms": "a", "transforms.a.type": "Filter", "transforms.a.predicate": "p"}, "transforms.a.predicate"},
		{"negate without predicate", map[string]string{"transforms": "a", "transforms.a.type": "Filter", "transforms.a.negate": "true"}, "transforms.a.negate"},
		{"negate not boolean", map[string]string{"transforms": "a", "transforms.a.type": "Filter", "transforms.a.negate": "yes"}, "transforms.a.negate"},
		{"predicate without type", map[string]string{"predicates": "p"}, "predicates.p.type"},
		{"predicate unknown type", map[string]string{"predicates": "p", "predicates.p.type": "Nope"}, "predicates.p.type"},
		{"predicate missing key", map[string]string{"predicates": "p", "predicates.p.type": "TopicNameMatches"}, "predicates.p.pattern"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := FromConnect(tc.props)
			mustKeyErr(t, err, tc.key)
		})
	}
}

func TestJavaLayout(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{"yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2006-01-02T15:04:05.000Z07:00"},
		{"yyyyMMdd", "20060102"},
		{"dd/MMM/yyyy:HH:mm:ss Z", "02/Jan/2006:15:04:05 -0700"},
		{"EEE, d MMMM yy h:mm a", "Mon, 2 January 06 3:04 PM"},
		{"''yy''", "'06'"},
	}
	for _, tc := range tests {
		got, err := javaLayout("format", tc.pattern)
		if err != nil || got != tc.want {
			t.Errorf("javaLayout(%q) = %q, %v; want %q", tc.pattern, got, err, tc.want)
		}
	}
	for _, bad := range []string{"G", "ww", "SSS", "'unterminated", "'1'"} {
		if _, err := javaLayout("format", bad); err == nil {
			t.Errorf("javaLayout(%q) should fail", bad)
		}
	}
}

func TestJavaFloat(t *testing.T) {
	tests := []struct {
		f    float64
		bits int
		want string
	}{
		{1, 64, "1.0"}, {0, 64, "0.0"}, {-3.25, 64, "-3.25"}, {1e7, 64, "1.0E7"}, {1.5e-4, 64, "1.5E-4"},
		{0.001, 64, "0.001"}, {123456789, 64, "1.23456789E8"}, {0.1, 32, "0.1"},
	}
	for _, tc := range tests {
		if got := javaFloat(tc.f, tc.bits); got != tc.want {
			t.Errorf("javaFloat(%v) = %s, want %s", tc.f, got, tc.want)
		}
	}
}

// TestKafkaDocsExample runs the transforms example of Kafka's Connect
// documentation (a file source line hoisted into a struct, then a static
// field inserted) with and without JsonConverter schemas.
func TestKafkaDocsExample(t *testing.T) {
	props := map[string]string{
		"transforms":                           "MakeMap, InsertSource",
		"transforms.MakeMap.type":              "org.apache.kafka.connect.transforms.HoistField$Value",
		"transforms.MakeMap.field":             "line",
		"transforms.InsertSource.type":         "org.apache.kafka.connect.transforms.InsertField$Value",
		"transforms.InsertSource.static.field": "data_source",
		"transforms.InsertSource.static.value": "test-file-source",
	}
	chain, warnings, err := FromConnect(props)
	if err != nil || len(warnings) > 0 {
		t.Fatal(err, warnings)
	}
	for _, tc := range []struct{ in, want string }{
		{"foo", `{"line":"foo","data_source":"test-file-source"}`},
		{string(StringEnvelope([]byte("foo"))), `{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"line"},{"type":"string","optional":true,"field":"data_source"}],"optional":false},"payload":{"line":"foo","data_source":"test-file-source"}}`},
	} {
		out, keep, err := chain.Apply(flow.Event{Topic: "connect-test", Body: []byte(tc.in)})
		if err != nil || !keep || string(out.Body) != tc.want {
			t.Errorf("%s → %s (%v, %v), want %s", tc.in, out.Body, keep, err, tc.want)
		}
	}
}

// TestFailureLogIsRateLimited: a transform failing on every event logs the
// first failure, then at most one line per failureLogEvery, and counts all.
func TestFailureLogIsRateLimited(t *testing.T) {
	var buf strings.Builder // one goroutine logs
	reg, _ := flow.Lookup(flow.KindTransform, "InsertField$Value")
	cfg, _, err := reg.Spec.Validate("t", map[string]string{"topic.field": "t"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	cfg.Counters = flow.NewCounters()
	v, err := reg.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := v.(flow.Transform)
	for range 100 {
		if out, keep := tr.Apply(flow.Event{Body: []byte("text")}); !keep || string(out.Body) != "text" {
			t.Fatal("a failing transform must pass the event on unchanged")
		}
	}
	if n := strings.Count(buf.String(), "transform failed"); n != 1 {
		t.Errorf("%d log lines for 100 failures, want 1:\n%s", n, buf.String())
	}
	if got := cfg.Counters.Snapshot()[FailedCounter]; got != 100 {
		t.Errorf("%s = %d, want 100", FailedCounter, got)
	}
}

// TestChainFusion: consecutive record SMTs run on one decoding give what
// running them one by one (decode, transform, encode each) gives.
func TestChainFusion(t *testing.T) {
	chains := map[string]map[string]string{
		"insert, replace, cast, flatten": {
			"transforms":                   "a,b,c,d",
			"transforms.a.type":            "InsertField$Value",
			"transforms.a.topic.field":     "topic",
			"transforms.a.timestamp.field": "ts",
			"transforms.b.type":            "ReplaceField$Value",
			"transforms.b.renames":         "name:who",
			"transforms.c.type":            "Cast$Value",
			"transforms.c.spec":            "id:string",
			"transforms.d.type":            "Flatten$Value",
			"transforms.d.delimiter":       "_",
		},
		"value, key, header, value": {
			"transforms":                 "a,k,h,b",
			"transforms.a.type":          "MaskField$Value",
			"transforms.a.fields":        "name",
			"transforms.k.type":          "InsertField$Key",
			"transforms.k.static.field":  "s",
			"transforms.k.static.value":  "v",
			"transforms.h.type":          "InsertHeader",
			"transforms.h.header":        "x",
			"transforms.h.value.literal": "y",
			"transforms.b.type":          "TimestampConverter$Value",
			"transforms.b.field":         "ts",
			"transforms.b.target.type":   "string",
			"transforms.b.format":        "yyyy-MM-dd",
		},
	}
	inputs := []string{person, `{"id":1,"name":"x","ts":1706704496789,"n":{"a":{"b":2}}}`}
	for name, props := range chains {
		chain, _, err := FromConnect(props)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range inputs {
			e := testEvent(in)
			e.Key = []byte(`{"id":1}`)
			fused, fkeep, ferr := chain.Apply(e)
			one := e
			var oerr error
			for _, s := range chain {
				if one, _, oerr = Apply(s.Transform, one); oerr != nil {
					break
				}
			}
			if (ferr == nil) != (oerr == nil) {
				t.Fatalf("%s on %s: fused error %v, step by step %v", name, in, ferr, oerr)
			}
			if ferr != nil {
				continue
			}
			if !fkeep || string(fused.Body) != string(one.Body) || string(fused.Key) != string(one.Key) || !maps.Equal(fused.Headers, one.Headers) {
				t.Errorf("%s on %s:\nfused %s %s %v\n  one %s %s %v", name, in, fused.Key, fused.Body, fused.Headers, one.Key, one.Body, one.Headers)
			}
		}
	}
}

func TestFieldPath(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a", []string{"a"}},
		{"a.b.c", []string{"a", "b", "c"}},
		{"`a.b`.c", []string{"a.b", "c"}},
		{"a.`b.c`", []string{"a", "b.c"}},
		{"`a`", []string{"a"}},
		{"a.", []string{"a", ""}},
	}
	for _, tc := range tests {
		if got := fieldPath(tc.in); strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("fieldPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestConcurrentApply: one built transform serves several goroutines (a
// netcat source emits from one goroutine per connection); -race checks it.
func TestConcurrentApply(t *testing.T) {
	var chains []Chain
	for _, p := range fuzzChains {
		c, _, err := FromConnect(p)
		if err != nil {
			t.Fatal(err)
		}
		chains = append(chains, c)
	}
	interceptors := []flow.Transform{
		build(t, "timestamp", nil), build(t, "uuid", nil), build(t, "static", nil),
		build(t, "regex_extractor", hdr("regex", `(\d+)`, "serializers", "s", "serializers.s.name", "n")),
		build(t, "remove_header", hdr("matching", "h.*")),
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				e := testEvent(person)
				if (g+i)%2 == 0 {
					e.Body = []byte(fmt.Sprintf(`{"a":%d,"id":"%d","name":"n"}`, i, g))
				}
				for _, c := range chains {
					c.Apply(e)
				}
				for _, tr := range interceptors {
					e, _ = tr.Apply(e)
				}
			}
		})
	}
	wg.Wait()
}
