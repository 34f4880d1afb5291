package broker

// Metadata (key 3): v0-v12. One broker (this node), which leads every
// partition at leader epoch 0 with itself as the only replica. A nil topic
// list (v1+) or an empty one (v0) lists every topic. A requested topic that
// does not exist is created with num.partitions partitions when
// auto.create.topics.enable is on and the request allows it (v4+; always
// for older versions); names Kafka would reject answer
// INVALID_TOPIC_EXCEPTION. Topic UUIDs (v10+) are stable across restarts;
// v10+ requests may name topics by UUID instead.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel/runnel/internal/topic"
)

func init() { regKey(3, 0, 12, handleMetadata) }

func handleMetadata(_ context.Context, s *Server, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = s.cfg.NodeID, s.cfg.AdvertisedHost, s.cfg.AdvertisedPort
	resp.Brokers = []kmsg.MetadataResponseBroker{b}
	clusterID := s.cfg.ClusterID
	resp.ClusterID = &clusterID
	resp.ControllerID = s.cfg.NodeID

	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if all {
		for _, t := range s.topics.List() {
			resp.Topics = append(resp.Topics, s.metadataTopic(t))
		}
		return resp, nil
	}
	autoCreate := s.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
	for _, rt := range req.Topics {
		var t *topic.Topic
		var ok bool
		if rt.Topic == nil {
			t, ok = s.topics.ByID(rt.TopicID)
			if !ok {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				mt.ErrorCode = kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, mt)
				continue
			}
		} else {
			name := *rt.Topic
			t, ok = s.topics.Get(name)
			if !ok {
				var err error
				switch {
				case topic.ValidateName(name) != nil:
					err = topic.ValidateName(name)
				case !autoCreate:
					err = topic.ErrUnknownTopic
				default:
					t, err = s.topics.Create(topic.CreateRequest{Name: name, Partitions: s.cfg.NumPartitions})
					if errors.Is(err, topic.ErrTopicExists) {
						t, ok = s.topics.Get(name) // created concurrently
						if ok {
							err = nil
						}
					}
					if err == nil {
						s.logger.Debug("auto-created topic", "topic", name, "partitions", s.cfg.NumPartitions)
					}
				}
				if err != nil {
					mt := kmsg.NewMetadataResponseTopic()
					mt.Topic = &name
					mt.ErrorCode = errorCode(err)
					resp.Topics = append(resp.Topics, mt)
					continue
				}
			}
		}
		resp.Topics = append(resp.Topics, s.metadataTopic(t))
	}
	return resp, nil
}

func (s *Server) metadataTopic(t *topic.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	mt.IsInternal = t.Internal
	for p := range t.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = int32(p)
		mp.Leader = s.cfg.NodeID
		mp.LeaderEpoch = 0
		mp.Replicas = []int32{s.cfg.NodeID}
		mp.ISR = []int32{s.cfg.NodeID}
		mp.OfflineReplicas = []int32{}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
