package group

// SyncGroup (key 14): v0-v5. Members send it after JoinGroup; the leader's
// carries the assignment. Every member's SyncGroup parks until the leader's
// arrives, then each gets its own assignment and the group is Stable. v3+
// adds group.instance.id; v5 adds protocol type and name, which must match
// the group's (INCONSISTENT_GROUP_PROTOCOL otherwise).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (c *Coordinator) syncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	c.mu.Lock()
	ch, res, pt, p := c.syncLocked(req)
	c.mu.Unlock()
	if ch != nil {
		select {
		case res = <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.stop:
			res = syncResult{errCode: kerr.CoordinatorNotAvailable.Code}
		}
	}
	resp.ErrorCode = res.errCode
	resp.MemberAssignment = res.assignment
	if res.errCode == 0 {
		resp.ProtocolType, resp.Protocol = &pt, &p
	}
	return resp, nil
}

// syncLocked expects c.mu held.
func (c *Coordinator) syncLocked(req *kmsg.SyncGroupRequest) (chan syncResult, syncResult, string, string) {
	fail := func(code int16) (chan syncResult, syncResult, string, string) {
		return nil, syncResult{errCode: code}, "", ""
	}
	if c.closed {
		return fail(kerr.CoordinatorNotAvailable.Code)
	}
	g, ok := c.groups[req.Group]
	if !ok {
		return fail(kerr.UnknownMemberID.Code)
	}
	if code := g.checkMember(req.MemberID, req.InstanceID, req.Generation); code != 0 {
		return fail(code)
	}
	if (req.ProtocolType != nil && *req.ProtocolType != g.protocolType) ||
		(req.Protocol != nil && *req.Protocol != g.protocol) {
		return fail(kerr.InconsistentGroupProtocol.Code)
	}
	m := g.members[req.MemberID]
	switch g.state {
	case statePreparingRebalance:
		return fail(kerr.RebalanceInProgress.Code)
	case stateStable:
		c.resetSession(g, m)
		return nil, syncResult{assignment: m.assignment}, g.protocolType, g.protocol
	case stateCompletingRebalance:
	default:
		return fail(kerr.UnknownMemberID.Code)
	}
	ch := make(chan syncResult, 1)
	m.syncWaiters = append(m.syncWaiters, ch)
	c.resetSession(g, m)
	if m.id == g.leader {
		assigned := make(map[string][]byte, len(req.GroupAssignment))
		for _, a := range req.GroupAssignment {
			assigned[a.MemberID] = a.MemberAssignment
		}
		for id, o := range g.members {
			o.assignment = assigned[id]
			if o.assignment == nil {
				o.assignment = []byte{}
			}
		}
		g.setState(stateStable, c.now())
		c.persistGroup(g)
		c.logger.Debug("rebalance: group stable", "group", g.name, "generation", g.generation, "members", len(g.members))
		for _, o := range g.members {
			for _, w := range o.syncWaiters {
				w <- syncResult{assignment: o.assignment}
			}
			o.syncWaiters = nil
		}
	}
	return ch, syncResult{}, g.protocolType, g.protocol
}

// checkMember validates a member's identity and generation: unknown member,
// fenced static instance, wrong generation. It expects c.mu held.
func (g *group) checkMember(memberID string, instanceID *string, generation int32) int16 {
	if instanceID != nil {
		if cur, ok := g.static[*instanceID]; ok && cur != memberID {
			return kerr.FencedInstanceID.Code
		}
	}
	if _, ok := g.members[memberID]; !ok {
		return kerr.UnknownMemberID.Code
	}
	if generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	return 0
}
