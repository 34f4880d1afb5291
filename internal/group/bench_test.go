package group

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkDurableCommits measures OffsetCommit throughput when every commit
// is fsync'ed before it is answered: one committer at a time, and 16
// concurrent committers sharing group commits.
//
//	go test -run XXX -bench DurableCommits ./internal/group/
func BenchmarkDurableCommits(b *testing.B) {
	for _, committers := range []int{1, 16} {
		b.Run(fmt.Sprintf("committers=%d", committers), func(b *testing.B) {
			l := openLog(b, b.TempDir())
			defer l.Close()
			c, err := New(testConfig(), l, topicsOf(map[string]int32{"t": 64}), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			per := (b.N + committers - 1) / committers
			for w := range committers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range per {
						req := commitReq(fmt.Sprintf("g%d", w), "", -1, "t", int32(i%64), int64(i))
						resp, err := c.Handle(context.Background(), req)
						if err != nil || resp.(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode != 0 {
							b.Errorf("commit failed: %v", err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(per*committers)/time.Since(start).Seconds(), "commits/s")
		})
	}
}
