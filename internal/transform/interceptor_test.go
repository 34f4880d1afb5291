package transform

import (
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

func TestInterceptors(t *testing.T) {
	tests := []struct {
		name     string
		typ      string
		keys     map[string]string
		in       flow.Event
		want     map[string]string // headers after; nil means unchanged
		wantBody string            // "" means unchanged
		drop     bool
	}{
		{name: "static default", typ: "static", in: flow.Event{Headers: hdr("a", "1")}, want: hdr("a", "1", "key", "value")},
		{name: "static preserves by default", typ: "static", keys: hdr("key", "a", "value", "2"), in: flow.Event{Headers: hdr("a", "1")}, want: hdr("a", "1")},
		{name: "static overwrite", typ: "org.apache.flume.interceptor.StaticInterceptor$Builder", keys: hdr("key", "a", "value", "2", "preserveExisting", "false"), in: flow.Event{Headers: hdr("a", "1")}, want: hdr("a", "2")},
		{name: "remove_header withName", typ: "remove_header", keys: hdr("withName", "a"), in: flow.Event{Headers: hdr("a", "1", "b", "2")}, want: hdr("b", "2")},
		{name: "remove_header fromList", typ: "remove_header", keys: hdr("fromList", "a , b,c"), in: flow.Event{Headers: hdr("a", "1", "b", "2", "c", "3", "d", "4")}, want: hdr("d", "4")},
		{name: "remove_header separator", typ: "remove_header", keys: hdr("fromList", "a:b", "fromListSeparator", ":"), in: flow.Event{Headers: hdr("a", "1", "b", "2", "c", "3")}, want: hdr("c", "3")},
		{name: "remove_header matching whole name", typ: "remove_header", keys: hdr("matching", "x-.*"), in: flow.Event{Headers: hdr("x-a", "1", "ax-b", "2", "x-", "3")}, want: hdr("ax-b", "2")},
		{name: "regex_filter include", typ: "regex_filter", keys: hdr("regex", "ERR"), in: flow.Event{Body: []byte("an ERROR here")}},
		{name: "regex_filter include drops", typ: "regex_filter", keys: hdr("regex", "^ERR"), in: flow.Event{Body: []byte("an ERROR here")}, drop: true},
		{name: "regex_filter exclude", typ: "regex_filter", keys: hdr("regex", "DEBUG", "excludeEvents", "true"), in: flow.Event{Body: []byte("DEBUG x")}, drop: true},
		{name: "regex_filter default keeps all", typ: "regex_filter", in: flow.Event{Body: []byte("")}},
		{name: "regex_extractor", typ: "regex_extractor",
			keys: hdr("regex", `(\d):(\d):(\d)`, "serializers", "s1 s2", "serializers.s1.name", "one", "serializers.s2.name", "two"),
			in:   flow.Event{Body: []byte("x 1:2:3 y")}, want: hdr("one", "1", "two", "2")},
		{name: "regex_extractor optional group", typ: "regex_extractor",
			keys: hdr("regex", `(a)?(b)`, "serializers", "s1 s2", "serializers.s1.name", "one", "serializers.s2.name", "two"),
			in:   flow.Event{Body: []byte("b")}, want: hdr("two", "b")},
		{name: "regex_extractor no match", typ: "regex_extractor",
			keys: hdr("regex", `(\d+)`, "serializers", "s1", "serializers.s1.name", "n"),
			in:   flow.Event{Body: []byte("none")}},
		{name: "search_replace", typ: "search_replace", keys: hdr("searchPattern", `(\w+)@(\w+)`, "replaceString", `$2 at $1 \$`),
			in: flow.Event{Body: []byte("mail a@b and c@d")}, wantBody: "mail b at a $ and d at c $"},
		{name: "search_replace delete", typ: "search_replace", keys: hdr("searchPattern", `^\d+\s`),
			in: flow.Event{Body: []byte("123 rest")}, wantBody: "rest"},
		{name: "search_replace group 12 of 1", typ: "search_replace", keys: hdr("searchPattern", `(a)`, "replaceString", `$12`),
			in: flow.Event{Body: []byte("xa")}, wantBody: "xa2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := build(t, tc.typ, tc.keys)
			before := maps.Clone(tc.in.Headers)
			out, keep := tr.Apply(tc.in)
			if keep == tc.drop {
				t.Fatalf("keep = %v, want %v", keep, !tc.drop)
			}
			if !maps.Equal(tc.in.Headers, before) {
				t.Errorf("input header map changed in place: %v, was %v", tc.in.Headers, before)
			}
			want := tc.want
			if want == nil {
				want = before
			}
			if !keep {
				return
			}
			if !maps.Equal(out.Headers, want) && !(len(out.Headers) == 0 && len(want) == 0) {
				t.Errorf("headers = %v, want %v", out.Headers, want)
			}
			wantBody := tc.wantBody
			if wantBody == "" {
				wantBody = string(tc.in.Body)
			}
			if string(out.Body) != wantBody {
				t.Errorf("body = %q, want %q", out.Body, wantBody)
			}
		})
	}
}

func TestTimestampInterceptor(t *testing.T) {
	tr := build(t, "timestamp", nil)
	before := time.Now().UnixMilli()
	out, _ := tr.Apply(flow.Event{Headers: hdr("timestamp", "5")})
	got, err := strconv.ParseInt(out.Header("timestamp"), 10, 64)
	if err != nil || got < before || got > time.Now().UnixMilli() {
		t.Fatalf("timestamp header %q, want now in ms (%d..)", out.Header("timestamp"), before)
	}
	tr = build(t, "org.apache.flume.interceptor.TimestampInterceptor$Builder", hdr("headerName", "ts", "preserveExisting", "true"))
	out, _ = tr.Apply(flow.Event{Headers: hdr("ts", "5")})
	if out.Header("ts") != "5" {
		t.Fatalf("preserveExisting: ts = %q, want 5", out.Header("ts"))
	}
}

func TestHostInterceptor(t *testing.T) {
	out, _ := build(t, "host", nil).Apply(flow.Event{})
	if out.Header("host") == "" {
		t.Fatal("host header not set")
	}
	out, _ = build(t, "host", hdr("useIP", "false", "hostHeader", "h")).Apply(flow.Event{})
	if out.Header("h") == "" {
		t.Fatal("h header not set")
	}
}

func TestUUIDInterceptor(t *testing.T) {
	tr := build(t, "org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder", hdr("prefix", "p-"))
	seen := map[string]bool{}
	for range 100 {
		out, _ := tr.Apply(flow.Event{})
		id := out.Header("id")
		if len(id) != 38 || id[:2] != "p-" || id[16] != '4' || seen[id] {
			t.Fatalf("id %q: want p- and a fresh version 4 UUID", id)
		}
		seen[id] = true
	}
	out, _ := tr.Apply(flow.Event{Headers: hdr("id", "x")})
	if out.Header("id") != "x" {
		t.Fatalf("preserveExisting defaults to true; id = %q", out.Header("id"))
	}
}

func TestRegexExtractorMillis(t *testing.T) {
	tr := build(t, "regex_extractor", hdr("regex", `^(\d\d\d\d-\d\d-\d\d \d\d:\d\d)`, "serializers", "s1",
		"serializers.s1.name", "timestamp", "serializers.s1.type", millisSerializer, "serializers.s1.pattern", "yyyy-MM-dd HH:mm"))
	out, _, err := Apply(tr, flow.Event{Body: []byte("2012-10-18 18:47 text")})
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2012, 10, 18, 18, 47, 0, 0, time.Local).UnixMilli()
	if out.Header("timestamp") != strconv.FormatInt(want, 10) {
		t.Fatalf("timestamp = %q, want %d", out.Header("timestamp"), want)
	}
	tr = build(t, "regex_extractor", hdr("regex", `^(\S+)`, "serializers", "s1",
		"serializers.s1.name", "timestamp", "serializers.s1.type", millisSerializer, "serializers.s1.pattern", "yyyy-MM-dd"))
	if _, _, err := Apply(tr, flow.Event{Body: []byte("nodate")}); err == nil {
		t.Fatal("a date that does not parse must fail")
	}
	out, keep := tr.Apply(flow.Event{Body: []byte("nodate")})
	if !keep || string(out.Body) != "nodate" || len(out.Headers) != 0 {
		t.Fatalf("Apply after a failure: %v %v, want the event unchanged", out, keep)
	}
}

func TestInterceptorConfigErrors(t *testing.T) {
	tests := []struct {
		name, typ string
		keys      map[string]string
		key       string
	}{
		{"bad regex", "regex_filter", hdr("regex", "(?=x)"), "regex"},
		{"bad replacement group", "search_replace", hdr("searchPattern", "(a)", "replaceString", "$2"), "replaceString"},
		{"no search pattern", "search_replace", nil, "searchPattern"},
		{"charset", "search_replace", hdr("searchPattern", "a", "charset", "UTF-16"), "charset"},
		{"serializer without name", "regex_extractor", hdr("regex", "(a)", "serializers", "s1"), "serializers.s1.name"},
		{"serializer type", "regex_extractor", hdr("regex", "(a)", "serializers", "s1", "serializers.s1.name", "n", "serializers.s1.type", "x"), "serializers.s1.type"},
		{"millis without pattern", "regex_extractor", hdr("regex", "(a)", "serializers", "s1", "serializers.s1.name", "n", "serializers.s1.type", millisSerializer), "serializers.s1.pattern"},
		{"bad date pattern", "regex_extractor", hdr("regex", "(a)", "serializers", "s1", "serializers.s1.name", "n", "serializers.s1.type", millisSerializer, "serializers.s1.pattern", "GGGG"), "serializers.s1.pattern"},
		{"bad boolean", "static", hdr("preserveExisting", "yes"), "preserveExisting"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tryBuild(tc.typ, tc.keys)
			mustKeyErr(t, err, tc.key)
		})
	}
}
