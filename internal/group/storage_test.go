package group

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel/runnel/internal/commitlog"
)

func openLog(t testing.TB, dir string) *commitlog.Log {
	t.Helper()
	cfg := commitlog.DefaultConfig()
	cfg.CleanupPolicy = "compact"
	l, err := commitlog.Open(filepath.Join(dir, "__consumer_offsets-0"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// topicsOf is a TopicLookup over a fixed set of topics.
func topicsOf(m map[string]int32) TopicLookup {
	return func(topic string) (int32, bool) { n, ok := m[topic]; return n, ok }
}

func testConfig() Config {
	return Config{NodeID: 0, Host: "127.0.0.1", Port: 9092, MinSessionTimeout: 10 * time.Millisecond}
}

func commitReq(group, member string, gen int32, topic string, part int32, off int64) *kmsg.OffsetCommitRequest {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 9
	r.Group, r.MemberID, r.Generation = group, member, gen
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch = part, off, 1
	rt.Partitions = append(rt.Partitions, rp)
	r.Topics = append(r.Topics, rt)
	return r
}

func mustHandle(t testing.TB, c *Coordinator, req kmsg.Request) kmsg.Response {
	t.Helper()
	resp, err := c.Handle(context.Background(), req)
	if err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

func committed(c *Coordinator, group, topic string, part int32) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.groups[group]
	if !ok {
		return 0, false
	}
	o, ok := g.offsets[topicPartition{topic, part}]
	return o.offset, ok
}

func TestReloadRestoresOffsetsAndGroups(t *testing.T) {
	dir := t.TempDir()
	topics := map[string]int32{"a": 2, "b": 1}
	l := openLog(t, dir)
	c, err := New(testConfig(), l, topicsOf(topics), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		group string
		topic string
		part  int32
		off   int64
	}{{"solo", "a", 0, 5}, {"solo", "a", 0, 9}, {"solo", "a", 1, 3}, {"solo", "b", 0, 4}, {"gone", "a", 0, 1}} {
		resp := mustHandle(t, c, commitReq(tc.group, "", -1, tc.topic, tc.part, tc.off)).(*kmsg.OffsetCommitResponse)
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("commit %+v: error %d", tc, code)
		}
	}
	// A consumer group that reaches Stable.
	jr := kmsg.NewPtrJoinGroupRequest()
	jr.Version = 3
	jr.Group, jr.SessionTimeoutMillis, jr.RebalanceTimeoutMillis, jr.ProtocolType = "live", 60000, 60000, "consumer"
	jp := kmsg.NewJoinGroupRequestProtocol()
	jp.Name, jp.Metadata = "range", []byte("sub")
	jr.Protocols = append(jr.Protocols, jp)
	join := mustHandle(t, c, jr).(*kmsg.JoinGroupResponse)
	sr := kmsg.NewPtrSyncGroupRequest()
	sr.Group, sr.MemberID, sr.Generation = "live", join.MemberID, join.Generation
	ga := kmsg.NewSyncGroupRequestGroupAssignment()
	ga.MemberID, ga.MemberAssignment = join.MemberID, []byte("asg")
	sr.GroupAssignment = append(sr.GroupAssignment, ga)
	if s := mustHandle(t, c, sr).(*kmsg.SyncGroupResponse); s.ErrorCode != 0 {
		t.Fatalf("sync: %d", s.ErrorCode)
	}
	dg := kmsg.NewPtrDeleteGroupsRequest()
	dg.Groups = []string{"gone"}
	if r := mustHandle(t, c, dg).(*kmsg.DeleteGroupsResponse); r.Groups[0].ErrorCode != 0 {
		t.Fatalf("delete: %d", r.Groups[0].ErrorCode)
	}
	c.TopicDeleted("b")
	c.Close()
	l.Close()

	for round := range 2 { // the second round reloads what the first wrote
		l = openLog(t, dir)
		c, err = New(testConfig(), l, topicsOf(topics), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			group, topic string
			part         int32
			want         int64
			ok           bool
		}{
			{"solo", "a", 0, 9, true},
			{"solo", "a", 1, 3, true},
			{"solo", "b", 0, 0, false},
			{"gone", "a", 0, 0, false},
		} {
			got, ok := committed(c, tc.group, tc.topic, tc.part)
			if ok != tc.ok || got != tc.want {
				t.Errorf("round %d: %s %s-%d: got %d (%v), want %d (%v)", round, tc.group, tc.topic, tc.part, got, ok, tc.want, tc.ok)
			}
		}
		c.mu.Lock()
		g := c.groups["live"]
		if g == nil || g.state != stateStable || g.generation != join.Generation || len(g.members) != 1 ||
			string(g.members[join.MemberID].assignment) != "asg" || g.protocol != "range" {
			t.Errorf("round %d: group live not restored: %+v", round, g)
		}
		_, goneExists := c.groups["gone"]
		c.mu.Unlock()
		if goneExists {
			t.Errorf("round %d: deleted group came back", round)
		}
		// The restored member keeps heartbeating at its generation.
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Group, hb.MemberID, hb.Generation = "live", join.MemberID, join.Generation
		if r := mustHandle(t, c, hb).(*kmsg.HeartbeatResponse); r.ErrorCode != 0 {
			t.Errorf("round %d: heartbeat after reload: %d", round, r.ErrorCode)
		}
		c.Close()
		l.Close()
	}
}

func TestOffsetsOfDeletedTopicsDroppedOnLoad(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir)
	c, err := New(testConfig(), l, topicsOf(map[string]int32{"a": 1, "b": 1}), nil)
	if err != nil {
		t.Fatal(err)
	}
	mustHandle(t, c, commitReq("g", "", -1, "a", 0, 1))
	mustHandle(t, c, commitReq("g", "", -1, "b", 0, 2))
	c.Close()
	l.Close()
	// Topic b vanished while the broker was down.
	l = openLog(t, dir)
	defer l.Close()
	c, err = New(testConfig(), l, topicsOf(map[string]int32{"a": 1}), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := committed(c, "g", "b", 0); ok {
		t.Error("offset of a deleted topic was loaded")
	}
	if got, ok := committed(c, "g", "a", 0); !ok || got != 1 {
		t.Errorf("offset of a: %d %v", got, ok)
	}
}

func TestExpireOffsets(t *testing.T) {
	l := openLog(t, t.TempDir())
	defer l.Close()
	cfg := testConfig()
	cfg.OffsetsRetention = time.Hour
	c, err := New(cfg, l, topicsOf(map[string]int32{"a": 1}), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	now := time.Now()
	c.mu.Lock()
	c.now = func() time.Time { return now }
	c.mu.Unlock()
	mustHandle(t, c, commitReq("old", "", -1, "a", 0, 1))
	now = now.Add(50 * time.Minute)
	mustHandle(t, c, commitReq("new", "", -1, "a", 0, 2))
	now = now.Add(20 * time.Minute) // "old" is 70 minutes old, "new" 20
	c.expireOffsets()
	if _, ok := committed(c, "old", "a", 0); ok {
		t.Error("offset past retention survived")
	}
	c.mu.Lock()
	_, oldGroup := c.groups["old"]
	c.mu.Unlock()
	if oldGroup {
		t.Error("empty group without offsets survived")
	}
	if _, ok := committed(c, "new", "a", 0); !ok {
		t.Error("offset within retention expired")
	}
}

func TestEncodeDecodeBatchRoundTrip(t *testing.T) {
	recs := []storedRecord{
		offsetRecord("g", topicPartition{"t", 3}, offset{offset: 17, leaderEpoch: 2, metadata: "m", commitTime: 99}),
		offsetTombstone("g", topicPartition{"t", 4}),
		groupTombstone("g"),
	}
	b := encodeBatch(recs, 1234)
	h, err := commitlog.ParseBatchHeader(b)
	if err != nil {
		t.Fatalf("commitlog does not accept the batch: %v", err)
	}
	if h.NumRecords != 3 || h.Magic != 2 {
		t.Errorf("header %+v", h)
	}
	var got []storedRecord
	if err := decodeBatches(b, func(off int64, r storedRecord) { got = append(got, r) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || string(got[0].key) != string(recs[0].key) || string(got[0].value) != string(recs[0].value) || got[1].value != nil {
		t.Fatalf("round trip: %+v", got)
	}
	st := newLoaded()
	for i, r := range got {
		if err := st.apply(int64(i), r); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzDecodeStored feeds arbitrary bytes to the decoders of stored records:
// they must return errors, never panic.
func FuzzDecodeStored(f *testing.F) {
	f.Add(encodeBatch([]storedRecord{offsetRecord("g", topicPartition{"t", 0}, offset{offset: 1})}, 0))
	g := newGroup("g", time.Now())
	g.state, g.protocol = stateStable, "range"
	g.members["m"] = &member{id: "m", protocols: []protocol{{"range", []byte{1}}}, assignment: []byte{2}}
	f.Add(encodeBatch([]storedRecord{groupRecord(g), groupTombstone("g")}, 0))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		st := newLoaded()
		decodeBatches(b, func(off int64, r storedRecord) { st.apply(off, r) })
		// Also treat the input as a bare key and value.
		if len(b) > 2 {
			st.apply(0, storedRecord{key: b, value: b})
			st.apply(0, storedRecord{key: b[:len(b)/2], value: b[len(b)/2:]})
		}
	})
}

// TestCloseAnswersParkedRequests: Close stops timers and answers a JoinGroup
// parked in the initial rebalance delay instead of leaving it hanging.
func TestCloseAnswersParkedRequests(t *testing.T) {
	l := openLog(t, t.TempDir())
	defer l.Close()
	cfg := testConfig()
	cfg.InitialRebalanceDelay = time.Minute
	c, err := New(cfg, l, topicsOf(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	jr := kmsg.NewPtrJoinGroupRequest()
	jr.Version = 3
	jr.Group, jr.SessionTimeoutMillis, jr.RebalanceTimeoutMillis, jr.ProtocolType = "g", 60000, 120000, "consumer"
	jp := kmsg.NewJoinGroupRequestProtocol()
	jp.Name = "range"
	jr.Protocols = append(jr.Protocols, jp)
	done := make(chan *kmsg.JoinGroupResponse, 1)
	go func() {
		resp, _ := c.Handle(context.Background(), jr)
		done <- resp.(*kmsg.JoinGroupResponse)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		g := c.groups["g"]
		parked := g != nil && g.state == statePreparingRebalance
		c.mu.Unlock()
		if parked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("join never parked")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.Close()
	select {
	case resp := <-done:
		if resp.ErrorCode != 15 { // COORDINATOR_NOT_AVAILABLE
			t.Errorf("parked join answered with error %d, want COORDINATOR_NOT_AVAILABLE", resp.ErrorCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close left a JoinGroup parked")
	}
	// After Close every API answers without blocking.
	resp, err := c.Handle(context.Background(), jr)
	if err != nil || resp.(*kmsg.JoinGroupResponse).ErrorCode != 15 {
		t.Errorf("join after Close: %v %+v", err, resp)
	}
}

// TestReloadAfterCompaction: many commits over small segments, compacted by
// the log's own Maintain, still reload to the last committed offsets.
func TestReloadAfterCompaction(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "__consumer_offsets-0")
	cfg := commitlog.DefaultConfig()
	cfg.CleanupPolicy = "compact"
	cfg.SegmentBytes = 4096
	cfg.MinCleanableDirtyRatio = 0.01
	open := func() *commitlog.Log {
		l, err := commitlog.Open(dir, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open()
	c, err := New(testConfig(), l, topicsOf(map[string]int32{"t": 4}), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	for i := range 400 {
		p := int32(i % 4)
		mustHandle(t, c, commitReq("g", "", -1, "t", p, int64(i)))
		want[p] = int64(i)
	}
	c.Close()
	before := l.Size()
	if err := l.Maintain(time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("compacting: %v", err)
	}
	t.Logf("__consumer_offsets: %d bytes before compaction, %d after", before, l.Size())
	l.Close()

	l = open()
	defer l.Close()
	c, err = New(testConfig(), l, topicsOf(map[string]int32{"t": 4}), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for p, off := range want {
		if got, ok := committed(c, "g", "t", p); !ok || got != off {
			t.Errorf("partition %d after compaction and reload: %d (%v), want %d", p, got, ok, off)
		}
	}
}
