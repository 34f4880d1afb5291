package broker

// AlterConfigs (key 33): v0-v2. Replaces the complete set of a TOPIC's
// config overrides (configs not named go back to the broker default), with
// ValidateOnly. Values are validated as Kafka does (INVALID_CONFIG); the new
// settings apply to the partition logs at once. Broker settings are static
// (server.properties) and cannot be altered: INVALID_REQUEST.

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel/runnel/internal/topic"
)

func init() { regKey(33, 0, 2, handleAlterConfigs) }

var errStaticBrokerConfig = errors.New("broker settings are static: change server.properties or the --config file and restart")

func handleAlterConfigs(_ context.Context, s *Server, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			var changes []topic.ConfigChange
			for _, c := range rr.Configs {
				changes = append(changes, topic.ConfigChange{Name: c.Name, Value: c.Value})
			}
			if err := s.topics.AlterConfigs(rr.ResourceName, changes, true, req.ValidateOnly); err != nil {
				sr.ErrorCode, sr.ErrorMessage = errorCode(err), errorMessage(err)
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
