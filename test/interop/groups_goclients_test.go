package interop

// Group consumers of IBM/sarama and segmentio/kafka-go (which pins old
// JoinGroup/OffsetCommit versions): two members of one client share a
// group, every record arrives once, and the committed offsets end at the
// log end.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
)

// checkCommittedToEnd waits until the group's committed offsets equal the
// topic's log end offsets.
func checkCommittedToEnd(t testing.TB, addr, group, topic string) {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	ends := endOffsets(t, addr, topic)
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := adm.FetchOffsets(context.Background(), group)
		ok := err == nil
		for p, end := range ends {
			o, found := got.Lookup(topic, p)
			ok = ok && found && o.At == end
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s: committed %v, want log end offsets %v (err %v)", group, got, ends, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type saramaHandler struct {
	onValue func(string)
}

func (saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.onValue(string(m.Value))
		s.MarkMessage(m, "")
	}
	return nil
}

func TestGroupsSarama(t *testing.T) {
	srv := startServer(t, withSettings(groupSettings))
	const topic, total = "sarama-groups", 6000
	createTopic(t, srv.Addr, topic, 4, nil)
	counts := newTally()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := range 2 {
		cfg := saramaConfig()
		cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
		cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
		cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
		cg, err := sarama.NewConsumerGroup([]string{srv.Addr}, "sarama-g", cfg)
		if err != nil {
			t.Fatalf("sarama consumer group: %v", err)
		}
		name := []string{"sarama-0", "sarama-1"}[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cg.Close()
			for ctx.Err() == nil {
				if err := cg.Consume(ctx, []string{topic}, saramaHandler{func(v string) { counts.add(name, v) }}); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
					t.Errorf("sarama consume: %v", err)
					return
				}
			}
		}()
	}
	waitGroup(t, kadm.NewClient(newClient(t, srv.Addr)), "sarama-g", 2, 60*time.Second)
	produceValues(t, srv.Addr, topic, 0, total)
	counts.waitDistinct(t, total, 60*time.Second)
	checkCommittedToEnd(t, srv.Addr, "sarama-g", topic)
	cancel()
	wg.Wait()
	counts.mu.Lock()
	defer counts.mu.Unlock()
	for v, n := range counts.seen {
		if n != 1 {
			t.Fatalf("record %s delivered %d times", v, n)
		}
	}
	if counts.perMember["sarama-0"] == 0 || counts.perMember["sarama-1"] == 0 {
		t.Errorf("per member: %v", counts.perMember)
	}
}

func TestGroupsKafkaGo(t *testing.T) {
	srv := startServer(t, withSettings(groupSettings))
	const topic, total = "kafkago-groups", 6000
	createTopic(t, srv.Addr, topic, 4, nil)
	counts := newTally()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := range 2 {
		r := kafkago.NewReader(kafkago.ReaderConfig{
			Brokers:           []string{srv.Addr},
			GroupID:           "kafkago-g",
			Topic:             topic,
			MinBytes:          1,
			MaxBytes:          10 << 20,
			MaxWait:           200 * time.Millisecond,
			StartOffset:       kafkago.FirstOffset,
			SessionTimeout:    10 * time.Second,
			RebalanceTimeout:  10 * time.Second,
			HeartbeatInterval: time.Second,
		})
		name := []string{"kafkago-0", "kafkago-1"}[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("kafka-go fetch: %v", err)
					}
					return
				}
				counts.add(name, string(m.Value))
				if err := r.CommitMessages(ctx, m); err != nil && ctx.Err() == nil {
					t.Errorf("kafka-go commit: %v", err)
					return
				}
			}
		}()
	}
	waitGroup(t, kadm.NewClient(newClient(t, srv.Addr)), "kafkago-g", 2, 60*time.Second)
	produceValues(t, srv.Addr, topic, 0, total)
	counts.waitDistinct(t, total, 90*time.Second)
	checkCommittedToEnd(t, srv.Addr, "kafkago-g", topic)
	cancel()
	wg.Wait()
	counts.mu.Lock()
	defer counts.mu.Unlock()
	for v, n := range counts.seen {
		if n != 1 {
			t.Fatalf("record %s delivered %d times", v, n)
		}
	}
	if counts.perMember["kafkago-0"] == 0 || counts.perMember["kafkago-1"] == 0 {
		t.Errorf("per member: %v", counts.perMember)
	}
}
