package connect

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runnel/runnel/internal/flow"
)

func TestParseWorkerConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		raw    map[string]string
		check  func(*WorkerConfig) string
		errKey string
		warn   string
	}{
		{name: "defaults", raw: map[string]string{},
			check: func(c *WorkerConfig) string {
				if c.Listen != "127.0.0.1:8083" || c.OffsetFlush != time.Minute || c.Value.Kind != ConvJSON || !c.Value.SchemasEnable || c.Brokers[0] != "127.0.0.1:9092" {
					return "wrong defaults"
				}
				return ""
			}},
		{name: "tutorial worker", raw: map[string]string{"bootstrap.servers": "localhost:9092, b:9093", "key.converter": "org.apache.kafka.connect.storage.StringConverter",
			"value.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter.schemas.enable": "false", "offset.flush.interval.ms": "10000",
			"listeners": "http://0.0.0.0:18083", "producer.linger.ms": "5", "consumer.max.poll.records": "100", "plugin.path": "/usr/share/java"},
			warn: "plugin.path",
			check: func(c *WorkerConfig) string {
				if len(c.Brokers) != 2 || c.Key.Kind != ConvString || c.Value.SchemasEnable || c.OffsetFlush != 10*time.Second ||
					c.Listen != "0.0.0.0:18083" || c.Producer["linger.ms"] != "5" || c.Consumer["max.poll.records"] != "100" {
					return "keys not read"
				}
				return ""
			}},
		{name: "rest.port", raw: map[string]string{"rest.port": "9999"}, check: func(c *WorkerConfig) string {
			if c.Listen != "127.0.0.1:9999" {
				return c.Listen
			}
			return ""
		}},
		{name: "unknown key warned", raw: map[string]string{"no.such.key": "1"}, warn: "no.such.key"},
		{name: "bad converter", raw: map[string]string{"value.converter": "io.confluent.connect.avro.AvroConverter"}, errKey: "value.converter"},
		{name: "bad schemas.enable", raw: map[string]string{"value.converter.schemas.enable": "yes"}, errKey: "value.converter.schemas.enable"},
		{name: "bad flush", raw: map[string]string{"offset.flush.interval.ms": "soon"}, errKey: "offset.flush.interval.ms"},
		{name: "https listener", raw: map[string]string{"listeners": "https://127.0.0.1:8443"}, errKey: "listeners"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, warns, err := ParseWorkerConfig(tc.raw)
			var ke *flow.KeyError
			if tc.errKey != "" {
				if !errors.As(err, &ke) || ke.Key != tc.errKey {
					t.Fatalf("err = %v, want a KeyError on %s", err, tc.errKey)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				if msg := tc.check(c); msg != "" {
					t.Errorf("%s: %+v", msg, c)
				}
			}
			if tc.warn != "" {
				found := false
				for _, w := range warns {
					found = found || w.Key == tc.warn
				}
				if !found {
					t.Errorf("warnings %v do not name %s", warns, tc.warn)
				}
			}
		})
	}
}

func TestConverter(t *testing.T) {
	jsonS := Converter{Kind: ConvJSON, SchemasEnable: true}
	jsonP := Converter{Kind: ConvJSON}
	str := Converter{Kind: ConvString}
	for _, tc := range []struct {
		name     string
		c        Converter
		in       string
		encoded  string
		decodeIn string
		text     string
		bad      bool
	}{
		{name: "string", c: str, in: "a line", encoded: "a line", decodeIn: "x\"y", text: "x\"y"},
		{name: "json schemas", c: jsonS, in: `say "hi"`, encoded: `{"schema":{"type":"string","optional":false},"payload":"say \"hi\""}`,
			decodeIn: `{"schema":{"type":"string","optional":false},"payload":"say \"hi\""}`, text: `say "hi"`},
		{name: "json schemas struct payload", c: jsonS, in: "x", encoded: `{"schema":{"type":"string","optional":false},"payload":"x"}`,
			decodeIn: `{"schema":{"type":"struct"},"payload":{ "a" : 1 }}`, text: `{"a":1}`},
		{name: "json plain", c: jsonP, in: "x", encoded: `"x"`, decodeIn: `{"a": [1, 2]}`, text: `{"a":[1,2]}`},
		{name: "json plain null", c: jsonP, in: "x", encoded: `"x"`, decodeIn: `null`, text: `null`},
		{name: "json schemas without envelope", c: jsonS, in: "x", encoded: `{"schema":{"type":"string","optional":false},"payload":"x"}`, decodeIn: `{"a":1}`, bad: true},
		{name: "json garbage", c: jsonP, in: "x", encoded: `"x"`, decodeIn: `not json`, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(tc.c.Encode([]byte(tc.in))); got != tc.encoded {
				t.Errorf("Encode = %s, want %s", got, tc.encoded)
			}
			got, err := tc.c.DecodeText([]byte(tc.decodeIn))
			if tc.bad {
				if err == nil {
					t.Errorf("DecodeText(%s) = %s, want an error", tc.decodeIn, got)
				}
				return
			}
			if err != nil || string(got) != tc.text {
				t.Errorf("DecodeText(%s) = %s, %v; want %s", tc.decodeIn, got, err, tc.text)
			}
		})
	}
	if jsonS.Encode(nil) != nil {
		t.Error("a null key must stay null")
	}
}

func TestParseConnector(t *testing.T) {
	w, _, _ := ParseWorkerConfig(map[string]string{})
	for _, tc := range []struct {
		name   string
		props  map[string]string
		errKey string
	}{
		{name: "file sink keeps topics and file", props: map[string]string{"name": "s", "connector.class": "FileStreamSink", "topics": "a,b", "file": "/tmp/x", "tasks.max": "1", "errors.tolerance": "all"}},
		{name: "no name", props: map[string]string{"connector.class": "FileStreamSink"}, errKey: "name"},
		{name: "both topics and regex", props: map[string]string{"name": "s", "connector.class": "FileStreamSink", "topics": "a", "topics.regex": "a.*"}, errKey: "topics.regex"},
		{name: "bad tolerance", props: map[string]string{"name": "s", "connector.class": "FileStreamSink", "topics": "a", "errors.tolerance": "some"}, errKey: "errors.tolerance"},
		{name: "dlq on a source", props: map[string]string{"name": "s", "connector.class": "FileStreamSource", "file": "/x", "topic": "t", "errors.deadletterqueue.topic.name": "d"}, errKey: "errors.deadletterqueue.topic.name"},
		{name: "dlq reads itself", props: map[string]string{"name": "s", "connector.class": "FileStreamSink", "topics": "a", "errors.tolerance": "all", "errors.deadletterqueue.topic.name": "a"}, errKey: "errors.deadletterqueue.topic.name"},
		{name: "bad transform", props: map[string]string{"name": "s", "connector.class": "FileStreamSink", "topics": "a", "transforms": "x", "transforms.x.type": "Nope"}, errKey: "transforms.x.type"},
		{name: "bad tasks.max", props: map[string]string{"name": "s", "connector.class": "FileStreamSink", "topics": "a", "tasks.max": "0"}, errKey: "tasks.max"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc, err := ParseConnector(w, tc.props)
			if tc.errKey != "" {
				var ke *flow.KeyError
				if !errors.As(err, &ke) || ke.Key != tc.errKey {
					t.Fatalf("err = %v, want a KeyError on %s", err, tc.errKey)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cc.Component.String("topics") != "a,b" || cc.Component.String("file") != "/tmp/x" || len(cc.Topics) != 2 || !cc.Errors.All {
				t.Errorf("parsed %+v", cc)
			}
			for _, wn := range cc.Warnings {
				if strings.Contains(wn.Key, "errors") || wn.Key == "tasks.max" || wn.Key == "name" {
					t.Errorf("worker-level key warned as unknown: %v", wn)
				}
			}
		})
	}
}

func TestConnectorFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a.properties": "name=a\nconnector.class=FileStreamSource\nfile=/x\ntopic=t\n",
		"b.json":       `{"name":"b","config":{"connector.class":"FileStreamSource","file":"/x","topic":"t","tasks.max":1}}`,
		"c.json":       `{"name":"c","connector.class":"FileStreamSource","file":"/x","topic":"t"}`,
	}
	for f, content := range files {
		p := filepath.Join(dir, f)
		os.WriteFile(p, []byte(content), 0o644)
		props, err := LoadConnectorFile(p)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if props["name"] != strings.TrimSuffix(f, filepath.Ext(f)) || props["file"] != "/x" {
			t.Errorf("%s: %v", f, props)
		}
		if f == "b.json" && props["tasks.max"] != "1" {
			t.Errorf("a JSON number is read as its text: %v", props)
		}
	}
}

func TestOffsetFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "offsets.json")
	s, err := OpenFileOffsets(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a := s.For("a")
	a.Put(ctx, map[string]any{"filename": "/x"}, map[string]any{"position": int64(42)})
	s.For("b").Put(ctx, map[string]any{"filename": "/x"}, map[string]any{"position": int64(7)})
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenFileOffsets(p)
	if err != nil {
		t.Fatal(err)
	}
	off, _ := s2.For("a").Get(ctx, map[string]any{"filename": "/x"})
	if off["position"] != float64(42) {
		t.Errorf("reloaded offset = %v", off)
	}
	if off, _ := s2.For("a").Get(ctx, map[string]any{"filename": "/y"}); off != nil {
		t.Errorf("unknown partition = %v", off)
	}
	for name, content := range map[string]string{"java serialized": "\xac\xed\x00\x05", "future version": `{"version":2,"offsets":[]}`} {
		os.WriteFile(p, []byte(content), 0o644)
		if _, err := OpenFileOffsets(p); err == nil {
			t.Errorf("%s offset file accepted", name)
		}
	}
}

func FuzzDecodeText(f *testing.F) {
	f.Add([]byte(`{"schema":{"type":"string"},"payload":"x"}`), true)
	f.Add([]byte(`{"a":[1,{"b":null}]}`), false)
	f.Add([]byte(`"\u00e9"`), false)
	f.Fuzz(func(t *testing.T, b []byte, schemas bool) {
		c := Converter{Kind: ConvJSON, SchemasEnable: schemas}
		out, err := c.DecodeText(b)
		if err == nil && out == nil {
			t.Fatal("nil text without an error")
		}
	})
}

func FuzzParseConnectorJSON(f *testing.F) {
	f.Add([]byte(`{"name":"b","config":{"a":"1","n":2,"t":true,"z":null}}`))
	f.Add([]byte(`{"a":"b"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseConnectorJSON(b) // must not panic
	})
}
