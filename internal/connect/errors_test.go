package connect

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/testutil"
)

func produce(t *testing.T, brokers string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func envelope(s string) []byte {
	return []byte(`{"schema":{"type":"string","optional":false},"payload":"` + s + `"}`)
}

// TestSinkErrorTolerance: a record the JsonConverter cannot read fails the
// task under errors.tolerance=none (trace names the record), and under all
// goes to the dead letter queue with Kafka's context headers while the
// others are written.
func TestSinkErrorTolerance(t *testing.T) {
	brokers := testutil.RunBroker(t)
	w := startWorker(t, brokers)
	produce(t, brokers,
		&kgo.Record{Topic: "dlq-in", Value: envelope("good 1")},
		&kgo.Record{Topic: "dlq-in", Value: []byte("not json"), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}},
		&kgo.Record{Topic: "dlq-in", Value: envelope("good 2")},
	)

	strict := filepath.Join(w.dir, "strict.txt")
	w.create(t, "strict", map[string]string{"connector.class": "FileStreamSink", "file": strict, "topics": "dlq-in"})
	var st TaskStatus
	waitFor(t, "the strict sink FAILED", 10*time.Second, func() bool { st = w.taskState(t, "strict"); return st.State == StateFailed })
	if !strings.Contains(st.Trace, "dlq-in-0@1") || !strings.Contains(st.Trace, "VALUE_CONVERTER") {
		t.Errorf("trace = %q, want the record dlq-in-0@1 and the stage", st.Trace)
	}
	if got := readLines(strict); len(got) != 0 {
		t.Errorf("strict sink wrote %q; the failing batch must not be delivered", got)
	}
	w.mustCall(t, http.MethodDelete, "/connectors/strict", nil, http.StatusNoContent)

	out := filepath.Join(w.dir, "tolerant.txt")
	w.create(t, "tolerant", map[string]string{"connector.class": "FileStreamSink", "file": out, "topics": "dlq-in",
		"errors.tolerance": "all", "errors.log.enable": "true", "errors.log.include.messages": "true",
		"errors.deadletterqueue.topic.name": "dlq", "errors.deadletterqueue.topic.replication.factor": "1",
		"errors.deadletterqueue.context.headers.enable": "true"})
	waitFor(t, "the good records", 10*time.Second, func() bool { return len(readLines(out)) == 2 })
	if got := strings.Join(readLines(out), ","); got != "good 1,good 2" {
		t.Errorf("output = %q", got)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics("dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	recs := cl.PollRecords(ctx, 10).Records()
	if len(recs) != 1 || string(recs[0].Value) != "not json" {
		t.Fatalf("dead letter queue = %v, want the one bad record", recs)
	}
	h := map[string]string{}
	for _, x := range recs[0].Headers {
		h[x.Key] = string(x.Value)
	}
	want := map[string]string{
		"h":                                     "v",
		"__connect.errors.topic":                "dlq-in",
		"__connect.errors.partition":            "0",
		"__connect.errors.offset":               "1",
		"__connect.errors.connector.name":       "tolerant",
		"__connect.errors.stage":                "VALUE_CONVERTER",
		"__connect.errors.exception.class.name": "org.apache.kafka.connect.errors.DataException",
	}
	for k, v := range want {
		if h[k] != v {
			t.Errorf("header %s = %q, want %q", k, h[k], v)
		}
	}
	if h["__connect.errors.exception.message"] == "" {
		t.Error("no exception message header")
	}
	if s := w.taskState(t, "tolerant"); s.State != StateRunning {
		t.Errorf("tolerant task = %+v", s)
	}
}

// TestSourceTransforms: SMTs run on the converted record, so with the
// JsonConverter a HoistField keeps a schema, and the file sink prints the
// resulting struct payload as JSON.
func TestSourceTransforms(t *testing.T) {
	brokers := testutil.RunBroker(t)
	w := startWorker(t, brokers)
	in := filepath.Join(w.dir, "in.log")
	out := filepath.Join(w.dir, "out.txt")
	appendLines(t, in, "hello", "drop me", "world")
	w.create(t, "src", map[string]string{"connector.class": "FileStreamSource", "file": in, "topic": "raw",
		"transforms": "hoist,route", "transforms.hoist.type": "org.apache.kafka.connect.transforms.HoistField$Value", "transforms.hoist.field": "line",
		"transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter", "transforms.route.regex": "raw", "transforms.route.replacement": "hoisted"})
	w.create(t, "sink", map[string]string{"connector.class": "FileStreamSink", "file": out, "topics": "hoisted",
		"transforms": "drop", "transforms.drop.type": "org.apache.kafka.connect.transforms.Filter", "transforms.drop.predicate": "isDrop",
		"predicates": "isDrop", "predicates.isDrop.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches", "predicates.isDrop.pattern": "nothing"})
	waitFor(t, "three lines", 10*time.Second, func() bool { return len(readLines(out)) == 3 })
	if got := strings.Join(readLines(out), "|"); got != `{"line":"hello"}|{"line":"drop me"}|{"line":"world"}` {
		t.Errorf("output = %s", got)
	}
}
