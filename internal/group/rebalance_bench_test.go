package group_test

import (
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/runnel/runnel/internal/testutil"
)

// BenchmarkRebalance3Members measures one rebalance of a Stable 3-member
// group against a real broker over loopback, the way clients live through
// it: the leader rejoins (as after a metadata change), the two followers
// learn of it from their next heartbeat and rejoin, and the round ends when
// all three hold their SyncGroup assignment of the new generation. (The
// group is first formed with a 200ms initial delay so the three join
// together.)
//
//	go test -run XXX -bench Rebalance3Members ./internal/group/
func BenchmarkRebalance3Members(b *testing.B) {
	addr := testutil.RunBroker(b, testutil.WithSettings("group.initial.rebalance.delay.ms", "200", "group.min.session.timeout.ms", "100"))
	conns := []*rawConn{dial(b, addr), dial(b, addr), dial(b, addr)}
	ids := make([]string, 3)
	var leader string
	var gen int32
	leaders := make([]int32, 3) // generation led by member i in this round, or 0
	member := func(i int, waitForRebalance bool, gen int32) {
		leaders[i] = 0
		c := conns[i]
		if waitForRebalance {
			for c.heartbeat("bench", ids[i], nil, gen) != kerr.RebalanceInProgress.Code {
			}
		}
		j := c.join(3, "bench", ids[i], nil, 30*time.Second)
		if j.ErrorCode != 0 {
			b.Errorf("join: %d", j.ErrorCode)
			return
		}
		ids[i] = j.MemberID
		var assign map[string][]byte
		if j.LeaderID == j.MemberID {
			if len(j.Members) != 3 {
				b.Errorf("leader sees %d members", len(j.Members))
			}
			assign = map[string][]byte{}
			for _, m := range j.Members {
				assign[m.MemberID] = []byte("a")
			}
		}
		if s := c.sync("bench", j.MemberID, j.Generation, assign); s.ErrorCode != 0 {
			b.Errorf("sync: %d", s.ErrorCode)
		}
		if j.LeaderID == j.MemberID {
			leaders[i] = j.Generation
		}
	}
	round := func(first bool) {
		var wg sync.WaitGroup
		for i := range conns {
			wait := !first && ids[i] != leader
			wg.Add(1)
			go func() {
				defer wg.Done()
				member(i, wait, gen)
			}()
		}
		wg.Wait()
		for i, g := range leaders {
			if g != 0 {
				leader, gen = ids[i], g
			}
		}
	}
	round(true)
	b.ResetTimer()
	for range b.N {
		round(false)
	}
}
