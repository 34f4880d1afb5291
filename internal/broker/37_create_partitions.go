package broker

// CreatePartitions (key 37): v0-v3. Grows a topic to Count partitions
// (INVALID_PARTITIONS if that is not an increase), with ValidateOnly. A
// manual assignment must place every new partition on this node alone.

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(37, 0, 3, handleCreatePartitions) }

func handleCreatePartitions(_ context.Context, s *Server, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		var err error
		code := int16(0)
		switch {
		case seen[rt.Topic] > 1:
			err = fmt.Errorf("topic %q is named more than once in the request", rt.Topic)
			code = kerr.InvalidRequest.Code
		default:
			for _, a := range rt.Assignment {
				if len(a.Replicas) != 1 || a.Replicas[0] != s.cfg.NodeID {
					err = errors.New("invalid replica assignment: this single-node broker has only node 0")
					code = kerr.InvalidReplicaAssignment.Code
				}
			}
			if err == nil {
				err = s.topics.AddPartitions(rt.Topic, rt.Count, req.ValidateOnly)
				code = errorCode(err)
			}
		}
		st.ErrorCode, st.ErrorMessage = code, errorMessage(err)
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
