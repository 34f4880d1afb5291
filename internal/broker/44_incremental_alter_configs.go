package broker

// IncrementalAlterConfigs (key 44): v0-v1. Edits a TOPIC's config overrides:
// SET, DELETE (back to the broker default), and APPEND / SUBTRACT for list
// configs (cleanup.policy and the throttled-replica lists), with
// ValidateOnly. Broker settings are static: INVALID_REQUEST.

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel/runnel/internal/topic"
)

func init() { regKey(44, 0, 1, handleIncrementalAlterConfigs) }

func handleIncrementalAlterConfigs(_ context.Context, s *Server, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			if err := s.incrementalAlter(rr, req.ValidateOnly); err != nil {
				sr.ErrorCode, sr.ErrorMessage = errorCode(err), errorMessage(err)
				if strings.Contains(err.Error(), "operation") {
					sr.ErrorCode = kerr.InvalidRequest.Code
				}
			}
		case kmsg.ConfigResourceTypeBroker:
			sr.ErrorCode, sr.ErrorMessage = kerr.InvalidRequest.Code, errorMessage(errStaticBrokerConfig)
		default:
			sr.ErrorCode = kerr.InvalidRequest.Code
			sr.ErrorMessage = errorMessage(fmt.Errorf("resource type %d is not supported", rr.ResourceType))
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil
}

func (s *Server) incrementalAlter(rr kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool) error {
	eff, err := s.topics.EffectiveConfigs(rr.ResourceName)
	if err != nil {
		return err
	}
	var changes []topic.ConfigChange
	for _, c := range rr.Configs {
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			if c.Value == nil {
				return fmt.Errorf("%w: SET %s without a value", topic.ErrInvalidConfig, c.Name)
			}
			changes = append(changes, topic.ConfigChange{Name: c.Name, Value: c.Value})
		case kmsg.IncrementalAlterConfigOpDelete:
			changes = append(changes, topic.ConfigChange{Name: c.Name})
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if !isListConfig(c.Name) {
				return fmt.Errorf("%w: %s is not a list config, APPEND/SUBTRACT do not apply", topic.ErrInvalidConfig, c.Name)
			}
			cur := splitList(eff[c.Name])
			var arg []string
			if c.Value != nil {
				arg = splitList(*c.Value)
			}
			for _, v := range arg {
				if c.Op == kmsg.IncrementalAlterConfigOpAppend && !slices.Contains(cur, v) {
					cur = append(cur, v)
				}
				if c.Op == kmsg.IncrementalAlterConfigOpSubtract {
					cur = slices.DeleteFunc(cur, func(x string) bool { return x == v })
				}
			}
			v := strings.Join(cur, ",")
			eff[c.Name] = v
			changes = append(changes, topic.ConfigChange{Name: c.Name, Value: &v})
		default:
			return fmt.Errorf("unknown config operation %d", c.Op)
		}
	}
	return s.topics.AlterConfigs(rr.ResourceName, changes, false, validateOnly)
}

func isListConfig(name string) bool {
	switch name {
	case "cleanup.policy", "follower.replication.throttled.replicas", "leader.replication.throttled.replicas":
		return true
	}
	return false
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
