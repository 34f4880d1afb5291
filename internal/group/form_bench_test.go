package group_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/testutil"
)

// BenchmarkFranzGroupForm3 measures, with real franz-go clients, the time
// from starting three consumers of a new group on a 6-partition topic until
// each holds a share of the partitions (group.initial.rebalance.delay.ms=0,
// so the members' staggered joins cause rebalances, as in production).
//
//	go test -run XXX -bench FranzGroupForm3 -benchtime 20x ./internal/group/
func BenchmarkFranzGroupForm3(b *testing.B) {
	for _, bal := range []struct {
		name string
		b    kgo.GroupBalancer
	}{{"range", kgo.RangeBalancer()}, {"cooperative-sticky", kgo.CooperativeStickyBalancer()}} {
		b.Run(bal.name, func(b *testing.B) {
			addr := testutil.RunBroker(b, testutil.WithSettings(fastGroups...))
			createTopic(b, kadm.NewClient(newClient(b, addr)), "form", 6)
			b.ResetTimer()
			for i := range b.N {
				group := fmt.Sprintf("form-%d", i)
				var owned [3]atomic.Int32
				var clients []*kgo.Client
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{}, 3)
				for m := range 3 {
					cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics("form"),
						kgo.Balancers(bal.b), kgo.HeartbeatInterval(100*time.Millisecond),
						kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) { owned[m].Add(int32(len(a["form"]))) }),
						kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) { owned[m].Add(-int32(len(r["form"]))) }),
						kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, r map[string][]int32) { owned[m].Add(-int32(len(r["form"]))) }))
					if err != nil {
						b.Fatal(err)
					}
					clients = append(clients, cl)
					go func() {
						for ctx.Err() == nil {
							cl.PollFetches(ctx)
						}
						done <- struct{}{}
					}()
				}
				deadline := time.Now().Add(60 * time.Second)
				for {
					a, b2, c := owned[0].Load(), owned[1].Load(), owned[2].Load()
					if a > 0 && b2 > 0 && c > 0 && a+b2+c == 6 {
						break
					}
					if time.Now().After(deadline) {
						b.Fatalf("group never settled: %d %d %d", a, b2, c)
					}
					time.Sleep(time.Millisecond)
				}
				b.StopTimer()
				cancel()
				for range 3 {
					<-done
				}
				for _, cl := range clients {
					cl.Close()
				}
				b.StartTimer()
			}
		})
	}
}
