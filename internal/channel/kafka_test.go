package channel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/flow"
	"github.com/runnel/runnel/internal/testutil"
)

func newTestKafka(t *testing.T, raw map[string]string) *Kafka {
	t.Helper()
	cfg, _, err := KafkaSpec.Validate("c1", raw)
	if err != nil {
		t.Fatalf("validating %v: %v", raw, err)
	}
	k, err := NewKafka(cfg)
	if err != nil {
		t.Fatalf("NewKafka: %v", err)
	}
	return k
}

// takeN takes events in one transaction until n arrived or 20 s passed.
func takeN(t *testing.T, tx flow.Transaction, n int) []flow.Event {
	t.Helper()
	var got []flow.Event
	deadline := time.Now().Add(20 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		e, ok, err := tx.Take(context.Background())
		if err != nil {
			t.Fatalf("take: %v", err)
		}
		if ok {
			got = append(got, e)
		}
	}
	if len(got) != n {
		t.Fatalf("took %d events, want %d", len(got), n)
	}
	return got
}

func putIDs(t *testing.T, k *Kafka, from, to int, commit bool) {
	t.Helper()
	tx := k.Begin()
	for i := from; i < to; i++ {
		e := flow.Event{Headers: map[string]string{"id": strconv.Itoa(i), "h": "v"}, Body: []byte("event " + strconv.Itoa(i))}
		if err := tx.Put(context.Background(), e); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	var err error
	if commit {
		err = tx.Commit()
	} else {
		err = tx.Rollback()
	}
	if err != nil {
		t.Fatalf("ending put transaction: %v", err)
	}
}

func TestKafkaChannel(t *testing.T) {
	addr := testutil.RunBroker(t)
	for _, parse := range []string{"true", "false"} {
		t.Run("parseAsFlumeEvent="+parse, func(t *testing.T) {
			raw := map[string]string{KafkaBootstrap: addr, KafkaTopic: "ch-" + parse, KafkaParseEvent: parse,
				KafkaPollTimeout: "200", KafkaTxCapacity: "50"}
			k := newTestKafka(t, raw)
			putIDs(t, k, 0, 10, true)
			putIDs(t, k, 100, 110, false) // rolled back: never produced

			// Take 4 and roll back: the same 4 come first again.
			tx := k.Begin()
			first := takeN(t, tx, 4)
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			tx = k.Begin()
			again := takeN(t, tx, 6)
			for i, e := range first {
				if again[i].Header("id") != e.Header("id") {
					t.Fatalf("after rollback event %d is id %s, want %s", i, again[i].Header("id"), e.Header("id"))
				}
			}
			for i, e := range again {
				if e.Header("id") != strconv.Itoa(i) || string(e.Body) != "event "+strconv.Itoa(i) || e.Header("h") != "v" {
					t.Fatalf("event %d = %+v", i, e)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			// Take 2 more and close without committing: a new channel in the
			// same group reads from id 6.
			tx = k.Begin()
			takeN(t, tx, 2)
			if err := k.Close(); err != nil {
				t.Fatal(err)
			}

			k2 := newTestKafka(t, raw)
			defer k2.Close()
			tx = k2.Begin()
			rest := takeN(t, tx, 4)
			for i, e := range rest {
				if e.Header("id") != strconv.Itoa(6+i) {
					t.Fatalf("after reopen event %d is id %s, want %d", i, e.Header("id"), 6+i)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			tx = k2.Begin()
			if e, ok, err := tx.Take(context.Background()); err != nil || ok {
				t.Fatalf("take from drained channel = %+v, %v, %v; want nothing", e, ok, err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestKafkaChannelFlumeRecords checks the topic holds Flume's Avro
// encoding of the event, as a Flume KafkaChannel or KafkaSource with
// useFlumeEventFormat would read it.
func TestKafkaChannelFlumeRecords(t *testing.T) {
	addr := testutil.RunBroker(t)
	k := newTestKafka(t, map[string]string{KafkaBootstrap: addr, KafkaTopic: "avro"})
	defer k.Close()
	tx := k.Begin()
	if err := tx.Put(context.Background(), flow.Event{Headers: map[string]string{"a": "b"}, Body: []byte("hi")}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("avro"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fs := cl.PollFetches(ctx)
	if err := fs.Err(); err != nil {
		t.Fatal(err)
	}
	recs := fs.Records()
	// map block of 1 pair "a"→"b", end of map, bytes "hi" (zig-zag lengths).
	want := []byte{2, 2, 'a', 2, 'b', 0, 4, 'h', 'i'}
	if len(recs) != 1 || !bytes.Equal(recs[0].Value, want) {
		t.Fatalf("records %v, want one with value %v", recs, want)
	}
}

func TestKafkaChannelConfig(t *testing.T) {
	for _, tc := range []struct {
		raw     map[string]string
		wantKey string
	}{
		{map[string]string{KafkaProducerPrefix + "acks": "1"}, KafkaProducerPrefix + "acks"},
		{map[string]string{KafkaProducerPrefix + "linger.ms": "soon"}, KafkaProducerPrefix + "linger.ms"},
		{map[string]string{KafkaConsumerPrefix + "auto.offset.reset": "none"}, KafkaConsumerPrefix + "auto.offset.reset"},
		{map[string]string{KafkaConsumerPrefix + "session.timeout.ms": "-5"}, KafkaConsumerPrefix + "session.timeout.ms"},
	} {
		raw := map[string]string{KafkaBootstrap: "127.0.0.1:1"}
		maps.Copy(raw, tc.raw)
		cfg, _, err := KafkaSpec.Validate("c1", raw)
		if err == nil {
			_, err = NewKafka(cfg)
		}
		var ke *flow.KeyError
		if !errors.As(err, &ke) || ke.Key != tc.wantKey {
			t.Errorf("config %v: error %v, want a KeyError for %s", tc.raw, err, tc.wantKey)
		}
	}
}

func TestKafkaTransactionCapacity(t *testing.T) {
	k := newTestKafka(t, map[string]string{KafkaBootstrap: "127.0.0.1:1", KafkaTxCapacity: "2"})
	defer k.Close()
	tx := k.Begin()
	for i := range 3 {
		err := tx.Put(context.Background(), flow.Event{Body: []byte(fmt.Sprint(i))})
		if (i < 2) != (err == nil) || (i == 2 && !errors.Is(err, flow.ErrTransactionFull)) {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
}

func TestAvroFlumeEventRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		h    map[string]string
		body []byte
	}{
		{nil, nil},
		{nil, []byte("x")},
		{map[string]string{"k": "v", "empty": "", "ü": "ß"}, bytes.Repeat([]byte{0xff}, 300)},
	} {
		b := appendAvroFlumeEvent(nil, tc.h, tc.body)
		h, body, err := decodeAvroFlumeEvent(b)
		if err != nil || !maps.Equal(h, tc.h) || !bytes.Equal(body, tc.body) {
			t.Errorf("round trip of %v %q: %v %q %v", tc.h, tc.body, h, body, err)
		}
		for cut := range len(b) {
			if _, _, err := decodeAvroFlumeEvent(b[:cut]); err == nil {
				t.Errorf("decoding %v cut at %d: no error", b, cut)
			}
		}
	}
	// Avro writers may use negative block counts followed by a byte size.
	neg := []byte{1, 8, 2, 'a', 2, 'b', 0, 0}
	if h, body, err := decodeAvroFlumeEvent(neg); err != nil || h["a"] != "b" || len(body) != 0 {
		t.Errorf("negative block count: %v %q %v", h, body, err)
	}
}

func FuzzAvroFlumeEvent(f *testing.F) {
	f.Add(appendAvroFlumeEvent(nil, map[string]string{"a": "b"}, []byte("hi")))
	f.Add([]byte{1, 8, 2, 'a', 2, 'b', 0, 0})
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, body, err := decodeAvroFlumeEvent(b)
		if err != nil {
			return
		}
		h2, body2, err := decodeAvroFlumeEvent(appendAvroFlumeEvent(nil, h, body))
		if err != nil || !maps.Equal(h, h2) || !bytes.Equal(body, body2) {
			t.Fatalf("re-encoding %v %q: %v %q %v", h, body, h2, body2, err)
		}
	})
}

// TestKafkaChannelOneTaker checks a second take transaction gets nothing
// while the first is open, and the records once it rolled back.
func TestKafkaChannelOneTaker(t *testing.T) {
	addr := testutil.RunBroker(t)
	k := newTestKafka(t, map[string]string{KafkaBootstrap: addr, KafkaTopic: "one", KafkaPollTimeout: "200"})
	defer k.Close()
	putIDs(t, k, 0, 3, true)
	tx1 := k.Begin()
	takeN(t, tx1, 1)
	tx2 := k.Begin()
	if e, ok, err := tx2.Take(context.Background()); ok || err != nil {
		t.Fatalf("second taker got %+v, %v, %v while the first is open", e, ok, err)
	}
	if err := tx1.Rollback(); err != nil {
		t.Fatal(err)
	}
	got := takeN(t, tx2, 3)
	if got[0].Header("id") != "0" {
		t.Fatalf("after the first taker rolled back, the second starts at id %s", got[0].Header("id"))
	}
	if err := tx2.Commit(); err != nil {
		t.Fatal(err)
	}
}
