package group_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel/runnel/internal/app"
	"github.com/runnel/runnel/internal/testutil"
)

// fastGroups are broker settings that make rebalances quick in tests.
var fastGroups = []string{
	"group.initial.rebalance.delay.ms", "0",
	"group.min.session.timeout.ms", "100",
}

func newClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t testing.TB, adm *kadm.Client, name string, partitions int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 1, nil, name)
	if err != nil || resp.Err != nil {
		t.Fatalf("creating topic %s: %v %v", name, err, resp.Err)
	}
}

func produce(t testing.TB, cl *kgo.Client, topic string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("producing: %v", err)
	}
}

// waitStable waits until the group is Stable with n members.
func waitStable(t testing.TB, adm *kadm.Client, group string, n int) kadm.DescribedGroup {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last kadm.DescribedGroup
	for time.Now().Before(deadline) {
		ds, err := adm.DescribeGroups(context.Background(), group)
		if err == nil {
			last = ds[group]
			if last.State == "Stable" && len(last.Members) == n {
				return last
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("group %s did not become Stable with %d members; last state %q with %d members", group, n, last.State, len(last.Members))
	return last
}

func TestGroupSharesPartitions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		balancer kgo.GroupBalancer
	}{
		{"range", kgo.RangeBalancer()},
		{"roundrobin", kgo.RoundRobinBalancer()},
		{"sticky", kgo.StickyBalancer()},
		{"cooperative-sticky", kgo.CooperativeStickyBalancer()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := testutil.RunBroker(t, testutil.WithSettings(fastGroups...))
			adm := kadm.NewClient(newClient(t, addr))
			createTopic(t, adm, "events", 6)
			const total = 3000
			var mu sync.Mutex
			seen := map[string]int{}
			perMember := make([]int, 3)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			for i := range 3 {
				cl := newClient(t, addr, kgo.ConsumerGroup("g1"), kgo.ConsumeTopics("events"),
					kgo.Balancers(tc.balancer), kgo.FetchMaxWait(100*time.Millisecond),
					kgo.ClientID(fmt.Sprintf("member-%d", i)))
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						fs := cl.PollFetches(ctx)
						fs.EachRecord(func(r *kgo.Record) {
							mu.Lock()
							seen[string(r.Value)]++
							perMember[i]++
							mu.Unlock()
						})
					}
				}()
			}
			dg := waitStable(t, adm, "g1", 3)
			for _, m := range dg.Members {
				if m.ClientID == "" || m.ClientHost == "" {
					t.Errorf("member %s: client id %q host %q", m.MemberID, m.ClientID, m.ClientHost)
				}
			}
			produce(t, newClient(t, addr), "events", total)

			// A second group gets everything.
			other := newClient(t, addr, kgo.ConsumerGroup("g2"), kgo.ConsumeTopics("events"),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			got := 0
			for got < total {
				pctx, pcancel := context.WithTimeout(ctx, 20*time.Second)
				fs := other.PollFetches(pctx)
				timedOut := pctx.Err() != nil
				pcancel()
				if timedOut {
					t.Fatalf("group g2 got %d of %d records", got, total)
				}
				got += fs.NumRecords()
			}

			deadline := time.Now().Add(20 * time.Second)
			for {
				mu.Lock()
				n := len(seen)
				mu.Unlock()
				if n == total || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			cancel()
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != total {
				t.Fatalf("group g1 saw %d distinct records, want %d", len(seen), total)
			}
			for v, n := range seen {
				if n != 1 {
					t.Fatalf("record %s delivered %d times", v, n)
				}
			}
			for i, n := range perMember {
				if n == 0 {
					t.Errorf("member %d got no records (per member: %v)", i, perMember)
				}
			}
		})
	}
}

func TestCommittedOffsetsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	withDir := func(o *app.BrokerOptions) { o.DataDir = dir }
	b := testutil.StartBroker(t, withDir, testutil.WithSettings(fastGroups...))
	addr := b.Addr()
	adm := kadm.NewClient(newClient(t, addr))
	createTopic(t, adm, "orders", 3)
	produce(t, newClient(t, addr), "orders", 300)

	cl := newClient(t, addr, kgo.ConsumerGroup("billing"), kgo.ConsumeTopics("orders"),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := 0
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for got < 300 && ctx.Err() == nil {
		got += cl.PollFetches(ctx).NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("committing: %v", err)
	}
	before, err := adm.FetchOffsets(ctx, "billing")
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b2 := testutil.StartBroker(t, withDir, testutil.WithSettings(fastGroups...))
	adm2 := kadm.NewClient(newClient(t, b2.Addr()))
	after, err := adm2.FetchOffsets(ctx, "billing")
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, p := range []int32{0, 1, 2} {
		a, _ := before.Lookup("orders", p)
		z, ok := after.Lookup("orders", p)
		if !ok || a.At != z.At {
			t.Errorf("partition %d: committed %d before restart, %d (found %v) after", p, a.At, z.At, ok)
		}
		sum += z.At
	}
	if sum != 300 {
		t.Errorf("committed offsets sum to %d, want 300", sum)
	}
	lg, err := adm2.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lg["billing"]; !ok {
		t.Errorf("group billing not listed after restart: %v", lg.Groups())
	}
}

func TestDeletingTopicDropsCommittedOffsets(t *testing.T) {
	addr := testutil.RunBroker(t, testutil.WithSettings(fastGroups...))
	adm := kadm.NewClient(newClient(t, addr))
	createTopic(t, adm, "doomed", 2)
	createTopic(t, adm, "kept", 1)
	ctx := context.Background()
	offs := kadm.Offsets{}
	offs.AddOffset("doomed", 0, 5, -1)
	offs.AddOffset("doomed", 1, 6, -1)
	offs.AddOffset("kept", 0, 7, -1)
	if err := adm.CommitAllOffsets(ctx, "g", offs); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.DeleteTopics(ctx, "doomed"); err != nil {
		t.Fatal(err)
	}
	got, err := adm.FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Lookup("doomed", 0); ok {
		t.Errorf("offsets of the deleted topic survive: %v", got)
	}
	if o, ok := got.Lookup("kept", 0); !ok || o.At != 7 {
		t.Errorf("offset of the kept topic: %v %v", o, ok)
	}
	// Recreating the topic starts without the old group's offsets.
	createTopic(t, adm, "doomed", 2)
	got, _ = adm.FetchOffsets(ctx, "g")
	if o, ok := got.Lookup("doomed", 0); ok && o.At >= 0 {
		t.Errorf("recreated topic inherited offset %d", o.At)
	}
}

// TestStaticMembershipRestartNoRebalance: a franz-go member with a
// group.instance.id restarts within its session timeout; the group does not
// rebalance: the other member is not revoked or reassigned, and only the
// restarted member's id changes.
func TestStaticMembershipRestartNoRebalance(t *testing.T) {
	addr := testutil.RunBroker(t, testutil.WithSettings(fastGroups...))
	adm := kadm.NewClient(newClient(t, addr))
	createTopic(t, adm, "s", 4)
	var assignedA atomic.Int32
	start := func(inst string, opts ...kgo.Opt) *kgo.Client {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.ConsumerGroup("static"), kgo.ConsumeTopics("s"),
			kgo.InstanceID(inst), kgo.SessionTimeout(20 * time.Second), kgo.Balancers(kgo.RangeBalancer())}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { // drives the group
			defer close(done)
			for ctx.Err() == nil {
				cl.PollFetches(ctx)
			}
		}()
		t.Cleanup(func() { cancel(); <-done; cl.Close() })
		return cl
	}
	start("a", kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { assignedA.Add(1) }))
	b := start("b")
	before := waitStable(t, adm, "static", 2)
	time.Sleep(300 * time.Millisecond)
	assignsBefore := assignedA.Load()

	b.CloseAllowingRebalance() // a static member does not leave the group on close
	start("b")
	time.Sleep(time.Second)
	after := waitStable(t, adm, "static", 2)
	old := map[string]bool{}
	for _, m := range before.Members {
		old[m.MemberID] = true
	}
	replaced := 0
	for _, m := range after.Members {
		if !old[m.MemberID] {
			replaced++
		}
	}
	if replaced != 1 {
		t.Errorf("%d member ids changed across the static restart, want 1", replaced)
	}
	t.Logf("a assigned %d times before, %d after", assignsBefore, assignedA.Load())
	if got := assignedA.Load(); got != assignsBefore {
		t.Errorf("member a was reassigned %d times during the static restart of b", got-assignsBefore)
	}
}
