package broker

// CreateTopics (key 19): v0-v7. NumPartitions and ReplicationFactor -1 (v4+)
// take num.partitions and 1. The replication factor must be 1 (one node); a
// manual replica assignment is accepted when every replica is this node,
// and its length sets the partition count. ValidateOnly (v1+) checks
// without creating. A topic named twice in one request is refused with
// INVALID_REQUEST. v5+ responses carry the partition count, replication
// factor and every config with its source; v7+ the topic UUID.

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel/runnel/internal/topic"
)

func init() { regKey(19, 0, 7, handleCreateTopics) }

func handleCreateTopics(_ context.Context, s *Server, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		fail := func(code int16, err error) {
			st.ErrorCode = code
			if req.Version >= 1 {
				st.ErrorMessage = errorMessage(err)
			}
		}
		if seen[rt.Topic] > 1 {
			fail(kerr.InvalidRequest.Code, fmt.Errorf("topic %q is named more than once in the request", rt.Topic))
			resp.Topics = append(resp.Topics, st)
			continue
		}
		partitions, err := s.createPartitionCount(rt)
		if err != nil {
			fail(errorCode(err), err)
			if errors.Is(err, errBadAssignment) {
				fail(kerr.InvalidReplicaAssignment.Code, err)
			}
			resp.Topics = append(resp.Topics, st)
			continue
		}
		configs := map[string]string{}
		for _, c := range rt.Configs {
			if c.Value != nil {
				configs[c.Name] = *c.Value
			}
		}
		cr := topic.CreateRequest{Name: rt.Topic, Partitions: partitions, Configs: configs, ValidateOnly: req.ValidateOnly}
		var t *topic.Topic
		if req.ValidateOnly {
			err = s.topics.Validate(cr)
		} else {
			t, err = s.topics.Create(cr)
		}
		if err != nil {
			fail(errorCode(err), err)
			resp.Topics = append(resp.Topics, st)
			continue
		}
		if t != nil {
			st.TopicID = t.ID
			s.logger.Debug("created topic", "topic", rt.Topic, "partitions", partitions)
		}
		st.NumPartitions, st.ReplicationFactor = partitions, 1
		if req.Version >= 5 {
			entries, err := s.topics.DescribeConfigs(rt.Topic)
			if err != nil && req.ValidateOnly {
				entries = nil
			}
			for _, e := range entries {
				c := kmsg.NewCreateTopicsResponseTopicConfig()
				v := e.Value
				c.Name, c.Value, c.ReadOnly, c.Source, c.IsSensitive = e.Name, &v, e.ReadOnly, int8(e.Source), e.Sensitive
				st.Configs = append(st.Configs, c)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

var errBadAssignment = errors.New("invalid replica assignment")

// createPartitionCount works out the partition count of a topic to create.
func (s *Server) createPartitionCount(rt kmsg.CreateTopicsRequestTopic) (int32, error) {
	if len(rt.ReplicaAssignment) > 0 {
		if rt.NumPartitions != -1 || rt.ReplicationFactor != -1 {
			return 0, fmt.Errorf("%w: give either a replica assignment or partitions and replication factor", errBadAssignment)
		}
		for i, a := range rt.ReplicaAssignment {
			if a.Partition != int32(i) {
				return 0, fmt.Errorf("%w: partitions must be numbered 0..n-1", errBadAssignment)
			}
			if len(a.Replicas) != 1 || a.Replicas[0] != s.cfg.NodeID {
				return 0, fmt.Errorf("%w: this single-node broker has only node %d", errBadAssignment, s.cfg.NodeID)
			}
		}
		return int32(len(rt.ReplicaAssignment)), nil
	}
	if rt.ReplicationFactor != -1 && rt.ReplicationFactor != 1 {
		return 0, fmt.Errorf("%w: replication factor %d is larger than the 1 available broker", topic.ErrInvalidReplication, rt.ReplicationFactor)
	}
	if rt.NumPartitions == -1 {
		return s.cfg.NumPartitions, nil
	}
	return rt.NumPartitions, nil
}
