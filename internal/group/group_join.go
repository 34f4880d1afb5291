package group

// JoinGroup (key 11): v0-v9. v1+ carries a rebalance timeout (v0 uses the
// session timeout); v4+ makes a new member rejoin with the member id it is
// handed (MEMBER_ID_REQUIRED); v5+ adds group.instance.id (static
// membership: a known instance rejoining with a new member id takes its old
// place without a rebalance); v7+ returns the protocol type; v9 tells a
// static leader it may skip assigning.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (c *Coordinator) joinGroup(ctx context.Context, req *kmsg.JoinGroupRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	fill := func(r joinResult) {
		resp.ErrorCode = r.errCode
		resp.Generation = r.generation
		resp.MemberID = r.memberID
		resp.LeaderID = r.leader
		resp.Members = r.members
		resp.SkipAssignment = r.skipAssign
		if r.errCode == 0 {
			pt, p := r.protoType, r.protocol
			resp.ProtocolType, resp.Protocol = &pt, &p
		}
	}
	ci := clientFrom(ctx)
	clientID := ci.ID // from the request header, passed by the broker
	protos := make([]protocol, 0, len(req.Protocols))
	for _, p := range req.Protocols {
		protos = append(protos, protocol{name: p.Name, metadata: p.Metadata})
	}
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	rebalance := time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	if req.Version == 0 || rebalance <= 0 {
		rebalance = session
	}
	jr := joinRequest{
		group: req.Group, memberID: req.MemberID, instanceID: req.InstanceID,
		clientID: clientID, clientHost: ci.Host,
		session: session, rebalance: rebalance,
		protoType: req.ProtocolType, protos: protos,
		requireKnownID: req.Version >= 4,
		version:        req.Version,
	}

	c.mu.Lock()
	ch, res := c.joinLocked(jr)
	c.mu.Unlock()
	if ch == nil {
		fill(res)
		return resp, nil
	}
	select {
	case r := <-ch:
		fill(r)
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.stop:
		fill(joinResult{errCode: kerr.CoordinatorNotAvailable.Code, generation: -1, memberID: req.MemberID})
	}
	return resp, nil
}

type joinRequest struct {
	group, memberID      string
	instanceID           *string
	clientID, clientHost string
	session, rebalance   time.Duration
	protoType            string
	protos               []protocol
	requireKnownID       bool
	version              int16
}

// joinLocked handles a JoinGroup under c.mu. It returns either a channel
// the answer will arrive on, or the immediate answer.
func (c *Coordinator) joinLocked(r joinRequest) (chan joinResult, joinResult) {
	fail := func(code int16) (chan joinResult, joinResult) {
		return nil, joinResult{errCode: code, generation: -1, memberID: r.memberID}
	}
	switch {
	case c.closed:
		return fail(kerr.CoordinatorNotAvailable.Code)
	case r.group == "":
		return fail(kerr.InvalidGroupID.Code)
	case r.session < c.cfg.MinSessionTimeout || r.session > c.cfg.MaxSessionTimeout:
		return fail(kerr.InvalidSessionTimeout.Code)
	case r.instanceID != nil && *r.instanceID == "":
		return fail(kerr.InvalidRequest.Code)
	}
	g, ok := c.groups[r.group]
	if !ok {
		if r.memberID != "" {
			return fail(kerr.UnknownMemberID.Code)
		}
		g = newGroup(r.group, c.now())
		c.groups[r.group] = g
	}
	if g.state == stateDead {
		return fail(kerr.CoordinatorNotAvailable.Code)
	}
	if !g.supportsProtocols(r.protoType, r.protos) {
		return fail(kerr.InconsistentGroupProtocol.Code)
	}

	if r.memberID == "" {
		if r.instanceID != nil {
			if old, ok := g.static[*r.instanceID]; ok {
				return c.rejoinStatic(g, g.members[old], r)
			}
			m := c.newMember(r, newMemberID(*r.instanceID))
			return c.addAndJoin(g, m)
		}
		id := newMemberID(r.clientID)
		if r.requireKnownID {
			c.addPending(g, id, r.session)
			return nil, joinResult{errCode: kerr.MemberIDRequired.Code, generation: -1, memberID: id}
		}
		return c.addAndJoin(g, c.newMember(r, id))
	}

	if t, ok := g.pending[r.memberID]; ok {
		t.Stop()
		delete(g.pending, r.memberID)
		return c.addAndJoin(g, c.newMember(r, r.memberID))
	}
	m, ok := g.members[r.memberID]
	if r.instanceID != nil {
		if cur, known := g.static[*r.instanceID]; known && cur != r.memberID {
			return fail(kerr.FencedInstanceID.Code)
		}
	}
	if !ok {
		return fail(kerr.UnknownMemberID.Code)
	}
	switch g.state {
	case statePreparingRebalance:
		return c.updateAndJoin(g, m, r)
	case stateCompletingRebalance:
		if sameProtocols(m.protocols, r.protos) {
			// A retried join: answer as the join phase did.
			return nil, c.currentJoinResult(g, m)
		}
		c.updateMember(m, r)
		c.prepareRebalance(g, "member changed protocols")
		return c.joinWaiter(g, m)
	case stateStable:
		if m.id == g.leader || !sameProtocols(m.protocols, r.protos) {
			c.updateMember(m, r)
			c.prepareRebalance(g, "leader or member rejoined")
			return c.joinWaiter(g, m)
		}
		return nil, c.currentJoinResult(g, m)
	default:
		return fail(kerr.UnknownMemberID.Code)
	}
}

func (c *Coordinator) newMember(r joinRequest, id string) *member {
	return &member{
		id: id, instanceID: r.instanceID, clientID: r.clientID, clientHost: r.clientHost,
		sessionTimeout: r.session, rebalanceTimeout: r.rebalance,
		protocolType: r.protoType, protocols: r.protos,
	}
}

func (c *Coordinator) updateMember(m *member, r joinRequest) {
	m.protocols = r.protos
	m.sessionTimeout, m.rebalanceTimeout = r.session, r.rebalance
	if r.clientID != "" {
		m.clientID = r.clientID
	}
	m.clientHost = r.clientHost
}

// joinWaiter parks a member in the current join phase.
func (c *Coordinator) joinWaiter(g *group, m *member) (chan joinResult, joinResult) {
	ch := make(chan joinResult, 1)
	m.joinWaiters = append(m.joinWaiters, ch)
	m.joined = true
	if m.timer != nil {
		m.timer.Stop()
	}
	c.maybeCompleteJoin(g)
	return ch, joinResult{}
}

func (c *Coordinator) addAndJoin(g *group, m *member) (chan joinResult, joinResult) {
	g.addMember(m)
	ch, _ := c.joinWaiter(g, m)
	if g.state != statePreparingRebalance {
		c.prepareRebalance(g, "member joined")
	} else {
		c.maybeCompleteJoin(g)
	}
	return ch, joinResult{}
}

func (c *Coordinator) updateAndJoin(g *group, m *member, r joinRequest) (chan joinResult, joinResult) {
	c.updateMember(m, r)
	return c.joinWaiter(g, m)
}

func (c *Coordinator) currentJoinResult(g *group, m *member) joinResult {
	res := joinResult{
		generation: g.generation, protoType: g.protocolType, protocol: g.protocol,
		leader: g.leader, memberID: m.id,
	}
	if m.id == g.leader {
		for _, o := range g.members {
			jm := kmsg.NewJoinGroupResponseMember()
			jm.MemberID = o.id
			jm.InstanceID = o.instanceID
			jm.ProtocolMetadata = o.metadataFor(g.protocol)
			res.members = append(res.members, jm)
		}
	}
	c.resetSession(g, m)
	return res
}

// rejoinStatic handles a known group.instance.id joining with no member id:
// a restarted static member. It takes over the old member's place under a
// new member id; the old id is fenced. A Stable group whose selected
// protocol stays the same does not rebalance.
func (c *Coordinator) rejoinStatic(g *group, old *member, r joinRequest) (chan joinResult, joinResult) {
	newID := newMemberID(*r.instanceID)
	for _, w := range old.joinWaiters {
		w <- joinResult{errCode: kerr.FencedInstanceID.Code, generation: -1, memberID: old.id}
	}
	for _, w := range old.syncWaiters {
		w <- syncResult{errCode: kerr.FencedInstanceID.Code}
	}
	old.joinWaiters, old.syncWaiters = nil, nil
	delete(g.members, old.id)
	wasLeader := g.leader == old.id
	oldID := old.id
	old.id = newID
	g.members[newID] = old
	g.static[*r.instanceID] = newID
	if wasLeader {
		g.leader = newID
	}
	c.updateMember(old, r)
	switch g.state {
	case statePreparingRebalance:
		return c.joinWaiter(g, old)
	case stateStable, stateCompletingRebalance:
		// As Kafka does, a static member rejoining a Stable group
		// causes no rebalance unless it would change the selected
		// protocol; it gets its old assignment back in SyncGroup.
		if g.state == stateStable && g.selectProtocol() == g.protocol {
			c.persistGroup(g)
			res := c.currentJoinResult(g, old)
			if wasLeader {
				if r.version >= 9 {
					res.skipAssign = true // KIP-814: the leader knows the members but must not reassign
				} else {
					// Older clients would reassign; name the old
					// leader id so they act as a follower.
					res.leader, res.members = oldID, nil
				}
			}
			return nil, res
		}
		c.prepareRebalance(g, "static member rejoined")
		return c.joinWaiter(g, old)
	default: // Empty: a loaded static member with no live group
		c.prepareRebalance(g, "static member rejoined")
		return c.joinWaiter(g, old)
	}
}
