package broker

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/runnel/runnel/internal/commitlog"
	"github.com/runnel/runnel/internal/topic"
)

// errorCode converts an error from the log or the topic registry into a
// Kafka error code. This is the only place storage errors become protocol
// codes.
func errorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, commitlog.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	case errors.Is(err, commitlog.ErrCorrupt):
		return kerr.CorruptMessage.Code
	case errors.Is(err, commitlog.ErrUnsupportedMagic):
		return kerr.UnsupportedForMessageFormat.Code
	case errors.Is(err, commitlog.ErrTooLarge):
		return kerr.MessageTooLarge.Code
	case errors.Is(err, commitlog.ErrOutOfOrderSequence):
		return kerr.OutOfOrderSequenceNumber.Code
	case errors.Is(err, commitlog.ErrInvalidProducerEpoch):
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, commitlog.ErrStorage):
		return kerr.KafkaStorageError.Code
	case errors.Is(err, commitlog.ErrClosed):
		// The topic was deleted while the request ran.
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, topic.ErrUnknownTopic):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, topic.ErrTopicExists):
		return kerr.TopicAlreadyExists.Code
	case errors.Is(err, topic.ErrInvalidTopic):
		return kerr.InvalidTopicException.Code
	case errors.Is(err, topic.ErrInvalidPartitions):
		return kerr.InvalidPartitions.Code
	case errors.Is(err, topic.ErrInvalidReplication):
		return kerr.InvalidReplicationFactor.Code
	case errors.Is(err, topic.ErrInvalidConfig):
		return kerr.InvalidConfig.Code
	case errors.Is(err, topic.ErrClosed):
		return kerr.BrokerNotAvailable.Code
	}
	return kerr.UnknownServerError.Code
}

// errorMessage is the text for a response's ErrorMessage field; nil when err is nil.
func errorMessage(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}
