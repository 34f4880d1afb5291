package group

// FindCoordinator (key 10): v0-v4. This broker coordinates every group; v4
// batches keys. Transaction coordinators (key type 1) are not offered:
// runnel has no transactions.
//
// ListGroups (key 16): v0-v5; v4 filters by state, v5 by type ("classic").
//
// DescribeGroups (key 15): v0-v5. An unknown group is described as Dead with
// no error, as Kafka does.
//
// DeleteGroups (key 42): v0-v2. Only groups without members can be
// deleted; their offsets and metadata are tombstoned durably.

import (
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (c *Coordinator) findCoordinator(req *kmsg.FindCoordinatorRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	answer := func(keyType int8) (int16, *string) {
		if keyType != 0 {
			msg := "runnel does not support transactions"
			return kerr.CoordinatorNotAvailable.Code, &msg
		}
		return 0, nil
	}
	if req.Version >= 4 {
		for _, k := range req.CoordinatorKeys {
			rc := kmsg.NewFindCoordinatorResponseCoordinator()
			rc.Key = k
			rc.ErrorCode, rc.ErrorMessage = answer(req.CoordinatorType)
			if rc.ErrorCode == 0 {
				rc.NodeID, rc.Host, rc.Port = c.cfg.NodeID, c.cfg.Host, c.cfg.Port
			} else {
				rc.NodeID, rc.Port = -1, -1
			}
			resp.Coordinators = append(resp.Coordinators, rc)
		}
		return resp
	}
	resp.ErrorCode, resp.ErrorMessage = answer(req.CoordinatorType)
	if resp.ErrorCode == 0 {
		resp.NodeID, resp.Host, resp.Port = c.cfg.NodeID, c.cfg.Host, c.cfg.Port
	} else {
		resp.NodeID, resp.Port = -1, -1
	}
	return resp
}

func (c *Coordinator) listGroups(req *kmsg.ListGroupsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	if len(req.TypesFilter) > 0 {
		classic := false
		for _, t := range req.TypesFilter {
			classic = classic || strings.EqualFold(t, "classic")
		}
		if !classic {
			return resp // runnel only has classic groups
		}
	}
	names := make([]string, 0, len(c.groups))
	for name := range c.groups {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		g := c.groups[name]
		if len(req.StatesFilter) > 0 {
			match := false
			for _, s := range req.StatesFilter {
				if strings.EqualFold(s, g.state.String()) {
					match = true
				}
			}
			if !match {
				continue
			}
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = name, g.protocolType, g.state.String(), "classic"
		resp.Groups = append(resp.Groups, lg)
	}
	return resp
}

func (c *Coordinator) describeGroups(req *kmsg.DescribeGroupsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, name := range req.Groups {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group = name
		dg.AuthorizedOperations = -2147483648
		g, ok := c.groups[name]
		switch {
		case c.closed:
			dg.ErrorCode = kerr.CoordinatorNotAvailable.Code
		case !ok:
			dg.State = stateDead.String()
		default:
			dg.State, dg.ProtocolType = g.state.String(), g.protocolType
			if g.state == stateStable || g.state == stateCompletingRebalance {
				dg.Protocol = g.protocol
			}
			ids := make([]string, 0, len(g.members))
			for id := range g.members {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			for _, id := range ids {
				m := g.members[id]
				dm := kmsg.NewDescribeGroupsResponseGroupMember()
				dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
				if g.state == stateStable {
					dm.ProtocolMetadata = m.metadataFor(g.protocol)
					dm.MemberAssignment = m.assignment
				}
				dg.Members = append(dg.Members, dm)
			}
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}

func (c *Coordinator) deleteGroups(req *kmsg.DeleteGroupsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, name := range req.Groups {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group = name
		g, ok := c.groups[name]
		switch {
		case c.closed:
			rg.ErrorCode = kerr.CoordinatorNotAvailable.Code
		case name == "":
			rg.ErrorCode = kerr.InvalidGroupID.Code
		case !ok:
			rg.ErrorCode = kerr.GroupIDNotFound.Code
		case g.state != stateEmpty:
			rg.ErrorCode = kerr.NonEmptyGroup.Code
		default:
			tombs := []storedRecord{groupTombstone(name)}
			for tp := range g.offsets {
				tombs = append(tombs, offsetTombstone(name, tp))
			}
			if err := c.appendLocked(tombs, true); err != nil {
				c.logger.Warn("deleting group", "group", name, "err", err)
				rg.ErrorCode = kerr.CoordinatorNotAvailable.Code
				break
			}
			g.stopTimers()
			g.state = stateDead
			delete(c.groups, name)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}
