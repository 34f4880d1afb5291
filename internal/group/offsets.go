package group

// OffsetCommit (key 8): v0-v9. Generation -1 with no member id is a
// standalone (admin) commit, allowed only while the group has no members.
// Otherwise the member and generation must be current (v7+ also the static
// instance). Commits are allowed in Stable and PreparingRebalance (the
// cooperative protocol commits while revoking) and refused with
// REBALANCE_IN_PROGRESS in CompletingRebalance. The response is sent only
// after the records are fsync'ed. v1 commit timestamps and v2-v4 retention
// times are ignored (offsets.retention.minutes governs); v6+ stores the
// leader epoch.
//
// OffsetFetch (key 9): v0-v9. v2+ null topics mean every committed
// partition; v8+ batches groups. Unknown groups and partitions answer -1.
//
// OffsetDelete (key 47): v0. Drops committed offsets of partitions the
// group is not subscribed to (GROUP_SUBSCRIBED_TO_TOPIC otherwise).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (c *Coordinator) offsetCommit(req *kmsg.OffsetCommitRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	setAll := func(code int16) kmsg.Response {
		for _, t := range req.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return setAll(kerr.CoordinatorNotAvailable.Code)
	}
	if req.Group == "" {
		c.mu.Unlock()
		return setAll(kerr.InvalidGroupID.Code)
	}
	g, ok := c.groups[req.Group]
	standalone := req.Generation < 0 && req.MemberID == ""
	var code int16
	switch {
	case !ok && standalone:
		g = newGroup(req.Group, c.now())
		c.groups[req.Group] = g
	case !ok:
		code = kerr.IllegalGeneration.Code
	case standalone:
		if len(g.members) > 0 || g.state != stateEmpty {
			code = kerr.UnknownMemberID.Code
		}
	default:
		code = g.checkMember(req.MemberID, req.InstanceID, req.Generation)
		if code == 0 && g.state == stateCompletingRebalance {
			code = kerr.RebalanceInProgress.Code
		}
		if code == 0 {
			c.resetSession(g, g.members[req.MemberID])
		}
	}
	c.mu.Unlock()
	if code != 0 {
		return setAll(code)
	}

	now := c.now().UnixMilli()
	type pending struct {
		tp topicPartition
		o  offset
	}
	var recs []storedRecord
	var todo []pending
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		n, exists := c.topics(t.Topic)
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			var meta string
			if p.Metadata != nil {
				meta = *p.Metadata
			}
			switch {
			case !exists || p.Partition < 0 || p.Partition >= n:
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case len(meta) > maxMetadataBytes:
				rp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
			default:
				epoch := p.LeaderEpoch
				if req.Version < 6 {
					epoch = -1
				}
				tp := topicPartition{t.Topic, p.Partition}
				o := offset{offset: p.Offset, leaderEpoch: epoch, metadata: meta, commitTime: now}
				recs = append(recs, offsetRecord(req.Group, tp, o))
				todo = append(todo, pending{tp, o})
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(recs) == 0 {
		return resp
	}
	base, err := c.appendRecords(recs, true)
	if err != nil {
		c.logger.Warn("committing offsets", "group", req.Group, "err", err)
		return setAllCode(resp, kerr.CoordinatorNotAvailable.Code)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.groups[req.Group]; !ok || cur != g {
		// The group was deleted while the commit was being written:
		// tombstone what was written so a reload does not revive it.
		var tombs []storedRecord
		for _, p := range todo {
			tombs = append(tombs, offsetTombstone(req.Group, p.tp))
		}
		if err := c.appendLocked(tombs, false); err != nil {
			c.logger.Warn("tombstoning offsets of a deleted group", "group", req.Group, "err", err)
		}
		return setAllCode(resp, kerr.CoordinatorNotAvailable.Code)
	}
	for i, p := range todo {
		p.o.logOffset = base + int64(i)
		if old, ok := g.offsets[p.tp]; ok && old.logOffset > p.o.logOffset {
			continue // a later commit already landed
		}
		g.offsets[p.tp] = p.o
	}
	return resp
}

// setAllCode sets code on every partition of resp that has no error yet.
func setAllCode(resp *kmsg.OffsetCommitResponse, code int16) *kmsg.OffsetCommitResponse {
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if resp.Topics[i].Partitions[j].ErrorCode == 0 {
				resp.Topics[i].Partitions[j].ErrorCode = code
			}
		}
	}
	return resp
}

func (c *Coordinator) offsetFetch(req *kmsg.OffsetFetchRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			out := kmsg.NewOffsetFetchResponseGroup()
			out.Group = rg.Group
			var topics []kmsg.OffsetFetchRequestTopic
			if rg.Topics != nil {
				topics = make([]kmsg.OffsetFetchRequestTopic, 0, len(rg.Topics))
				for _, t := range rg.Topics {
					rt := kmsg.NewOffsetFetchRequestTopic()
					rt.Topic, rt.Partitions = t.Topic, t.Partitions
					topics = append(topics, rt)
				}
			}
			if c.closed {
				out.ErrorCode = kerr.CoordinatorNotAvailable.Code
			} else {
				for _, t := range c.fetchLocked(rg.Group, topics, rg.Topics == nil) {
					ot := kmsg.NewOffsetFetchResponseGroupTopic()
					ot.Topic = t.Topic
					for _, p := range t.Partitions {
						op := kmsg.NewOffsetFetchResponseGroupTopicPartition()
						op.Partition, op.Offset, op.LeaderEpoch, op.Metadata, op.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
						ot.Partitions = append(ot.Partitions, op)
					}
					out.Topics = append(out.Topics, ot)
				}
			}
			resp.Groups = append(resp.Groups, out)
		}
		return resp
	}
	if c.closed {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	resp.Topics = c.fetchLocked(req.Group, req.Topics, req.Topics == nil && req.Version >= 2)
	return resp
}

// fetchLocked answers one group's offsets; all means every committed
// partition. It expects c.mu held.
func (c *Coordinator) fetchLocked(name string, topics []kmsg.OffsetFetchRequestTopic, all bool) []kmsg.OffsetFetchResponseTopic {
	g := c.groups[name]
	var out []kmsg.OffsetFetchResponseTopic
	part := func(tp topicPartition) kmsg.OffsetFetchResponseTopicPartition {
		p := kmsg.NewOffsetFetchResponseTopicPartition()
		p.Partition, p.Offset, p.LeaderEpoch = tp.partition, -1, -1
		empty := ""
		p.Metadata = &empty
		if g != nil {
			if o, ok := g.offsets[tp]; ok {
				md := o.metadata
				p.Offset, p.LeaderEpoch, p.Metadata = o.offset, o.leaderEpoch, &md
			}
		}
		return p
	}
	if all {
		if g == nil {
			return nil
		}
		byTopic := map[string]int{}
		for tp := range g.offsets {
			i, ok := byTopic[tp.topic]
			if !ok {
				i = len(out)
				byTopic[tp.topic] = i
				t := kmsg.NewOffsetFetchResponseTopic()
				t.Topic = tp.topic
				out = append(out, t)
			}
			out[i].Partitions = append(out[i].Partitions, part(tp))
		}
		return out
	}
	for _, rt := range topics {
		t := kmsg.NewOffsetFetchResponseTopic()
		t.Topic = rt.Topic
		for _, p := range rt.Partitions {
			t.Partitions = append(t.Partitions, part(topicPartition{rt.Topic, p}))
		}
		out = append(out, t)
	}
	return out
}

func (c *Coordinator) offsetDelete(req *kmsg.OffsetDeleteRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	g, ok := c.groups[req.Group]
	if !ok {
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		return resp
	}
	if g.state != stateEmpty && g.protocolType != "consumer" {
		resp.ErrorCode = kerr.NonEmptyGroup.Code
		return resp
	}
	subscribed := g.subscribedTopics()
	var tombs []storedRecord
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			tp := topicPartition{t.Topic, p.Partition}
			switch {
			case subscribed[t.Topic]:
				rp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			default:
				if _, ok := g.offsets[tp]; ok {
					delete(g.offsets, tp)
					tombs = append(tombs, offsetTombstone(g.name, tp))
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if err := c.appendLocked(tombs, true); err != nil {
		c.logger.Warn("deleting offsets", "group", g.name, "err", err)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		resp.Topics = nil
	}
	return resp
}

// subscribedTopics parses the members' consumer-protocol subscriptions. It
// expects c.mu held.
func (g *group) subscribedTopics() map[string]bool {
	out := map[string]bool{}
	if g.protocolType != "consumer" {
		return out
	}
	for _, m := range g.members {
		var md kmsg.ConsumerMemberMetadata
		if err := md.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			continue
		}
		for _, t := range md.Topics {
			out[t] = true
		}
	}
	return out
}
