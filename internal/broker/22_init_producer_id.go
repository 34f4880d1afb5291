package broker

// InitProducerId (key 22): v0-v4, idempotent producers only. Every call
// hands out a new producer id at epoch 0 (as Kafka does for producers
// without a transactional id, including the v3+ re-initialisation after a
// fatal sequence error). Ids come from the topic registry, which reserves
// them in blocks persisted in topics.meta, so they stay unique across
// restarts. Transactional ids are refused: there is no transaction
// coordinator.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(22, 0, 4, handleInitProducerID) }

func handleInitProducerID(_ context.Context, s *Server, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp, nil
	}
	id, err := s.topics.NextProducerID()
	if err != nil {
		s.logger.Error("allocating producer id", "err", err)
		resp.ErrorCode = kerr.KafkaStorageError.Code
		return resp, nil
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp, nil
}
