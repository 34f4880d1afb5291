package group

// Heartbeat (key 12): v0-v4 (v3+ group.instance.id). It keeps a member's
// session alive and tells it when to rejoin (REBALANCE_IN_PROGRESS).
//
// LeaveGroup (key 13): v0-v5. v0-v2 name one member; v3+ a batch of members
// by member id and/or group.instance.id, each answered on its own; v5 adds a
// reason. A leave triggers a rebalance of the remaining members.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (c *Coordinator) heartbeat(req *kmsg.HeartbeatRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	g, ok := c.groups[req.Group]
	if !ok {
		resp.ErrorCode = kerr.UnknownMemberID.Code
		return resp
	}
	if code := g.checkMember(req.MemberID, req.InstanceID, req.Generation); code != 0 {
		resp.ErrorCode = code
		return resp
	}
	m := g.members[req.MemberID]
	switch g.state {
	case statePreparingRebalance:
		c.resetSession(g, m)
		resp.ErrorCode = kerr.RebalanceInProgress.Code
	case stateCompletingRebalance, stateStable:
		c.resetSession(g, m)
	default:
		resp.ErrorCode = kerr.UnknownMemberID.Code
	}
	return resp
}

func (c *Coordinator) leaveGroup(req *kmsg.LeaveGroupRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	g, ok := c.groups[req.Group]
	if req.Version < 3 {
		if !ok {
			resp.ErrorCode = kerr.UnknownMemberID.Code
			return resp
		}
		resp.ErrorCode = c.leaveOne(g, req.MemberID, nil)
		if resp.ErrorCode == 0 {
			c.memberGone(g)
		}
		return resp
	}
	if !ok {
		resp.ErrorCode = kerr.UnknownMemberID.Code
		return resp
	}
	left := false
	for _, lm := range req.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = lm.MemberID, lm.InstanceID
		rm.ErrorCode = c.leaveOne(g, lm.MemberID, lm.InstanceID)
		if rm.ErrorCode == 0 {
			left = true
		}
		resp.Members = append(resp.Members, rm)
	}
	if left {
		c.memberGone(g)
	}
	return resp
}

// leaveOne removes one member; it expects c.mu held. A static member may be
// named by instance id alone; if a member id is also given it must match.
func (c *Coordinator) leaveOne(g *group, memberID string, instanceID *string) int16 {
	if instanceID != nil {
		cur, ok := g.static[*instanceID]
		if !ok {
			return kerr.UnknownMemberID.Code
		}
		if memberID != "" && cur != memberID {
			return kerr.FencedInstanceID.Code
		}
		memberID = cur
	}
	m, ok := g.members[memberID]
	if !ok {
		return kerr.UnknownMemberID.Code
	}
	c.removeMember(g, m, kerr.UnknownMemberID.Code)
	c.logger.Debug("member left group", "group", g.name, "member", memberID)
	return 0
}
