package group_test

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel/runnel/internal/testutil"
)

// rawConn speaks the Kafka protocol at exact versions over one socket.
type rawConn struct {
	t    testing.TB
	nc   net.Conn
	r    *bufio.Reader
	fmt  *kmsg.RequestFormatter
	corr int32
}

func dial(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, r: bufio.NewReader(nc), fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw-test"))}
}

// do sends req at its Version and decodes the response. Safe to call from
// another goroutine than the test's (it reports with Error, not Fatal).
func (c *rawConn) do(req kmsg.Request) kmsg.Response {
	c.corr++
	buf := c.fmt.AppendRequest(nil, req, c.corr)
	c.nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.nc.Write(buf); err != nil {
		c.t.Errorf("writing %s: %v", kmsg.NameForKey(req.Key()), err)
		return nil
	}
	var size [4]byte
	if _, err := io.ReadFull(c.r, size[:]); err != nil {
		c.t.Errorf("reading %s response: %v", kmsg.NameForKey(req.Key()), err)
		return nil
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.r, body); err != nil {
		c.t.Errorf("reading %s response: %v", kmsg.NameForKey(req.Key()), err)
		return nil
	}
	body = body[4:] // correlation id
	resp := req.ResponseKind()
	if resp.IsFlexible() {
		body = body[1:] // empty tagged fields of the response header
	}
	if err := resp.ReadFrom(body); err != nil {
		c.t.Errorf("decoding %s response: %v", kmsg.NameForKey(req.Key()), err)
		return nil
	}
	return resp
}

func joinReq(version int16, group, member string, instance *string, session time.Duration) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version = version
	r.Group, r.MemberID, r.InstanceID = group, member, instance
	r.SessionTimeoutMillis = int32(session / time.Millisecond)
	r.RebalanceTimeoutMillis = 5000
	r.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", []byte{0, 1}
	r.Protocols = append(r.Protocols, p)
	return r
}

func (c *rawConn) join(version int16, group, member string, instance *string, session time.Duration) *kmsg.JoinGroupResponse {
	resp, _ := c.do(joinReq(version, group, member, instance, session)).(*kmsg.JoinGroupResponse)
	if resp == nil {
		c.t.FailNow()
	}
	return resp
}

func (c *rawConn) joinAsync(version int16, group, member string, instance *string, session time.Duration) chan *kmsg.JoinGroupResponse {
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	go func() {
		resp, _ := c.do(joinReq(version, group, member, instance, session)).(*kmsg.JoinGroupResponse)
		ch <- resp
	}()
	return ch
}

func (c *rawConn) sync(group, member string, gen int32, assign map[string][]byte) *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version = 3
	r.Group, r.MemberID, r.Generation = group, member, gen
	for id, a := range assign {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID, ga.MemberAssignment = id, a
		r.GroupAssignment = append(r.GroupAssignment, ga)
	}
	resp, _ := c.do(r).(*kmsg.SyncGroupResponse)
	if resp == nil {
		c.t.FailNow()
	}
	return resp
}

func (c *rawConn) heartbeat(group, member string, instance *string, gen int32) int16 {
	r := kmsg.NewPtrHeartbeatRequest()
	r.Version = 4
	r.Group, r.MemberID, r.InstanceID, r.Generation = group, member, instance, gen
	resp, _ := c.do(r).(*kmsg.HeartbeatResponse)
	if resp == nil {
		c.t.FailNow()
	}
	return resp.ErrorCode
}

func (c *rawConn) describe(group string) kmsg.DescribeGroupsResponseGroup {
	r := kmsg.NewPtrDescribeGroupsRequest()
	r.Version = 5
	r.Groups = []string{group}
	resp := c.do(r).(*kmsg.DescribeGroupsResponse)
	return resp.Groups[0]
}

func wantCode(t testing.TB, what string, got int16, want *kerr.Error) {
	t.Helper()
	var code int16
	if want != nil {
		code = want.Code
	}
	if got != code {
		t.Errorf("%s: error %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

func TestJoinMemberIDRequiredOnlyFromV4(t *testing.T) {
	addr := testutil.RunBroker(t, testutil.WithSettings(fastGroups...))
	for _, tc := range []struct {
		version      int16
		wantRequired bool
	}{{0, false}, {3, false}, {4, true}, {9, true}} {
		c := dial(t, addr)
		group := "g-v" + string(rune('0'+tc.version))
		resp := c.join(tc.version, group, "", nil, 6*time.Second)
		if tc.wantRequired {
			wantCode(t, "first join", resp.ErrorCode, kerr.MemberIDRequired)
			if resp.MemberID == "" {
				t.Fatalf("v%d: MEMBER_ID_REQUIRED without a member id", tc.version)
			}
			resp = c.join(tc.version, group, resp.MemberID, nil, 6*time.Second)
		}
		wantCode(t, "join", resp.ErrorCode, nil)
		if resp.Generation != 1 || resp.LeaderID != resp.MemberID || len(resp.Members) != 1 {
			t.Errorf("v%d: generation %d leader %q member %q members %d", tc.version, resp.Generation, resp.LeaderID, resp.MemberID, len(resp.Members))
		}
		if tc.version >= 7 && (resp.Protocol == nil || *resp.Protocol != "range") {
			t.Errorf("v%d: protocol %v", tc.version, resp.Protocol)
		}
	}
}

func TestGenerationFencingAndRebalance(t *testing.T) {
	addr := testutil.RunBroker(t, testutil.WithSettings(fastGroups...))
	a, b := dial(t, addr), dial(t, addr)
	ja := a.join(3, "g", "", nil, 10*time.Second)
	wantCode(t, "join a", ja.ErrorCode, nil)
	sa := a.sync("g", ja.MemberID, ja.Generation, map[string][]byte{ja.MemberID: []byte("all")})
	wantCode(t, "sync a", sa.ErrorCode, nil)
	if string(sa.MemberAssignment) != "all" {
		t.Errorf("assignment %q", sa.MemberAssignment)
	}

	for _, tc := range []struct {
		name   string
		member string
		gen    int32
		want   *kerr.Error
	}{
		{"current", ja.MemberID, ja.Generation, nil},
		{"stale generation", ja.MemberID, ja.Generation - 1, kerr.IllegalGeneration},
		{"unknown member", "nobody", ja.Generation, kerr.UnknownMemberID},
	} {
		wantCode(t, "heartbeat "+tc.name, a.heartbeat("g", tc.member, nil, tc.gen), tc.want)
	}
	if code := a.sync("g", ja.MemberID, 7, nil).ErrorCode; code != kerr.IllegalGeneration.Code {
		t.Errorf("sync with wrong generation: %v", kerr.ErrorForCode(code))
	}

	// b joins: a learns of the rebalance from its heartbeat and rejoins.
	jbc := b.joinAsync(3, "g", "", nil, 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for a.heartbeat("g", ja.MemberID, nil, ja.Generation) != kerr.RebalanceInProgress.Code {
		if time.Now().After(deadline) {
			t.Fatal("heartbeat never said REBALANCE_IN_PROGRESS")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Old-generation commits are refused once the new generation exists.
	ja2 := a.join(3, "g", ja.MemberID, nil, 10*time.Second)
	jb := <-jbc
	if jb == nil {
		t.FailNow()
	}
	wantCode(t, "rejoin a", ja2.ErrorCode, nil)
	wantCode(t, "join b", jb.ErrorCode, nil)
	if ja2.Generation != 2 || jb.Generation != 2 {
		t.Fatalf("generations %d and %d, want 2", ja2.Generation, jb.Generation)
	}
	if ja2.LeaderID != ja.MemberID || len(ja2.Members) != 2 || len(jb.Members) != 0 {
		t.Errorf("leader %q (want %q), leader sees %d members, follower %d", ja2.LeaderID, ja.MemberID, len(ja2.Members), len(jb.Members))
	}
	wantCode(t, "heartbeat old generation", a.heartbeat("g", ja.MemberID, nil, 1), kerr.IllegalGeneration)

	// b's sync parks until the leader's arrives.
	sbc := make(chan *kmsg.SyncGroupResponse, 1)
	go func() {
		r := kmsg.NewPtrSyncGroupRequest()
		r.Version = 5
		r.Group, r.MemberID, r.Generation = "g", jb.MemberID, 2
		pt, p := "consumer", "range"
		r.ProtocolType, r.Protocol = &pt, &p
		resp, _ := b.do(r).(*kmsg.SyncGroupResponse)
		sbc <- resp
	}()
	time.Sleep(50 * time.Millisecond)
	sa2 := a.sync("g", ja.MemberID, 2, map[string][]byte{ja.MemberID: []byte("A"), jb.MemberID: []byte("B")})
	sb := <-sbc
	if sb == nil {
		t.FailNow()
	}
	if string(sa2.MemberAssignment) != "A" || string(sb.MemberAssignment) != "B" {
		t.Errorf("assignments %q and %q", sa2.MemberAssignment, sb.MemberAssignment)
	}
	if d := a.describe("g"); d.State != "Stable" || len(d.Members) != 2 || d.Protocol != "range" {
		t.Errorf("describe: state %s, %d members, protocol %q", d.State, len(d.Members), d.Protocol)
	}

	// b leaves (v3+ batch form): a must rejoin; then a leaves: Empty.
	lr := kmsg.NewPtrLeaveGroupRequest()
	lr.Version = 5
	lr.Group = "g"
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = jb.MemberID
	lr.Members = append(lr.Members, lm)
	lresp := b.do(lr).(*kmsg.LeaveGroupResponse)
	if lresp.ErrorCode != 0 || len(lresp.Members) != 1 || lresp.Members[0].ErrorCode != 0 {
		t.Fatalf("leave: %+v", lresp)
	}
	wantCode(t, "heartbeat after leave", a.heartbeat("g", ja.MemberID, nil, 2), kerr.RebalanceInProgress)
	ja3 := a.join(3, "g", ja.MemberID, nil, 10*time.Second)
	if ja3.Generation != 3 || len(ja3.Members) != 1 {
		t.Errorf("after leave: generation %d with %d members", ja3.Generation, len(ja3.Members))
	}
	lr0 := kmsg.NewPtrLeaveGroupRequest()
	lr0.Version = 0
	lr0.Group, lr0.MemberID = "g", ja.MemberID
	wantCode(t, "leave v0", a.do(lr0).(*kmsg.LeaveGroupResponse).ErrorCode, nil)
	if d := a.describe("g"); d.State != "Empty" || len(d.Members) != 0 {
		t.Errorf("after everyone left: state %s, %d members", d.State, len(d.Members))
	}
}

func TestSessionExpiry(t *testing.T) {
	addr := testutil.RunBroker(t, testutil.WithSettings(fastGroups...))
	a := dial(t, addr)
	ja := a.join(3, "g", "", nil, 200*time.Millisecond)
	a.sync("g", ja.MemberID, ja.Generation, nil)
	deadline := time.Now().Add(10 * time.Second)
	for a.describe("g").State != "Empty" {
		if time.Now().After(deadline) {
			t.Fatal("member without heartbeats never expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantCode(t, "heartbeat after expiry", a.heartbeat("g", ja.MemberID, nil, ja.Generation), kerr.UnknownMemberID)
	wantCode(t, "session below minimum", a.join(3, "g2", "", nil, 50*time.Millisecond).ErrorCode, kerr.InvalidSessionTimeout)
}

func TestStaticMemberRestartDoesNotRebalance(t *testing.T) {
	addr := testutil.RunBroker(t, testutil.WithSettings(fastGroups...))
	inst := "worker-1"
	a, b := dial(t, addr), dial(t, addr)
	jac := a.joinAsync(5, "g", "", &inst, 10*time.Second)
	time.Sleep(20 * time.Millisecond)
	ja := <-jac
	other := "worker-2"
	jbc := b.joinAsync(5, "g", "", &other, 10*time.Second)
	// a must rejoin for b's arrival.
	for a.heartbeat("g", ja.MemberID, &inst, ja.Generation) != kerr.RebalanceInProgress.Code {
		time.Sleep(10 * time.Millisecond)
	}
	ja = a.join(5, "g", ja.MemberID, &inst, 10*time.Second)
	jb := <-jbc
	leader, follower := a, b
	lj, fj := ja, jb
	lInst, fInst := inst, other
	if jb.LeaderID == jb.MemberID {
		leader, follower, lj, fj = b, a, jb, ja
		lInst, fInst = other, inst
	}
	synced := make(chan struct{})
	go func() {
		defer close(synced)
		follower.sync("g", fj.MemberID, fj.Generation, nil)
	}()
	leader.sync("g", lj.MemberID, lj.Generation, map[string][]byte{lj.MemberID: []byte("L"), fj.MemberID: []byte("F")})
	<-synced

	// The follower restarts: a new connection, same instance id, no member id.
	c := dial(t, addr)
	rj := c.join(5, "g", "", &fInst, 10*time.Second)
	wantCode(t, "static rejoin", rj.ErrorCode, nil)
	if rj.Generation != fj.Generation || rj.MemberID == fj.MemberID {
		t.Errorf("static rejoin: generation %d (was %d), member id %q (was %q)", rj.Generation, fj.Generation, rj.MemberID, fj.MemberID)
	}
	if s := c.sync("g", rj.MemberID, rj.Generation, nil); s.ErrorCode != 0 || string(s.MemberAssignment) != "F" {
		t.Errorf("static rejoin sync: %v %q", kerr.ErrorForCode(s.ErrorCode), s.MemberAssignment)
	}
	wantCode(t, "leader heartbeat", leader.heartbeat("g", lj.MemberID, &lInst, lj.Generation), nil)
	wantCode(t, "old incarnation", follower.heartbeat("g", fj.MemberID, &fInst, fj.Generation), kerr.FencedInstanceID)
}

func TestOffsetCommitRules(t *testing.T) {
	addr := testutil.RunBroker(t, testutil.WithSettings(fastGroups...))
	cl := newClient(t, addr)
	createTopic(t, kadm.NewClient(cl), "t", 2)
	a := dial(t, addr)
	commit := func(group, member string, gen int32, topic string, part int32, off int64) int16 {
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Version = 8
		r.Group, r.MemberID, r.Generation = group, member, gen
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = part, off, 3
		md := "meta"
		rp.Metadata = &md
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		resp := a.do(r).(*kmsg.OffsetCommitResponse)
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	wantCode(t, "standalone commit", commit("solo", "", -1, "t", 0, 42), nil)
	wantCode(t, "unknown topic", commit("solo", "", -1, "nope", 0, 1), kerr.UnknownTopicOrPartition)
	wantCode(t, "unknown partition", commit("solo", "", -1, "t", 5, 1), kerr.UnknownTopicOrPartition)
	wantCode(t, "member commit to unknown group", commit("ghost", "m", 1, "t", 0, 1), kerr.IllegalGeneration)

	ja := a.join(3, "g", "", nil, 10*time.Second)
	a.sync("g", ja.MemberID, ja.Generation, nil)
	wantCode(t, "member commit", commit("g", ja.MemberID, ja.Generation, "t", 1, 7), nil)
	wantCode(t, "stale generation", commit("g", ja.MemberID, ja.Generation+1, "t", 1, 8), kerr.IllegalGeneration)
	wantCode(t, "unknown member", commit("g", "x", ja.Generation, "t", 1, 8), kerr.UnknownMemberID)
	wantCode(t, "standalone while members", commit("g", "", -1, "t", 1, 8), kerr.UnknownMemberID)

	// OffsetFetch v8: two groups in one request; v1 one group.
	f := kmsg.NewPtrOffsetFetchRequest()
	f.Version = 8
	for _, g := range []string{"solo", "g", "none"} {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = g
		f.Groups = append(f.Groups, rg)
	}
	fr := a.do(f).(*kmsg.OffsetFetchResponse)
	if len(fr.Groups) != 3 {
		t.Fatalf("offset fetch v8: %d groups", len(fr.Groups))
	}
	got := map[string]int64{}
	for _, g := range fr.Groups {
		for _, tp := range g.Topics {
			for _, p := range tp.Partitions {
				got[g.Group] = p.Offset
				if p.LeaderEpoch != 3 || p.Metadata == nil || *p.Metadata != "meta" {
					t.Errorf("group %s: epoch %d metadata %v", g.Group, p.LeaderEpoch, p.Metadata)
				}
			}
		}
	}
	if got["solo"] != 42 || got["g"] != 7 || len(got) != 2 {
		t.Errorf("offset fetch v8: %v", got)
	}
	f1 := kmsg.NewPtrOffsetFetchRequest()
	f1.Version = 1
	f1.Group = "g"
	ft := kmsg.NewOffsetFetchRequestTopic()
	ft.Topic, ft.Partitions = "t", []int32{0, 1}
	f1.Topics = append(f1.Topics, ft)
	fr1 := a.do(f1).(*kmsg.OffsetFetchResponse)
	if ps := fr1.Topics[0].Partitions; ps[0].Offset != -1 || ps[1].Offset != 7 {
		t.Errorf("offset fetch v1: %+v", ps)
	}

	// DeleteGroups: refused while members, GROUP_ID_NOT_FOUND for unknown.
	del := func(g string) int16 {
		r := kmsg.NewPtrDeleteGroupsRequest()
		r.Version = 2
		r.Groups = []string{g}
		return a.do(r).(*kmsg.DeleteGroupsResponse).Groups[0].ErrorCode
	}
	wantCode(t, "delete non-empty", del("g"), kerr.NonEmptyGroup)
	wantCode(t, "delete unknown", del("ghost"), kerr.GroupIDNotFound)
	wantCode(t, "delete empty", del("solo"), nil)
	wantCode(t, "delete again", del("solo"), kerr.GroupIDNotFound)

	// ListGroups v4 with a state filter.
	lg := kmsg.NewPtrListGroupsRequest()
	lg.Version = 4
	lg.StatesFilter = []string{"Stable"}
	lresp := a.do(lg).(*kmsg.ListGroupsResponse)
	if len(lresp.Groups) != 1 || lresp.Groups[0].Group != "g" {
		t.Errorf("list Stable groups: %+v", lresp.Groups)
	}

	// ListGroups v5 with a type filter: runnel's groups are "classic".
	for _, tc := range []struct {
		types []string
		want  int
	}{{[]string{"consumer", "classic"}, 1}, {[]string{"share"}, 0}, {nil, 1}} {
		lt := kmsg.NewPtrListGroupsRequest()
		lt.Version = 5
		lt.TypesFilter = tc.types
		if got := len(a.do(lt).(*kmsg.ListGroupsResponse).Groups); got != tc.want {
			t.Errorf("list groups of types %v: %d groups, want %d", tc.types, got, tc.want)
		}
	}

	// FindCoordinator v4 batches keys.
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version = 4
	fc.CoordinatorKeys = []string{"a", "b"}
	fcr := a.do(fc).(*kmsg.FindCoordinatorResponse)
	if len(fcr.Coordinators) != 2 || fcr.Coordinators[1].Key != "b" || fcr.Coordinators[0].Port <= 0 {
		t.Errorf("find coordinator v4: %+v", fcr.Coordinators)
	}
}

func TestInitialRebalanceDelayGathersMembers(t *testing.T) {
	addr := testutil.RunBroker(t, testutil.WithSettings("group.initial.rebalance.delay.ms", "500", "group.min.session.timeout.ms", "100"))
	a, b := dial(t, addr), dial(t, addr)
	jac := a.joinAsync(3, "g", "", nil, 10*time.Second)
	time.Sleep(100 * time.Millisecond)
	jbc := b.joinAsync(3, "g", "", nil, 10*time.Second)
	ja, jb := <-jac, <-jbc
	if ja == nil || jb == nil {
		t.FailNow()
	}
	if ja.Generation != 1 || jb.Generation != 1 {
		t.Errorf("members joining within the initial delay got generations %d and %d, want both 1", ja.Generation, jb.Generation)
	}
}

func TestProtocolSelection(t *testing.T) {
	addr := testutil.RunBroker(t, testutil.WithSettings("group.initial.rebalance.delay.ms", "300", "group.min.session.timeout.ms", "100"))
	withProtos := func(group string, names ...string) *kmsg.JoinGroupRequest {
		r := joinReq(3, group, "", nil, 10*time.Second)
		r.Protocols = nil
		for _, n := range names {
			p := kmsg.NewJoinGroupRequestProtocol()
			p.Name, p.Metadata = n, []byte(n)
			r.Protocols = append(r.Protocols, p)
		}
		return r
	}
	for _, tc := range []struct {
		name    string
		members [][]string
		want    string
	}{
		{"only common one", [][]string{{"sticky", "range"}, {"roundrobin", "range"}}, "range"},
		{"most preferred", [][]string{{"cooperative-sticky", "range"}, {"cooperative-sticky", "range"}, {"range", "cooperative-sticky"}}, "cooperative-sticky"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var chans []chan kmsg.Response
			for _, ps := range tc.members {
				c := dial(t, addr)
				ch := make(chan kmsg.Response, 1)
				go func() { ch <- c.do(withProtos(tc.name, ps...)) }()
				chans = append(chans, ch)
			}
			for i, ch := range chans {
				r, _ := (<-ch).(*kmsg.JoinGroupResponse)
				if r == nil || r.ErrorCode != 0 || r.Protocol == nil || *r.Protocol != tc.want {
					t.Fatalf("member %d: %+v, want protocol %s", i, r, tc.want)
				}
			}
		})
	}
	t.Run("none in common", func(t *testing.T) {
		a, b := dial(t, addr), dial(t, addr)
		ch := make(chan kmsg.Response, 1)
		go func() { ch <- a.do(withProtos("nocommon", "range")) }()
		time.Sleep(50 * time.Millisecond)
		rb := b.do(withProtos("nocommon", "roundrobin")).(*kmsg.JoinGroupResponse)
		wantCode(t, "join with no common protocol", rb.ErrorCode, kerr.InconsistentGroupProtocol)
		if ra := (<-ch).(*kmsg.JoinGroupResponse); ra.ErrorCode != 0 {
			t.Errorf("first member: %v", kerr.ErrorForCode(ra.ErrorCode))
		}
	})
}

func TestRebalanceTimeoutDropsSilentMember(t *testing.T) {
	addr := testutil.RunBroker(t, testutil.WithSettings(fastGroups...))
	a, b := dial(t, addr), dial(t, addr)
	short := func(member string) *kmsg.JoinGroupRequest {
		r := joinReq(3, "g", member, nil, 10*time.Second)
		r.RebalanceTimeoutMillis = 300
		return r
	}
	ja := a.do(short("")).(*kmsg.JoinGroupResponse)
	a.sync("g", ja.MemberID, ja.Generation, nil)
	// b joins: a must rejoin within the rebalance timeout but stays silent.
	start := time.Now()
	jb := b.do(short("")).(*kmsg.JoinGroupResponse)
	if jb.ErrorCode != 0 || jb.Generation != 2 || jb.LeaderID != jb.MemberID || len(jb.Members) != 1 {
		t.Fatalf("join after the silent member's timeout: %+v", jb)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("rebalance completed after %v, before the 300ms rebalance timeout", d)
	}
	wantCode(t, "silent member's heartbeat", a.heartbeat("g", ja.MemberID, nil, 2), kerr.UnknownMemberID)
}

func TestStaticMemberLeaveByInstanceID(t *testing.T) {
	addr := testutil.RunBroker(t, testutil.WithSettings(fastGroups...))
	a := dial(t, addr)
	inst := "pod-7"
	ja := a.join(5, "g", "", &inst, 10*time.Second)
	a.sync("g", ja.MemberID, ja.Generation, nil)
	lr := kmsg.NewPtrLeaveGroupRequest()
	lr.Version = 4
	lr.Group = "g"
	for _, tc := range []struct {
		member string
		want   *kerr.Error
	}{{"someone-else", kerr.FencedInstanceID}, {"", nil}} {
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID, m.InstanceID = tc.member, &inst
		lr.Members = []kmsg.LeaveGroupRequestMember{m}
		resp := a.do(lr).(*kmsg.LeaveGroupResponse)
		wantCode(t, "leave as "+tc.member, resp.Members[0].ErrorCode, tc.want)
	}
	if d := a.describe("g"); d.State != "Empty" {
		t.Errorf("after the static member left: %s", d.State)
	}
}
