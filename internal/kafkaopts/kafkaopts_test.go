package kafkaopts_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/kafkaopts"
	"github.com/runnel/runnel/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMapBadValues(t *testing.T) {
	cases := []struct {
		name  string
		role  kafkaopts.Role
		key   string
		value string
	}{
		{"acks", kafkaopts.Producer, "acks", "2"},
		{"idempotence", kafkaopts.Producer, "enable.idempotence", "yes"},
		{"linger words", kafkaopts.Producer, "linger.ms", "soon"},
		{"linger negative", kafkaopts.Producer, "linger.ms", "-1"},
		{"delivery timeout", kafkaopts.Producer, "delivery.timeout.ms", "1.5"},
		{"batch size zero", kafkaopts.Producer, "batch.size", "0"},
		{"batch size too big", kafkaopts.Producer, "batch.size", "4294967296"},
		{"max request size", kafkaopts.Producer, "max.request.size", "-3"},
		{"retries", kafkaopts.Producer, "retries", "many"},
		{"in flight", kafkaopts.Producer, "max.in.flight.requests.per.connection", "0"},
		{"compression", kafkaopts.Producer, "compression.type", "brotli"},
		{"tls", kafkaopts.Producer, "security.protocol", "SSL"},
		{"sasl consumer", kafkaopts.Consumer, "security.protocol", "SASL_PLAINTEXT"},
		{"no brokers", kafkaopts.Consumer, "bootstrap.servers", " , "},
		{"reset", kafkaopts.Consumer, "auto.offset.reset", "smallest"},
		{"isolation", kafkaopts.Consumer, "isolation.level", "serializable"},
		{"session timeout", kafkaopts.Consumer, "session.timeout.ms", "-5"},
		{"heartbeat", kafkaopts.Consumer, "heartbeat.interval.ms", "3s"},
		{"fetch min", kafkaopts.Consumer, "fetch.min.bytes", "-1"},
		{"fetch max", kafkaopts.Consumer, "fetch.max.bytes", "0"},
		{"partition fetch", kafkaopts.Consumer, "max.partition.fetch.bytes", "1MB"},
		{"metadata age", kafkaopts.Consumer, "metadata.max.age.ms", "forever"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			props := map[string]string{tc.key: tc.value, "client.id": "fine"}
			_, err := kafkaopts.Map(props, kafkaopts.Options{Role: tc.role, Prefix: "kafka.x."})
			var ke *flow.KeyError
			if !errors.As(err, &ke) || ke.Key != "kafka.x."+tc.key || ke.Value != tc.value {
				t.Fatalf("err = %v, want a KeyError on kafka.x.%s = %q", err, tc.key, tc.value)
			}
			if ke.Problem == "" || ke.Fix == "" {
				t.Errorf("KeyError %+v lacks a problem or a fix", ke)
			}
		})
	}
}

// TestMapFirstErrorIsStable: with several bad keys the error names the
// first in sorted order, whatever the map's iteration order.
func TestMapFirstErrorIsStable(t *testing.T) {
	props := map[string]string{"linger.ms": "x", "acks": "x", "retries": "x", "batch.size": "x"}
	for range 20 {
		_, err := kafkaopts.Map(props, kafkaopts.Options{Role: kafkaopts.Producer})
		var ke *flow.KeyError
		if !errors.As(err, &ke) || ke.Key != "acks" {
			t.Fatalf("err = %v, want the KeyError on acks", err)
		}
	}
}

func TestMapWarnings(t *testing.T) {
	cases := []struct {
		name     string
		role     kafkaopts.Role
		props    map[string]string
		fixed    []string
		wantWarn string // key named in the one warning; "" = no warning
	}{
		{"unknown key", kafkaopts.Producer, map[string]string{"sasl.jaas.config": "secret"}, nil, "p.sasl.jaas.config"},
		{"consumer key on producer", kafkaopts.Producer, map[string]string{"fetch.min.bytes": "10"}, nil, "p.fetch.min.bytes"},
		{"producer key on consumer", kafkaopts.Consumer, map[string]string{"linger.ms": "10"}, nil, "p.linger.ms"},
		{"accepted without effect", kafkaopts.Producer, map[string]string{"key.serializer": "x"}, nil, "p.key.serializer"},
		{"auto commit", kafkaopts.Consumer, map[string]string{"enable.auto.commit": "true"}, nil, "p.enable.auto.commit"},
		{"fixed by the caller", kafkaopts.Consumer, map[string]string{"group.id": "g", "enable.auto.commit": "true"}, []string{"group.id", "enable.auto.commit"}, ""},
		{"fixed bad value is not read", kafkaopts.Producer, map[string]string{"acks": "banana"}, []string{"acks"}, ""},
		{"mapped producer keys", kafkaopts.Producer, map[string]string{"acks": "all", "linger.ms": "5", "compression.type": "ZSTD", "client.id": "c", "bootstrap.servers": "127.0.0.1:1"}, nil, ""},
		{"mapped consumer keys", kafkaopts.Consumer, map[string]string{"auto.offset.reset": "Latest", "isolation.level": "read_committed", "group.instance.id": "i", "max.poll.interval.ms": "60000"}, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf testutil.SyncBuffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			_, err := kafkaopts.Map(tc.props, kafkaopts.Options{Role: tc.role, Prefix: "p.", Fixed: tc.fixed, Log: log})
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			out := buf.String()
			lines := strings.Count(out, "level=WARN")
			switch {
			case tc.wantWarn == "" && out != "":
				t.Fatalf("logged %q, want nothing", out)
			case tc.wantWarn != "" && (lines != 1 || !strings.Contains(out, "key="+tc.wantWarn)):
				t.Fatalf("logged %q, want one warning naming %s", out, tc.wantWarn)
			case strings.Contains(out, "secret"):
				t.Fatalf("warning %q shows the value", out)
			}
		})
	}
}

// TestMapIdempotence: franz-go refuses an idempotent producer without
// acks=all, so acks=0/1 must turn idempotence off as the Java producer
// does; enable.idempotence=false allows more than one request in flight.
func TestMapIdempotence(t *testing.T) {
	cases := []struct {
		name  string
		props map[string]string
	}{
		{"acks 0", map[string]string{"acks": "0"}},
		{"acks 1", map[string]string{"acks": "1"}},
		{"acks all", map[string]string{"acks": "-1", "enable.idempotence": "true"}},
		{"idempotence off", map[string]string{"acks": "all", "enable.idempotence": "false", "max.in.flight.requests.per.connection": "5"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts, err := kafkaopts.Map(tc.props, kafkaopts.Options{Role: kafkaopts.Producer})
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}, opts...)...)
			if err != nil {
				t.Fatalf("NewClient with %v: %v", tc.props, err)
			}
			cl.Close()
		})
	}
	// Without the mapper's DisableIdempotentWrite the client is refused:
	// the check above can fail.
	if cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.RequiredAcks(kgo.LeaderAck())); err == nil {
		cl.Close()
		t.Fatal("franz-go accepted acks=1 with idempotence; the test above proves nothing")
	}
}

func TestBrokers(t *testing.T) {
	got := kafkaopts.Brokers(" a:1, b:2 ,,c:3 ")
	if fmt.Sprint(got) != "[a:1 b:2 c:3]" {
		t.Fatalf("Brokers = %q", got)
	}
}

func TestMaxPollRecords(t *testing.T) {
	cases := []struct {
		name  string
		props []map[string]string
		want  int
	}{
		{"default", nil, 500},
		{"set", []map[string]string{{"max.poll.records": "100"}}, 100},
		{"later wins", []map[string]string{{"max.poll.records": "100"}, {"max.poll.records": "7"}}, 7},
		{"bad skipped", []map[string]string{{"max.poll.records": "100"}, {"max.poll.records": "0"}}, 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := kafkaopts.MaxPollRecords(tc.props...); got != tc.want {
				t.Fatalf("MaxPollRecords = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestProduceConsume runs mapped options against a real broker: records
// produced with zstd arrive zstd-compressed, and a consumer with
// auto.offset.reset=latest skips what was in the topic before it started
// while one with earliest reads everything.
func TestProduceConsume(t *testing.T) {
	addr := testutil.RunBroker(t)
	const topic = "opts"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	popts, err := kafkaopts.Map(map[string]string{"bootstrap.servers": addr, "acks": "all", "linger.ms": "5",
		"compression.type": "zstd", "batch.size": "65536", "client.id": "opts-producer", "delivery.timeout.ms": "30000",
		"max.request.size": "2097152"}, kafkaopts.Options{Role: kafkaopts.Producer})
	if err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(append(popts, kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())...)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	produce := func(prefix string, n int) {
		t.Helper()
		recs := make([]*kgo.Record, n)
		for i := range recs {
			recs[i] = &kgo.Record{Value: fmt.Appendf(nil, "%s-%d %s", prefix, i, strings.Repeat("x", 100))}
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("producing %s: %v", prefix, err)
		}
	}
	produce("old", 100)

	consumer := func(reset string) *kgo.Client {
		t.Helper()
		copts, err := kafkaopts.Map(map[string]string{"bootstrap.servers": addr, "auto.offset.reset": reset,
			"fetch.max.wait.ms": "100", "isolation.level": "read_committed", "client.id": "opts-" + reset,
			"fetch.min.bytes": "1", "max.partition.fetch.bytes": "1048576"}, kafkaopts.Options{Role: kafkaopts.Consumer})
		if err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(append(copts, kgo.ConsumeTopics(topic))...)
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	early := consumer("earliest")
	defer early.Close()
	var got int
	for got < 100 {
		fs := early.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("earliest consumer read %d of 100 records: %v", got, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got++
			if c := r.Attrs.CompressionType(); c != 4 { // 4 = zstd
				t.Errorf("record %q came in a batch with codec %d, want zstd (4)", r.Value[:7], c)
			}
		})
	}

	late := consumer("latest")
	defer late.Close()
	// Keep producing until the late consumer sees a new record: it must
	// never see an old one.
	for round := 0; ; round++ {
		produce(fmt.Sprintf("new%d", round), 1)
		pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		fs := late.PollFetches(pctx)
		pcancel()
		if err := ctx.Err(); err != nil {
			t.Fatalf("latest consumer saw no new record: %v", err)
		}
		var seen bool
		fs.EachRecord(func(r *kgo.Record) {
			if strings.HasPrefix(string(r.Value), "old-") {
				t.Fatalf("latest consumer read %q from before it started", r.Value[:7])
			}
			seen = true
		})
		if seen {
			break
		}
	}
}
