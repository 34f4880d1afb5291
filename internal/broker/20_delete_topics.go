package broker

// DeleteTopics (key 20): v0-v6. v0-v5 name topics; v6 names them or gives
// their UUIDs. Deleting removes the topic from topics.meta first, then its
// partition directories. Internal topics (__consumer_offsets) cannot be
// deleted. The group coordinator is told so it drops committed offsets.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel/runnel/internal/topic"
)

func init() { regKey(20, 0, 6, handleDeleteTopics) }

func handleDeleteTopics(_ context.Context, s *Server, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	targets := req.Topics
	if req.Version < 6 {
		targets = nil
		for _, name := range req.TopicNames {
			t := kmsg.NewDeleteTopicsRequestTopic()
			t.Topic = &name
			targets = append(targets, t)
		}
	}
	for _, rt := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		var t *topic.Topic
		var ok bool
		if rt.Topic != nil {
			t, ok = s.topics.Get(*rt.Topic)
		} else {
			t, ok = s.topics.ByID(rt.TopicID)
		}
		var err error
		switch {
		case !ok && rt.Topic == nil:
			st.ErrorCode = kerr.UnknownTopicID.Code
		case !ok:
			st.ErrorCode = kerr.UnknownTopicOrPartition.Code
		case t.Internal:
			err = errors.New("internal topics cannot be deleted")
			st.ErrorCode = kerr.InvalidTopicException.Code
		default:
			name := t.Name
			st.Topic, st.TopicID = &name, t.ID
			if err = s.topics.Delete(name); err != nil {
				st.ErrorCode = errorCode(err)
			} else {
				s.logger.Debug("deleted topic", "topic", name)
				if s.cfg.OnTopicDeleted != nil {
					s.cfg.OnTopicDeleted(name)
				}
			}
		}
		if req.Version >= 5 {
			st.ErrorMessage = errorMessage(err)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
